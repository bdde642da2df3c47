"""Reads of the desk: who may see which ticket, the catalogue a community uses, and the lists
workers, teams, residents and supervisors work from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy

from huzhu.desk.models import (
    OPEN_TICKET_STATUSES,
    Channel,
    MatterType,
    PatrolTeam,
    Ticket,
    TicketStatus,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

NOT_FOUND = gettext_lazy("工单不存在或无权查看。")
# Steps whose note holds what a resident wrote (a rating comment, a reason to withdraw) or a
# worker's note on closing: shown on the public timeline and in Open311 without their note.
PRIVATE_NOTE_VERBS = frozenset({"close", "reopen", "withdraw"})
# Channels only desk staff register (a visit, a call): the worker is not the reporter.
STAFF_CHANNELS = (Channel.WALK_IN, Channel.PHONE)


def community_of(org: Org) -> Org:
    """A grid's (or team's, corps') community; a community is its own."""
    if org.kind == OrgKind.COMMUNITY:
        return org
    for ancestor in Org.objects.ancestors_of(org).order_by("-depth"):
        if ancestor.kind == OrgKind.COMMUNITY:
            return ancestor
    return org


def person_id_of(user: Any) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    person = getattr(user, "person", None)
    return person.pk if person is not None else None


def ticket_base() -> QuerySet[Ticket]:
    return Ticket.objects.select_related(
        "org", "grid", "matter_type", "team", "receiver", "reporter", "duplicate_of"
    )


@dataclass(frozen=True)
class TicketAccess:
    """What one user is to one ticket."""

    ticket: Ticket
    is_reporter: bool = False
    is_receiver: bool = False  # 首问负责人
    is_manager: bool = False  # DESK_MANAGE over the ticket's community
    is_handler: bool = False  # DESK_HANDLE over the team it is assigned to
    can_view: bool = False  # VIEW over the community (oversight)

    @property
    def is_staff(self) -> bool:
        return self.is_manager or self.is_handler or self.can_view or self.is_receiver

    @property
    def may_manage(self) -> bool:
        """Accept, assign, follow up, link, decide extensions: the receiver or a manager."""
        return self.is_manager or (self.is_receiver and not self.ticket.is_closed)

    @property
    def sees_reporter(self) -> bool:
        return self.is_manager or self.is_receiver or self.is_reporter


def ticket_access(*, user: Any, scope: Scope, ticket_id: int) -> TicketAccess:
    """The ticket and what ``user`` is to it; 404 (the same for missing and not yours)."""
    ticket = ticket_base().filter(pk=ticket_id).first()
    if ticket is None:
        raise Http404(NOT_FOUND)
    access = access_for(user=user, scope=scope, ticket=ticket)
    if not (access.is_staff or access.is_reporter):
        raise Http404(NOT_FOUND)
    return access


def access_for(*, user: Any, scope: Scope, ticket: Ticket) -> TicketAccess:
    person_id = person_id_of(user)
    user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
    # Without a registered reporter the account that sent the matter is the reporter —
    # unless it is the worker who entered a visit or a call at the desk.
    is_reporter = (person_id is not None and ticket.reporter_id == person_id) or (
        user_id is not None
        and ticket.reporter_id is None
        and ticket.submitted_by_id == user_id
        and ticket.channel not in STAFF_CHANNELS
    )
    return TicketAccess(
        ticket=ticket,
        is_reporter=is_reporter,
        is_receiver=(
            user_id is not None and ticket.receiver_id == user_id and not ticket.is_closed
        ),
        is_manager=scope.can(Perm.DESK_MANAGE, ticket.org),
        is_handler=ticket.team is not None and scope.can(Perm.DESK_HANDLE, ticket.team),
        can_view=scope.can(Perm.VIEW, ticket.org),
    )


def matter_types_for(community: Org) -> QuerySet[MatterType]:
    return MatterType.objects.for_community(community).select_related("handling_team")


def patrol_team_for(grid: Org | None) -> Org | None:
    if grid is None:
        return None
    row = PatrolTeam.objects.filter(grid=grid).select_related("team").first()
    return row.team if row else None


