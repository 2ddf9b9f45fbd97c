"""Control IDs are threaded: every automated ID is applied by a task and verified by a test, and no tag or
marker names an ID the catalog does not know. Every automated ID also has a drift in the lab's drift table
(tests/lab/drifts.py) whose expected checks exist, or a stated reason why it cannot have one."""

import ast
import importlib.util
import shutil
import sys
import textwrap

import pytest
import yaml

from baseline import catalog, trace


def test_repository_threading_is_complete():
    cat = catalog.load()
    found = trace.collect()
    problems = found.unknown(cat) + found.missing(cat)
    assert problems == [], "\n".join(problems)


@pytest.fixture()
def tree(tmp_path, repo_root):
    shutil.copytree(repo_root / "catalog", tmp_path / "catalog")
    (tmp_path / "roles/demo/tasks").mkdir(parents=True)
    (tmp_path / "compliance_tests/linux").mkdir(parents=True)
    return tmp_path


def _write(path, text):
    path.write_text(textwrap.dedent(text), encoding="utf-8")


def test_unknown_id_in_a_task_tag_is_reported(tree):
    _write(tree / "roles/demo/tasks/main.yml", """
        - name: ZZ-99 | something
          ansible.builtin.debug: {msg: x}
          tags: [ZZ-99, IA-02]
    """)
    problems = trace.collect(tree).unknown(catalog.load())
    assert len(problems) == 1 and problems[0].startswith("ZZ-99") and "roles/demo/tasks/main.yml" in problems[0]


def test_unknown_id_in_a_test_marker_is_reported(tree):
    _write(tree / "compliance_tests/linux/test_x.py", """
        import pytest
        @pytest.mark.control("IA-02", "QQ-01")
        def test_x(host):
            pass
    """)
    problems = trace.collect(tree).unknown(catalog.load())
    assert len(problems) == 1 and problems[0].startswith("QQ-01") and "test_x.py:3" in problems[0]


def test_automated_control_without_task_or_test_is_reported(tree):
    cat = catalog.load()
    data = {cid: c for cid, c in cat.controls.items()}
    data["IA-02"] = catalog.Control(**{**data["IA-02"].__dict__, "status": "automated"})
    forced = catalog.Catalog(families=cat.families, controls=data)
    missing = trace.collect(tree).missing(forced)
    assert any(m.startswith("IA-02") and "task tag" in m for m in missing)
    assert any(m.startswith("IA-02") and "compliance test" in m for m in missing)
    _write(tree / "roles/demo/tasks/main.yml", "- name: IA-02 | x\n  ansible.builtin.debug: {msg: x}\n  tags: [IA-02]\n")
    _write(tree / "compliance_tests/linux/test_x.py",
           "import pytest\n@pytest.mark.control('IA-02')\ndef test_x(host):\n    pass\n")
    assert not [m for m in trace.collect(tree).missing(forced) if m.startswith("IA-02")]


def _drift_table(repo_root):
    """tests/lab/drifts.py (data only: it needs neither the lab nor its helpers)."""
    name = "lab_drift_table"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, repo_root / "tests/lab/drifts.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is made
        spec.loader.exec_module(module)
    return sys.modules[name]


