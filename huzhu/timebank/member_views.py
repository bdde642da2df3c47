"""The member's time-bank pages (phones first, large type): balance, statement (流水),
family links, transfer to family, donation to the community pool.

Every page is the signed-in user's own: the member is the resident record linked to the
login (``scope.person_id``); nothing here takes another person's id. A user without a
resident record sees a friendly page (GET) or a 404 (POST).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from huzhu.common.identity import mask_name
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank import family_services, selectors, services
from huzhu.timebank.forms import (
    AmountForm,
    DonateForm,
    FamilyDeclareForm,
    StatementFilterForm,
    TransferForm,
    new_form_key,
)
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import FamilyLink, Transfer

PAGE_SIZE = 20
GET_OR_POST = ["GET", "HEAD", "POST"]


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def member_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page of the signed-in member, passed to the view after the request. Without a
    resident record a GET shows the not-a-member page and a POST is a 404."""

    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        person = selectors.member_person(scope=_scope(request))
        if person is None:
            if request.method == "POST":
                raise Http404
            return render(request, "timebank/me/not_member.html")
        return view(request, person, *args, **kwargs)

    return page


def _error_text(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(str(m) for m in exc.messages)
    return str(exc) or _("没有权限进行该操作。")


def _ledger_key(request: HttpRequest, purpose: str, form_key: str) -> str:
    """The ledger's idempotency key of one form rendering, private to the user."""
    return f"member:{request.user.pk}:{purpose}:{form_key}"


# --- balance and statement -------------------------------------------------------------------


@require_safe
@login_required
@member_page
def home(request: HttpRequest, person: Person) -> HttpResponse:
    """我的时间银行: balance, this month in and out, the latest entries."""
    account = selectors.member_account(person=person)
    month = selectors.this_month()
    flow = selectors.month_flow(account=account, year=month.year, month=month.month)
    return render(
        request,
        "timebank/me/home.html",
        {
            "person": person,
            "account": account,
            "balance_text": selectors.duration(account.balance if account else 0),
            "flow": flow,
            "entries": selectors.recent_entries(account=account),
        },
    )


@require_safe
@login_required
@member_page
def statement(request: HttpRequest, person: Person) -> HttpResponse:
    """流水: every entry with the balance after it, by year and month, with summaries."""
    account = selectors.member_account(person=person)
    years = selectors.statement_years(account=account)
    form = StatementFilterForm(request.GET or None, years=years)
    year, month = form.period()
    entries = selectors.statement_entries(account=account, year=year, month=month)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    if account is not None:
        page.object_list = selectors.describe(list(page.object_list), account)
    summary_year = year or (years[0] if years else None)
    monthly = selectors.monthly_summary(account=account, year=summary_year) if summary_year else []
    return render(
        request,
        "timebank/me/statement.html",
        {
            "account": account,
            "balance_text": selectors.duration(account.balance if account else 0),
            "form": form,
            "page": page,
            "query": urlencode({k: v for k, v in (("year", year), ("month", month)) if v}),
            "summary_year": summary_year,
            "monthly": monthly,
            "yearly": selectors.yearly_summary(account=account),
        },
    )


# --- family ----------------------------------------------------------------------------------


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
@member_page
def family(request: HttpRequest, person: Person) -> HttpResponse:
    """我的家人: declared relations with their status, and the declare form."""
    form = FamilyDeclareForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            link = family_services.family_declare(
                actor=request.user,
                person=person,
                relative_id_number=form.cleaned_data["relative_id_number"],
                relation=form.cleaned_data["relation"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                _("已申报：%(name)s 是您的%(relation)s。社区工作人员核实后即可转赠。")
                % {
                    # Masked until verified: a typed number must not reveal its owner.
                    "name": mask_name(link.relative.name),
                    "relation": link.get_relation_display(),
                },
            )
            return redirect("timebank:family")
    return render(
        request,
        "timebank/me/family.html",
        {"form": form, "rows": selectors.family_rows(person=person), "open_form": form.is_bound},
    )


@require_POST
@login_required
@never_cache
@member_page
def family_revoke(request: HttpRequest, person: Person, link_id: int) -> HttpResponse:
    """The member withdraws a relation they declared; anyone else's link is a 404."""
    link = get_object_or_404(
        FamilyLink.objects.select_related("person__org"), pk=link_id, person=person
    )
    try:
        family_services.family_revoke(actor=request.user, link=link)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("已撤销该亲属关系。"))
    return redirect("timebank:family")


# --- transfer and donation -------------------------------------------------------------------


def _fresh_key(form: AmountForm) -> None:
    """Give a re-rendered form a valid key again when the posted one was unusable."""
    if not form.has_valid_key:
        data = form.data.copy()
        data["key"] = new_form_key()
        form.data = data


def _amount_page(
    request: HttpRequest,
    form: AmountForm,
    purpose: str,
    post: Callable[[AmountForm, str], Transfer],
    done: Callable[[AmountForm], str],
) -> HttpResponse | None:
    """The POST half shared by transfer and donate: a replayed key moves nothing, a refusal
    is shown on the form and changes nothing; success redirects home."""
    if not form.is_valid():
        _fresh_key(form)
        return None
    key = _ledger_key(request, purpose, form.cleaned_data["key"])
    if selectors.transfer_by_key(key) is not None:  # a second submit of the same page
        messages.info(request, _("这笔已经提交过了，没有重复扣减。"))
        return redirect("timebank:home")
    try:
        # A refusal also rolls back an account the service opened on the way.
        with transaction.atomic():
            post(form, key)
    except LedgerRefusal as exc:
        form.add_error(None, exc.messages)
        form.refusal_rule = exc.rule  # type: ignore[attr-defined]
        return None
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None
    messages.success(request, done(form))
    return redirect("timebank:home")


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
@member_page
def transfer(request: HttpRequest, person: Person) -> HttpResponse:
    """转赠家人: to a relative whose relation the community has verified."""
    rows = selectors.transfer_choices(person=person)
    relatives = {row.relative.pk: row for row in rows}
    if request.method == "POST":
        form = TransferForm(request.POST, rows=rows)

        def post(valid: AmountForm, key: str) -> Transfer:
            row = relatives[valid.cleaned_data["relative"]]
            return services.transfer_to_family(
                actor=request.user,
                sender=person,
                receiver=row.relative,
                minutes=valid.minutes,
                memo=valid.cleaned_data["memo"],
                idempotency_key=key,
            )

        def done(valid: AmountForm) -> str:
            row = relatives[valid.cleaned_data["relative"]]
            return _("已转赠 %(hours)s 给%(relation)s %(name)s。") % {
                "hours": selectors.duration(valid.minutes),
                "relation": row.relation_label,
                "name": row.relative_name,
            }

        response = _amount_page(request, form, "transfer", post, done)
        if response is not None:
            return response
    else:
        form = TransferForm(initial={"key": new_form_key()}, rows=rows)
    account = selectors.member_account(person=person)
    return render(
        request,
        "timebank/me/transfer.html",
        {
            "form": form,
            "has_verified": any(row.status == "verified" for row in rows),
            "balance_text": selectors.duration(account.balance if account else 0),
        },
    )


@require_http_methods(GET_OR_POST)
@login_required
@never_cache
@member_page
def donate(request: HttpRequest, person: Person) -> HttpResponse:
    """捐赠: to the community's mutual-aid pool (互助池)."""
    if request.method == "POST":
        form = DonateForm(request.POST)

        def post(valid: AmountForm, key: str) -> Transfer:
            return services.donate(
                actor=request.user,
                sender=person,
                minutes=valid.minutes,
                memo=valid.cleaned_data["memo"],
                idempotency_key=key,
            )

        def done(valid: AmountForm) -> str:
            return _("已向社区互助池捐赠 %(hours)s，谢谢您！") % {
                "hours": selectors.duration(valid.minutes)
            }

        response = _amount_page(request, form, "donate", post, done)
        if response is not None:
            return response
    else:
        form = DonateForm(initial={"key": new_form_key()})
    account = selectors.member_account(person=person)
    return render(
        request,
        "timebank/me/donate.html",
        {"form": form, "balance_text": selectors.duration(account.balance if account else 0)},
    )
