"""The worker's time-bank counter (desktop): the exchange catalogue (爱心超市) and redemption
with a printable receipt, 代办 payment, the family verification queue, org flows with an
Excel export, the rules of an org, and two-person adjustments.

Views parse input, call one selector or service, and render. Reading needs
``TIMEBANK_VIEW``, anything that changes something ``TIMEBANK_OPERATE``; an object outside the
user's scope is a 404 (via the selectors); a service's refusal is shown next to the field it
names and changes nothing.
"""

from __future__ import annotations

import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.activities.manage_views import (
    refusal_on_form,
    refusal_shown,
    render_form,
    request_scope,
    require_perm,
)
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank import counter_selectors as selectors
from huzhu.timebank import counter_services as services
from huzhu.timebank.counter_forms import (
    AdjustmentForm,
    EvidenceForm,
    ItemFilterForm,
    ItemForm,
    MemberSearchForm,
    PayForm,
    PeriodForm,
    PolicyForm,
    RedeemForm,
    RejectForm,
)
from huzhu.timebank.counter_selectors import hours_text
from huzhu.timebank.models import Adjustment, AdjustmentStatus, ExchangeScope
from huzhu.timebank.rules import rules_for

PAGE_SIZE = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GET_POST = ["GET", "HEAD", "POST"]


def _scope(request: HttpRequest, perm: str = Perm.TIMEBANK_OPERATE) -> Scope:
    scope = request_scope(request)
    require_perm(scope, perm)
    return scope


def _page(request: HttpRequest, rows: Any) -> Any:
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    return page


def _with_hours(rows: list[Any], source: str, target: str) -> list[Any]:
    """Give each row ``target``: its ``source`` minutes as hours for the page."""
    for row in rows:
        setattr(row, target, hours_text(getattr(row, source)))
    return rows


def _balance(person: Person) -> str:
    account = getattr(person, "timebank_account", None)
    return hours_text(account.balance if account is not None else 0)


