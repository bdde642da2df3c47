"""Check-in and check-out (QR, code, distance, organiser), corrections and no-shows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huzhu.activities import checkin
from huzhu.activities.models import (
    Attendance,
    AttendanceCorrection,
    CheckMethod,
    Shift,
    Signup,
    SignupStatus,
)
from huzhu.activities.record_services import shift_records_create
from huzhu.activities.services import (
    Credential,
    check_in,
    check_out,
    shift_cancel,
    shift_mark_no_shows,
    signup_create,
)
from huzhu.common.models import AuditEntry
from huzhu.orgs.scope import Scope
from tests.activities.factories import (
    SYSTEM,
    attend,
    first_shift,
    make_activity,
    make_volunteer,
    signup_state,
)

pytestmark = pytest.mark.django_db

LAT, LNG = 36.651200, 117.120000


@pytest.fixture
def shift(city) -> Shift:
    """Tomorrow 09:00–12:00; check-in from 08:30, check-out until 14:00."""
    return first_shift(make_activity(city.community_a, capacity=2))


@pytest.fixture
def volunteer(city, shift):
    volunteer = make_volunteer(city.grid_a, "王一")
    signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
    return volunteer


def qr(shift: Shift, at: dt.datetime) -> Credential:
    return Credential(
        method=CheckMethod.QR,
        token=checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=at),
    )


def code(shift: Shift) -> Credential:
    return Credential(method=CheckMethod.CODE, code=shift.checkin_code)


def cin(volunteer, shift: Shift, credential: Credential, now: dt.datetime, scope=None) -> Signup:
    return check_in(
        actor=None,
        volunteer_id=volunteer.pk,
        shift_id=shift.pk,
        credential=credential,
        scope=scope,
        now=now,
    )


def cout(volunteer, shift: Shift, credential: Credential, now: dt.datetime, scope=None) -> Signup:
    return check_out(
        actor=None,
        volunteer_id=volunteer.pk,
        shift_id=shift.pk,
        credential=credential,
        scope=scope,
        now=now,
    )


def refused(call, *args, error=ValidationError, **kwargs) -> list[str]:
    """Run ``call``; it must raise ``error`` and leave every row as it was."""
    before = signup_state()
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    assert signup_state() == before
    return getattr(caught.value, "messages", [str(caught.value)])


def start_window(shift: Shift) -> dt.datetime:
    """A moment at the very start of a QR window, ten minutes into the shift."""
    at = shift.starts_at + dt.timedelta(minutes=10)
    return at - dt.timedelta(seconds=int(at.timestamp()) % checkin.QR_WINDOW_SECONDS)


def set_place(shift: Shift, radius: int | None) -> Shift:
    activity = shift.activity
    activity.latitude, activity.longitude, activity.checkin_radius_m = LAT, LNG, radius
    activity.save()
    return Shift.objects.select_related("activity").get(pk=shift.pk)


# --- the QR code and the check-in code ------------------------------------------------------


def test_qr_check_in_in_the_current_window(shift, volunteer):
    at = start_window(shift) + dt.timedelta(seconds=29)
    signup = cin(volunteer, shift, qr(shift, at), at)
    signup.refresh_from_db()
    assert signup.checked_in_at == at
    assert (signup.check_in_method, signup.attendance) == (CheckMethod.QR, Attendance.PRESENT)
    assert signup.check_in_distance_m is None
    entry = AuditEntry.objects.get(verb="attendance.check_in")
    assert (entry.target_id, entry.data) == (str(signup.pk), {"method": "qr"})


def test_qr_from_the_previous_window_is_accepted(shift, volunteer):
    at = start_window(shift)
    token = qr(shift, at - dt.timedelta(seconds=1))  # the window before
    assert cin(volunteer, shift, token, at).checked_in_at == at


def test_qr_two_windows_old_is_refused(shift, volunteer):
    at = start_window(shift)
    old = qr(shift, at - dt.timedelta(seconds=checkin.QR_WINDOW_SECONDS + 1))
    messages = refused(cin, volunteer, shift, old, at)
    assert messages == ["二维码已过期，请扫描组织者屏幕上最新的二维码。"]


def test_qr_of_another_shift_is_refused(city, shift, volunteer):
    other = first_shift(make_activity(city.community_b, title="乙社区活动"))
    at = start_window(shift)
    token = Credential(
        method="qr", token=checkin.qr_token(secret=other.qr_secret, shift_id=other.pk, at=at)
    )
    assert "二维码已过期" in refused(cin, volunteer, shift, token, at)[0]


def test_check_in_code(shift, volunteer):
    at = shift.starts_at
    wrong = "000000" if shift.checkin_code != "000000" else "111111"
    messages = refused(cin, volunteer, shift, Credential(method="code", code=wrong), at)
    assert messages == ["签到码不正确。"]
    refused(cin, volunteer, shift, Credential(method="code"), at)
    padded = Credential(method="code", code=f" {shift.checkin_code} ")
    assert cin(volunteer, shift, padded, at).check_in_method == CheckMethod.CODE


def test_a_credential_is_required(shift, volunteer):
    messages = refused(cin, volunteer, shift, Credential(method="qr"), shift.starts_at)
    assert messages == ["请扫描二维码或输入签到码。"]


def test_the_mini_program_may_send_a_token_or_a_code(city, shift, volunteer):
    at = start_window(shift)
    stale = qr(shift, at - dt.timedelta(minutes=5))
    api_stale = Credential(method="api", token=stale.token, code=shift.checkin_code)
    assert "二维码已过期" in refused(cin, volunteer, shift, api_stale, at)[0]
    signup = cin(volunteer, shift, Credential(method="api", code=shift.checkin_code), at)
    assert signup.check_in_method == CheckMethod.API


# --- the check-in and check-out windows ------------------------------------------------------


def test_check_in_opens_before_the_start(shift, volunteer):
    opens = shift.starts_at - dt.timedelta(minutes=30)
    early = opens - dt.timedelta(seconds=1)
    messages = refused(cin, volunteer, shift, code(shift), early)
    assert messages == [f"签到尚未开始：{timezone.localtime(opens):%m-%d %H:%M} 起可以签到。"]
    assert cin(volunteer, shift, code(shift), opens).checked_in_at == opens


def test_check_in_closes_at_the_end(city, shift, volunteer):
    late = shift.ends_at + dt.timedelta(seconds=1)
    messages = refused(cin, volunteer, shift, code(shift), late)
    assert messages == ["班次已结束，不能再签到；如有遗漏请联系组织者更正。"]
    assert cin(volunteer, shift, code(shift), shift.ends_at).checked_in_at == shift.ends_at


def test_double_check_in_is_refused(shift, volunteer):
    at = shift.starts_at + dt.timedelta(minutes=5)
    cin(volunteer, shift, code(shift), at)
    messages = refused(cin, volunteer, shift, code(shift), at + dt.timedelta(minutes=1))
    assert messages == [f"您已于 {timezone.localtime(at):%H:%M} 签到，请勿重复签到。"]


def test_check_out_needs_a_check_in(shift, volunteer):
    messages = refused(cout, volunteer, shift, code(shift), shift.ends_at)
    assert messages == ["尚未签到，不能签退。"]


def test_check_out_once_and_within_the_window(shift, volunteer):
    cin(volunteer, shift, code(shift), shift.starts_at)
    closes = shift.ends_at + dt.timedelta(minutes=120)
    messages = refused(cout, volunteer, shift, code(shift), closes + dt.timedelta(seconds=1))
    assert messages == ["已过签退时间，请联系组织者更正签退时间。"]
    signup = cout(volunteer, shift, code(shift), closes)
    signup.refresh_from_db()
    assert (signup.checked_out_at, signup.check_out_method) == (closes, CheckMethod.CODE)
    messages = refused(cout, volunteer, shift, code(shift), closes)
    assert messages == ["您已签退，请勿重复签退。"]
    assert AuditEntry.objects.filter(verb="attendance.check_out").count() == 1


def test_only_confirmed_people_check_in(city, shift, volunteer):
    stranger = make_volunteer(city.grid_a, "路人")
    messages = refused(cin, stranger, shift, code(shift), shift.starts_at)
    assert messages == ["您没有报名成功该班次，不能签到。"]
    signup_create(actor=None, volunteer=make_volunteer(city.grid_a, "王二"), shift_id=shift.pk)
    waiting = make_volunteer(city.grid_a, "王三")
    assert signup_create(actor=None, volunteer=waiting, shift_id=shift.pk).status == "waitlisted"
    assert "没有报名成功" in refused(cin, waiting, shift, code(shift), shift.starts_at)[0]
    assert "没有报名成功" in refused(cout, waiting, shift, code(shift), shift.ends_at)[0]


def test_cancelled_shift_refuses_attendance(shift, volunteer):
    shift_cancel(actor=None, scope=SYSTEM, shift=shift, reason="暴雨")
    assert refused(cin, volunteer, shift, code(shift), shift.starts_at) == ["该班次已取消。"]


# --- distance -----------------------------------------------------------------------------


def test_distance_inside_the_radius_is_recorded(shift, volunteer):
    shift = set_place(shift, radius=200)
    near = Credential(method="code", code=shift.checkin_code, latitude=LAT + 0.001, longitude=LNG)
    expected = checkin.distance_m(LAT, LNG, LAT + 0.001, LNG)
    assert 100 < expected < 200
    signup = cin(volunteer, shift, near, shift.starts_at)
    signup.refresh_from_db()
    assert signup.check_in_distance_m == expected


def test_distance_outside_the_radius_is_refused(shift, volunteer):
    shift = set_place(shift, radius=200)
    far = Credential(method="code", code=shift.checkin_code, latitude=LAT + 0.01, longitude=LNG)
    distance = checkin.distance_m(LAT, LNG, LAT + 0.01, LNG)
    messages = refused(cin, volunteer, shift, far, shift.starts_at)
    assert messages == [f"您距活动地点约 {distance} 米，超出 200 米的签到范围。"]


def test_missing_location_is_refused_when_a_radius_is_set(shift, volunteer):
    shift = set_place(shift, radius=200)
    messages = refused(cin, volunteer, shift, code(shift), shift.starts_at)
    assert messages == ["该活动要求在现场签到，请允许获取位置后重试。"]


def test_without_a_radius_the_location_is_optional(shift, volunteer):
    shift = set_place(shift, radius=None)
    signup = cin(volunteer, shift, code(shift), shift.starts_at)
    assert signup.check_in_distance_m is None
    far = Credential(method="code", code=shift.checkin_code, latitude=LAT + 0.01, longitude=LNG)
    signup = cout(volunteer, shift, far, shift.ends_at)
    assert signup.checked_out_at == shift.ends_at


def test_distance_known_to_the_haversine():
    # One degree of latitude is about 111.2 km.
    assert checkin.distance_m(36.0, 117.0, 37.0, 117.0) == 111195
    assert checkin.distance_m(LAT, LNG, LAT, LNG) == 0


# --- the organiser checking people in -------------------------------------------------------


def test_organiser_method_needs_the_scope(city, shift, volunteer):
    shift = set_place(shift, radius=200)
    organiser = Credential(method="organiser")
    for scope in (None, Scope.for_user(city.worker_b), Scope.anonymous()):
        refused(
            cin, volunteer, shift, organiser, shift.starts_at, scope=scope, error=PermissionDenied
        )
    signup = cin(volunteer, shift, organiser, shift.starts_at, scope=Scope.for_user(city.worker_a))
    # No phone, no location: the organiser vouches for presence.
    assert (signup.check_in_method, signup.check_in_distance_m) == ("organiser", None)
    refused(cout, volunteer, shift, organiser, shift.ends_at, error=PermissionDenied)
    assert cout(volunteer, shift, organiser, shift.ends_at, scope=SYSTEM).checked_out_at


# --- corrections --------------------------------------------------------------------------


def correct(signup: Signup, checked_in_at, checked_out_at, reason="忘记签退", actor=None):
    from huzhu.activities.services import attendance_correct

    return attendance_correct(
        actor=actor,
        scope=SYSTEM,
        signup=signup,
        checked_in_at=checked_in_at,
        checked_out_at=checked_out_at,
        reason=reason,
    )


def test_correction_keeps_the_old_times_and_the_reason(city, shift, volunteer):
    signup = cin(volunteer, shift, code(shift), shift.starts_at + dt.timedelta(minutes=7))
    new_in, new_out = shift.starts_at, shift.ends_at
    correct(signup, new_in, new_out, actor=city.worker_a)
    signup.refresh_from_db()
    assert (signup.checked_in_at, signup.checked_out_at) == (new_in, new_out)
    assert (signup.check_in_method, signup.check_out_method) == ("code", "organiser")
    assert signup.attendance == Attendance.PRESENT
    row = AttendanceCorrection.objects.get()
    assert (row.old_in, row.old_out) == (shift.starts_at + dt.timedelta(minutes=7), None)
    assert (row.new_in, row.new_out) == (new_in, new_out)
    assert (row.reason, row.actor) == ("忘记签退", city.worker_a)
    assert AuditEntry.objects.get(verb="attendance.correct").data == {"reason": "忘记签退"}


def test_correction_for_someone_who_never_checked_in(shift, volunteer):
    signup = Signup.objects.get(volunteer=volunteer)
    correct(signup, shift.starts_at, shift.ends_at, reason="老人没有手机")
    signup.refresh_from_db()
    assert (signup.check_in_method, signup.check_out_method) == ("organiser", "organiser")
    correct(signup, None, None, reason="误签")
    signup.refresh_from_db()
    assert (signup.checked_in_at, signup.checked_out_at, signup.attendance) == (None, None, "")
    assert AttendanceCorrection.objects.count() == 2


@pytest.mark.parametrize(
    ("times", "reason", "field", "phrase"),
    [
        ((0, 60), "  ", "reason", "请填写更正原因"),
        ((60, 0), "忘记签退", "checked_out_at", "签退时间不能早于签到时间"),
        ((None, 60), "忘记签退", "checked_in_at", "有签退时间时必须有签到时间"),
        ((-13 * 60, 60), "忘记签退", "checked_in_at", "班次前后 12 小时之内"),
        ((0, 3 * 60 + 12 * 60 + 1), "忘记签退", "checked_out_at", "班次前后 12 小时之内"),
    ],
)
def test_invalid_corrections_change_nothing(shift, volunteer, times, reason, field, phrase):
    signup = Signup.objects.get(volunteer=volunteer)

    def at(minutes):
        return None if minutes is None else shift.starts_at + dt.timedelta(minutes=minutes)

    before = signup_state()
    with pytest.raises(ValidationError) as caught:
        correct(signup, at(times[0]), at(times[1]), reason=reason)
    assert list(caught.value.message_dict) == [field]
    assert phrase in caught.value.message_dict[field][0]
    assert signup_state() == before
    assert AttendanceCorrection.objects.count() == 0


def test_correction_refused_once_a_record_exists(shift, volunteer):
    signup = attend(volunteer, shift, shift.starts_at, shift.ends_at)
    shift_records_create(actor=None, scope=SYSTEM, shift=shift)
    before = signup_state()
    with pytest.raises(ValidationError) as caught:
        correct(signup, shift.starts_at, shift.ends_at - dt.timedelta(hours=1))
    assert caught.value.messages == ["该签到已生成服务记录，请更正服务记录的时长。"]
    assert signup_state() == before
    assert AttendanceCorrection.objects.count() == 0


def test_correction_only_for_confirmed_signups(city, shift, volunteer):
    signup_create(actor=None, volunteer=make_volunteer(city.grid_a, "王二"), shift_id=shift.pk)
    waiting = signup_create(
        actor=None, volunteer=make_volunteer(city.grid_a, "王三"), shift_id=shift.pk
    )
    with pytest.raises(ValidationError) as caught:
        correct(waiting, shift.starts_at, shift.ends_at)
    assert caught.value.messages == ["只能更正报名成功者的签到时间。"]
    with pytest.raises(PermissionDenied):
        from huzhu.activities.services import attendance_correct

        attendance_correct(
            actor=None,
            scope=Scope.for_user(city.worker_b),
            signup=Signup.objects.get(volunteer=volunteer),
            checked_in_at=shift.starts_at,
            checked_out_at=shift.ends_at,
            reason="代签",
        )
    assert AttendanceCorrection.objects.count() == 0


# --- no-shows -----------------------------------------------------------------------------


def test_no_shows_are_marked_only_after_the_window_and_once(city, shift, volunteer):
    present = make_volunteer(city.grid_a, "王二")
    signup_create(actor=None, volunteer=present, shift_id=shift.pk)
    waiting = make_volunteer(city.grid_a, "王三")
    signup_create(actor=None, volunteer=waiting, shift_id=shift.pk)
    attend(present, shift, shift.starts_at, shift.ends_at)
    closes = shift.ends_at + dt.timedelta(minutes=120)
    before = signup_state()
    assert shift_mark_no_shows(actor=None, shift=shift, now=closes) == 0
    assert signup_state() == before
    assert shift_mark_no_shows(actor=None, shift=shift, now=closes + dt.timedelta(seconds=1)) == 1
    attendance = dict(Signup.objects.values_list("volunteer_id", "attendance"))
    assert attendance == {volunteer.pk: "no_show", present.pk: "present", waiting.pk: ""}
    statuses = dict(Signup.objects.values_list("volunteer_id", "status"))
    assert statuses[volunteer.pk] == SignupStatus.CONFIRMED
    assert shift_mark_no_shows(actor=None, shift=shift, now=closes + dt.timedelta(days=1)) == 0
    assert AuditEntry.objects.get(verb="attendance.no_show").data == {"count": 1}
