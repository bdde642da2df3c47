"""The worker's service desk (desktop): the 工作台 with today's to-dos, intake of walk-ins and
calls (登记) with the 一次性告知 read out from the catalogue, the ticket list, the overdue
board (督办) and the visitor log (来访登记).

Views parse input, call one selector or service, and render. Lists are scoped by the user's
roles (``selectors.ticket_list`` / ``overdue_list``) and keep a fixed number of queries
whatever the rows shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from huzhu.activities.manage_views import (
    refusal_on_form,
    render_form,
    request_scope,
    require_perm,
)
from huzhu.common.calendar import WorkdayCalendar
from huzhu.common.identity import mask_name
from huzhu.desk import selectors, services
from huzhu.desk.catalogue_services import visible_matter_types
from huzhu.desk.forms_tickets import (
    IntakeForm,
    ReporterSearchForm,
    TicketFilterForm,
    VisitorLogForm,
)
from huzhu.desk.models import Channel, Ticket
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.people.selectors import person_list
from huzhu.web.htmx import render_results

PAGE_SIZE = 20
OVERDUE_PAGE_SIZE = 50
VISITOR_PAGE_SIZE = 100
SHORT_LIST = 5
CANDIDATES_SHOWN = 10
RESULTS_TARGET = "ticket-results"
GET_POST = ["GET", "HEAD", "POST"]


# --- 工作台 ---------------------------------------------------------------------------------


@dataclass
class Section:
    """One block of the desk: a count, the first few tickets, and the full list's link."""

    key: str
    title: str
    count: int
    tickets: list[Ticket]
    url: str


def _section(key: str, title: str, tickets: QuerySet[Ticket], url: str) -> Section:
    return Section(key, title, tickets.count(), list(tickets[:SHORT_LIST]), url)


def _sections(request: HttpRequest, scope: Scope, today: dt.date) -> list[Section]:
    user = request.user
    listing = reverse("desk:ticket_list")
    sections = []
    if scope.can(Perm.DESK_MANAGE):
        sections.append(
            _section(
                "to_accept",
                _("待受理"),
                selectors.to_accept(scope=scope),
                f"{listing}?status=registered",
            )
        )
        follow_up = selectors.to_follow_up(scope=scope, user=user)
        sections.append(_section("follow_up", _("待回访"), follow_up, f"{listing}?status=resolved"))
    returned = selectors.returned_to(user=user)
    sections.append(
        _section("returned", _("回退给我的"), returned, f"{listing}?status=returned&mine=on")
    )
    if scope.can(Perm.DESK_HANDLE):
        queue = selectors.team_queue(scope=scope, user=user)
        sections.append(_section("team", _("本队待办"), queue, f"{listing}?status=open&team=on"))
    overdue = selectors.overdue_list(scope=scope, today=today)
    sections.append(_section("overdue", _("逾期督办"), overdue, reverse("desk:overdue")))
    return sections


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """服务台工作台: what waits for the user today, and the way to register a visit."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    context = {
        "sections": _sections(request, scope, timezone.localdate()),
        "can_intake": scope.can(Perm.DESK_MANAGE),
    }
    return render(request, "desk/tickets/home.html", context)


# --- 登记 -----------------------------------------------------------------------------------


def _residents(scope: Scope) -> QuerySet[Person]:
    """Residents a desk worker may register a matter for."""
    return (
        Person.objects.within(scope, Perm.PERSON_VIEW)  # type: ignore[attr-defined]
        .filter(scope.q("org__path", Perm.DESK_MANAGE))
        .select_related("org")
        .defer("id_number_encrypted", "phone_encrypted")
    )


def _chosen_reporter(request: HttpRequest, scope: Scope) -> Person | None:
    value = (request.GET.get("reporter") or "").strip()
    if not value.isdigit() or len(value) > 12:
        return None
    return get_object_or_404(_residents(scope), pk=int(value))


def _reporter_search(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    """The resident search: each candidate links back to the form (``?reporter=ID``)."""
    form = ReporterSearchForm({"q": request.GET.get("q", "")})
    text = form.text()
    candidates = []
    if text:
        rows = person_list(scope=scope, search=text).filter(scope.q("org__path", Perm.DESK_MANAGE))
        for person in rows[:CANDIDATES_SHOWN]:
            candidates.append({"person": person, "url": f"?reporter={person.pk}"})
    return {"form": form, "text": text, "candidates": candidates}


def _intake_initial(reporter: Person | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"channel": Channel.WALK_IN}
    if reporter is not None:
        initial["place"] = reporter.org_id
        initial["address"] = reporter.address
    return initial


@require_http_methods(GET_POST)
@login_required
@never_cache
def intake(request: HttpRequest) -> HttpResponse:
    """登记: a walk-in visit or a call; afterwards the ticket page offers the 告知单."""
    scope = request_scope(request)
    require_perm(scope, Perm.DESK_MANAGE)
    reporter = _chosen_reporter(request, scope)
    form = IntakeForm(
        request.POST or None,
        request.FILES or None,
        scope=scope,
        initial=_intake_initial(reporter),
    )
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            ticket = services.ticket_create(
                actor=request.user,
                scope=scope,
                data=form.ticket_input(reporter.pk if reporter else None),
                client_address=request.META.get("REMOTE_ADDR", ""),
            )
            messages.success(
                request,
                _("已登记工单 %(number)s，请打印一次性告知单交给居民。")
                % {"number": ticket.number},
            )
            detail = reverse("desk:ticket_detail", kwargs={"ticket_id": ticket.pk})
            return redirect(f"{detail}?new=1")
    matter_id = form["matter_type"].value()
    context = {
        "form": form,
        "reporter": reporter,
        "search": _reporter_search(request, scope) if reporter is None else None,
        "matter": _matter(scope, matter_id),
    }
    return render_form(request, "desk/tickets/intake.html", context, form)


def _matter(scope: Scope, value: Any) -> Any:
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 12:
        return None
    return visible_matter_types(scope=scope).filter(pk=int(text), is_active=True).first()


@require_safe
@login_required
def matter_info(request: HttpRequest) -> HttpResponse:
    """HTMX partial: the 一次性告知 of a matter type, read out to the resident at intake."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    matter = _matter(scope, request.GET.get("matter_type"))
    return render(request, "desk/tickets/_matter_info.html", {"matter": matter})


