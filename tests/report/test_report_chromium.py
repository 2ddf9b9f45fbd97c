"""The HTML report in headless Chromium: what an assessor sees, with screenshots under reports/screenshots/.

`test_local_run_report_in_chromium` renders the results of a small testinfra suite run against this machine
(`--hosts=local://`) through `scripts/report`. `test_lab_run_report_in_chromium` (marker `lab`) renders the
newest `results/*.jsonl` written by the lab's compliance run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from report_browser import Browser, executable
from report_support import write_catalog

from baseline import REPO_ROOT
from baseline.results import read_results

pytest_plugins = ["pytester"]

SCREENSHOTS = REPO_ROOT / "reports" / "screenshots"
HOSTILE = '<script>document.title="owned"</script>'
LOCAL_SUITE = f'''
import shlex

import pytest
from baseline.compliance_plugin import not_verifiable

DROP_IN = "/etc/security/pwquality.conf.d/50-baseline.conf"
BANNER = {HOSTILE!r}


@pytest.mark.control("IA-01")
def test_only_root_has_uid_0(host, evidence):
    command = "awk -F: '$3 == 0 {{print $1}}' /etc/passwd"
    out = host.check_output(command)
    evidence.record(command=command, observed=out, expected="root")
    assert out.split() == ["root"]


@pytest.mark.control("IA-02")
def test_password_length_at_least_policy_minimum(host, evidence):
    conf = host.file(DROP_IN)
    observed = conf.content_string if conf.exists else "(file missing)"
    evidence.record(command=f"cat {{DROP_IN}}", observed=observed, expected="minlen = 10")
    assert conf.exists and "minlen = 10" in observed, f"{{DROP_IN}}: {{observed}}"


@pytest.mark.control("IA-05")
def test_login_banner_is_shown_as_text(host, evidence):
    out = host.check_output("printf '%s' " + shlex.quote(BANNER))
    evidence.record(command="printf banner", observed=out, note="host output rendered as text")


@pytest.mark.control("AU-05")
def test_audit_rules_immutable():
    not_verifiable("container: the kernel audit subsystem belongs to the host")
'''


def chromium_or_skip() -> None:
    if executable() is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; scripts/setup installs it)")


def render(results: list[Path], out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO_ROOT / "scripts" / "report"), "--results", *map(str, results),
                           "--out", str(out), *extra], capture_output=True, text=True, check=False, cwd=REPO_ROOT)


@pytest.fixture()
def local_run(pytester: pytest.Pytester) -> Path:
    """Results of a real testinfra run against this machine."""
    pytester.makepyfile(test_local=LOCAL_SUITE)
    path = pytester.path / "local.jsonl"
    pytester.runpytest("-p", "baseline.compliance_plugin", "--hosts=local://", "--results-file", str(path))
    return path


def test_local_run_report_in_chromium(local_run: Path, tmp_path: Path):
    chromium_or_skip()
    records = {r.control_ids[0]: r for r in read_results([local_run])}
    assert records["IA-02"].outcome == "fail" and records["AU-05"].outcome == "not_verifiable"
    checked = ("IA-01", "IA-02", "IA-05", "AU-05")
    catalog = write_catalog(tmp_path / "controls.yml", automated=checked, only=checked)  # every control has evidence
    proc = render([local_run], tmp_path / "out", "--no-inventory", "--catalog", str(catalog),
                  "--waivers", str(tmp_path / "none.yml"))
    assert proc.returncode == 1, proc.stdout + proc.stderr  # IA-02 fails on this machine
    page = tmp_path / "out" / "report.html"
    with Browser(width=1280, height=900) as browser:
        browser.open(page)
        browser.screenshot(SCREENSHOTS / "local-run.png")
        assert browser.evaluate("document.title").startswith("岚县公共信用信息平台")  # the banner did not run
        assert browser.evaluate("document.querySelectorAll('script').length") == 0
        overall = browser.visible_text("#overall")
        assert "不符合" in overall and "Not compliant" not in overall
        assert "符合率" in browser.visible_text("#conclusion-rule")  # at most 2 of 4 met: not above 60 %
        assert "2025版" in browser.visible_text("#template-rule")
        ia01 = browser.visible_text("#c-IA-01")
        expected_ia01 = "符合" if records["IA-01"].outcome == "pass" else "不符合"
        assert expected_ia01 in ia01
        if records["IA-01"].outcome == "pass":  # evidence of a met control is folded away until opened
            assert "awk -F:" not in ia01
            browser.evaluate("document.querySelector('#c-IA-01 details summary').click()")
        assert "awk -F:" in browser.visible_text("#c-IA-01")
        failing = browser.visible_text("#c-IA-02")
        assert "不符合" in failing
        assert "test_password_length_at_least_policy_minimum" in failing
        assert "/etc/security/pwquality.conf.d/50-baseline.conf" in failing and "(file missing)" in failing
        assert "minlen = 10" in failing and "--tags IA-02" in failing
        browser.evaluate("document.querySelectorAll('#c-IA-05 details').forEach(d => d.open = true)")
        assert HOSTILE in browser.visible_text("#c-IA-05")  # shown as text, not run
        assert "未验证" in browser.visible_text("#c-AU-05")
        assert "container: the kernel audit subsystem belongs to the host" in browser.visible_text("#c-AU-05")
        browser.evaluate("document.getElementById('c-IA-02').scrollIntoView()")
        browser.screenshot(SCREENSHOTS / "local-run-IA-02.png", full_page=False)
        browser.evaluate("document.getElementById('lang-switch').click()")
        overall_en = browser.visible_text("#overall")
        assert "Not compliant" in overall_en and "不符合" not in overall_en
        assert "Not met" in browser.visible_text("#c-IA-02")
        browser.screenshot(SCREENSHOTS / "local-run-en.png", full_page=False)
    assert (SCREENSHOTS / "local-run.png").stat().st_size > 10_000


def latest_lab_results() -> Path | None:
    files = sorted((REPO_ROOT / "results").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    return files[-1] if files else None


@pytest.mark.lab
def test_lab_run_report_in_chromium(tmp_path: Path):
    results = latest_lab_results()
    if results is None:
        pytest.skip("no results/*.jsonl yet: run the compliance suites against the lab first (make test)")
    chromium_or_skip()
    out = REPO_ROOT / "reports" / "lab"
    proc = render([results], out)
    assert (out / "report.json").is_file(), proc.stdout + proc.stderr  # 2 may mean no conclusion, never bad input
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert proc.returncode == data["overall"]["exit_code"], proc.stdout + proc.stderr
    with Browser(width=1280, height=900) as browser:
        browser.open(out / "report.html")
        browser.screenshot(SCREENSHOTS / "lab-run.png")
        assert data["overall"]["zh"] in browser.visible_text("#overall")
        if data["overall"]["verdict"] == "inconclusive":  # the cells without evidence are named
            missing = data["overall"]["conclusion"]["missing_evidence"]
            assert not missing or missing[0]["control"] in browser.visible_text("#missing-evidence")
        elif data["overall"]["failing_controls"]:
            assert proc.returncode == 1
        for control_id in data["overall"]["failing_controls"][:3]:
            control = next(c for c in data["controls"] if c["id"] == control_id)
            cell = next(c for c in control["cells"] if c["failing"])
            text = browser.visible_text(f"#c-{control_id}")
            assert cell["asset"] in text
            failing_checks = [ch for ch in cell["checks"] if ch["outcome"] in ("fail", "error")]
            if failing_checks:
                assert failing_checks[0]["check"] in text
