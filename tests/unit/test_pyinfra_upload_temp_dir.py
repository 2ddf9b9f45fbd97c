"""pyinfra uploads on hosts that carry pam_tmpdir (RI-01): the deploys point pyinfra's temporary directory at /tmp,
which the login account can write, unless the user chose one."""

from __future__ import annotations

import pytest
from pyinfra import config
from pyinfra.api import Config
from pyinfra.context import ctx_config

from baseline import pyinfra_deploy


@pytest.mark.parametrize("before", [None, ""])
def test_uploads_use_tmp_when_no_directory_was_chosen(before):
    with ctx_config.use(Config(TEMP_DIR=before)):
        pyinfra_deploy.use_shared_upload_temp_dir()
        assert config.TEMP_DIR == "/tmp"


def test_a_directory_the_user_chose_is_kept():
    with ctx_config.use(Config(TEMP_DIR="/var/tmp/pyinfra")):
        pyinfra_deploy.use_shared_upload_temp_dir()
        assert config.TEMP_DIR == "/var/tmp/pyinfra"
