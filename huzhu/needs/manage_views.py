"""The worker's matching desk (desktop): the need board with its Excel export, posting a need
for a resident or in an org's name (代发), the matching screen (ranked volunteers with their
reasons, invitations, urgent broadcast, applications, disputes, confirming on a resident's
behalf), and the offers of volunteers and units in the area.

Views parse input, call one selector or service, and render. A need outside the user's scope
is missing (404, via ``selectors.need_access``); oversight roles (``VIEW`` without
``NEED_MANAGE``) see the pages read-only; a service's refusal is shown as a message (or next
to the field it names) and changes nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.activities.manage_views import (
    refusal_on_form,
    refusal_shown,
    render_form,
    request_scope,
    require_perm,
)
from huzhu.common.audit import log_action
from huzhu.needs import manage_selectors, matching, selectors, services
from huzhu.needs.classify import suggest_categories
from huzhu.needs.manage_forms import (
    ORG_PAYMENTS,
    ConfirmOnBehalfForm,
    NeedFilterForm,
    NeedForm,
    OfferFilterForm,
    RequesterSearchForm,
    UnitOfferForm,
    availability_grid,
    tomorrow,
)
from huzhu.needs.models import (
    ACTIVE_NEED_STATUSES,
    InvitationKind,
    InvitationStatus,
    Need,
    NeedStatus,
    Payment,
    Urgency,
)
from huzhu.needs.selectors import NeedAccess
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.volunteers.availability import PERIOD_LABELS, describe
from huzhu.web.htmx import is_htmx, render_results

PAGE_SIZE = 30
RANKED_SHOWN = 10
GET_POST = ["GET", "HEAD", "POST"]
RESULTS_TARGET = "need-results"
OFFER_RESULTS_TARGET = "offer-results"
SUGGEST_TARGET = "need-suggestions"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_IN_MEMORY_BYTES = 4 * 1024 * 1024

# The parts of a candidate's score, in the order shown.
PART_LABELS = {
    "fit": gettext_lazy("服务契合"),
    "distance": gettext_lazy("距离"),
    "availability": gettext_lazy("时间"),
    "load": gettext_lazy("近期负担"),
    "reliability": gettext_lazy("可靠性"),
}
# A need's history, verb → words.
EVENT_LABELS = {
    "post": gettext_lazy("发布需求"),
    "update": gettext_lazy("修改需求"),
    "cancel": gettext_lazy("取消需求"),
    "invite": gettext_lazy("邀请志愿者"),
    "broadcast": gettext_lazy("紧急广播"),
    "apply": gettext_lazy("志愿者自荐"),
    "decline": gettext_lazy("婉拒"),
    "match": gettext_lazy("匹配成功"),
    "start": gettext_lazy("开始服务"),
    "done": gettext_lazy("服务完成"),
    "confirm": gettext_lazy("确认完成"),
    "dispute": gettext_lazy("提出异议"),
    "dispute_return": gettext_lazy("退回志愿者"),
    "dispute_close": gettext_lazy("关闭争议"),
}
STATUS_TABS = (
    NeedStatus.OPEN,
    NeedStatus.MATCHED,
    NeedStatus.IN_SERVICE,
    NeedStatus.AWAITING,
    NeedStatus.DISPUTED,
    NeedStatus.DONE,
    NeedStatus.CANCELLED,
)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def _posted(request: HttpRequest, name: str, limit: int = 300) -> str:
    return (request.POST.get(name) or "").strip()[:limit]


def staff_access(request: HttpRequest, need_id: int) -> NeedAccess:
    """The need for a worker (``NEED_MANAGE``) or an overseer (``VIEW``) over its org; a 404
    for anyone else — the requester and volunteers have their own pages."""
    access = selectors.need_access(user=request.user, scope=request_scope(request), need_id=need_id)
    if not (access.is_worker or access.can_view_scope):
        raise Http404(selectors.NOT_FOUND)
    return access


def to_detail(need: Need) -> HttpResponse:
    return redirect("needs:manage_detail", need_id=need.pk)


# --- the need board ----------------------------------------------------------------------------


@require_safe
@login_required
def need_list(request: HttpRequest) -> HttpResponse:
    """需求看板: filters, counts per status, the table; ``?export=xlsx`` downloads it."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    form = NeedFilterForm(request.GET or None, scope=scope)
    filters = form.filters()
    if request.GET.get("export") == "xlsx":
        return _export(request, scope, form)
    rows = selectors.need_list(scope=scope, filters=filters).order_by(*form.ordering())
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    counts = manage_selectors.status_counts(scope=scope, filters=filters)
    context = {
        "form": form,
        "page": page,
        "tabs": [
            {"status": s.value, "label": s.label, "count": counts.get(s.value, 0)}
            for s in STATUS_TABS
        ],
        "total": sum(counts.values()),
        "active_status": filters.status,
        "sort": request.GET.get("sort", ""),
        "results_target": RESULTS_TARGET,
        "can_post": scope.can(Perm.NEED_MANAGE),
    }
    return render_results(
        request,
        page_template="needs/manage/list.html",
        partial_template="needs/manage/_list_results.html",
        target=RESULTS_TARGET,
        context=context,
    )


