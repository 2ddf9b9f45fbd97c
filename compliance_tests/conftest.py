"""Compliance suites: testinfra over SSH against the inventory's hosts (the lab by default; set
BASELINE_INVENTORY and BASELINE_SSH_CONFIG for a real one). Every test carries @pytest.mark.control(...).

No conclusion without evidence: a run stops with exit status 2 and says why, before any connection, when the
inventory is missing, unreadable or empty, when `--hosts` names no inventory host, or when no check is left to
run. `--hosts` takes inventory host names, groups or patterns (comma separated); each suite then runs on those of
its own hosts, so `--hosts db1` runs the checks that apply to db1 and no others."""

import contextlib
import importlib.util
import os
from pathlib import Path

import pytest
import testinfra.host

from baseline import compliance, compliance_jobs, host_lock

if importlib.util.find_spec("baseline.compliance_plugin"):
    pytest_plugins = ["baseline.compliance_plugin"]

NO_RUN = "no compliance run"
SELECTION_KEY = pytest.StashKey[tuple[str, list[str]] | None]()
NO_HOSTS_KEY = pytest.StashKey[list[str]]()


def _stop(message: str) -> None:
    pytest.exit(f"{NO_RUN}: {message}", returncode=2)


SHARED_KEY = pytest.StashKey[compliance.SharedConnections]()


