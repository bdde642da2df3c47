"""Statement downloads (对账单): Excel and PDF of one account over a month, a year or its
whole history (``?year=2025&month=3``; neither: everything up to today).

* ``statement.xlsx`` / ``statement.pdf`` — the signed-in member's own account, with their
  full name in the header; a user who is not a registered resident gets 404.
* ``accounts/<account_id>/statement.xlsx|pdf`` — any account in the user's
  ``TIMEBANK_VIEW`` scope (the holder's name masked); anything else is a 404.

Every download is audited (``timebank.statement_export``) with the format and the period.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from huzhu.common.audit import log_action
from huzhu.orgs.scope import Scope
from huzhu.timebank import services, statements
from huzhu.timebank.models import Account

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS: dict[str, tuple[str, Callable[[statements.Statement], bytes]]] = {
    "xlsx": (XLSX, statements.statement_xlsx),
    "pdf": ("application/pdf", statements.statement_pdf),
}
MIN_YEAR, MAX_YEAR = 2000, 2999


def _scope(request: HttpRequest) -> Scope:
    return request.scope  # type: ignore[attr-defined]


def _number(request: HttpRequest, name: str, low: int, high: int) -> int | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        label = _("年份") if name == "year" else _("月份")
        raise ValidationError(
            _("%(label)s应为 %(low)d 到 %(high)d 之间的整数")
            % {"label": label, "low": low, "high": high}
        )
    return int(raw)


def _period(request: HttpRequest, account: Account) -> statements.Period:
    year = _number(request, "year", MIN_YEAR, MAX_YEAR)
    month = _number(request, "month", 1, 12)
    return statements.period_of(account, year=year, month=month)


def _download(request: HttpRequest, account: Account, fmt: str, *, own: bool) -> HttpResponse:
    try:
        period = _period(request, account)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages), content_type="text/plain")
    content_type, render = FORMATS[fmt]
    statement = statements.statement_for(
        account, period, full_name=own, exported_by=request.user.get_username()
    )
    content = render(statement)
    log_action(
        request.user,
        "timebank.statement_export",
        account,
        {"format": fmt, "from": period.start.isoformat(), "to": period.end.isoformat()},
    )
    response = HttpResponse(content, content_type=content_type)
    filename = _("时间银行对账单-%(id)d-%(start)s-%(end)s.%(ext)s") % {
        "id": account.pk,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "ext": fmt,
    }
    response["Content-Disposition"] = content_disposition_header(fmt == "xlsx", filename)
    return response


def _own(request: HttpRequest, fmt: str) -> HttpResponse:
    person = statements.my_person(_scope(request))
    if person is None:
        raise Http404
    return _download(request, services.account_for_person(person), fmt, own=True)


def _other(request: HttpRequest, account_id: int, fmt: str) -> HttpResponse:
    scope = _scope(request)
    account = statements.account_get(scope=scope, account_id=account_id)
    return _download(request, account, fmt, own=statements.is_own(scope, account))


@require_safe
@login_required
@never_cache
def statement_xlsx(request: HttpRequest) -> HttpResponse:
    return _own(request, "xlsx")


@require_safe
@login_required
@never_cache
def statement_pdf(request: HttpRequest) -> HttpResponse:
    return _own(request, "pdf")


@require_safe
@login_required
@never_cache
def account_statement_xlsx(request: HttpRequest, account_id: int) -> HttpResponse:
    return _other(request, account_id, "xlsx")


@require_safe
@login_required
@never_cache
def account_statement_pdf(request: HttpRequest, account_id: int) -> HttpResponse:
    return _other(request, account_id, "pdf")
