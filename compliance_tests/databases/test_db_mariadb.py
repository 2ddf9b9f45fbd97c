"""MariaDB (DB-01 … DB-06): behaviour observed on the server, expected values read from the inventory."""

# SQL below is built only from inventory identifiers passed through dbcheck.ident().
# ruff: noqa: S608

import time

import pytest
from dbcheck import (
    MARIADB_POLICY,
    TLS_VERSIONS,
    account,
    account_names,
    application_probe,
    departed_names,
    departed_staff,
    expected_grants,
    ident,
    mariadb_local,
    mariadb_plain_refusal,
    mariadb_remote,
    tls_version,
)

from baseline import compliance
from baseline.compliance_plugin import not_applicable
from baseline.secrets import generate

testinfra_hosts = compliance.hosts_in("mariadb_servers")
ASSET_KIND = "mariadb"
pytestmark = pytest.mark.asset_kind("mariadb")
PROBE = "'baseline_probe'@'localhost'"


@pytest.fixture()
def address(policy):
    return str(policy.get("ansible_host"))


def _probe_password(length: int) -> str:
    """Letters of both cases, a digit and a special character (baseline.secrets.generate for a policy of `length`
    characters): only the length can make it fail."""
    return generate({"password_min_length": length}, length=length, name="a probe password")


def _create_probe(host, password: str):
    """CREATE USER with a probe password (SQL on stdin), dropped again whatever happened; a probe left by an
    interrupted run is dropped first, so "already exists" never stands in for a refusal."""
    mariadb_local(host, f"DROP USER IF EXISTS {PROBE}")
    result = mariadb_local(host, f"CREATE USER {PROBE} IDENTIFIED BY '{password}'", private=True)
    mariadb_local(host, f"DROP USER IF EXISTS {PROBE}")
    return result


@pytest.mark.control("DB-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a probe user (CREATE USER, dropped again); the refused statement in the audit log")
def test_creating_a_user_with_a_password_one_character_short_fails(host, policy, evidence):
    length = policy["password_min_length"]
    short = _create_probe(host, _probe_password(length - 1))
    evidence.record(command=f"{short.shown} <<< CREATE USER {PROBE} IDENTIFIED BY '{'*' * (length - 1)}'",
                    observed=short.err or "accepted", expected=f"{MARIADB_POLICY} (does not satisfy the password policy)")
    assert not short.ok and MARIADB_POLICY in short.err


@pytest.mark.control("DB-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a probe user (CREATE USER, dropped again); the refused statement in the audit log")
def test_a_password_without_a_special_character_fails(host, policy, evidence):
    if not policy["password_require_special"]:
        not_applicable("the policy does not require a special character")
    length = policy["password_min_length"]
    plain = ("Abcdefgh" + "23" * length)[:length + 2]
    result = _create_probe(host, plain)
    evidence.record(command=f"{result.shown} <<< CREATE USER {PROBE} IDENTIFIED BY '{'*' * len(plain)}'",
                    observed=result.err or "accepted", expected=f"{MARIADB_POLICY} (does not satisfy the password policy)",
                    note=f"{len(plain)} characters, letters of both cases and digits, no special character")
    assert not result.ok and MARIADB_POLICY in result.err


@pytest.mark.control("DB-01")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a probe user created and dropped again; its statements in the audit log")
def test_a_compliant_password_is_accepted_and_hashes_cannot_bypass_the_check(host, policy, evidence):
    length = policy["password_min_length"]
    good = _create_probe(host, _probe_password(length))
    settings = mariadb_local(host, "SELECT @@simple_password_check_minimal_length, @@strict_password_validation, "
                                   "@@simple_password_check_other_characters, @@simple_password_check_letters_same_case")
    values = settings.out.split("\t") if settings.ok else []
    names = ["minimal_length", "strict_password_validation", "other_characters", "letters_same_case"]
    observed = dict(zip(names, values, strict=False))
    wanted = {"minimal_length": (length, "at least"), "strict_password_validation": (1, "exactly"),
              "other_characters": (1 if policy["password_require_special"] else 0, "at least"),
              "letters_same_case": (1 if policy["password_require_letter"] else 0, "at least")}
    checks = {}
    for key, (bound, how) in wanted.items():
        value = observed.get(key, "")
        checks[key] = value.isdigit() and (int(value) == bound if how == "exactly" else int(value) >= bound)
    evidence.record(command="CREATE USER … IDENTIFIED BY <compliant password> (SQL on stdin)", observed=good.err or "accepted",
                    expected="accepted")
    evidence.record(command=settings.shown, observed=observed or settings.err,
                    expected={k: f"{how} {bound}" for k, (bound, how) in wanted.items()})
    assert good.ok, good.err
    assert all(checks.values()), checks


