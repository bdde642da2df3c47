"""The desk's figures (``huzhu.desk.stats``): a year of community A's tickets built through the
services, with registration and closing times frozen afterwards, and exact numbers for every
breakdown and ratio; scope, period and org filters; a query count that does not grow."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.desk import stats
from huzhu.desk.models import Channel, Ticket
from huzhu.desk.services import (
    FollowUp,
    ticket_accept,
    ticket_acknowledge,
    ticket_answer,
    ticket_assign,
    ticket_follow_up,
    ticket_link,
    ticket_resolve,
    ticket_withdraw,
    tickets_escalate,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.desk.factories import access, patrol_team, report, team_leader
from tests.factories import City, UserFactory, grant, make_org
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

YEAR_2025 = stats.StatsFilters(date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 12, 31))


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A local (Asia/Shanghai) moment."""
    return timezone.make_aware(dt.datetime(year, month, day, hour, minute))


def frozen(ticket: Ticket, created: dt.datetime, closed: dt.datetime | None = None) -> Ticket:
    """Move a ticket's registration (and closing) time, as if it had happened then."""
    values: dict = {"created_at": created}
    if closed is not None:
        values["closed_at"] = closed
    Ticket.objects.filter(pk=ticket.pk).update(**values)
    ticket.refresh_from_db()
    return ticket


@dataclass
class Year:
    """Community A's 2025 (t1–t10), one ticket of B, and A's tickets just outside the year."""

    city: City
    grid_a2: Org
    leader: object
    leader2: object
    tickets: dict[str, Ticket]


def _run_to_resolved(city: City, leader: object, ticket: Ticket) -> Ticket:
    worker = city.worker_a
    ticket = ticket_accept(actor=worker, access=access(worker, ticket))
    ticket = ticket_assign(actor=worker, access=access(worker, ticket))
    ticket = ticket_acknowledge(actor=leader, access=access(leader, ticket))
    return ticket_resolve(actor=leader, access=access(leader, ticket), result="已处理")


def _rate(city: City, ticket: Ticket, rating: int, satisfied: bool = True) -> Ticket:
    worker = city.worker_a
    comment = "" if satisfied else "没处理干净"
    data = FollowUp(satisfied=satisfied, rating=rating, comment=comment, on_behalf=True)
    return ticket_follow_up(actor=worker, access=access(worker, ticket), data=data)


