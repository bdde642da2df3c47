"""Writes of the worker's counter (柜台): the exchange catalogue (爱心超市) and its
redemptions, the time-bank rules of an org, and two-person adjustments (调账: requested,
then approved, rejected or withdrawn).

Every movement of credits goes through ``ledger.post``; a refusal raises ``LedgerRefusal``
(a ledger rule) or ``ValidationError`` (bad input, naming the field) and changes nothing.
Objects outside the actor's scope never reach these functions (the selectors answer 404);
an object the actor may see but not operate on is refused with ``PermissionDenied``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from huzhu.common.audit import log_action
from huzhu.common.services import counter_next
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank import ledger
from huzhu.timebank.ledger import LedgerRefusal, Leg
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Adjustment,
    AdjustmentStatus,
    ExchangeItem,
    ExchangeScope,
    Policy,
    Redemption,
    Transfer,
    TransferKind,
)
from huzhu.timebank.rules import exchange_root, rules_for
from huzhu.timebank.services import account_for_person, org_account, pay_for_help

MAX_QUANTITY = 99
MAX_STOCK = 1_000_000
MAX_ADJUST_MINUTES = ledger.MAX_MINUTES
RECEIPT_PREFIX = "DH"
CREDIT_LIMIT_BELOW_BALANCE = gettext_lazy("有账户当前余额低于新的透支额度，不能降低透支额度。")


def require_operate(scope: Scope, org: Org) -> None:
    if not scope.can(Perm.TIMEBANK_OPERATE, org):
        raise PermissionDenied(_("没有在该组织办理时间银行业务的权限。"))


# --- the exchange catalogue ------------------------------------------------------------------


@dataclass(frozen=True)
class ItemInput:
    name: str
    price_minutes: int
    stock: int
    description: str = ""
    is_active: bool = True


def _clean_item(data: ItemInput) -> ItemInput:
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name:
        errors["name"] = _("请填写物品名称。")
    elif len(name) > 100:
        errors["name"] = _("物品名称不能超过 100 个字。")
    if data.price_minutes < 1:
        errors["price_minutes"] = _("价格至少为 1 分钟。")
    elif data.price_minutes > ledger.MAX_MINUTES:
        errors["price_minutes"] = _("价格不能超过 10000 小时。")
    if data.stock < 0:
        errors["stock"] = _("库存不能为负数。")
    elif data.stock > MAX_STOCK:
        errors["stock"] = _("库存不能超过 1000000。")
    if len(data.description) > 200:
        errors["description"] = _("说明不能超过 200 个字。")
    if errors:
        raise ValidationError(errors)
    return ItemInput(
        name=name,
        price_minutes=data.price_minutes,
        stock=data.stock,
        description=data.description.strip(),
        is_active=data.is_active,
    )


def item_create(*, actor: Any, scope: Scope, org: Org, data: ItemInput) -> ExchangeItem:
    """A new item of ``org``'s exchange catalogue; audited."""
    require_operate(scope, org)
    data = _clean_item(data)
    with transaction.atomic():
        item = ExchangeItem.objects.create(
            org=org,
            name=data.name,
            description=data.description,
            price_minutes=data.price_minutes,
            stock=data.stock,
            is_active=data.is_active,
        )
        log_action(
            actor,
            "timebank.item_create",
            item,
            {"price_minutes": item.price_minutes, "stock": item.stock},
        )
    return item


def item_update(*, actor: Any, scope: Scope, item: ExchangeItem, data: ItemInput) -> ExchangeItem:
    """Change an item (name, price, stock, on sale); the row is locked so that a
    redemption running at the same time is not lost. Audited with what changed."""
    require_operate(scope, item.org)
    data = _clean_item(data)
    with transaction.atomic():
        locked = ExchangeItem.objects.select_for_update().get(pk=item.pk)
        changes = {}
        for name in ("name", "description", "price_minutes", "stock", "is_active"):
            old, new = getattr(locked, name), getattr(data, name)
            if old != new:
                changes[name] = [old, new]
                setattr(locked, name, new)
        if changes:
            locked.save(update_fields=list(changes))
            log_action(actor, "timebank.item_update", locked, changes)
    for name in ("name", "description", "price_minutes", "stock", "is_active"):
        setattr(item, name, getattr(locked, name))
    return item


