"""MariaDB (DB-01 … DB-06): behaviour observed on the server, expected values read from the inventory."""

# SQL below is built only from inventory identifiers passed through dbcheck.ident().
# ruff: noqa: S608

import time

import pytest
from dbcheck import account, account_names, application_probe, departed_staff, expected_grants, mariadb_local, mariadb_remote

from baseline import compliance

testinfra_hosts = compliance.hosts_in("mariadb_servers")
ASSET_KIND = "mariadb"
pytestmark = pytest.mark.asset_kind("mariadb")


@pytest.fixture()
def address(policy):
    return str(policy.get("ansible_host"))


def _probe_password(length: int) -> str:
    """Letters of both cases, a digit and special characters: only the length can make it fail."""
    return ("Ab1!" + "cD#e" * length)[:length]


@pytest.mark.control("DB-01")
def test_creating_a_user_with_a_password_one_character_short_fails(host, policy, evidence):
    length = policy["password_min_length"]
    short = mariadb_local(host, f"CREATE USER 'baseline_probe'@'localhost' IDENTIFIED BY '{_probe_password(length - 1)}'")
    mariadb_local(host, "DROP USER IF EXISTS 'baseline_probe'@'localhost'")
    evidence.record(command=short.shown.replace(_probe_password(length - 1), "*" * (length - 1)),
                    observed=short.err or "accepted", expected="ERROR 1819 (does not satisfy the password policy)")
    assert not short.ok and "1819" in short.err


@pytest.mark.control("DB-01")
def test_a_compliant_password_is_accepted_and_hashes_cannot_bypass_the_check(host, policy, evidence):
    length = policy["password_min_length"]
    good = mariadb_local(host, f"CREATE USER 'baseline_probe'@'localhost' IDENTIFIED BY '{_probe_password(length)}'")
    mariadb_local(host, "DROP USER IF EXISTS 'baseline_probe'@'localhost'")
    settings = mariadb_local(host, "SELECT @@simple_password_check_minimal_length, @@strict_password_validation")
    evidence.record(command="CREATE USER … IDENTIFIED BY <compliant password>", observed=good.err or "accepted",
                    expected="accepted")
    evidence.record(command=settings.shown, observed=settings.out, expected=f"{length}\t1")
    assert good.ok
    assert settings.out.split("\t") == [str(length), "1"]


@pytest.mark.control("DB-02")
def test_accounts_are_blocked_after_the_policy_number_of_failures(host, policy, evidence):
    value = mariadb_local(host, "SELECT @@max_password_errors")
    evidence.record(command=value.shown, observed=value.out, expected=policy["login_max_failures"])
    assert value.ok and int(value.out) == policy["login_max_failures"]


@pytest.mark.control("DB-03")
def test_remote_connection_without_tls_is_refused(host, address, policy, evidence):
    name, password = account(policy, "read_only")
    plain = mariadb_remote(host, address, name, password, sql="SELECT 1", database=policy["database_name"], tls=False)
    evidence.record(command=plain.shown, observed=plain.err, expected="refused (secure transport required)")
    assert not plain.ok and ("secure transport" in plain.err.lower() or "access denied" in plain.err.lower())


@pytest.mark.control("DB-03")
def test_remote_connection_uses_verified_tls(host, address, policy, evidence):
    name, password = account(policy, "read_only")
    tls = mariadb_remote(host, address, name, password, sql="SHOW SESSION STATUS LIKE 'Ssl_version'",
                         database=policy["database_name"])
    evidence.record(command=tls.shown, observed=tls.out or tls.err, expected="Ssl_version TLSv1.2 or TLSv1.3")
    assert tls.ok and "TLSv1." in tls.out


@pytest.mark.control("DB-04")
def test_no_anonymous_users_no_test_database_no_remote_root(host, evidence):
    anonymous = mariadb_local(host, "SELECT CONCAT(user, '@', host) FROM mysql.user WHERE user = ''")
    test_db = mariadb_local(host, "SHOW DATABASES LIKE 'test'")
    root = mariadb_local(host, "SELECT host FROM mysql.user WHERE user = 'root'")
    evidence.record(command=anonymous.shown, observed=anonymous.out.splitlines(), expected=[])
    evidence.record(command=test_db.shown, observed=test_db.out.splitlines(), expected=[])
    evidence.record(command=root.shown, observed=root.out.splitlines(), expected=["localhost"])
    assert anonymous.ok and anonymous.out == ""
    assert test_db.ok and test_db.out == ""
    assert root.out.splitlines() == ["localhost"]


@pytest.mark.control("DB-04")
def test_departed_staff_accounts_are_locked(host, policy, evidence):
    departed = departed_staff(policy)
    open_accounts = mariadb_local(host, "SELECT CONCAT(user, '@', host) FROM mysql.global_priv WHERE "
                                        f"FIND_IN_SET(user, '{departed}') AND "
                                        "IFNULL(JSON_VALUE(priv, '$.account_locked'), 0) <> 1")
    evidence.record(command=open_accounts.shown, observed=open_accounts.out.splitlines(), expected=[])
    assert open_accounts.ok and open_accounts.out == ""


@pytest.mark.control("DB-05")
def test_application_account_cannot_read_a_table_it_was_not_granted(host, address, policy, evidence):
    name, password, table = application_probe(policy)
    result = mariadb_remote(host, address, name, password, sql=f"SELECT COUNT(*) FROM {table}", database=policy["database_name"])
    evidence.record(command=result.shown, observed=result.err or result.out, expected="ERROR 1142 … command denied")
    assert not result.ok and "1142" in result.err


@pytest.mark.control("DB-05")
def test_table_privileges_are_exactly_those_of_the_inventory(host, policy, evidence):
    expected, names = expected_grants(policy), account_names(policy)
    held = mariadb_local(host, "SELECT DISTINCT CONCAT(SUBSTRING_INDEX(TRIM(BOTH '''' FROM grantee), '''@', 1), '|', "
                               "table_name, '|', privilege_type) FROM information_schema.table_privileges WHERE "
                               f"FIND_IN_SET(SUBSTRING_INDEX(TRIM(BOTH '''' FROM grantee), '''@', 1), '{names}') ORDER BY 1")
    schema = mariadb_local(host, "SELECT DISTINCT grantee FROM information_schema.schema_privileges WHERE "
                                 f"FIND_IN_SET(SUBSTRING_INDEX(TRIM(BOTH '''' FROM grantee), '''@', 1), '{names}')")
    evidence.record(command=held.shown, observed=held.out.splitlines(), expected=expected)
    evidence.record(command=schema.shown, observed=schema.out.splitlines(), expected=[])
    assert sorted(held.out.splitlines()) == expected
    assert schema.out == ""


@pytest.mark.control("DB-06")
def test_ddl_statement_appears_in_the_audit_log(host, policy, evidence):
    marker = f"baseline_audit_probe_{int(time.time())}"
    ddl = mariadb_local(host, f"CREATE TABLE {marker} (id INT); DROP TABLE {marker};", policy["database_name"])
    time.sleep(1)
    ident = "mariadb-audit"
    log = host.run(f"sudo journalctl -t {ident} --since '-5min' --no-pager | grep {marker}")
    evidence.record(command=f"{ddl.shown}; journalctl -t {ident} | grep {marker}", observed=log.stdout.strip()[-600:],
                    expected="QUERY record with CREATE TABLE")
    assert ddl.ok and "CREATE TABLE" in log.stdout and ",QUERY," in log.stdout
