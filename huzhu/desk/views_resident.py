"""The resident's side of the service desk on the phone (large type, few steps — many
residents are elderly): 我要反映, 我的事项, a matter's progress with the result and the rating
(回访), and withdrawing a matter not yet assigned.

Views parse input, call one selector or service, and render. A matter that is not the user's
own is missing (404) here — a worker uses the worker's page ``desk:ticket_detail``. A
service's refusal (a bad photo, HTML in the text, too many reports this hour) is shown in
Chinese beside its field or above the form, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages as notices
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.desk import selectors, services
from huzhu.desk.forms_resident import REPORT_KINDS, RateForm, ReportForm, WithdrawForm
from huzhu.desk.models import PhotoKind, Ticket, TicketStatus
from huzhu.desk.selectors import TicketAccess
from huzhu.desk.views_public import public_reporter, timeline
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person

PAGE_SIZE = 20
INVALID = 400  # a form sent back with errors
GET_OR_POST = ["GET", "HEAD", "POST"]
WITHDRAWABLE = (TicketStatus.REGISTERED, TicketStatus.ACCEPTED)

# Where a matter stands, in the resident's words (回退 is the desk's business, not theirs).
RESIDENT_STATUS = {
    TicketStatus.REGISTERED: gettext_lazy("待受理"),
    TicketStatus.ACCEPTED: gettext_lazy("已受理"),
    TicketStatus.ASSIGNED: gettext_lazy("办理中"),
    TicketStatus.RETURNED: gettext_lazy("办理中"),
    TicketStatus.IN_PROGRESS: gettext_lazy("办理中"),
    TicketStatus.RESOLVED: gettext_lazy("待您评价"),
    TicketStatus.CLOSED: gettext_lazy("已办结"),
}


# --- helpers ----------------------------------------------------------------------------------


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _person(request: HttpRequest) -> Person | None:
    """The signed-in user's resident record (None for a worker without one)."""
    return getattr(request.user, "person", None)


def _refusal(exc: PermissionDenied) -> str:
    return str(exc) or _("您没有进行该操作的权限。")


def _joined(form: Any) -> str:
    """A form's errors as one line for a message."""
    return "；".join(str(e) for errors in form.errors.values() for e in errors)


def _intake_url() -> str:
    try:
        return reverse("desk:intake")
    except NoReverseMatch:  # the worker's desk pages are not mounted
        return ""


def default_address(org: Org) -> str:
    """The resident's grid and community as the place a report starts from."""
    if org.kind == OrgKind.GRID and org.parent is not None:
        community = org.parent.name
        return org.name if org.name.startswith(community) else f"{community} {org.name}"
    return org.name


def _with_status(ticket: Ticket) -> Ticket:
    ticket.resident_status = RESIDENT_STATUS[TicketStatus(ticket.status)]  # type: ignore[attr-defined]
    return ticket


def _reporter_access(request: HttpRequest, ticket_id: int) -> TicketAccess:
    """The ticket when the user reported it; 404 otherwise (staff use the worker's page)."""
    access = selectors.ticket_access(user=request.user, scope=_scope(request), ticket_id=ticket_id)
    if not access.is_reporter:
        raise Http404(selectors.NOT_FOUND)
    return access


