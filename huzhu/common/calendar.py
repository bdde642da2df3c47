"""Working days on the mainland calendar (DOMAIN.md §3).

Holidays and make-up working days (调休) come from the ``chinesecalendar`` package, and for
years it does not know yet from ``WorkdayOverride`` rows an administrator enters when the
State Council publishes the schedule. Where neither knows a year, Monday–Friday are counted
and the result says so — a deadline is never refused for lack of a calendar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import chinese_calendar

from huzhu.common.models import WorkdayOverride


@dataclass
class WorkdayResult:
    day: dt.date
    guessed_years: set[int] = field(default_factory=set)

    @property
    def warning(self) -> str:
        if not self.guessed_years:
            return ""
        years = "、".join(str(y) for y in sorted(self.guessed_years))
        return f"{years}年的法定节假日安排尚未录入，已按周一至周五计算工作日"


class WorkdayCalendar:
    """Answers ``is_workday`` for any date; loads the overrides of the years it meets once."""

    def __init__(self) -> None:
        self._overrides: dict[int, dict[dt.date, bool]] = {}
        self.guessed_years: set[int] = set()

    def _year_overrides(self, year: int) -> dict[dt.date, bool]:
        if year not in self._overrides:
            rows = WorkdayOverride.objects.filter(date__year=year).values_list("date", "is_workday")
            self._overrides[year] = dict(rows)
        return self._overrides[year]

    def is_workday(self, day: dt.date) -> bool:
        overrides = self._year_overrides(day.year)
        if day in overrides:
            return overrides[day]
        try:
            return chinese_calendar.is_workday(day)
        except NotImplementedError:
            if not overrides:
                self.guessed_years.add(day.year)
            return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> WorkdayResult:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    calendar = WorkdayCalendar()
    day, remaining = start, days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if calendar.is_workday(day):
            remaining -= 1
    return WorkdayResult(day=day, guessed_years=calendar.guessed_years)


def count_working_days(start: dt.date, end: dt.date) -> tuple[int, set[int]]:
    """Working days after ``start`` up to and including ``end`` (0 when end ≤ start), and
    the years counted Monday–Friday for want of a calendar."""
    calendar = WorkdayCalendar()
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += calendar.is_workday(day)
    return count, calendar.guessed_years
