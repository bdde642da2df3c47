"""The public face of civic reports (no login) and the photos of tickets.

The board (公示栏) lists tickets of public matter types (``selectors.public_tickets``): number,
category, community and grid, place, date, a status in the public's words (待受理 / 办理中 /
已办结), the photos a worker has checked, and the result once done. It never shows who
reported — no name, phone or account — unless the reporter opted in, and then only the masked
name (张**). Free text a resident wrote (the description, a rating comment, a withdrawal
reason) is not shown either: it may name people.

A photo is served to anyone when it is public, its ticket's matter type is public and the
ticket is not a duplicate; otherwise only to those ``selectors.ticket_access`` lets in (staff
and the reporter). Everything else is missing (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from huzhu.common.identity import mask_name
from huzhu.desk import selectors
from huzhu.desk.models import (
    OPEN_TICKET_STATUSES,
    MatterType,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.orgs.models import Org, OrgKind

PAGE_SIZE = 20
OPEN = "open"
CLOSED = "closed"
PHOTO_NOT_FOUND = _("照片不存在或无权查看。")
REPORT_NOT_FOUND = _("该反映不存在或未公开。")

# The public's three words for where a matter stands. A resolved ticket awaits only the
# resident's rating; like Open311 (status "closed") the public sees it as done.
PUBLIC_STATUS = {
    TicketStatus.REGISTERED: ("registered", _("待受理")),
    TicketStatus.ACCEPTED: ("in_progress", _("办理中")),
    TicketStatus.ASSIGNED: ("in_progress", _("办理中")),
    TicketStatus.RETURNED: ("in_progress", _("办理中")),
    TicketStatus.IN_PROGRESS: ("in_progress", _("办理中")),
    TicketStatus.RESOLVED: ("closed", _("已办结")),
    TicketStatus.CLOSED: ("closed", _("已办结")),
}

# What each step (TicketEvent.verb) reads as, for the resident and the public.
EVENT_LABELS = {
    "create": _("提交反映"),
    "accept": _("社区已受理"),
    "answer": _("当场答复"),
    "assign": _("已派单"),
    "acknowledge": _("承办队伍已签收"),
    "return": _("回退"),
    "note": _("办理进展"),
    "extension_request": _("申请延期"),
    "extension_approve": _("延期办理"),
    "extension_refuse": _("延期未批准"),
    "resolve": _("反馈办理结果"),
    "close": _("办结"),
    "reopen": _("居民不满意，退回重办"),
    "link": _("并案办理"),
    "withdraw": _("居民撤回"),
    "escalate": _("督办"),
}
# Steps whose note the resident wrote (a rating comment, a withdrawal reason) or that may
# carry a worker's remark about the resident: shown to the reporter, never to the public.


# --- reads ------------------------------------------------------------------------------------


def public_photos_prefetch() -> Prefetch:
    return Prefetch(
        "photos", queryset=TicketPhoto.objects.filter(is_public=True), to_attr="public_photos"
    )


def public_events(ticket: Ticket) -> QuerySet[TicketEvent]:
    return ticket.events.filter(is_public=True).order_by("created_at", "id")


@dataclass(frozen=True)
class Step:
    label: str
    at: Any
    note: str


def timeline(ticket: Ticket, *, for_public: bool) -> list[Step]:
    """The public steps of a ticket in words; who acted is never shown (usernames are for
    staff), and the public does not see notes residents wrote."""
    return [
        Step(
            label=str(EVENT_LABELS.get(event.verb, event.verb)),
            at=event.created_at,
            note="" if for_public and event.verb in selectors.PRIVATE_NOTE_VERBS else event.note,
        )
        for event in public_events(ticket)
    ]


def public_reporter(ticket: Ticket) -> str:
    """The masked name of a reporter who opted in; empty for everyone else."""
    if not ticket.reporter_public:
        return ""
    name = ticket.reporter.name if ticket.reporter is not None else ticket.contact_name
    return mask_name(name)


def _org_choices(selected: Org | None) -> list[tuple[str, str]]:
    """Streets and communities that have public reports (plus the one asked for)."""
    ids = selectors.public_tickets().values("org_id")
    communities = list(
        Org.objects.filter(pk__in=ids, is_active=True).select_related("parent").order_by("path")
    )
    choices: list[tuple[str, str]] = [("", str(_("全部街道和社区")))]
    seen: set[int] = set()
    for community in communities:
        street = community.parent
        if street is not None and street.kind == OrgKind.STREET and street.pk not in seen:
            seen.add(street.pk)
            choices.append((str(street.pk), street.name))
        choices.append((str(community.pk), f"— {community.name}"))
        seen.add(community.pk)
    if selected is not None and selected.pk not in seen:
        choices.append((str(selected.pk), selected.name))
    return choices


def _category_choices() -> list[tuple[str, str]]:
    types = MatterType.objects.filter(is_public=True, is_active=True).only("id", "name")
    return [("", str(_("全部类别"))), *((str(t.pk), t.name) for t in types)]


# --- the board --------------------------------------------------------------------------------


class BoardFilterForm(forms.Form):
    org = forms.TypedChoiceField(label=_("街道/社区"), coerce=int, required=False, empty_value=None)
    category = forms.TypedChoiceField(label=_("类别"), coerce=int, required=False, empty_value=None)
    status = forms.ChoiceField(
        label=_("状态"),
        required=False,
        choices=[("", _("全部状态")), (OPEN, _("办理中")), (CLOSED, _("已办结"))],
    )

    def __init__(self, *args: Any, orgs: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].choices = orgs
        self.fields["category"].choices = _category_choices()
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select form-select-lg"


def _asked_org(request: HttpRequest) -> Org | None:
    """The org of ``?org=`` (a community's public page links here with it), if it exists."""
    value = request.GET.get("org", "")
    if not value.isdigit():
        return None
    return Org.objects.filter(
        pk=int(value),
        is_active=True,
        kind__in=(OrgKind.CITY, OrgKind.DISTRICT, OrgKind.STREET, OrgKind.COMMUNITY),
    ).first()


def _filtered(form: BoardFilterForm, org: Org | None) -> QuerySet[Ticket]:
    tickets = selectors.public_tickets(org=org)
    data = form.cleaned_data if form.is_valid() else {}
    if data.get("category"):
        tickets = tickets.filter(matter_type_id=data["category"])
    if data.get("status") == OPEN:
        tickets = tickets.filter(status__in=OPEN_TICKET_STATUSES)
    elif data.get("status") == CLOSED:
        tickets = tickets.exclude(status__in=OPEN_TICKET_STATUSES)
    return tickets.prefetch_related(public_photos_prefetch())


def _decorate(ticket: Ticket) -> Ticket:
    code, label = PUBLIC_STATUS[TicketStatus(ticket.status)]
    ticket.public_status = code  # type: ignore[attr-defined]
    ticket.public_status_label = label  # type: ignore[attr-defined]
    ticket.public_reporter = public_reporter(ticket)  # type: ignore[attr-defined]
    ticket.is_done = code == CLOSED  # type: ignore[attr-defined]
    return ticket


def _query_string(form: BoardFilterForm) -> str:
    """The filters as a query string, for the pagination links."""
    if not form.is_valid():
        return ""
    return urlencode({k: v for k, v in form.cleaned_data.items() if v not in (None, "")})


@require_safe
def board(request: HttpRequest) -> HttpResponse:
    """公示栏: civic reports and how they stand, newest first, filterable."""
    org = _asked_org(request)
    data = request.GET.copy()
    if org is None:
        data.pop("org", None)  # an unknown org filters nothing rather than everything away
    form = BoardFilterForm(data or None, orgs=_org_choices(org))
    page = Paginator(_filtered(form, org), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = [_decorate(ticket) for ticket in page.object_list]
    return render(
        request,
        "desk/public/board.html",
        {"form": form, "page": page, "org": org, "query": _query_string(form)},
    )


@require_safe
def report(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """One public report with its public steps; 404 for anything not public."""
    ticket = (
        selectors.public_tickets()
        .filter(pk=ticket_id)
        .prefetch_related(public_photos_prefetch())
        .first()
    )
    if ticket is None:
        raise Http404(REPORT_NOT_FOUND)
    return render(
        request,
        "desk/public/report.html",
        {"ticket": _decorate(ticket), "steps": timeline(ticket, for_public=True)},
    )


# --- photos -----------------------------------------------------------------------------------


def _open_to_all(photo: TicketPhoto) -> bool:
    ticket = photo.ticket
    return photo.is_public and ticket.matter_type.is_public and ticket.duplicate_of_id is None


@require_safe
def photo(request: HttpRequest, photo_id: int) -> FileResponse:
    """The JPEG of a ticket photo (already re-encoded without EXIF when it was stored)."""
    item = TicketPhoto.objects.select_related("ticket__matter_type").filter(pk=photo_id).first()
    if item is None:
        raise Http404(PHOTO_NOT_FOUND)
    if not _open_to_all(item):
        # 404 for missing and not yours alike; staff and the reporter pass.
        selectors.ticket_access(
            user=request.user,
            scope=request.scope,  # type: ignore[attr-defined]
            ticket_id=item.ticket_id,
        )
    try:
        handle = item.image.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404(PHOTO_NOT_FOUND) from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response