@pytest.mark.control("DB-02")
@pytest.mark.method("state")
def test_accounts_are_blocked_after_the_policy_number_of_failures(host, policy, evidence):
    value = mariadb_local(host, "SELECT @@max_password_errors")
    evidence.record(command=value.shown, observed=value.out or value.err, expected=f"1..{policy['login_max_failures']}",
                    note="4294967295 (the default) means no blocking at all")
    assert value.ok and value.out.isdigit() and 0 < int(value.out) <= policy["login_max_failures"]


@pytest.mark.control("DB-03")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a refused plain-text login of the read-only account in the server log")
def test_remote_connection_without_tls_is_refused(host, address, policy, evidence):
    """Same account, same password: accepted over verified TLS, refused without it. MariaDB answers a plain
    connection with 3159 (secure transport required) for accounts without REQUIRE SSL; for an account with REQUIRE
    SSL (every inventory account) its SSL check runs after the password check and reports 1045 instead. Either
    answer counts only next to a successful TLS login with the very same credentials and with the server's
    require_secure_transport on; a timeout or any other error never counts."""
    name, password = account(policy, "read_only")
    database = policy["database_name"]
    tls = mariadb_remote(host, address, name, password, sql="SELECT 1", database=database)
    plain = mariadb_remote(host, address, name, password, sql="SELECT 1", database=database, tls=False)
    refusal = "accepted" if plain.ok else mariadb_plain_refusal(plain.err)
    required = mariadb_local(host, "SELECT @@require_secure_transport")
    ssl_type = mariadb_local(host, "SELECT DISTINCT JSON_VALUE(priv, '$.ssl_type') FROM mysql.global_priv "
                                   f"WHERE user = '{ident(name)}'")
    evidence.record(command=f"{tls.shown}; {plain.shown} (password on stdin)",
                    observed={"with_tls": "accepted" if tls.ok else tls.err, "without_tls": plain.err or "accepted",
                              "refusal": refusal},
                    expected={"with_tls": "accepted", "without_tls": "refused",
                              "refusal": "secure transport required (3159), or access denied (1045) for a REQUIRE SSL "
                                         "account whose password was just accepted over TLS"})
    evidence.record(command=f"{required.shown}; {ssl_type.shown}",
                    observed={"require_secure_transport": required.out or required.err,
                              "account_ssl_type": ssl_type.out or ssl_type.err},
                    expected={"require_secure_transport": "1",
                              "account_ssl_type": "1 (REQUIRE SSL), 2 (X509) or 3 (specified) on every host entry"})
    assert tls.ok, f"the control login over TLS failed, so a refusal without TLS would prove nothing: {tls.err}"
    assert required.ok and required.out == "1", "require_secure_transport is off"
    assert refusal == "secure transport required" or (
        refusal == "access denied" and ssl_type.ok and ssl_type.out and set(ssl_type.out.split()) <= {"1", "2", "3"}), \
        f"plain connection: {plain.err or 'accepted'}"


@pytest.mark.control("DB-03", "IN-01", "CF-01")
@pytest.mark.method("probe")
def test_remote_connection_uses_verified_tls(host, address, policy, evidence):
    name, password = account(policy, "read_only")
    tls = mariadb_remote(host, address, name, password, sql="SHOW SESSION STATUS LIKE 'Ssl_version'",
                         database=policy["database_name"])
    evidence.record(command=tls.shown, observed=tls.out or tls.err, expected=f"Ssl_version {' or '.join(TLS_VERSIONS)}")
    assert tls.ok and tls_version(tls.out) in TLS_VERSIONS