def _export(request: HttpRequest, scope: Scope, form: NeedFilterForm) -> HttpResponse:
    """The filtered board as .xlsx (requesters' full names: watermarked and audited)."""
    filters = form.filters()
    rows = selectors.need_list(scope=scope, filters=filters).order_by(*form.ordering())
    stream = tempfile.SpooledTemporaryFile(max_size=EXPORT_IN_MEMORY_BYTES)  # noqa: SIM115
    count = manage_selectors.write_needs_xlsx(
        rows, exported_by=request.user.get_username(), stream=stream
    )
    if count:  # no rows: no personal data left the system
        target = manage_selectors.export_target(scope=scope, org_id=filters.org_id)
        log_action(request.user, "need.export", target, {"filter": form.describe(), "rows": count})
    filename = f"需求列表-{timezone.localtime():%Y%m%d-%H%M}.xlsx"
    size = stream.tell()
    stream.seek(0)
    if size <= EXPORT_IN_MEMORY_BYTES:
        response = HttpResponse(stream.read(), content_type=XLSX)
        response["Content-Disposition"] = content_disposition_header(True, filename)
        stream.close()
        return response
    return FileResponse(stream, as_attachment=True, filename=filename, content_type=XLSX)


# --- 代发需求 -------------------------------------------------------------------------------


def _chosen_requester(request: HttpRequest, scope: Scope) -> Person | None:
    person_id = _int(request.GET.get("requester"))
    if person_id is None:
        return None
    return manage_selectors.requester_get(scope=scope, person_id=person_id)


def _requester_search(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    """The resident search of step 1; each candidate links to the form (``?requester=ID``),
    keeping a prefilled description."""
    form = RequesterSearchForm({"q": request.GET.get("q", "")})
    text = form.text()
    keep = request.GET.copy()
    keep.pop("q", None)
    candidates = []
    for person in manage_selectors.requester_candidates(scope=scope, text=text):
        query = keep.copy()
        query["requester"] = str(person.pk)
        candidates.append({"person": person, "url": f"?{query.urlencode()}"})
    org_query = keep.copy()
    org_query["as"] = "org"
    return {
        "form": form,
        "text": text,
        "candidates": candidates,
        "keep": [(k, v) for k, v in keep.items()],
        "org_url": f"?{org_query.urlencode()}",
    }


def _new_initial(request: HttpRequest, requester: Person | None) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "day": tomorrow(),
        "period": "am",
        "urgency": Urgency.NORMAL,
        "payment": Payment.REQUESTER if requester is not None else Payment.POOL,
        "description": (request.GET.get("description") or "")[:1000],
    }
    if requester is not None:
        initial["address"] = requester.address
    return initial


def _change_url(request: HttpRequest) -> str:
    query = request.GET.copy()
    for name in ("requester", "as"):
        query.pop(name, None)
    return f"?{query.urlencode()}" if query else request.path


@require_http_methods(GET_POST)
@login_required
@never_cache
def need_new(request: HttpRequest) -> HttpResponse:
    """代发需求: first the resident (or 以组织名义发布), then the need."""
    scope = request_scope(request)
    require_perm(scope, Perm.NEED_MANAGE)
    if is_htmx(request) and request.headers.get("HX-Target") == SUGGEST_TARGET:
        description = (request.GET.get("description") or "")[:1000]
        return render(
            request,
            "needs/manage/_suggestions.html",
            {"suggestions": suggest_categories(description) if description.strip() else []},
        )
    requester = _chosen_requester(request, scope)
    org_mode = requester is None and request.GET.get("as") == "org"
    if requester is None and not org_mode:
        context = {"search": _requester_search(request, scope)}
        return render(request, "needs/manage/new_choose.html", context)
    form = NeedForm(
        request.POST or None,
        scope=scope,
        org_mode=org_mode,
        initial=_new_initial(request, requester),
    )
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            need = services.need_create(
                actor=request.user,
                scope=scope,
                data=form.need_input(),
                requester=requester,
                org=form.cleaned_data.get("org"),
            )
            messages.success(
                request,
                _("已发布需求 %(number)s“%(title)s”，请为其匹配志愿者。")
                % {"number": need.number, "title": need.title},
            )
            return to_detail(need)
    description = form["description"].value() or ""
    context = {
        "form": form,
        "requester": requester,
        "org_mode": org_mode,
        "change_url": _change_url(request),
        "suggestions": suggest_categories(description) if str(description).strip() else [],
        "suggest_target": SUGGEST_TARGET,
        "org_payments": [p.label for p in ORG_PAYMENTS],
    }
    return render_form(request, "needs/manage/new.html", context, form)


