"""Demo data for the time bank: the demo city's service turned into time credits.

Registered as the seed step ``timebank`` (after ``activities``):

* every confirmed service record of the city credits its volunteer from the recording org's
  issuance account, at the rate of the org's rules — the same transfers, keys and memo as
  ``services.credit_records``, posted in chunks of ``CHUNK`` through ``ledger.post_batch``
  (the person accounts are opened in bulk first), so a record confirmed later through the
  services is credited exactly like these and none is credited twice;
* some volunteers declare a parent or grandparent of their household (same address, 60 or
  older) and a worker has verified it; part of them transfer credits to that relative
  (posted as ``services.transfer_to_family`` posts it); a few donate to their community's
  pool (as ``services.donate`` does) — without audit entries, like the rest of the seed;
* every community has an exchange catalogue (爱心超市) of a few items, and relatives who
  received credits redeem one at the counter through ``counter_services.redeem`` (which
  audits each redemption, as the certificates of the activities step are audited);
* the demo logins: ``volunteer`` (a year of hours in team A) has a verified link to the
  demo ``resident`` as her parent and has transferred to her; the resident has redeemed an
  item at community A's counter, served by ``worker-a``.

Afterwards ``ledger.verify()`` must be clean; the step fails otherwise.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.activities import demo_steps as _activities  # noqa: F401 (registers "activities")
from huzhu.activities.models import RecordStatus, ServiceRecord
from huzhu.demo.seed import DemoError, SeedContext, Step, register_step
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank import counter_services, ledger, services
from huzhu.timebank.ledger import LedgerRefusal, Leg
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Adjustment,
    Entry,
    ExchangeItem,
    FamilyLink,
    Policy,
    Redemption,
    Relation,
    Transfer,
    TransferKind,
)
from huzhu.timebank.rules import Rules, rules_for
from huzhu.volunteers.models import ServiceCategory

CHUNK = 5000  # records per post_batch, rows per delete
SYSTEM = Scope(user_id=0, is_superuser=True)
FAMILY_SHARE = 0.08  # credited volunteers who declared an older relative (when they have one)
TRANSFER_SHARE = 0.6  # … of whom transfer some of their credits to that relative
DONATE_SHARE = 0.04  # credited volunteers who donated to their community's pool
ELDERLY_AGE = 60
DEMO_TRANSFER = 120  # minutes the demo volunteer gave the demo resident
EVIDENCE = "社区工作人员核对户口簿"

# (name, description, price in minutes, stock)
CATALOGUE = (
    ("鸡蛋（一盒10枚）", "社区爱心超市兑换", 30, 60),
    ("食用油（1.8升）", "社区爱心超市兑换", 90, 30),
    ("大米（5公斤）", "社区爱心超市兑换", 120, 30),
    ("洗衣液（2公斤）", "社区爱心超市兑换", 60, 40),
    ("理发服务券", "社区便民理发点使用", 30, 100),
    ("家电清洗上门服务", "由社区合作家政公司提供一次", 240, 10),
)


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _community_of(orgs: dict[int, tuple[str, int | None]], org_id: int) -> int:
    """A grid's community (accounts hang on communities); any other org is its own."""
    kind, parent_id = orgs[org_id]
    return parent_id if kind == OrgKind.GRID and parent_id else org_id


# --- earning --------------------------------------------------------------------------------


def _open_person_accounts(ctx: SeedContext, person_ids: set[int]) -> None:
    """Person accounts in bulk, each in its community with the credit limit of its rules."""
    have = set(Account.objects.filter(person_id__in=person_ids).values_list("person_id", flat=True))
    todo = sorted(person_ids - have)
    orgs = {
        pk: (kind, parent)
        for pk, kind, parent in Org.objects.values_list("pk", "kind", "parent_id")
    }
    limits: dict[int, int] = {}
    for chunk in _chunks(todo):
        rows = []
        for person_id, org_id in Person.objects.filter(pk__in=chunk).values_list("pk", "org_id"):
            community = _community_of(orgs, org_id)
            if community not in limits:
                limits[community] = rules_for(Org.objects.get(pk=community)).credit_limit_minutes
            rows.append(
                Account(
                    kind=AccountKind.PERSON,
                    person_id=person_id,
                    org_id=community,
                    credit_limit=limits[community],
                )
            )
        Account.objects.bulk_create(rows)
    ctx.counts["timebank.accounts"] += len(todo)


