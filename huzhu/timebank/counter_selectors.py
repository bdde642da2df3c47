"""Reads of the worker's counter, always through a ``Scope``: anything outside it is a 404,
exactly like a missing row. Lists cost a fixed number of queries however many rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.people.selectors import person_list
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Adjustment,
    Entry,
    ExchangeItem,
    FamilyLink,
    Redemption,
    TransferKind,
)

CANDIDATES_SHOWN = 10
# Orgs that run a counter and hold rules: accounts hang on communities, rules on any level.
COUNTER_KINDS = (OrgKind.CITY, OrgKind.DISTRICT, OrgKind.STREET, OrgKind.COMMUNITY)


def counter_orgs(*, scope: Scope) -> QuerySet[Org]:
    """Orgs where the user may operate the time bank (catalogue, rules)."""
    return (
        Org.objects.within(scope, Perm.TIMEBANK_OPERATE)
        .filter(kind__in=COUNTER_KINDS, is_active=True)
        .order_by("path")
    )


def counter_org_get(*, scope: Scope, org_id: int) -> Org:
    return get_object_or_404(counter_orgs(scope=scope), pk=org_id)


# --- the catalogue ---------------------------------------------------------------------------


def item_list(*, scope: Scope, org: Org | None = None, active_only: bool = False) -> QuerySet:
    qs = ExchangeItem.objects.within(scope, Perm.TIMEBANK_VIEW).select_related("org")
    if org is not None:
        qs = qs.filter(org=org)
    if active_only:
        qs = qs.filter(is_active=True, stock__gt=0)
    return qs.order_by("org__path", "name", "id")


def item_get(*, scope: Scope, item_id: int, perm: str = Perm.TIMEBANK_OPERATE) -> ExchangeItem:
    qs = ExchangeItem.objects.within(scope, perm).select_related("org")
    return get_object_or_404(qs, pk=item_id)


def redeemable_items(*, scope: Scope) -> QuerySet[ExchangeItem]:
    """Items on sale and in stock that the user may hand out."""
    return (
        ExchangeItem.objects.within(scope, Perm.TIMEBANK_OPERATE)
        .filter(is_active=True, stock__gt=0)
        .select_related("org")
        .order_by("org__path", "name", "id")
    )


# --- members ---------------------------------------------------------------------------------


def _members(scope: Scope) -> QuerySet[Person]:
    return Person.objects.within(scope, Perm.TIMEBANK_OPERATE)


def member_candidates(*, scope: Scope, text: str, volunteers_only: bool = False) -> list[Person]:
    """Residents the user serves at the counter matching a name, pinyin (initials) or the
    last digits of the ID number; with their account (``timebank_account``) loaded."""
    text = (text or "").strip()[:30]
    if not text:
        return []
    qs = person_list(scope=scope, search=text).filter(scope.q("org__path", Perm.TIMEBANK_OPERATE))
    if volunteers_only:
        qs = qs.filter(volunteer__isnull=False)
    return list(qs.select_related("timebank_account")[:CANDIDATES_SHOWN])


def member_get(*, scope: Scope, person_id: int, volunteers_only: bool = False) -> Person:
    qs = _members(scope).select_related("org", "timebank_account")
    if volunteers_only:
        qs = qs.filter(volunteer__isnull=False)
    return get_object_or_404(qs.defer("id_number_encrypted", "phone_encrypted"), pk=person_id)


def account_get(*, scope: Scope, account_id: int) -> Account:
    qs = Account.objects.within(scope, Perm.TIMEBANK_OPERATE).select_related("org", "person")
    return get_object_or_404(qs, pk=account_id)


# --- redemptions -----------------------------------------------------------------------------


def redemption_list(*, scope: Scope) -> QuerySet[Redemption]:
    return (
        Redemption.objects.within(scope, Perm.TIMEBANK_VIEW)
        .select_related("item__org", "person", "actor")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class Receipt:
    redemption: Redemption
    balance_after: int  # the member's balance right after the redemption (minutes)


def receipt_get(*, scope: Scope, redemption_id: int) -> Receipt:
    redemption = get_object_or_404(
        Redemption.objects.within(scope, Perm.TIMEBANK_VIEW).select_related(
            "item__org", "person__org", "actor", "transfer"
        ),
        pk=redemption_id,
    )
    balance_after = (
        Entry.objects.filter(
            transfer_id=redemption.transfer_id, account__person_id=redemption.person_id
        )
        .values_list("balance_after", flat=True)
        .first()
    )
    return Receipt(redemption=redemption, balance_after=balance_after or 0)


# --- family links ----------------------------------------------------------------------------


def family_queue(*, scope: Scope) -> QuerySet[FamilyLink]:
    """Declared family links waiting for a worker's check, oldest first."""
    return (
        FamilyLink.objects.within(scope, Perm.TIMEBANK_OPERATE)
        .filter(verified_at__isnull=True, revoked_at__isnull=True)
        .select_related("person__org", "relative__org", "declared_by")
        .order_by("declared_at", "id")
    )


def family_link_get(*, scope: Scope, link_id: int) -> FamilyLink:
    qs = FamilyLink.objects.within(scope, Perm.TIMEBANK_OPERATE).select_related(
        "person__org", "relative__org"
    )
    return get_object_or_404(qs, pk=link_id)


# --- rules -----------------------------------------------------------------------------------


def policy_orgs(*, scope: Scope) -> QuerySet[Org]:
    """Counter orgs with their own policy (if any) loaded as ``timebank_policy``."""
    return counter_orgs(scope=scope).select_related("timebank_policy")


