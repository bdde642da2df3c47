import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from huzhu.orgs.scope import Scope
from huzhu.timebank import ledger
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import Account, AccountKind, Entry, Policy, Transfer
from huzhu.timebank.services import (
    account_for_person,
    expire_credits,
    guarantee_grant,
    guarantee_seed,
)
from tests.activities.factories import enter_record, make_volunteer

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 15)


def credited(city, minutes: int, days_ago: int):
    """A volunteer credited ``minutes`` whose earning is dated ``days_ago`` before TODAY."""
    volunteer = make_volunteer(city.grid_a)
    enter_record(volunteer, city.community_a, timezone.localdate() - dt.timedelta(days=1), minutes)
    when = timezone.make_aware(dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(9)))
    Entry.objects.filter(account__person=volunteer.person).update(created_at=when)
    return account_for_person(volunteer.person)


def test_no_expiry_by_default(city):
    account = credited(city, 120, days_ago=800)
    assert expire_credits(today=TODAY) == 0
    account.refresh_from_db()
    assert account.balance == 120


def test_credits_older_than_the_policy_expire_once_and_go_back_to_the_issuer(city):
    Policy.objects.create(org=city.community_a, expiry_months=12)
    old = credited(city, 120, days_ago=400)
    fresh = credited(city, 90, days_ago=30)
    assert expire_credits(today=TODAY) == 1
    assert expire_credits(today=TODAY) == 0  # idempotent
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.balance, fresh.balance) == (0, 90)
    expiry = Transfer.objects.get(kind="expire")
    assert sorted(expiry.entries.values_list("amount", flat=True)) == [-120, 120]
    issuance = Account.objects.get(org=city.community_a, kind=AccountKind.ISSUANCE)
    assert issuance.balance == -90
    assert ledger.verify().ok


def test_guarantee_fund_seeds_and_grants_within_scope(city):
    elder = make_volunteer(city.grid_a, "王奶奶").person
    worker = Scope.for_user(city.worker_a)
    guarantee_seed(
        actor=city.worker_a, scope=worker, org=city.community_a, minutes=600, reason="区民政局拨付"
    )
    guarantee_grant(
        actor=city.worker_a,
        scope=worker,
        org=city.community_a,
        person=elder,
        minutes=120,
        reason="特困供养老人",
    )
    assert account_for_person(elder).balance == 120
    fund = Account.objects.get(org=city.community_a, kind=AccountKind.GUARANTEE)
    assert fund.balance == 480
    with pytest.raises(LedgerRefusal) as refusal:
        guarantee_grant(
            actor=city.worker_a,
            scope=worker,
            org=city.community_a,
            person=elder,
            minutes=600,
            reason="x",
        )
    assert refusal.value.rule == "balance.insufficient"
    with pytest.raises(PermissionDenied):
        guarantee_seed(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            org=city.community_a,
            minutes=60,
            reason="越权",
        )
    assert ledger.verify().ok