def ticket_list(
    *,
    scope: Scope,
    user: Any = None,
    status: str = "",
    channel: str = "",
    matter_type_id: int | None = None,
    grid_id: int | None = None,
    overdue_on: dt.date | None = None,
    mine: bool = False,
    team_only: bool = False,
    query: str = "",
) -> QuerySet[Ticket]:
    """Tickets a worker may see (their scope), plus those they first received and those
    assigned to teams they handle. Filters narrow the list."""
    condition = scope.q("org__path", Perm.VIEW)
    handle_roots = scope.roots(Perm.DESK_HANDLE)
    for root in handle_roots:
        condition |= Q(team__path__startswith=root)
    user_id = getattr(user, "pk", None)
    if user_id is not None:
        # 首问负责: the first receiver follows the matter until it is closed.
        condition |= Q(receiver_id=user_id) & ~Q(status=TicketStatus.CLOSED)
    tickets = ticket_base().filter(condition)
    if status == "open":
        tickets = tickets.filter(status__in=OPEN_TICKET_STATUSES)
    elif status:
        tickets = tickets.filter(status=status)
    if channel:
        tickets = tickets.filter(channel=channel)
    if matter_type_id:
        tickets = tickets.filter(matter_type_id=matter_type_id)
    if grid_id:
        tickets = tickets.filter(grid_id=grid_id)
    if overdue_on is not None:
        tickets = tickets.filter(status__in=OPEN_TICKET_STATUSES, due_date__lt=overdue_on)
    if mine and user_id is not None:
        tickets = tickets.filter(receiver_id=user_id)
    if team_only:
        team_q = Q(pk__in=[])
        for root in handle_roots:
            team_q |= Q(team__path__startswith=root)
        tickets = tickets.filter(team_q)
    if query:
        tickets = tickets.filter(
            Q(number__icontains=query) | Q(title__icontains=query) | Q(address__icontains=query)
        )
    return tickets


def overdue_list(*, scope: Scope, today: dt.date) -> QuerySet[Ticket]:
    """Open tickets past their deadline within the scope, most escalated and oldest first."""
    return (
        ticket_base()
        .within(scope)
        .filter(status__in=OPEN_TICKET_STATUSES, due_date__lt=today)
        .order_by("-escalation_level", "due_date", "id")
    )


def my_tickets(*, user: Any) -> QuerySet[Ticket]:
    """A resident's own matters, newest first."""
    person_id = person_id_of(user)
    condition = Q(submitted_by_id=getattr(user, "pk", None), reporter__isnull=True) & ~Q(
        channel__in=STAFF_CHANNELS
    )
    if person_id is not None:
        condition |= Q(reporter_id=person_id)
    return ticket_base().filter(condition)


def public_tickets(*, org: Org | None = None) -> QuerySet[Ticket]:
    """Tickets the public may see: those of public matter types (civic reports), never
    duplicates. Under ``org`` when given."""
    tickets = ticket_base().filter(matter_type__is_public=True, duplicate_of__isnull=True)
    if org is not None:
        tickets = tickets.filter(org__path__startswith=org.path)
    return tickets


def similar_open_tickets(ticket: Ticket, limit: int = 5) -> list[Ticket]:
    """Open tickets of the same matter in the same grid (or community) from the last 30 days:
    candidates to link as the same facts."""
    since = ticket.created_at - dt.timedelta(days=30)
    candidates = ticket_base().filter(
        matter_type_id=ticket.matter_type_id,
        org_id=ticket.org_id,
        duplicate_of__isnull=True,
        created_at__gte=since,
    )
    if ticket.grid_id:
        candidates = candidates.filter(grid_id=ticket.grid_id)
    candidates = candidates.exclude(pk=ticket.pk).exclude(status=TicketStatus.CLOSED)
    return list(candidates.order_by("-created_at")[:limit])


def to_accept(*, scope: Scope) -> QuerySet[Ticket]:
    """Registered tickets waiting for a worker to accept them (受理)."""
    return ticket_base().filter(
        scope.q("org__path", Perm.DESK_MANAGE), status=TicketStatus.REGISTERED
    )


def to_follow_up(*, scope: Scope, user: Any) -> QuerySet[Ticket]:
    """Resolved tickets waiting for the follow-up (回访): the user's own, and all they manage."""
    return ticket_base().filter(
        Q(receiver_id=getattr(user, "pk", None)) | scope.q("org__path", Perm.DESK_MANAGE),
        status=TicketStatus.RESOLVED,
    )


def returned_to(*, user: Any) -> QuerySet[Ticket]:
    """Tickets a team sent back to the user as their first receiver."""
    return ticket_base().filter(receiver_id=getattr(user, "pk", None), status=TicketStatus.RETURNED)


def team_queue(*, scope: Scope, user: Any) -> QuerySet[Ticket]:
    """Tickets of the teams the user handles, assigned or in progress."""
    return ticket_list(scope=scope, user=user, team_only=True).filter(
        status__in=(TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS)
    )


def visitor_log(*, scope: Scope, start: dt.date, end: dt.date) -> QuerySet[Ticket]:
    """来访登记: the walk-in tickets registered from ``start`` to ``end``, in order."""
    return (
        ticket_base()
        .within(scope)
        .filter(channel=Channel.WALK_IN, created_at__date__gte=start, created_at__date__lte=end)
        .order_by("created_at", "id")
    )