# --- adjustments -----------------------------------------------------------------------------


def adjustment_list(*, scope: Scope, pending: bool) -> QuerySet[Adjustment]:
    """Pending requests (neither approved nor rejected/withdrawn), oldest first; or the
    closed ones — approved, rejected and withdrawn (see ``Adjustment.status``) — newest
    first."""
    open_ = Q(transfer__isnull=True, rejected_at__isnull=True)
    qs = (
        Adjustment.objects.within(scope, Perm.TIMEBANK_OPERATE)
        .filter(open_ if pending else ~open_)
        .select_related(
            "account__org", "account__person", "requested_by", "approved_by", "rejected_by"
        )
    )
    return qs.order_by("requested_at", "id") if pending else qs.order_by("-requested_at", "-id")


def adjustment_get(*, scope: Scope, adjustment_id: int) -> Adjustment:
    qs = Adjustment.objects.within(scope, Perm.TIMEBANK_OPERATE).select_related(
        "account__org", "account__person", "requested_by"
    )
    return get_object_or_404(qs, pk=adjustment_id)


# --- org flows -------------------------------------------------------------------------------


@dataclass
class FlowRow:
    """One org's time-bank flows over a period, in minutes."""

    org: Org | None  # None: the total row
    issued: int = 0  # credits created by the org (minus its issuance account's change)
    earned: int = 0  # credited to its members for service
    spent: int = 0  # paid by its members for help received
    donated: int = 0  # given by its members to a pool
    redeemed: int = 0  # spent by its members at an exchange counter
    liability: int = 0  # its members' balances at the end of the period

    FIGURES = ("issued", "earned", "spent", "donated", "redeemed", "liability")

    @property
    def texts(self) -> list[str]:
        """The figures in hours, in the order of ``FIGURES``."""
        return [hours_text(getattr(self, name)) for name in self.FIGURES]

    def add(self, other: FlowRow) -> None:
        for name in self.FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, the day after end 00:00) in local time."""
    begin = timezone.make_aware(dt.datetime.combine(start, dt.time.min))
    after = timezone.make_aware(dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min))
    return begin, after


# (account kind, transfer kind) → the figure an entry's amount counts towards, and its sign
_MEMBER_OUT = {
    TransferKind.SPEND: "spent",
    TransferKind.DONATE: "donated",
    TransferKind.EXCHANGE: "redeemed",
}


def org_flows(*, scope: Scope, start: dt.date, end: dt.date) -> tuple[list[FlowRow], FlowRow]:
    """Per org with accounts in scope: issued, earned, spent, donated and redeemed between
    ``start`` and ``end`` (inclusive), and the members' balances at the end. Returns the rows
    (by org path) and their total. Five queries however many orgs and entries."""
    begin, after = period_bounds(start, end)
    org_ids = list(
        Account.objects.within(scope, Perm.TIMEBANK_VIEW)
        .values_list("org_id", flat=True)
        .distinct()
    )
    orgs = list(Org.objects.filter(pk__in=org_ids).order_by("path"))
    rows = {org.pk: FlowRow(org=org) for org in orgs}
    sums = (
        Entry.objects.filter(
            account__org_id__in=org_ids, created_at__gte=begin, created_at__lt=after
        )
        .values_list("account__org_id", "account__kind", "transfer__kind")
        .annotate(
            plus=Sum("amount", filter=Q(amount__gt=0)),
            minus=Sum("amount", filter=Q(amount__lt=0)),
        )
        .order_by()
    )
    for org_id, account_kind, transfer_kind, plus, minus in sums:
        row = rows[org_id]
        plus, minus = plus or 0, minus or 0
        if account_kind == AccountKind.ISSUANCE:
            row.issued -= plus + minus
        elif account_kind == AccountKind.PERSON:
            if transfer_kind == TransferKind.EARN:
                row.earned += plus + minus
            elif transfer_kind in _MEMBER_OUT:
                name = _MEMBER_OUT[transfer_kind]
                setattr(row, name, getattr(row, name) - minus)
    for org_id, balance in _member_balances_at(org_ids, after).items():
        rows[org_id].liability = balance
    total = FlowRow(org=None)
    result = [rows[org.pk] for org in orgs]
    for row in result:
        total.add(row)
    return result, total


def _member_balances_at(org_ids: list[int], moment: dt.datetime) -> dict[int, int]:
    """Sum of the member balances of each org just before ``moment``: today's balances less
    what was posted since."""
    balances: dict[int, int] = defaultdict(int)
    for org_id, total in (
        Account.objects.filter(kind=AccountKind.PERSON, org_id__in=org_ids)
        .values_list("org_id")
        .annotate(s=Sum("balance"))
        .order_by()
    ):
        balances[org_id] += total or 0
    for org_id, later in (
        Entry.objects.filter(
            account__kind=AccountKind.PERSON, account__org_id__in=org_ids, created_at__gte=moment
        )
        .values_list("account__org_id")
        .annotate(s=Sum("amount"))
        .order_by()
    ):
        balances[org_id] -= later or 0
    return dict(balances)


def hours_text(minutes: int, signed: bool = False) -> str:
    """Minutes as hours for the counter's pages, to two decimals: "1.5", "2", "1.25"."""
    sign = "-" if minutes < 0 else ("+" if signed and minutes > 0 else "")
    value = round(abs(minutes) / 60, 2)
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{sign}{text}"
