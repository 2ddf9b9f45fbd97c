"""Age of evidence (baseline/report/evidence.py): stale results are left out of the verdicts and listed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from report_support import assets, catalog_with, cell, make_report, result

from baseline.report import evidence, html, json_report
from baseline.report import verdicts as v
from baseline.report.assets import POLICY_FILE, from_inventory, policy_value
from baseline.report.evidence import Window, days_window, end_of_day, parse_time, policy_window, split

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
DAY = Window(timedelta(hours=24), NOW, "test window")


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat(timespec="seconds")


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-06-01T07:00:00+00:00", datetime(2026, 6, 1, 7, tzinfo=UTC)),
    ("2026-06-01T07:00:00Z", datetime(2026, 6, 1, 7, tzinfo=UTC)),
    ("2026-06-01T15:00:00+08:00", datetime(2026, 6, 1, 7, tzinfo=UTC)),
    ("2026-06-01T07:00:00", datetime(2026, 6, 1, 7, tzinfo=UTC)),  # no offset: UTC
    ("yesterday", None),
    ("", None),
])
def test_result_times_are_read_with_their_offset(text, expected):
    assert parse_time(text) == expected


def test_a_result_is_stale_once_older_than_the_window():
    assert not DAY.is_stale(result("app1", "IA-02", "pass", time=at(23.9)))
    assert not DAY.is_stale(result("app1", "IA-02", "pass", time=at(24)))  # exactly at the cutoff still counts
    assert DAY.is_stale(result("app1", "IA-02", "pass", time=at(24.1)))


def test_a_result_of_unknown_age_is_stale():
    assert DAY.is_stale(result("app1", "IA-02", "pass", time="not a time"))


def test_split_keeps_every_result_without_a_window():
    records = [result("app1", "IA-02", "pass", time=at(1000))]
    assert split(records, None) == (records, [])


def test_split_separates_current_and_stale():
    fresh, old = result("app1", "IA-01", "pass", time=at(1)), result("app1", "IA-02", "pass", time=at(48))
    assert split([fresh, old], DAY) == ([fresh], [old])


def test_window_must_be_longer_than_zero_and_have_a_time_zone():
    with pytest.raises(ValueError, match="longer than zero"):
        Window(timedelta(0), NOW, "x")
    with pytest.raises(ValueError, match="time zone"):
        Window(timedelta(hours=1), datetime(2026, 6, 1), "x")  # noqa: DTZ001 - the point of the test


def test_end_of_day_counts_the_whole_as_of_day():
    assert end_of_day(date(2026, 6, 1)) == datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)


def test_default_window_is_the_policy_inspection_interval():
    interval = policy_value("inspection_interval_hours")
    assert interval == 24  # 第二十条(九)(十): 每日巡检, in inventory/group_vars/all/policy.yml
    window = policy_window({"inspection_interval_hours": interval}, NOW)
    assert window.max_age == timedelta(hours=24) and window.cutoff == NOW - timedelta(hours=24)
    assert "inspection_interval_hours = 24" in window.source and "第二十条(九), 第二十条(十)" in window.source


def test_an_inventory_linking_the_shared_values_carries_the_inspection_interval(tmp_path):
    """What scripts/report reads from an inventory whose group_vars link the shared policy values."""
    (tmp_path / "hosts.yml").write_text("all:\n  children:\n    linux_servers:\n      hosts:\n        app1: {}\n",
                                        encoding="utf-8")
    (tmp_path / "group_vars").symlink_to(POLICY_FILE.parent.parent)
    _, common = from_inventory(tmp_path)
    assert common["inspection_interval_hours"] == 24


@pytest.mark.parametrize(("value", "message"), [
    (48, "inspection_interval_hours = 48 is above the policy limit 24"),
    ("twenty", "text where a whole number is expected"),
    (True, "a boolean where a whole number is expected"),
])
def test_a_policy_window_weaker_than_the_floor_or_mistyped_is_refused(value, message):
    with pytest.raises(ValueError, match=message):
        policy_window({"inspection_interval_hours": value}, NOW)


def test_a_missing_policy_interval_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match="inspection_interval_hours is not set.*--max-age-days"):
        policy_window({}, NOW)


def test_a_stricter_policy_interval_is_accepted():
    assert policy_window({"inspection_interval_hours": 12}, NOW).max_age == timedelta(hours=12)


def test_a_whole_number_written_as_text_counts_as_that_number():
    """As everywhere the policy values are read (baseline.policy): `-e inspection_interval_hours=12` arrives as text."""
    assert policy_window({"inspection_interval_hours": "12"}, NOW).max_age == timedelta(hours=12)


def test_max_age_days_overrides_and_names_itself():
    window = days_window(7, NOW)
    assert window.max_age == timedelta(days=7) and window.source == "--max-age-days 7"


@pytest.mark.parametrize("days", [0, -1, True, 1.5])
def test_max_age_days_must_be_a_whole_positive_number(days):
    with pytest.raises(ValueError, match="--max-age-days must be"):
        days_window(days, NOW)


def test_stale_results_are_left_out_of_the_verdicts_and_listed():
    cat = catalog_with(only=("IA-01", "IA-02", "IA-03"))
    results = [result("app1", "IA-01", "pass", "uid0", time=at(2)),
               result("app1", "IA-02", "fail", "minlen", time=at(72)),  # a failure three days ago: stale
               result("app1", "IA-03", "pass", "ageing", time=at(3)),
               result("app1", "IA-03", "pass", "history", time=at(30))]  # stale beside a current one
    report = make_report(results, cat, assets(("app1", "linux")), window=DAY)
    ia02 = cell(report, "IA-02", "app1/linux")
    assert (ia02.verdict, ia02.failing, ia02.checks) == (v.NOT_VERIFIED, False, [])
    assert ia02.reasons[0].code == "stale" and ia02.reasons[0].as_dict()["last"] == at(72)
    assert ia02.missing_evidence
    ia03 = cell(report, "IA-03", "app1/linux")
    assert ia03.verdict == v.MET and [c.check for c in ia03.checks] == ["ageing"]
    assert [r.code for r in ia03.reasons] == ["all_passed", "stale_left_out"]
    assert [(r.control_ids[0], r.check) for r in report.stale] == [("IA-02", "minlen"), ("IA-03", "history")]
    assert any("2 result record(s) older than the evidence window" in w for w in report.warnings)
    assert report.overall == v.INCONCLUSIVE and report.conclusion.rule == "missing_evidence"


def test_every_result_stale_gives_no_conclusion():
    cat = catalog_with(only=("IA-02",))
    report = make_report([result("app1", "IA-02", "pass", time=at(200))], cat, assets(("app1", "linux")), window=DAY)
    assert report.overall == v.INCONCLUSIVE and report.conclusion.rule == "no_evidence"
    assert report.exit_code == 2


def test_newest_record_of_a_check_decides_its_age():
    """A re-run today replaces an old failure; the old record is superseded, not listed as stale."""
    cat = catalog_with(only=("IA-02",))
    results = [result("app1", "IA-02", "fail", "minlen", run_id="r1", time=at(80)),
               result("app1", "IA-02", "pass", "minlen", run_id="r2", time=at(1))]
    report = make_report(results, cat, assets(("app1", "linux")), window=DAY)
    assert cell(report, "IA-02", "app1/linux").verdict == v.MET and report.stale == []
    assert report.overall == v.COMPLIANT


def test_trend_judges_each_run_as_of_its_own_time():
    cat = catalog_with(only=("IA-01", "IA-02"))
    results = [result("app1", "IA-01", "pass", run_id="r1", time=at(100)),
               result("app1", "IA-02", "fail", run_id="r1", time=at(100)),
               result("app1", "IA-02", "pass", run_id="r2", time=at(1))]
    report = make_report(results, cat, assets(("app1", "linux")), window=DAY)
    first, last = report.trend
    assert (first.counts[v.MET], first.failing) == (1, 1)  # r1 judged as of r1: both current then
    assert (last.counts[v.MET], last.counts[v.NOT_VERIFIED]) == (1, 1)  # now: r1's IA-01 result is stale


def test_outputs_show_the_window_and_the_stale_records():
    cat = catalog_with(only=("IA-01", "IA-02"))
    results = [result("app1", "IA-01", "pass", time=at(1)), result("app1", "IA-02", "pass", "minlen", time=at(50))]
    report = make_report(results, cat, assets(("app1", "linux")), window=DAY)
    data = json_report.to_dict(report)
    assert data["evidence_window"]["max_age_hours"] == 24 and data["evidence_window"]["source"] == "test window"
    assert [s["check"] for s in data["stale"]] == ["minlen"]
    page = html.render(report, "zh")
    assert 'id="stale"' in page and "minlen" in page and "过期证据" in page
    without = make_report(results, cat, assets(("app1", "linux")))
    assert json_report.to_dict(without)["evidence_window"] is None and without.stale == []
    assert evidence.POLICY_VARIABLE == "inspection_interval_hours"
