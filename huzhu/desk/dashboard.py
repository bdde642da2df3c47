"""What the home page shows about the service desk: the worker's and team's to-dos and the
resident's own matters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

from huzhu.desk.models import (
    OPEN_TICKET_STATUSES,
    Notice,
    NoticeStatus,
    Suggestion,
    SuggestionStatus,
    Ticket,
    TicketStatus,
)
from huzhu.desk.selectors import community_of
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person


@dataclass
class DeskTodo:
    to_accept: int | None = None  # None: the user does not manage the desk
    returned: int = 0
    to_follow_up: int = 0
    extensions: int = 0
    pending_notices: int = 0
    open_suggestions: int = 0
    team_to_acknowledge: int | None = None  # None: the user handles no team's tickets
    team_in_progress: int = 0
    overdue: int | None = None  # None: the user oversees nothing


def _team_condition(scope: Scope) -> Q:
    condition = Q(pk__in=[])
    for root in scope.roots(Perm.DESK_HANDLE):
        condition |= Q(team__path__startswith=root)
    return condition


def worker_todo(*, scope: Scope, today: dt.date | None = None) -> DeskTodo | None:
    """Counts for the worker's home: a handful of aggregate queries whatever the volume."""
    manages = scope.can(Perm.DESK_MANAGE)
    handles = scope.can(Perm.DESK_HANDLE)
    if not (manages or handles or scope.can(Perm.VIEW)):
        return None
    today = today or timezone.localdate()
    todo = DeskTodo()
    if manages:
        managed = Ticket.objects.within(scope, Perm.DESK_MANAGE)  # type: ignore[attr-defined]
        counts = managed.aggregate(
            to_accept=Count("pk", filter=Q(status=TicketStatus.REGISTERED)),
            returned=Count("pk", filter=Q(status=TicketStatus.RETURNED)),
            to_follow_up=Count("pk", filter=Q(status=TicketStatus.RESOLVED)),
            extensions=Count(
                "pk", filter=Q(status=TicketStatus.IN_PROGRESS, extension_requested_days__gt=0)
            ),
        )
        todo.to_accept = counts["to_accept"]
        todo.returned = counts["returned"]
        todo.to_follow_up = counts["to_follow_up"]
        todo.extensions = counts["extensions"]
        todo.pending_notices = (
            Notice.objects.within(scope, Perm.DESK_MANAGE)
            .filter(status=NoticeStatus.PENDING)
            .count()
        )
        todo.open_suggestions = (
            Suggestion.objects.within(scope, Perm.DESK_MANAGE)
            .filter(status=SuggestionStatus.RECEIVED)
            .count()
        )
    if handles:
        team = Ticket.objects.filter(_team_condition(scope)).aggregate(
            ack=Count("pk", filter=Q(status=TicketStatus.ASSIGNED)),
            doing=Count("pk", filter=Q(status=TicketStatus.IN_PROGRESS)),
        )
        todo.team_to_acknowledge = team["ack"]
        todo.team_in_progress = team["doing"]
    if scope.can(Perm.VIEW):
        todo.overdue = (
            Ticket.objects.within(scope)  # type: ignore[attr-defined]
            .filter(status__in=OPEN_TICKET_STATUSES, due_date__lt=today)
            .count()
        )
    return todo


@dataclass
class MyTickets:
    open: int
    to_rate: int
    community_id: int | None = None  # for the link to the community's public page


def person_tickets(*, scope: Scope) -> MyTickets | None:
    if scope.person_id is None:
        return None
    counts = Ticket.objects.filter(reporter_id=scope.person_id).aggregate(
        open=Count("pk", filter=Q(status__in=OPEN_TICKET_STATUSES)),
        to_rate=Count("pk", filter=Q(status=TicketStatus.RESOLVED)),
    )
    person = Person.objects.filter(pk=scope.person_id).select_related("org").first()
    community = community_of(person.org) if person is not None else None
    return MyTickets(
        open=counts["open"],
        to_rate=counts["to_rate"],
        community_id=community.pk if community and community.kind == OrgKind.COMMUNITY else None,
    )