def build_year(city: City) -> Year:
    """The tickets every figure below is computed from (all via the services).

    ====  ========  ======================  ========  =========================  ==========
    t     grid      matter                  channel   what happened              registered
    ====  ========  ======================  ========  =========================  ==========
    t1    A1        乱贴小广告              mobile    closed on time, 5★, 4 h    01-06 09:00
    t2    A1        垃圾乱堆                phone     closed late, 3★, 48 h      01-31 23:30
    t3    —         政策咨询                walk_in   answered on the spot, 1 h  02-03 09:00
    t4    A1        乱贴小广告              web       linked to t1 (duplicate)   02-10 08:00
    t5    A1        楼道堆物                mobile    withdrawn by the resident  03-01 07:00
    t6    A2        宠物粪便                api       2★ sent back, then 4★, 36h 03-05 08:00
    t7    A1        垃圾乱堆                mobile    in progress, district      04-01 09:00
    t8    A2        乱倒污水                web       accepted, street level     04-15 09:00
    t9    A1        乱贴小广告              mobile    resolved, awaiting rating  05-20 09:00
    t10   A1        高空抛物                open311   registered                 06-30 23:45
    ====  ========  ======================  ========  =========================  ==========
    """
    worker = city.worker_a
    grid_a2 = make_org(OrgKind.GRID, "甲社区第二网格", city.community_a)
    leader = team_leader(patrol_team(city.community_a, city.grid_a), "patrol-a")
    leader2 = team_leader(patrol_team(city.community_a, grid_a2, "二网格巡查队"), "patrol-a2")
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    t: dict[str, Ticket] = {}

    t1 = _run_to_resolved(city, leader, report(worker, city.grid_a, channel=Channel.MOBILE))
    t["t1"] = frozen(_rate(city, t1, 5), at(2025, 1, 6), at(2025, 1, 6, 13))

    t2 = report(
        worker, city.grid_a, "civic-litter", "后巷垃圾成堆", Channel.PHONE, contact_name="刘先生"
    )
    t2 = ticket_accept(actor=worker, access=access(worker, t2))
    t2 = ticket_assign(actor=worker, access=access(worker, t2))
    t2 = ticket_acknowledge(actor=leader, access=access(leader, t2))
    Ticket.objects.filter(pk=t2.pk).update(due_date=dt.date(2025, 1, 2))  # resolved after it
    t2 = ticket_resolve(actor=leader, access=access(leader, t2), result="已清运")
    t["t2"] = frozen(_rate(city, t2, 3), at(2025, 1, 31, 23, 30), at(2025, 2, 2, 23, 30))

    t3 = report(worker, city.community_a, "consult-policy", "高龄津贴怎么申请", Channel.WALK_IN)
    t3 = ticket_answer(actor=worker, access=access(worker, t3), answer="带身份证和户口本到窗口")
    t["t3"] = frozen(t3, at(2025, 2, 3), at(2025, 2, 3, 10))

    t4 = report(worker, city.grid_a, description="单元门口又贴了小广告", channel=Channel.WEB)
    t4 = ticket_accept(actor=worker, access=access(worker, t4))
    t4 = ticket_link(actor=worker, access=access(worker, t4), original=t["t1"])
    t["t4"] = frozen(t4, at(2025, 2, 10, 8), at(2025, 3, 10))

    t5 = report(resident.user, city.grid_a, "civic-stairwell", "楼道堆满纸箱", Channel.MOBILE)
    t5 = ticket_withdraw(actor=resident.user, access=access(resident.user, t5))
    t["t5"] = frozen(t5, at(2025, 3, 1, 7), at(2025, 3, 20))

    t6 = _run_to_resolved(city, leader2, report(worker, grid_a2, "civic-pets", "草坪狗粪", "api"))
    t6 = _rate(city, t6, 2, satisfied=False)
    t6 = ticket_resolve(actor=leader2, access=access(leader2, t6), result="已再次清理")
    t["t6"] = frozen(_rate(city, t6, 4), at(2025, 3, 5, 8), at(2025, 3, 6, 20))

    t7 = report(worker, city.grid_a, "civic-litter", "背街小巷脏乱", Channel.MOBILE)
    t7 = ticket_accept(actor=worker, access=access(worker, t7))
    t7 = ticket_assign(actor=worker, access=access(worker, t7))
    t7 = ticket_acknowledge(actor=leader, access=access(leader, t7))
    t8 = report(worker, grid_a2, "civic-water", "有人往雨水井倒污水", Channel.WEB)
    t8 = ticket_accept(actor=worker, access=access(worker, t8))
    # 分级督办: t7 is long overdue (district), then t8 one working day (street).
    Ticket.objects.filter(pk=t7.pk).update(due_date=dt.date(2025, 1, 6))
    Ticket.objects.filter(pk=t8.pk).update(due_date=dt.date(2099, 1, 1))
    assert tickets_escalate(today=dt.date(2025, 3, 4)) == 1
    Ticket.objects.filter(pk=t8.pk).update(due_date=dt.date(2025, 3, 3))
    assert tickets_escalate(today=dt.date(2025, 3, 4)) == 1
    t["t7"] = frozen(t7, at(2025, 4, 1))
    t["t8"] = frozen(t8, at(2025, 4, 15))

    t9 = _run_to_resolved(city, leader, report(worker, city.grid_a, channel=Channel.MOBILE))
    t["t9"] = frozen(t9, at(2025, 5, 20))
    t10 = report(worker, city.grid_a, "civic-height", "楼上扔下花盆", Channel.OPEN311)
    t["t10"] = frozen(t10, at(2025, 6, 30, 23, 45))

    # Just outside 2025 in local time (both inside it in UTC), and community B's one ticket.
    old = report(worker, city.grid_a, "civic-height", "去年的事", Channel.MOBILE)
    t["old"] = frozen(old, at(2025, 1, 1, 0, 0) - dt.timedelta(minutes=30))
    new = report(worker, city.grid_a, "civic-height", "明年的事", Channel.MOBILE)
    t["new"] = frozen(new, at(2026, 1, 1, 0, 30))
    b = report(city.worker_b, city.grid_b, channel=Channel.MOBILE)
    t["b"] = frozen(b, at(2025, 6, 1))
    return Year(city=city, grid_a2=grid_a2, leader=leader, leader2=leader2, tickets=t)


