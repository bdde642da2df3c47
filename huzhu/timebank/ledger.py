"""Posting to the ledger (DESIGN.md §4) — the only code that writes entries and balances.

One ``transaction.atomic()`` per transfer: lock the accounts with ``select_for_update`` in
ascending id order (no deadlocks between transfers that share accounts), re-check every
limit against the locked balances, insert the entries, update the balances. An idempotency
key makes a replay return the first transfer and move nothing. A refusal raises
``LedgerRefusal`` naming the rule and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.bulk import insert_rows, write_rows
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer

MAX_MINUTES = 10_000 * 60  # no single transfer moves more than 10,000 hours


class LedgerRefusal(ValidationError):
    """A transfer refused by a rule; ``rule`` names it (for the API's 4xx answer)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message, code=rule)
        self.rule = rule


@dataclass(frozen=True)
class Leg:
    account_id: int
    amount: int  # minutes; negative leaves the account, positive enters it


# A check run under the locks with the locked accounts by id (rules of the caller: cap,
# age, relation …). It raises LedgerRefusal to refuse.
LockedCheck = Callable[[dict[int, Account]], None]


def _user(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _validate_legs(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise LedgerRefusal("ledger.legs", _("一笔交易至少涉及两个账户。"))
    if any(leg.amount == 0 for leg in legs):
        raise LedgerRefusal("ledger.zero", _("交易金额不能为零。"))
    if sum(leg.amount for leg in legs) != 0:
        raise LedgerRefusal("ledger.balance", _("交易借贷不平衡。"))
    if any(abs(leg.amount) > MAX_MINUTES for leg in legs):
        raise LedgerRefusal("ledger.too_large", _("单笔交易不能超过 10000 小时。"))


def check_limits(accounts: dict[int, Account], changes: dict[int, int]) -> None:
    """The account-level backstop rules: active, not below the credit limit."""
    for account_id, change in changes.items():
        account = accounts[account_id]
        if not account.is_active:
            raise LedgerRefusal("account.inactive", _("账户“%(a)s”已停用。") % {"a": account})
        if account.kind == AccountKind.ISSUANCE or change >= 0:
            continue
        if account.balance + change < -account.credit_limit:
            raise LedgerRefusal(
                "balance.insufficient",
                _("余额不足：账户“%(a)s”余额 %(b)s 小时，本次需 %(n)s 小时。")
                % {
                    "a": account,
                    "b": hours(account.balance),
                    "n": hours(-change),
                },
            )


def hours(minutes: int) -> str:
    """Minutes as hours with up to two decimals (61 → "1.02"), so no two different amounts
    in one message read the same."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".")


def _lock(ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts ``SELECT … FOR UPDATE`` in ascending id order and return them by
    id. Plain SQL (this runs in every transfer) and only the account rows: a refusal's
    message loads the owner's name when it needs it."""
    ordered = sorted(ids)
    connection = connections[router.db_for_write(Account)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in Account._meta.concrete_fields)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        f"SELECT {columns} FROM {quote(Account._meta.db_table)} "
        f"WHERE {quote('id')} IN ({', '.join(['%s'] * len(ordered))}) ORDER BY {quote('id')}" + lock
    )
    return {a.pk: a for a in Account.objects.raw(sql, ordered)}


def _posted(key: str) -> Transfer | None:
    """The transfer already posted with ``key``, if any (one indexed lookup)."""
    connection = connections[router.db_for_write(Transfer)]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('id')} FROM {quote(Transfer._meta.db_table)} "
            f"WHERE {quote('idempotency_key')} = %s",
            [key],
        )
        row = cursor.fetchone()
    return Transfer.objects.get(pk=row[0]) if row else None


