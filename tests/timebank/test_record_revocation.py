"""Revoking a confirmed service record takes its hours out of the archive and reverses its
time-bank credit — or refuses, changing nothing, when the credits were spent."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huzhu.activities.models import RecordStatus
from huzhu.activities.record_services import record_revoke
from huzhu.timebank import ledger
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import Account, Transfer
from huzhu.timebank.services import donate
from tests.activities.factories import SYSTEM, enter_record, make_volunteer

pytestmark = pytest.mark.django_db
YESTERDAY = timezone.localdate() - dt.timedelta(days=1)


def test_revoking_reverses_hours_and_credit(city):
    volunteer = make_volunteer(city.grid_a)
    record = enter_record(volunteer, city.community_a, YESTERDAY, minutes=90)
    record_revoke(actor=None, scope=SYSTEM, record=record, reason="时长不实")
    record.refresh_from_db()
    volunteer.refresh_from_db()
    assert (record.status, record.reject_reason) == (RecordStatus.REVOKED, "时长不实")
    assert volunteer.recorded_minutes == volunteer.historical_minutes
    assert Account.objects.get(person=volunteer.person).balance == 0
    reversal = Transfer.objects.get(kind="reverse")
    assert reversal.reversal_of.record_id == record.pk
    assert ledger.verify().ok
    with pytest.raises(ValidationError):
        record_revoke(actor=None, scope=SYSTEM, record=record, reason="再次")


def test_spent_credits_refuse_the_revocation_and_nothing_changes(city):
    volunteer = make_volunteer(city.grid_a)
    record = enter_record(volunteer, city.community_a, YESTERDAY, minutes=60)
    donate(actor=None, sender=volunteer.person, minutes=60)
    with pytest.raises(LedgerRefusal) as refusal:
        record_revoke(actor=None, scope=SYSTEM, record=record, reason="时长不实")
    assert refusal.value.rule == "revoke.spent"
    record.refresh_from_db()
    volunteer.refresh_from_db()
    assert record.status == RecordStatus.CONFIRMED
    assert volunteer.recorded_minutes == volunteer.historical_minutes + 60
    assert not Transfer.objects.filter(kind="reverse").exists()


def test_revoke_from_the_record_page_needs_a_reason(city):
    worker_a = Client()
    worker_a.force_login(city.worker_a)
    volunteer = make_volunteer(city.grid_a)
    record = enter_record(volunteer, city.community_a, YESTERDAY, minutes=60)
    url = reverse("activities:record_revoke", kwargs={"record_id": record.pk})
    assert worker_a.post(url, {"reason": ""}).status_code == 400
    record.refresh_from_db()
    assert record.status == RecordStatus.CONFIRMED
    response = worker_a.post(url, {"reason": "重复登记"})
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == RecordStatus.REVOKED
