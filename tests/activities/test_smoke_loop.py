import datetime as dt

import pytest
from django.utils import timezone

from huzhu.activities import checkin
from huzhu.activities.models import RecordStatus, SignupStatus
from huzhu.activities.record_services import certificate_apply, certificate_issue, shift_confirm
from huzhu.activities.selectors import certificate_verify
from huzhu.activities.services import (
    Credential,
    check_in,
    check_out,
    signup_create,
    signup_withdraw,
)
from tests.activities.factories import SYSTEM, first_shift, make_activity, make_volunteer

pytestmark = pytest.mark.django_db


def test_loop_from_signup_to_verified_certificate(city):
    activity = make_activity(city.community_a, capacity=1)
    shift = first_shift(activity)
    a = make_volunteer(city.grid_a, "王一")
    b = make_volunteer(city.grid_a, "王二")
    first = signup_create(actor=None, volunteer=a, shift_id=shift.pk)
    second = signup_create(actor=None, volunteer=b, shift_id=shift.pk)
    assert (first.status, second.status) == (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)
    signup_withdraw(actor=None, signup=first)
    second.refresh_from_db()
    assert second.status == SignupStatus.CONFIRMED
    at = shift.starts_at + dt.timedelta(minutes=1)
    token = checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=at)
    check_in(
        actor=None,
        volunteer_id=b.pk,
        shift_id=shift.pk,
        credential=Credential(method="qr", token=token),
        now=at,
    )
    out = shift.starts_at + dt.timedelta(hours=2, minutes=10)
    check_out(
        actor=None,
        volunteer_id=b.pk,
        shift_id=shift.pk,
        credential=Credential(method="code", code=shift.checkin_code),
        now=out,
    )
    result = shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    assert (result.created, result.confirmed) == (1, 1)
    record = b.service_records.get()
    assert (record.minutes, record.status) == (120, RecordStatus.CONFIRMED)
    b.refresh_from_db()
    assert b.recorded_minutes == 120
    day = timezone.localtime(shift.starts_at).date()
    cert = (
        certificate_apply(actor=None, volunteer=b, org=activity.org, period_from=day, period_to=day)
        if day <= timezone.localdate()
        else None
    )
    if cert is not None:
        cert = certificate_issue(actor=None, scope=SYSTEM, certificate=cert)
        found = certificate_verify(number=cert.number, code=cert.snapshot["verify_code"])
        assert found is not None and found.name_masked == "王*"
