"""Values given with `-e name=value` arrive as text: the pre-flight counts whole numbers written as text as numbers
(baseline.policy), refuses weaker ones as weaker and others by name in words (never Ansible's internal type
names), the same in --check, before any host is contacted."""

import pytest
from preflight_inventory import guarded, inventory, output, refusals, run, valid_host_vars


@pytest.fixture()
def inv(tmp_path):
    return inventory(tmp_path, valid_host_vars())


def test_stricter_value_given_as_text_passes(inv, tmp_path):
    path, marker = inv
    proc = run(path, "playbooks/preflight.yml", "-e", "password_min_length=12", "-e", "protection_level=3",
               "-e", "backup_offsite=true")
    assert proc.returncode == 0, output(proc)[-3000:]
    assert output(proc).count("ok: [ghost]") == 4  # three checks, and the mark that they passed
    assert not marker.exists()


def test_weaker_value_given_as_text_is_refused_as_below_the_floor(inv, tmp_path):
    path, marker = inv
    real = run(path, guarded(tmp_path), "-e", "password_min_length=8")
    check = run(path, guarded(tmp_path), "-e", "password_min_length=8", "--check")
    assert real.returncode == 2 and check.returncode == 2
    assert refusals(real) == ["Policy values refused before any host is touched:",
                              "ghost: password_min_length = 8 is below the policy floor 10 (第十五条(九), 第十六条(一))"]
    assert refusals(check) == refusals(real)
    assert not marker.exists()


def test_text_that_is_no_number_is_refused_naming_the_variable_and_a_whole_number(inv, tmp_path):
    path, marker = inv
    real = run(path, guarded(tmp_path), "-e", "password_min_length=abc")
    check = run(path, guarded(tmp_path), "-e", "password_min_length=abc", "--check")
    assert real.returncode == 2
    (line,) = refusals(real)[1:]
    assert line == ("ghost: password_min_length = 'abc' has the wrong type: text where a whole number is expected, "
                    "at least 10 (第十五条(九), 第十六条(一))")
    assert refusals(check) == refusals(real)
    assert "_Ansible" not in output(real) and "Tagged" not in output(real)
    assert not marker.exists()


def test_the_guarded_playbook_does_contact_hosts_when_every_input_passes(inv, tmp_path):
    """Without this the absent marker would prove nothing: past the pre-flight, the run connects."""
    path, marker = inv
    proc = run(path, guarded(tmp_path), "-e", "password_min_length=12")
    assert proc.returncode == 4, "ansible-playbook's status for unreachable hosts"
    assert marker.exists()