# --- redemption at the counter ---------------------------------------------------------------


def next_receipt_number(today: Any = None) -> str:
    """ "DH" + year + 8 digits from the year's sequence (inside the caller's transaction:
    a refused redemption does not use up a number)."""
    year = (today or timezone.localdate()).year
    return f"{RECEIPT_PREFIX}{year}{counter_next(f'timebank.receipt.{year}'):08d}"


def _refuse_item(item: ExchangeItem, quantity: int) -> None:
    if not item.is_active:
        raise LedgerRefusal(
            "exchange.inactive", _("物品“%(name)s”已下架，不能兑换。") % {"name": item.name}
        )
    if item.stock < quantity:
        raise LedgerRefusal(
            "exchange.stock",
            _("库存不足：物品“%(name)s”仅剩 %(stock)d 件。")
            % {"name": item.name, "stock": item.stock},
        )


def redeem(
    *,
    actor: Any,
    scope: Scope,
    item: ExchangeItem,
    person: Person,
    quantity: int,
    idempotency_key: str = "",
) -> Redemption:
    """兑换: the member's credits go to the item org's pool, the stock goes down and a
    receipt number is given — all in one transaction, with the item row locked. Refused
    (nothing changed) when the item is off sale or out of stock, the balance is short, or
    the item's org is outside the member's 通存通兑 scope. A replay with the same key
    returns the first redemption."""
    require_operate(scope, item.org)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(
            {"quantity": _("数量须在 1 到 %(max)d 之间。") % {"max": MAX_QUANTITY}}
        )
    key = f"exchange:{idempotency_key}" if idempotency_key else ""
    if key:
        done = Redemption.objects.filter(transfer__idempotency_key=key).first()
        if done is not None:
            return done
    with transaction.atomic():
        locked = (
            ExchangeItem.objects.select_for_update(of=("self",))
            .select_related("org")
            .get(pk=item.pk)
        )
        if key:  # the same form sent twice at once: the second waited for the lock
            done = Redemption.objects.filter(transfer__idempotency_key=key).first()
            if done is not None:
                return done
        _refuse_item(locked, quantity)
        source = account_for_person(person)
        rules = rules_for(source.org)
        if not locked.org.path.startswith(exchange_root(source.org, rules.exchange_scope)):
            raise LedgerRefusal("exchange.scope", _("该兑换点不在本人时间币的通存通兑范围内。"))
        pool = org_account(locked.org, AccountKind.POOL)
        number = next_receipt_number()
        total = locked.price_minutes * quantity
        transfer = ledger.post(
            kind=TransferKind.EXCHANGE,
            legs=[Leg(source.pk, -total), Leg(pool.pk, total)],
            actor=actor,
            idempotency_key=key or f"exchange:{number}",
            memo=_("爱心超市兑换：%(name)s × %(n)d") % {"name": locked.name, "n": quantity},
        )
        locked.stock -= quantity
        locked.save(update_fields=["stock"])
        redemption = Redemption.objects.create(
            receipt_number=number,
            item=locked,
            person=person,
            quantity=quantity,
            total_minutes=total,
            transfer=transfer,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
        )
        log_action(
            actor,
            "timebank.redeem",
            redemption,
            {
                "item": locked.pk,
                "person": person.pk,
                "quantity": quantity,
                "minutes": total,
                "receipt": number,
            },
        )
    item.stock = locked.stock
    return redemption


# --- the rules of an org ---------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInput:
    """A policy's fields; ``None`` (or "" for the scope) inherits."""

    credit_limit_minutes: int | None = None
    balance_cap_minutes: int | None = None
    min_redeem_age: int | None = None
    family_includes_friends: bool | None = None
    expiry_months: int | None = None
    exchange_scope: str = ""
    earn_rates: dict[str, int] = field(default_factory=dict)


POLICY_FIELDS = (
    "credit_limit_minutes",
    "balance_cap_minutes",
    "min_redeem_age",
    "family_includes_friends",
    "expiry_months",
    "exchange_scope",
    "earn_rates",
)


