"""The time bank over the API, mounted at ``/timebank``.

* ``GET /accounts/me`` — the caller's own account (opened on the first call) and the rules in
  force for it; 404 for a user who is not a registered resident.
* ``GET /accounts/{account_id}/entries`` and ``…/statement`` — an account's entries (newest
  first) and its monthly and yearly summary: the caller's own account, or any account in
  their ``TIMEBANK_VIEW`` scope; anything else answers 404 ``未找到``.
* ``POST /transfers`` — the caller moves their own credits: ``family`` (转赠 to a verified
  family member), ``donate`` (to their community's pool; ``to_person`` is ignored) or
  ``spend`` (paying a volunteer for help received).

Idempotency: ``idempotency_key`` is the caller's own (keys of different users never
collide). The first request with a key answers 201; a replay answers 200 with the same
transfer and ``"replayed": true`` and moves nothing. Reusing a key for a different
transfer is refused (rule ``idempotency.mismatch``).

A transfer refused by a rule answers 422 in the API's usual shape with the rule named::

    {"detail": [{"field": "minutes", "message": "余额不足：…"}], "rule": "balance.insufficient"}

Counterparties are shown by masked name (a person) or by org name (a pool, an issuer).
"""

import datetime as dt
from typing import Any, Literal

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.pagination import Pagination
from huzhu.api.types import ErrorOut, FieldErrorOut, ObjectId, Text200, ValidationErrorOut, text
from huzhu.people.models import Person
from huzhu.timebank import services, statements
from huzhu.timebank.ledger import MAX_MINUTES, LedgerRefusal, hours
from huzhu.timebank.models import Account, Entry, Transfer
from huzhu.timebank.rules import rules_for

