"""Reads of the member's side of the time bank: balance, statement (流水) with running
balance, monthly and yearly summaries, family links. Every function takes the member's own
person or account; callers never pass anyone else's."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet, Sum
from django.db.models.functions import ExtractMonth, ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.identity import mask_name
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank.models import Account, AccountKind, Entry, FamilyLink, Relation, Transfer

RECENT = 10

# What the person is to the relative, for a link declared the other way round.
INVERSE_RELATION = {
    Relation.SPOUSE: Relation.SPOUSE,
    Relation.PARENT: Relation.CHILD,
    Relation.CHILD: Relation.PARENT,
    Relation.GRANDPARENT: Relation.GRANDCHILD,
    Relation.GRANDCHILD: Relation.GRANDPARENT,
    Relation.SIBLING: Relation.SIBLING,
    Relation.FRIEND: Relation.FRIEND,
}


def duration(minutes: int, signed: bool = False) -> str:
    """Minutes as people read them: "1.5 小时", "1 小时 40 分钟", "+2 小时" (exact, never
    rounded: a statement must add up)."""
    sign = "-" if minutes < 0 else ("+" if signed and minutes > 0 else "")
    value = abs(minutes)
    if value % 6 == 0:  # a whole tenth of an hour
        whole, tenths = divmod(value // 6, 10)
        number = f"{whole}" if tenths == 0 else f"{whole}.{tenths}"
        return _("%(sign)s%(h)s 小时") % {"sign": sign, "h": number}
    hours, rest = divmod(value, 60)
    if hours == 0:
        return _("%(sign)s%(m)d 分钟") % {"sign": sign, "m": rest}
    return _("%(sign)s%(h)d 小时 %(m)d 分钟") % {"sign": sign, "h": hours, "m": rest}


# --- the member and their account ---------------------------------------------------------


def member_person(*, scope: Scope) -> Person | None:
    """The signed-in user's own resident record, or None (a worker without one)."""
    if scope.person_id is None:
        return None
    return Person.objects.select_related("org").filter(pk=scope.person_id).first()


def member_account(*, person: Person) -> Account | None:
    """The person's account if opened (reads never open one)."""
    return Account.objects.filter(person=person).first()


@dataclass(frozen=True)
class Flow:
    """Credits in and out of an account over a period (minutes, both ≥ 0)."""

    year: int
    month: int | None
    inflow: int
    outflow: int

    @property
    def net(self) -> int:
        return self.inflow - self.outflow

    @property
    def label(self) -> str:
        if self.month is None:
            return _("%(y)d年") % {"y": self.year}
        return _("%(y)d年%(m)d月") % {"y": self.year, "m": self.month}

    @property
    def inflow_text(self) -> str:
        return duration(self.inflow)

    @property
    def outflow_text(self) -> str:
        return duration(self.outflow)

    @property
    def net_text(self) -> str:
        return duration(self.net, signed=True)


_IN = Sum("amount", filter=Q(amount__gt=0))
_OUT = Sum("amount", filter=Q(amount__lt=0))


def _entries(account: Account | None) -> QuerySet[Entry]:
    if account is None:
        return Entry.objects.none()
    return Entry.objects.filter(account=account)


def month_flow(*, account: Account | None, year: int, month: int) -> Flow:
    """In and out for one calendar month (local time)."""
    totals = _entries(account).filter(created_at__year=year, created_at__month=month)
    row = totals.aggregate(inflow=_IN, outflow=_OUT)
    return Flow(year, month, row["inflow"] or 0, -(row["outflow"] or 0))


def monthly_summary(*, account: Account | None, year: int) -> list[Flow]:
    """One row per month of ``year`` that has entries, in calendar order."""
    rows = (
        _entries(account)
        .filter(created_at__year=year)
        .annotate(month=ExtractMonth("created_at"))
        .values("month")
        .annotate(inflow=_IN, outflow=_OUT)
        .order_by("month")
    )
    return [Flow(year, r["month"], r["inflow"] or 0, -(r["outflow"] or 0)) for r in rows]


def yearly_summary(*, account: Account | None) -> list[Flow]:
    """One row per year that has entries, latest first."""
    rows = (
        _entries(account)
        .annotate(year=ExtractYear("created_at"))
        .values("year")
        .annotate(inflow=_IN, outflow=_OUT)
        .order_by("-year")
    )
    return [Flow(r["year"], None, r["inflow"] or 0, -(r["outflow"] or 0)) for r in rows]


# --- the statement ---------------------------------------------------------------------------