# --- the matching screen -----------------------------------------------------------------------


@dataclass
class RankedRow:
    """One ranked candidate as the matching screen shows it."""

    candidate: matching.Candidate
    volunteer: Any
    reasons: list[str]
    parts: list[dict[str, Any]]

    @property
    def points(self) -> int:
        return self.candidate.points


def _parts(candidate: matching.Candidate) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "label": label,
            "points": round(matching.WEIGHTS[name] * candidate.parts[name]),
            "weight": matching.WEIGHTS[name],
        }
        for name, label in PART_LABELS.items()
    ]


def _ranked(need: Need) -> list[RankedRow]:
    """The best candidates with their register entries (one query) and reasons."""
    ctx = matching.MatchContext.for_need(need)
    ranked = matching.rank(need, limit=RANKED_SHOWN, ctx=ctx)
    volunteers = manage_selectors.volunteers_by_id([c.volunteer_id for c in ranked])
    return [
        RankedRow(c, volunteers[c.volunteer_id], matching.explain(ctx, c), _parts(c))
        for c in ranked
        if c.volunteer_id in volunteers
    ]


def _events(need: Need) -> list[dict[str, Any]]:
    return [
        {
            "event": event,
            "label": EVENT_LABELS.get(event.verb, event.verb),
            "from_label": NeedStatus(event.from_status).label if event.from_status else "",
            "to_label": NeedStatus(event.to_status).label if event.to_status else "",
        }
        for event in selectors.need_events(need=need)
    ]


def _detail_context(request: HttpRequest, access: NeedAccess) -> dict[str, Any]:
    need = access.need
    can_manage = access.is_worker
    is_open = need.status == NeedStatus.OPEN
    invitations = list(selectors.need_invitations(need=need))
    applications = [
        i
        for i in invitations
        if i.kind == InvitationKind.APPLY and i.status == InvitationStatus.PENDING
    ]
    settling = need.status in (NeedStatus.AWAITING, NeedStatus.DISPUTED)
    return {
        "need": need,
        "access": access,
        "can_manage": can_manage,
        "is_open": is_open,
        "extra_categories": list(need.extra_categories.all()),
        "qualifications": list(need.qualifications.all()),
        "ranked": _ranked(need) if is_open else [],
        "invitations": invitations,
        "applications": applications if is_open else [],
        "unit_offers": list(
            selectors.unit_offers_for(need=need).prefetch_related("categories")[:RANKED_SHOWN]
        ),
        "events": _events(need),
        "thread": list(selectors.need_messages(need=need)),
        "can_broadcast": can_manage and is_open and need.urgency != Urgency.NORMAL,
        "broadcast_top": settings.HUZHU_MATCH_BROADCAST_TOP,
        "can_confirm": can_manage and settling,
        "confirm_form": ConfirmOnBehalfForm(
            initial={"minutes": need.actual_minutes or need.minutes}
        ),
        "needs_consent": need.payment == Payment.REQUESTER,
        "is_disputed": can_manage and need.status == NeedStatus.DISPUTED,
        "can_cancel": can_manage and need.status in (NeedStatus.OPEN, NeedStatus.MATCHED),
        "is_active": need.status in ACTIVE_NEED_STATUSES,
        "can_see_person": request_scope(request).can(Perm.PERSON_VIEW, need.org),
        "next_url": request.path,
    }


@require_safe
@login_required
def need_detail(request: HttpRequest, need_id: int) -> HttpResponse:
    """匹配: the need, the ranked volunteers and everything a worker does with them."""
    access = staff_access(request, need_id)
    return render(request, "needs/manage/detail.html", _detail_context(request, access))


def _names(volunteers: list[Any]) -> str:
    return "、".join(v.person.name for v in volunteers)