def _credit(ctx: SeedContext) -> None:
    """Every confirmed record of the city, credited as ``services.credit_records`` does."""
    assert ctx.city is not None
    records = ServiceRecord.objects.filter(
        status=RecordStatus.CONFIRMED, org__path__startswith=ctx.city.path
    ).exclude(pk__in=Transfer.objects.filter(kind=TransferKind.EARN).values("record_id"))
    _open_person_accounts(ctx, set(records.values_list("volunteer__person_id", flat=True)))
    issuance = {
        org.pk: services.org_account(org, AccountKind.ISSUANCE).pk
        for org in Org.objects.filter(pk__in=records.values("org_id"))
    }
    rules: dict[int, Rules] = {pk: rules_for(Org.objects.get(pk=pk)) for pk in issuance}
    category = dict(ServiceCategory.objects.values_list("pk", "name"))
    memo = _("服务入账")
    # Day by day, so each credit is dated the evening of its service and every account's
    # entries run in date order (statements and monthly summaries read like real ones).
    days = records.order_by("served_on").values_list("served_on", flat=True).distinct()
    for day in list(days):
        at = timezone.make_aware(dt.datetime.combine(day, dt.time(20, 0)))
        ids = list(records.filter(served_on=day).order_by("pk").values_list("pk", flat=True))
        for chunk in _chunks(ids):
            rows = list(
                ServiceRecord.objects.filter(pk__in=chunk)
                .order_by("pk")
                .values_list("pk", "minutes", "org_id", "category_id", "volunteer__person_id")
            )
            accounts = dict(
                Account.objects.filter(person_id__in={r[4] for r in rows}).values_list(
                    "person_id", "pk"
                )
            )
            items = [
                ledger.BatchItem(
                    debit_account_id=issuance[org_id],
                    credit_account_id=accounts[person_id],
                    minutes=credit,
                    idempotency_key=services.earn_key(record_id, minutes),
                    memo=memo,
                    record_id=record_id,
                )
                for record_id, minutes, org_id, category_id, person_id in rows
                if (credit := rules[org_id].earn_minutes(category[category_id], minutes)) > 0
            ]
            ctx.counts["timebank.earned"] += ledger.post_batch(
                kind=TransferKind.EARN, items=items, at=at
            )


# --- family, donations, the counter ---------------------------------------------------------


def _worker_for(ctx: SeedContext, community_id: int) -> Any:
    community_a = ctx.named.get("community_a")
    return ctx.users.get("worker-a") if community_a and community_a.pk == community_id else None


