"""Working days on the mainland calendar (DOMAIN.md §3): chinesecalendar 1.11 for the years
it knows (up to 2026), WorkdayOverride rows for a year it does not, and Monday–Friday with a
warning where neither knows the year."""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import pytest

from huzhu.common.calendar import WorkdayCalendar, add_working_days, count_working_days
from huzhu.common.models import WorkdayOverride

D = dt.date


def test_the_package_version_and_its_2026_national_day():
    # chinesecalendar 1.11 (pinned): National Day and Mid-Autumn 2026 are separate holidays,
    # 1–7 October; the make-up working days are Sunday 20 September and Saturday 10 October.
    assert chinese_calendar.__version__ == "1.11.0"
    holiday = [D(2026, 10, day) for day in range(1, 8)]
    assert [chinese_calendar.get_holiday_detail(day) for day in holiday] == [
        (True, "National Day")
    ] * 7
    assert chinese_calendar.is_workday(D(2026, 10, 8))
    assert chinese_calendar.get_holiday_detail(D(2026, 10, 10)) == (False, "National Day")
    assert chinese_calendar.get_holiday_detail(D(2026, 9, 20)) == (False, "National Day")


@pytest.mark.django_db
def test_add_working_days_across_national_day_2026():
    # Wednesday 30 September: the next working day is Thursday 8 October.
    result = add_working_days(D(2026, 9, 30), 1)
    assert (result.day, result.guessed_years, result.warning) == (D(2026, 10, 8), set(), "")
    # Five working days from Monday 28 September: 29, 30 Sep; 8, 9, 10 (Saturday) Oct.
    assert add_working_days(D(2026, 9, 28), 5).day == D(2026, 10, 10)
    # From the first day of the holiday: 8, 9, 10, 12 October.
    assert add_working_days(D(2026, 10, 1), 4).day == D(2026, 10, 12)
    assert count_working_days(D(2026, 9, 30), D(2026, 10, 10)) == (3, set())
    assert count_working_days(D(2026, 10, 1), D(2026, 10, 7)) == (0, set())


@pytest.mark.django_db
def test_make_up_working_days_count():
    # Saturday 19 September is a rest day; Sunday 20 September is a make-up working day.
    assert add_working_days(D(2026, 9, 18), 1).day == D(2026, 9, 20)
    # Friday 9 October → Saturday 10 October (make-up), not Monday 12 October.
    assert add_working_days(D(2026, 10, 9), 1).day == D(2026, 10, 10)
    # Mid-Autumn: Friday 25 September is a holiday, so Thursday 24 → Monday 28.
    assert add_working_days(D(2026, 9, 24), 1).day == D(2026, 9, 28)
    assert add_working_days(D(2026, 9, 1), 0).day == D(2026, 9, 1)


@pytest.mark.django_db
def test_workday_overrides_cover_a_year_the_package_does_not_know():
    WorkdayOverride.objects.bulk_create(
        [
            WorkdayOverride(date=D(2027, 1, 1), is_workday=False, note="元旦"),
            *[
                WorkdayOverride(date=D(2027, 2, day), is_workday=False, note="春节")
                for day in range(5, 13)
            ],
            WorkdayOverride(date=D(2027, 2, 14), is_workday=True, note="春节调休上班"),
        ]
    )
    # Thursday 31 December 2026 (package) → Friday 1 January 2027 is a holiday (override)
    # → Monday 4 January; no guess, so no warning.
    result = add_working_days(D(2026, 12, 31), 1)
    assert (result.day, result.warning) == (D(2027, 1, 4), "")
    # Thursday 4 February → the Spring Festival 5–12 February → Sunday 14 (make-up).
    result = add_working_days(D(2027, 2, 4), 1)
    assert (result.day, result.guessed_years) == (D(2027, 2, 14), set())
    assert add_working_days(D(2027, 2, 4), 2).day == D(2027, 2, 15)
    # Days the admin did not enter fall back to Monday–Friday, silently for a known year.
    assert add_working_days(D(2027, 3, 5), 1).day == D(2027, 3, 8)
    assert count_working_days(D(2027, 2, 4), D(2027, 2, 15)) == (2, set())
    # An override also wins over the package.
    WorkdayOverride.objects.create(date=D(2026, 10, 8), is_workday=False, note="测试")
    assert WorkdayCalendar().is_workday(D(2026, 10, 8)) is False


@pytest.mark.django_db
def test_monday_to_friday_with_a_warning_where_no_calendar_knows_the_year():
    # Thursday 30 September 2027: no package data, no overrides → 1 Oct (Fri), 4, 5.
    result = add_working_days(D(2027, 9, 30), 3)
    assert result.day == D(2027, 10, 5)
    assert result.guessed_years == {2027}
    assert result.warning == "2027年的法定节假日安排尚未录入，已按周一至周五计算工作日"
    # Across two unknown years the warning names both.
    result = add_working_days(D(2027, 12, 30), 3)
    assert result.day == D(2028, 1, 4)
    assert result.warning == "2027、2028年的法定节假日安排尚未录入，已按周一至周五计算工作日"
    assert count_working_days(D(2027, 12, 30), D(2028, 1, 4)) == (3, {2027, 2028})
    # A known year needs no warning even when the deadline is near its end.
    assert add_working_days(D(2026, 12, 28), 3).warning == ""