def post(
    *,
    kind: str,
    legs: Sequence[Leg],
    actor: Any = None,
    idempotency_key: str = "",
    memo: str = "",
    check: LockedCheck | None = None,
    **transfer_fields: Any,
) -> Transfer:
    """Post one balanced transfer. With a key already used, return that transfer unchanged
    (nothing moves twice). ``check`` runs under the locks for the caller's rules."""
    _validate_legs(legs)
    key = idempotency_key or f"auto:{uuid.uuid4().hex}"
    changes: dict[int, int] = defaultdict(int)
    for leg in legs:
        changes[leg.account_id] += leg.amount
    if idempotency_key:  # a fresh random key cannot have been used
        existing = _posted(key)
        if existing is not None:
            return _same_or_refuse(existing, changes)
    try:
        with transaction.atomic():
            accounts = _lock(changes)
            if len(accounts) != len(changes):
                raise LedgerRefusal("account.missing", _("账户不存在。"))
            check_limits(accounts, changes)
            if check is not None:
                check(accounts)
            transfer = _insert_transfer(
                Transfer(
                    kind=kind,
                    idempotency_key=key,
                    memo=memo[:200],
                    actor=_user(actor),
                    created_at=timezone.now(),
                    **transfer_fields,
                )
            )
            _write(transfer, legs, accounts)
    except IntegrityError:
        # Two requests with the same key raced: the loser returns the winner's transfer.
        existing = Transfer.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _same_or_refuse(existing, changes)
    return transfer


def _same_or_refuse(existing: Transfer, changes: dict[int, int]) -> Transfer:
    """A replay returns the first transfer — unless the key was used for different legs,
    which is a client's mistake, refused rather than silently answered with the old one."""
    posted: dict[int, int] = defaultdict(int)
    for account_id, amount in existing.entries.values_list("account_id", "amount"):
        posted[account_id] += amount
    if {k: v for k, v in posted.items() if v} != {k: v for k, v in changes.items() if v}:
        raise LedgerRefusal(
            "idempotency.mismatch", _("该幂等键已用于另一笔不同的转账，请使用新的幂等键。")
        )
    return existing


def _insert_transfer(transfer: Transfer) -> Transfer:
    """``INSERT … RETURNING id`` of a built transfer: one plain statement instead of the
    ``save()`` machinery (the hot path of every single transfer)."""
    fields = [f for f in Transfer._meta.concrete_fields if not f.primary_key]
    row = [getattr(transfer, f.attname) for f in fields]
    (transfer.pk,) = insert_rows(Transfer, [f.attname for f in fields], [row], returning=True)
    transfer._state.adding = False
    transfer._state.db = router.db_for_write(Transfer)
    return transfer


def _write(transfer: Transfer, legs: Sequence[Leg], accounts: dict[int, Account]) -> None:
    """Entries with running balances (one INSERT), then the new balances (one UPDATE);
    the caller holds the locks."""
    running = {pk: account.balance for pk, account in accounts.items()}
    entries = []
    for leg in legs:
        running[leg.account_id] += leg.amount
        entries.append(
            (transfer.pk, leg.account_id, leg.amount, running[leg.account_id], transfer.created_at)
        )
    insert_rows(Entry, ENTRY_COLUMNS, entries)
    changed = {pk: b for pk, b in running.items() if b != accounts[pk].balance}
    _set_balances(changed)
    for pk, balance in changed.items():
        accounts[pk].balance = balance


def _set_balances(balances: dict[int, int]) -> None:
    """``UPDATE … SET balance = CASE id WHEN … END``: every new balance in one statement."""
    if not balances:
        return
    connection = connections[router.db_for_write(Account)]
    quote = connection.ops.quote_name
    cases = " ".join(["WHEN %s THEN %s"] * len(balances))
    marks = ", ".join(["%s"] * len(balances))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Account._meta.db_table)} SET {quote('balance')} = "
            f"CASE {quote('id')} {cases} END WHERE {quote('id')} IN ({marks})",
            [x for pair in balances.items() for x in pair] + list(balances),
        )


TRANSFER_COLUMNS = (
    "kind",
    "idempotency_key",
    "memo",
    "actor_id",
    "on_behalf",
    "consent",
    "record_id",
    "created_at",
)
ENTRY_COLUMNS = ("transfer_id", "account_id", "amount", "balance_after", "created_at")


@dataclass(frozen=True)
class BatchItem:
    """One transfer of a batch (a shift's earnings): two legs and its own key."""

    debit_account_id: int
    credit_account_id: int
    minutes: int
    idempotency_key: str
    memo: str = ""
    record_id: int | None = None