def pytest_addoption(parser):
    parser.getgroup("compliance").addoption(
        "--ssh-per-command", action="store_true", default=False,
        help="open a new SSH connection for every command (default: one shared connection per host for the run)")
    parser.getgroup("compliance").addoption(
        "--host-jobs", type=int, default=0, metavar="N",
        help="run the hosts side by side on N pytest processes, each host's checks in one of them, in order "
             "(baseline/compliance_jobs.py)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """--host-jobs N: this process starts the groups' processes instead of running checks itself."""
    jobs = config.option.host_jobs
    if jobs < 0:
        raise pytest.UsageError(f"--host-jobs {jobs}: give a number of processes of 1 or more")
    if jobs < 2 or os.environ.get(compliance_jobs.CHILD_ENV) or config.option.help or config.option.version \
            or config.option.collectonly:
        return None
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("--host-jobs and pytest-xdist's -n do not go together: give one of them")
    try:
        inv = compliance.check_inventory()
        wanted = set(compliance.select_hosts(inv, config.option.hosts)) if config.option.hosts else None
    except compliance.InventoryError as exc:
        print(f"{NO_RUN}: {exc}")
        return 2
    groups = inv.groups()
    hosts = [h for h in groups.get("linux_servers", []) if wanted is None or h in wanted]
    if not hosts:
        print(f"{NO_RUN}: no host of linux_servers in inventory {compliance.inventory.inventory_path()}"
              + (f" is named by --hosts {config.option.hosts}" if wanted is not None else ""))
        return 2
    from baseline.results import new_run_id

    run_id = config.option.run_id or os.environ.get("BASELINE_RUN_ID", "").strip() or new_run_id()
    results = Path(config.option.results_file or config.rootpath / "results" / f"{run_id}.jsonl")
    return compliance_jobs.run(config.invocation_params.args, hosts, jobs, groups=groups, run_id=run_id,
                               results=results, junit=config.option.xmlpath, cwd=config.invocation_params.dir)


def pytest_configure(config):
    if not getattr(config.option, "ssh_config", None):
        config.option.ssh_config = str(compliance.ssh_config_path())
    if config.option.help or config.option.version:
        return
    if getattr(config.option, "numprocesses", None) and not _read_only(config):
        _stop("a complete run (intrusive checks included) needs the checks of each host in one process, in order: "
              "pytest-xdist (-n) cannot keep them together under this pytest (its loadgroup has no effect), and one "
              "host's probes would overwrite another's; run it without -n, or with --read-only")
    if not config.option.ssh_per_command:
        shared = compliance.SharedConnections(Path(config.option.ssh_config))
        config.stash[SHARED_KEY] = shared
        config.option.ssh_config = str(shared.config)
    try:
        inv = compliance.check_inventory()
        spec = config.option.hosts
        config.stash[SELECTION_KEY] = (spec, compliance.select_hosts(inv, spec)) if spec else None
    except compliance.InventoryError as exc:
        _stop(str(exc))
    if config.option.hosts:
        config.option.hosts = None  # each suite keeps its own hosts (testinfra_hosts); the selection narrows them


def _read_only(config) -> bool:
    from baseline.compliance_plugin import read_only

    return read_only(config)


def _host_of(item):
    """The inventory name of the item's testinfra host; "" for a suite whose group has no host (an empty
    parameter set); None for an item without a testinfra host."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "_testinfra_host" not in callspec.params:
        return None
    host = callspec.params["_testinfra_host"]
    return compliance.asset_name(host) if isinstance(host, testinfra.host.Host) else ""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Leave out the checks of suites whose group has no host here (there is no asset to conclude on) and, with
    --hosts, the checks of the hosts not selected."""
    selection = config.stash.get(SELECTION_KEY, None)
    wanted = set(selection[1]) if selection else None
    kept, dropped, no_hosts = [], [], []
    for item in items:
        name = _host_of(item)
        if name == "":
            no_hosts.append(item.nodeid.split("::")[0])
            dropped.append(item)
        elif wanted is not None and name is not None and name not in wanted:
            dropped.append(item)
        else:
            kept.append(item)
    config.stash[NO_HOSTS_KEY] = sorted(set(no_hosts))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    # host by host (each host's checks in their order, the checks without a testinfra host last): a run holds one
    # host's lock at a time (baseline/host_lock.py), so two runs never wait on each other
    order = {id(item): n for n, item in enumerate(kept)}
    items[:] = sorted(kept, key=lambda item: (0, name, order[id(item)]) if (name := _host_of(item))
                      else (1, "", order[id(item)]))


# --- one verification at a time on a host (baseline/host_lock.py) ---------------------------------------------------

LOCKS_KEY = pytest.StashKey[dict]()


def _locking(config) -> bool:
    """Every complete run takes the hosts' locks; pytest-xdist runs (read-only) do not (their workers would wait on
    each other)."""
    return not getattr(config.option, "numprocesses", None) and getattr(config, "workerinput", None) is None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before the first check of a host: its lock (another run checking it: wait, saying for whom)."""
    name = _host_of(item)
    held = item.config.stash.setdefault(LOCKS_KEY, {})
    if not name or name in held or not _locking(item.config):
        return
    host = item.callspec.params["_testinfra_host"]
    recorder = item.config.pluginmanager.get_plugin("baseline-compliance-recorder")
    me = host_lock.owner(recorder.writer.run_id if recorder is not None else os.environ.get("BASELINE_RUN_ID", ""))

    def say(text: str) -> None:  # on the terminal, not into the check's captured output
        capture = item.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            item.config.get_terminal_writer().line(text, yellow=True)

    try:
        if host_lock.take(host, name, me, wait=host_lock.wait_seconds(), say=say):
            held[name] = (host, me)
    except (host_lock.HostBusy, ValueError) as exc:
        _stop(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the last check of a host (its fixtures' teardown done): the lock goes."""
    try:
        return (yield)
    finally:
        name = _host_of(item)
        held = item.config.stash.get(LOCKS_KEY, {})
        if name in held and (nextitem is None or _host_of(nextitem) != name):
            host_lock.let_go(*held.pop(name))


def _nothing_to_check(config) -> str:
    selection = config.stash.get(SELECTION_KEY, None)
    given = [f"inventory {compliance.inventory.inventory_path()}"]
    if selection:
        given.append(f"--hosts {selection[0]} ({', '.join(selection[1])})")
    if config.option.keyword:
        given.append(f"-k {config.option.keyword}")
    if config.option.markexpr:
        given.append(f"-m {config.option.markexpr}")
    groups = ", ".join(f"{g} ({len(h)} hosts)" for g, h in sorted(compliance.REQUESTED.items()))
    return f"no compliance check to run with {', '.join(given)}" + (f"; the suites' groups: {groups}" if groups else "")


def pytest_collection_finish(session):
    if getattr(session.config, "workerinput", None) is not None:
        return  # a pytest-xdist worker: the controller judges the whole run (pytest_sessionfinish)
    if not any(item.get_closest_marker("control") for item in session.items):
        _stop(_nothing_to_check(session.config))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and getattr(session.config, "workerinput", None) is None:
        session.config.get_terminal_writer().line(f"{NO_RUN}: {_nothing_to_check(session.config)}", red=True)
        session.exitstatus = 2


def pytest_report_collectionfinish(config, start_path, items):
    no_hosts = config.stash.get(NO_HOSTS_KEY, [])
    if no_hosts:
        return [f"left out, no host of their group in the inventory: {', '.join(no_hosts)}"]
    return []


def pytest_unconfigure(config):
    # a run that stopped early (Ctrl-C, an exit) lets go of the host locks it still holds, over its connections
    for host, me in config.stash.get(LOCKS_KEY, {}).values():
        host_lock.let_go(host, me)
    config.stash[LOCKS_KEY] = {}
    shared = config.stash.get(SHARED_KEY, None)
    if shared is not None:
        shared.close()


@pytest.fixture()
def policy(host):
    """Inventory variables of the host under test (policy values, platform values, roster)."""
    return compliance.host_vars(host)
