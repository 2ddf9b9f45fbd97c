"""The staff roster is refused on the controller before any host is contacted (baseline/roster.py through the
pre-flight's roster_preflight), each problem naming the person and the field: missing username, name, role or
status, unknown role or status, a username or uid twice, a uid the role cannot use, an active person without any
SSH key, key lines that are not public keys. The accounts role honours `uid`."""

import copy

import pytest
import yaml
from preflight_inventory import (
    committed_roster,
    guarded,
    inventory,
    output,
    public_key,
    refusals,
    roster_keys,
    run,
    valid_host_vars,
)

from baseline import REPO_ROOT, roster

ROLES = roster.default_roles()
KEY = public_key("x@test")


def _person(**fields):
    person = {"username": "zhangsan", "name": "张三", "role": "system_admin", "status": "active", "ssh_keys": [KEY]}
    person.update(fields)
    return {k: v for k, v in person.items() if v is not None}


def _problems(staff, extra=None, **kwargs):
    return roster.problems(staff, ROLES, extra, **kwargs)


def test_roles_come_from_the_accounts_role():
    assert ROLES == ["audit_admin", "dba", "network_admin", "operator", "security_admin", "system_admin"]


def test_committed_roster_passes_with_the_keys_the_lab_supplies():
    assert _problems(committed_roster(), roster_keys()) == []


def test_committed_roster_without_keys_is_refused_on_servers_only():
    found = _problems(committed_roster())
    active = [p["username"] for p in committed_roster() if p["status"] == "active"]
    assert len(found) == len(active)
    for index, username in enumerate(active):
        assert found[index].startswith(f"staff[{index}] ({username}), field ssh_keys: an active person has no SSH key")
    assert _problems(committed_roster(), needs_keys=False) == []


@pytest.mark.parametrize("field", ["username", "name", "role", "status"])
def test_missing_field_is_refused_naming_person_and_field(field):
    (message,) = _problems([_person(), _person(**{"username": "lisi", field: None})])
    person = "staff[1] (name 张三, no username)" if field == "username" else "staff[1] (lisi)"
    assert message.startswith(f"{person}, field {field}: missing")


def test_unknown_role_and_status_are_refused():
    found = _problems([_person(role="dbadmin", status="retired")])
    assert found == [
        f"staff[0] (zhangsan), field role: 'dbadmin' is not a known role; known roles: {', '.join(ROLES)} "
        "(accounts_roles)",
        "staff[0] (zhangsan), field status: 'retired' is not one of active, departed"]


def test_duplicate_username_is_refused_naming_both_entries():
    (message,) = _problems([_person(), _person(role="operator")])
    assert message.startswith("staff[1] (zhangsan), field username: zhangsan is already staff[0] (zhangsan)")


def test_uid_duplicate_out_of_range_or_not_a_number_is_refused():
    found = _problems([_person(uid=2001), _person(username="lisi", uid="2001"), _person(username="wangwu", uid=0),
                       _person(username="zhaoliu", uid="abc"), _person(username="qianqi", uid=999)])
    assert found[0].startswith("staff[1] (lisi), field uid: 2001 is already the uid of staff[0] (zhangsan)")
    assert found[1].startswith("staff[2] (wangwu), field uid: 0 is outside 1000..59999")
    assert found[2] == "staff[3] (zhaoliu), field uid: 'abc' is text, not a whole number"
    assert found[3].startswith("staff[4] (qianqi), field uid: 999 is outside 1000..59999")
    assert len(found) == 4
    assert _problems([_person(uid=2001), _person(username="lisi", uid=2002)]) == []


def test_the_accounts_role_creates_the_account_with_the_roster_uid():
    tasks = yaml.safe_load((REPO_ROOT / "roles/accounts/tasks/staff.yml").read_text(encoding="utf-8"))
    (create,) = [t for t in tasks if "ansible.builtin.user" in t and t.get("loop") == "{{ accounts_active }}"]
    assert create["ansible.builtin.user"]["uid"] == "{{ item.uid | default(omit) }}"


def test_active_person_without_any_key_is_refused_and_staff_ssh_keys_count():
    (message,) = _problems([_person(ssh_keys=[])])
    assert message.startswith("staff[0] (zhangsan), field ssh_keys: an active person has no SSH key")
    assert _problems([_person(ssh_keys=[])], {"zhangsan": [KEY]}) == []
    (missing,) = _problems([_person(ssh_keys=None)], {"zhangsan": [KEY]})
    assert missing.startswith("staff[0] (zhangsan), field ssh_keys: missing")
    assert _problems([_person(status="departed", ssh_keys=[])]) == []