@pytest.mark.control("DB-04")
@pytest.mark.method("state")
def test_no_anonymous_users_no_test_database_no_remote_root(host, evidence):
    anonymous = mariadb_local(host, "SELECT CONCAT(user, '@', host) FROM mysql.user WHERE user = ''")
    test_db = mariadb_local(host, "SHOW DATABASES LIKE 'test'")
    root = mariadb_local(host, "SELECT host FROM mysql.user WHERE user = 'root'")
    evidence.record(command=anonymous.shown, observed=anonymous.out.splitlines() if anonymous.ok else anonymous.err, expected=[])
    evidence.record(command=test_db.shown, observed=test_db.out.splitlines() if test_db.ok else test_db.err, expected=[])
    evidence.record(command=root.shown, observed=root.out.splitlines() if root.ok else root.err, expected=["localhost"])
    assert anonymous.ok and anonymous.out == ""
    assert test_db.ok and test_db.out == ""
    assert root.ok and root.out.splitlines() == ["localhost"]


@pytest.mark.control("DB-04")
@pytest.mark.method("state")
def test_departed_staff_accounts_are_locked(host, policy, evidence):
    if not departed_names(policy):
        not_applicable("the roster lists no departed staff: there is no account to find locked")
    departed = departed_staff(policy)
    open_accounts = mariadb_local(host, "SELECT CONCAT(user, '@', host) FROM mysql.global_priv WHERE "
                                        f"FIND_IN_SET(user, '{departed}') AND "
                                        "IFNULL(JSON_VALUE(priv, '$.account_locked'), 0) <> 1")
    evidence.record(command=open_accounts.shown, observed=open_accounts.out.splitlines() if open_accounts.ok
                    else open_accounts.err, expected=[], note=f"departed staff: {departed}")
    assert open_accounts.ok and open_accounts.out == ""


@pytest.mark.control("DB-05")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a refused SELECT of the application account in the audit log")
def test_application_account_cannot_read_a_table_it_was_not_granted(host, address, policy, evidence):
    name, password, table = application_probe(policy)
    result = mariadb_remote(host, address, name, password, sql=f"SELECT COUNT(*) FROM {table}", database=policy["database_name"])
    evidence.record(command=result.shown, observed=result.err or result.out, expected=f"ERROR 1142 … command denied … '{table}'")
    assert not result.ok and "1142" in result.err and table in result.err


@pytest.mark.control("DB-05")
@pytest.mark.method("state")
def test_table_privileges_are_exactly_those_of_the_inventory(host, policy, evidence):
    expected, names = expected_grants(policy), account_names(policy)
    held = mariadb_local(host, "SELECT DISTINCT CONCAT(SUBSTRING_INDEX(TRIM(BOTH '''' FROM grantee), '''@', 1), '|', "
                               "table_name, '|', privilege_type) FROM information_schema.table_privileges WHERE "
                               f"FIND_IN_SET(SUBSTRING_INDEX(TRIM(BOTH '''' FROM grantee), '''@', 1), '{names}') ORDER BY 1")
    schema = mariadb_local(host, "SELECT DISTINCT grantee FROM information_schema.schema_privileges WHERE "
                                 f"FIND_IN_SET(SUBSTRING_INDEX(TRIM(BOTH '''' FROM grantee), '''@', 1), '{names}')")
    evidence.record(command=held.shown, observed=held.out.splitlines() if held.ok else held.err, expected=expected)
    evidence.record(command=schema.shown, observed=schema.out.splitlines() if schema.ok else schema.err, expected=[])
    assert held.ok and sorted(held.out.splitlines()) == expected
    assert schema.ok and schema.out == ""


@pytest.mark.control("DB-06")
@pytest.mark.method("probe")
@pytest.mark.intrusive("a probe table created and dropped; its audit records")
def test_ddl_statement_appears_in_the_audit_log(host, policy, evidence):
    marker = f"baseline_audit_probe_{int(time.time())}"
    ddl = mariadb_local(host, f"CREATE TABLE {marker} (id INT); DROP TABLE {marker};", policy["database_name"])
    time.sleep(1)
    ident = "mariadb-audit"
    log = host.run(f"sudo journalctl -t {ident} --since '-5min' --no-pager | grep {marker}")
    records = log.stdout.strip().splitlines()
    evidence.record(command=f"{ddl.shown}; journalctl -t {ident} | grep {marker}", observed=records or ddl.err,
                    expected="QUERY record with CREATE TABLE")
    assert ddl.ok and "CREATE TABLE" in log.stdout and ",QUERY," in log.stdout
