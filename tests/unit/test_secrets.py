"""The one list of secret variables and the one generator (baseline/secrets.py)."""

from __future__ import annotations

import re

import pytest
import yaml

from baseline import REPO_ROOT, policy
from baseline import secrets as bsecrets
from baseline.netdev.definitions import SECRET_VARIABLES, device_accounts


def _committed_policy() -> dict:
    values: dict = {}
    for name in ("policy.yml", "staff.yml"):
        values.update(yaml.safe_load((REPO_ROOT / "inventory/group_vars/all" / name).read_text(encoding="utf-8")))
    return values


@pytest.mark.parametrize("values", [
    None,
    {"password_min_length": 10},
    {"password_min_length": "24"},  # as text, like -e password_min_length=24
    {"password_min_length": 32, "password_require_special": True, "password_require_letter": True},
])
def test_generated_values_pass_the_policys_own_password_check(values):
    for _ in range(200):
        value = bsecrets.generate(values)
        rules = {"password_min_length": 10, **(values or {})}
        assert policy.check_password(value, rules, "x") is None
        assert len(value) == max(policy.whole_number(rules["password_min_length"]), bsecrets.DEFAULT_LENGTH)
        assert value[0].isalpha() and any(c.islower() for c in value) and any(c.isupper() for c in value)
        assert any(c.isdigit() for c in value) and any(c in bsecrets.SPECIALS for c in value)
        assert not re.search(r"(.)\1\1", value) and bsecrets.sequence_steps(value) <= bsecrets.MAX_SEQUENCE_STEPS
        assert set(value) <= set(bsecrets.string.ascii_letters + bsecrets.string.digits + bsecrets.SPECIALS)


def test_a_value_without_special_characters_only_under_rules_that_allow_it():
    plain = bsecrets.generate({"password_min_length": 12, "password_require_special": False}, length=12, special=False)
    assert plain.isalnum() and len(plain) == 12
    with pytest.raises(ValueError, match="password_require_special"):
        bsecrets.generate({"password_min_length": 12}, special=False)


def test_a_length_the_policy_refuses_is_refused_not_looped_on():
    with pytest.raises(ValueError, match="cannot meet password_min_length = 10"):
        bsecrets.generate(length=9)
    with pytest.raises(ValueError, match="password_min_length"):
        bsecrets.generate({"password_min_length": "abc"})


def test_the_list_names_every_target_and_the_device_secrets_come_from_it():
    servers, devices = bsecrets.secret_variable_names("servers"), bsecrets.secret_variable_names("devices")
    assert "db_credit_app_password" in servers and "accounts_initial_password_seed" in servers
    assert tuple(devices) == SECRET_VARIABLES
    assert bsecrets.secret_variable_names() == servers + devices
    assert [v.name for v in bsecrets.secret_variables() if v.per_device_account] == ["vault_netdev_passwords"]


def test_a_malformed_line_is_named(tmp_path):
    path = tmp_path / "secret-variables.txt"
    path.write_text("# comment\nok_password servers\nbad_password laptops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"secret-variables.txt:3: expected"):
        bsecrets.secret_variables(path=path)


def test_generate_values_gives_every_device_account_its_own_value():
    values = _committed_policy()
    made = bsecrets.generate_values(values)
    assert set(made) == set(bsecrets.secret_variable_names())
    accounts = {a.username for a in device_accounts(values, with_secrets=False)}
    assert set(made["vault_netdev_passwords"]) == accounts
    leaves = [v for v in made.values() if isinstance(v, str)] + list(made["vault_netdev_passwords"].values())
    assert len(set(leaves)) == len(leaves)
    assert all(policy.check_password(v, values, "x") is None for v in leaves)