def _compliance_checks(repo_root) -> dict[str, set[str]]:
    """`compliance_tests/<suite>/<file>::<test function>` -> control IDs of its @pytest.mark.control marker."""
    checks = {}
    for path in sorted(repo_root.glob("compliance_tests/**/test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            ids = {arg.value for call in node.decorator_list if isinstance(call, ast.Call)
                   and isinstance(call.func, ast.Attribute) and call.func.attr == "control"
                   for arg in call.args if isinstance(arg, ast.Constant)}
            checks[f"{path.relative_to(repo_root).as_posix()}::{node.name}"] = ids
    return checks


def _device_names(repo_root) -> set[str]:
    def walk(group: dict) -> set[str]:
        found = set((group or {}).get("hosts") or {})
        for child in ((group or {}).get("children") or {}).values():
            found |= walk(child)
        return found
    data = yaml.safe_load((repo_root / "inventory/lab/devices.yml").read_text(encoding="utf-8"))
    return set().union(*(walk(group) for group in data.values()))


def test_every_automated_control_has_a_drift_or_a_reason(repo_root):
    table = _drift_table(repo_root)
    wanted = {c.id for c in catalog.load().controls.values() if c.status in ("automated", "partial")}
    drifted = {d.control for d in table.DRIFTS}
    reasons = {cid for cid, why in table.NOT_DRIFTABLE.items() if why.strip()}
    uncovered = sorted(wanted - drifted - reasons)
    assert uncovered == [], f"automated or partial controls with neither a drift nor a reason: {uncovered}"
    stray = sorted((drifted | set(table.NOT_DRIFTABLE)) - wanted)
    assert stray == [], f"drifts or reasons for controls that are not automated or partial: {stray}"


def test_drifts_expect_checks_that_exist_and_verify_their_control(repo_root):
    from baseline.netdev import audit
    from devtools.lab import config

    table = _drift_table(repo_root)
    checks = _compliance_checks(repo_root)
    device_checks = {f"netdev.{c.name}": set(c.control_ids) for c in audit.CHECKS}
    servers = {h.name for h in config.ALL_HOSTS}
    kernel_only = {h.name for h in config.ALL_HOSTS if "kernel_hosts" in h.groups}
    devices = _device_names(repo_root)
    applied = trace.collect(repo_root).applied
    problems = []
    for drift in table.DRIFTS:
        label = f"{drift.control} on {drift.host}"
        known = device_checks if drift.on_device else checks
        missing = sorted(c for c in drift.expected if c not in known)
        if not drift.expected or missing:
            problems.append(f"{label}: expected checks that do not exist: {missing or 'none given'}")
            continue
        if not any(drift.control in known[c] for c in drift.expected):
            problems.append(f"{label}: none of its expected checks verifies {drift.control}")
        if drift.on_device:
            if drift.host not in devices or not all(isinstance(line, str) for line in drift.command):
                problems.append(f"{label}: not a device of inventory/lab/devices.yml, or lines that are not text")
            if drift.repair[-1] != "push":
                problems.append(f"{label}: devices are repaired by scripts/netdev push")
            continue
        if drift.host not in servers and not drift.on_controller:
            problems.append(f"{label}: not a lab host")
        if table.AIDE in drift.expected and (drift.host in kernel_only or drift.on_controller):
            problems.append(f"{label}: the integrity check does not run there")
        args = list(drift.repair)
        tags = args[args.index("--tags") + 1].split(",") if "--tags" in args else []
        books = [a for a in args if a.startswith("playbooks/")]
        if drift.control not in tags or any(t not in applied for t in tags):
            problems.append(f"{label}: repair tags {tags} must name the control and tags that tasks carry")
        if not books or any(not (repo_root / b).is_file() for b in books):
            problems.append(f"{label}: repair playbooks {books} do not exist")
    assert problems == [], "\n".join(problems)


def test_every_drift_is_in_exactly_one_batch_of_one_kind(repo_root):
    table = _drift_table(repo_root)
    batched = [d for batch in table.BATCHES for d in batch.drifts]
    assert sorted(map(id, batched)) == sorted(map(id, table.DRIFTS)), "each drift belongs to exactly one batch"
    for batch in table.BATCHES:
        assert len({d.on_device for d in batch.drifts}) == 1, f"{batch.name}: devices and hosts in one batch"
        assert batch.expected == frozenset().union(*(d.expected for d in batch.drifts))


def _check_markers(repo_root) -> dict[str, dict[str, list]]:
    """`compliance_tests/<suite>/<file>::<test function>` -> marker name -> the arguments of its markers."""
    checks: dict[str, dict[str, list]] = {}
    for path in sorted(repo_root.glob("compliance_tests/**/test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            markers: dict[str, list] = {}
            for call in node.decorator_list:
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
                    markers.setdefault(call.func.attr, []).append(
                        [arg.value if isinstance(arg, ast.Constant) else None for arg in call.args])
            checks[f"{path.relative_to(repo_root).as_posix()}::{node.name}"] = markers
    return checks


def test_every_compliance_check_says_how_it_verifies_and_probes_are_counted(repo_root):
    """Every compliance check carries @pytest.mark.method(kind), kind one of probe, state, config, record (a check
    that does several things takes the strongest), and every @pytest.mark.intrusive names what the check changes.

    Behaviour probes are counted against configuration reads, the device audit's checks included (they read the
    running configuration): probes must be at least as many as configuration reads; the goal is twice as many.
    Figures as they are now: 73 compliance checks, probe 31, state 35, config 5, record 2 (30 of them intrusive);
    8 device audit checks, config; probes 31 against configuration reads 13, 2.4 to 1."""
    from baseline.netdev import audit
    from baseline.results import METHODS

    checks = _check_markers(repo_root)
    problems = []
    methods: dict[str, str] = {}
    for name, markers in checks.items():
        given = markers.get("method", [])
        if len(given) != 1 or len(given[0]) != 1 or given[0][0] not in METHODS:
            problems.append(f"{name}: method marker {given or 'missing'}, wanted one of {', '.join(METHODS)}")
            continue
        methods[name] = given[0][0]
        for args in markers.get("intrusive", []):
            if len(args) != 1 or not isinstance(args[0], str) or len(args[0].split()) < 3:
                problems.append(f"{name}: intrusive marker {args} does not say what the check changes")
    assert problems == [], "\n".join(problems)
    counts = {m: sum(1 for v in methods.values() if v == m) for m in METHODS}
    device = {m: sum(1 for c in audit.CHECKS if c.method == m) for m in METHODS}
    probes = counts["probe"] + device["probe"]
    config = counts["config"] + device["config"]
    intrusive = sum(1 for markers in checks.values() if "intrusive" in markers)
    print(f"compliance checks {len(methods)}: " + ", ".join(f"{m} {n}" for m, n in counts.items())
          + f" ({intrusive} intrusive); device audit checks {len(audit.CHECKS)}: "
          + ", ".join(f"{m} {n}" for m, n in device.items() if n)
          + f"; probes {probes} : configuration reads {config}" + (f" = {probes / config:.1f} : 1" if config else ""))
    assert probes >= config, f"{probes} behaviour probes against {config} configuration reads (goal: twice as many)"


def test_intrusive_checks_of_the_probe_accounts_and_probe_objects_are_marked(repo_root):
    """Checks whose fixtures or SQL make something on the host are marked intrusive: the account fixtures, the
    database probe helpers, the test files; a new check that uses them without the marker would run in read-only
    production runs."""
    makers = ("account_files_restored", "probe_user", "admin_probe", "audit_admin_probe", "_try_password",
              "_create_probe", "CREATE TABLE {", "logger ", "EICAR", "systemd-run", "aide --config")
    unmarked = []
    for path in sorted(repo_root.glob("compliance_tests/**/test_*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            body = ast.get_source_segment(source, node) or ""
            marked = any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "intrusive"
                         for c in node.decorator_list)
            uses = [m for m in makers if m in body or m in [a.arg for a in node.args.args]]
            if uses and not marked:
                unmarked.append(f"{path.name}::{node.name} uses {uses}")
    assert unmarked == [], "\n".join(unmarked)