def post_batch(
    *, kind: str, items: Sequence[BatchItem], actor: Any = None, at: dt.datetime | None = None
) -> int:
    """Post many two-leg transfers in one transaction with bulk inserts (an activity's
    confirmed records): lock every account once in id order, check the limits for the
    batch as a whole, skip items whose key was already posted. Returns how many posted.
    ``at`` dates the batch (the demo generator posts a past year in date order)."""
    items = [item for item in items if item.minutes > 0]
    if not items:
        return 0
    keys = [item.idempotency_key for item in items]
    with transaction.atomic():
        done = set(
            Transfer.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        items = [item for item in items if item.idempotency_key not in done]
        if not items:
            return 0
        changes: dict[int, int] = defaultdict(int)
        for item in items:
            changes[item.debit_account_id] -= item.minutes
            changes[item.credit_account_id] += item.minutes
        accounts = _lock(changes)
        if len(accounts) != len(changes):
            raise LedgerRefusal("account.missing", _("账户不存在。"))
        check_limits(accounts, changes)
        user = _user(actor)
        user_id = user.pk if user is not None else None
        now = at or timezone.now()
        # Plain rows, no model instances (COPY on PostgreSQL): a shift's 500 earnings are
        # 500 transfers and 1,000 entries.
        transfer_ids = write_rows(
            Transfer,
            TRANSFER_COLUMNS,
            [
                (
                    kind,
                    item.idempotency_key,
                    item.memo[:200],
                    user_id,
                    False,
                    "",
                    item.record_id,
                    now,
                )
                for item in items
            ],
            returning=True,
        )
        running = {pk: account.balance for pk, account in accounts.items()}
        entries = []
        for transfer_id, item in zip(transfer_ids, items, strict=True):
            for account_id, amount in (
                (item.debit_account_id, -item.minutes),
                (item.credit_account_id, item.minutes),
            ):
                running[account_id] += amount
                entries.append((transfer_id, account_id, amount, running[account_id], now))
        write_rows(Entry, ENTRY_COLUMNS, entries)
        _update_balances(changes)
    return len(items)


def _update_balances(changes: dict[int, int]) -> None:
    """Add each change to its balance: one UPDATE per distinct amount."""
    by_amount: dict[int, list[int]] = defaultdict(list)
    for pk, change in changes.items():
        if change:
            by_amount[change].append(pk)
    for change, ids in by_amount.items():
        Account.objects.filter(pk__in=ids).update(balance=F("balance") + change)


def reverse(
    *, transfer: Transfer, actor: Any, memo: str = "", check: LockedCheck | None = None
) -> Transfer:
    """冲正: post the mirror image of ``transfer`` (once; entries are never deleted)."""
    if transfer.kind == "reverse":
        raise LedgerRefusal("reverse.reverse", _("冲正交易不能再冲正。"))
    if Transfer.objects.filter(reversal_of=transfer).exists():
        raise LedgerRefusal("reverse.twice", _("该交易已冲正。"))
    legs = [Leg(e.account_id, -e.amount) for e in transfer.entries.all()]
    return post(
        kind="reverse",
        legs=legs,
        actor=actor,
        idempotency_key=f"reverse:{transfer.pk}",
        memo=memo or _("冲正 #%(n)d") % {"n": transfer.pk},
        reversal_of=transfer,
        check=check,
    )


# --- verification --------------------------------------------------------------------------


@dataclass
class Verification:
    accounts: int
    transfers: int
    entries: int
    total: int
    mismatched: list[tuple[int, str, int, int]]  # (account id, label, stored, from entries)
    unbalanced: list[tuple[int, int]]  # (transfer id, sum of its entries)

    @property
    def ok(self) -> bool:
        return self.total == 0 and not self.mismatched and not self.unbalanced


def verify() -> Verification:
    """Recompute every balance from the entries; check the global sum and each transfer."""
    sums = dict(
        Entry.objects.values("account_id").annotate(s=Sum("amount")).values_list("account_id", "s")
    )
    mismatched = []
    for account in Account.objects.select_related("person", "org").order_by("pk").iterator():
        from_entries = sums.get(account.pk, 0)
        if from_entries != account.balance:
            mismatched.append((account.pk, str(account), account.balance, from_entries))
    unbalanced = list(
        Entry.objects.values("transfer_id")
        .annotate(s=Sum("amount"))
        .exclude(s=0)
        .values_list("transfer_id", "s")
    )
    total = Entry.objects.aggregate(s=Sum("amount"))["s"] or 0
    return Verification(
        accounts=Account.objects.count(),
        transfers=Transfer.objects.count(),
        entries=Entry.objects.count(),
        total=total,
        mismatched=mismatched,
        unbalanced=unbalanced,
    )