def _without(request: HttpRequest, *names: str) -> str:
    """This page's address without the given parameters (to choose someone else)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return f"?{query.urlencode()}" if query else request.path


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) < 12 else None


def _search(
    request: HttpRequest, scope: Scope, param: str, pick: str, *, volunteers: bool = False
) -> dict[str, Any]:
    """The member search box of a counter page (``?param=text``): its form and the
    candidates found, each with the address that picks them (``?pick=ID``)."""
    form = MemberSearchForm({"q": request.GET.get(param, "")})
    text = form.text()
    found = selectors.member_candidates(scope=scope, text=text, volunteers_only=volunteers)
    candidates = []
    for person in found:
        query = request.GET.copy()
        query.pop(param, None)
        query.pop("page", None)
        query[pick] = str(person.pk)
        account = getattr(person, "timebank_account", None)
        balance = selectors.hours_text(account.balance) if account is not None else None
        candidates.append({"person": person, "url": f"?{query.urlencode()}", "balance": balance})
    keep = [(k, v) for k, v in request.GET.items() if k not in (param, "page")]
    return {"form": form, "param": param, "text": text, "candidates": candidates, "keep": keep}


# --- the counter's start page ----------------------------------------------------------------


@require_safe
@login_required
def counter_home(request: HttpRequest) -> HttpResponse:
    scope = _scope(request, Perm.TIMEBANK_VIEW)
    can_operate = scope.can(Perm.TIMEBANK_OPERATE)
    context = {
        "can_operate": can_operate,
        "family_pending": selectors.family_queue(scope=scope).count() if can_operate else 0,
        "adjustments_pending": (
            selectors.adjustment_list(scope=scope, pending=True).count() if can_operate else 0
        ),
        "recent": _with_hours(
            list(selectors.redemption_list(scope=scope)[:10]), "total_minutes", "total_hours"
        ),
    }
    return render(request, "timebank/counter/home.html", context)


# --- the exchange catalogue ------------------------------------------------------------------


@require_safe
@login_required
def items(request: HttpRequest) -> HttpResponse:
    scope = _scope(request, Perm.TIMEBANK_VIEW)
    form = ItemFilterForm(request.GET or None, scope=scope)
    page = _page(request, selectors.item_list(scope=scope, org=form.chosen_org()))
    _with_hours(page.object_list, "price_minutes", "price_hours")
    context = {
        "form": form,
        "page": page,
        "can_operate": scope.can(Perm.TIMEBANK_OPERATE),
    }
    return render(request, "timebank/counter/items.html", context)


@require_http_methods(GET_POST)
@login_required
@never_cache
def item_create(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    form = ItemForm(request.POST or None, scope=scope)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            item = services.item_create(
                actor=request.user,
                scope=scope,
                org=form.cleaned_data["org"],
                data=form.item_input(),
            )
            messages.success(request, _("已添加物品“%(name)s”。") % {"name": item.name})
            return redirect("timebank:items")
    return render_form(
        request, "timebank/counter/item_form.html", {"form": form, "item": None}, form
    )


@require_http_methods(GET_POST)
@login_required
@never_cache
def item_edit(request: HttpRequest, item_id: int) -> HttpResponse:
    scope = _scope(request)
    item = selectors.item_get(scope=scope, item_id=item_id)
    form = ItemForm(request.POST or None, scope=scope, item=item)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            services.item_update(actor=request.user, scope=scope, item=item, data=form.item_input())
            messages.success(request, _("已保存物品“%(name)s”。") % {"name": item.name})
            return redirect("timebank:items")
    return render_form(
        request, "timebank/counter/item_form.html", {"form": form, "item": item}, form
    )


# --- redemption ------------------------------------------------------------------------------


def _chosen_member(
    request: HttpRequest, scope: Scope, name: str, *, volunteers: bool = False
) -> Person | None:
    """The member chosen from the candidates (``?name=ID``); a 404 outside the scope."""
    person_id = _int_param(request, name)
    if person_id is None:
        return None
    return selectors.member_get(scope=scope, person_id=person_id, volunteers_only=volunteers)


@require_http_methods(GET_POST)
@login_required
@never_cache
def redeem(request: HttpRequest) -> HttpResponse:
    """Find the member, then choose the item and quantity; a success goes to the receipt."""
    scope = _scope(request)
    person = _chosen_member(request, scope, "person")
    form = RedeemForm(request.POST or None, scope=scope)
    if request.method == "POST" and person is not None and form.is_valid():
        with refusal_on_form(form):
            redemption = services.redeem(
                actor=request.user,
                scope=scope,
                item=form.cleaned_data["item"],
                person=person,
                quantity=form.cleaned_data["quantity"],
                idempotency_key=form.key(),
            )
            messages.success(
                request, _("兑换成功，小票号 %(n)s。") % {"n": redemption.receipt_number}
            )
            return redirect("timebank:receipt", redemption_id=redemption.pk)
    context = {
        "search": _search(request, scope, "q", "person"),
        "person": person,
        "person_balance": _balance(person) if person is not None else "",
        "change_url": _without(request, "person"),
        "form": form,
    }
    return render_form(request, "timebank/counter/redeem.html", context, form)


@require_safe
@login_required
def redemptions(request: HttpRequest) -> HttpResponse:
    scope = _scope(request, Perm.TIMEBANK_VIEW)
    page = _page(request, selectors.redemption_list(scope=scope))
    _with_hours(page.object_list, "total_minutes", "total_hours")
    context = {"page": page}
    return render(request, "timebank/counter/redemptions.html", context)


@require_safe
@login_required
def receipt(request: HttpRequest, redemption_id: int) -> HttpResponse:
    scope = _scope(request, Perm.TIMEBANK_VIEW)
    found = selectors.receipt_get(scope=scope, redemption_id=redemption_id)
    context = {
        "redemption": found.redemption,
        "total_hours": hours_text(found.redemption.total_minutes),
        "balance_hours": hours_text(found.balance_after),
    }
    return render(request, "timebank/counter/receipt.html", context)


# --- 代办 ------------------------------------------------------------------------------------


@require_http_methods(GET_POST)
@login_required
@never_cache
def pay_on_behalf(request: HttpRequest) -> HttpResponse:
    """代办支付: choose the resident (payer) and the volunteer who helped (helper), then
    the hours and the resident's consent."""
    scope = _scope(request)
    payer = _chosen_member(request, scope, "payer")
    helper = _chosen_member(request, scope, "helper", volunteers=True)
    form = PayForm(request.POST or None)
    ready = payer is not None and helper is not None
    if request.method == "POST" and ready and form.is_valid():
        with refusal_on_form(form):
            transfer = services.pay_on_behalf(
                actor=request.user,
                scope=scope,
                payer=payer,
                helper=helper,
                minutes=form.minutes(),
                consent=form.cleaned_data["consent"],
                memo=form.cleaned_data["memo"],
                idempotency_key=form.cleaned_data.get("token") or "",
            )
            messages.success(
                request,
                _("已代 %(payer)s 向 %(helper)s 支付 %(hours)s 小时（交易 #%(n)d）。")
                % {
                    "payer": payer.name,
                    "helper": helper.name,
                    "hours": form.cleaned_data["hours"],
                    "n": transfer.pk,
                },
            )
            return redirect("timebank:pay")
    context = {
        "payer": payer,
        "helper": helper,
        "payer_balance": _balance(payer) if payer is not None else "",
        "helper_balance": _balance(helper) if helper is not None else "",
        "payer_change_url": _without(request, "payer"),
        "helper_change_url": _without(request, "helper"),
        "payer_search": _search(request, scope, "q_payer", "payer"),
        "helper_search": _search(request, scope, "q_helper", "helper", volunteers=True),
        "form": form,
        "ready": ready,
    }
    return render_form(request, "timebank/counter/pay.html", context, form)