@pytest.fixture
def year(city) -> Year:
    return build_year(city)


def figures(user, filters: stats.StatsFilters = YEAR_2025) -> stats.DeskStats:
    return stats.desk_stats(scope=Scope.for_user(user), filters=filters)


def counts(rows: list[stats.Row]) -> dict[str, int]:
    return {(f"{r.group}/{r.label}" if r.group else r.label): r.count for r in rows}


# --- the figures -------------------------------------------------------------------------------


def test_the_year_of_community_a(year):
    city = year.city
    f = figures(city.worker_a)
    assert (f.total, f.open, f.awaiting_follow_up, f.closed) == (10, 4, 1, 6)
    assert f.overdue == 2  # t7 and t8; t9 waits for the resident, t10 has no deadline yet
    # Handled closed: t1 4 h, t2 48 h, t3 1 h, t6 36 h (not the duplicate t4, not withdrawn t5).
    assert f.handled_closed == 4
    assert f.median_close_hours == 20.0
    # With a deadline: t1 on time, t2 late, t6 on time (t3 was answered before any deadline).
    assert (f.with_deadline, f.closed_on_time, f.on_time_share) == (3, 2, 0.6667)
    assert (f.escalated_street, f.escalated_district) == (1, 1)
    assert [(r.key, r.count) for r in f.by_escalation] == [("1", 1), ("2", 1)]
    # Ratings: t1 5, t2 3, t6 4 (its 2 was replaced when it was done again).
    assert (f.rated, f.average_rating, f.satisfied, f.satisfied_share) == (3, 4.0, 2, 0.6667)
    assert f.reopened == 1
    assert (f.on_time_percent, f.satisfied_percent) == (66.7, 66.7)
    assert f.scope_label == "甲社区" and f.org_id is None and f.org_name == ""


def test_breakdowns_by_category_channel_grid(year):
    f = figures(year.city.worker_a)
    assert counts(f.by_category) == {
        "乱贴小广告": 3,
        "垃圾乱堆、背街小巷脏乱": 2,
        "政策咨询": 1,
        "楼道堆物": 1,
        "宠物粪便污染绿地": 1,
        "乱倒污水": 1,
        "高空抛物": 1,
    }
    assert [r.count for r in f.by_category] == [3, 2, 1, 1, 1, 1, 1]  # most first
    assert f.by_category[0].key == str(year.tickets["t1"].matter_type_id)
    assert [(r.key, r.label, r.count) for r in f.by_channel][:1] == [("mobile", "手机", 4)]
    assert counts(f.by_channel) == {
        "手机": 4,
        "网上": 2,
        "来电": 1,
        "来访": 1,
        "接口": 1,
        "Open311": 1,
    }
    assert counts(f.by_grid) == {
        "甲社区/甲社区第一网格": 7,
        "甲社区/甲社区第二网格": 2,
        "甲社区/未划分网格": 1,
    }
    assert f.by_grid[0].key == str(year.city.grid_a.pk)
    assert f.by_grid[2].key == f"org-{year.city.community_a.pk}"