def test_key_lines_must_be_public_keys_and_are_never_shown():
    private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
    options = f'from="10.0.0.0/8" {KEY}'
    damaged = KEY.replace("AAAAC3", "AAAAB3")
    found = _problems([_person(ssh_keys=[private, options, "hello", damaged])], {"zhangsan": ["ssh-rsa"]})
    assert found[0] == "staff_ssh_keys[zhangsan][0] has a key type but no key"
    assert found[1].startswith("staff[0] (zhangsan), field ssh_keys[0] holds a private key")
    assert found[2].startswith("staff[0] (zhangsan), field ssh_keys[1] starts with options before the key type")
    assert found[3].startswith("staff[0] (zhangsan), field ssh_keys[2] is not an OpenSSH public key")
    assert found[4].startswith("staff[0] (zhangsan), field ssh_keys[3] ")
    text = "\n".join(found)
    assert "b3BlbnNzaC1rZXkt" not in text and KEY.split()[1] not in text


def test_unknown_field_reserved_username_and_bad_shapes_are_refused():
    (unknown,) = _problems([_person(groups=["sudo"])])
    assert unknown.startswith("staff[0] (zhangsan), field groups: not a roster field")
    (reserved,) = _problems([_person(username="automation")], reserved={"automation": "the automation"})
    assert reserved == "staff[0] (automation), field username: automation is the account of the automation, not a person's"
    (bad_name,) = _problems([_person(username="Zhang San")])
    assert "field username: 'Zhang San' is not an account name" in bad_name
    assert _problems("zhangsan") == ["staff is text, not a list of persons (inventory/group_vars/all/staff.yml)"]
    assert _problems(None)[0].startswith("staff is not set")
    assert _problems(["zhangsan"]) == ["staff[0] is text, not a person (a mapping with username, name, role, status)"]


# --- through ansible-playbook: refused in the pre-flight (also in --check), not hidden, nobody contacted --------

def test_roster_problems_stop_the_run_before_any_account_is_made(tmp_path):
    staff = copy.deepcopy(committed_roster())
    staff[1]["role"] = "dbadmin"                      # liqiang: unknown role
    staff[2].pop("status")                            # wangfang: no status
    staff.append({**staff[0], "name": "张伟 (2)"})     # zhangwei twice
    staff[3]["uid"] = 3001
    staff[4]["uid"] = 3001                            # liuyang: uid of chenjing
    keys = roster_keys()
    keys.pop("zhaolei")                               # zhaolei: active, no key
    inv, marker = inventory(tmp_path, {**valid_host_vars(), "staff": staff, "staff_ssh_keys": keys})
    real = run(inv, guarded(tmp_path))
    check = run(inv, guarded(tmp_path), "--check")
    assert real.returncode == 2, output(real)[-3000:]
    found = refusals(real)
    assert found[0] == "Staff roster refused before any host is contacted:"
    expected = [
        "ghost: staff[1] (liqiang), field role: 'dbadmin' is not a known role",
        "ghost: staff[2] (wangfang), field status: missing",
        "ghost: staff[4] (liuyang), field uid: 3001 is already the uid of staff[3] (chenjing)",
        "ghost: staff[5] (zhaolei), field ssh_keys: an active person has no SSH key",
        "ghost: staff[7] (zhangwei), field username: zhangwei is already staff[0] (zhangwei)",
    ]
    assert [line for line in found[1:] if not any(line.startswith(e) for e in expected)] == []
    assert all(any(line.startswith(e) for line in found) for e in expected)
    assert refusals(check) == found
    assert "Gathering Facts" not in output(real)
    assert not marker.exists(), "a host was contacted although the roster was refused"


def test_committed_roster_without_keys_is_refused_in_the_preflight_not_mid_loop(tmp_path):
    inv, marker = inventory(tmp_path, {"controller_address": "10.231.0.1"})
    proc = run(inv, "playbooks/preflight.yml")
    assert proc.returncode == 2
    found = refusals(proc)
    assert "ghost: staff[0] (zhangwei), field ssh_keys: an active person has no SSH key" in found[1]
    assert len(found) == 1 + sum(p["status"] == "active" for p in committed_roster())
    assert "src (or content) is required" not in output(proc)
    assert not marker.exists()