def _elders(ctx: SeedContext, people: list[Person]) -> dict[int, Person]:
    """For each of ``people``, an older relative of their household (the same address, 60
    or older, not themselves), if there is one."""
    cutoff = ctx.today - dt.timedelta(days=365 * ELDERLY_AGE + ELDERLY_AGE // 4)
    addresses = {p.address for p in people if p.address}
    by_address: dict[str, list[Person]] = {}
    for elder in Person.objects.filter(address__in=addresses, birth_date__lte=cutoff).order_by(
        "birth_date", "pk"
    ):
        by_address.setdefault(elder.address, []).append(elder)
    found = {}
    for person in people:
        for elder in by_address.get(person.address, []):
            if elder.pk != person.pk and elder.birth_date < person.birth_date:
                found[person.pk] = elder
                break
    return found


def _relation(person: Person, elder: Person) -> str:
    gap = (person.birth_date - elder.birth_date).days / 365.25
    return Relation.PARENT if gap < 45 else Relation.GRANDPARENT


def _link(ctx: SeedContext, person: Person, relative: Person, relation: str) -> FamilyLink:
    worker = _worker_for(ctx, services.account_for_person(person).org_id)
    now = timezone.now()
    link = FamilyLink.objects.create(
        person=person,
        relative=relative,
        relation=relation,
        declared_by=person.user,
        verified_at=now,
        verified_by=worker,
        evidence=EVIDENCE,
    )
    ctx.counts["timebank.family_links"] += 1
    return link


def _give(ctx: SeedContext, sender: Person, receiver: Person, minutes: int) -> bool:
    """转赠 as ``services.transfer_to_family`` posts it (the link is verified, both live in
    the city), without an audit entry: the seed writes one ``demo.seed`` entry."""
    source = services.account_for_person(sender)
    target = services.account_for_person(receiver)
    cap = rules_for(target.org).balance_cap_minutes
    if minutes <= 0 or (cap and target.balance + minutes > cap):
        return False
    try:
        ledger.post(
            kind=TransferKind.FAMILY,
            legs=[Leg(source.pk, -minutes), Leg(target.pk, minutes)],
            actor=sender.user,
            memo=_("转赠家人"),
        )
    except LedgerRefusal:
        return False
    ctx.counts["timebank.family_transfers"] += 1
    return True


def _people(ids: list[int]) -> list[Person]:
    return list(Person.objects.filter(pk__in=ids).select_related("user", "org").order_by("pk"))


def _families(ctx: SeedContext, rng: random.Random, credited: list[int]) -> list[Person]:
    """Verified links to an older relative, transfers to some of them; the receivers."""
    chosen = _people([pk for pk in credited if rng.random() < FAMILY_SHARE])
    elders = _elders(ctx, chosen)
    receivers = []
    for person in chosen:
        elder = elders.get(person.pk)
        if elder is None or FamilyLink.objects.filter(person=person, relative=elder).exists():
            continue
        _link(ctx, person, elder, _relation(person, elder))
        balance = services.account_for_person(person).balance
        if rng.random() < TRANSFER_SHARE and balance >= 60:
            minutes = min(balance // 2, rng.choice((60, 90, 120, 180, 240)))
            if _give(ctx, person, elder, minutes):
                receivers.append(elder)
    return receivers


def _donations(ctx: SeedContext, rng: random.Random, credited: list[int]) -> None:
    for person in _people([pk for pk in credited if rng.random() < DONATE_SHARE]):
        balance = services.account_for_person(person).balance
        if balance < 60:
            continue
        source = services.account_for_person(person)
        pool = services.org_account(source.org, AccountKind.POOL)
        minutes = min(balance // 3, rng.choice((30, 60, 120)))
        ledger.post(  # as services.donate posts it, without an audit entry
            kind=TransferKind.DONATE,
            legs=[Leg(source.pk, -minutes), Leg(pool.pk, minutes)],
            actor=person.user,
            memo=_("捐赠给社区互助池"),
        )
        ctx.counts["timebank.donations"] += 1


def _catalogues(ctx: SeedContext) -> dict[int, list[ExchangeItem]]:
    rows = [
        ExchangeItem(org=community, name=name, description=text, price_minutes=price, stock=stock)
        for community in ctx.communities
        for name, text, price, stock in CATALOGUE
    ]
    ExchangeItem.objects.bulk_create(rows)
    ctx.counts["timebank.exchange_items"] += len(rows)
    catalogue: dict[int, list[ExchangeItem]] = {}
    for item in ExchangeItem.objects.filter(org__in=ctx.communities).select_related("org"):
        catalogue.setdefault(item.org_id, []).append(item)
    return catalogue


def _redeem(ctx: SeedContext, catalogue: dict[int, list[ExchangeItem]], person: Person) -> bool:
    """The person redeems the dearest item they can afford at their community's counter."""
    account = services.account_for_person(person)
    items = [i for i in catalogue.get(account.org_id, []) if i.price_minutes <= account.balance]
    if not items:
        return False
    item = max(items, key=lambda i: (i.price_minutes, -i.pk))
    worker = _worker_for(ctx, account.org_id)
    scope = Scope.for_user(worker) if worker is not None else SYSTEM
    try:
        counter_services.redeem(actor=worker, scope=scope, item=item, person=person, quantity=1)
    except LedgerRefusal:
        return False
    ctx.counts["timebank.redemptions"] += 1
    return True


def _demo_logins(ctx: SeedContext, catalogue: dict[int, list[ExchangeItem]]) -> None:
    """The demo volunteer gives the demo resident (her parent) credits; she redeems."""
    volunteer_id, resident_id = ctx.people.get("volunteer"), ctx.people.get("resident")
    if volunteer_id is None or resident_id is None:
        return
    volunteer = Person.objects.select_related("user", "org").get(pk=volunteer_id)
    resident = Person.objects.select_related("user", "org").get(pk=resident_id)
    balance = services.account_for_person(volunteer).balance
    if balance < DEMO_TRANSFER:
        raise DemoError("演示志愿者没有足够的时间币，无法生成时间银行演示数据。")
    _link(ctx, volunteer, resident, Relation.PARENT)
    if not _give(ctx, volunteer, resident, DEMO_TRANSFER):
        raise DemoError("演示志愿者转赠家人失败，请检查时间银行规则。")
    _redeem(ctx, catalogue, resident)


def seed_timebank(ctx: SeedContext) -> None:
    assert ctx.city is not None
    rng = ctx.rng("timebank")
    _credit(ctx)
    catalogue = _catalogues(ctx)
    _demo_logins(ctx, catalogue)
    reserved = {ctx.people.get("volunteer"), ctx.people.get("resident")}
    credited = list(
        Account.objects.filter(
            kind=AccountKind.PERSON, balance__gt=0, org__path__startswith=ctx.city.path
        )
        .exclude(person_id__in=[p for p in reserved if p])
        .order_by("person_id")
        .values_list("person_id", flat=True)
    )
    for receiver in _families(ctx, rng, credited):
        _redeem(ctx, catalogue, receiver)
    _donations(ctx, rng, credited)
    check = ledger.verify()
    if not check.ok:
        raise DemoError(f"时间银行账本核对未通过：{check.mismatched[:3]} {check.unbalanced[:3]}")
    c = ctx.counts
    ctx.say(
        f"时间银行：账户 {c['timebank.accounts']} 个，服务入账 {c['timebank.earned']} 笔，"
        f"亲属关系 {c['timebank.family_links']} 条（转赠 {c['timebank.family_transfers']} 笔），"
        f"捐赠 {c['timebank.donations']} 笔，爱心超市物品 {c['timebank.exchange_items']} 种，"
        f"兑换 {c['timebank.redemptions']} 次；账本核对通过"
    )


# --- reset ----------------------------------------------------------------------------------


def _delete_in_chunks(queryset: Any) -> None:
    rows = queryset.order_by("pk")
    while ids := list(rows.values_list("pk", flat=True)[:CHUNK]):
        queryset.model.objects.filter(pk__in=ids).delete()


def reset_timebank(ctx: SeedContext) -> None:
    """Delete the demo city's time-bank rows (entries and transfers too: the demo data goes
    as a whole, which the ledger itself never does)."""
    assert ctx.city is not None
    path = ctx.city.path
    accounts = Account.objects.filter(org__path__startswith=path)
    _delete_in_chunks(Redemption.objects.filter(item__org__path__startswith=path))
    _delete_in_chunks(Adjustment.objects.filter(account__in=accounts))
    transfers = Transfer.objects.filter(
        Q(entries__account__in=accounts) | Q(record__org__path__startswith=path)
    ).distinct()
    # Newest first: a reversal goes before the transfer it reverses.
    while ids := list(transfers.order_by("-pk").values_list("pk", flat=True)[:CHUNK]):
        Entry.objects.filter(transfer_id__in=ids).delete()
        Transfer.objects.filter(pk__in=ids, reversal_of__isnull=False).delete()
        Transfer.objects.filter(pk__in=ids).delete()
    _delete_in_chunks(accounts)
    _delete_in_chunks(ExchangeItem.objects.filter(org__path__startswith=path))
    _delete_in_chunks(FamilyLink.objects.filter(person__org__path__startswith=path))
    _delete_in_chunks(Policy.objects.filter(org__path__startswith=path))


register_step(Step("timebank", seed_timebank, reset_timebank), after="activities")
