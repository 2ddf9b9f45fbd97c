"""Helpers of the lab tests that drive the lab's hosts: ansible-playbook runs, their PLAY RECAP, SSH commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from baseline import REPO_ROOT
from devtools.lab import config

BIN = Path(shutil.which("ansible-playbook") or "ansible-playbook").parent
SSH = ["ssh", "-F", str(config.INVENTORY_DIR / "ssh_config")]
# processes started by run() that have not ended: what stop_running() ends
RUNNING: set[subprocess.Popen] = set()


def run(cmd: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`cmd` from the repository root, no input, output captured, never raises for its exit status (as
    subprocess.run(..., capture_output=True, text=True, check=False)); while it runs, stop_running() can end it."""
    with subprocess.Popen(list(cmd), cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        RUNNING.add(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            RUNNING.discard(proc)
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def stop_running(grace: float = 120) -> list[str]:
    """End what run() started and still runs (SIGTERM: ansible-playbook and `scripts/lab` stop as on Ctrl-C, each
    host left as its interrupted run leaves it; SIGKILL after `grace` seconds); the commands it ended."""
    procs = list(RUNNING)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    return [" ".join(map(str, proc.args[:3])) for proc in procs]


class Ahead:
    """Steps of a later test module's fixtures that start early, in a thread, beside the tests before it (the lab's
    conftest starts them: AHEAD_OF). step(i) waits for step i and returns its value or raises its error; a step
    after one that failed does not run. Before start(), the fixtures run their steps themselves."""

    STARTED: list[Ahead] = []  # noqa: RUF012 - every instance started in this process

    def __init__(self, *steps: Callable[[], Any], fixtures: Sequence[str] = ()):
        self.steps = steps
        self.fixtures = list(fixtures)  # the fixture each step serves, in order (value(), costs())
        self.values: list[Any] = []
        self.error: BaseException | None = None
        self.began: list[float] = []  # time.monotonic() when each step started
        self.thread: threading.Thread | None = None

    @property
    def started(self) -> bool:
        return self.thread is not None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._work, name="lab-ahead", daemon=True)
            Ahead.STARTED.append(self)
            self.thread.start()

    def _work(self) -> None:
        for step in self.steps:
            self.began.append(time.monotonic())
            try:
                self.values.append(step())
            except BaseException as exc:  # noqa: BLE001 - kept for the fixture that waits for it
                self.error = exc
                return

    def step(self, index: int) -> Any:
        assert self.thread is not None, "the steps were not started"
        while len(self.values) <= index and self.thread.is_alive():
            self.thread.join(1)
        if index < len(self.values):
            return self.values[index]
        if index == len(self.values) and self.error is not None:
            raise self.error
        raise AssertionError(f"not run: an earlier step failed ({self.error!r})")

    def value(self, fixture: str, work: Callable[[], Any]) -> Any:
        """The value of `fixture`'s step: from the thread when it started, else `work` run here."""
        return self.step(self.fixtures.index(fixture)) if self.started else work()

    def costs(self, costs: Mapping[str, float]) -> Mapping[str, float]:
        """LAB_FIXTURE_COSTS for a module's `costs`: a fixture whose step runs ahead costs what that step may still
        take (read anew by each test)."""
        return _AheadCosts(self, costs)

    def remaining(self, index: int, cost: float) -> float:
        """What step `index` may still take (its declared `cost` less the time it has run; 0 once it ended)."""
        if self.thread is None or index >= len(self.began):
            return cost
        if index < len(self.values) or not self.thread.is_alive():
            return 0.0
        return max(cost - (time.monotonic() - self.began[index]), 0.0)

    def stop(self) -> list[str]:
        """End the steps' running commands and wait for the thread; the commands it ended."""
        if self.thread is None or not self.thread.is_alive():
            return []
        ended = stop_running()
        self.thread.join()
        return ended


class _AheadCosts(Mapping):
    def __init__(self, ahead: Ahead, costs: Mapping[str, float]):
        self.ahead, self.costs = ahead, costs

    def __getitem__(self, name: str) -> float:
        cost = self.costs[name]
        fixtures = self.ahead.fixtures
        return self.ahead.remaining(fixtures.index(name), cost) if name in fixtures else cost

    def __iter__(self) -> Iterator[str]:
        return iter(self.costs)

    def __len__(self) -> int:
        return len(self.costs)


def playbook(*args: str, timeout: float = 900, strategy: str = "") -> subprocess.CompletedProcess:
    """`ansible-playbook ARGS...` from the repository root with its ansible.cfg (strategy: another than its own);
    output captured, never raises."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           **({"ANSIBLE_STRATEGY": strategy} if strategy else {})}
    return run([str(BIN / "ansible-playbook"), *args], env=env, timeout=timeout)


def kernel_hosts() -> set[str]:
    from baseline import inventory

    return set(inventory.load(str(config.INVENTORY_DIR / "hosts.yml")).hosts("kernel_hosts"))


def playbooks_beside(*args: str, timeout: float = 900) -> list[subprocess.CompletedProcess]:
    """`ansible-playbook ARGS...` whose `--limit` names container and VM hosts as two runs side by side (the VM
    hosts are software-emulated: in one run every task would wait for them), else as one run."""
    at = args.index("--limit") + 1
    hosts = args[at].split(",")
    vms = [h for h in hosts if h in kernel_hosts()]
    if not vms or len(vms) == len(hosts):
        return [playbook(*args, timeout=timeout)]
    parts = [",".join(h for h in hosts if h not in vms), ",".join(vms)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [pool.submit(playbook, *args[:at], part, *args[at + 1:], timeout=timeout) for part in parts]
        return [run.result() for run in runs]


def on(host: str, command: str, timeout: float = 300) -> str:
    """Run a command on a lab host as the automation account; fails the test when it exits non-zero."""
    proc = run([*SSH, host, command], timeout=timeout)
    assert proc.returncode == 0, f"{host}: {command}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP figures per host (the last recap wins when several playbooks ran)."""
    found = {}
    for host, fields in re.findall(r"^(\S+)\s+: (ok=.*)$", output, re.M):
        found[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", fields)}
    return found


def changed_tasks(output: str) -> list[str]:
    """`TASK name: changed: [host]` for every change in ansible-playbook output: what a second run should not do."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].rsplit("]", 1)[0]
        elif line.startswith("changed: "):
            found.append(f"{task}: {line}")
    return found
