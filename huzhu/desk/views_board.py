"""Pages of the notice boards (公示栏), the suggestion box (献良策) and the contacts a community
publishes.

* 公示栏 (workers, desktop): the moderation queue and every notice in scope, filtered by
  column, status and community; a notice's page with 发布 / 不予发布 / 撤下.
* 投稿 (anyone signed in with a resident record: 好人好事 and 不文明行为; workers: every
  column, with the volunteer named in a 典型事迹 and their recorded consent).
* 献良策 (residents, phones first) and 我的建议 with the community's replies; the workers'
  list of suggestions and the reply form.
* 公开联系人 (workers): the contacts of a community and its grids, and its service and
  supervision phones, as the public page shows them.

Views parse input, call one selector or service, and render. Anything the user is nothing
to is missing (404, from the selectors); a service's refusal is shown beside the field it
names or as a message, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.desk import board_selectors as selectors
from huzhu.desk import board_services as services
from huzhu.desk.board_selectors import NoticeAccess, SuggestionAccess
from huzhu.desk.forms_board import (
    PUBLISH,
    ContactForm,
    ModerateForm,
    NoticeFilterForm,
    NoticeForm,
    PhonesForm,
    ReplyForm,
    SuggestionFilterForm,
    SuggestionForm,
)
from huzhu.desk.models import NoticeKind, NoticeStatus, SuggestionStatus
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

PAGE_SIZE = 30
RESIDENT_PAGE_SIZE = 10
INVALID = 400  # a form sent back with errors
GET_OR_POST = ["GET", "HEAD", "POST"]


# --- helpers ---------------------------------------------------------------------------------


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _require(scope: Scope, perm: str) -> None:
    if not scope.can(perm):
        raise PermissionDenied(_("您没有访问该页面的权限"))


def _refusal(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, PermissionDenied):
        return str(exc) or _("您没有进行该操作的权限。")
    return "；".join(str(m) for m in exc.messages)


def _on_form(form: Any, exc: ValidationError | PermissionDenied) -> None:
    if isinstance(exc, PermissionDenied):
        form.add_error(None, _refusal(exc))
    else:
        form.add_service_errors(exc)


def _form_page(
    request: HttpRequest, template: str, context: dict[str, Any], form: Any
) -> HttpResponse:
    status = INVALID if form.is_bound and form.errors else 200
    return render(request, template, context, status=status)


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _page(request: HttpRequest, rows: Any, size: int = PAGE_SIZE) -> Any:
    page = Paginator(rows, size).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    return page


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


# --- notices ---------------------------------------------------------------------------------


@require_safe
@login_required
def notices(request: HttpRequest) -> HttpResponse:
    """公示栏审核: pending notices first, then all others in scope, with filters."""
    scope = _scope(request)
    _require(scope, Perm.VIEW)
    communities = list(selectors.community_choices(scope=scope, perm=Perm.VIEW))
    form = NoticeFilterForm(request.GET or None, communities=communities)
    filters = form.filters()
    page = _page(request, selectors.notice_list(scope=scope, **filters))
    for notice in page.object_list:
        notice.may_moderate = scope.can(Perm.DESK_MANAGE, notice.org)  # type: ignore[attr-defined]
    counts = selectors.notice_status_counts(
        scope=scope, kind=filters["kind"], org_id=filters["org_id"]
    )
    context = {
        "form": form,
        "page": page,
        "tabs": [
            {"status": s.value, "label": s.label, "count": counts.get(s.value, 0)}
            for s in NoticeStatus
        ],
        "total": sum(counts.values()),
        "active_status": filters["status"],
        "can_post": scope.can(Perm.DESK_MANAGE),
    }
    return render(request, "desk/board/notices.html", context)


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def notice_new(request: HttpRequest) -> HttpResponse:
    """投稿: residents post 好人好事 or 不文明行为; workers post every column."""
    scope = _scope(request)
    communities = list(selectors.community_choices(scope=scope, perm=Perm.DESK_MANAGE))
    person = selectors.person_of(request.user)
    if not communities and person is None:
        raise PermissionDenied(_("只有本社区的居民和工作人员可以投稿。"))
    kinds = list(NoticeKind.values) if communities else list(selectors.RESIDENT_KINDS)
    initial = {"kind": request.GET.get("kind")} if request.GET.get("kind") in kinds else {}
    form = NoticeForm(request.POST or None, kinds=kinds, communities=communities, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            notice = services.notice_submit(actor=request.user, scope=scope, data=form.to_input())
        except (ValidationError, PermissionDenied) as exc:
            _on_form(form, exc)
        else:
            messages.success(request, _("已提交，社区审核后会在公示栏发布。"))
            return redirect("desk:notice_detail", notice_id=notice.pk)
    context = {"form": form, "as_worker": bool(communities), "kinds": kinds}
    return _form_page(request, "desk/board/notice_new.html", context, form)


def _notice_access(request: HttpRequest, notice_id: int) -> NoticeAccess:
    return selectors.notice_access(user=request.user, scope=_scope(request), notice_id=notice_id)


@require_safe
@login_required
def notice_detail(request: HttpRequest, notice_id: int) -> HttpResponse:
    """A notice: its text and status; for workers who submitted it and the moderation."""
    access = _notice_access(request, notice_id)
    context = {
        "notice": access.notice,
        "access": access,
        "moderate_form": ModerateForm(),
        "can_moderate": access.is_manager and access.notice.status == NoticeStatus.PENDING,
        "can_withdraw": access.is_manager and access.notice.status == NoticeStatus.PUBLISHED,
    }
    return render(request, "desk/board/notice_detail.html", context)


@require_POST
@login_required
def notice_moderate(request: HttpRequest, notice_id: int) -> HttpResponse:
    """发布 or 不予发布 (with a note)."""
    access = _notice_access(request, notice_id)
    form = ModerateForm(request.POST)
    back = _safe_next(request, reverse("desk:notice_detail", args=[notice_id]))
    if not form.is_valid():
        messages.error(request, _("请求无效，请刷新页面后重试。"))
        return redirect(back)
    publish = form.cleaned_data["action"] == PUBLISH
    try:
        services.notice_moderate(
            actor=request.user,
            scope=_scope(request),
            notice=access.notice,
            publish=publish,
            note=form.cleaned_data["note"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, _("已发布。") if publish else _("已退回投稿人。"))
    return redirect(back)


@require_POST
@login_required
def notice_withdraw(request: HttpRequest, notice_id: int) -> HttpResponse:
    """撤下 a published notice."""
    access = _notice_access(request, notice_id)
    note = (request.POST.get("note") or "").strip()[:200]
    try:
        services.notice_withdraw(
            actor=request.user, scope=_scope(request), notice=access.notice, note=note
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, _("已从公示栏撤下。"))
    return redirect("desk:notice_detail", notice_id=notice_id)


# --- suggestions -----------------------------------------------------------------------------


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def suggest(request: HttpRequest) -> HttpResponse:
    """献良策: one page, large type."""
    person = selectors.person_of(request.user)
    form = SuggestionForm(request.POST or None)
    if person is not None and request.method == "POST" and form.is_valid():
        try:
            suggestion = services.suggestion_submit(
                actor=request.user,
                data=form.to_input(),
                client_address=request.META.get("REMOTE_ADDR", ""),
            )
        except (ValidationError, PermissionDenied) as exc:
            _on_form(form, exc)
        else:
            messages.success(
                request,
                _("谢谢您的建议（编号 %(number)s）！社区答复后会通知您。")
                % {"number": suggestion.number},
            )
            return redirect("desk:my_suggestions")
    context = {"form": form, "person": person}
    return _form_page(request, "desk/board/suggest.html", context, form)


@require_safe
@login_required
def my_suggestions(request: HttpRequest) -> HttpResponse:
    """我的建议: what I suggested and the community's replies."""
    page = _page(request, selectors.my_suggestions(user=request.user), RESIDENT_PAGE_SIZE)
    return render(request, "desk/board/my_suggestions.html", {"page": page})