router = Router(tags=["时间银行"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
KEY_PREFIX = "api"
Text64 = text(64)
TransferKindIn = Literal["family", "donate", "spend"]

# The request field a refused rule is about (anything else: "__all__").
RULE_FIELDS = {
    "amount.positive": "minutes",
    "ledger.too_large": "minutes",
    "balance.insufficient": "minutes",
    "balance.cap": "minutes",
    "transfer.relation": "to_person",
    "transfer.scope": "to_person",
    "transfer.self": "to_person",
    "transfer.recipient": "to_person",
    "spend.scope": "to_person",
    "spend.helper": "to_person",
    "idempotency.mismatch": "idempotency_key",
}


# --- output -------------------------------------------------------------------------------


class RulesOut(Schema):
    balance_cap_minutes: int = Field(description="存储上限（分钟，0 为不限）")
    min_redeem_age: int = Field(description="最低兑换年龄（0 为不限）")
    family_includes_friends: bool
    exchange_scope: str = Field(description="通存通兑范围：community、street、district、city")
    expiry_months: int = Field(description="有效期（月，0 为长期有效）")


class AccountOut(Schema):
    id: int
    kind: str
    balance_minutes: int
    balance_hours: str
    credit_limit_minutes: int
    rules: RulesOut


class EntryOut(Schema):
    id: int
    transfer_id: int
    kind: str
    kind_label: str
    memo: str
    amount_minutes: int = Field(description="正数为收入，负数为支出")
    balance_after_minutes: int
    counterparty: str = Field(description="对方：居民显示脱敏姓名，组织账户显示组织名称")
    created_at: dt.datetime

    @staticmethod
    def resolve_kind(obj: Entry) -> str:
        return obj.transfer.kind

    @staticmethod
    def resolve_kind_label(obj: Entry) -> str:
        return str(obj.transfer.get_kind_display())

    @staticmethod
    def resolve_memo(obj: Entry) -> str:
        return obj.transfer.memo

    @staticmethod
    def resolve_amount_minutes(obj: Entry) -> int:
        return obj.amount

    @staticmethod
    def resolve_balance_after_minutes(obj: Entry) -> int:
        return obj.balance_after

    @staticmethod
    def resolve_counterparty(obj: Entry) -> str:
        return statements.counterparty(obj)


class TransferOut(Schema):
    id: int
    kind: str
    kind_label: str
    minutes: int
    from_account: int
    to_account: int
    memo: str
    created_at: dt.datetime
    replayed: bool = Field(description="true：同一幂等键的重复请求，返回首次结果，未再次记账")


class RefusalOut(Schema):
    detail: list[FieldErrorOut]
    rule: str | None = Field(None, description="拒绝所依据的规则，如 balance.insufficient")


class MonthOut(Schema):
    year: int
    month: int
    in_minutes: int
    out_minutes: int
    net_minutes: int
    closing_minutes: int


class YearOut(Schema):
    year: int
    in_minutes: int
    out_minutes: int
    net_minutes: int
    closing_minutes: int


class StatementOut(Schema):
    account_id: int
    period_from: dt.date
    period_to: dt.date
    opening_minutes: int
    in_minutes: int
    out_minutes: int
    net_minutes: int
    closing_minutes: int
    months: list[MonthOut]
    years: list[YearOut]


# --- input --------------------------------------------------------------------------------


class TransferIn(Schema):
    kind: TransferKindIn = Field(
        description="family 转赠家人、donate 捐赠给社区互助池、spend 支付服务"
    )
    to_person: ObjectId | None = Field(
        None, description="收款居民 id（family、spend 必填；donate 忽略）"
    )
    minutes: int = Field(ge=1, le=MAX_MINUTES, description="时长（分钟）")
    memo: Text200 = ""
    idempotency_key: Text64 = Field(
        min_length=1, description="幂等键：重复提交同一键只记账一次（每个用户各自独立）"
    )


class StatementQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2999, description="年份（不填：全部）")
    month: int | None = Field(None, ge=1, le=12, description="月份（须同时指定年份）")


# --- helpers ------------------------------------------------------------------------------


def _me(request: HttpRequest) -> Person:
    person = statements.my_person(request.scope)
    if person is None:
        raise Http404
    return person


def refusal(rule: str, message: str) -> Status:
    field = RULE_FIELDS.get(rule, "__all__")
    return Status(422, {"detail": [{"field": field, "message": message}], "rule": rule})


def transfer_out(transfer: Transfer, *, replayed: bool) -> dict[str, Any]:
    legs = list(transfer.entries.all())
    return {
        "id": transfer.pk,
        "kind": transfer.kind,
        "kind_label": str(transfer.get_kind_display()),
        "minutes": sum(e.amount for e in legs if e.amount > 0),
        "from_account": next(e.account_id for e in legs if e.amount < 0),
        "to_account": next(e.account_id for e in legs if e.amount > 0),
        "memo": transfer.memo,
        "created_at": transfer.created_at,
        "replayed": replayed,
    }


def _recipient(payload: TransferIn, sender: Person) -> Person | None:
    """The receiving person for family and spend (a refusal names the rule); None for a
    donation. An unknown id is refused like someone who is not family, so ids reveal
    nothing."""
    if payload.kind == "donate":
        return None
    if payload.to_person is None:
        raise LedgerRefusal("transfer.recipient", _("请填写收款居民（to_person）"))
    if payload.to_person == sender.pk:
        raise LedgerRefusal("transfer.self", _("不能转给自己"))
    receiver = Person.objects.select_related("org").filter(pk=payload.to_person).first()
    if receiver is not None:
        return receiver
    if payload.kind == "family":
        return None  # services refuse: not a verified family member
    raise LedgerRefusal("spend.helper", _("服务提供者不存在"))


def _post(request: HttpRequest, payload: TransferIn, sender: Person, key: str) -> Transfer:
    receiver = _recipient(payload, sender)
    common = {
        "actor": request.user,
        "minutes": payload.minutes,
        "memo": payload.memo.strip(),
        "idempotency_key": key,
    }
    if payload.kind == "donate":
        return services.donate(sender=sender, **common)
    if payload.kind == "family":
        if receiver is None:
            raise LedgerRefusal(
                "transfer.relation", _("只能转赠给经社区核实的家庭成员（配偶、直系亲属）。")
            )
        return services.transfer_to_family(sender=sender, receiver=receiver, **common)
    return services.pay_for_help(payer=sender, helper=receiver, **common)


def _replay(transfer: Transfer, payload: TransferIn) -> Status:
    out = transfer_out(transfer, replayed=True)
    if transfer.kind != payload.kind or out["minutes"] != payload.minutes:
        return refusal(
            "idempotency.mismatch", _("该幂等键已用于另一笔交易，请为新交易使用新的幂等键")
        )
    return Status(200, out)


def _with_legs(transfer_id: int) -> Transfer:
    return Transfer.objects.prefetch_related("entries").get(pk=transfer_id)


# --- routes -------------------------------------------------------------------------------


@router.get("/accounts/me", response={200: AccountOut, **ERRORS}, summary="我的时间银行账户")
def my_account(request: HttpRequest) -> Any:
    account: Account = services.account_for_person(_me(request))
    rules = rules_for(account.org)
    return {
        "id": account.pk,
        "kind": account.kind,
        "balance_minutes": account.balance,
        "balance_hours": hours(account.balance),
        "credit_limit_minutes": account.credit_limit,
        "rules": {
            "balance_cap_minutes": rules.balance_cap_minutes,
            "min_redeem_age": rules.min_redeem_age,
            "family_includes_friends": rules.family_includes_friends,
            "exchange_scope": rules.exchange_scope,
            "expiry_months": rules.expiry_months,
        },
    }


@router.get(
    "/accounts/{account_id}/entries",
    response={200: list[EntryOut], **ERRORS},
    summary="账户流水（最新在前）",
)
@paginate(Pagination)
def account_entries(request: HttpRequest, account_id: ObjectId) -> Any:
    account = statements.account_get(scope=request.scope, account_id=account_id)
    return statements.account_entries(account)


@router.get(
    "/accounts/{account_id}/statement",
    response={200: StatementOut, **ERRORS},
    summary="账户汇总：按月、按年的收入、支出、净额和余额",
)
def account_statement(
    request: HttpRequest, account_id: ObjectId, filters: Query[StatementQuery]
) -> Any:
    account = statements.account_get(scope=request.scope, account_id=account_id)
    period = statements.period_of(account, year=filters.year, month=filters.month)
    summary = statements.summarize(account, period)
    return {
        "account_id": account.pk,
        "period_from": period.start,
        "period_to": period.end,
        "opening_minutes": summary.opening_minutes,
        "in_minutes": summary.in_minutes,
        "out_minutes": summary.out_minutes,
        "net_minutes": summary.net_minutes,
        "closing_minutes": summary.closing_minutes,
        "months": [{**vars(m), "net_minutes": m.net_minutes} for m in summary.months],
        "years": [{**vars(y), "net_minutes": y.net_minutes} for y in summary.years],
    }


@router.post(
    "/transfers",
    response={201: TransferOut, 200: TransferOut, **ERRORS, 422: RefusalOut},
    summary="转赠家人、捐赠或支付服务（幂等）",
)
def create_transfer(request: HttpRequest, payload: TransferIn) -> Any:
    sender = _me(request)
    key = f"{KEY_PREFIX}:{request.user.pk}:{payload.idempotency_key}"
    existing = Transfer.objects.prefetch_related("entries").filter(idempotency_key=key).first()
    if existing is not None:
        return _replay(existing, payload)
    try:
        transfer = _post(request, payload, sender, key)
    except LedgerRefusal as exc:
        return refusal(exc.rule, exc.messages[0])
    return Status(201, transfer_out(_with_legs(transfer.pk), replayed=False))
