"""Earning (DESIGN.md §4): every path that confirms service credits each volunteer exactly
once from the recording org's issuance account, at the rate set for the service category;
a corrected record posts the difference; running a confirmation path again credits nothing.
The books stay balanced throughout."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from huzhu.activities.models import ServiceRecord, Shift, Signup
from huzhu.activities.record_services import (
    RecordInput,
    record_correct,
    record_declare,
    record_enter,
    records_confirm,
    shift_confirm,
    shift_records_create,
)
from huzhu.activities.services import Credential, check_out, signup_create
from huzhu.orgs.scope import Scope
from huzhu.timebank import ledger
from huzhu.timebank.models import Account, AccountKind, Entry, Policy, Transfer
from huzhu.timebank.services import credit_records
from huzhu.volunteers.models import Volunteer
from tests.activities.factories import (
    SYSTEM,
    attend,
    category,
    first_shift,
    local_at,
    make_activity,
    make_volunteer,
    organiser_check,
)

pytestmark = pytest.mark.django_db


def _past_shift(org, days_ago: int = 3, hours: int = 3) -> Shift:
    start = local_at(timezone.localdate() - dt.timedelta(days=days_ago), 9)
    return first_shift(make_activity(org, start=start, hours=hours, capacity=20))


def _served(volunteer: Volunteer, shift: Shift, minutes: int | None) -> Signup:
    """Signed up the day before, present from the start for ``minutes`` (None: never
    checked out)."""
    signup_create(
        actor=None,
        volunteer=volunteer,
        shift_id=shift.pk,
        now=shift.starts_at - dt.timedelta(days=1),
    )
    if minutes is None:
        return organiser_check("in", volunteer, shift, shift.starts_at)
    return attend(
        volunteer, shift, shift.starts_at, shift.starts_at + dt.timedelta(minutes=minutes)
    )


def _input(minutes: int, days_ago: int = 2, category_name: str = "社区服务") -> RecordInput:
    return RecordInput(
        served_on=timezone.localdate() - dt.timedelta(days=days_ago),
        minutes=minutes,
        content="陪伴独居老人",
        place="甲社区3号楼",
        category=category(category_name),
    )


def _balance(volunteer: Volunteer) -> int:
    return Account.objects.get(person=volunteer.person).balance


def _issued(org) -> int:
    return -Account.objects.get(org=org, kind=AccountKind.ISSUANCE).balance


def _earnings(record: ServiceRecord) -> list[int]:
    """The minutes each earning of the record credited (one entry each to the person)."""
    return list(
        Entry.objects.filter(transfer__record=record, transfer__kind="earn", amount__gt=0)
        .order_by("id")
        .values_list("amount", flat=True)
    )


def _books_clean() -> None:
    check = ledger.verify()
    assert check.ok, (check.mismatched, check.unbalanced, check.total)
    for account in Account.objects.all():
        total = Entry.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0
        assert account.balance == total


def _ledger_state() -> tuple:
    return (
        sorted(Account.objects.values_list("pk", "balance")),
        Transfer.objects.count(),
        Entry.objects.count(),
    )


def test_shift_confirm_credits_each_volunteer_once(city):
    shift = _past_shift(city.community_a)
    a = make_volunteer(city.grid_a, "王一")
    b = make_volunteer(city.grid_a, "王二")
    late = make_volunteer(city.grid_a, "王三")
    _served(a, shift, 180)
    _served(b, shift, 90)
    _served(late, shift, None)  # checked in, not yet out: skipped for now

    result = shift_confirm(actor=city.worker_a, scope=Scope.for_user(city.worker_a), shift=shift)
    assert (result.confirmed, len(result.skipped)) == (2, 1)
    assert (_balance(a), _balance(b), _issued(city.community_a)) == (180, 90, 270)
    for record in ServiceRecord.objects.filter(shift=shift):
        assert _earnings(record) == [record.minutes]
    earn = Transfer.objects.get(record__volunteer=a)
    assert (earn.kind, earn.actor, earn.memo) == ("earn", city.worker_a, "服务入账")

    # Confirming the same shift again credits nothing more.
    before = _ledger_state()
    again = shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    assert again.confirmed == 0
    assert _ledger_state() == before

    # The late volunteer is checked out; the next pass credits only them.
    check_out(
        actor=None,
        volunteer_id=late.pk,
        shift_id=shift.pk,
        credential=Credential(method="organiser"),
        scope=SYSTEM,
        now=shift.starts_at + dt.timedelta(minutes=60),
    )
    assert shift_confirm(actor=None, scope=SYSTEM, shift=shift).confirmed == 1
    assert (_balance(a), _balance(b), _balance(late)) == (180, 90, 60)
    assert Transfer.objects.filter(kind="earn").count() == 3
    _books_clean()


def test_pending_records_are_credited_when_confirmed_not_before(city):
    shift = _past_shift(city.community_a)
    volunteer = make_volunteer(city.grid_a)
    _served(volunteer, shift, 120)
    shift_records_create(actor=None, scope=SYSTEM, shift=shift)  # 待确认
    assert not Account.objects.filter(person=volunteer.person).exists()
    shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    assert _balance(volunteer) == 120
    assert _issued(city.community_a) == 120
    _books_clean()


def test_records_confirm_credits_once(city):
    volunteer = make_volunteer(city.grid_a)
    one = record_declare(
        actor=None, volunteer=volunteer, org=city.community_a, data=_input(60, days_ago=2)
    )
    two = record_declare(
        actor=None, volunteer=volunteer, org=city.community_a, data=_input(45, days_ago=3)
    )
    assert not Account.objects.filter(person=volunteer.person).exists()  # pending: nothing yet
    scope = Scope.for_user(city.worker_a)
    assert records_confirm(actor=city.worker_a, scope=scope, record_ids=[one.pk, two.pk]) == 2
    assert _balance(volunteer) == 105
    assert (_earnings(one), _earnings(two)) == ([60], [45])

    before = _ledger_state()
    with pytest.raises(ValidationError):  # no longer pending: refused as a whole
        records_confirm(actor=city.worker_a, scope=scope, record_ids=[one.pk])
    assert credit_records(record_ids=[one.pk, two.pk]) == 0  # the ledger's own guard
    assert _ledger_state() == before
    _books_clean()


def test_entered_record_confirmed_at_once_credits_once(city):
    volunteer = make_volunteer(city.grid_a)
    record = record_enter(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        volunteer=volunteer,
        org=city.community_a,
        data=_input(75),
        confirm=True,
    )
    assert _balance(volunteer) == 75
    assert _earnings(record) == [75]
    unconfirmed = record_enter(
        actor=None,
        scope=SYSTEM,
        volunteer=volunteer,
        org=city.community_a,
        data=_input(30, days_ago=4),
    )
    assert _earnings(unconfirmed) == []
    assert credit_records(record_ids=[record.pk, unconfirmed.pk]) == 0
    assert _balance(volunteer) == 75
    _books_clean()


def test_rate_per_category_from_the_policy(city):
    # The city pays 1.5 h per hour of elder care; community A overrides it with 2 h and
    # sets community service at 0.5 h; community B inherits the city's rates.
    Policy.objects.create(org=city.city, earn_rates={"关爱特殊群体": 90})
    Policy.objects.create(org=city.community_a, earn_rates={"关爱特殊群体": 120, "社区服务": 30})
    a = make_volunteer(city.grid_a, "王一")
    b = make_volunteer(city.grid_b, "王二")
    cases = [
        (a, city.community_a, "关爱特殊群体", 90, 180),
        (a, city.community_a, "社区服务", 60, 30),
        (a, city.community_a, "环境保护", 45, 45),  # no rate set: 1 h = 1 h
        (b, city.community_b, "关爱特殊群体", 60, 90),
        (b, city.community_b, "社区服务", 40, 40),
    ]
    for n, (volunteer, org, name, minutes, credit) in enumerate(cases):
        record = record_enter(
            actor=None,
            scope=SYSTEM,
            volunteer=volunteer,
            org=org,
            data=_input(minutes, days_ago=n + 1, category_name=name),
            confirm=True,
        )
        assert _earnings(record) == [credit], name
    assert (_balance(a), _balance(b)) == (255, 130)
    assert (_issued(city.community_a), _issued(city.community_b)) == (255, 130)
    _books_clean()


def test_corrected_record_posts_the_difference(city):
    Policy.objects.create(org=city.community_a, earn_rates={"社区服务": 90})
    volunteer = make_volunteer(city.grid_a)
    scope = Scope.for_user(city.worker_a)
    record = record_enter(
        actor=city.worker_a,
        scope=scope,
        volunteer=volunteer,
        org=city.community_a,
        data=_input(120),
        confirm=True,
    )
    assert _balance(volunteer) == 180  # 2 h at 1.5

    record_correct(
        actor=city.worker_a, scope=scope, record=record, reason="签退时间有误", minutes=80
    )
    assert _balance(volunteer) == 120  # 80 min at 1.5
    down = Transfer.objects.get(record=record, kind="adjust")
    assert (down.actor, down.memo) == (city.worker_a, "服务记录更正")
    assert list(down.entries.order_by("amount").values_list("amount", flat=True)) == [-60, 60]

    record_correct(actor=None, scope=scope, record=record, reason="补录遗漏", minutes=140)
    assert _balance(volunteer) == 210  # 140 min at 1.5
    # A correction that does not touch the minutes posts nothing.
    before = _ledger_state()
    record_correct(actor=None, scope=scope, record=record, reason="地点有误", place="甲社区5号楼")
    assert _ledger_state() == before
    assert Transfer.objects.filter(record=record, kind="earn").count() == 1
    assert Transfer.objects.filter(record=record, kind="adjust").count() == 2
    _books_clean()


def test_a_corrected_record_is_not_credited_again(city):
    """Confirming the shift again (for a volunteer checked out late) must not credit the
    corrected record of another volunteer a second time."""
    shift = _past_shift(city.community_a)
    a = make_volunteer(city.grid_a, "王一")
    late = make_volunteer(city.grid_a, "王二")
    _served(a, shift, 180)
    _served(late, shift, None)
    shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    record = ServiceRecord.objects.get(volunteer=a)
    record_correct(actor=None, scope=SYSTEM, record=record, reason="早退", minutes=150)
    assert _balance(a) == 150

    check_out(
        actor=None,
        volunteer_id=late.pk,
        shift_id=shift.pk,
        credential=Credential(method="organiser"),
        scope=SYSTEM,
        now=shift.starts_at + dt.timedelta(minutes=60),
    )
    shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    assert (_balance(a), _balance(late)) == (150, 60)
    assert credit_records(record_ids=[record.pk]) == 0
    assert _balance(a) == 150
    _books_clean()
