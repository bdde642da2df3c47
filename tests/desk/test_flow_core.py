"""The whole path of one civic report and of one returned, overdue matter."""

import datetime as dt

import pytest
from django.utils import timezone

from huzhu.desk.models import Channel, EscalationLevel, TicketEvent, TicketStatus
from huzhu.desk.services import (
    FollowUp,
    ticket_accept,
    ticket_acknowledge,
    ticket_assign,
    ticket_follow_up,
    ticket_resolve,
    ticket_return,
    tickets_escalate,
)
from tests.desk.factories import access, patrol_team, report, team_leader
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db


def test_flyposting_report_runs_to_closed(city):
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    team = patrol_team(city.community_a, city.grid_a)
    leader = team_leader(team, "patrol-a")
    ticket = report(resident.user, city.grid_a)
    assert ticket.status == TicketStatus.REGISTERED
    assert ticket.org == city.community_a and ticket.grid == city.grid_a
    assert ticket.reporter == resident and ticket.number.startswith("GD")

    ticket = ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    assert ticket.receiver == city.worker_a and ticket.due_date is not None
    ticket = ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    assert ticket.team == team and ticket.status == TicketStatus.ASSIGNED
    ticket = ticket_acknowledge(actor=leader, access=access(leader, ticket))
    assert ticket.status == TicketStatus.IN_PROGRESS
    ticket = ticket_resolve(actor=leader, access=access(leader, ticket), result="已清理")
    assert ticket.status == TicketStatus.RESOLVED
    ticket = ticket_follow_up(
        actor=resident.user,
        access=access(resident.user, ticket),
        data=FollowUp(satisfied=True, rating=5, comment="很快"),
    )
    assert ticket.status == TicketStatus.CLOSED and ticket.closed_on_time is True
    verbs = list(TicketEvent.objects.filter(ticket=ticket).values_list("verb", flat=True))
    assert verbs == ["create", "accept", "assign", "acknowledge", "resolve", "close"]


def test_returned_then_overdue_escalates_street_then_district(city):
    team = patrol_team(city.community_a, city.grid_a)
    leader = team_leader(team, "patrol-a")
    ticket = report(
        city.worker_a,
        city.grid_a,
        channel=Channel.PHONE,
        contact_name="刘先生",
        contact_phone="13800138000",
    )
    ticket = ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket = ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket = ticket_return(actor=leader, access=access(leader, ticket), reason="不属于本网格")
    assert ticket.status == TicketStatus.RETURNED and ticket.return_count == 1
    ticket = ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket), team=team)
    ticket = ticket_acknowledge(actor=leader, access=access(leader, ticket))
    due = ticket.due_date
    assert tickets_escalate(today=due) == 0
    after = due + dt.timedelta(days=1)
    while after.weekday() >= 5:
        after += dt.timedelta(days=1)
    assert tickets_escalate(today=after) == 1
    ticket.refresh_from_db()
    assert ticket.escalation_level == EscalationLevel.STREET
    assert tickets_escalate(today=after) == 0
    assert tickets_escalate(today=after + dt.timedelta(days=14)) == 1
    ticket.refresh_from_db()
    assert ticket.escalation_level == EscalationLevel.DISTRICT
    assert ticket.contact_phone_masked == "138****8000"
    assert timezone.now()
