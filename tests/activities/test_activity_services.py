"""Activities, recurring shifts and shifts: validation, status changes, cancellation, audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.utils import timezone

from huzhu.activities.models import Activity, ActivityStatus, Signup, SignupStatus
from huzhu.activities.services import (
    ShiftInput,
    activity_create,
    activity_record_beneficiaries,
    activity_set_status,
    activity_update,
    recurring_shifts_extend,
    shift_add,
    shift_cancel,
    shift_update,
    signup_create,
    signup_withdraw,
)
from huzhu.common.models import AuditEntry, Notification, WorkdayOverride
from huzhu.orgs.scope import Scope
from tests.activities.factories import (
    SYSTEM,
    activity_input,
    first_shift,
    local_at,
    make_activity,
    make_login_volunteer,
    make_volunteer,
    shift_input_like,
)

pytestmark = pytest.mark.django_db

MONDAY, WEDNESDAY, FRIDAY = 1 << 0, 1 << 2, 1 << 4
WEEKDAYS = 0b11111


def audit_verbs(target: Model) -> list[str]:
    return list(
        AuditEntry.objects.filter(
            target_type=ContentType.objects.get_for_model(target), target_id=str(target.pk)
        )
        .order_by("id")
        .values_list("verb", flat=True)
    )


# --- creating and updating activities -------------------------------------------------------


def test_create_saves_activity_lists_and_audit(city):
    actor = city.worker_a
    activity = activity_create(
        actor=actor,
        scope=Scope.for_user(actor),
        org=city.community_a,
        data=activity_input(title="  助老理发  ", latitude=36.65, longitude=117.0),
    )
    activity.refresh_from_db()
    assert activity.title == "助老理发"
    assert activity.status == ActivityStatus.PENDING
    assert activity.created_by == actor
    assert activity.min_age == 0
    entry = AuditEntry.objects.get(verb="activity.create")
    assert (entry.target_id, entry.actor, entry.org) == (str(activity.pk), actor, city.community_a)
    assert entry.data == {"title": "助老理发"}


def _day(offset: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=offset)


INVALID: list[tuple[str, Callable[[], dict], str, str]] = [
    ("title", lambda: {"title": "   "}, "title", "请填写活动名称"),
    ("address", lambda: {"address": ""}, "address", "请填写活动地点"),
    (
        "ends_before_starts",
        lambda: {"starts_on": _day(5), "ends_on": _day(4)},
        "ends_on",
        "结束日期不能早于开始日期",
    ),
    ("risky_no_insurance", lambda: {"is_risky": True}, "insurance_policy", "意外保险"),
    (
        "risky_insurer_only",
        lambda: {"is_risky": True, "insurer": "某保险公司"},
        "insurance_policy",
        "承保机构和保单号",
    ),
    ("code_without_code", lambda: {"recruitment": "code"}, "invite_code", "请设置邀请码"),
    ("latitude_only", lambda: {"latitude": 36.6}, "latitude", "经纬度须同时填写"),
    ("longitude_only", lambda: {"longitude": 117.0}, "latitude", "经纬度须同时填写"),
    (
        "radius_without_place",
        lambda: {"checkin_radius_m": 300},
        "checkin_radius_m",
        "请填写活动地点的经纬度",
    ),
    ("rounding_unit", lambda: {"rounding_minutes": 0}, "rounding_minutes", "1 到 60 分钟"),
    (
        "recurrence_without_times",
        lambda: {"recur_weekdays": MONDAY, "recur_capacity": 5},
        "recur_end",
        "重复班次须填写开始和结束时间",
    ),
    (
        "recurrence_end_before_start",
        lambda: {
            "recur_weekdays": MONDAY,
            "recur_start": dt.time(10),
            "recur_end": dt.time(9),
            "recur_capacity": 5,
        },
        "recur_end",
        "结束晚于开始",
    ),
    (
        "recurrence_without_capacity",
        lambda: {"recur_weekdays": MONDAY, "recur_start": dt.time(9), "recur_end": dt.time(11)},
        "recur_capacity",
        "请填写重复班次的名额",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "field", "phrase"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_create_refuses_each_invalid_field(city, overrides, field, phrase):
    with pytest.raises(ValidationError) as caught:
        activity_create(
            actor=None, scope=SYSTEM, org=city.community_a, data=activity_input(**overrides())
        )
    errors = caught.value.message_dict
    assert list(errors) == [field]
    assert len(errors[field]) == 1 and phrase in errors[field][0]
    assert Activity.objects.count() == 0
    assert AuditEntry.objects.filter(verb="activity.create").count() == 0


def test_create_reports_every_invalid_field_at_once(city):
    data = activity_input(title="", address="", recruitment="code", latitude=1.0)
    with pytest.raises(ValidationError) as caught:
        activity_create(actor=None, scope=SYSTEM, org=city.community_a, data=data)
    assert sorted(caught.value.message_dict) == ["address", "invite_code", "latitude", "title"]


def test_create_refused_for_an_org_that_cannot_organise(city):
    with pytest.raises(ValidationError) as caught:
        activity_create(actor=None, scope=SYSTEM, org=city.grid_a, data=activity_input())
    assert caught.value.message_dict == {"org": ["该组织不能发布志愿活动。"]}
    assert Activity.objects.count() == 0


def test_create_outside_scope_is_permission_denied(city):
    with pytest.raises(PermissionDenied):
        activity_create(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            org=city.community_a,
            data=activity_input(),
        )
    assert Activity.objects.count() == 0


def test_risky_activity_raises_min_age_to_18_but_keeps_a_higher_one(city):
    risky = dict(is_risky=True, insurer="某保险公司", insurance_policy="PA-001")
    low = activity_create(
        actor=None, scope=SYSTEM, org=city.community_a, data=activity_input(min_age=12, **risky)
    )
    high = activity_create(
        actor=None, scope=SYSTEM, org=city.community_a, data=activity_input(min_age=20, **risky)
    )
    safe = activity_create(
        actor=None, scope=SYSTEM, org=city.community_a, data=activity_input(min_age=12)
    )
    assert [a.min_age for a in (low, high, safe)] == [18, 20, 12]
    low.refresh_from_db()
    assert low.min_age == 18


def test_update_records_changes_and_is_audited(city):
    activity = make_activity(city.community_a, title="旧名称")
    activity_update(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        activity=activity,
        data=activity_input(title="新名称", starts_on=activity.starts_on, ends_on=activity.ends_on),
    )
    activity.refresh_from_db()
    assert activity.title == "新名称"
    entry = AuditEntry.objects.filter(verb="activity.update").get()
    assert entry.data["changed"] == {"title": ["旧名称", "新名称"]}


@pytest.mark.parametrize("final", [ActivityStatus.CLOSED, ActivityStatus.CANCELLED])
def test_update_refused_once_closed_or_cancelled(city, final):
    activity = make_activity(city.community_a, title="旧名称")
    activity_set_status(actor=None, scope=SYSTEM, activity=activity, status=final, reason="下雨")
    with pytest.raises(ValidationError) as caught:
        activity_update(
            actor=None, scope=SYSTEM, activity=activity, data=activity_input(title="新名称")
        )
    assert "已结项或已取消的活动不能修改" in caught.value.messages[0]
    activity.refresh_from_db()
    assert activity.title == "旧名称"
    assert AuditEntry.objects.filter(verb="activity.update").count() == 0


def test_update_validation_changes_nothing(city):
    activity = make_activity(city.community_a, title="旧名称")
    with pytest.raises(ValidationError) as caught:
        activity_update(
            actor=None,
            scope=SYSTEM,
            activity=activity,
            data=activity_input(title="新名称", is_risky=True),
        )
    assert list(caught.value.message_dict) == ["insurance_policy"]
    activity.refresh_from_db()
    assert (activity.title, activity.is_risky) == ("旧名称", False)


def test_beneficiaries_recorded_and_bounded(city):
    activity = make_activity(city.community_a)
    activity_record_beneficiaries(actor=None, scope=SYSTEM, activity=activity, count=35)
    with pytest.raises(ValidationError) as caught:
        activity_record_beneficiaries(actor=None, scope=SYSTEM, activity=activity, count=-1)
    assert list(caught.value.message_dict) == ["count"]
    activity.refresh_from_db()
    assert activity.beneficiary_count == 35
    assert AuditEntry.objects.get(verb="activity.beneficiaries").data == {"from": 0, "to": 35}


# --- status -------------------------------------------------------------------------------


def test_publish_needs_a_live_shift(city):
    activity = make_activity(city.community_a, publish=False, shifts=0)
    with pytest.raises(ValidationError) as caught:
        activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="recruiting")
    assert "请先添加至少一个班次再发布活动" in caught.value.messages[0]
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PENDING
    start = local_at(timezone.localdate() + dt.timedelta(days=1), 9)
    shift_add(
        actor=None,
        scope=SYSTEM,
        activity=activity,
        data=ShiftInput(starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=5),
    )
    activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="recruiting")
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.RECRUITING


def test_allowed_transitions_are_audited(city):
    activity = make_activity(city.community_a, publish=False)
    for status in ("recruiting", "running", "recruiting", "running", "closed"):
        activity_set_status(actor=None, scope=SYSTEM, activity=activity, status=status)
        activity.refresh_from_db()
        assert activity.status == status
    moves = [
        (e.data["from"], e.data["to"])
        for e in AuditEntry.objects.filter(verb="activity.status").order_by("id")
    ]
    assert moves == [
        ("pending", "recruiting"),
        ("recruiting", "running"),
        ("running", "recruiting"),
        ("recruiting", "running"),
        ("running", "closed"),
    ]


@pytest.mark.parametrize(
    ("path", "refused", "phrase"),
    [
        ([], "running", "活动当前为“待启动”，不能改为“进行中”"),
        ([], "closed", "活动当前为“待启动”，不能改为“已结项”"),
        (["recruiting", "closed"], "recruiting", "活动当前为“已结项”，不能改为“招募中”"),
        (["recruiting", "closed"], "cancelled", "活动当前为“已结项”，不能改为“已取消”"),
        (["cancelled"], "recruiting", "活动当前为“已取消”，不能改为“招募中”"),
        (["recruiting"], "pending", "活动当前为“招募中”，不能改为“待启动”"),
    ],
)
def test_refused_transitions_change_nothing(city, path, refused, phrase):
    activity = make_activity(city.community_a, publish=False)
    for status in path:
        activity_set_status(
            actor=None, scope=SYSTEM, activity=activity, status=status, reason="因故取消"
        )
    before = activity.status
    entries = AuditEntry.objects.filter(verb="activity.status").count()
    with pytest.raises(ValidationError) as caught:
        activity_set_status(
            actor=None, scope=SYSTEM, activity=activity, status=refused, reason="因故取消"
        )
    assert phrase in caught.value.messages[0]
    activity.refresh_from_db()
    assert activity.status == before
    assert AuditEntry.objects.filter(verb="activity.status").count() == entries


def test_unknown_status_is_a_validation_error(city):
    activity = make_activity(city.community_a)
    with pytest.raises(ValidationError) as caught:
        activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="archived")
    assert caught.value.message_dict == {"status": ["未知的活动状态。"]}


def test_status_change_outside_scope_is_permission_denied(city):
    activity = make_activity(city.community_a, publish=False)
    with pytest.raises(PermissionDenied):
        activity_set_status(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            activity=activity,
            status="recruiting",
        )
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PENDING


def test_cancel_needs_a_reason(city):
    activity = make_activity(city.community_a, shifts=2)
    with pytest.raises(ValidationError) as caught:
        activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="cancelled")
    assert list(caught.value.message_dict) == ["reason"]
    assert "取消活动请说明原因" in caught.value.message_dict["reason"][0]
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.RECRUITING
    assert not activity.shifts.filter(is_cancelled=True).exists()


def test_cancel_cancels_shifts_and_notifies_everyone_signed_up(city):
    activity = make_activity(city.community_a, shifts=2, capacity=1)
    one, two = activity.shifts.order_by("starts_at")
    a = make_login_volunteer(city.grid_a, "王一", username="v-a")
    b = make_login_volunteer(city.grid_a, "王二", username="v-b")
    c = make_login_volunteer(city.grid_a, "王三", username="v-c")
    signup_create(actor=None, volunteer=a, shift_id=one.pk)
    signup_create(actor=None, volunteer=b, shift_id=one.pk)
    left = signup_create(actor=None, volunteer=c, shift_id=two.pk)
    signup_withdraw(actor=None, signup=left)
    activity_set_status(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        activity=activity,
        status="cancelled",
        reason="台风预警",
    )
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.CANCELLED
    assert list(activity.shifts.values_list("is_cancelled", "confirmed_count")) == [
        (True, 0),
        (True, 0),
    ]
    statuses = dict(Signup.objects.values_list("volunteer_id", "status"))
    assert statuses == {
        a.pk: SignupStatus.CANCELLED,
        b.pk: SignupStatus.CANCELLED,
        c.pk: SignupStatus.WITHDRAWN,
    }
    notes = Notification.objects.filter(kind="activity.cancelled").order_by("user__username")
    assert [n.user.username for n in notes] == ["v-a", "v-b"]
    assert {n.title for n in notes} == {"班次已取消：社区助老活动"}
    assert all("原因：台风预警" in n.body for n in notes)
    assert audit_verbs(one) == ["shift.create", "shift.cancel"]
    assert audit_verbs(two) == ["shift.create", "shift.cancel"]
    entry = AuditEntry.objects.filter(verb="activity.status").order_by("id").last()
    assert entry.data == {"from": "recruiting", "to": "cancelled", "reason": "台风预警"}


def test_cancel_leaves_shifts_already_served_alone(city):
    today = timezone.localdate()
    activity = make_activity(
        city.community_a, shifts=4, start=local_at(today - dt.timedelta(days=2), 9)
    )
    shifts = list(activity.shifts.order_by("starts_at"))
    past, future = shifts[0], shifts[3]
    volunteer = make_login_volunteer(city.grid_a, "王一", username="v-a")
    signup = signup_create(
        actor=None,
        volunteer=volunteer,
        shift_id=past.pk,
        now=past.starts_at - dt.timedelta(days=1),
    )
    activity_set_status(
        actor=None, scope=SYSTEM, activity=activity, status="cancelled", reason="场地维修"
    )
    past.refresh_from_db()
    future.refresh_from_db()
    signup.refresh_from_db()
    assert (past.is_cancelled, past.confirmed_count) == (False, 1)
    assert future.is_cancelled is True
    assert signup.status == SignupStatus.CONFIRMED
    assert not Notification.objects.filter(kind="activity.cancelled").exists()


# --- recurring activities -------------------------------------------------------------------


def recurring(city, starts_on: dt.date, ends_on: dt.date, weekdays: int, **fields) -> Activity:
    """A recurring activity with no shifts yet (whatever today is)."""
    activity = activity_create(
        actor=None,
        scope=SYSTEM,
        org=city.community_a,
        data=activity_input(
            starts_on=starts_on,
            ends_on=ends_on,
            recur_weekdays=weekdays,
            recur_start=dt.time(9, 30),
            recur_end=dt.time(11, 30),
            recur_capacity=8,
            **fields,
        ),
    )
    activity.shifts.all().delete()
    return activity


def local_days(activity: Activity) -> list[dt.date]:
    return [timezone.localtime(s.starts_at).date() for s in activity.shifts.order_by("starts_at")]


def test_recurring_creates_one_shift_per_weekday_and_skips_statutory_holidays(city):
    # 2026: 国庆 1–7 October are days off; Monday 28 September and Friday 9 October are not.
    activity = recurring(
        city, dt.date(2026, 9, 28), dt.date(2026, 10, 11), MONDAY | WEDNESDAY | FRIDAY
    )
    created = recurring_shifts_extend(
        activity=activity, today=dt.date(2026, 9, 28), horizon_days=28
    )
    assert created == 3
    assert local_days(activity) == [
        dt.date(2026, 9, 28),
        dt.date(2026, 9, 30),
        dt.date(2026, 10, 9),
    ]
    shift = first_shift(activity)
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    assert (start.time(), end.time(), shift.capacity) == (dt.time(9, 30), dt.time(11, 30), 8)
    assert shift.signup_mode == "instant" and len(shift.checkin_code) == 6
    assert (
        recurring_shifts_extend(activity=activity, today=dt.date(2026, 9, 28), horizon_days=28) == 0
    )
    assert activity.shifts.count() == 3


def test_recurring_without_holiday_skipping_keeps_holidays(city):
    activity = recurring(
        city,
        dt.date(2026, 9, 28),
        dt.date(2026, 10, 11),
        MONDAY | WEDNESDAY | FRIDAY,
        recur_skip_holidays=False,
    )
    assert recurring_shifts_extend(activity=activity, today=dt.date(2026, 9, 28)) == 6
    assert local_days(activity) == [
        dt.date(2026, 9, 28),
        dt.date(2026, 9, 30),
        dt.date(2026, 10, 2),
        dt.date(2026, 10, 5),
        dt.date(2026, 10, 7),
        dt.date(2026, 10, 9),
    ]


def test_recurring_stays_within_the_horizon_then_extends(city):
    activity = recurring(
        city, dt.date(2026, 9, 28), dt.date(2026, 10, 11), MONDAY | WEDNESDAY | FRIDAY
    )
    assert (
        recurring_shifts_extend(activity=activity, today=dt.date(2026, 9, 28), horizon_days=7) == 2
    )
    assert local_days(activity) == [dt.date(2026, 9, 28), dt.date(2026, 9, 30)]
    assert (
        recurring_shifts_extend(activity=activity, today=dt.date(2026, 10, 4), horizon_days=7) == 1
    )
    assert local_days(activity)[-1] == dt.date(2026, 10, 9)


def test_recurring_starts_from_today_not_from_the_first_day(city):
    activity = recurring(
        city, dt.date(2026, 9, 28), dt.date(2026, 10, 11), MONDAY | WEDNESDAY | FRIDAY
    )
    assert recurring_shifts_extend(activity=activity, today=dt.date(2026, 9, 29)) == 2
    assert local_days(activity) == [dt.date(2026, 9, 30), dt.date(2026, 10, 9)]


def test_recurring_respects_a_workday_override(city):
    # A year the calendar package may not know: the administrator's override decides.
    WorkdayOverride.objects.create(date=dt.date(2027, 3, 10), is_workday=False, note="临时放假")
    activity = recurring(city, dt.date(2027, 3, 8), dt.date(2027, 3, 14), WEEKDAYS)
    assert recurring_shifts_extend(activity=activity, today=dt.date(2027, 3, 1)) == 4
    assert local_days(activity) == [
        dt.date(2027, 3, 8),
        dt.date(2027, 3, 9),
        dt.date(2027, 3, 11),
        dt.date(2027, 3, 12),
    ]
    assert recurring_shifts_extend(activity=activity, today=dt.date(2027, 3, 1)) == 0


@pytest.mark.parametrize("final", [ActivityStatus.CLOSED, ActivityStatus.CANCELLED])
def test_recurring_stops_once_closed_or_cancelled(city, final):
    activity = recurring(city, dt.date(2027, 3, 8), dt.date(2027, 3, 14), WEEKDAYS)
    Activity.objects.filter(pk=activity.pk).update(status=final)
    activity.refresh_from_db()
    assert recurring_shifts_extend(activity=activity, today=dt.date(2027, 3, 1)) == 0
    assert activity.shifts.count() == 0


# --- shifts -------------------------------------------------------------------------------


def test_shift_outside_the_activity_dates_is_refused(city):
    activity = make_activity(city.community_a)
    start = local_at(activity.ends_on + dt.timedelta(days=1), 9)
    with pytest.raises(ValidationError) as caught:
        shift_add(
            actor=None,
            scope=SYSTEM,
            activity=activity,
            data=ShiftInput(starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=3),
        )
    assert list(caught.value.message_dict) == ["starts_at"]
    assert "班次日期须在活动日期" in caught.value.message_dict["starts_at"][0]
    assert activity.shifts.count() == 1


@pytest.mark.parametrize(
    ("hours", "field", "phrase"),
    [(25, "ends_at", "一个班次不能超过 24 小时"), (0, "ends_at", "班次结束时间须晚于开始时间")],
)
def test_shift_length_is_checked(city, hours, field, phrase):
    activity = make_activity(city.community_a)
    start = first_shift(activity).starts_at + dt.timedelta(hours=4)
    with pytest.raises(ValidationError) as caught:
        shift_add(
            actor=None,
            scope=SYSTEM,
            activity=activity,
            data=ShiftInput(starts_at=start, ends_at=start + dt.timedelta(hours=hours), capacity=3),
        )
    assert list(caught.value.message_dict) == [field]
    assert phrase in caught.value.message_dict[field][0]
    assert activity.shifts.count() == 1


def test_a_24_hour_shift_is_allowed(city):
    activity = make_activity(city.community_a)
    start = first_shift(activity).starts_at + dt.timedelta(hours=4)
    shift = shift_add(
        actor=None,
        scope=SYSTEM,
        activity=activity,
        data=ShiftInput(starts_at=start, ends_at=start + dt.timedelta(hours=24), capacity=3),
    )
    assert shift.ends_at - shift.starts_at == dt.timedelta(hours=24)


def test_shift_capacity_and_duplicate_start_are_checked(city):
    activity = make_activity(city.community_a)
    existing = first_shift(activity)
    with pytest.raises(ValidationError) as caught:
        shift_add(actor=None, scope=SYSTEM, activity=activity, data=shift_input_like(existing))
    assert caught.value.message_dict == {"starts_at": ["该活动在这个时间已有班次。"]}
    later = existing.starts_at + dt.timedelta(hours=4)
    with pytest.raises(ValidationError) as caught:
        shift_add(
            actor=None,
            scope=SYSTEM,
            activity=activity,
            data=ShiftInput(starts_at=later, ends_at=later + dt.timedelta(hours=1), capacity=0),
        )
    assert list(caught.value.message_dict) == ["capacity"]
    assert activity.shifts.count() == 1


def test_shift_add_refused_on_a_closed_activity(city):
    activity = make_activity(city.community_a)
    activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="closed")
    later = first_shift(activity).starts_at + dt.timedelta(hours=4)
    with pytest.raises(ValidationError) as caught:
        shift_add(
            actor=None,
            scope=SYSTEM,
            activity=activity,
            data=ShiftInput(starts_at=later, ends_at=later + dt.timedelta(hours=1), capacity=2),
        )
    assert "已结项或已取消的活动不能添加班次" in caught.value.messages[0]
    assert activity.shifts.count() == 1


def test_capacity_below_confirmed_is_refused(city):
    activity = make_activity(city.community_a, capacity=3)
    shift = first_shift(activity)
    for name in ("王一", "王二"):
        signup_create(actor=None, volunteer=make_volunteer(city.grid_a, name), shift_id=shift.pk)
    with pytest.raises(ValidationError) as caught:
        shift_update(
            actor=None, scope=SYSTEM, shift=shift, data=shift_input_like(shift, capacity=1)
        )
    assert caught.value.message_dict == {"capacity": ["已有 2 人报名成功，名额不能少于该人数。"]}
    shift.refresh_from_db()
    assert (shift.capacity, shift.confirmed_count) == (3, 2)
    shift_update(actor=None, scope=SYSTEM, shift=shift, data=shift_input_like(shift, capacity=2))
    shift.refresh_from_db()
    assert (shift.capacity, shift.confirmed_count) == (2, 2)


def test_more_places_promote_the_waiting_list_in_queue_order(city):
    activity = make_activity(city.community_a, capacity=1)
    shift = first_shift(activity)
    now = timezone.now()
    people = {
        name: make_login_volunteer(city.grid_a, name, username=f"v-{n}")
        for n, name in enumerate(("王一", "王二", "王三", "王四"))
    }
    # The waiting list follows the sign-up time, not the row order.
    for name, minutes_ago in (("王一", 50), ("王三", 30), ("王二", 40), ("王四", 20)):
        signup_create(
            actor=None,
            volunteer=people[name],
            shift_id=shift.pk,
            now=now - dt.timedelta(minutes=minutes_ago),
        )
    shift_update(actor=None, scope=SYSTEM, shift=shift, data=shift_input_like(shift, capacity=3))
    shift.refresh_from_db()
    assert (shift.capacity, shift.confirmed_count) == (3, 3)
    statuses = {
        s.volunteer.person.name: s.status
        for s in Signup.objects.filter(shift=shift).select_related("volunteer__person")
    }
    assert statuses == {
        "王一": SignupStatus.CONFIRMED,
        "王二": SignupStatus.CONFIRMED,
        "王三": SignupStatus.CONFIRMED,
        "王四": SignupStatus.WAITLISTED,
    }
    promoted = Notification.objects.filter(kind="activity.promoted").order_by("user__username")
    assert [n.user.username for n in promoted] == ["v-1", "v-2"]
    assert all(n.title.startswith("候补转正") for n in promoted)
    entry = AuditEntry.objects.get(verb="shift.update")
    assert (entry.data["capacity"], entry.data["promoted"]) == (3, 2)


def test_shift_update_refuses_a_start_taken_by_another_shift(city):
    activity = make_activity(city.community_a, shifts=2)
    one, two = activity.shifts.order_by("starts_at")
    with pytest.raises(ValidationError) as caught:
        shift_update(
            actor=None,
            scope=SYSTEM,
            shift=two,
            data=shift_input_like(two, starts_at=one.starts_at, ends_at=one.ends_at),
        )
    assert caught.value.message_dict == {"starts_at": ["该活动在这个时间已有班次。"]}
    two.refresh_from_db()
    assert two.starts_at == one.starts_at + dt.timedelta(days=1)


def test_shift_update_refused_when_cancelled_or_activity_closed(city):
    activity = make_activity(city.community_a, shifts=2)
    one, two = activity.shifts.order_by("starts_at")
    shift_cancel(actor=None, scope=SYSTEM, shift=one, reason="场地不可用")
    with pytest.raises(ValidationError) as caught:
        shift_update(actor=None, scope=SYSTEM, shift=one, data=shift_input_like(one, capacity=20))
    assert caught.value.messages == ["该班次已取消。"]
    activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="closed")
    two.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        shift_update(actor=None, scope=SYSTEM, shift=two, data=shift_input_like(two, capacity=20))
    assert "已结项或已取消的活动不能修改班次" in caught.value.messages[0]
    assert list(activity.shifts.values_list("capacity", flat=True)) == [10, 10]


def test_shift_cancel_needs_a_reason_and_notifies(city):
    activity = make_activity(city.community_a, capacity=1)
    shift = first_shift(activity)
    a = make_login_volunteer(city.grid_a, "王一", username="v-a")
    b = make_login_volunteer(city.grid_a, "王二", username="v-b")
    signup_create(actor=None, volunteer=a, shift_id=shift.pk)
    signup_create(actor=None, volunteer=b, shift_id=shift.pk)
    with pytest.raises(ValidationError) as caught:
        shift_cancel(actor=None, scope=SYSTEM, shift=shift, reason="  ")
    assert list(caught.value.message_dict) == ["reason"]
    shift.refresh_from_db()
    assert (shift.is_cancelled, shift.confirmed_count) == (False, 1)
    shift_cancel(actor=None, scope=SYSTEM, shift=shift, reason="场地不可用")
    shift.refresh_from_db()
    assert (shift.is_cancelled, shift.confirmed_count) == (True, 0)
    assert set(Signup.objects.values_list("status", flat=True)) == {SignupStatus.CANCELLED}
    notes = Notification.objects.filter(kind="activity.cancelled")
    assert sorted(n.user.username for n in notes) == ["v-a", "v-b"]
    assert AuditEntry.objects.get(verb="shift.cancel").data == {
        "reason": "场地不可用",
        "signups": 2,
    }
    with pytest.raises(ValidationError) as caught:
        shift_cancel(actor=None, scope=SYSTEM, shift=shift, reason="再次取消")
    assert caught.value.messages == ["该班次已取消。"]
    assert Notification.objects.filter(kind="activity.cancelled").count() == 2