@require_POST
@login_required
def invite(request: HttpRequest, need_id: int) -> HttpResponse:
    access = staff_access(request, need_id)
    ids = [n for n in (_int(v) for v in request.POST.getlist("volunteer_id")) if n is not None]
    with refusal_shown(request):
        created = services.need_invite(actor=request.user, access=access, volunteer_ids=ids)
        if created:
            messages.success(
                request,
                _("已邀请 %(n)d 位志愿者：%(names)s。")
                % {"n": len(created), "names": _names([i.volunteer for i in created])},
            )
        else:
            messages.info(request, _("所选志愿者都已邀请过。"))
    return to_detail(access.need)


@require_POST
@login_required
def broadcast(request: HttpRequest, need_id: int) -> HttpResponse:
    access = staff_access(request, need_id)
    top = _int(request.POST.get("top"))
    with refusal_shown(request):
        created = services.need_broadcast(actor=request.user, access=access, top=top)
        messages.success(
            request,
            _("已向 %(n)d 位志愿者发出紧急广播，先接受者承接。") % {"n": len(created)},
        )
    return to_detail(access.need)


@require_POST
@login_required
def application_approve(request: HttpRequest, need_id: int, invitation_id: int) -> HttpResponse:
    access = staff_access(request, need_id)
    invitation = manage_selectors.application_get(need=access.need, invitation_id=invitation_id)
    with refusal_shown(request):
        services.application_approve(actor=request.user, access=access, invitation=invitation)
        messages.success(
            request,
            _("已确认由 %(name)s 承接此需求。") % {"name": invitation.volunteer.person.name},
        )
    return to_detail(access.need)


@require_POST
@login_required
def application_decline(request: HttpRequest, need_id: int, invitation_id: int) -> HttpResponse:
    access = staff_access(request, need_id)
    invitation = manage_selectors.application_get(need=access.need, invitation_id=invitation_id)
    with refusal_shown(request):
        services.invitation_decline(
            actor=request.user,
            invitation=invitation,
            reply=_posted(request, "reply", 200),
            access=access,
        )
        messages.success(
            request,
            _("已婉拒 %(name)s 的自荐。") % {"name": invitation.volunteer.person.name},
        )
    return to_detail(access.need)


@require_POST
@login_required
def dispute_return(request: HttpRequest, need_id: int) -> HttpResponse:
    access = staff_access(request, need_id)
    with refusal_shown(request):
        services.dispute_return(actor=request.user, access=access, note=_posted(request, "note"))
        messages.success(request, _("已退回志愿者继续服务，处理意见已发到留言。"))
    return to_detail(access.need)


@require_POST
@login_required
def dispute_close(request: HttpRequest, need_id: int) -> HttpResponse:
    access = staff_access(request, need_id)
    with refusal_shown(request):
        services.dispute_close(actor=request.user, access=access, note=_posted(request, "note"))
        messages.success(request, _("已关闭该需求，不计时长、不支付时间币。"))
    return to_detail(access.need)


# --- offers ------------------------------------------------------------------------------------


@dataclass
class OfferRow:
    offer: Any
    categories: list[Any]
    availability: str


@require_safe
@login_required
def offer_list(request: HttpRequest) -> HttpResponse:
    """服务供给: what volunteers and units in the area offer."""
    scope = request_scope(request)
    require_perm(scope, Perm.VIEW)
    form = OfferFilterForm(request.GET or None)
    rows = selectors.offer_list(scope=scope, **form.filters())
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = [
        OfferRow(offer, list(offer.categories.all()), describe(offer.availability))
        for offer in page.object_list
    ]
    context = {
        "form": form,
        "page": page,
        "results_target": OFFER_RESULTS_TARGET,
        "can_add": scope.can(Perm.NEED_MANAGE),
    }
    return render_results(
        request,
        page_template="needs/manage/offers.html",
        partial_template="needs/manage/_offer_results.html",
        target=OFFER_RESULTS_TARGET,
        context=context,
    )


@require_http_methods(GET_POST)
@login_required
@never_cache
def unit_offer_new(request: HttpRequest) -> HttpResponse:
    """登记单位服务: a unit's (or the community's) offer to residents."""
    scope = request_scope(request)
    require_perm(scope, Perm.NEED_MANAGE)
    form = UnitOfferForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            offer = services.offer_save(
                actor=request.user,
                org=form.cleaned_data["org"],
                scope=scope,
                data=form.offer_input(),
            )
            messages.success(
                request,
                _("已登记 %(org)s 的服务“%(title)s”。")
                % {"org": offer.org.name, "title": offer.title},
            )
            return redirect("needs:manage_offers")
    context = {
        "form": form,
        "grid": availability_grid(form.selected_slots()),
        "period_labels": PERIOD_LABELS,
        "has_orgs": form.fields["org"].queryset.exists(),
    }
    return render_form(request, "needs/manage/offer_form.html", context, form)