# --- 我要反映 ---------------------------------------------------------------------------------


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def report(request: HttpRequest) -> HttpResponse:
    """我要反映: a category, what and where, photos from the camera, and the choice to be
    named on the public board. A worker without a resident record is sent to the desk."""
    person = _person(request)
    if person is None:
        return render(request, "desk/resident/no_person.html", {"intake_url": _intake_url()})
    community = selectors.community_of(person.org)
    matter_types = selectors.matter_types_for(community).filter(kind__in=REPORT_KINDS)
    form = ReportForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        matter_types=matter_types,
        initial={"address": default_address(person.org)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            ticket = services.ticket_create(
                actor=request.user,
                scope=_scope(request),
                data=form.to_input(),
                client_address=request.META.get("REMOTE_ADDR", ""),
                limit_rate=True,
            )
        except PermissionDenied as exc:
            form.add_error(None, _refusal(exc))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            notices.success(
                request,
                _("反映已提交，工单编号 %(number)s。社区受理后会通知您，可随时在这里查看进度。")
                % {"number": ticket.number},
            )
            return redirect("desk:my_ticket", ticket_id=ticket.pk)
    status = INVALID if form.is_bound and form.errors else 200
    return render(request, "desk/resident/report.html", {"form": form}, status=status)


# --- 我的事项 ---------------------------------------------------------------------------------


@require_safe
@login_required
def my_tickets(request: HttpRequest) -> HttpResponse:
    """我的事项: the user's own matters, newest first, with where each stands."""
    page = Paginator(selectors.my_tickets(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = [_with_status(ticket) for ticket in page.object_list]
    return render(
        request,
        "desk/resident/mine.html",
        {"page": page, "can_report": _person(request) is not None},
    )


def _detail_context(access: TicketAccess, rate_form: RateForm | None = None) -> dict[str, Any]:
    ticket = _with_status(access.ticket)
    photos = list(ticket.photos.all())
    resolved = ticket.status == TicketStatus.RESOLVED
    return {
        "ticket": ticket,
        "steps": timeline(ticket, for_public=False),
        "report_photos": [p for p in photos if p.kind == PhotoKind.REPORT],
        "result_photos": [p for p in photos if p.kind == PhotoKind.RESULT],
        "public_name": public_reporter(ticket),
        "rate_form": (rate_form or RateForm()) if resolved else None,
        "can_withdraw": ticket.status in WITHDRAWABLE,
        "stars": range(1, 6),
    }


@require_safe
@login_required
@never_cache
def my_ticket(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """A matter's progress: the public steps, the result and its photos, the rating form
    while it waits for the resident, and the withdraw button before it is assigned."""
    access = _reporter_access(request, ticket_id)
    return render(request, "desk/resident/detail.html", _detail_context(access))


@require_POST
@login_required
@never_cache
def my_ticket_rate(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """回访: satisfied closes the matter; dissatisfied (with a reason) sends it back."""
    access = _reporter_access(request, ticket_id)
    form = RateForm(request.POST)
    if form.is_valid():
        try:
            ticket = services.ticket_follow_up(
                actor=request.user, access=access, data=form.to_follow_up()
            )
        except PermissionDenied as exc:
            form.add_error(None, _refusal(exc))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if ticket.status == TicketStatus.CLOSED:
                notices.success(request, _("谢谢您的评价，事项已办结。"))
            else:
                notices.info(request, _("已退回重新办理，办理结果出来后会再请您评价。"))
            return redirect("desk:my_ticket", ticket_id=ticket.pk)
    if access.ticket.status != TicketStatus.RESOLVED:
        # Nothing to rate (yet, or any more): say why on the page, without the form.
        notices.error(request, _joined(form))
        return redirect("desk:my_ticket", ticket_id=ticket_id)
    return render(
        request, "desk/resident/detail.html", _detail_context(access, form), status=INVALID
    )


@require_POST
@login_required
@never_cache
def my_ticket_withdraw(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """撤回 a matter not yet assigned to a team."""
    access = _reporter_access(request, ticket_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        notices.error(request, _joined(form))
        return redirect("desk:my_ticket", ticket_id=ticket_id)
    try:
        services.ticket_withdraw(
            actor=request.user, access=access, reason=form.cleaned_data["reason"]
        )
    except PermissionDenied as exc:
        notices.error(request, _refusal(exc))
    except ValidationError as exc:
        notices.error(request, "；".join(str(m) for m in exc.messages))
    else:
        notices.success(request, _("事项已撤回。"))
    return redirect("desk:my_ticket", ticket_id=ticket_id)
