"""The needs exchange for residents and volunteers (phones first, large type, few steps —
many requesters are elderly): 我的求助, 我要求助, a need's page with its history, thread and the
buttons of each role, 推荐志愿者, the volunteer's 邀请 and 需求广场.

Views parse input, call one selector or service, and render. A need the user is nothing to is
missing (404, from ``selectors.need_access``); a service's refusal (a rule, a missing
permission, the time bank refusing a payment) is shown as a message and changes nothing. The
requester sees the volunteer's name masked and the volunteer the requester's; workers see
both in full; the exact address only those ``access.sees_address`` lets in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages as notices
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.common.identity import mask_name
from huzhu.needs import matching, selectors, services
from huzhu.needs.classify import suggest_categories
from huzhu.needs.forms import (
    APPROVE,
    ApplicationForm,
    BoardFilterForm,
    ConfirmForm,
    DoneForm,
    InviteForm,
    MessageForm,
    NeedForm,
    NoteForm,
    ReasonForm,
)
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    Need,
    NeedStatus,
    Payment,
)
from huzhu.needs.selectors import NeedAccess
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank import ledger
from huzhu.timebank.selectors import member_account
from huzhu.volunteers.models import Volunteer, VolunteerStatus
from huzhu.web.htmx import is_htmx

PAGE_SIZE = 20
INVALID = 400  # a form sent back with errors
POLL_SECONDS = 15  # the thread refreshes itself this often
RECOMMEND_TOP = 5
GET_OR_POST = ["GET", "HEAD", "POST"]

# What each history entry (NeedEvent.verb) reads as.
EVENT_LABELS = {
    "post": gettext_lazy("发布求助"),
    "update": gettext_lazy("修改需求"),
    "cancel": gettext_lazy("取消需求"),
    "invite": gettext_lazy("邀请志愿者"),
    "broadcast": gettext_lazy("紧急广播"),
    "apply": gettext_lazy("志愿者自荐"),
    "decline": gettext_lazy("婉拒"),
    "match": gettext_lazy("志愿者承接"),
    "start": gettext_lazy("开始服务"),
    "done": gettext_lazy("服务完成"),
    "confirm": gettext_lazy("确认完成"),
    "dispute": gettext_lazy("提出异议"),
    "dispute_return": gettext_lazy("异议处理：继续服务"),
    "dispute_close": gettext_lazy("异议处理：办结"),
}


# --- helpers (also used by ``offer_views``) ------------------------------------------------


def request_scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def own_person(request: HttpRequest) -> Person | None:
    """The signed-in user's resident record (None for a worker without one)."""
    return getattr(request.user, "person", None)


def own_volunteer(request: HttpRequest) -> Any:
    """The signed-in person's volunteer registration (any status), once per request."""
    if not hasattr(request, "_hz_volunteer"):
        request._hz_volunteer = selectors.volunteer_of(request.user)  # type: ignore[attr-defined]
    return request._hz_volunteer  # type: ignore[attr-defined]


def not_volunteer(request: HttpRequest) -> HttpResponse:
    """Not (yet) a volunteer: say so kindly and show the way to register."""
    return render(request, "needs/people/not_volunteer.html", {"volunteer": own_volunteer(request)})


def refusal(exc: ValidationError | PermissionDenied) -> str:
    """A service's refusal (LedgerRefusal is a ValidationError) as one line for a message."""
    if isinstance(exc, PermissionDenied):
        return str(exc) or _("您没有进行该操作的权限。")
    return "；".join(str(m) for m in exc.messages)