# --- the ticket list ------------------------------------------------------------------------


@require_safe
@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    """工单: filters, the table, 20 a page."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    form = TicketFilterForm(request.GET or None, scope=scope)
    rows = selectors.ticket_list(
        scope=scope, user=request.user, **form.filters(timezone.localdate())
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "results_target": RESULTS_TARGET,
        "today": timezone.localdate(),
        "can_intake": scope.can(Perm.DESK_MANAGE),
    }
    return render_results(
        request,
        page_template="desk/tickets/list.html",
        partial_template="desk/tickets/_list_results.html",
        target=RESULTS_TARGET,
        context=context,
    )


# --- 督办 -----------------------------------------------------------------------------------


@dataclass
class OverdueRow:
    ticket: Ticket
    days: int  # working days past the deadline


def overdue_days(tickets: list[Ticket], today: dt.date) -> list[OverdueRow]:
    """Working days overdue for each ticket, with one calendar for them all (its holiday
    overrides are read once per year, not once per row)."""
    calendar = WorkdayCalendar()
    rows = []
    for ticket in tickets:
        days, day = 0, ticket.due_date
        while day is not None and day < today:
            day += dt.timedelta(days=1)
            days += calendar.is_workday(day)
        rows.append(OverdueRow(ticket, days))
    return rows


@require_safe
@login_required
def overdue(request: HttpRequest) -> HttpResponse:
    """督办: open tickets past their deadline in the user's scope, most escalated first."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    today = timezone.localdate()
    page = Paginator(selectors.overdue_list(scope=scope, today=today), OVERDUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = overdue_days(list(page.object_list), today)
    return render(request, "desk/tickets/overdue.html", {"page": page, "today": today})


# --- 来访登记 -------------------------------------------------------------------------------


@dataclass
class VisitorRow:
    ticket: Ticket
    visitor: str
    phone: str


def _visitor_rows(request: HttpRequest, scope: Scope, tickets: list[Ticket]) -> list[VisitorRow]:
    """A visitor's name in full for those who run the desk of the ticket's community (or
    received it), else masked."""
    rows = []
    for ticket in tickets:
        name = ticket.reporter.name if ticket.reporter else ticket.contact_name
        full = scope.can(Perm.DESK_MANAGE, ticket.org) or ticket.receiver_id == request.user.pk
        phone = ticket.contact_phone_masked or (
            ticket.reporter.phone_masked if ticket.reporter else ""
        )
        rows.append(VisitorRow(ticket, name if full else mask_name(name), phone))
    return rows


@require_safe
@login_required
def visitor_log(request: HttpRequest) -> HttpResponse:
    """来访登记: the walk-in tickets of a date range (today unless asked), printable."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    today = timezone.localdate()
    form = VisitorLogForm(request.GET or None)
    start, end = form.span(today)
    rows = selectors.visitor_log(scope=scope, start=start, end=end)
    page = Paginator(rows, VISITOR_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _visitor_rows(request, scope, list(page.object_list))
    context = {"form": form, "page": page, "start": start, "end": end}
    return render(request, "desk/tickets/visitor_log.html", context)
