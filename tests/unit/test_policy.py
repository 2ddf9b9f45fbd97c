"""Policy floors: weaker values and wrong types are refused with variable, value, floor and article."""

import pytest

from baseline import policy


def test_shipped_inventory_values_pass(policy_values):
    assert policy.violations(policy_values) == []


@pytest.mark.parametrize(
    ("variable", "value", "floor", "article"),
    [
        ("password_min_length", 8, "10", "第十六条(一)"),
        ("log_retention_days", 180, "365", "第二十条(八)"),
        ("backup_full_interval_days", 8, "7", "第十八条(三)"),
        ("login_max_failures", 10, "5", "8.1.4.1 b"),
    ],
)
def test_weaker_value_is_refused_naming_variable_floor_and_article(policy_values, variable, value, floor, article):
    policy_values[variable] = value
    found = policy.violations(policy_values)
    assert len(found) == 1
    message = found[0]
    assert message.startswith(f"{variable} = {value} ")
    assert floor in message and article in message


def test_stricter_values_are_accepted(policy_values):
    policy_values.update(password_min_length=12, log_retention_days=730, backup_full_interval_days=1)
    assert policy.violations(policy_values) == []


@pytest.mark.parametrize(("variable", "value"), [("password_min_length", "12"), ("password_min_length", True),
                                                  ("backup_offsite", "yes"), ("log_retention_days", 365.0)])
def test_wrong_type_is_refused(policy_values, variable, value):
    policy_values[variable] = value
    (message,) = policy.violations(policy_values)
    assert variable in message and "wrong type" in message


def test_disabled_requirement_and_bad_level_are_refused(policy_values):
    policy_values.update(password_require_special=False, protection_level=1)
    found = policy.violations(policy_values)
    assert any("password_require_special" in m and "must be true" in m for m in found)
    assert any("protection_level = 1" in m for m in found)


def test_missing_variable_is_refused(policy_values):
    del policy_values["log_retention_days"]
    (message,) = policy.violations(policy_values)
    assert "log_retention_days is not set" in message


def test_validate_raises_with_every_violation(policy_values):
    policy_values.update(password_min_length=8, log_retention_days=30)
    with pytest.raises(policy.PolicyError) as info:
        policy.validate(policy_values, where="db1")
    assert len(info.value.violations) == 2
    assert all(v.startswith("db1: ") for v in info.value.violations)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("Abc!defgh", "9 characters"), ("Abcdefghijk", "no special"), ("!!!!!!!!!!!!", "no letter"), ("Abcdefgh!1", None)],
)
def test_check_password_names_the_account_not_the_secret(policy_values, secret, problem):
    message = policy.check_password(secret, policy_values, "app_rw@db1")
    if problem is None:
        assert message is None
    else:
        assert "app_rw@db1" in message and problem in message and secret not in message