def _clean_policy(data: PolicyInput) -> None:
    errors: dict[str, str] = {}
    limits = {
        "credit_limit_minutes": (ledger.MAX_MINUTES, _("透支额度不能超过 10000 小时。")),
        "balance_cap_minutes": (ledger.MAX_MINUTES, _("存储上限不能超过 10000 小时。")),
        "min_redeem_age": (120, _("最低兑换年龄须在 0 到 120 之间。")),
        "expiry_months": (600, _("有效期须在 0 到 600 个月之间。")),
    }
    for name, (top, message) in limits.items():
        value = getattr(data, name)
        if value is not None and not 0 <= value <= top:
            errors[name] = message
    if data.exchange_scope and data.exchange_scope not in ExchangeScope.values:
        errors["exchange_scope"] = _("请选择有效的通存通兑范围。")
    for category, rate in data.earn_rates.items():
        if not str(category).strip() or not 1 <= int(rate) <= 600:
            errors["earn_rates"] = _("各类别入账比例须为 1 到 600 分钟/小时。")
    if errors:
        raise ValidationError(errors)


def policy_set(*, actor: Any, scope: Scope, org: Org, data: PolicyInput) -> Policy:
    """Set the time-bank rules of ``org``'s subtree (empty fields inherit). A changed credit
    limit is copied onto the member accounts below ``org``; lowering it below a member's
    balance is refused. Audited with what changed."""
    require_operate(scope, org)
    _clean_policy(data)
    try:
        with transaction.atomic():
            policy = Policy.objects.select_for_update().filter(org=org).first()
            if policy is None:
                policy = Policy(org=org)
            changes = {}
            for name in POLICY_FIELDS:
                old, new = getattr(policy, name), getattr(data, name)
                if old != new:
                    changes[name] = [old, new]
                    setattr(policy, name, new)
            if not changes and policy.pk is not None:
                return policy
            policy.save()
            _copy_credit_limits(org)
            log_action(actor, "timebank.policy_set", policy, changes)
    except IntegrityError as exc:
        # a member's balance went below the new limit while it was being copied
        raise ValidationError({"credit_limit_minutes": CREDIT_LIMIT_BELOW_BALANCE}) from exc
    return policy


def _copy_credit_limits(org: Org) -> None:
    """Each member account below ``org`` takes the credit limit of its community's rules
    (one UPDATE per community; the CHECK constraint refuses a limit below a balance)."""
    org_ids = (
        Account.objects.filter(kind=AccountKind.PERSON, org__path__startswith=org.path)
        .values_list("org_id", flat=True)
        .distinct()
    )
    for community in Org.objects.filter(pk__in=list(org_ids)):
        limit = rules_for(community).credit_limit_minutes
        below = Account.objects.filter(
            kind=AccountKind.PERSON, org=community, balance__lt=-limit
        ).exists()
        if below:
            raise ValidationError({"credit_limit_minutes": CREDIT_LIMIT_BELOW_BALANCE})
        Account.objects.filter(kind=AccountKind.PERSON, org=community).exclude(
            credit_limit=limit
        ).update(credit_limit=limit)


# --- 代办 ---------------------------------------------------------------------------------


def pay_on_behalf(
    *,
    actor: Any,
    scope: Scope,
    payer: Person,
    helper: Person,
    minutes: int,
    consent: str,
    memo: str = "",
    idempotency_key: str = "",
) -> Transfer:
    """代办: a worker pays a helper on a resident's behalf, with the resident's consent
    recorded (``services.pay_for_help`` checks the rules); the worker must operate the
    time bank of the payer's community."""
    require_operate(scope, payer.org)
    return pay_for_help(
        actor=actor,
        payer=payer,
        helper=helper,
        minutes=minutes,
        memo=memo,
        idempotency_key=f"behalf:{idempotency_key}" if idempotency_key else "",
        on_behalf=True,
        consent=consent,
    )


# --- two-person adjustments ------------------------------------------------------------------


def _counter_account(account: Account) -> Account:
    """Where an adjustment's minutes come from or go to: the issuance account of the org
    the account belongs to."""
    if account.kind == AccountKind.ISSUANCE:
        raise LedgerRefusal("adjust.issuance", _("发行账户不能调账。"))
    return org_account(account.org, AccountKind.ISSUANCE)


