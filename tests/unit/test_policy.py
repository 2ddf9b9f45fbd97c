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


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("password_min_length", "abc", "a whole number"), ("password_min_length", True, "a whole number"),
    ("password_min_length", "12.5", "a whole number"), ("password_min_length", " 12", "a whole number"),
    ("password_min_length", "+12", "a whole number"),
    ("backup_offsite", "maybe", "a boolean"), ("backup_offsite", 1, "a boolean"),
    ("log_retention_days", 365.0, "a whole number"), ("log_retention_days", None, "a whole number")])
def test_wrong_type_is_refused(policy_values, variable, value, expected):
    policy_values[variable] = value
    (message,) = policy.violations(policy_values)
    assert message.startswith(f"{variable} = ") and "wrong type" in message and f"{expected} is expected" in message


def test_wrong_type_is_named_in_words_never_by_class_name(policy_values):
    class TaggedText(str):
        """Stands for the str subclasses Ansible hands over (_AnsibleTaggedStr)."""

    policy_values["password_min_length"] = TaggedText("abc")
    (message,) = policy.violations(policy_values)
    assert message.startswith("password_min_length = 'abc' has the wrong type: text where a whole number is expected")
    assert "TaggedText" not in message and "str" not in message.split("(")[0]


def test_numbers_and_booleans_written_as_text_count_as_their_value(policy_values):
    """What `-e password_min_length=12` passes: text. Stricter values pass, weaker ones are refused as weaker."""
    as_text = {"password_min_length": "12", "protection_level": "3", "backup_offsite": "true",
               "password_require_letter": "yes", "log_retention_days": "400"}
    policy_values.update(as_text)
    assert policy.violations(policy_values) == []
    validated = policy.validate(policy_values)
    assert validated["password_min_length"] == 12 and validated["protection_level"] == 3
    assert validated["backup_offsite"] is True and validated["log_retention_days"] == 400
    policy_values.update({"password_min_length": "8", "backup_encrypted": "false"})
    found = policy.violations(policy_values)
    assert "password_min_length = 8 is below the policy floor 10 (第十五条(九), 第十六条(一))" in found
    assert "backup_encrypted = false must be true (第十八条(二))" in found


def test_check_password_reads_the_length_given_as_text(policy_values):
    policy_values.update({"password_min_length": "12"})
    assert "has 11 characters, fewer than password_min_length = 12" in policy.check_password(
        "Abcdefghij!", policy_values, "app_rw@db1")
    assert policy.check_password("Abcdefghijk!", policy_values, "app_rw@db1") is None


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


@pytest.mark.parametrize(("variable", "value"), [("login_max_failures", 0), ("session_idle_timeout_seconds", "0"),
                                                  ("backup_full_interval_days", -7)])
def test_limit_of_zero_or_less_is_refused_as_switching_the_control_off(policy_values, variable, value):
    policy_values[variable] = value
    (message,) = policy.violations(policy_values)
    assert message.startswith(f"{variable} = {int(value)} is not a positive whole number")
