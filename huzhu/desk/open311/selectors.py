"""Reads of the Open311 endpoints: the public catalogue (services) and public tickets
(service requests). Only public matter types are ever shown; duplicates never."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import OuterRef, QuerySet, Subquery

from huzhu.desk.key_services import KEY_ORG_KINDS
from huzhu.desk.models import (
    MatterType,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.desk.selectors import PRIVATE_NOTE_VERBS, public_tickets
from huzhu.orgs.models import Org

MAX_REQUESTS = 1000
DEFAULT_DAYS = 90
OPEN = "open"
CLOSED = "closed"


def jurisdiction_get(code: str) -> Org | None:
    """The active city, district, street or community with this division code."""
    code = (code or "").strip()
    if not code:
        return None
    return Org.objects.filter(division_code=code, kind__in=KEY_ORG_KINDS, is_active=True).first()


def service_list(*, jurisdiction: Org | None = None) -> QuerySet[MatterType]:
    """Public, active matter types; under a jurisdiction, its catalogue (the shared types
    and those of the org and the orgs above it)."""
    types = (
        MatterType.objects.all()
        if jurisdiction is None
        else MatterType.objects.for_community(jurisdiction)
    )
    return types.filter(is_public=True, is_active=True).order_by("sort_order", "id")


def service_get(*, code: str, jurisdiction: Org | None = None) -> MatterType | None:
    return service_list(jurisdiction=jurisdiction).filter(code=code).first()


@dataclass
class RequestFilter:
    """The query of GET requests. ``ids`` (ticket numbers) overrides every other filter."""

    ids: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    jurisdiction: Org | None = None


def _annotated(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Tickets with their last public note (status_notes) and first public photo id, in
    the same query."""
    notes = (
        TicketEvent.objects.filter(ticket=OuterRef("pk"), is_public=True)
        .exclude(verb__in=("create", *PRIVATE_NOTE_VERBS))
        .order_by("-created_at", "-id")
        .values("note")[:1]
    )
    photos = (
        TicketPhoto.objects.filter(ticket=OuterRef("pk"), is_public=True)
        .order_by("created_at", "id")
        .values("pk")[:1]
    )
    return tickets.annotate(public_note=Subquery(notes), public_photo_id=Subquery(photos))


def request_list(*, query: RequestFilter, now: dt.datetime) -> list[Ticket]:
    """Public service requests, newest first, at most ``MAX_REQUESTS``. Without ids or
    dates, the last ``DEFAULT_DAYS`` days."""
    tickets = public_tickets(org=query.jurisdiction)
    if query.ids:
        tickets = tickets.filter(number__in=query.ids)
    else:
        end = query.end or (
            query.start + dt.timedelta(days=DEFAULT_DAYS) if query.start is not None else now
        )
        start = query.start or end - dt.timedelta(days=DEFAULT_DAYS)
        tickets = tickets.filter(created_at__gte=start, created_at__lte=end)
        if query.codes:
            tickets = tickets.filter(matter_type__code__in=query.codes)
        wanted = set(query.statuses)
        if wanted == {OPEN}:
            tickets = tickets.exclude(status=TicketStatus.CLOSED)
        elif wanted == {CLOSED}:
            tickets = tickets.filter(status=TicketStatus.CLOSED)
    return list(_annotated(tickets).order_by("-created_at", "-id")[:MAX_REQUESTS])


def request_get(*, number: str) -> Ticket | None:
    return _annotated(public_tickets()).filter(number=number).first()


def token_lookup(*, token: str) -> Ticket | None:
    """The request a POST's token stands for (public matter types only)."""
    if not token:
        return None
    return Ticket.objects.filter(token=token, matter_type__is_public=True).only("number").first()