def safe_next(request: HttpRequest, default: str) -> str:
    """The POSTed ``next`` when it is a local address, else ``default``."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def area_name(org: Org) -> str:
    """The community a need belongs to (a grid's parent; load ``org__parent`` with it)."""
    if org.kind == OrgKind.GRID and org.parent_id:
        return org.parent.name  # type: ignore[union-attr]
    return org.name


def _access(request: HttpRequest, need_id: int) -> NeedAccess:
    return selectors.need_access(user=request.user, scope=request_scope(request), need_id=need_id)


def _detail_url(need_id: int) -> str:
    return reverse("needs:detail", args=[need_id])


def _back(request: HttpRequest, need_id: int) -> HttpResponse:
    return redirect(safe_next(request, _detail_url(need_id)))


def _requester_label(need: Need, full: bool) -> str:
    if need.requester is None:
        return need.org.name
    return need.requester.name if full else mask_name(need.requester.name)


def _volunteer_label(need: Need, full: bool) -> str:
    if need.volunteer is None:
        return ""
    name = need.volunteer.person.name
    return name if full else mask_name(name)


def _payment_choices(
    person: Person | None, *, worker: bool = False, current: str = ""
) -> list[tuple[str, str]]:
    """时间币支付 (with the balance) and 公益; a worker (or a need already so) may also choose
    公益（不计时间币）; a need without a requester cannot be paid by one."""
    choices: list[tuple[str, str]] = []
    if person is not None:
        account = member_account(person=person)
        balance = account.balance if account else 0
        choices.append(
            (
                Payment.REQUESTER,
                _("时间币支付（现有 %(hours)s 小时）") % {"hours": ledger.hours(balance)},
            )
        )
    choices.append((Payment.POOL, str(Payment.POOL.label)))
    if worker or person is None or current == Payment.NONE:
        choices.append((Payment.NONE, str(Payment.NONE.label)))
    return choices


def _form_page(
    request: HttpRequest, template: str, context: dict[str, Any], form: Any
) -> HttpResponse:
    status = INVALID if form.is_bound and form.errors else 200
    return render(request, template, context, status=status)


# --- 我的求助 and 我要求助 --------------------------------------------------------------------


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """我的求助: the resident's own needs, the big 我要求助 button, and for a volunteer the way
    to 邀请, 需求广场 and 我的服务. A worker without a resident record goes to the need desk."""
    person = own_person(request)
    if person is None:
        return redirect("needs:manage_list")
    page = Paginator(selectors.my_needs(person_id=person.pk), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    page.object_list = list(page.object_list)
    for need in page.object_list:
        need.volunteer_name = _volunteer_label(need, full=False)  # type: ignore[attr-defined]
    volunteer = own_volunteer(request)
    pending = (
        selectors.my_invitations(volunteer=volunteer, pending_only=True).count()
        if volunteer is not None
        else 0
    )
    return render(
        request,
        "needs/people/home.html",
        {"page": page, "volunteer": volunteer, "pending_invitations": pending},
    )


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def ask(request: HttpRequest) -> HttpResponse:
    """我要求助: what, when, where, how urgent, how paid — one page, large type."""
    person = own_person(request)
    if person is None:
        return redirect("needs:manage_new")
    form = NeedForm(request.POST or None, payments=_payment_choices(person), address=person.address)
    if request.method == "POST" and form.is_valid():
        try:
            need = services.need_create(
                actor=request.user,
                scope=request_scope(request),
                data=form.to_input(),
                requester=person,
            )
        except PermissionDenied as exc:
            form.add_error(None, refusal(exc))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            notices.success(
                request,
                _("求助已发布（编号 %(number)s）。有志愿者承接后会通知您。")
                % {"number": need.number},
            )
            return redirect("needs:detail", need_id=need.pk)
    return _form_page(request, "needs/people/ask.html", _ask_context(form, None), form)


def _ask_context(form: NeedForm, need: Need | None) -> dict[str, Any]:
    description = str(form["description"].value() or "")
    suggestions = suggest_categories(description) if form.is_bound and description else []
    return {"form": form, "need": need, "suggestions": suggestions}


@require_safe
@login_required
def suggest(request: HttpRequest) -> HttpResponse:
    """HTMX: the categories the description suggests, as chips that pick the category."""
    text = request.GET.get("description", "")[:1000]
    return render(request, "needs/people/_suggest.html", {"suggestions": suggest_categories(text)})


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def edit(request: HttpRequest, need_id: int) -> HttpResponse:
    """Edit a need still 待匹配 (its requester or a worker)."""
    access = _access(request, need_id)
    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以修改需求。"))
    need = access.need
    if need.status != NeedStatus.OPEN:
        notices.info(request, _("需求已有志愿者承接或已结束，不能再修改。"))
        return redirect("needs:detail", need_id=need.pk)
    payments = _payment_choices(need.requester, worker=access.is_worker, current=need.payment)
    form = NeedForm(request.POST or None, payments=payments, initial=NeedForm.initial_for(need))
    if request.method == "POST" and form.is_valid():
        try:
            services.need_update(actor=request.user, access=access, data=form.to_input())
        except PermissionDenied as exc:
            form.add_error(None, refusal(exc))
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            notices.success(request, _("需求已修改。"))
            return redirect("needs:detail", need_id=need.pk)
    return _form_page(request, "needs/people/ask.html", _ask_context(form, need), form)


# --- a need's page ----------------------------------------------------------------------------


@dataclass
class PersonRow:
    """A volunteer as the requester sees them: masked name, score and reasons."""

    volunteer_id: int
    name: str
    score: int | None
    reasons: list[str] = field(default_factory=list)
    invitation: Invitation | None = None


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def detail(request: HttpRequest, need_id: int) -> HttpResponse:
    """The need for everyone ``need_access`` lets in, with the buttons of their role. A POST
    is the requester's answer to a volunteer's 我来帮忙 (approve or decline)."""
    access = _access(request, need_id)
    if request.method == "POST":
        return _answer_application(request, access)
    return render(request, "needs/people/detail.html", _detail_context(request, access))


def _detail_context(request: HttpRequest, access: NeedAccess) -> dict[str, Any]:
    need = access.need
    volunteer = own_volunteer(request)
    mine = None
    if volunteer is not None and not access.is_volunteer:
        mine = selectors.my_invitations(volunteer=volunteer).filter(need=need).first()
    can_apply = (
        volunteer is not None
        and mine is None
        and need.status == NeedStatus.OPEN
        and not access.is_requester
        and not access.is_volunteer
    )
    context: dict[str, Any] = {
        "need": need,
        "access": access,
        "area": area_name(need.org),
        "requester_name": _requester_label(need, full=access.is_worker or access.is_requester),
        "volunteer_name": _volunteer_label(need, full=access.is_worker or access.is_volunteer),
        "events": _events(need, access),
        "thread": list(selectors.need_messages(need=need)) if access.in_thread else [],
        "poll_seconds": POLL_SECONDS,
        "my_invitation": mine,
        "can_apply": can_apply,
        "stars": range(1, 6),
    }
    if access.is_requester or access.is_worker:
        context.update(_invitation_rows(need, full=access.is_worker))
    return context


def _events(need: Need, access: NeedAccess) -> list[dict[str, Any]]:
    """The history, in words; who acted only for workers (usernames are not for residents)."""
    return [
        {
            "label": str(EVENT_LABELS.get(event.verb, event.verb)),
            "at": event.created_at,
            "to_status": NeedStatus(event.to_status).label if event.to_status else "",
            "note": event.note,
            "actor": event.actor_label if access.is_worker else "",
        }
        for event in selectors.need_events(need=need)
    ]


def _invitation_rows(need: Need, full: bool) -> dict[str, list[PersonRow]]:
    """Volunteers' offers to help (自荐) waiting for an answer, and who was invited."""
    applications: list[PersonRow] = []
    invited: list[PersonRow] = []
    for invitation in selectors.need_invitations(need=need):
        name = invitation.volunteer.person.name
        row = PersonRow(
            volunteer_id=invitation.volunteer_id,
            name=name if full else mask_name(name),
            score=invitation.score,
            reasons=list(invitation.reasons or []),
            invitation=invitation,
        )
        if invitation.kind == InvitationKind.APPLY:
            if invitation.status == InvitationStatus.PENDING and need.status == NeedStatus.OPEN:
                applications.append(row)
        else:
            invited.append(row)
    return {"applications": applications, "invited": invited}


def _answer_application(request: HttpRequest, access: NeedAccess) -> HttpResponse:
    form = ApplicationForm(request.POST)
    if not form.is_valid():
        notices.error(request, _("请求无效，请刷新页面后重试。"))
        return redirect("needs:detail", need_id=access.need.pk)
    invitation = get_object_or_404(
        selectors.need_invitations(need=access.need).filter(kind=InvitationKind.APPLY),
        pk=form.cleaned_data["invitation"],
    )
    name = mask_name(invitation.volunteer.person.name)
    try:
        if form.cleaned_data["action"] == APPROVE:
            services.application_approve(actor=request.user, access=access, invitation=invitation)
            text = _("已请志愿者 %(name)s 帮忙，可以在下方留言沟通。") % {"name": name}
        else:
            services.invitation_decline(
                actor=request.user,
                invitation=invitation,
                reply=form.cleaned_data["reply"],
                access=access,
            )
            text = _("已婉拒志愿者 %(name)s 的自荐。") % {"name": name}
    except (ValidationError, PermissionDenied) as exc:
        notices.error(request, refusal(exc))
    else:
        notices.success(request, text)
    return redirect("needs:detail", need_id=access.need.pk)


# --- the thread -------------------------------------------------------------------------------


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def messages(request: HttpRequest, need_id: int) -> HttpResponse:
    """The thread: GET is the partial the page polls; POST posts (phone numbers are hidden
    by the service) and answers with the partial (HTMX) or goes back to the page."""
    access = _access(request, need_id)
    if not access.in_thread:
        raise Http404(selectors.NOT_FOUND)
    error, draft = "", ""
    if request.method == "POST":
        form = MessageForm(request.POST)
        form.is_valid()
        body = form.cleaned_data.get("body") or ""
        try:
            services.message_post(actor=request.user, access=access, body=body)
        except (ValidationError, PermissionDenied) as exc:
            error, draft = refusal(exc), body
        if not is_htmx(request):
            if error:
                notices.error(request, error)
            else:
                notices.success(request, _("留言已发送。"))
            return redirect(_detail_url(need_id) + "#thread")
    return render(
        request,
        "needs/_thread.html",
        {
            "need": access.need,
            "thread": list(selectors.need_messages(need=access.need)),
            "access": access,
            "poll_seconds": POLL_SECONDS,
            "thread_error": error,
            "draft": draft,
        },
    )


# --- 推荐志愿者 -------------------------------------------------------------------------------


def _candidates(need: Need) -> list[PersonRow]:
    """The best ``RECOMMEND_TOP`` volunteers for the need, masked, with their reasons."""
    ctx = matching.MatchContext.for_need(need)
    ranked = matching.rank(need, limit=RECOMMEND_TOP, ctx=ctx)
    names = dict(
        Volunteer.objects.filter(pk__in=[c.volunteer_id for c in ranked]).values_list(
            "pk", "person__name"
        )
    )
    return [
        PersonRow(
            volunteer_id=c.volunteer_id,
            name=mask_name(names.get(c.volunteer_id, "")),
            score=c.points,
            reasons=matching.explain(ctx, c),
        )
        for c in ranked
    ]


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def recommend(request: HttpRequest, need_id: int) -> HttpResponse:
    """推荐志愿者: the requester sees the five best-suited volunteers and why, and invites
    one or several. A worker uses the matching screen instead."""
    access = _access(request, need_id)
    need = access.need
    if not access.is_requester:
        if access.is_worker:
            return redirect("needs:manage_detail", need_id=need.pk)
        raise PermissionDenied(_("只有求助人可以邀请推荐的志愿者。"))
    if need.status != NeedStatus.OPEN:
        notices.info(request, _("需求已有志愿者承接或已结束，无需再邀请。"))
        return redirect("needs:detail", need_id=need.pk)
    candidates = _candidates(need)
    form = InviteForm(request.POST or None, volunteer_ids=[c.volunteer_id for c in candidates])
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["volunteer_id"]
        if not chosen:
            form.add_error(None, _("请至少选择一位志愿者。"))
        else:
            try:
                created = services.need_invite(
                    actor=request.user, access=access, volunteer_ids=chosen
                )
            except (ValidationError, PermissionDenied) as exc:
                form.add_error(None, refusal(exc))
            else:
                notices.success(
                    request,
                    _("已邀请 %(n)d 位志愿者，有人接受后会通知您。") % {"n": len(created)},
                )
                return redirect("needs:detail", need_id=need.pk)
    return _form_page(
        request,
        "needs/people/recommend.html",
        {"need": need, "candidates": candidates, "form": form},
        form,
    )


# --- the steps: apply, start, done, confirm, dispute, cancel ----------------------------------


def _step(request: HttpRequest, need_id: int, call: Any, success: str) -> HttpResponse:
    """Run one service step; its refusal becomes an error message and changes nothing."""
    try:
        call()
    except (ValidationError, PermissionDenied) as exc:
        notices.error(request, refusal(exc))
    else:
        notices.success(request, success)
    return _back(request, need_id)


def _form_refused(request: HttpRequest, need_id: int, form: Any) -> HttpResponse:
    notices.error(request, "；".join(str(e) for errors in form.errors.values() for e in errors))
    return _back(request, need_id)


@require_POST
@login_required
@never_cache
def apply(request: HttpRequest, need_id: int) -> HttpResponse:
    """我来帮忙: a volunteer offers to take an open need; the requester decides."""
    access = _access(request, need_id)
    form = NoteForm(request.POST)
    form.is_valid()
    return _step(
        request,
        need_id,
        lambda: services.need_apply(
            actor=request.user,
            need=access.need,
            volunteer=own_volunteer(request),
            note=form.cleaned_data.get("note") or "",
        ),
        _("已告诉求助人您愿意帮忙，对方确认后会通知您。"),
    )


@require_POST
@login_required
@never_cache
def start(request: HttpRequest, need_id: int) -> HttpResponse:
    access = _access(request, need_id)
    return _step(
        request,
        need_id,
        lambda: services.need_start(actor=request.user, access=access),
        _("已开始服务。完成后请点“服务完成”。"),
    )


@require_POST
@login_required
@never_cache
def done(request: HttpRequest, need_id: int) -> HttpResponse:
    access = _access(request, need_id)
    form = DoneForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, need_id, form)
    return _step(
        request,
        need_id,
        lambda: services.need_mark_done(
            actor=request.user,
            access=access,
            minutes=form.cleaned_data["minutes"],
            note=form.cleaned_data["note"],
        ),
        _("已标记服务完成，等待求助人确认。"),
    )


def _confirmed_text(need: Need) -> str:
    hours = {"hours": ledger.hours(need.actual_minutes or 0)}
    if need.payment == Payment.REQUESTER:
        return _("已确认完成，已向志愿者支付 %(hours)s 小时时间币。谢谢您的评价！") % hours
    if need.payment == Payment.POOL:
        return _("已确认完成，互助池已向志愿者支付 %(hours)s 小时时间币。") % hours
    return _("已确认完成，服务时长已记入志愿者档案。")


@require_POST
@login_required
@never_cache
def confirm(request: HttpRequest, need_id: int) -> HttpResponse:
    """确认完成并评价 (the requester, or a worker for them with the settled time and how the
    resident agreed): the service record is made and the time bank pays."""
    access = _access(request, need_id)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return _form_refused(request, need_id, form)
    data = form.cleaned_data
    confirmation = services.Confirmation(
        rating=data["rating"],
        comment=data["comment"],
        minutes=data["minutes"] if access.is_worker else None,
        consent=data["consent"] if access.is_worker else "",
    )
    try:
        need = services.need_confirm(actor=request.user, access=access, data=confirmation)
    except (ValidationError, PermissionDenied) as exc:
        notices.error(request, refusal(exc))
    else:
        notices.success(request, _confirmed_text(need))
    return _back(request, need_id)


@require_POST
@login_required
@never_cache
def dispute(request: HttpRequest, need_id: int) -> HttpResponse:
    access = _access(request, need_id)
    form = ReasonForm(request.POST)
    form.is_valid()
    return _step(
        request,
        need_id,
        lambda: services.need_dispute(
            actor=request.user, access=access, reason=form.cleaned_data.get("reason") or ""
        ),
        _("已提出异议，社区工作人员会尽快处理。"),
    )


@require_POST
@login_required
@never_cache
def cancel(request: HttpRequest, need_id: int) -> HttpResponse:
    access = _access(request, need_id)
    form = ReasonForm(request.POST)
    form.is_valid()
    return _step(
        request,
        need_id,
        lambda: services.need_cancel(
            actor=request.user, access=access, reason=form.cleaned_data.get("reason") or ""
        ),
        _("需求已取消。"),
    )


# --- the volunteer: 邀请 and 需求广场 ---------------------------------------------------------


def _with_area(needs: list[Need]) -> list[Need]:
    for need in needs:
        need.area = area_name(need.org)  # type: ignore[attr-defined]
        need.requester_name = _requester_label(need, full=False)  # type: ignore[attr-defined]
    return needs


@require_safe
@login_required
def invitations(request: HttpRequest) -> HttpResponse:
    """邀请: the needs I am asked to take (with why I was chosen), and those I took."""
    volunteer = own_volunteer(request)
    if volunteer is None:
        return not_volunteer(request)
    pending = list(
        selectors.my_invitations(volunteer=volunteer, pending_only=True).select_related(
            "need__org__parent"
        )
    )
    _with_area([invitation.need for invitation in pending])
    taken = selectors.my_assignments(volunteer=volunteer).select_related("org__parent")
    page = Paginator(taken, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _with_area(list(page.object_list))
    return render(
        request,
        "needs/people/invitations.html",
        {"volunteer": volunteer, "pending": pending, "page": page},
    )


def _my_invitation(request: HttpRequest, invitation_id: int) -> Invitation:
    """One of the volunteer's own invitations; 404 for anyone else's (or a non-volunteer)."""
    volunteer = own_volunteer(request)
    if volunteer is None:
        raise Http404(selectors.NOT_FOUND)
    return get_object_or_404(
        selectors.my_invitations(volunteer=volunteer).select_related("volunteer__person"),
        pk=invitation_id,
    )


@require_POST
@login_required
@never_cache
def invitation_accept(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """接受: the need is mine — unless someone else was quicker (then nothing changes)."""
    invitation = _my_invitation(request, invitation_id)
    if invitation.status == InvitationStatus.ACCEPTED:
        notices.info(request, _("您已接受这个邀请。"))
        return redirect("needs:detail", need_id=invitation.need_id)
    try:
        need = services.invitation_accept(actor=request.user, invitation=invitation)
    except (ValidationError, PermissionDenied) as exc:
        notices.error(request, refusal(exc))
        return redirect(safe_next(request, reverse("needs:invitations")))
    notices.success(
        request,
        _("已承接：%(title)s。请按约定时间服务，有事请在本页留言。") % {"title": need.title},
    )
    return redirect("needs:detail", need_id=need.pk)


@require_POST
@login_required
@never_cache
def invitation_decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = _my_invitation(request, invitation_id)
    form = NoteForm(request.POST)
    form.is_valid()
    reply = form.cleaned_data.get("reply") or form.cleaned_data.get("note") or ""
    try:
        services.invitation_decline(actor=request.user, invitation=invitation, reply=reply)
    except (ValidationError, PermissionDenied) as exc:
        notices.error(request, refusal(exc))
    else:
        notices.success(request, _("已婉拒，谢谢您的回复。"))
    return redirect(safe_next(request, reverse("needs:invitations")))


@require_safe
@login_required
def board(request: HttpRequest) -> HttpResponse:
    """需求广场: open needs near the volunteer (community name only, never the address)."""
    volunteer = own_volunteer(request)
    if volunteer is None or volunteer.status != VolunteerStatus.REGISTERED:
        return not_volunteer(request)
    form = BoardFilterForm(request.GET or None)
    needs = selectors.board_needs(volunteer=volunteer).select_related("org__parent")
    category_id = form.category_id()
    if category_id:
        needs = needs.filter(category_id=category_id)
    page = Paginator(needs, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _with_area(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "needs/people/board.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )
