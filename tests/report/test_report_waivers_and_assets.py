"""Waivers file validation, expired waivers in the report, assets from an inventory, latest result wins, trend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from report_support import AS_OF, assets, catalog_with, cell, make_report, result

from baseline import REPO_ROOT
from baseline.catalog import load
from baseline.report import verdicts as v
from baseline.report.assets import _report_vars, from_inventory
from baseline.waivers import WaiverError, parse
from baseline.waivers import load as load_waivers


def entry(**overrides):
    base = {"control": "IA-02", "assets": ["app1"], "justification": "legacy appliance, replaced in Q3",
            "approved_by": "李强 (security administrator)", "approved_on": "2026-03-01", "expires": "2026-08-31"}
    base.update(overrides)
    return {k: val for k, val in base.items() if val is not None}


def test_committed_waivers_file_is_valid_and_hides_no_failure():
    waivers = load_waivers(REPO_ROOT / "inventory" / "waivers.yml", load())
    assert len(waivers) <= 1


@pytest.mark.parametrize(("overrides", "message"), [
    ({"justification": None}, "justification is missing"),
    ({"approved_by": None}, "approved_by is missing"),
    ({"expires": "someday"}, "is not a date"),
    ({"control": "ZZ-99"}, "not in the catalog"),
    ({"assets": ["*"]}, "named one by one"),
    ({"expires": "2027-06-01"}, "at most one assessment cycle"),
    ({"expires": "2026-01-01"}, "before approved_on"),
    ({"asset_kind": "mainframe"}, "asset_kind"),
    ({"approver": "x"}, "unknown field"),
])
def test_bad_waivers_are_refused_naming_the_problem(overrides, message):
    with pytest.raises(WaiverError, match=message):
        parse({"waivers": [entry(**overrides)]}, load())


def test_expired_waiver_shows_and_fails_the_run():
    cat = catalog_with(automated=("IA-02",), only=("IA-02",))
    (expired,) = parse({"waivers": [entry(expires=(AS_OF - timedelta(days=1)).isoformat())]}, cat)
    report = make_report([result("app1", "IA-02", "fail")], cat, assets(("app1", "linux")), [expired])
    c = cell(report, "IA-02", "app1/linux")
    assert c.verdict == v.NOT_MET and c.failing and c.waiver is expired
    assert report.waivers[0].state == "expired"
    assert report.exit_code == 1


def test_valid_waiver_keeps_the_run_green_and_is_reported():
    cat = catalog_with(automated=("IA-02",), only=("IA-01", "IA-02", "IA-03"))
    (valid,) = parse({"waivers": [entry(expires=(AS_OF + timedelta(days=10)).isoformat())]}, cat)
    results = [result("app1", "IA-01", "pass"), result("app1", "IA-02", "fail"), result("app1", "IA-03", "pass")]
    report = make_report(results, cat, assets(("app1", "linux")), [valid])
    assert cell(report, "IA-02", "app1/linux").verdict == v.WAIVED
    assert report.exit_code == 0
    assert report.overall == "pass_with_gaps"  # the waived cell is not met: 2 of 3, and a high-risk finding
    assert report.waivers[0].cells == ["app1/linux"]


def test_waiver_narrowed_to_one_asset_kind():
    cat = catalog_with(automated=("IN-01",))
    (w,) = parse({"waivers": [entry(control="IN-01", assets=["db1"], asset_kind="postgresql")]}, cat)
    results = [result("db1", "IN-01", "fail"), result("db1", "IN-01", "fail", kind="postgresql")]
    report = make_report(results, cat, assets(("db1", "linux"), ("db1", "postgresql")), [w])
    assert cell(report, "IN-01", "db1/postgresql").verdict == v.WAIVED
    assert cell(report, "IN-01", "db1/linux").verdict == v.NOT_MET


def test_latest_result_of_a_check_wins_and_runs_give_a_trend():
    cat = catalog_with(automated=("IA-02", "IA-04"))
    results = [
        result("app1", "IA-02", "fail", "minlen", run_id="r1", time="2026-05-01T00:00:00+00:00"),
        result("app1", "IA-04", "pass", "faillock", run_id="r1", time="2026-05-01T00:00:00+00:00"),
        result("app1", "IA-02", "pass", "minlen", run_id="r2", time="2026-05-08T00:00:00+00:00"),
    ]
    report = make_report(results, cat, assets(("app1", "linux")))
    assert cell(report, "IA-02", "app1/linux").verdict == v.MET
    assert cell(report, "IA-04", "app1/linux").verdict == v.MET  # not re-checked in r2: r1's result stands
    assert [p.run.run_id for p in report.trend] == ["r1", "r2"]
    assert [p.counts[v.MET] for p in report.trend] == [1, 2]
    assert [p.failing for p in report.trend] == [1, 0]
    assert [(c.control_id, c.before, c.after) for c in report.changes] == [("IA-02", v.NOT_MET, v.MET)]


def test_results_for_unknown_controls_are_reported_as_data_problems():
    report = make_report([result("app1", "ZZ-01", "pass")], load(), assets(("app1", "linux")))
    assert any("ZZ-01" in w for w in report.warnings)


@pytest.fixture()
def inventory_dir(tmp_path: Path) -> Path:
    hosts = {"all": {"vars": {"protection_level": 3, "platform_name": "测试平台"}, "children": {
        "linux_servers": {"children": {
            "app_servers": {"hosts": {"app1": {"host_kind": "container"}}},
            "postgresql_servers": {"hosts": {"db1": {"protection_level": 2}}},
        }},
        "network_devices": {"children": {"huawei_vrp": {"hosts": {"sw1": {}}}}},
    }}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(hosts, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_assets_from_inventory_kinds_levels_and_vendors(inventory_dir):
    found, common = from_inventory(inventory_dir)
    by_key = {a.key: a for a in found}
    assert sorted(by_key) == ["app1/linux", "db1/linux", "db1/postgresql", "sw1/network"]
    assert by_key["db1/postgresql"].level == 2 and by_key["app1/linux"].level == 3
    assert by_key["app1/linux"].host_kind == "container"
    assert by_key["sw1/network"].vendor == "huawei_vrp"
    assert common["platform_name"] == "测试平台"
    forced, _ = from_inventory(inventory_dir, level=2)
    assert {a.level for a in forced} == {2}


def test_level_3_controls_are_not_applicable_on_a_level_2_host(inventory_dir):
    found, _ = from_inventory(inventory_dir)
    cat = catalog_with(automated=("AU-05",))
    report = make_report([result("db1", "AU-05", "fail"), result("app1", "AU-05", "fail")], cat, found)
    assert cell(report, "AU-05", "db1/linux").verdict == v.NOT_APPLICABLE
    assert not cell(report, "AU-05", "db1/linux").failing
    assert cell(report, "AU-05", "app1/linux").verdict == v.NOT_MET


def test_report_reads_its_variables_undecrypted_when_no_vault_secret_can_decrypt_a_value():
    """The report needs no secret: a host whose vaulted values cannot be decrypted here still gives its level."""
    from ansible.parsing.vault import AnsibleVaultError

    class Inventory:
        class _variables:  # noqa: N801 - the attribute names of baseline.inventory.Inventory
            @staticmethod
            def get_vars(host, include_hostvars):
                return {"protection_level": 2, "platform_name": "测试平台", "inspection_interval_hours": 24,
                        "db_password": object()}

        class _manager:  # noqa: N801
            @staticmethod
            def get_host(name):
                return name

        @staticmethod
        def vars(host):
            raise AnsibleVaultError("Decryption failed (no vault secrets were found that could decrypt).")

    found = _report_vars(Inventory(), "db1")
    assert found["protection_level"] == 2 and found["inspection_interval_hours"] == 24
    assert "db_password" not in found and "Decryption failed" in found["_vault_error"]