# --- family verification ---------------------------------------------------------------------


@require_safe
@login_required
def family_queue(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    context = {
        "page": _page(request, selectors.family_queue(scope=scope)),
        "evidence_form": EvidenceForm(),
        "reject_form": RejectForm(),
    }
    return render(request, "timebank/counter/family.html", context)


@require_POST
@login_required
def family_verify(request: HttpRequest, link_id: int) -> HttpResponse:
    from huzhu.timebank import family_services

    scope = _scope(request)
    link = selectors.family_link_get(scope=scope, link_id=link_id)
    form = EvidenceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(form.errors["evidence"]))
        return redirect("timebank:family_queue")
    with refusal_shown(request):
        family_services.family_verify(
            actor=request.user, scope=scope, link=link, evidence=form.cleaned_data["evidence"]
        )
        messages.success(
            request,
            _("已核实 %(person)s 与 %(relative)s 的亲属关系。")
            % {"person": link.person.name, "relative": link.relative.name},
        )
    return redirect("timebank:family_queue")


@require_POST
@login_required
def family_reject(request: HttpRequest, link_id: int) -> HttpResponse:
    from huzhu.timebank import family_services

    scope = _scope(request)
    link = selectors.family_link_get(scope=scope, link_id=link_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(form.errors["reason"]))
        return redirect("timebank:family_queue")
    with refusal_shown(request):
        family_services.family_revoke(
            actor=request.user, scope=scope, link=link, reason=form.cleaned_data["reason"]
        )
        messages.success(
            request,
            _("已驳回 %(person)s 申报的亲属关系。") % {"person": link.person.name},
        )
    return redirect("timebank:family_queue")


# --- org flows -------------------------------------------------------------------------------


@require_safe
@login_required
def flows(request: HttpRequest) -> HttpResponse:
    scope = _scope(request, Perm.TIMEBANK_VIEW)
    form = PeriodForm(request.GET or None)
    start, end = form.period()
    rows, total = selectors.org_flows(scope=scope, start=start, end=end)
    context = {"form": form, "rows": rows, "total": total, "start": start, "end": end}
    return render(request, "timebank/counter/flows.html", context)


