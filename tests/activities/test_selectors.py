"""Reads: what a volunteer may browse and open, their hours, and what organisers see."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.activities import selectors
from huzhu.activities.models import Activity
from huzhu.activities.record_services import RecordInput, record_declare, record_enter
from huzhu.activities.services import (
    activity_set_status,
    shift_cancel,
    signup_create,
    signup_withdraw,
)
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import Volunteer
from tests.activities.factories import (
    SYSTEM,
    category,
    first_shift,
    local_at,
    make_activity,
    make_service_team,
    make_volunteer,
    team_join,
)
from tests.factories import UserFactory, grant

pytestmark = pytest.mark.django_db


def titles(qs) -> list[str]:
    return [a.title for a in qs]


def tomorrow(hour: int = 9) -> dt.datetime:
    return local_at(timezone.localdate() + dt.timedelta(days=1), hour)


# --- browsing -------------------------------------------------------------------------------


def test_activities_open_by_status_and_upcoming_shifts(city):
    volunteer = make_volunteer(city.grid_a)
    make_activity(city.community_a, title="招募中", start=tomorrow(8))
    running = make_activity(city.community_b, title="进行中", start=tomorrow(9))
    activity_set_status(actor=None, scope=SYSTEM, activity=running, status="running")
    make_activity(city.community_a, title="未发布", publish=False)
    closed = make_activity(city.community_a, title="已结项")
    activity_set_status(actor=None, scope=SYSTEM, activity=closed, status="closed")
    cancelled = make_activity(city.community_a, title="已取消")
    activity_set_status(
        actor=None, scope=SYSTEM, activity=cancelled, status="cancelled", reason="下雨"
    )
    past = local_at(timezone.localdate() - dt.timedelta(days=3), 9)
    make_activity(city.community_a, title="已过去", start=past)
    only_cancelled = make_activity(city.community_a, title="班次已取消", shifts=2)
    for shift in only_cancelled.shifts.all():
        shift_cancel(actor=None, scope=SYSTEM, shift=shift, reason="场地不可用")
    assert titles(selectors.activities_open(volunteer=volunteer)) == ["招募中", "进行中"]


def test_next_start_skips_past_and_cancelled_shifts(city):
    volunteer = make_volunteer(city.grid_a)
    past = local_at(timezone.localdate() - dt.timedelta(days=2), 9)
    activity = make_activity(city.community_a, shifts=5, start=past)
    shifts = list(activity.shifts.order_by("starts_at"))
    shift_cancel(actor=None, scope=SYSTEM, shift=shifts[3], reason="场地不可用")  # tomorrow
    now = timezone.now()
    # Today's shift may or may not have started yet; the day after tomorrow's has not.
    expected = shifts[2] if shifts[2].starts_at > now else shifts[4]
    found = selectors.activities_open(volunteer=volunteer).get()
    assert found.next_start == expected.starts_at


def test_activities_open_by_recruitment(city):
    team = make_service_team(city.community_a)
    other_team = make_service_team(city.community_a, "甲社区环保服务队")
    corps = team.parent
    member = make_volunteer(city.grid_a, "队员")
    team_join(team, member)
    outsider = make_volunteer(city.grid_a, "路人")
    hour = iter(range(6, 20))
    for org, title, recruitment in (
        (city.community_a, "公开活动", "open"),
        (city.community_b, "邀请码活动", "code"),
        (team, "本队活动", "team"),
        (corps, "总队活动", "team"),
        (city.community_a, "社区队员活动", "team"),
        (other_team, "别队活动", "team"),
        (city.community_b, "乙社区队员活动", "team"),
    ):
        make_activity(
            org,
            title=title,
            recruitment=recruitment,
            invite_code="ABC123" if recruitment == "code" else "",
            start=tomorrow(next(hour)),
        )
    # the volunteer's own community first (each soonest first), then community B's
    assert titles(selectors.activities_open(volunteer=member)) == [
        "公开活动",
        "本队活动",
        "总队活动",
        "社区队员活动",
        "邀请码活动",
    ]
    assert titles(selectors.activities_open(volunteer=outsider)) == ["公开活动", "邀请码活动"]


def test_activities_open_filters(city):
    volunteer = make_volunteer(city.grid_a)
    make_activity(city.community_a, title="助老理发", start=tomorrow(8))
    sorting = make_activity(
        city.community_a,
        title="垃圾分类宣传",
        start=local_at(timezone.localdate() + dt.timedelta(days=10), 9),
        description="入户讲解垃圾分类",
    )
    Activity.objects.filter(pk=sorting.pk).update(category=category("环境保护"))
    open_ = selectors.activities_open
    assert titles(open_(volunteer=volunteer, search="理发")) == ["助老理发"]
    assert titles(open_(volunteer=volunteer, search="入户")) == ["垃圾分类宣传"]
    assert titles(open_(volunteer=volunteer, search="活动室")) == ["助老理发", "垃圾分类宣传"]
    env = category("环境保护").pk
    assert titles(open_(volunteer=volunteer, category_id=env)) == ["垃圾分类宣传"]
    later = timezone.localdate() + dt.timedelta(days=5)
    assert titles(open_(volunteer=volunteer, day_from=later)) == ["垃圾分类宣传"]


def test_activities_open_query_count_does_not_grow(city):
    volunteer = make_volunteer(city.grid_a)
    team_join(make_service_team(city.community_a), volunteer)

    def run() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            rows = list(selectors.activities_open(volunteer=volunteer))
            shown = [(a.org.name, a.category.name, a.next_start) for a in rows]
        return len(shown), len(ctx.captured_queries)

    make_activity(city.community_a, title="活动1", start=tomorrow(8))
    few, queries = run()
    for n in range(2, 8):
        make_activity(city.community_b, title=f"活动{n}", start=tomorrow(8 + n))
    many, more_queries = run()
    assert (few, many) == (1, 7)
    assert queries == more_queries == 2


# --- opening one activity ---------------------------------------------------------------------


def test_team_only_activity_is_missing_for_a_non_member_unless_signed_up(city):
    team = make_service_team(city.community_a)
    activity = make_activity(team, title="本队活动", recruitment="team")
    member, outsider = make_volunteer(city.grid_a, "队员"), make_volunteer(city.grid_a, "路人")
    team_join(team, member)
    assert selectors.activity_get_for_volunteer(volunteer=member, activity_id=activity.pk)
    with pytest.raises(Http404):
        selectors.activity_get_for_volunteer(volunteer=outsider, activity_id=activity.pk)
    # The organiser signs them up: now they may see what they are signed up for.
    signup = signup_create(
        actor=None, volunteer=outsider, shift_id=first_shift(activity).pk, scope=SYSTEM
    )
    found = selectors.activity_get_for_volunteer(volunteer=outsider, activity_id=activity.pk)
    assert found.pk == activity.pk
    signup_withdraw(actor=None, signup=signup)
    # Even a withdrawn sign-up keeps their own history visible.
    assert selectors.activity_get_for_volunteer(volunteer=outsider, activity_id=activity.pk)


def test_unpublished_and_cancelled_activities(city):
    volunteer = make_volunteer(city.grid_a)
    draft = make_activity(city.community_a, title="未发布", publish=False)
    with pytest.raises(Http404):
        selectors.activity_get_for_volunteer(volunteer=volunteer, activity_id=draft.pk)
    with pytest.raises(Http404):
        selectors.activity_get_for_volunteer(volunteer=volunteer, activity_id=999_999)
    mine = make_activity(city.community_a, title="我报名的", start=tomorrow(14))
    signup_create(actor=None, volunteer=volunteer, shift_id=first_shift(mine).pk)
    activity_set_status(actor=None, scope=SYSTEM, activity=mine, status="cancelled", reason="雨")
    found = selectors.activity_get_for_volunteer(volunteer=volunteer, activity_id=mine.pk)
    assert found.status == "cancelled"


def test_activity_get_visible_for_both_audiences(city):
    activity = make_activity(city.community_a, publish=False)
    assert selectors.activity_get_visible(
        scope=Scope.for_user(city.worker_a), activity_id=activity.pk
    )
    with pytest.raises(Http404):
        selectors.activity_get_visible(scope=Scope.for_user(city.worker_b), activity_id=activity.pk)
    with pytest.raises(Http404):
        selectors.activity_get_visible(scope=Scope.anonymous(), activity_id=activity.pk)


# --- hours ------------------------------------------------------------------------------------


def _record(volunteer, served_on: dt.date, minutes: int, name: str, confirm: bool = True):
    data = RecordInput(
        served_on=served_on,
        minutes=minutes,
        content="服务",
        place="甲社区",
        category=category(name),
    )
    if confirm:
        return record_enter(
            actor=None,
            scope=SYSTEM,
            volunteer=volunteer,
            org=city_org(volunteer),
            data=data,
            confirm=True,
        )
    return record_declare(actor=None, volunteer=volunteer, org=city_org(volunteer), data=data)


def city_org(volunteer: Volunteer):
    return volunteer.org.parent


def test_my_hours_totals(city):
    volunteer = make_volunteer(city.grid_a)
    Volunteer.objects.filter(pk=volunteer.pk).update(historical_minutes=600)
    volunteer.refresh_from_db()
    today = timezone.localdate()
    last_year = dt.date(today.year - 1, 6, 1)
    _record(volunteer, today, 90, "社区服务")
    _record(volunteer, today, 30, "环境保护")
    _record(volunteer, last_year, 120, "社区服务")
    _record(volunteer, last_year - dt.timedelta(days=1), 45, "其他", confirm=False)
    hours = selectors.my_hours(volunteer=volunteer)
    assert (hours.total_minutes, hours.historical_minutes, hours.pending_minutes) == (240, 600, 45)
    assert (hours.total_hours, hours.service_hours, hours.historical_hours) == ("14", "4", "10")
    assert hours.pending_hours == "0.8"
    assert hours.by_year == [(today.year, "2"), (today.year - 1, "2")]
    assert hours.by_category == [("社区服务", "3.5"), ("环境保护", "0.5")]
    assert hours.by_year_category == {
        today.year: [("社区服务", "1.5"), ("环境保护", "0.5")],
        today.year - 1: [("社区服务", "2")],
    }


def test_my_hours_of_a_new_volunteer(city):
    hours = selectors.my_hours(volunteer=make_volunteer(city.grid_a))
    assert (hours.total_hours, hours.by_year, hours.by_category) == ("0", [], [])


# --- organisers -------------------------------------------------------------------------------


def test_shift_counts_and_board(city):
    shift = first_shift(make_activity(city.community_a, capacity=1))
    people = [make_volunteer(city.grid_a, f"王{n}") for n in range(3)]
    for person in people:
        signup_create(actor=None, volunteer=person, shift_id=shift.pk)
    signup_withdraw(actor=None, signup=people[2].signups.get())
    counts = selectors.shift_counts(shift=shift)
    assert (counts.confirmed, counts.waitlisted, counts.pending, counts.present) == (1, 1, 0, 0)
    with CaptureQueriesContext(connection) as few:
        board = [(s.volunteer.person.name, s.status) for s in selectors.shift_board(shift=shift)]
    assert board == [("王0", "confirmed"), ("王1", "waitlisted")]
    for n in range(3, 8):
        signup_create(
            actor=None, volunteer=make_volunteer(city.grid_a, f"王{n}"), shift_id=shift.pk
        )
    with CaptureQueriesContext(connection) as many:
        board = [(s.volunteer.person.name, s.status) for s in selectors.shift_board(shift=shift)]
    assert len(board) == 7
    assert len(few.captured_queries) == len(many.captured_queries) == 1


def test_pending_records_and_certificates_follow_the_scope(city):
    a = make_volunteer(city.grid_a, "王一")
    b = make_volunteer(city.grid_b, "王二")
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    mine = _record(a, yesterday, 60, "社区服务", confirm=False)
    _record(b, yesterday, 60, "社区服务", confirm=False)
    worker_a = Scope.for_user(city.worker_a)
    assert [r.pk for r in selectors.records_pending(scope=worker_a)] == [mine.pk]
    party = UserFactory(username="party")
    grant(party, city.community_a, Role.PARTY_WORKER)
    assert list(selectors.records_pending(scope=Scope.for_user(party))) == []
    with pytest.raises(Http404):
        selectors.record_get_managed(scope=Scope.for_user(city.worker_b), record_id=mine.pk)
