"""/api/v1/activities: activities, shifts, sign-ups, the attendance board, attendance by the
organiser and by the volunteer's mini-program (QR token or code), scope and masking, N+1."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.activities import checkin
from huzhu.activities.models import (
    Activity,
    ActivityStatus,
    AttendanceCorrection,
    RecordStatus,
    ServiceRecord,
    Shift,
    Signup,
    SignupStatus,
)
from huzhu.activities.services import signup_create
from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.volunteers.models import QualificationType, ServedGroup, ServiceCategory, Skill
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.activities.clients import (
    MISSING,
    URL,
    errors,
    patch,
    post,
    token_client,
    volunteer_client,
)
from tests.activities.factories import (
    SYSTEM,
    first_shift,
    make_activity,
    make_volunteer,
    organiser_check,
)
from tests.factories import UserFactory, grant, make_id_number, make_person

pytestmark = pytest.mark.django_db


def soon(minutes: int = 10) -> dt.datetime:
    return timezone.localtime().replace(microsecond=0) + dt.timedelta(minutes=minutes)


def snapshot() -> tuple:
    return (
        Activity.objects.count(),
        Shift.objects.count(),
        tuple(Shift.objects.order_by("pk").values_list("capacity", "is_cancelled")),
        tuple(Signup.objects.order_by("pk").values_list("status", "checked_in_at")),
        ServiceRecord.objects.count(),
        AuditEntry.objects.count(),
        tuple(Activity.objects.order_by("pk").values_list("title", "status")),
    )


# --- organiser: activities ----------------------------------------------------------------


def test_list_shows_own_scope_and_filters(city, client_a, client_b):
    make_activity(city.community_a, "敬老院探访")
    make_activity(city.community_a, "垃圾分类宣传", publish=False)
    make_activity(city.community_b, "乙社区义诊")
    titles = [a["title"] for a in client_a.get(URL).json()["items"]]
    assert sorted(titles) == ["垃圾分类宣传", "敬老院探访"]
    assert [a["title"] for a in client_b.get(URL).json()["items"]] == ["乙社区义诊"]
    body = client_a.get(f"{URL}?status=pending").json()
    assert (body["count"], body["items"][0]["title"]) == (1, "垃圾分类宣传")
    assert client_a.get(f"{URL}?search=敬老").json()["items"][0]["title"] == "敬老院探访"
    other = ServiceCategory.objects.get(name="环境保护")
    assert client_a.get(f"{URL}?category_id={other.pk}").json() == {"items": [], "count": 0}
    response = client_a.get(f"{URL}?status=bogus")
    assert errors(response)[0][0] == "status"


def test_list_query_count_does_not_grow_with_rows(city, client_a):
    elderly = ServedGroup.objects.get(name="老年人")

    def add(n: int) -> None:
        for i in range(n):
            activity = make_activity(city.community_a, f"活动{Activity.objects.count()}-{i}")
            activity.served_groups.add(elderly)

    add(1)
    client_a.get(URL)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        assert client_a.get(URL).status_code == 200
    add(6)
    with CaptureQueriesContext(connection) as seven:
        response = client_a.get(URL)
    assert response.json()["count"] == 7
    assert all(
        a["served_groups"] == [{"id": elderly.pk, "name": "老年人"}]
        for a in response.json()["items"]
    )
    assert len(seven) == len(one)


def activity_payload(city, **overrides) -> dict:
    payload = {
        "org_id": city.community_a.pk,
        "title": "  助老理发  ",
        "category_id": ServiceCategory.objects.get(name="社区服务").pk,
        "address": "甲社区活动室",
        "starts_on": str(timezone.localdate()),
        "ends_on": str(timezone.localdate() + dt.timedelta(days=30)),
    }
    payload.update(overrides)
    return payload


def test_create_activity_with_lists_by_id_and_masked_phone(city, client_a):
    elderly = ServedGroup.objects.get(name="老年人")
    skill = Skill.objects.filter(is_active=True).order_by("pk").first()
    first_aid = QualificationType.objects.get(name="急救证")
    response = post(
        client_a,
        URL,
        activity_payload(
            city,
            served_group_ids=[elderly.pk],
            required_skill_ids=[skill.pk],
            required_qualification_ids=[first_aid.pk],
            contact_name="王老师",
            contact_phone="13812345678",
            latitude=36.651,
            longitude=117.12,
            checkin_radius_m=300,
            recruitment="code",
            invite_code="ABC123",
        ),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    activity = Activity.objects.get()
    assert body["id"] == activity.pk
    assert (body["title"], body["status"], body["status_label"]) == (
        "助老理发",
        "pending",
        "待启动",
    )
    assert body["org_name"] == "甲社区"
    assert body["served_groups"] == [{"id": elderly.pk, "name": "老年人"}]
    assert body["required_skills"] == [{"id": skill.pk, "name": skill.name}]
    assert body["required_qualifications"] == [{"id": first_aid.pk, "name": "急救证"}]
    assert (body["contact_phone_masked"], body["invite_code"]) == ("138****5678", "ABC123")
    assert (body["shift_count"], body["next_start"]) == (0, None)
    assert "13812345678" not in response.content.decode()
    assert activity.created_by == city.worker_a
    assert AuditEntry.objects.filter(verb="activity.create").count() == 1


def test_create_activity_refusals_change_nothing(city, client_a):
    before = snapshot()
    response = post(client_a, URL, activity_payload(city, is_risky=True))
    assert errors(response) == [
        ("insurance_policy", "有风险的活动须先购买意外保险：请填写承保机构和保单号。")
    ]
    response = post(client_a, URL, activity_payload(city, org_id=city.community_b.pk))
    assert errors(response) == [("org_id", "请选择您有权发布活动的组织")]
    response = post(client_a, URL, activity_payload(city, category_id=999999))
    assert errors(response) == [("category_id", "服务类别不存在或已停用：999999")]
    response = post(client_a, URL, activity_payload(city, served_group_ids=[999998]))
    assert errors(response) == [("served_group_ids", "服务对象不存在或已停用：999998")]
    response = post(client_a, URL, {"org_id": city.community_a.pk})
    assert {f for f, _ in errors(response)} == {
        "title",
        "category_id",
        "address",
        "starts_on",
        "ends_on",
    }
    response = post(client_a, URL, activity_payload(city, title=None))
    assert errors(response)[0][0] == "title"
    assert snapshot() == before


def test_supervisor_may_read_but_not_write(city):
    supervisor = UserFactory(username="supervisor-a")
    grant(supervisor, city.community_a, Role.SUPERVISOR)
    activity = make_activity(city.community_a)
    client = token_client(supervisor)
    assert client.get(f"{URL}/{activity.pk}").status_code == 200
    before = snapshot()
    response = post(client, URL, activity_payload(city))
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "没有在该组织发布和管理活动的权限。"},
    )
    response = patch(client, f"{URL}/{activity.pk}", {"title": "改名"})
    assert response.status_code == 403
    assert snapshot() == before


def test_patch_changes_only_what_is_sent(city, client_a):
    activity = make_activity(city.community_a, contact_name="王老师")
    elderly = ServedGroup.objects.get(name="老年人")
    activity.served_groups.add(elderly)
    response = patch(client_a, f"{URL}/{activity.pk}", {"title": "新名称", "min_age": 16})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["min_age"], body["contact_name"]) == ("新名称", 16, "王老师")
    assert body["served_groups"] == [{"id": elderly.pk, "name": "老年人"}]
    response = patch(client_a, f"{URL}/{activity.pk}", {"served_group_ids": []})
    assert response.json()["served_groups"] == []
    response = patch(client_a, f"{URL}/{activity.pk}", {"address": None})
    assert errors(response) == [("address", "不能为空")]
    response = patch(client_a, f"{URL}/{activity.pk}", {"ends_on": "2000-01-01"})
    assert errors(response) == [("ends_on", "结束日期不能早于开始日期。")]
    activity.refresh_from_db()
    assert (activity.title, activity.address) == ("新名称", "甲社区活动室")


def test_status_transitions(city, client_a):
    activity = make_activity(city.community_a, publish=False, shifts=0)
    response = post(client_a, f"{URL}/{activity.pk}/status", {"status": "recruiting"})
    assert errors(response) == [("__all__", "请先添加至少一个班次再发布活动。")]
    response = post(client_a, f"{URL}/{activity.pk}/status", {})
    assert errors(response) == [("status", "此项为必填项")]
    response = post(client_a, f"{URL}/{activity.pk}/status", {"status": "cancelled"})
    assert errors(response) == [("reason", "取消活动请说明原因，报名的志愿者会收到通知。")]
    response = post(client_a, f"{URL}/{activity.pk}/status", {"status": "closed"})
    assert errors(response) == [("__all__", "活动当前为“待启动”，不能改为“已结项”。")]
    response = post(
        client_a, f"{URL}/{activity.pk}/status", {"status": "cancelled", "reason": "天气原因"}
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_label"]) == ("cancelled", "已取消")


def test_cancel_activity_cancels_signups(city, client_a):
    activity = make_activity(city.community_a)
    volunteer = make_volunteer(city.grid_a)
    signup = signup_create(actor=None, volunteer=volunteer, shift_id=first_shift(activity).pk)
    response = post(
        client_a, f"{URL}/{activity.pk}/status", {"status": "cancelled", "reason": "暴雨"}
    )
    assert response.status_code == 200
    signup.refresh_from_db()
    assert signup.status == SignupStatus.CANCELLED
    assert response.json()["shift_count"] == 0


def test_beneficiaries(city, client_a):
    activity = make_activity(city.community_a)
    response = post(client_a, f"{URL}/{activity.pk}/beneficiaries", {"count": 35})
    assert (response.status_code, response.json()["beneficiary_count"]) == (200, 35)
    response = post(client_a, f"{URL}/{activity.pk}/beneficiaries", {})
    assert errors(response) == [("count", "此项为必填项")]
    response = post(client_a, f"{URL}/{activity.pk}/beneficiaries", {"count": 2_000_000})
    assert errors(response) == [("count", "服务对象人次应为 0 到 1000000 之间的整数。")]


# --- organiser: shifts --------------------------------------------------------------------


def test_shifts_add_list_update_cancel(city, client_a):
    activity = make_activity(city.community_a, shifts=0, publish=False)
    start = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)
    start += dt.timedelta(days=1)
    url = f"{URL}/{activity.pk}/shifts"
    response = post(client_a, url, {})
    assert sorted(errors(response)) == [
        ("capacity", "此项为必填项"),
        ("ends_at", "此项为必填项"),
        ("starts_at", "此项为必填项"),
    ]
    naive = start.replace(tzinfo=None)
    response = post(
        client_a,
        url,
        {
            "name": "上午班",
            "starts_at": naive.isoformat(),
            "ends_at": (naive + dt.timedelta(hours=3)).isoformat(),
            "capacity": 2,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    shift = Shift.objects.get()
    assert shift.starts_at == start  # a time without offset is local time
    assert (body["id"], body["name"], body["capacity"], body["places_left"]) == (
        shift.pk,
        "上午班",
        2,
        2,
    )
    assert (body["waitlisted"], body["pending"], body["present"]) == (0, 0, 0)
    assert body["checkin_code"] == shift.checkin_code
    response = post(
        client_a,
        url,
        {"starts_at": start.isoformat(), "ends_at": start.isoformat(), "capacity": 0},
    )
    assert sorted(errors(response)) == [
        ("capacity", "名额应为 1 到 100000 之间的整数。"),
        ("ends_at", "班次结束时间须晚于开始时间。"),
    ]
    listing = client_a.get(url).json()
    assert (listing["count"], listing["items"][0]["id"]) == (1, shift.pk)

    post(client_a, f"{URL}/{activity.pk}/status", {"status": "recruiting"})
    for name in ("甲", "乙"):
        signup_create(actor=None, volunteer=make_volunteer(city.grid_a, name), shift_id=shift.pk)
    response = patch(client_a, f"{URL}/shifts/{shift.pk}", {"capacity": 1})
    assert errors(response) == [("capacity", "已有 2 人报名成功，名额不能少于该人数。")]
    response = patch(client_a, f"{URL}/shifts/{shift.pk}", {"capacity": 5, "name": "早班"})
    assert response.status_code == 200
    assert (response.json()["capacity"], response.json()["name"]) == (5, "早班")
    assert response.json()["starts_at"] == body["starts_at"]

    response = post(client_a, f"{URL}/shifts/{shift.pk}/cancel", {})
    assert errors(response) == [("reason", "取消班次请说明原因，报名的志愿者会收到通知。")]
    response = post(client_a, f"{URL}/shifts/{shift.pk}/cancel", {"reason": "场地维修"})
    assert (response.status_code, response.json()["is_cancelled"]) == (200, True)
    assert set(Signup.objects.values_list("status", flat=True)) == {SignupStatus.CANCELLED}


# --- organiser: sign-ups and the board ----------------------------------------------------


def test_board_is_masked_and_query_count_is_flat(city, client_a):
    activity = make_activity(city.community_a, capacity=2)
    shift = first_shift(activity)
    url = f"{URL}/shifts/{shift.pk}/signups"
    signup_create(actor=None, volunteer=make_volunteer(city.grid_a, "欧阳甲乙"), shift_id=shift.pk)
    client_a.get(url)  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        response = client_a.get(url)
    body = response.json()
    assert body["signups"][0]["name_masked"] == "欧阳**"
    assert body["counts"] == {
        "confirmed": 1,
        "present": 0,
        "checked_out": 0,
        "waitlisted": 0,
        "pending": 0,
        "no_show": 0,
    }
    for n in range(5):
        signup_create(
            actor=None, volunteer=make_volunteer(city.grid_a, f"王{n}"), shift_id=shift.pk
        )
    with CaptureQueriesContext(connection) as six:
        response = client_a.get(url)
    body = response.json()
    assert len(six) == len(one)
    assert [s["status"] for s in body["signups"]] == ["confirmed"] * 2 + ["waitlisted"] * 4
    assert (body["counts"]["confirmed"], body["counts"]["waitlisted"]) == (2, 4)
    text = response.content.decode()
    assert "欧阳甲乙" not in text and "王0" not in text
    for volunteer_signup in Signup.objects.select_related("volunteer__person"):
        person = volunteer_signup.volunteer.person
        assert person.id_number not in text and person.phone not in text


def test_organiser_adds_signup_and_decides(city, client_a):
    activity = make_activity(city.community_a, capacity=1)
    shift = first_shift(activity)
    shift.signup_mode = "confirm"
    shift.save(update_fields=["signup_mode"])
    mine = make_volunteer(city.grid_a, "张三")
    response = post(client_a, f"{URL}/shifts/{shift.pk}/signups", {"volunteer_id": mine.pk})
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["name_masked"]) == ("confirmed", "张*")

    other_b = make_volunteer(city.grid_b, "乙志愿者")
    response = post(client_a, f"{URL}/shifts/{shift.pk}/signups", {"volunteer_id": other_b.pk})
    assert errors(response) == [("volunteer_id", "志愿者不存在或不在您的管理范围内")]
    response = post(client_a, f"{URL}/shifts/{shift.pk}/signups", {})
    assert errors(response) == [("volunteer_id", "此项为必填项")]

    requester = make_volunteer(city.grid_a, "李四")
    pending = signup_create(actor=None, volunteer=requester, shift_id=shift.pk)
    assert pending.status == SignupStatus.PENDING
    response = post(client_a, f"{URL}/signups/{pending.pk}/decide", {})
    assert errors(response) == [("approve", "此项为必填项")]
    response = post(client_a, f"{URL}/signups/{pending.pk}/decide", {"approve": True})
    assert response.status_code == 200
    assert response.json()["status"] == "waitlisted"  # approved, but the place is taken
    response = post(client_a, f"{URL}/signups/{pending.pk}/decide", {"approve": False})
    assert errors(response) == [("__all__", "该报名不是待审核状态。")]


def test_organiser_attendance_and_correction(city, client_a):
    activity = make_activity(city.community_a, start=soon(10))
    shift = first_shift(activity)
    signup = signup_create(actor=None, volunteer=make_volunteer(city.grid_a), shift_id=shift.pk)
    url = f"{URL}/signups/{signup.pk}"
    response = post(client_a, f"{url}/attendance", {"direction": "out"})
    assert errors(response) == [("__all__", "尚未签到，不能签退。")]
    response = post(client_a, f"{url}/attendance", {"direction": "in"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["attendance"], body["attendance_label"], body["check_in_method"]) == (
        "present",
        "已签到",
        "organiser",
    )
    response = post(client_a, f"{url}/attendance", {"direction": "out"})
    assert response.json()["checked_out_at"] is not None

    new_in = shift.starts_at
    new_out = shift.starts_at + dt.timedelta(hours=2)
    payload = {"checked_in_at": new_in.isoformat(), "checked_out_at": new_out.isoformat()}
    response = post(client_a, f"{url}/correct", payload)
    assert errors(response) == [("reason", "请填写更正原因。")]
    response = post(client_a, f"{url}/correct", {**payload, "reason": "忘记签退"})
    assert response.status_code == 200, response.content
    signup.refresh_from_db()
    assert (signup.checked_in_at, signup.checked_out_at) == (new_in, new_out)
    assert AttendanceCorrection.objects.get().reason == "忘记签退"
    bad = {"checked_in_at": new_out.isoformat(), "checked_out_at": new_in.isoformat()}
    response = post(client_a, f"{url}/correct", {**bad, "reason": "x"})
    assert errors(response) == [("checked_out_at", "签退时间不能早于签到时间。")]


def test_shift_records_and_batch_confirm(city, client_a):
    activity = make_activity(city.community_a, start=soon(10))
    shift = first_shift(activity)
    done = make_volunteer(city.grid_a, "王一")
    half = make_volunteer(city.grid_a, "王二")
    for volunteer in (done, half):
        signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
    at = shift.starts_at
    for volunteer in (done, half):
        organiser_check("in", volunteer, shift, at)
    organiser_check("out", done, shift, at + dt.timedelta(hours=2))
    response = post(client_a, f"{URL}/shifts/{shift.pk}/records")
    assert response.json() == {
        "created": 1,
        "confirmed": 0,
        "skipped": [{"name": "王二", "reason": "已签到未签退，请先更正签退时间"}],
    }
    record = ServiceRecord.objects.get()
    assert (record.status, record.minutes) == (RecordStatus.PENDING, 120)
    response = post(client_a, f"{URL}/shifts/{shift.pk}/confirm")
    assert response.json() == {
        "created": 0,
        "confirmed": 1,
        "skipped": [{"name": "王二", "reason": "已签到未签退，请先更正签退时间"}],
    }
    record.refresh_from_db()
    assert record.status == RecordStatus.CONFIRMED
    done.refresh_from_db()
    assert done.recorded_minutes == 120
    board = client_a.get(f"{URL}/shifts/{shift.pk}/signups").json()
    rows = {s["volunteer_id"]: s for s in board["signups"]}
    assert (rows[done.pk]["record_id"], rows[done.pk]["record_status"]) == (record.pk, "confirmed")
    assert (rows[half.pk]["record_id"], rows[half.pk]["record_minutes"]) == (None, None)


# --- volunteer: browse, sign up, withdraw -------------------------------------------------


def test_open_list_and_detail(city):
    _, client = volunteer_client(city.grid_a, "刘一", "vol-1")
    activity = make_activity(
        city.community_a, "凭码活动", capacity=3, recruitment="code", invite_code="SECRET1"
    )
    make_activity(city.community_a, "未发布", publish=False)
    response = client.get(f"{URL}/open")
    assert response.status_code == 200
    assert [a["title"] for a in response.json()["items"]] == ["凭码活动"]
    assert "SECRET1" not in response.content.decode()
    shift = first_shift(activity)
    response = client.get(f"{URL}/open/{activity.pk}")
    body = response.json()
    assert body["shifts"][0] == {
        "id": shift.pk,
        "name": "",
        "starts_at": body["shifts"][0]["starts_at"],
        "ends_at": body["shifts"][0]["ends_at"],
        "capacity": 3,
        "places_left": 3,
        "waitlisted": 0,
        "signup_mode": "instant",
        "signup_mode_label": "报名即成功",
        "my_signup": None,
    }
    assert "SECRET1" not in response.content.decode()
    response = post(client, f"{URL}/me/signups", {"shift_id": shift.pk, "invite_code": "WRONG"})
    assert errors(response) == [("invite_code", "邀请码不正确。")]
    response = post(client, f"{URL}/me/signups", {"shift_id": shift.pk, "invite_code": "secret1"})
    assert (response.status_code, response.json()["status"]) == (201, "confirmed")
    body = client.get(f"{URL}/open/{activity.pk}").json()
    assert body["shifts"][0]["places_left"] == 2
    assert body["shifts"][0]["my_signup"]["status_label"] == "已报名"
    hidden = make_activity(city.community_a, "草稿", publish=False)
    assert client.get(f"{URL}/open/{hidden.pk}").json() == MISSING


def test_non_volunteer_gets_404_on_volunteer_routes(city, client_a):
    activity = make_activity(city.community_a)
    for url in (f"{URL}/open", f"{URL}/open/{activity.pk}", f"{URL}/me/signups"):
        response = client_a.get(url)
        assert (response.status_code, response.json()) == (404, MISSING), url
    response = post(client_a, f"{URL}/me/signups", {"shift_id": first_shift(activity).pk})
    assert response.status_code == 404
    assert Signup.objects.count() == 0


def test_signup_past_capacity_is_waitlisted_not_refused(city):
    activity = make_activity(city.community_a, capacity=1)
    shift = first_shift(activity)
    _, first = volunteer_client(city.grid_a, "甲一", "vol-1")
    _, second = volunteer_client(city.grid_a, "甲二", "vol-2")
    response = post(first, f"{URL}/me/signups", {"shift_id": shift.pk, "note": "带工具"})
    assert (response.status_code, response.json()["status"]) == (201, "confirmed")
    response = post(second, f"{URL}/me/signups", {"shift_id": shift.pk})
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["status_label"]) == ("waitlisted", "候补")
    assert (body["shift_id"], body["activity_title"]) == (shift.pk, "社区助老活动")
    shift.refresh_from_db()
    assert shift.confirmed_count == 1
    response = post(second, f"{URL}/me/signups", {"shift_id": shift.pk})
    assert errors(response) == [("__all__", "您已报名该班次（候补）。")]


def make_minor(org, username: str):
    person = make_person(org, "小明", id_number=make_id_number(birth=dt.date(2012, 3, 1)))
    volunteer = volunteer_register(
        actor=None,
        scope=SYSTEM,
        org=org,
        data=RegistrationInput(
            id_number=person.id_number,
            guardian_name="王大",
            guardian_phone="13900001111",
            guardian_consent=True,
        ),
    ).volunteer
    volunteer.status = "registered"
    volunteer.save(update_fields=["status"])
    person.user = UserFactory(username=username)
    person.save(update_fields=["user"])
    return volunteer, token_client(person.user)


def test_minor_may_not_sign_up_for_risky_activity(city):
    _, client = make_minor(city.grid_a, "minor")
    risky = make_activity(
        city.community_a, "防汛演练", is_risky=True, insurer="人保", insurance_policy="P-001"
    )
    response = post(client, f"{URL}/me/signups", {"shift_id": first_shift(risky).pk})
    assert errors(response) == [("__all__", "未成年人不能参加有风险的活动（《志愿服务条例》）。")]
    assert Signup.objects.count() == 0
    safe = make_activity(city.community_a, "读书会")
    response = post(client, f"{URL}/me/signups", {"shift_id": first_shift(safe).pk})
    assert response.status_code == 201


def test_signup_for_unknown_or_hidden_shift_is_a_422(city):
    _, client = volunteer_client(city.grid_a, "甲一", "vol-1")
    hidden = make_activity(city.community_a, "草稿", publish=False)
    for shift_id in (first_shift(hidden).pk, 999999):
        response = post(client, f"{URL}/me/signups", {"shift_id": shift_id})
        assert errors(response) == [("shift_id", "班次不存在或未向您开放")]
    assert Signup.objects.count() == 0


def test_my_signups_and_withdraw_promotes_the_waiting_list(city):
    activity = make_activity(city.community_a, capacity=1, start=soon(60 * 24))
    shift = first_shift(activity)
    me, client = volunteer_client(city.grid_a, "甲一", "vol-1")
    other = make_volunteer(city.grid_a, "甲二")
    mine = signup_create(actor=None, volunteer=me, shift_id=shift.pk)
    waiting = signup_create(actor=None, volunteer=other, shift_id=shift.pk)
    response = client.get(f"{URL}/me/signups")
    assert [s["id"] for s in response.json()["items"]] == [mine.pk]
    assert response.json()["items"][0]["org_name"] == "甲社区"
    response = post(client, f"{URL}/me/signups/{waiting.pk}/withdraw")
    assert (response.status_code, response.json()) == (404, MISSING)
    response = post(client, f"{URL}/me/signups/{mine.pk}/withdraw", {"reason": "临时有事"})
    assert (response.status_code, response.json()["status"]) == (200, "withdrawn")
    waiting.refresh_from_db()
    assert waiting.status == SignupStatus.CONFIRMED
    assert client.get(f"{URL}/me/signups").json()["count"] == 0
    assert client.get(f"{URL}/me/signups?upcoming=false").json()["count"] == 1
    response = post(client, f"{URL}/me/signups/{mine.pk}/withdraw")
    assert errors(response) == [("__all__", "该报名已不在有效状态，无需取消。")]


# --- volunteer: mini-program check-in -----------------------------------------------------


@pytest.fixture
def on_shift(city):
    """A volunteer signed up for a shift that starts in ten minutes (check-in is open)."""
    activity = make_activity(city.community_a, start=soon(10))
    shift = first_shift(activity)
    volunteer, client = volunteer_client(city.grid_a, "甲一", "vol-1")
    signup = signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
    return shift, signup, client


def test_checkin_with_qr_token_then_checkout_with_code(on_shift):
    shift, signup, client = on_shift
    token = checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=timezone.now())
    url = f"{URL}/me/checkin"
    response = post(client, url, {"shift_id": shift.pk, "direction": "in", "token": token})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["attendance"], body["attendance_label"]) == (
        signup.pk,
        "present",
        "已签到",
    )
    signup.refresh_from_db()
    assert signup.check_in_method == "api"
    assert body["checked_in_at"] is not None and body["checked_out_at"] is None
    response = post(
        client, url, {"shift_id": shift.pk, "direction": "out", "code": shift.checkin_code}
    )
    assert response.status_code == 200
    signup.refresh_from_db()
    assert (signup.check_out_method, signup.checked_out_at is not None) == ("api", True)
    response = post(
        client, url, {"shift_id": shift.pk, "direction": "out", "code": shift.checkin_code}
    )
    assert errors(response) == [("__all__", "您已签退，请勿重复签退。")]


def test_double_checkin_is_refused(on_shift):
    shift, signup, client = on_shift
    payload = {"shift_id": shift.pk, "direction": "in", "code": shift.checkin_code}
    assert post(client, f"{URL}/me/checkin", payload).status_code == 200
    signup.refresh_from_db()
    first = signup.checked_in_at
    response = post(client, f"{URL}/me/checkin", payload)
    time = timezone.localtime(first).strftime("%H:%M")
    assert errors(response) == [("__all__", f"您已于 {time} 签到，请勿重复签到。")]
    signup.refresh_from_db()
    assert signup.checked_in_at == first


def test_checkout_before_checkin_is_refused(on_shift):
    shift, signup, client = on_shift
    payload = {"shift_id": shift.pk, "direction": "out", "code": shift.checkin_code}
    response = post(client, f"{URL}/me/checkin", payload)
    assert errors(response) == [("__all__", "尚未签到，不能签退。")]
    signup.refresh_from_db()
    assert (signup.checked_in_at, signup.checked_out_at) == (None, None)


def test_expired_qr_token_is_refused(on_shift):
    shift, signup, client = on_shift
    old = timezone.now() - dt.timedelta(minutes=5)
    token = checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=old)
    response = post(
        client, f"{URL}/me/checkin", {"shift_id": shift.pk, "direction": "in", "token": token}
    )
    assert errors(response) == [("__all__", "二维码已过期，请扫描组织者屏幕上最新的二维码。")]
    signup.refresh_from_db()
    assert signup.checked_in_at is None


def test_wrong_code_and_missing_fields(on_shift):
    shift, _, client = on_shift
    response = post(
        client, f"{URL}/me/checkin", {"shift_id": shift.pk, "direction": "in", "code": "000000x"}
    )
    assert errors(response) == [("code", "签到码不正确。")]
    response = post(client, f"{URL}/me/checkin", {"shift_id": shift.pk, "direction": "sideways"})
    assert errors(response)[0][0] == "direction"
    response = post(client, f"{URL}/me/checkin", {"shift_id": 999999, "direction": "in"})
    assert errors(response) == [("shift_id", "班次不存在或未向您开放")]


def test_checkin_distance_limit(city):
    activity = make_activity(
        city.community_a, start=soon(10), latitude=36.651, longitude=117.12, checkin_radius_m=200
    )
    shift = first_shift(activity)
    volunteer, client = volunteer_client(city.grid_a, "甲一", "vol-1")
    signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
    base = {"shift_id": shift.pk, "direction": "in", "code": shift.checkin_code}
    response = post(client, f"{URL}/me/checkin", base)
    assert errors(response) == [("__all__", "该活动要求在现场签到，请允许获取位置后重试。")]
    response = post(client, f"{URL}/me/checkin", {**base, "latitude": 36.661, "longitude": 117.12})
    assert errors(response) == [("__all__", "您距活动地点约 1112 米，超出 200 米的签到范围。")]
    response = post(client, f"{URL}/me/checkin", {**base, "latitude": 36.6511, "longitude": 117.12})
    assert response.status_code == 200
    assert Signup.objects.get().check_in_distance_m == 11
    response = post(client, f"{URL}/me/checkin", {**base, "latitude": 91, "longitude": 0})
    assert errors(response)[0][0] == "latitude"


def test_checkin_without_a_confirmed_signup(city):
    activity = make_activity(city.community_a, start=soon(10))
    shift = first_shift(activity)
    _, client = volunteer_client(city.grid_a, "甲一", "vol-1")
    response = post(
        client,
        f"{URL}/me/checkin",
        {"shift_id": shift.pk, "direction": "in", "code": shift.checkin_code},
    )
    assert errors(response) == [("__all__", "您没有报名成功该班次，不能签到。")]


# --- access -------------------------------------------------------------------------------


def test_worker_b_gets_404_on_community_a_objects(city, client_b):
    activity = make_activity(city.community_a, start=soon(10))
    shift = first_shift(activity)
    volunteer = make_volunteer(city.grid_a, "欧阳甲乙")
    signup = signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
    before = snapshot()
    gets = [
        f"{URL}/{activity.pk}",
        f"{URL}/{activity.pk}/shifts",
        f"{URL}/shifts/{shift.pk}/signups",
        f"{URL}/open/{activity.pk}",
    ]
    posts = [
        (f"{URL}/{activity.pk}/status", {"status": "cancelled", "reason": "x"}),
        (f"{URL}/{activity.pk}/beneficiaries", {"count": 3}),
        (f"{URL}/{activity.pk}/shifts", {}),
        (f"{URL}/shifts/{shift.pk}/cancel", {"reason": "x"}),
        (f"{URL}/shifts/{shift.pk}/signups", {"volunteer_id": volunteer.pk}),
        (f"{URL}/shifts/{shift.pk}/confirm", {}),
        (f"{URL}/shifts/{shift.pk}/records", {}),
        (f"{URL}/signups/{signup.pk}/decide", {"approve": False}),
        (f"{URL}/signups/{signup.pk}/attendance", {"direction": "in"}),
        (f"{URL}/signups/{signup.pk}/correct", {"reason": "x"}),
        (f"{URL}/me/signups/{signup.pk}/withdraw", {}),
    ]
    patches = [(f"{URL}/{activity.pk}", {"title": "x"}), (f"{URL}/shifts/{shift.pk}", {})]
    responses = [(url, client_b.get(url)) for url in gets]
    responses += [(url, post(client_b, url, payload)) for url, payload in posts]
    responses += [(url, patch(client_b, url, payload)) for url, payload in patches]
    for url, response in responses:
        assert (response.status_code, response.json()) == (404, MISSING), url
    assert client_b.get(URL).json() == {"items": [], "count": 0}
    assert snapshot() == before


def test_anonymous_is_refused(city):
    activity = make_activity(city.community_a)
    for url in (URL, f"{URL}/{activity.pk}", f"{URL}/open", f"{URL}/me/signups"):
        assert Client().get(url).status_code == 401, url
    response = post(Client(), f"{URL}/me/checkin", {"shift_id": 1, "direction": "in"})
    assert response.status_code == 401


def test_session_auth_and_token_auth_see_the_same(city, client_a):
    activity = make_activity(city.community_a)
    browser = Client()
    browser.force_login(city.worker_a)
    assert browser.get(f"{URL}/{activity.pk}").json() == client_a.get(f"{URL}/{activity.pk}").json()
    assert client_a.get(f"{URL}/{activity.pk}").json()["status"] == ActivityStatus.RECRUITING
