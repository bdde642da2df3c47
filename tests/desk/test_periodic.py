"""分级督办 by ``huzhu runperiodic``: an open ticket past its deadline goes to the street on its
first overdue working day and to the district ``HUZHU_DESK_DISTRICT_AFTER_DAYS`` working
days later; each level once, whatever the number of runs; resolved and closed tickets never.
The street's and the district's workers, admins and supervisors hear of it exactly once."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from huzhu.common.models import Notification
from huzhu.desk.models import EscalationLevel, Ticket, TicketEvent, TicketStatus
from huzhu.desk.periodic import escalate
from huzhu.desk.services import tickets_escalate
from huzhu.orgs.roles import Role
from tests.desk.factories import patrol_team, report, run_to, team_leader
from tests.factories import UserFactory, grant
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

DUE = dt.date(2026, 9, 30)  # the eve of the National Day holidays (1–7 October)
FIRST_OVERDUE = dt.date(2026, 10, 8)
THIRD_OVERDUE = dt.date(2026, 10, 10)  # the make-up working Saturday


@pytest.fixture
def desk(city):
    city.team = patrol_team(city.community_a, city.grid_a)
    city.leader = team_leader(city.team, "patrol-a")
    city.resident = make_resident(city.grid_a, "李阿姨", username="li")
    for org, prefix in ((city.street, "street"), (city.district, "district")):
        for role in (Role.WORKER, Role.ADMIN, Role.SUPERVISOR, Role.PARTY_WORKER):
            grant(UserFactory(username=f"{prefix}-{role}"), org, role)
    grant(UserFactory(username="city-admin"), city.city, Role.ADMIN)
    return city


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Escalate on ``day``; (how many were raised, who was told, in order)."""

    def go(day: dt.date) -> tuple[int, list[str]]:
        seen = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        with django_capture_on_commit_callbacks(execute=True):
            raised = tickets_escalate(today=day)
        told = Notification.objects.filter(pk__gt=seen, kind="desk.ticket.escalate")
        return raised, list(told.order_by("pk").values_list("user__username", flat=True))

    return go


def overdue_ticket(desk: Any, status: str = TicketStatus.IN_PROGRESS, due: dt.date = DUE) -> Ticket:
    ticket = run_to(
        report(desk.resident.user, desk.grid_a), status, worker=desk.worker_a, handler=desk.leader
    )
    Ticket.objects.filter(pk=ticket.pk).update(due_date=due)
    return ticket


STREET = ["street-worker", "street-admin", "street-supervisor"]
DISTRICT = ["district-worker", "district-admin", "district-supervisor"]
HANDLERS = ["worker-a", "patrol-a"]


def test_street_first_then_district_each_once(desk, run):
    ticket = overdue_ticket(desk)
    assert run(DUE) == (0, [])
    assert run(dt.date(2026, 10, 7)) == (0, [])  # overdue by calendar days, not working days
    assert run(FIRST_OVERDUE) == (1, [*STREET, *HANDLERS])
    ticket.refresh_from_db()
    assert ticket.escalation_level == EscalationLevel.STREET
    assert ticket.escalated_at is not None
    event = TicketEvent.objects.filter(ticket=ticket, verb="escalate").get()
    assert (event.note, event.actor, event.actor_label, event.is_public) == (
        "逾期 1 个工作日，街道督办",
        None,
        "系统",
        False,
    )
    assert run(FIRST_OVERDUE) == (0, [])  # the same day again
    assert run(dt.date(2026, 10, 9)) == (0, [])  # 2 working days: still the street's
    assert run(THIRD_OVERDUE) == (1, [*DISTRICT, *HANDLERS])
    ticket.refresh_from_db()
    assert ticket.escalation_level == EscalationLevel.DISTRICT
    assert run(dt.date(2026, 10, 12)) == (0, [])
    assert list(
        TicketEvent.objects.filter(ticket=ticket, verb="escalate").values_list("note", flat=True)
    ) == ["逾期 1 个工作日，街道督办", "逾期 3 个工作日，区级督办"]
    titles = Notification.objects.filter(user__username="street-admin").values_list(
        "title", flat=True
    )
    assert list(titles) == ["街道督办：3号楼单元门口贴满小广告 已逾期"]


def test_a_ticket_found_late_tells_both_levels_once(desk, run):
    overdue_ticket(desk)
    assert run(dt.date(2026, 10, 14)) == (1, [*STREET, *DISTRICT, *HANDLERS])
    assert run(dt.date(2026, 10, 15)) == (0, [])


def test_resolved_and_closed_tickets_never_escalate(desk, run):
    resolved = overdue_ticket(desk, TicketStatus.RESOLVED)
    closed = overdue_ticket(desk, TicketStatus.CLOSED)
    accepted = overdue_ticket(desk, TicketStatus.ACCEPTED)
    assert run(dt.date(2026, 10, 14)) == (1, [*STREET, *DISTRICT, "worker-a"])
    levels = dict(Ticket.objects.values_list("pk", "escalation_level"))
    assert levels == {
        resolved.pk: EscalationLevel.NONE,
        closed.pk: EscalationLevel.NONE,
        accepted.pk: EscalationLevel.DISTRICT,
    }


def test_runperiodic_escalates_idempotently(desk, django_capture_on_commit_callbacks):
    overdue_ticket(desk)
    overdue_ticket(desk)
    out = StringIO()
    args = ["runperiodic", "--only", "desk.escalate", "--date", FIRST_OVERDUE.isoformat()]
    with django_capture_on_commit_callbacks(execute=True):
        call_command(*args, stdout=out)
        call_command(*args, stdout=out)
    assert out.getvalue().splitlines() == [
        "desk.escalate: 工单督办：2 件升级",
        "desk.escalate: 工单督办：0 件升级",
    ]
    assert Notification.objects.filter(user__username="street-supervisor").count() == 2
    assert Notification.objects.filter(user__username__startswith="district-").count() == 0
    assert escalate(THIRD_OVERDUE) == "工单督办：2 件升级"


def test_the_job_is_listed(desk):
    out = StringIO()
    call_command("runperiodic", "--list", stdout=out)
    assert "desk.escalate" in out.getvalue().splitlines()
