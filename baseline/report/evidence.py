"""Age of evidence: a result older than the evidence window does not count in the report's verdicts.

The window defaults to the inspection interval of the policy (`inspection_interval_hours`, 第二十条(九)(十):
每日巡检): evidence older than one inspection interval means an inspection was missed, and what it showed then
says nothing about today. `scripts/report --max-age-days N` sets another window. The age is measured from the
report's reference instant: the end of the `--as-of` day when one is given, else the moment the report is made.

Pure functions; reading the policy values is the caller's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from baseline.policy import FLOORS_BY_NAME, check_value
from baseline.results import CheckResult

POLICY_VARIABLE = "inspection_interval_hours"


def parse_time(text: str) -> datetime | None:
    """A results record's time (ISO 8601; `Z` or an offset; no offset is taken as UTC), or None if unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (AttributeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in UTC: a report judged as of a day counts every result of that day."""
    return datetime.combine(day + timedelta(days=1), time.min, UTC) - timedelta(microseconds=1)


@dataclass(frozen=True)
class Window:
    """Results older than `max_age` at `reference` are stale."""

    max_age: timedelta
    reference: datetime
    source: str  # where the window comes from, for the report: the policy variable and article, or the option

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0):
            raise ValueError(f"the evidence window must be longer than zero, not {self.max_age}")
        if self.reference.tzinfo is None:
            raise ValueError("the evidence window's reference time needs a time zone")

    @property
    def cutoff(self) -> datetime:
        return self.reference - self.max_age

    @property
    def hours(self) -> float:
        return self.max_age.total_seconds() / 3600

    def at(self, reference: datetime) -> Window:
        """The same window measured from another instant (the trend judges each run as of its own time)."""
        return replace(self, reference=reference)

    def is_stale(self, result: CheckResult) -> bool:
        """Older than the window, or of unknown age (an unreadable time cannot show the evidence is current)."""
        moment = parse_time(result.time)
        return moment is None or moment < self.cutoff

    def describe(self) -> dict[str, Any]:
        return {"max_age_hours": self.hours, "reference": self.reference.isoformat(timespec="seconds"),
                "cutoff": self.cutoff.isoformat(timespec="seconds"), "source": self.source}


def split(results: Iterable[CheckResult], window: Window | None) -> tuple[list[CheckResult], list[CheckResult]]:
    """(current, stale) results; without a window every result is current."""
    current: list[CheckResult] = []
    stale: list[CheckResult] = []
    for r in results:
        (stale if window is not None and window.is_stale(r) else current).append(r)
    return current, stale


def policy_window(values: Mapping[str, Any], reference: datetime) -> Window:
    """The window of the policy: its inspection interval, refused when weaker than the policy floor."""
    if POLICY_VARIABLE not in values:
        raise ValueError(f"{POLICY_VARIABLE} is not set in the policy values; it sets how old evidence may be "
                         f"({FLOORS_BY_NAME[POLICY_VARIABLE].source}); or give --max-age-days")
    floor = FLOORS_BY_NAME[POLICY_VARIABLE]
    problem = check_value(floor, values[POLICY_VARIABLE])
    if problem:
        raise ValueError(problem)
    hours = int(values[POLICY_VARIABLE])
    return Window(timedelta(hours=hours), reference, f"{POLICY_VARIABLE} = {hours} ({floor.source})")


def days_window(days: int, reference: datetime) -> Window:
    """The window given on the command line (`--max-age-days N`)."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"--max-age-days must be a whole number of days, at least 1, not {days!r}")
    return Window(timedelta(days=days), reference, f"--max-age-days {days}")
