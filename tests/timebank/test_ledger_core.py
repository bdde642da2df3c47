import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from huzhu.timebank import ledger
from huzhu.timebank.ledger import LedgerRefusal, Leg
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer
from huzhu.timebank.services import account_for_person, org_account
from tests.activities.factories import enter_record, make_volunteer

pytestmark = pytest.mark.django_db
YESTERDAY = dt.date.today() - dt.timedelta(days=1)


def test_confirmed_record_credits_the_volunteer_once(city):
    volunteer = make_volunteer(city.grid_a)
    record = enter_record(volunteer, city.community_a, YESTERDAY, minutes=90)
    account = Account.objects.get(person=volunteer.person)
    issuance = Account.objects.get(org=city.community_a, kind=AccountKind.ISSUANCE)
    assert (account.balance, issuance.balance) == (90, -90)
    assert Transfer.objects.filter(record=record, kind="earn").count() == 1
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert "账本核对通过" in out.getvalue()


def test_overdraft_is_refused_and_nothing_moves(city):
    a = account_for_person(make_volunteer(city.grid_a, "甲").person)
    b = account_for_person(make_volunteer(city.grid_a, "乙").person)
    with pytest.raises(LedgerRefusal) as refusal:
        ledger.post(kind="spend", legs=[Leg(a.pk, -30), Leg(b.pk, 30)])
    assert refusal.value.rule == "balance.insufficient"
    assert (Transfer.objects.count(), Entry.objects.count()) == (0, 0)


def test_replay_with_the_same_key_moves_nothing(city):
    issuance = org_account(city.community_a, AccountKind.ISSUANCE)
    a = account_for_person(make_volunteer(city.grid_a).person)
    first = ledger.post(
        kind="earn", legs=[Leg(issuance.pk, -60), Leg(a.pk, 60)], idempotency_key="k1"
    )
    again = ledger.post(
        kind="earn", legs=[Leg(issuance.pk, -60), Leg(a.pk, 60)], idempotency_key="k1"
    )
    assert first.pk == again.pk
    a.refresh_from_db()
    assert a.balance == 60


def test_verify_names_a_tampered_account(city):
    a = account_for_person(make_volunteer(city.grid_a).person)
    Account.objects.filter(pk=a.pk).update(balance=5)  # a balance changed behind the ledger
    with pytest.raises(CommandError):
        call_command("ledger", "verify", stdout=io.StringIO())
    assert ledger.verify().mismatched == [(a.pk, str(a), 5, 0)]


def test_reversal_restores_balances_and_happens_once(city):
    volunteer = make_volunteer(city.grid_a)
    enter_record(volunteer, city.community_a, YESTERDAY, minutes=60)
    earn = Transfer.objects.get(kind="earn")
    ledger.reverse(transfer=earn, actor=None)
    assert Account.objects.get(person=volunteer.person).balance == 0
    with pytest.raises(LedgerRefusal):
        ledger.reverse(transfer=earn, actor=None)
    assert ledger.verify().ok