@require_safe
@login_required
def suggestions(request: HttpRequest) -> HttpResponse:
    """The workers' list: unanswered first."""
    scope = _scope(request)
    _require(scope, Perm.VIEW)
    form = SuggestionFilterForm(request.GET or None)
    page = _page(request, selectors.suggestion_list(scope=scope, **form.filters()))
    waiting = selectors.suggestion_list(scope=scope, status=SuggestionStatus.RECEIVED).count()
    return render(
        request,
        "desk/board/suggestions.html",
        {"form": form, "page": page, "waiting": waiting},
    )


def _suggestion_access(request: HttpRequest, suggestion_id: int) -> SuggestionAccess:
    return selectors.suggestion_access(
        user=request.user, scope=_scope(request), suggestion_id=suggestion_id
    )


def _suggestion_page(
    request: HttpRequest, access: SuggestionAccess, form: ReplyForm | None
) -> HttpResponse:
    suggestion = access.suggestion
    if form is None and access.is_manager:
        initial = {"reply": suggestion.reply}
        if suggestion.status != SuggestionStatus.RECEIVED:
            initial["status"] = suggestion.status
        form = ReplyForm(initial=initial)
    context = {
        "suggestion": suggestion,
        "access": access,
        "form": form if access.is_manager else None,
    }
    if form is not None:
        return _form_page(request, "desk/board/suggestion_detail.html", context, form)
    return render(request, "desk/board/suggestion_detail.html", context)


