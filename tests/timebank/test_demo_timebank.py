"""The ``timebank`` demo step: the demo city's confirmed service credited once each, family
transfers, donations, catalogues and redemptions, the demo logins' balances — and books
that verify."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from huzhu.activities.models import RecordStatus, ServiceRecord
from huzhu.demo.seed import STEPS, reset_demo, seed_demo
from huzhu.orgs.models import Org, OrgKind
from huzhu.timebank import ledger
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Entry,
    ExchangeItem,
    FamilyLink,
    Redemption,
    Relation,
    Transfer,
)
from huzhu.timebank.rules import rules_for
from huzhu.timebank.services import credit_records

PASSWORD = "demo-pass-123"
RESIDENTS = 300


@pytest.fixture
def demo(db):
    return seed_demo(password=PASSWORD, residents=RESIDENTS, progress=False)


def _account(username: str) -> Account:
    return Account.objects.get(person__user__username=username)


def _entries_sum(account: Account) -> int:
    return Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0


def test_the_step_runs_after_the_activities():
    from huzhu.timebank import demo_steps  # noqa: F401 (registers the step)

    names = [s.name for s in STEPS]
    assert names.index("timebank") == names.index("activities") + 1


def test_books_verify_after_the_seed(demo):
    check = ledger.verify()
    assert check.ok, (check.mismatched, check.unbalanced, check.total)
    assert check.entries == 2 * check.transfers  # every demo transfer has two legs
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert "账本核对通过" in out.getvalue()
    counts = demo.counts
    assert counts["timebank.earned"] == Transfer.objects.filter(kind="earn").count() > 0
    assert counts["timebank.family_transfers"] == Transfer.objects.filter(kind="family").count()
    assert counts["timebank.donations"] == Transfer.objects.filter(kind="donate").count()
    assert counts["timebank.redemptions"] == Redemption.objects.count() >= 1


def test_each_confirmed_record_is_credited_once_at_its_rate(demo):
    # (help given through a need is paid by its requester or the pool, not by issuance)
    confirmed = ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED).exclude(source="need")
    earned = Transfer.objects.filter(kind="earn")
    assert earned.count() == confirmed.count() > 0
    assert not earned.values("record_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert (
        not ServiceRecord.objects.exclude(status=RecordStatus.CONFIRMED)
        .filter(transfers__isnull=False)
        .exists()
    )
    credits = dict(
        Entry.objects.filter(transfer__kind="earn", amount__gt=0).values_list(
            "transfer__record_id", "amount"
        )
    )
    rules = {}
    for record in confirmed.select_related("org", "category", "volunteer__person")[:200]:
        rule = rules.setdefault(record.org_id, rules_for(record.org))
        assert credits[record.pk] == rule.earn_minutes(record.category.name, record.minutes)
    # Issued by each recording org equals what its records earned.
    for org_id, issued in (
        Entry.objects.filter(transfer__kind="earn", amount__gt=0)
        .values("transfer__record__org_id")
        .annotate(s=Sum("amount"))
        .values_list("transfer__record__org_id", "s")
    ):
        issuance = Account.objects.get(org_id=org_id, kind=AccountKind.ISSUANCE)
        assert issuance.balance == -issued
    # The services find nothing left to credit.
    assert credit_records(record_ids=list(confirmed.values_list("pk", flat=True))) == 0
    assert ledger.verify().ok


def test_the_demo_volunteer_has_a_balance_and_gave_her_parent_some(demo):
    account = _account("volunteer")
    assert account.balance > 0
    assert account.balance == _entries_sum(account)
    resident = _account("resident")
    assert resident.balance == _entries_sum(resident)
    link = FamilyLink.objects.get(person=account.person, relative=resident.person)
    assert link.relation == Relation.PARENT
    assert link.verified_at is not None and link.verified_by.username == "worker-a"
    gift = Transfer.objects.get(kind="family", entries__account=account)
    legs = sorted(gift.entries.values_list("account_id", "amount"))
    assert legs == sorted([(account.pk, -120), (resident.pk, 120)])
    # She redeemed at community A's counter, served by worker-a.
    redemption = Redemption.objects.get(person=resident.person)
    community_a = Org.objects.get(name="历山路社区")
    assert redemption.item.org == community_a
    assert redemption.actor.username == "worker-a"
    paid = redemption.transfer.entries.get(account=resident)
    assert (redemption.transfer.kind, paid.amount) == ("exchange", -redemption.total_minutes)
    assert resident.balance >= 0


def test_catalogues_links_and_donations(demo):
    communities = Org.objects.filter(kind=OrgKind.COMMUNITY)
    for community in communities:
        assert ExchangeItem.objects.filter(org=community).count() >= 5, community.name
    for redemption in Redemption.objects.select_related("item", "transfer"):
        assert redemption.transfer.kind == "exchange"
        assert redemption.total_minutes == redemption.item.price_minutes * redemption.quantity
    assert not FamilyLink.objects.filter(verified_at__isnull=True).exists()
    for gift in Transfer.objects.filter(kind="family"):
        sender, receiver = sorted(gift.entries.all(), key=lambda e: e.amount)
        assert FamilyLink.objects.filter(
            person__timebank_account=sender.account_id,
            relative__timebank_account=receiver.account_id,
        ).exists()
    pools = Account.objects.filter(kind=AccountKind.POOL)
    donated = Entry.objects.filter(transfer__kind="donate", amount__gt=0)
    redeemed = Entry.objects.filter(transfer__kind="exchange", amount__gt=0)
    # (公益 needs paid by a pool take their amount out of it)
    paid = Entry.objects.filter(transfer__kind="spend", account__kind=AccountKind.POOL)
    total = sum(x.aggregate(s=Sum("amount"))["s"] or 0 for x in (donated, redeemed, paid))
    assert pools.aggregate(s=Sum("balance"))["s"] == total


def test_reset_removes_the_time_bank_rows(demo):
    assert reset_demo()
    for model in (Account, Transfer, Entry, ExchangeItem, FamilyLink, Redemption):
        assert model.objects.count() == 0, model.__name__
