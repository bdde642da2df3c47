"""One ticket at the worker's desk (desktop): the detail page with its history, photos,
similar open tickets and the action forms the user may use; one POST route per action; the
printable 一次性告知单 / 受理回执; the audited reveal of the contact phone.

A ticket the user may not see as staff is missing (404, via ``selectors.ticket_access``).
Each action parses its form and calls one service; success redirects to the detail with a
message, a refusal re-renders the detail with the error (400) and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from huzhu.activities.manage_views import refusal, refusal_on_form, request_scope
from huzhu.desk import selectors, services
from huzhu.desk.forms_tickets import (
    AcceptForm,
    AcknowledgeForm,
    ActionForm,
    AnswerForm,
    AssignForm,
    CloseForm,
    ExtensionDecideForm,
    ExtensionForm,
    FollowUpForm,
    LinkForm,
    NoteForm,
    PhotoPublishForm,
    ResolveForm,
    ReturnForm,
)
from huzhu.desk.models import OPEN_TICKET_STATUSES, TicketPhoto, TicketStatus
from huzhu.desk.selectors import TicketAccess
from huzhu.orgs.roles import Perm
from huzhu.web.htmx import is_htmx

INVALID = 400

# A ticket's history, verb → words.
EVENT_LABELS = {
    "create": gettext_lazy("登记"),
    "accept": gettext_lazy("受理"),
    "answer": gettext_lazy("当场答复"),
    "assign": gettext_lazy("派单"),
    "acknowledge": gettext_lazy("签收"),
    "return": gettext_lazy("回退"),
    "note": gettext_lazy("办理进展"),
    "extension_request": gettext_lazy("申请延期"),
    "extension_approve": gettext_lazy("批准延期"),
    "extension_refuse": gettext_lazy("不批准延期"),
    "resolve": gettext_lazy("反馈结果"),
    "close": gettext_lazy("办结"),
    "reopen": gettext_lazy("退回重办"),
    "link": gettext_lazy("并案"),
    "withdraw": gettext_lazy("居民撤回"),
    "escalate": gettext_lazy("督办"),
}


# The action cards of the detail page, in the order shown: title and button.
CARDS: dict[str, tuple[Any, Any]] = {
    "accept": (gettext_lazy("受理"), gettext_lazy("受理")),
    "answer": (gettext_lazy("当场答复"), gettext_lazy("答复并办结")),
    "assign": (gettext_lazy("派单"), gettext_lazy("派单")),
    "acknowledge": (gettext_lazy("签收"), gettext_lazy("签收")),
    "return": (gettext_lazy("回退"), gettext_lazy("回退")),
    "extension_decide": (gettext_lazy("审批延期"), gettext_lazy("提交审批")),
    "resolve": (gettext_lazy("反馈办理结果"), gettext_lazy("反馈")),
    "follow_up": (gettext_lazy("代为回访"), gettext_lazy("记录回访")),
    "close": (gettext_lazy("无法回访，直接办结"), gettext_lazy("办结")),
    "note": (gettext_lazy("办理进展"), gettext_lazy("记录")),
    "extension": (gettext_lazy("申请延期"), gettext_lazy("提交申请")),
    "link": (gettext_lazy("并案（重复反映）"), gettext_lazy("并案")),
}


def staff_access(request: HttpRequest, ticket_id: int) -> TicketAccess:
    """The ticket for staff (managers, the receiver, the handling team, oversight); a 404
    for anyone else — the reporter has their own page."""
    access = selectors.ticket_access(
        user=request.user, scope=request_scope(request), ticket_id=ticket_id
    )
    if not access.is_staff:
        raise Http404(selectors.NOT_FOUND)
    return access


def to_detail(access: TicketAccess) -> HttpResponse:
    return redirect("desk:ticket_detail", ticket_id=access.ticket.pk)


# --- which actions the user may use ----------------------------------------------------------


def allowed_actions(access: TicketAccess) -> set[str]:
    """The actions shown on the page (the services decide again when one is sent)."""
    ticket = access.ticket
    status = ticket.status
    manage = access.may_manage
    handle = access.is_handler or access.is_manager
    is_open = status in OPEN_TICKET_STATUSES
    rules = {
        "accept": manage and status == TicketStatus.REGISTERED,
        "answer": manage and status in (TicketStatus.REGISTERED, TicketStatus.ACCEPTED),
        "assign": manage and status in (TicketStatus.ACCEPTED, TicketStatus.RETURNED),
        "acknowledge": handle and status == TicketStatus.ASSIGNED,
        "return": handle and status == TicketStatus.ASSIGNED,
        "note": (access.is_handler or manage) and is_open,
        "extension": handle
        and status == TicketStatus.IN_PROGRESS
        and not ticket.extension_requested_days,
        "extension_decide": manage and is_open and bool(ticket.extension_requested_days),
        "resolve": handle and status == TicketStatus.IN_PROGRESS,
        "follow_up": manage and status == TicketStatus.RESOLVED,
        "close": manage and status == TicketStatus.RESOLVED,
        "link": manage and is_open,
        "photo_publish": manage,
    }
    return {name for name, allowed in rules.items() if allowed}


# --- the detail page -------------------------------------------------------------------------


def _events(access: TicketAccess) -> list[dict[str, Any]]:
    return [
        {
            "event": event,
            "label": EVENT_LABELS.get(event.verb, event.verb),
            "from_label": TicketStatus(event.from_status).label if event.from_status else "",
            "to_label": TicketStatus(event.to_status).label if event.to_status else "",
        }
        for event in access.ticket.events.all()
    ]


def _forms(access: TicketAccess, allowed: set[str], similar: list[Any]) -> dict[str, Any]:
    ticket = access.ticket
    built: dict[str, Any] = {}
    simple: dict[str, type[ActionForm]] = {
        "accept": AcceptForm,
        "answer": AnswerForm,
        "acknowledge": AcknowledgeForm,
        "return": ReturnForm,
        "note": NoteForm,
        "extension": ExtensionForm,
        "extension_decide": ExtensionDecideForm,
        "resolve": ResolveForm,
        "follow_up": FollowUpForm,
        "close": CloseForm,
    }
    for name, form_class in simple.items():
        if name in allowed:
            built[name] = form_class(ticket=ticket)
    if "assign" in allowed:
        built["assign"] = AssignForm(ticket=ticket, default_team=services.default_team(ticket))
    if "link" in allowed:
        built["link"] = LinkForm(ticket=ticket, similar=similar)
    return built


@dataclass
class Detail:
    """What the detail page shows besides the forms: built once per request."""

    access: TicketAccess
    allowed: set[str]
    similar: list[Any]


def _detail(access: TicketAccess) -> Detail:
    allowed = allowed_actions(access)
    similar = selectors.similar_open_tickets(access.ticket) if "link" in allowed else []
    return Detail(access=access, allowed=allowed, similar=similar)


def _context(
    request: HttpRequest,
    detail: Detail,
    *,
    bound: ActionForm | None = None,
    error: str = "",
    revealed: str = "",
) -> dict[str, Any]:
    access = detail.access
    ticket = access.ticket
    action_forms = _forms(access, detail.allowed, detail.similar)
    if bound is not None and bound.name in action_forms:
        action_forms[bound.name] = bound
    scope = request_scope(request)
    has_phone = bool(
        ticket.contact_phone_masked or (ticket.reporter and ticket.reporter.phone_masked)
    )
    cards = [
        {
            "name": name,
            "title": title,
            "button": button,
            "form": action_forms[name],
            "url": reverse(f"desk:ticket_{name}", kwargs={"ticket_id": ticket.pk}),
            "multipart": name == "resolve",
        }
        for name, (title, button) in CARDS.items()
        if name in action_forms
    ]
    return {
        "ticket": ticket,
        "access": access,
        "allowed": detail.allowed,
        "cards": cards,
        "events": _events(access),
        "photos": list(ticket.photos.all()),
        "similar": detail.similar,
        "matter": ticket.matter_type,
        "sees_reporter": access.sees_reporter,
        "can_reveal": has_phone and scope.can(Perm.PERSON_REVEAL, ticket.org),
        "revealed": revealed,
        "error": error,
        "is_new": request.GET.get("new") == "1",
    }


def render_detail(
    request: HttpRequest,
    access: TicketAccess,
    *,
    bound: ActionForm | None = None,
    error: str = "",
    revealed: str = "",
    status: int = 200,
) -> HttpResponse:
    context = _context(request, _detail(access), bound=bound, error=error, revealed=revealed)
    return render(request, "desk/tickets/detail.html", context, status=status)


@require_safe
@login_required
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """工单: every field, the reporter, photos, history, similar tickets and the actions."""
    return render_detail(request, staff_access(request, ticket_id))


# --- the actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    form: type[ActionForm]
    run: Callable[[HttpRequest, TicketAccess, ActionForm], Any]
    done: Any  # the success message


def _run_accept(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    return services.ticket_accept(actor=request.user, access=access, note=form.cleaned_data["note"])


def _run_answer(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    return services.ticket_answer(
        actor=request.user, access=access, answer=form.cleaned_data["answer"]
    )


def _run_assign(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    data = form.cleaned_data
    return services.ticket_assign(
        actor=request.user, access=access, team=data.get("team"), note=data["note"]
    )


def _run_acknowledge(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    return services.ticket_acknowledge(actor=request.user, access=access)


def _run_return(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    return services.ticket_return(
        actor=request.user, access=access, reason=form.cleaned_data["reason"]
    )


def _run_note(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    data = form.cleaned_data
    return services.ticket_note(
        actor=request.user, access=access, note=data["note"], public=bool(data.get("public"))
    )


def _run_extension(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    data = form.cleaned_data
    return services.ticket_extension_request(
        actor=request.user, access=access, days=data["days"], reason=data["reason"]
    )


def _run_extension_decide(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    assert isinstance(form, ExtensionDecideForm)
    return services.ticket_extension_decide(
        actor=request.user,
        access=access,
        approve=form.approved(),
        note=form.cleaned_data["note"],
    )


def _run_resolve(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    data = form.cleaned_data
    return services.ticket_resolve(
        actor=request.user, access=access, result=data["result"], photos=data["photos"]
    )


def _run_follow_up(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    assert isinstance(form, FollowUpForm)
    return services.ticket_follow_up(actor=request.user, access=access, data=form.follow_up())


def _run_close(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    return services.ticket_close_unrated(
        actor=request.user, access=access, note=form.cleaned_data["note"]
    )


def _run_link(request: HttpRequest, access: TicketAccess, form: ActionForm) -> Any:
    data = form.cleaned_data
    return services.ticket_link(
        actor=request.user, access=access, original=data["original_ticket"], note=data["note"]
    )


ACTIONS: dict[str, Action] = {
    "accept": Action(AcceptForm, _run_accept, gettext_lazy("已受理，办理时限开始计算。")),
    "answer": Action(AnswerForm, _run_answer, gettext_lazy("已当场答复，工单办结。")),
    "assign": Action(AssignForm, _run_assign, gettext_lazy("已派单。")),
    "acknowledge": Action(AcknowledgeForm, _run_acknowledge, gettext_lazy("已签收，请按时办理。")),
    "return": Action(ReturnForm, _run_return, gettext_lazy("已回退给首问负责人。")),
    "note": Action(NoteForm, _run_note, gettext_lazy("已记录办理进展。")),
    "extension": Action(ExtensionForm, _run_extension, gettext_lazy("已提交延期申请。")),
    "extension_decide": Action(
        ExtensionDecideForm, _run_extension_decide, gettext_lazy("已审批延期申请。")
    ),
    "resolve": Action(ResolveForm, _run_resolve, gettext_lazy("已反馈办理结果，等待回访。")),
    "follow_up": Action(FollowUpForm, _run_follow_up, gettext_lazy("已记录回访结果。")),
    "close": Action(CloseForm, _run_close, gettext_lazy("工单已办结。")),
    "link": Action(LinkForm, _run_link, gettext_lazy("已并案办理，工单办结。")),
}


def _bind(name: str, request: HttpRequest, access: TicketAccess) -> ActionForm:
    form_class = ACTIONS[name].form
    kwargs: dict[str, Any] = {"ticket": access.ticket}
    if form_class is LinkForm:
        kwargs["similar"] = selectors.similar_open_tickets(access.ticket)
    return form_class(request.POST, request.FILES, **kwargs)


def _errors_of(form: ActionForm) -> str:
    return "；".join(str(m) for errors in form.errors.values() for m in errors)


def perform(request: HttpRequest, ticket_id: int, name: str) -> HttpResponse:
    """Parse the action's form, call its service; redirect on success, else show the detail
    again with the error (400)."""
    access = staff_access(request, ticket_id)
    action = ACTIONS[name]
    form = _bind(name, request, access)
    if form.is_valid():
        with refusal_on_form(form):
            action.run(request, access, form)
            messages.success(request, str(action.done))
            return _after(request, ticket_id, access)
    # A refusal happened inside the service's transaction: the ticket is as it was.
    return render_detail(request, access, bound=form, error=_errors_of(form), status=INVALID)


def _after(request: HttpRequest, ticket_id: int, access: TicketAccess) -> HttpResponse:
    """Back to the ticket — or to the desk when the action took it out of the user's hands
    (a team that returned it no longer sees it)."""
    ticket = selectors.ticket_base().get(pk=ticket_id)
    if selectors.access_for(
        user=request.user, scope=request_scope(request), ticket=ticket
    ).is_staff:
        return to_detail(access)
    return redirect("desk:home")


def _action_view(name: str) -> Callable[[HttpRequest, int], HttpResponse]:
    @require_POST
    @login_required
    def view(request: HttpRequest, ticket_id: int) -> HttpResponse:
        return perform(request, ticket_id, name)

    view.__name__ = f"ticket_{name}"
    view.__doc__ = f"POST: the {name} action on a ticket."
    return view


ticket_accept = _action_view("accept")
ticket_answer = _action_view("answer")
ticket_assign = _action_view("assign")
ticket_acknowledge = _action_view("acknowledge")
ticket_return = _action_view("return")
ticket_note = _action_view("note")
ticket_extension = _action_view("extension")
ticket_extension_decide = _action_view("extension_decide")
ticket_resolve = _action_view("resolve")
ticket_follow_up = _action_view("follow_up")
ticket_close = _action_view("close")
ticket_link = _action_view("link")


@require_POST
@login_required
def ticket_photo_publish(request: HttpRequest, ticket_id: int, photo_id: int) -> HttpResponse:
    """POST: show a report photo on the public board, or hide it."""
    access = staff_access(request, ticket_id)
    photo = TicketPhoto.objects.filter(pk=photo_id, ticket_id=access.ticket.pk).first()
    if photo is None:
        raise Http404(_("照片不存在。"))
    form = PhotoPublishForm(request.POST)
    if not form.is_valid():
        return render_detail(request, access, error=_("请选择公开或不公开。"), status=INVALID)
    public = form.cleaned_data["public"]
    try:
        services.photo_publish(actor=request.user, access=access, photo=photo, public=public)
    except (ValidationError, PermissionDenied) as exc:
        return render_detail(request, access, error=refusal(exc), status=INVALID)
    messages.success(request, _("照片已公开。") if public else _("照片已设为不公开。"))
    return to_detail(access)


@require_POST
@login_required
@never_cache
def ticket_reveal(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """POST: the full contact phone, once, audited by the service; a partial for HTMX."""
    access = staff_access(request, ticket_id)
    try:
        phone = services.ticket_contact_reveal(
            actor=request.user, scope=request_scope(request), access=access
        )
    except (ValidationError, PermissionDenied) as exc:
        return render_detail(request, access, error=refusal(exc), status=INVALID)
    if is_htmx(request):
        context = {"ticket": access.ticket, "revealed": phone, "sees_reporter": True}
        return render(request, "desk/tickets/_contact.html", context)
    return render_detail(request, access, revealed=phone)


# --- printing ------------------------------------------------------------------------------


@require_safe
@login_required
def ticket_print(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """一次性告知单 / 受理回执: what to bring, the deadline and whom to call — no phone of the
    reporter."""
    access = staff_access(request, ticket_id)
    ticket = access.ticket
    context = {
        "ticket": ticket,
        "matter": ticket.matter_type,
        "community": ticket.org,
        "materials": ticket.matter_type.material_list,
    }
    return render(request, "desk/tickets/print.html", context)