def test_months_are_local_and_every_month_of_the_period_is_there(year):
    f = figures(year.city.worker_a)
    # t2 (31 Jan 23:30) is January and t5 (1 Mar 07:00, still February in UTC) is March.
    assert [(r.key, r.count) for r in f.by_month] == [
        ("2025-01", 2),
        ("2025-02", 2),
        ("2025-03", 2),
        ("2025-04", 2),
        ("2025-05", 1),
        ("2025-06", 1),
        ("2025-07", 0),
        ("2025-08", 0),
        ("2025-09", 0),
        ("2025-10", 0),
        ("2025-11", 0),
        ("2025-12", 0),
    ]


def test_the_period_bounds_are_local_days(year):
    city = year.city
    december = stats.StatsFilters(dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    assert figures(city.worker_a, december).total == 1  # "old", 31 Dec 23:30 local
    new_year = stats.StatsFilters(dt.date(2026, 1, 1), dt.date(2026, 1, 1))
    assert figures(city.worker_a, new_year).total == 1  # "new", 1 Jan 00:30 local
    spring = stats.StatsFilters(dt.date(2025, 3, 1), dt.date(2025, 4, 30))
    f = figures(city.worker_a, spring)
    assert f.total == 4  # t5, t6, t7, t8
    assert [(r.key, r.count) for r in f.by_month] == [("2025-03", 2), ("2025-04", 2)]
    assert (f.handled_closed, f.median_close_hours) == (1, 36.0)
    assert (f.rated, f.average_rating, f.reopened) == (1, 4.0, 1)


def test_narrowed_to_a_grid_or_the_street(year):
    city = year.city
    grid = figures(
        city.worker_a, stats.StatsFilters(YEAR_2025.date_from, YEAR_2025.date_to, city.grid_a.pk)
    )
    assert grid.total == 7
    assert (grid.handled_closed, grid.median_close_hours) == (2, 26.0)  # t1 4 h, t2 48 h
    assert (grid.with_deadline, grid.closed_on_time, grid.on_time_share) == (2, 1, 0.5)
    assert counts(grid.by_grid) == {"甲社区/甲社区第一网格": 7}
    assert grid.scope_label == "甲社区第一网格" and grid.org_name == "甲社区第一网格"
    second = figures(
        city.worker_a, stats.StatsFilters(YEAR_2025.date_from, YEAR_2025.date_to, year.grid_a2.pk)
    )
    assert (second.total, second.median_close_hours, second.escalated_street) == (2, 36.0, 1)
    community = figures(
        city.worker_a,
        stats.StatsFilters(YEAR_2025.date_from, YEAR_2025.date_to, city.community_a.pk),
    )
    assert community.total == 10


def test_worker_b_sees_none_of_a(year):
    city = year.city
    f = figures(city.worker_b)
    assert (f.total, f.closed, f.overdue, f.rated) == (1, 0, 0, 0)
    assert counts(f.by_grid) == {"乙社区/乙社区第一网格": 1}
    assert f.scope_label == "乙社区"
    assert f.median_close_hours is None and f.on_time_share is None
    assert f.average_rating is None and f.satisfied_share is None
    with pytest.raises(Http404):
        figures(
            city.worker_b,
            stats.StatsFilters(YEAR_2025.date_from, YEAR_2025.date_to, city.grid_a.pk),
        )
    assert [o.name for o in stats.stats_orgs(scope=Scope.for_user(city.worker_b))] == [
        "乙社区",
        "乙社区第一网格",
    ]


def test_a_street_supervisor_sees_both_communities(year):
    city = year.city
    supervisor = UserFactory(username="street-supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)
    f = figures(supervisor)
    assert f.total == 11 and f.scope_label == "解放路街道"
    assert counts(f.by_grid)["乙社区/乙社区第一网格"] == 1
    narrowed = figures(
        supervisor, stats.StatsFilters(YEAR_2025.date_from, YEAR_2025.date_to, city.street.pk)
    )
    assert narrowed.total == 11 and narrowed.scope_label == "解放路街道"
    # A resident and a team leader see nothing (no VIEW over a community).
    assert figures(year.leader).total == 0
    assert figures(UserFactory(username="nobody")).scope_label == ""


def test_nothing_to_count(city):
    f = figures(city.worker_a)
    assert (f.total, f.open, f.closed, f.overdue, f.rated, f.reopened) == (0, 0, 0, 0, 0, 0)
    assert f.median_close_hours is None and f.on_time_share is None and f.average_rating is None
    assert f.by_category == [] and f.by_channel == [] and f.by_grid == []
    assert len(f.by_month) == 12 and {r.count for r in f.by_month} == {0}


def test_median_of_an_odd_number_is_the_middle_one(year):
    city = year.city
    # Drop t3 (1 h) from the period: 4 h, 36 h, 48 h remain → 36 h.
    Ticket.objects.filter(pk=year.tickets["t3"].pk).update(created_at=at(2024, 6, 1))
    assert figures(city.worker_a).median_close_hours == 36.0


def test_default_period_is_this_calendar_year(city):
    today = timezone.localdate()
    assert stats.default_period(dt.date(2025, 7, 9)) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    filters = stats.stats_filters()
    assert (filters.date_from, filters.date_to) == (
        dt.date(today.year, 1, 1),
        dt.date(today.year, 12, 31),
    )
    report(city.worker_a, city.grid_a)  # registered now
    f = stats.desk_stats(scope=Scope.for_user(city.worker_a), filters=filters)
    assert f.total == 1 and f.open == 1
    assert [r.count for r in f.by_month if r.key == f"{today:%Y-%m}"] == [1]


def test_filters_fill_a_missing_end_and_refuse_a_bad_period():
    assert stats.stats_filters(date_from=dt.date(2024, 6, 1)) == stats.StatsFilters(
        dt.date(2024, 6, 1), dt.date(2024, 12, 31)
    )
    assert stats.stats_filters(date_to=dt.date(2024, 3, 31), org_id=7) == stats.StatsFilters(
        dt.date(2024, 1, 1), dt.date(2024, 3, 31), 7
    )
    with pytest.raises(ValidationError) as reversed_period:
        stats.stats_filters(date_from=dt.date(2025, 5, 1), date_to=dt.date(2025, 4, 30))
    assert reversed_period.value.message_dict == {"date_to": ["结束日期不能早于开始日期。"]}
    with pytest.raises(ValidationError) as too_long:
        stats.stats_filters(date_from=dt.date(2010, 1, 1), date_to=dt.date(2025, 1, 1))
    assert too_long.value.message_dict == {"date_to": ["统计期间不能超过 5 年。"]}
    with pytest.raises(ValidationError) as far:
        stats.stats_filters(date_from=dt.date(1, 1, 1))
    assert list(far.value.message_dict) == ["date_from"]


def test_queries_do_not_grow_with_tickets(year, city):
    scope = Scope.for_user(city.worker_a)
    filters = stats.StatsFilters(YEAR_2025.date_from, YEAR_2025.date_to, city.community_a.pk)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            stats.desk_stats(scope=scope, filters=filters)
        return len(captured)

    before = queries()
    grid_3 = make_org(OrgKind.GRID, "甲社区第三网格", city.community_a)
    for n, (code, channel) in enumerate(
        [
            ("civic-fireworks", Channel.WEB),
            ("civic-stalls", Channel.API),
            ("help-difficulty", Channel.PHONE),
        ]
    ):
        ticket = report(city.worker_a, grid_3, code, f"新情况{n}", channel)
        ticket = ticket_answer(
            actor=city.worker_a, access=access(city.worker_a, ticket), answer="已答复"
        )
        frozen(ticket, at(2025, 8 + n, 3), at(2025, 8 + n, 3, 12))
    after = queries()
    assert figures(city.worker_a).total == 13
    assert after == before <= 8
