"""`scripts/lab up` builds a release's VM image beside its base image and offline repository
(devtools/lab/image.py, build_all), and an error of one side ends the build only once the other side has ended."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from devtools.lab import image
from devtools.lab.system import LabError


class Builds:
    """Stand-ins for the three builds: each records when it began and ended, and takes `seconds`."""

    def __init__(self, monkeypatch, seconds: float = 0.3, fail: str = "", vm_seconds: float | None = None):
        self.events: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()
        self.seconds = seconds
        self.vm_seconds = seconds if vm_seconds is None else vm_seconds
        self.fail = fail
        monkeypatch.setattr(image, "base_image", lambda release: self._build("base", release))
        monkeypatch.setattr(image, "offline_repo", lambda base, release: self._build("repo", release))
        monkeypatch.setattr(image, "vm_image", lambda release: self._build("vm", release))

    def _build(self, kind: str, release: str) -> image.Built:
        self._note(kind, release, "began")
        time.sleep(self.vm_seconds if kind == "vm" else self.seconds)
        self._note(kind, release, "ended")
        if self.fail == f"{kind}-{release}":
            raise LabError(f"{kind} of {release} failed")
        return image.Built(Path(f"/cache/{kind}-{release}"), self.seconds)

    def _note(self, kind: str, release: str, what: str) -> None:
        with self.lock:
            self.events.append((f"{kind}-{release}", what, time.monotonic()))

    def at(self, name: str, what: str) -> float:
        return next(t for n, w, t in self.events if n == name and w == what)

    def names(self) -> list[str]:
        return [n for n, w, _ in self.events if w == "began"]


def test_the_vm_image_builds_beside_the_base_image_and_the_repository(monkeypatch):
    builds = Builds(monkeypatch)
    start = time.monotonic()
    bases, repos, vms = image.build_all(["bookworm"], {"bookworm"})
    took = time.monotonic() - start
    assert (bases["bookworm"].path, repos["bookworm"].path, vms["bookworm"].path) == (
        Path("/cache/base-bookworm"), Path("/cache/repo-bookworm"), Path("/cache/vm-bookworm"))
    assert builds.at("vm-bookworm", "began") < builds.at("base-bookworm", "ended"), "the VM image waited for the base"
    assert builds.at("repo-bookworm", "began") >= builds.at("base-bookworm", "ended"), "the repository needs the base"
    assert took < 0.85, f"{took:.2f} s: the three builds of 0.3 s ran one after the other"


def test_no_vm_image_is_built_for_a_release_without_a_vm_host(monkeypatch):
    builds = Builds(monkeypatch, seconds=0.01)
    _, _, vms = image.build_all(["bookworm", "trixie"], {"trixie"})
    assert set(vms) == {"trixie"}
    assert sorted(builds.names()) == ["base-bookworm", "base-trixie", "repo-bookworm", "repo-trixie", "vm-trixie"]


def test_a_failed_vm_image_is_raised_after_the_base_images_are_built(monkeypatch):
    builds = Builds(monkeypatch, seconds=0.05, fail="vm-bookworm")
    with pytest.raises(LabError, match="vm of bookworm failed"):
        image.build_all(["bookworm"], {"bookworm"})
    assert builds.names().count("repo-bookworm") == 1
    assert builds.at("repo-bookworm", "ended") <= time.monotonic()


def test_a_failed_base_image_waits_for_the_vm_image_building_and_skips_the_next(monkeypatch):
    builds = Builds(monkeypatch, seconds=0.05, fail="base-bookworm", vm_seconds=0.4)
    with pytest.raises(LabError, match="base of bookworm failed"):
        image.build_all(["bookworm", "trixie"], {"bookworm", "trixie"})
    ended = [n for n, w, _ in builds.events if w == "ended"]
    assert "vm-bookworm" in ended, "the VM image building when the error came was left half-way"
    assert "vm-trixie" not in builds.names(), "a VM image not begun was still built after the error"
    assert "repo-bookworm" not in builds.names()