def adjustment_request(
    *, actor: Any, scope: Scope, account: Account, minutes: int, reason: str
) -> Adjustment:
    """调账申请: ask for a correction of ``minutes`` (±) on ``account``; nothing moves until
    another person approves it."""
    require_operate(scope, account.org)
    errors: dict[str, str] = {}
    if minutes == 0:
        errors["minutes"] = _("调整时长不能为零。")
    elif abs(minutes) > MAX_ADJUST_MINUTES:
        errors["minutes"] = _("单笔调整不能超过 10000 小时。")
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = _("请填写调账原因。")
    elif len(reason) > 200:
        errors["reason"] = _("原因不能超过 200 个字。")
    if errors:
        raise ValidationError(errors)
    if account.kind == AccountKind.ISSUANCE:
        raise LedgerRefusal("adjust.issuance", _("发行账户不能调账。"))
    with transaction.atomic():
        adjustment = Adjustment.objects.create(
            account=account, minutes=minutes, reason=reason, requested_by=actor
        )
        log_action(
            actor,
            "timebank.adjust_request",
            adjustment,
            {"account": account.pk, "minutes": minutes, "reason": reason},
        )
    return adjustment


def adjustment_approve(*, actor: Any, scope: Scope, adjustment: Adjustment) -> Adjustment:
    """复核: a second person approves the adjustment and it is posted (kind "adjust", key
    ``adjust:<id>``, against the org's issuance account). The requester may not approve
    their own request; an adjustment is approved once."""
    require_operate(scope, adjustment.account.org)
    with transaction.atomic():
        locked = (
            Adjustment.objects.select_for_update(of=("self",))
            .select_related("account__org", "account__person")
            .get(pk=adjustment.pk)
        )
        if locked.transfer_id is not None:
            raise LedgerRefusal("adjust.done", _("该调账申请已复核入账。"))
        _refuse_closed(locked, approving=True)
        if locked.requested_by_id == getattr(actor, "pk", None):
            raise LedgerRefusal("adjust.two_person", _("调账须由申请人以外的另一名工作人员复核。"))
        account = locked.account
        other = _counter_account(account)
        transfer = ledger.post(
            kind=TransferKind.ADJUST,
            legs=[Leg(other.pk, -locked.minutes), Leg(account.pk, locked.minutes)],
            actor=locked.requested_by,
            idempotency_key=f"adjust:{locked.pk}",
            memo=(_("调账：%(reason)s") % {"reason": locked.reason})[:200],
            approved_by=actor,
        )
        locked.approved_by = actor
        locked.transfer = transfer
        locked.save(update_fields=["approved_by", "transfer"])
        log_action(
            actor,
            "timebank.adjust_approve",
            locked,
            {"account": account.pk, "minutes": locked.minutes, "transfer": transfer.pk},
        )
    adjustment.approved_by = locked.approved_by
    adjustment.transfer = locked.transfer
    return adjustment


def _refuse_closed(adjustment: Adjustment, *, approving: bool) -> None:
    """Refuse to act again on a request that was rejected or withdrawn."""
    status = adjustment.status
    if status == AdjustmentStatus.REJECTED:
        message = (
            _("该调账申请已被驳回，不能再复核入账。") if approving else _("该调账申请已被驳回。")
        )
        raise LedgerRefusal("adjust.rejected", message)
    if status == AdjustmentStatus.WITHDRAWN:
        message = (
            _("该调账申请已由申请人撤回，不能再复核入账。")
            if approving
            else _("该调账申请已由申请人撤回。")
        )
        raise LedgerRefusal("adjust.withdrawn", message)


def _clean_reject_reason(reason: str, *, withdraw: bool) -> str:
    reason = (reason or "").strip()
    if not reason:
        message = _("请填写撤回原因。") if withdraw else _("请填写驳回原因。")
        raise ValidationError({"reason": message})
    if len(reason) > 200:
        raise ValidationError({"reason": _("原因不能超过 200 个字。")})
    return reason