def _label(account: Account) -> str:
    """How the other side of an entry is named to a member: people masked (张*), orgs by
    name and account kind."""
    if account.kind == AccountKind.PERSON and account.person is not None:
        return mask_name(account.person.name)
    if account.kind == AccountKind.ISSUANCE:
        return account.org.name
    return f"{account.org.name}{account.get_kind_display()}"


def statement_entries(
    *, account: Account | None, year: int | None = None, month: int | None = None
) -> QuerySet[Entry]:
    """The account's entries, latest first, each with its transfer and the transfer's
    other legs (for the counterparty); filtered to a year or a month of it."""
    qs = _entries(account)
    if year is not None:
        qs = qs.filter(created_at__year=year)
        if month is not None:
            qs = qs.filter(created_at__month=month)
    legs = Entry.objects.select_related("account__org", "account__person").only(
        "id",
        "transfer_id",
        "account__kind",
        "account__org__name",
        "account__person__name",
    )
    return (
        qs.select_related("transfer")
        .prefetch_related(Prefetch("transfer__entries", queryset=legs, to_attr="legs"))
        .order_by("-id")
    )


def describe(entries: list[Entry], account: Account) -> list[Entry]:
    """Set what a statement row shows on each entry: amount and balance texts and the
    counterparty (from the prefetched legs)."""
    for entry in entries:
        others = [leg for leg in entry.transfer.legs if leg.account_id != account.pk]  # type: ignore[attr-defined]
        entry.counterparty = "、".join(dict.fromkeys(_label(leg.account) for leg in others))  # type: ignore[attr-defined]
        entry.amount_text = duration(entry.amount, signed=True)  # type: ignore[attr-defined]
        entry.balance_text = duration(entry.balance_after)  # type: ignore[attr-defined]
    return entries


def recent_entries(*, account: Account | None, limit: int = RECENT) -> list[Entry]:
    if account is None:
        return []
    return describe(list(statement_entries(account=account)[:limit]), account)


def statement_years(*, account: Account | None) -> list[int]:
    """Years with entries, latest first (local time), for the filter."""
    if account is None:
        return []
    moments = _entries(account).datetimes("created_at", "year", order="DESC")
    return [moment.year for moment in moments]


def this_month() -> dt.date:
    return timezone.localdate().replace(day=1)


def transfer_by_key(key: str) -> Transfer | None:
    return Transfer.objects.filter(idempotency_key=key).first()


# --- family links ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyRow:
    """One relation as the member sees it."""

    link: FamilyLink
    relative: Person
    relation: str  # what the relative is to the member
    declared_by_me: bool

    @property
    def relation_label(self) -> str:
        return str(Relation(self.relation).label)

    @property
    def status(self) -> str:
        if self.link.revoked_at is not None:
            return "revoked"
        return "verified" if self.link.verified_at is not None else "pending"

    @property
    def status_label(self) -> str:
        labels = {"revoked": _("已撤销"), "verified": _("已核实"), "pending": _("待核实")}
        return labels[self.status]

    @property
    def relative_name(self) -> str:
        """The full name once a worker has verified the relation; masked before (a typed
        ID number must not reveal who it belongs to)."""
        if self.status == "verified":
            return self.relative.name
        return mask_name(self.relative.name)

    @property
    def can_revoke(self) -> bool:
        return self.declared_by_me and self.status != "revoked"


def family_rows(*, person: Person) -> list[FamilyRow]:
    """The member's relations: every link they declared (revoked ones too, latest first),
    then active links others declared naming them."""
    mine = (
        FamilyLink.objects.filter(person=person)
        .select_related("relative")
        .defer("relative__id_number_encrypted", "relative__phone_encrypted")
        .order_by("revoked_at", "-declared_at", "-id")
    )
    theirs = (
        FamilyLink.objects.filter(relative=person, revoked_at__isnull=True)
        .select_related("person")
        .defer("person__id_number_encrypted", "person__phone_encrypted")
        .order_by("-declared_at", "-id")
    )
    rows = [FamilyRow(link, link.relative, link.relation, True) for link in mine]
    rows += [
        FamilyRow(link, link.person, INVERSE_RELATION[Relation(link.relation)], False)
        for link in theirs
    ]
    return rows


def transfer_choices(*, person: Person) -> list[FamilyRow]:
    """Relatives the member may try to transfer to: active links either way (the service
    refuses unverified ones and relations the rules exclude, naming the rule)."""
    rows = [row for row in family_rows(person=person) if row.status != "revoked"]
    seen: set[int] = set()
    unique = []
    for row in rows:
        if row.relative.pk not in seen:
            seen.add(row.relative.pk)
            unique.append(row)
    return unique
