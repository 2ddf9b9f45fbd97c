"""One SSH connection per host for a compliance run: the client config it writes keeps every host option of the
operator's config and adds only the control socket; closing removes everything it made."""

import stat
import subprocess

from baseline.compliance import SharedConnections


def effective(config, host):
    """ssh's own view of the options for `host` under `config` (ssh -G connects to nothing)."""
    out = subprocess.run(["ssh", "-G", "-F", str(config), host], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_the_operators_host_options_stay_and_a_private_control_socket_is_added(tmp_path):
    base = tmp_path / "ssh_config"
    base.write_text("Host app9\n  HostName 10.231.9.9\n  User automation\n  StrictHostKeyChecking yes\n"
                    "  UserKnownHostsFile /nonexistent/known_hosts\n")
    shared = SharedConnections(base)
    try:
        options = effective(shared.config, "app9")
        assert options["hostname"] == "10.231.9.9"
        assert options["user"] == "automation"
        assert options["stricthostkeychecking"] == "true"
        assert options["userknownhostsfile"] == "/nonexistent/known_hosts"
        assert options["controlmaster"] == "auto"
        assert options["controlpath"].startswith(str(shared.directory) + "/")
        assert stat.S_IMODE(shared.directory.stat().st_mode) == 0o700
        assert effective(base, "app9").get("controlpath", "none") == "none"  # the operator's file is not touched
    finally:
        shared.close()
    assert not shared.directory.exists()


def test_a_base_config_given_as_a_relative_path_is_still_found(tmp_path, monkeypatch):
    (tmp_path / "cfg").write_text("Host db9\n  HostName 10.231.9.10\n")
    monkeypatch.chdir(tmp_path)
    shared = SharedConnections("cfg")
    try:
        monkeypatch.chdir("/")
        assert effective(shared.config, "db9")["hostname"] == "10.231.9.10"
    finally:
        shared.close()
