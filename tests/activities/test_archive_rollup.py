"""Confirmed service hours reach the volunteer's archive (by year and category) and the star
eligibility, and leave it again when corrected."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from huzhu.activities.record_services import (
    record_correct,
    records_confirm,
    shift_confirm,
)
from huzhu.activities.services import signup_create
from huzhu.orgs.scope import Scope
from huzhu.volunteers.archive_selectors import (
    ServiceMinutes,
    hours_rollup,
    service_minute_rows,
    star_eligible_list,
    star_summary,
    volunteer_archive,
)
from huzhu.volunteers.models import Volunteer
from tests.activities.factories import (
    SYSTEM,
    attend,
    enter_record,
    first_shift,
    local_at,
    make_activity,
    make_volunteer,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_thresholds(settings):
    settings.HUZHU_STAR_THRESHOLDS_HOURS = [1, 2, 3, 4, 5]


def fresh(volunteer: Volunteer) -> Volunteer:
    return Volunteer.objects.select_related("person", "org").get(pk=volunteer.pk)


def eligible(volunteer: Volunteer) -> int:
    return star_summary(
        volunteer=fresh(volunteer), applications=[], today=timezone.localdate()
    ).eligible_level


def served_shift(city, volunteer: Volunteer, minutes: int, days_ago: int = 2):
    """A shift in the past, attended for ``minutes`` from its start (not yet confirmed)."""
    start = local_at(timezone.localdate() - dt.timedelta(days=days_ago), 9)
    activity = make_activity(city.community_a, title=f"活动{days_ago}", start=start, hours=4)
    shift = first_shift(activity)
    signup_create(
        actor=None, volunteer=volunteer, shift_id=shift.pk, now=start - dt.timedelta(days=1)
    )
    attend(volunteer, shift, start, start + dt.timedelta(minutes=minutes))
    return shift


def entered(volunteer, served_on: dt.date, minutes: int, name: str, confirm: bool = True):
    return enter_record(
        volunteer,
        volunteer.org,
        served_on,
        minutes,
        content="服务",
        category_name=name,
        confirm=confirm,
    )


def test_confirmed_shift_hours_show_by_year_and_category(city):
    volunteer = make_volunteer(city.grid_a)
    shift = served_shift(city, volunteer, 90)
    assert hours_rollup(volunteer=fresh(volunteer)).service_minutes == 0
    shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    year = timezone.localtime(shift.starts_at).year
    assert service_minute_rows(volunteer=volunteer) == [
        ServiceMinutes(year=year, category="社区服务", minutes=90)
    ]
    rollup = hours_rollup(volunteer=fresh(volunteer))
    assert (rollup.by_year, rollup.by_category) == ([(year, 90)], [("社区服务", 90)])
    assert (rollup.service_minutes, rollup.total_minutes, rollup.total_hours) == (90, 90, "1.5")


def test_rollup_over_years_categories_and_history(city):
    volunteer = make_volunteer(city.grid_a)
    Volunteer.objects.filter(pk=volunteer.pk).update(historical_minutes=300)
    today = timezone.localdate()
    last_year = dt.date(today.year - 1, 3, 1)
    entered(volunteer, today, 60, "社区服务")
    entered(volunteer, today, 30, "环境保护")
    entered(volunteer, last_year, 120, "环境保护")
    entered(volunteer, last_year, 600, "其他", confirm=False)  # pending: not in the archive
    rollup = hours_rollup(volunteer=fresh(volunteer))
    assert rollup.by_year == [(today.year, 90), (today.year - 1, 120)]
    assert rollup.by_category == [("环境保护", 150), ("社区服务", 60)]
    assert rollup.years == [(today.year, "1.5"), (today.year - 1, "2")]
    assert rollup.categories == [("环境保护", "2.5"), ("社区服务", "1")]
    assert (rollup.service_minutes, rollup.historical_minutes) == (210, 300)
    assert (rollup.total_hours, rollup.historical_hours) == ("8.5", "5")
    assert fresh(volunteer).recorded_minutes == 510
    archive = volunteer_archive(
        scope=Scope.for_user(city.worker_a), volunteer_id=volunteer.pk, today=today
    )
    assert archive.hours.by_year == rollup.by_year
    assert archive.star.recorded_minutes == 510


def test_star_eligibility_follows_confirmed_hours(city):
    volunteer = make_volunteer(city.grid_a)
    shift = served_shift(city, volunteer, 105)
    assert eligible(volunteer) == 0
    shift_confirm(actor=None, scope=SYSTEM, shift=shift)  # 1.75 h: one star
    summary = star_summary(volunteer=fresh(volunteer), applications=[], today=timezone.localdate())
    assert (summary.eligible_level, summary.recorded_hours) == (1, "1.8")
    assert (summary.next_level, summary.next_threshold_minutes, summary.minutes_to_next) == (
        1,
        60,
        0,
    )
    assert summary.applicable_levels == [1]
    second = served_shift(city, volunteer, 75, days_ago=3)
    shift_confirm(actor=None, scope=SYSTEM, shift=second)  # 3 h: three stars
    assert eligible(volunteer) == 3
    assert star_summary(
        volunteer=fresh(volunteer), applications=[], today=timezone.localdate()
    ).applicable_levels == [1, 2, 3]


def test_star_eligibility_drops_when_a_record_is_corrected(city):
    volunteer = make_volunteer(city.grid_a)
    record = entered(volunteer, timezone.localdate(), 130, "社区服务")
    assert eligible(volunteer) == 2
    record_correct(actor=None, scope=SYSTEM, record=record, reason="多记了时长", minutes=110)
    assert eligible(volunteer) == 1
    assert hours_rollup(volunteer=fresh(volunteer)).by_category == [("社区服务", 110)]


def test_pending_hours_do_not_count_until_confirmed(city):
    volunteer = make_volunteer(city.grid_a)
    pending = entered(volunteer, timezone.localdate(), 180, "社区服务", confirm=False)
    assert (eligible(volunteer), hours_rollup(volunteer=fresh(volunteer)).by_year) == (0, [])
    records_confirm(actor=None, scope=SYSTEM, record_ids=[pending.pk])
    assert eligible(volunteer) == 3


def test_star_eligible_list_picks_up_the_new_hours(city):
    scope = Scope.for_user(city.worker_a)
    volunteer = make_volunteer(city.grid_a)
    assert volunteer.pk not in {v.pk for v in star_eligible_list(scope=scope)}
    shift_confirm(actor=None, scope=SYSTEM, shift=served_shift(city, volunteer, 120))
    found = {v.pk: v for v in star_eligible_list(scope=scope)}
    assert volunteer.pk in found
    assert (found[volunteer.pk].eligible_level, found[volunteer.pk].next_threshold) == (2, 60)