@require_safe
@login_required
@never_cache
def flows_export(request: HttpRequest) -> HttpResponse:
    """The flows table as .xlsx, watermarked and audited."""
    scope = _scope(request, Perm.TIMEBANK_VIEW)
    start, end = PeriodForm(request.GET or None).period()
    stream = io.BytesIO()
    services.flows_export(actor=request.user, scope=scope, start=start, end=end, stream=stream)
    filename = f"时间银行资金流-{start:%Y%m%d}-{end:%Y%m%d}.xlsx"
    response = HttpResponse(stream.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# --- rules -----------------------------------------------------------------------------------


@require_safe
@login_required
def policies(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    context = {"page": _page(request, selectors.policy_orgs(scope=scope))}
    return render(request, "timebank/counter/policies.html", context)


@require_http_methods(GET_POST)
@login_required
@never_cache
def policy_edit(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request)
    org = selectors.counter_org_get(scope=scope, org_id=org_id)
    policy = getattr(org, "timebank_policy", None)
    form = PolicyForm(request.POST or None, policy=policy)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            services.policy_set(actor=request.user, scope=scope, org=org, data=form.policy_input())
            messages.success(request, _("已保存“%(org)s”的时间银行规则。") % {"org": org.name})
            return redirect("timebank:policy_edit", org_id=org.pk)
    rules = rules_for(org)
    effective = {
        "credit_limit": hours_text(rules.credit_limit_minutes),
        "cap": hours_text(rules.balance_cap_minutes),
        "scope": ExchangeScope(rules.exchange_scope).label
        if rules.exchange_scope in ExchangeScope.values
        else rules.exchange_scope,
    }
    context = {"org": org, "form": form, "rules": rules, "effective": effective}
    return render_form(request, "timebank/counter/policy_form.html", context, form)


# --- adjustments -----------------------------------------------------------------------------


@require_safe
@login_required
def adjustments(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    pending = _adjustment_rows(list(selectors.adjustment_list(scope=scope, pending=True)[:100]))
    page = _page(request, selectors.adjustment_list(scope=scope, pending=False))
    _adjustment_rows(page.object_list)
    search = _search(request, scope, "q", "person")
    for candidate in search["candidates"]:
        account = getattr(candidate["person"], "timebank_account", None)
        candidate["url"] = (
            reverse("timebank:adjustment_request", kwargs={"account_id": account.pk})
            if account is not None
            else ""
        )
    context = {"pending": pending, "page": page, "search": search}
    return render(request, "timebank/counter/adjustments.html", context)


@require_http_methods(GET_POST)
@login_required
@never_cache
def adjustment_request(request: HttpRequest, account_id: int) -> HttpResponse:
    scope = _scope(request)
    account = selectors.account_get(scope=scope, account_id=account_id)
    form = AdjustmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with refusal_on_form(form):
            adjustment = services.adjustment_request(
                actor=request.user,
                scope=scope,
                account=account,
                minutes=form.cleaned_data["minutes"],
                reason=form.cleaned_data["reason"],
            )
            messages.success(
                request,
                _("已提交调账申请 #%(n)d，须由另一名工作人员复核后入账。") % {"n": adjustment.pk},
            )
            return redirect("timebank:adjustments")
    context = {
        "account": account,
        "account_label": _account_label(account),
        "balance": hours_text(account.balance),
        "form": form,
    }
    return render_form(request, "timebank/counter/adjustment_form.html", context, form)


@require_POST
@login_required
def adjustment_approve(request: HttpRequest, adjustment_id: int) -> HttpResponse:
    scope = _scope(request)
    adjustment = selectors.adjustment_get(scope=scope, adjustment_id=adjustment_id)
    with refusal_shown(request):
        services.adjustment_approve(actor=request.user, scope=scope, adjustment=adjustment)
        messages.success(request, _("调账申请 #%(n)d 已复核入账。") % {"n": adjustment.pk})
    return redirect("timebank:adjustments")


@require_POST
@login_required
def adjustment_reject(request: HttpRequest, adjustment_id: int) -> HttpResponse:
    """驳回 by another worker, or 撤回 by the requester (the service tells them apart)."""
    scope = _scope(request)
    adjustment = selectors.adjustment_get(scope=scope, adjustment_id=adjustment_id)
    reason = request.POST.get("reason", "")  # the service says when it is missing or too long
    with refusal_shown(request):
        done = services.adjustment_reject(
            actor=request.user, scope=scope, adjustment=adjustment, reason=reason
        )
        if done.status == AdjustmentStatus.WITHDRAWN:
            messages.success(request, _("调账申请 #%(n)d 已撤回。") % {"n": done.pk})
        else:
            messages.success(request, _("调账申请 #%(n)d 已驳回。") % {"n": done.pk})
    return redirect("timebank:adjustments")


def _account_label(account: Any) -> str:
    if account.person_id:
        return f"{account.person.name}（{account.person.id_number_masked}）"
    return str(account)


def _adjustment_rows(rows: list[Adjustment]) -> list[Adjustment]:
    for row in rows:
        row.account_label = _account_label(row.account)  # type: ignore[attr-defined]
        row.hours = hours_text(row.minutes, signed=True)  # type: ignore[attr-defined]
    return rows
