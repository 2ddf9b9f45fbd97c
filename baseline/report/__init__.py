"""Compliance reports for assessors and CI: verdicts (pure rules), then HTML, XLSX, JSON and JUnit writers.

    report = build.build(results, catalog, assets, waivers, as_of=..., generated=..., platform=..., level=...)
    paths = write_all(report, out_dir, lang="zh")
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from baseline.report.build import Report

OUTPUTS = {"html": "report.html", "xlsx": "report.xlsx", "json": "report.json", "junit": "junit.xml"}
# Written in a child process while the parent writes the rest: the XLSX takes as long as the others together.
SEPARATE = ("xlsx",)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Reading and judging a large estate allocates hundreds of thousands of objects that all stay alive; the
    cyclic garbage collector would scan them over and over for nothing. Paused here, resumed on leaving."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _writers(report: Report, lang: str) -> dict[str, Callable[[Path], Path]]:
    from baseline.report import html, json_report, junit, xlsx

    return {
        "html": lambda p: html.write(report, p, lang),
        "xlsx": lambda p: xlsx.write(report, p, lang),
        "json": lambda p: json_report.write(report, p),
        "junit": lambda p: junit.write(report, p),
    }


def write_all(report: Report, out_dir: str | os.PathLike, lang: str = "zh",
              formats: tuple[str, ...] = tuple(OUTPUTS), parallel: bool | None = None) -> dict[str, Path]:
    """Write the chosen outputs into `out_dir`; return their paths by format.

    With `parallel` (default: when the machine has more than one CPU and can fork), the XLSX is written by a
    forked child process at the same time as the other outputs; the report is shared by fork, not copied.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writers = _writers(report, lang)
    paths = {fmt: out / OUTPUTS[fmt] for fmt in formats}
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()
    gc.freeze()  # the report lives until the end: not rescanned while writing, and shared with the child as is
    try:
        return _write(formats, writers, paths, parallel)
    finally:
        gc.unfreeze()


def _write(formats: tuple[str, ...], writers: dict[str, Callable[[Path], Path]], paths: dict[str, Path],
           parallel: bool) -> dict[str, Path]:
    children = []
    if parallel and len(formats) > 1:
        context = multiprocessing.get_context("fork")
        for fmt in (f for f in formats if f in SEPARATE):
            child = context.Process(target=writers[fmt], args=(paths[fmt],), name=f"report-{fmt}")
            child.start()
            children.append((fmt, child))
    started = {fmt for fmt, _ in children}
    for fmt in formats:
        if fmt not in started:
            writers[fmt](paths[fmt])
    for fmt, child in children:
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"writing the {fmt} report to {paths[fmt]} failed (exit code {child.exitcode})")
    return paths
