"""The organiser's activity pages: list, form, overview and status, shifts, the live board
with its per-person actions, and the QR screen. Worker A manages community A; worker B,
of community B, must find every object of A missing."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from huzhu.activities import checkin
from huzhu.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    AttendanceCorrection,
    CheckMethod,
    Shift,
    Signup,
    SignupMode,
    SignupStatus,
)
from huzhu.activities.record_services import shift_records_create
from huzhu.activities.services import (
    ShiftInput,
    shift_update,
    signup_create,
)
from huzhu.orgs.roles import Role
from huzhu.volunteers.models import ServedGroup, Skill
from tests.activities.clients import client_for
from tests.activities.factories import (
    SYSTEM,
    category,
    first_shift,
    local_at,
    make_activity,
    make_volunteer,
    organiser_check,
)
from tests.factories import UserFactory, grant

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


# --- helpers shared with test_record_views ---------------------------------------------------


def page_text(response) -> str:
    return response.content.decode()


def count_queries(client: Client, url: str, **headers: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def past_activity(org, *, hours_ago: int = 10, capacity: int = 10, **fields) -> Activity:
    """An activity whose one 3-hour shift started ``hours_ago`` hours ago."""
    start = timezone.localtime().replace(second=0, microsecond=0) - dt.timedelta(hours=hours_ago)
    return make_activity(org, start=start, hours=3, capacity=capacity, **fields)


def sign_up(shift: Shift, *volunteers) -> list[Signup]:
    """Sign up before the shift (a day ahead, whatever the shift's time)."""
    before = shift.starts_at - dt.timedelta(days=1)
    return [
        signup_create(actor=None, volunteer=v, shift_id=shift.pk, now=before) for v in volunteers
    ]


def attend(shift: Shift, volunteer, *, minutes_in: int = 1, minutes_out: int | None = 130):
    """Check in ``minutes_in`` after the start and out ``minutes_out`` after it (None: not)."""
    organiser_check("in", volunteer, shift, shift.starts_at + dt.timedelta(minutes=minutes_in))
    if minutes_out is not None:
        organiser_check(
            "out", volunteer, shift, shift.starts_at + dt.timedelta(minutes=minutes_out)
        )


def running_shift(city, capacity: int = 10) -> tuple[Activity, Shift]:
    """A shift that started 30 minutes ago (check-in open) with sign-ups made earlier."""
    activity = past_activity(city.community_a, hours_ago=0, capacity=capacity)
    shift = first_shift(activity)
    Shift.objects.filter(pk=shift.pk).update(
        starts_at=timezone.now() - dt.timedelta(minutes=30),
        ends_at=timezone.now() + dt.timedelta(hours=2),
    )
    shift.refresh_from_db()
    return activity, shift


# --- pages render ---------------------------------------------------------------------------


def test_every_page_renders_for_worker_a(city, worker_a):
    activity = make_activity(city.community_a, title="周末助老")
    shift = first_shift(activity)
    (signup,) = sign_up(shift, make_volunteer(city.grid_a, "王一"))
    urls = [
        reverse("activities:manage_list"),
        reverse("activities:create"),
        reverse("activities:edit", kwargs={"activity_id": activity.pk}),
        reverse("activities:manage_detail", kwargs={"activity_id": activity.pk}),
        reverse("activities:board", kwargs={"shift_id": shift.pk}),
        reverse("activities:board_rows", kwargs={"shift_id": shift.pk}),
        reverse("activities:organiser_signup", kwargs={"shift_id": shift.pk}),
        reverse("activities:shift_edit", kwargs={"shift_id": shift.pk}),
        reverse("activities:attendance_correct", kwargs={"signup_id": signup.pk}),
        reverse("activities:qr", kwargs={"shift_id": shift.pk}),
        reverse("activities:qr_code", kwargs={"shift_id": shift.pk}),
    ]
    for url in urls:
        response = worker_a.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "text/html; charset=utf-8"
    detail = page_text(worker_a.get(urls[3]))
    assert "周末助老" in detail
    assert reverse("activities:board", kwargs={"shift_id": shift.pk}) in detail
    assert reverse("activities:detail", kwargs={"activity_id": activity.pk}) in detail
    board = page_text(worker_a.get(urls[4]))
    assert shift.checkin_code in board
    assert "王一" in board


def test_pages_need_login(city):
    response = Client().get(reverse("activities:manage_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_worker_b_finds_every_object_of_community_a_missing(city, worker_b):
    activity = make_activity(city.community_a)
    shift = first_shift(activity)
    (signup,) = sign_up(shift, make_volunteer(city.grid_a, "王一"))
    a, s, g = activity.pk, shift.pk, signup.pk
    gets = [
        ("edit", {"activity_id": a}),
        ("manage_detail", {"activity_id": a}),
        ("board", {"shift_id": s}),
        ("board_rows", {"shift_id": s}),
        ("organiser_signup", {"shift_id": s}),
        ("shift_edit", {"shift_id": s}),
        ("qr", {"shift_id": s}),
        ("qr_code", {"shift_id": s}),
        ("attendance_correct", {"signup_id": g}),
    ]
    posts = [
        ("edit", {"activity_id": a}),
        ("set_status", {"activity_id": a}),
        ("beneficiaries", {"activity_id": a}),
        ("shift_add", {"activity_id": a}),
        ("organiser_signup", {"shift_id": s}),
        ("shift_edit", {"shift_id": s}),
        ("shift_cancel", {"shift_id": s}),
        ("shift_no_shows", {"shift_id": s}),
        ("shift_records", {"shift_id": s}),
        ("shift_confirm", {"shift_id": s}),
        ("signup_decide", {"signup_id": g}),
        ("organiser_check", {"signup_id": g}),
        ("attendance_correct", {"signup_id": g}),
        ("signup_remove", {"signup_id": g}),
    ]
    for name, kwargs in gets:
        assert worker_b.get(reverse(f"activities:{name}", kwargs=kwargs)).status_code == 404, name
    for name, kwargs in posts:
        response = worker_b.post(
            reverse(f"activities:{name}", kwargs=kwargs),
            {"status": "cancelled", "reason": "x", "direction": "in", "decision": "approve"},
        )
        assert response.status_code == 404, name
    activity.refresh_from_db()
    signup.refresh_from_db()
    assert (activity.status, signup.status, signup.checked_in_at) == (
        ActivityStatus.RECRUITING,
        SignupStatus.CONFIRMED,
        None,
    )
    assert not Shift.objects.get(pk=s).is_cancelled
    # and the list does not show it
    assert activity.title not in page_text(worker_b.get(reverse("activities:manage_list")))


# --- the list -------------------------------------------------------------------------------


def test_list_filters_and_htmx_partial(city, worker_a):
    make_activity(city.community_a, title="敬老院探访")
    make_activity(city.community_a, title="垃圾分类宣传", publish=False)
    make_activity(city.community_b, title="乙社区义诊")
    url = reverse("activities:manage_list")
    text = page_text(worker_a.get(url))
    assert "敬老院探访" in text and "垃圾分类宣传" in text
    assert "乙社区义诊" not in text
    assert "共 2 个活动" in text
    text = page_text(worker_a.get(url, {"status": "pending"}))
    assert "垃圾分类宣传" in text and "敬老院探访" not in text
    text = page_text(worker_a.get(url, {"q": "敬老"}))
    assert "敬老院探访" in text and "垃圾分类宣传" not in text
    other = category("环境保护")
    text = page_text(worker_a.get(url, {"category": other.pk}))
    assert "共 0 个活动" in text
    partial = worker_a.get(
        url, {"q": "敬老"}, headers={"HX-Request": "true", "HX-Target": "activity-results"}
    )
    body = page_text(partial)
    assert "<html" not in body and "敬老院探访" in body
    assert "发布活动" in text


def test_list_query_count_does_not_grow_with_rows(city, worker_a):
    url = reverse("activities:manage_list")
    for n in range(3):
        make_activity(city.community_a, title=f"活动{n}", shifts=2)
    few = count_queries(worker_a, url)
    for n in range(3, 30):
        make_activity(city.community_a, title=f"活动{n}", shifts=2)
    assert Activity.objects.count() == 30
    assert count_queries(worker_a, url) == few


# --- the activity form ------------------------------------------------------------------------


def activity_post(city, **overrides) -> dict:
    today = timezone.localdate()
    data = {
        "org": city.community_a.pk,
        "title": "周三周五助老服务",
        "category": category().pk,
        "served_groups": [ServedGroup.objects.get(name="老年人").pk],
        "description": "陪伴独居老人聊天、读报",
        "address": "甲社区日间照料中心",
        "latitude": "36.651200",
        "longitude": "117.120100",
        "starts_on": today.isoformat(),
        "ends_on": (today + dt.timedelta(days=13)).isoformat(),
        "required_skills": [],
        "required_qualifications": [],
        "min_age": "16",
        "recruitment": "open",
        "invite_code": "",
        "contact_name": "赵老师",
        "contact_phone": "0531-88886666",
        "checkin_radius_m": "300",
        "rounding_minutes": "30",
        "rounding": "nearest",
        "withdraw_hours_before": "4",
        "recur_weekdays": ["2", "4"],
        "recur_start": "09:00",
        "recur_end": "11:30",
        "recur_capacity": "8",
        "recur_skip_holidays": "on",
    }
    data.update(overrides)
    return data


def test_create_activity_with_recurrence(city, worker_a):
    skill = Skill.objects.filter(is_curated=True).first()
    response = worker_a.post(
        reverse("activities:create"), activity_post(city, required_skills=[skill.pk])
    )
    activity = Activity.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "activities:manage_detail", kwargs={"activity_id": activity.pk}
    )
    assert (activity.org, activity.title, activity.status) == (
        city.community_a,
        "周三周五助老服务",
        ActivityStatus.PENDING,
    )
    assert activity.recur_weekdays == (1 << 2) | (1 << 4)
    assert (activity.recur_start, activity.recur_end, activity.recur_capacity) == (
        dt.time(9, 0),
        dt.time(11, 30),
        8,
    )
    assert (activity.rounding_minutes, activity.rounding, activity.checkin_radius_m) == (
        30,
        "nearest",
        300,
    )
    assert list(activity.required_skills.all()) == [skill]
    assert [g.name for g in activity.served_groups.all()] == ["老年人"]
    assert activity.created_by == city.worker_a
    shifts = list(activity.shifts.all())
    assert shifts  # the recurrence made the coming Wednesdays and Fridays
    for shift in shifts:
        local = timezone.localtime(shift.starts_at)
        assert local.weekday() in (2, 4)
        assert (local.hour, local.minute, shift.capacity) == (9, 0, 8)


def test_create_refusals_show_on_fields_and_create_nothing(city, worker_a):
    url = reverse("activities:create")
    response = worker_a.post(url, activity_post(city, is_risky="on", recur_weekdays=[]))
    assert response.status_code == 400
    assert "有风险的活动须先购买意外保险：请填写承保机构和保单号。" in page_text(response)
    response = worker_a.post(url, activity_post(city, recur_weekdays=["0"], recur_capacity=""))
    assert response.status_code == 400
    assert "请填写重复班次的名额。" in page_text(response)
    # an org outside the scope is not among the choices
    response = worker_a.post(url, activity_post(city, org=city.community_b.pk))
    assert response.status_code == 400
    # a grid may not organise activities: not offered either
    response = worker_a.post(url, activity_post(city, org=city.grid_a.pk))
    assert response.status_code == 400
    assert Activity.objects.count() == 0


def test_edit_activity(city, worker_a):
    activity = make_activity(city.community_a, title="旧名称")
    url = reverse("activities:edit", kwargs={"activity_id": activity.pk})
    form = page_text(worker_a.get(url))
    assert 'value="旧名称"' in form
    data = activity_post(
        city,
        title="新名称",
        starts_on=activity.starts_on.isoformat(),
        ends_on=activity.ends_on.isoformat(),
        recur_weekdays=[],
        recur_start="",
        recur_end="",
        recur_capacity="",
    )
    del data["org"]
    response = worker_a.post(url, data)
    assert response.status_code == 302
    activity.refresh_from_db()
    assert (activity.title, activity.address, activity.org) == (
        "新名称",
        "甲社区日间照料中心",
        city.community_a,
    )
    bad = worker_a.post(url, {**data, "ends_on": "2000-01-01"})
    assert bad.status_code == 400
    assert "结束日期不能早于开始日期。" in page_text(bad)
    activity.refresh_from_db()
    assert activity.ends_on != dt.date(2000, 1, 1)


# --- status, beneficiaries, shifts -------------------------------------------------------------


def test_publish_without_shifts_is_refused(city, worker_a):
    activity = make_activity(city.community_a, publish=False, shifts=0)
    response = worker_a.post(
        reverse("activities:set_status", kwargs={"activity_id": activity.pk}),
        {"status": "recruiting"},
        follow=True,
    )
    assert "请先添加至少一个班次再发布活动。" in page_text(response)
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.PENDING


def test_status_flow_and_cancel_needs_reason(city, worker_a):
    activity = make_activity(city.community_a, publish=False)
    (signup,) = sign_up_after_publish(activity, make_volunteer(city.grid_a, "王一"), worker_a)
    url = reverse("activities:set_status", kwargs={"activity_id": activity.pk})
    response = worker_a.post(url, {"status": "running"}, follow=True)
    assert "活动“社区助老活动”已变更为“进行中”。" in page_text(response)
    response = worker_a.post(url, {"status": "cancelled", "reason": " "}, follow=True)
    assert "取消活动请说明原因，报名的志愿者会收到通知。" in page_text(response)
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.RUNNING
    worker_a.post(url, {"status": "cancelled", "reason": "暴雨预警"})
    activity.refresh_from_db()
    signup.refresh_from_db()
    assert activity.status == ActivityStatus.CANCELLED
    assert signup.status == SignupStatus.CANCELLED
    assert first_shift(activity).is_cancelled
    response = worker_a.post(url, {"status": "recruiting"}, follow=True)
    assert "活动当前为“已取消”，不能改为“招募中”。" in page_text(response)


def sign_up_after_publish(activity, volunteer, client) -> list[Signup]:
    url = reverse("activities:set_status", kwargs={"activity_id": activity.pk})
    response = client.post(url, {"status": "recruiting"})
    assert response.status_code == 302
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.RECRUITING
    return sign_up(first_shift(activity), volunteer)


def test_beneficiaries(city, worker_a):
    activity = make_activity(city.community_a)
    url = reverse("activities:beneficiaries", kwargs={"activity_id": activity.pk})
    response = worker_a.post(url, {"count": "35"}, follow=True)
    assert "已登记服务对象 35 人次。" in page_text(response)
    response = worker_a.post(url, {"count": "-1"})
    assert response.status_code == 400
    activity.refresh_from_db()
    assert activity.beneficiary_count == 35


def shift_post(start: dt.datetime, end: dt.datetime, capacity: int = 5, **extra) -> dict:
    return {
        "name": "上午班",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": end.strftime("%Y-%m-%dT%H:%M"),
        "capacity": str(capacity),
        "signup_mode": "instant",
        "checkin_opens_minutes": "30",
        "checkout_closes_minutes": "120",
        **extra,
    }


def test_add_shift_in_local_time_and_refusal(city, worker_a):
    activity = make_activity(city.community_a, publish=False, shifts=0)
    url = reverse("activities:shift_add", kwargs={"activity_id": activity.pk})
    day = activity.ends_on
    start = dt.datetime.combine(day, dt.time(14, 0))
    response = worker_a.post(url, shift_post(start, start + dt.timedelta(hours=2)))
    assert response.status_code == 302
    shift = activity.shifts.get()
    assert shift.starts_at == dt.datetime.combine(day, dt.time(14, 0), tzinfo=SHANGHAI)
    assert (shift.name, shift.capacity, len(shift.checkin_code)) == ("上午班", 5, 6)
    outside = dt.datetime.combine(day + dt.timedelta(days=5), dt.time(9, 0))
    response = worker_a.post(url, shift_post(outside, outside + dt.timedelta(hours=1)))
    assert response.status_code == 400
    assert "班次日期须在活动日期" in page_text(response)
    assert activity.shifts.count() == 1


def test_shift_capacity_below_confirmed_is_refused(city, worker_a):
    activity = make_activity(city.community_a, capacity=5)
    shift = first_shift(activity)
    sign_up(shift, make_volunteer(city.grid_a, "王一"), make_volunteer(city.grid_a, "王二"))
    url = reverse("activities:shift_edit", kwargs={"shift_id": shift.pk})
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    response = worker_a.post(url, shift_post(start, end, capacity=1))
    assert response.status_code == 400
    assert "已有 2 人报名成功，名额不能少于该人数。" in page_text(response)
    shift.refresh_from_db()
    assert shift.capacity == 5
    response = worker_a.post(url, shift_post(start, end, capacity=3))
    assert response.status_code == 302
    shift.refresh_from_db()
    assert (shift.capacity, shift.name) == (3, "上午班")


def test_cancel_shift_needs_reason(city, worker_a):
    activity = make_activity(city.community_a)
    shift = first_shift(activity)
    (signup,) = sign_up(shift, make_volunteer(city.grid_a, "王一"))
    url = reverse("activities:shift_cancel", kwargs={"shift_id": shift.pk})
    response = worker_a.post(url, {"reason": ""}, follow=True)
    assert "取消班次请说明原因，报名的志愿者会收到通知。" in page_text(response)
    shift.refresh_from_db()
    assert not shift.is_cancelled
    response = worker_a.post(url, {"reason": "场地临时占用"}, follow=True)
    assert "已取消该班次，报名的志愿者会收到通知。" in page_text(response)
    shift.refresh_from_db()
    signup.refresh_from_db()
    assert (shift.is_cancelled, signup.status) == (True, SignupStatus.CANCELLED)


# --- the board ------------------------------------------------------------------------------


def test_board_rows_query_count_does_not_grow(city, worker_a):
    small = first_shift(past_activity(city.community_a, title="小班", hours_ago=10, capacity=40))
    large = first_shift(past_activity(city.community_a, title="大班", hours_ago=34, capacity=40))
    people = [make_volunteer(city.grid_a, f"志愿者{n:02d}") for n in range(30)]
    sign_up(small, *people[:3])
    sign_up(large, *people)
    for shift in (small, large):  # attendance and records on some rows add no queries
        attend(shift, people[0])
        attend(shift, people[1], minutes_out=None)
        shift_records_create(actor=None, scope=SYSTEM, shift=shift)
    few = count_queries(worker_a, reverse("activities:board_rows", kwargs={"shift_id": small.pk}))
    many = count_queries(worker_a, reverse("activities:board_rows", kwargs={"shift_id": large.pk}))
    assert few == many
    rows = page_text(worker_a.get(reverse("activities:board_rows", kwargs={"shift_id": large.pk})))
    assert rows.count("data-signup-id=") == 30
    assert rows.count("待确认 · 2 小时") == 1
    assert "<html" not in rows


def test_board_polls_rows(city, worker_a):
    shift = first_shift(make_activity(city.community_a))
    text = page_text(worker_a.get(reverse("activities:board", kwargs={"shift_id": shift.pk})))
    rows_url = reverse("activities:board_rows", kwargs={"shift_id": shift.pk})
    assert f'hx-get="{rows_url}"' in text
    assert 'hx-trigger="every 10s' in text


def test_decide_pending_signups(city, worker_a):
    activity = make_activity(city.community_a, capacity=1)
    shift = first_shift(activity)
    shift_update(
        actor=None,
        scope=SYSTEM,
        shift=shift,
        data=ShiftInput(
            starts_at=shift.starts_at,
            ends_at=shift.ends_at,
            capacity=1,
            signup_mode=SignupMode.CONFIRM,
        ),
    )
    first, second, third = sign_up(
        shift,
        make_volunteer(city.grid_a, "王一"),
        make_volunteer(city.grid_a, "王二"),
        make_volunteer(city.grid_a, "王三"),
    )
    assert first.status == SignupStatus.PENDING

    def decide(signup, **data):
        url = reverse("activities:signup_decide", kwargs={"signup_id": signup.pk})
        return page_text(worker_a.post(url, data, follow=True))

    assert "王一 的报名：已报名。" in decide(first, decision="approve")
    assert "王二 的报名：候补。" in decide(second, decision="approve")
    assert "王三 的报名：未通过。" in decide(third, decision="decline", reason="年龄不符")
    assert "该报名不是待审核状态。" in decide(first, decision="decline")
    statuses = dict(Signup.objects.values_list("volunteer__person__name", "status"))
    assert statuses == {
        "王一": SignupStatus.CONFIRMED,
        "王二": SignupStatus.WAITLISTED,
        "王三": SignupStatus.REJECTED,
    }
    assert Signup.objects.get(pk=third.pk).note == "年龄不符"


def test_organiser_check_in_and_out(city, worker_a):
    _activity, shift = running_shift(city)
    volunteer = make_volunteer(city.grid_a, "王一")
    (signup,) = sign_up(shift, volunteer)
    url = reverse("activities:organiser_check", kwargs={"signup_id": signup.pk})
    response = worker_a.post(url, {"direction": "out"}, follow=True)
    assert "尚未签到，不能签退。" in page_text(response)
    response = worker_a.post(url, {"direction": "in"}, follow=True)
    assert "已为 王一 代签到" in page_text(response)
    signup.refresh_from_db()
    assert (signup.check_in_method, signup.attendance) == (
        CheckMethod.ORGANISER,
        Attendance.PRESENT,
    )
    worker_a.post(url, {"direction": "out"})
    signup.refresh_from_db()
    assert signup.check_out_method == CheckMethod.ORGANISER
    assert signup.checked_out_at >= signup.checked_in_at
    board = page_text(worker_a.get(reverse("activities:board_rows", kwargs={"shift_id": shift.pk})))
    assert "组织者代签" in board


def test_organiser_check_in_outside_the_window_is_refused(city, worker_a):
    shift = first_shift(make_activity(city.community_a))  # tomorrow 09:00
    (signup,) = sign_up(shift, make_volunteer(city.grid_a, "王一"))
    url = reverse("activities:organiser_check", kwargs={"signup_id": signup.pk})
    response = worker_a.post(url, {"direction": "in"}, follow=True)
    opens = timezone.localtime(shift.starts_at - dt.timedelta(minutes=30))
    assert f"签到尚未开始：{opens:%m-%d %H:%M} 起可以签到。" in page_text(response)
    signup.refresh_from_db()
    assert (signup.checked_in_at, signup.attendance) == (None, Attendance.NONE)


def test_correct_attendance_needs_reason(city, worker_a):
    activity = past_activity(city.community_a)
    shift = first_shift(activity)
    volunteer = make_volunteer(city.grid_a, "王一")
    (signup,) = sign_up(shift, volunteer)
    attend(shift, volunteer, minutes_out=None)  # forgot to check out
    url = reverse("activities:attendance_correct", kwargs={"signup_id": signup.pk})
    start = timezone.localtime(shift.starts_at)
    data = {
        "checked_in_at": start.strftime("%Y-%m-%dT%H:%M"),
        "checked_out_at": (start + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "",
    }
    response = worker_a.post(url, data)
    assert response.status_code == 400
    assert "请填写更正原因。" in page_text(response)
    signup.refresh_from_db()
    assert signup.checked_out_at is None
    assert AttendanceCorrection.objects.count() == 0
    response = worker_a.post(url, {**data, "reason": "忘记签退"})
    assert response.status_code == 302
    signup.refresh_from_db()
    assert signup.checked_in_at == start.replace(second=0, microsecond=0)
    assert signup.checked_out_at == start.replace(second=0, microsecond=0) + dt.timedelta(hours=3)
    correction = AttendanceCorrection.objects.get()
    assert (correction.reason, correction.old_out, correction.actor) == (
        "忘记签退",
        None,
        city.worker_a,
    )
    assert "忘记签退" in page_text(worker_a.get(url))


def test_remove_promotes_the_waiting_list(city, worker_a):
    shift = first_shift(make_activity(city.community_a, capacity=1))
    first, second = sign_up(
        shift, make_volunteer(city.grid_a, "王一"), make_volunteer(city.grid_a, "王二")
    )
    assert second.status == SignupStatus.WAITLISTED
    url = reverse("activities:signup_remove", kwargs={"signup_id": first.pk})
    response = worker_a.post(url, {"reason": "临时有事"}, follow=True)
    assert "已将 王一 移出该班次。" in page_text(response)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (SignupStatus.WITHDRAWN, SignupStatus.CONFIRMED)
    response = worker_a.post(url, {}, follow=True)
    assert "该报名已不在有效状态，无需取消。" in page_text(response)


def test_add_volunteer_by_number_or_name(city, worker_a):
    shift = first_shift(make_activity(city.community_a, recruitment="code", invite_code="AB12"))
    one = make_volunteer(city.grid_a, "陈一")
    two = make_volunteer(city.grid_a, "陈二")
    stranger = make_volunteer(city.grid_b, "陈三")
    url = reverse("activities:organiser_signup", kwargs={"shift_id": shift.pk})
    # an exact number signs up at once (no invitation code needed from the organiser)
    response = worker_a.post(url, {"q": one.number.lower()})
    assert response.status_code == 302
    assert Signup.objects.get(volunteer=one).status == SignupStatus.CONFIRMED
    # a name lists the matches to choose from
    response = worker_a.post(url, {"q": "陈"})
    text = page_text(response)
    assert response.status_code == 200
    assert "陈一" in text and "陈二" in text and "陈三" not in text
    assert f'name="volunteer_id" value="{two.pk}"' in text
    assert not Signup.objects.filter(volunteer=two).exists()
    response = worker_a.post(url, {"volunteer_id": two.pk})
    assert response.status_code == 302
    assert Signup.objects.get(volunteer=two).status == SignupStatus.CONFIRMED
    # a full ID number finds the person but asks to choose, and is not echoed back
    response = worker_a.post(url, {"q": two.person.id_number})
    text = page_text(response)
    assert f'name="volunteer_id" value="{two.pk}"' in text
    assert two.person.id_number not in text
    # someone outside the scope is not found, by number or by id
    response = worker_a.post(url, {"q": stranger.number})
    assert response.status_code == 400
    assert "在您的管理范围内未找到匹配的志愿者。" in page_text(response)
    response = worker_a.post(url, {"volunteer_id": stranger.pk})
    assert response.status_code == 400
    assert "未找到该志愿者。" in page_text(response)
    # twice: the service's refusal is shown
    response = worker_a.post(url, {"volunteer_id": one.pk})
    assert response.status_code == 400
    assert "已报名该班次" in page_text(response)
    assert Signup.objects.filter(shift=shift).count() == 2


def test_no_shows_only_after_the_check_out_window(city, worker_a):
    open_shift = first_shift(past_activity(city.community_a, hours_ago=2, title="进行中"))
    ended = first_shift(past_activity(city.community_a, hours_ago=10, title="已结束"))
    here, absent = make_volunteer(city.grid_a, "王一"), make_volunteer(city.grid_a, "王二")
    sign_up(open_shift, absent)
    sign_up(ended, here, absent)
    attend(ended, here)
    url = reverse("activities:shift_no_shows", kwargs={"shift_id": open_shift.pk})
    response = worker_a.post(url, follow=True)
    assert "后才能标记缺席。" in page_text(response)
    assert not Signup.objects.filter(attendance=Attendance.NO_SHOW).exists()
    url = reverse("activities:shift_no_shows", kwargs={"shift_id": ended.pk})
    response = worker_a.post(url, follow=True)
    assert "已将 1 人标记为缺席。" in page_text(response)
    assert list(
        Signup.objects.filter(attendance=Attendance.NO_SHOW).values_list("shift_id", "volunteer_id")
    ) == [(ended.pk, absent.pk)]


# --- the QR screen --------------------------------------------------------------------------


def test_qr_code_shows_the_current_token(city, worker_a):
    shift = first_shift(make_activity(city.community_a))
    url = reverse("activities:qr_code", kwargs={"shift_id": shift.pk})
    before = timezone.now()
    response = worker_a.get(url)
    after = timezone.now()
    text = page_text(response)
    tokens = {
        checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=at) for at in (before, after)
    }
    token = re.search(r'data-token="([0-9a-f]+)"', text).group(1)
    assert token in tokens
    scan = f"http://testserver{reverse('activities:scan')}?s={shift.pk}&amp;t={token}"
    assert scan in text
    assert "<svg" in text and 'viewBox="' in text
    assert "no-store" in response["Cache-Control"]
    assert "<html" not in text
    screen = worker_a.get(reverse("activities:qr", kwargs={"shift_id": shift.pk}))
    assert "no-store" in screen["Cache-Control"]
    screen_text = page_text(screen)
    assert shift.checkin_code in screen_text
    assert f'hx-get="{url}"' in screen_text and 'hx-trigger="every 5s"' in screen_text
    assert checkin.qr_token_valid(
        secret=shift.qr_secret, shift_id=shift.pk, token=token, at=timezone.now()
    )


def test_a_supervisor_sees_but_may_not_manage(city):
    supervisor = UserFactory(username="supervisor-a")
    grant(supervisor, city.community_a, Role.SUPERVISOR)
    client = client_for(supervisor)
    activity = make_activity(city.community_a)
    shift = first_shift(activity)
    (signup,) = sign_up(shift, make_volunteer(city.grid_a, "王一"))
    detail = client.get(reverse("activities:manage_detail", kwargs={"activity_id": activity.pk}))
    assert detail.status_code == 200
    assert 'data-testid="status-running"' not in page_text(detail)
    board = page_text(client.get(reverse("activities:board", kwargs={"shift_id": shift.pk})))
    assert "王一" in board and shift.checkin_code not in board
    for name, kwargs in [
        ("edit", {"activity_id": activity.pk}),
        ("shift_edit", {"shift_id": shift.pk}),
        ("organiser_signup", {"shift_id": shift.pk}),
        ("attendance_correct", {"signup_id": signup.pk}),
        ("create", {}),
    ]:
        assert client.get(reverse(f"activities:{name}", kwargs=kwargs)).status_code == 403, name
    assert client.get(reverse("activities:qr", kwargs={"shift_id": shift.pk})).status_code == 404
    response = client.post(
        reverse("activities:set_status", kwargs={"activity_id": activity.pk}),
        {"status": "running"},
        follow=True,
    )
    assert "没有在该组织发布和管理活动的权限。" in page_text(response)
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.RECRUITING


def test_board_offers_no_check_in_or_removal_once_the_shift_is_over(city, worker_a):
    start = local_at(timezone.localdate() - dt.timedelta(days=2), 9)
    shift = first_shift(make_activity(city.community_a, start=start, capacity=5))
    absent = make_volunteer(city.grid_a, "缺席者")
    signup_create(actor=None, volunteer=absent, shift_id=shift.pk, now=start - dt.timedelta(days=1))
    url = reverse("activities:board_rows", kwargs={"shift_id": shift.pk})
    body = worker_a.get(url).content.decode()
    assert "缺席者" in body
    assert "代签到" not in body and "移出" not in body
    assert "更正时间" in body  # a correction with a reason is still possible

    board = worker_a.get(reverse("activities:board", kwargs={"shift_id": shift.pk}))
    assert 'data-testid="checkin-closed"' in board.content.decode()