def adjustment_reject(
    *, actor: Any, scope: Scope, adjustment: Adjustment, reason: str
) -> Adjustment:
    """驳回 / 撤回: close a pending request without posting anything. Another worker rejects
    it; the requester withdraws their own. Both need a reason and are final; an approved
    request can be neither."""
    require_operate(scope, adjustment.account.org)
    actor_id = getattr(actor, "pk", None)
    with transaction.atomic():
        locked = (
            Adjustment.objects.select_for_update(of=("self",))
            .select_related("account__org")
            .get(pk=adjustment.pk)
        )
        if locked.transfer_id is not None:
            raise LedgerRefusal("adjust.done", _("该调账申请已复核入账，不能驳回或撤回。"))
        _refuse_closed(locked, approving=False)
        withdraw = locked.requested_by_id == actor_id
        locked.reject_reason = _clean_reject_reason(reason, withdraw=withdraw)
        locked.rejected_by = actor
        locked.rejected_at = timezone.now()
        locked.save(update_fields=["rejected_by", "rejected_at", "reject_reason"])
        log_action(
            actor,
            "timebank.adjust_withdraw" if withdraw else "timebank.adjust_reject",
            locked,
            {
                "account": locked.account_id,
                "minutes": locked.minutes,
                "reason": locked.reject_reason,
            },
        )
    adjustment.rejected_by = locked.rejected_by
    adjustment.rejected_at = locked.rejected_at
    adjustment.reject_reason = locked.reject_reason
    return adjustment


# --- the org flows export --------------------------------------------------------------------

FLOW_HEADERS = (
    "组织",
    "发行(小时)",
    "成员服务入账(小时)",
    "成员支付服务(小时)",
    "成员捐赠(小时)",
    "爱心超市兑换(小时)",
    "期末成员余额合计(小时)",
)
FLOW_SHEET = "时间银行资金流"
FLOW_WIDTHS = (28, 12, 18, 18, 14, 18, 22)


def _hours_cell(minutes: int) -> float:
    return round(minutes / 60, 2)


def _safe_text(ws: Any, value: str) -> Any:
    """A text cell that is never read as a formula."""
    if value[:1] in ("=", "+", "-", "@"):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def write_flows_xlsx(
    rows: list[Any], total: Any, *, start: Any, end: Any, exported_by: str, stream: BinaryIO
) -> int:
    """The flows table as .xlsx: row 1 the watermark (导出人, time, period; also the printed
    footer), row 2 the header, one row per org, then the total. Returns the org rows."""
    now = timezone.localtime()
    mark = (
        f"导出人：{exported_by} 时间：{now:%Y-%m-%d %H:%M} 期间：{start:%Y-%m-%d} 至 {end:%Y-%m-%d}"
    )
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(FLOW_SHEET)
    for index, width in enumerate(FLOW_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.oddFooter.center.text = mark
    ws.oddHeader.center.text = FLOW_SHEET
    ws.append([mark])
    ws.append(list(FLOW_HEADERS))
    for row in [*rows, total]:
        label = row.org.name if row.org is not None else "合计"
        ws.append([_safe_text(ws, label), *(_hours_cell(getattr(row, n)) for n in row.FIGURES)])
    workbook.save(stream)
    return len(rows)


def flows_export(*, actor: Any, scope: Scope, start: Any, end: Any, stream: BinaryIO) -> int:
    """Export the org flows the scope sees for the period; audited (``timebank.flows_export``
    with the period and the row count). Returns the number of org rows."""
    from huzhu.timebank.counter_selectors import org_flows

    rows, total = org_flows(scope=scope, start=start, end=end)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    exported_by = actor.get_username() if is_user else "系统"
    count = write_flows_xlsx(
        rows, total, start=start, end=end, exported_by=exported_by, stream=stream
    )
    log_action(
        actor,
        "timebank.flows_export",
        _single_root(scope),
        {"from": start.isoformat(), "to": end.isoformat(), "rows": count},
    )
    return count


def _single_root(scope: Scope) -> Org | None:
    """The org a one-community worker's export is filed under in the audit log."""
    roots = scope.roots(Perm.TIMEBANK_VIEW)
    if len(roots) != 1 or roots[0] == "/":
        return None
    return Org.objects.filter(path=roots[0]).first()