@require_safe
@login_required
def suggestion_detail(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    """A suggestion: workers see it with the reply form; its author sees the reply."""
    return _suggestion_page(request, _suggestion_access(request, suggestion_id), None)


@require_POST
@login_required
def suggestion_reply(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    access = _suggestion_access(request, suggestion_id)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.suggestion_reply(
                actor=request.user,
                scope=_scope(request),
                suggestion=access.suggestion,
                status=form.cleaned_data["status"],
                reply=form.cleaned_data["reply"],
            )
        except PermissionDenied as exc:
            messages.error(request, _refusal(exc))
            return redirect("desk:suggestion_detail", suggestion_id=suggestion_id)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("答复已保存，建议人会收到通知。"))
            return redirect("desk:suggestion_detail", suggestion_id=suggestion_id)
    return _suggestion_page(request, access, form)


# --- contacts --------------------------------------------------------------------------------


def _chosen_community(request: HttpRequest, communities: list[Org]) -> Org:
    wanted = _int(request.GET.get("org") or request.POST.get("community"))
    for community in communities:
        if community.pk == wanted:
            return community
    return communities[0]


def _contacts_url(org_id: int) -> str:
    return f"{reverse('desk:contacts')}?org={org_id}"


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
def contacts(request: HttpRequest) -> HttpResponse:
    """公开联系人: a community's contacts and phones as its public page shows them."""
    scope = _scope(request)
    communities = list(selectors.community_choices(scope=scope, perm=Perm.DESK_MANAGE))
    if not communities:
        raise PermissionDenied(_("您没有访问该页面的权限"))
    community = _chosen_community(request, communities)
    orgs = list(selectors.contact_org_choices(scope=scope, community=community))
    form = ContactForm(request.POST or None, orgs=orgs)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_add(actor=request.user, scope=scope, data=form.to_input())
        except (ValidationError, PermissionDenied) as exc:
            _on_form(form, exc)
        else:
            messages.success(request, _("联系人已添加。"))
            return redirect(_contacts_url(community.pk))
    context = {
        "communities": communities,
        "community": community,
        "contacts": list(selectors.contact_list(scope=scope, community=community)),
        "form": form,
        "phones_form": PhonesForm(
            initial={
                "service_phone": community.service_phone,
                "supervision_phone": community.supervision_phone,
            }
        ),
    }
    return _form_page(request, "desk/board/contacts.html", context, form)


@require_POST
@login_required
def contact_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    scope = _scope(request)
    contact = selectors.contact_get(scope=scope, contact_id=contact_id)
    community_id = selectors.community_id_of(contact.org)
    try:
        services.contact_delete(actor=request.user, scope=scope, contact=contact)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, _("联系人已删除。"))
    return redirect(_contacts_url(community_id))


@require_POST
@login_required
def community_phones(request: HttpRequest, org_id: int) -> HttpResponse:
    """The community's service and supervision phones."""
    scope = _scope(request)
    org = selectors.community_get(scope=scope, org_id=org_id)
    form = PhonesForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请求无效，请刷新页面后重试。"))
        return redirect(_contacts_url(org.pk))
    try:
        services.community_phones_set(
            actor=request.user,
            scope=scope,
            org=org,
            service_phone=form.cleaned_data["service_phone"],
            supervision_phone=form.cleaned_data["supervision_phone"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, _("社区电话已保存。"))
    return redirect(_contacts_url(org.pk))
