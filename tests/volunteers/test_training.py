"""Training (courses, sessions, attendance), qualifications with expiry, reminders, the pages,
their scope and the API router."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone
from ninja import NinjaAPI

import huzhu.urls
from huzhu.api import errors
from huzhu.api.auth import default_auth
from huzhu.api.services import api_token_create
from huzhu.common.models import Notification
from huzhu.common.periodic import discover
from huzhu.volunteers import training_services as ts
from huzhu.volunteers.api_training import router
from huzhu.volunteers.models import (
    Qualification,
    QualificationType,
    TeamRole,
    TrainingAttendance,
    VolunteerStatus,
)
from huzhu.volunteers.services import volunteer_set_status
from huzhu.volunteers.team_selectors import qualifications_expiring
from tests.volunteers.test_teams import SYSTEM, add, client_for, make_team, register, scope_of

pytestmark = pytest.mark.django_db

# The router is mounted into the project API by huzhu/api/api.py; these tests mount it on an
# API of their own, with the project's auth and error handlers, so they do not depend on that.
test_api = NinjaAPI(
    title="training tests", version="test", urls_namespace="training_test_api", auth=default_auth()
)
errors.install(test_api)
test_api.add_router("/volunteers", router)
urlpatterns = [path("test-api/", test_api.urls), *huzhu.urls.urlpatterns]
API = "/test-api/volunteers"
with_api = pytest.mark.urls(__name__)


def first_aid() -> QualificationType:
    return QualificationType.objects.get(name="急救证")  # 36 months, reminded 30 days before


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    return timezone.make_aware(dt.datetime(day.year, day.month, day.day, hour))


def course(city, org=None, grants=None, name="应急救护培训", minutes=240):
    return ts.course_create(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        org=org or city.community_a,
        name=name,
        minutes=minutes,
        grants_qualification=grants,
    )


def session(city, course_, day=dt.date(2026, 3, 15)):
    return ts.session_create(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        course=course_,
        starts_at=at(day),
        ends_at=at(day, 12),
        place="社区活动室",
        trainer="市红十字会",
    )


LATER = timezone.make_aware(dt.datetime(2031, 1, 1))  # "now" for sessions dated ahead


def record(city, session_, rows, now=LATER):
    return ts.attendance_record(
        actor=city.worker_a, scope=scope_of(city.worker_a), session=session_, rows=rows, now=now
    )


# --- courses and sessions ---------------------------------------------------------------


def test_course_rules(city):
    scope_a = scope_of(city.worker_a)
    with pytest.raises(ValidationError) as caught:
        ts.course_create(actor=None, scope=scope_a, org=city.street, name="x")
    assert caught.value.message_dict == {"org": ["主办组织：请选择社区、志愿者总队或服务队"]}
    with pytest.raises(ValidationError) as caught:
        ts.course_create(actor=None, scope=scope_a, org=city.community_a, name=" ", minutes=0)
    assert caught.value.message_dict == {
        "name": ["课程名称不能为空"],
        "minutes": ["学时（分钟）应在1到6000之间"],
    }
    with pytest.raises(PermissionDenied):
        ts.course_create(
            actor=None, scope=scope_of(city.worker_b), org=city.community_a, name="急救"
        )
    team = make_team(city)
    made = ts.course_create(actor=None, scope=scope_a, org=team, name="  队内培训 ")
    assert (made.org, made.name, made.minutes) == (team, "队内培训", 120)
    updated = ts.course_update(actor=None, scope=scope_a, course=made, minutes=90, is_active=False)
    assert (updated.minutes, updated.is_active) == (90, False)
    with pytest.raises(ValidationError) as caught:
        session(city, updated)
    assert caught.value.message_dict == {"course": ["该课程已停用，不能再安排培训"]}


def test_session_must_end_after_it_starts(city):
    c = course(city)
    with pytest.raises(ValidationError) as caught:
        ts.session_create(
            actor=None,
            scope=scope_of(city.worker_a),
            course=c,
            starts_at=at(dt.date(2026, 3, 15), 10),
            ends_at=at(dt.date(2026, 3, 15), 10),
        )
    assert caught.value.message_dict == {"ends_at": ["结束时间必须晚于开始时间"]}
    with pytest.raises(PermissionDenied):
        ts.session_create(
            actor=None,
            scope=scope_of(city.worker_b),
            course=c,
            starts_at=at(dt.date(2026, 3, 15), 9),
            ends_at=at(dt.date(2026, 3, 15), 10),
        )


def test_team_leader_runs_training_for_own_team_only(city):
    team = make_team(city)
    leader = register(city.grid_a, "王队长", login="wang")
    add(team, leader, TeamRole.LEADER)
    scope = scope_of(leader.person.user)
    own = ts.course_create(actor=None, scope=scope, org=team, name="队内培训")
    assert own.org == team
    with pytest.raises(PermissionDenied):
        ts.course_create(actor=None, scope=scope, org=city.community_a, name="社区培训")


# --- attendance and qualifications ------------------------------------------------------


def test_attendance_is_idempotent_and_updates_on_rerecord(city):
    c = course(city)
    s = session(city, c)
    a, b = register(city.grid_a, "张三"), register(city.grid_a, "李四")
    first = record(city, s, [(a, True, True, None), (b, True, False, 120)])
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    again = record(city, s, [(a, True, True, None), (b, True, False, 120)])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    changed = record(city, s, [(b, False, True, 120)])
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 0)
    rows = TrainingAttendance.objects.filter(session=s).order_by("volunteer__number")
    assert list(rows.values_list("volunteer__person__name", "attended", "passed", "minutes")) == [
        ("张三", True, True, 240),  # blank minutes: the course's
        ("李四", False, False, 0),  # absent: no minutes, not passed
    ]
    with pytest.raises(ValidationError) as caught:
        record(city, s, [(a, True, True, None), (a, True, True, 10)])
    assert caught.value.message_dict == {"rows": [f"{a.number}：重复出现"]}
    with pytest.raises(ValidationError) as caught:
        record(city, s, [(a, True, True, None)], now=at(dt.date(2026, 3, 15), 8))
    assert caught.value.message_dict == {"session": ["培训尚未开始，不能登记出勤"]}


def test_passing_creates_the_qualification_and_a_later_session_renews_it(city):
    c = course(city, grants=first_aid())
    march = session(city, c, dt.date(2026, 3, 15))
    a, b = register(city.grid_a, "张三"), register(city.grid_a, "李四")
    result = record(city, march, [(a, True, True, None), (b, True, False, None)])
    assert [q.volunteer for q in result.qualifications_created] == [a]
    q = Qualification.objects.get(volunteer=a)
    assert (q.kind, q.issued_on, q.expires_on, q.issuer) == (
        first_aid(),
        dt.date(2026, 3, 15),
        dt.date(2029, 3, 15),
        "甲社区",
    )
    assert not Qualification.objects.filter(volunteer=b).exists()

    again = record(city, march, [(a, True, True, None)])
    assert (again.qualifications_created, again.qualifications_renewed) == ([], [])
    Qualification.objects.filter(pk=q.pk).update(reminded_on=dt.date(2029, 2, 20))

    refresher = session(city, c, dt.date(2027, 5, 31))
    renewed = record(city, refresher, [(a, True, True, None), (b, True, True, None)])
    assert [x.pk for x in renewed.qualifications_renewed] == [q.pk]
    assert [x.volunteer for x in renewed.qualifications_created] == [b]
    q.refresh_from_db()
    assert (q.issued_on, q.expires_on, q.reminded_on) == (
        dt.date(2027, 5, 31),
        dt.date(2030, 5, 31),
        None,
    )
    assert Qualification.objects.filter(volunteer=a).count() == 1

    # recording the older session again never shortens the certificate
    record(city, march, [(a, True, True, 200)])
    q.refresh_from_db()
    assert q.expires_on == dt.date(2030, 5, 31)


def test_a_superseded_certificate_is_neither_reminded_nor_listed(city):
    volunteer = register(city.grid_a, "张三", login="zhangsan")
    old = _certificate(volunteer, dt.date(2026, 6, 10), issued_on=dt.date(2023, 6, 10))
    assert [q.pk for q in qualifications_expiring(scope=SYSTEM, today=dt.date(2026, 6, 1))] == [
        old.pk
    ]
    _certificate(volunteer, dt.date(2029, 5, 1), issued_on=dt.date(2026, 5, 1))
    assert list(qualifications_expiring(scope=SYSTEM, today=dt.date(2026, 6, 1))) == []
    assert ts.qualification_reminders(today=dt.date(2026, 6, 1)) == (0, 0)


def test_add_months_clamps_to_the_month_end():
    assert ts.add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert ts.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert ts.add_months(dt.date(2026, 11, 15), 14) == dt.date(2028, 1, 15)


def test_qualification_date_rules_name_the_field(city):
    volunteer = register(city.grid_a, "张三")
    scope_a = scope_of(city.worker_a)
    today = dt.date(2026, 6, 1)

    def attempt(**kwargs):
        data = {"kind": first_aid(), "issued_on": dt.date(2026, 3, 1), **kwargs}
        with pytest.raises(ValidationError) as caught:
            ts.qualification_add(
                actor=None, scope=scope_a, volunteer=volunteer, today=today, **data
            )
        return caught.value.message_dict

    assert attempt(expires_on=dt.date(2026, 2, 28)) == {
        "expires_on": ["有效期至不能早于发证日期（2026年3月1日）"]
    }
    assert attempt(issued_on=dt.date(2026, 6, 2)) == {"issued_on": ["发证日期不能晚于今天"]}
    assert attempt(issued_on=None) == {"issued_on": ["发证日期：请填写发证日期"]}
    assert attempt(kind=None) == {"kind": ["证书类型：请选择证书类型"]}
    assert attempt(certificate_no="X" * 61) == {"certificate_no": ["证书编号不能超过60个字符"]}

    q = ts.qualification_add(
        actor=None,
        scope=scope_a,
        volunteer=volunteer,
        kind=first_aid(),
        issued_on=dt.date(2026, 3, 1),
        certificate_no="JJ-001",
        today=today,
    )
    assert q.expires_on == dt.date(2029, 3, 1)  # blank: from the type's 36 months
    lawyer = QualificationType.objects.get(name="律师执业证")
    forever = ts.qualification_add(
        actor=None,
        scope=scope_a,
        volunteer=volunteer,
        kind=lawyer,
        issued_on=dt.date(2020, 1, 1),
        today=today,
    )
    assert forever.expires_on is None
    assert attempt(certificate_no="JJ-001") == {"certificate_no": ["证书编号 JJ-001 已登记"]}
    with pytest.raises(PermissionDenied):
        ts.qualification_add(
            actor=None,
            scope=scope_of(city.worker_b),
            volunteer=volunteer,
            kind=first_aid(),
            issued_on=dt.date(2026, 3, 1),
        )

    Qualification.objects.filter(pk=q.pk).update(reminded_on=dt.date(2029, 2, 1))
    q.refresh_from_db()
    changed = ts.qualification_update(
        actor=None, scope=scope_a, qualification=q, expires_on=dt.date(2027, 3, 1), today=today
    )
    assert (changed.expires_on, changed.reminded_on) == (dt.date(2027, 3, 1), None)
    with pytest.raises(ValidationError) as caught:
        ts.qualification_update(
            actor=None,
            scope=scope_a,
            qualification=q,
            issued_on=dt.date(2027, 4, 1),
            today=dt.date(2027, 5, 1),
        )
    assert caught.value.message_dict == {"expires_on": ["有效期至不能早于发证日期（2027年4月1日）"]}
    ts.qualification_remove(actor=None, scope=scope_a, qualification=q)
    assert list(Qualification.objects.filter(volunteer=volunteer)) == [forever]


# --- reminders and the expiring list ----------------------------------------------------


def _certificate(volunteer, expires_on, kind=None, issued_on=dt.date(2024, 1, 1)):
    return ts.qualification_add(
        actor=None,
        scope=SYSTEM,
        volunteer=volunteer,
        kind=kind or first_aid(),
        issued_on=issued_on,
        expires_on=expires_on,
        today=dt.date(2026, 6, 1),
    )


def test_reminder_job_notifies_once_per_expiry(city, settings):
    settings.HUZHU_QUALIFICATION_REMIND_DAYS = 30
    today = dt.date(2026, 6, 1)
    with_login = register(city.grid_a, "张三", login="zhangsan")
    no_login = register(city.grid_a, "李四")
    soon = _certificate(with_login, dt.date(2026, 6, 20))
    nurse = QualificationType.objects.get(name="护士执业证书")
    driver = QualificationType.objects.get(name="机动车驾驶证")
    _certificate(with_login, dt.date(2026, 9, 1), kind=nurse)  # not yet due
    _certificate(with_login, dt.date(2026, 5, 20), kind=driver)  # already expired
    long_notice = QualificationType.objects.get(name="电工证")
    long_notice.remind_days_before = 90
    long_notice.save()
    electrician = _certificate(with_login, dt.date(2026, 8, 15), kind=long_notice)
    _certificate(no_login, dt.date(2026, 6, 10))

    job = discover()["volunteers.qualification_reminders"]
    assert job(today) == "资格证书到期提醒：已发送 2 条，无登录账号 1 人"
    notes = Notification.objects.filter(user=with_login.person.user).order_by("id")
    assert [n.title for n in notes] == [
        "您的急救证将于2026年6月20日到期",
        "您的电工证将于2026年8月15日到期",
    ]
    assert notes[0].dedupe_key == f"qualification:{soon.pk}:2026-06-20"
    assert notes[0].url == reverse(
        "volunteers:qualifications", kwargs={"volunteer_id": with_login.pk}
    )
    soon.refresh_from_db()
    electrician.refresh_from_db()
    assert (soon.reminded_on, electrician.reminded_on) == (today, today)

    assert job(today) == "资格证书到期提醒：已发送 0 条，无登录账号 1 人"
    assert job(today + dt.timedelta(days=1)) == "资格证书到期提醒：已发送 0 条，无登录账号 1 人"
    assert Notification.objects.count() == 2

    # renewal (a new expiry date) makes it due again when that date comes near
    ts.qualification_update(
        actor=None,
        scope=SYSTEM,
        qualification=soon,
        expires_on=dt.date(2029, 6, 20),
        today=today,
    )
    assert job(dt.date(2029, 6, 1)) == "资格证书到期提醒：已发送 1 条，无登录账号 0 人"
    assert Notification.objects.count() == 3

    # a cancelled volunteer is reminded of nothing
    volunteer_set_status(
        actor=None,
        scope=SYSTEM,
        volunteer=no_login,
        status=VolunteerStatus.CANCELLED,
        reason="迁出",
    )
    assert job(today) == "资格证书到期提醒：已发送 0 条，无登录账号 0 人"


def test_expiring_list_shows_soon_and_expired_in_scope(city, settings):
    settings.HUZHU_QUALIFICATION_REMIND_DAYS = 30
    today = timezone.localdate()
    a = register(city.grid_a, "张三")
    b = register(city.grid_b, "乙社区王五")
    issued = today - dt.timedelta(days=400)
    soon = _certificate(a, today + dt.timedelta(days=10), issued_on=issued)
    expired = _certificate(
        a,
        today - dt.timedelta(days=3),
        kind=QualificationType.objects.get(name="电工证"),
        issued_on=issued,
    )
    _certificate(
        a,
        today + dt.timedelta(days=31),
        kind=QualificationType.objects.get(name="护士执业证书"),
        issued_on=issued,
    )
    _certificate(b, today + dt.timedelta(days=5), issued_on=issued)

    client = client_for(city.worker_a)
    url = reverse("volunteers:qualifications_expiring")
    response = client.get(url)
    assert response.status_code == 200
    assert [q.pk for q in response.context["page"].object_list] == [expired.pk, soon.pk]
    assert "乙社区王五" not in response.content.decode()
    only_expired = client.get(url, {"state": "expired"})
    assert [q.pk for q in only_expired.context["page"].object_list] == [expired.pk]
    only_soon = client.get(url, {"state": "expiring"})
    assert [q.pk for q in only_soon.context["page"].object_list] == [soon.pk]
    response = client_for(city.worker_b).get(url)
    assert [q.volunteer for q in response.context["page"].object_list] == [b]


# --- pages ------------------------------------------------------------------------------


def test_attendance_sheet_saves_in_one_post(city):
    team = make_team(city)
    c = course(city, org=team, grants=first_aid())
    s = session(city, c, dt.date(2026, 3, 15))
    a, b, absent = (register(city.grid_a, n) for n in ("张三", "李四", "王五"))
    for v in (a, b, absent):
        add(team, v)
    outsider = register(city.grid_a, "不是队员")
    client = client_for(city.worker_a)
    url = reverse("volunteers:session_detail", kwargs={"session_id": s.pk})
    page = client.get(url)
    assert [row.volunteer.person.name for row in page.context["sheet"]] == ["张三", "李四", "王五"]
    response = client.post(
        url,
        {
            "row": [a.pk, b.pk, absent.pk, outsider.pk],
            f"attended_{a.pk}": "on",
            f"passed_{a.pk}": "on",
            f"attended_{b.pk}": "on",
            f"minutes_{b.pk}": "90",
            f"attended_{outsider.pk}": "on",  # not on this sheet: ignored
        },
    )
    assert response.status_code == 302
    rows = TrainingAttendance.objects.filter(session=s).order_by("volunteer__number")
    assert list(rows.values_list("volunteer__person__name", "attended", "passed", "minutes")) == [
        ("张三", True, True, 240),
        ("李四", True, False, 90),
    ]
    assert list(Qualification.objects.values_list("volunteer__person__name", flat=True)) == ["张三"]
    # Unticking a recorded row updates it; nothing else is created.
    client.post(url, {"row": [a.pk, b.pk, absent.pk], f"attended_{a.pk}": "on"})
    assert list(rows.values_list("volunteer__person__name", "attended", "minutes")) == [
        ("张三", True, 240),
        ("李四", False, 0),
    ]
    bad = client.post(url, {"row": [a.pk], f"attended_{a.pk}": "on", f"minutes_{a.pk}": "x"})
    assert bad.status_code == 400
    assert bad.context["errors"] == ["张三：学时（分钟）应为整数"]


def test_attendance_sheet_query_count_does_not_grow_with_rows(city):
    team = make_team(city)
    c = course(city, org=team, grants=first_aid())
    s = session(city, c)
    client = client_for(city.worker_a)
    url = reverse("volunteers:session_detail", kwargs={"session_id": s.pk})

    def members(n, start):
        vs = [register(city.grid_a, f"队员{start + i}") for i in range(n)]
        for v in vs:
            add(team, v)
        return vs

    def post(vs):
        data = {"row": [v.pk for v in vs]}
        for v in vs:
            data[f"attended_{v.pk}"] = data[f"passed_{v.pk}"] = "on"
        with CaptureQueriesContext(connection) as queries:
            assert client.post(url, data).status_code == 302
        return len(queries)

    few = members(2, 0)
    client.get(url)
    with CaptureQueriesContext(connection) as get_few:
        client.get(url)
    post_few = post(few)
    many = members(8, 10)
    with CaptureQueriesContext(connection) as get_many:
        assert len(client.get(url).context["sheet"]) == 10
    s2 = session(city, c, dt.date(2026, 4, 1))
    url = reverse("volunteers:session_detail", kwargs={"session_id": s2.pk})
    post_few_again = post(few)
    post_many = post(few + many)
    assert len(get_many) == len(get_few)
    assert post_many == post_few_again == post_few
    assert Qualification.objects.count() == 10


def test_courses_page_query_count_does_not_grow_with_courses(city):
    c = course(city, grants=first_aid())
    session(city, c, timezone.localdate() + dt.timedelta(days=3))
    client = client_for(city.worker_a)
    url = reverse("volunteers:training")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    team = make_team(city)
    for i in range(5):
        more = course(city, org=team if i % 2 else city.community_a, name=f"课程{i}")
        session(city, more, timezone.localdate() + dt.timedelta(days=i + 1))
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.context["page"].paginator.count == 6
    assert len(response.context["upcoming"]) == 6
    assert len(many) == len(few)


def test_course_and_session_pages_create_through_forms(city):
    client = client_for(city.worker_a)
    response = client.post(
        reverse("volunteers:course_create"),
        {"org": city.community_a.pk, "name": "心理疏导", "minutes": "180"},
    )
    c = city.community_a.courses.get()
    assert response["Location"] == reverse("volunteers:course_detail", kwargs={"course_id": c.pk})
    bad = client.post(
        reverse("volunteers:session_create", kwargs={"course_id": c.pk}),
        {"starts_at": "2026-03-15T10:00", "ends_at": "2026-03-15T09:00"},
    )
    assert bad.status_code == 400
    assert bad.context["session_form"].errors["ends_at"] == ["结束时间必须晚于开始时间"]
    good = client.post(
        reverse("volunteers:session_create", kwargs={"course_id": c.pk}),
        {"starts_at": "2026-03-15T09:00", "ends_at": "2026-03-15T11:30", "place": "活动室"},
    )
    s = c.sessions.get()
    assert good["Location"] == reverse("volunteers:session_detail", kwargs={"session_id": s.pk})
    assert timezone.localtime(s.starts_at).hour == 9


def test_qualification_pages(city):
    volunteer = register(city.grid_a, "张三")
    client = client_for(city.worker_a)
    url = reverse("volunteers:qualifications", kwargs={"volunteer_id": volunteer.pk})
    bad = client.post(
        url, {"kind": first_aid().pk, "issued_on": "2026-03-01", "expires_on": "2026-01-01"}
    )
    assert bad.status_code == 400
    assert bad.context["form"].errors["expires_on"] == ["有效期至不能早于发证日期（2026年3月1日）"]
    response = client.post(url, {"kind": first_aid().pk, "issued_on": "2026-03-01"})
    assert response.status_code == 302
    q = Qualification.objects.get(volunteer=volunteer)
    assert q.expires_on == dt.date(2029, 3, 1)
    edit = reverse("volunteers:qualification_edit", kwargs={"qualification_id": q.pk})
    assert client.get(edit).status_code == 200
    client.post(
        edit,
        {"kind": first_aid().pk, "issued_on": "2026-03-01", "expires_on": "2028-03-01"},
    )
    q.refresh_from_db()
    assert q.expires_on == dt.date(2028, 3, 1)
    page = client.get(url)
    assert [x.pk for x in page.context["qualifications"]] == [q.pk]
    client.post(reverse("volunteers:qualification_remove", kwargs={"qualification_id": q.pk}))
    assert not Qualification.objects.exists()

    # the volunteer sees their own certificates, read-only
    owner = register(city.grid_a, "李四", login="lisi")
    own = client_for(owner.person.user).get(
        reverse("volunteers:qualifications", kwargs={"volunteer_id": owner.pk})
    )
    assert own.status_code == 200 and own.context["can_manage"] is False


# --- scope ------------------------------------------------------------------------------


def test_training_and_qualification_routes_are_missing_for_worker_b(city):
    volunteer = register(city.grid_a, "欧阳甲乙")
    c = course(city, grants=first_aid())
    s = session(city, c)
    record(city, s, [(volunteer, True, True, None)])
    q = Qualification.objects.get()
    worker_b = client_for(city.worker_b)
    routes = [
        ("get", reverse("volunteers:course_detail", kwargs={"course_id": c.pk})),
        ("post", reverse("volunteers:course_edit", kwargs={"course_id": c.pk})),
        ("post", reverse("volunteers:session_create", kwargs={"course_id": c.pk})),
        ("get", reverse("volunteers:session_detail", kwargs={"session_id": s.pk})),
        ("post", reverse("volunteers:session_detail", kwargs={"session_id": s.pk})),
        ("get", reverse("volunteers:qualifications", kwargs={"volunteer_id": volunteer.pk})),
        ("post", reverse("volunteers:qualifications", kwargs={"volunteer_id": volunteer.pk})),
        ("get", reverse("volunteers:qualification_edit", kwargs={"qualification_id": q.pk})),
        ("post", reverse("volunteers:qualification_edit", kwargs={"qualification_id": q.pk})),
        ("post", reverse("volunteers:qualification_remove", kwargs={"qualification_id": q.pk})),
    ]
    for method, url in routes:
        response = getattr(worker_b, method)(url, {"row": [volunteer.pk], "name": "x"})
        assert response.status_code == 404, url
        assert "欧阳甲乙" not in response.content.decode()
    assert Qualification.objects.count() == 1
    for url in (reverse("volunteers:training"), reverse("volunteers:qualifications_expiring")):
        body = worker_b.get(url).content.decode()
        assert "应急救护培训" not in body and "欧阳甲乙" not in body


# --- API ----------------------------------------------------------------------------------


def bearer(user) -> Client:
    _token, raw = api_token_create(actor=None, user=user, name="tests")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def post_json(client: Client, url: str, data: dict):
    return client.post(url, json.dumps(data, default=str), content_type="application/json")


@with_api
def test_api_teams_and_members(city):
    team = make_team(city)
    make_team(city, "乙社区服务队", community=city.community_b)
    leader = register(city.grid_a, "王队长", login="wang")
    member = register(city.grid_a, "李四")
    api_a = bearer(city.worker_a)
    response = post_json(
        api_a, f"{API}/teams/{team.pk}/members", {"volunteer_id": leader.pk, "role": "leader"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["role_label"] == "队长"
    teams = api_a.get(f"{API}/teams").json()
    assert teams["count"] == 1
    assert teams["items"][0]["name"] == "甲社区助老服务队"
    assert teams["items"][0]["community_name"] == "甲社区"
    assert [m["name"] for m in teams["items"][0]["leaders"]] == ["王队长"]

    # the leader adds a member by number, but may not appoint
    api_leader = bearer(leader.person.user)
    refused = post_json(
        api_leader, f"{API}/teams/{team.pk}/members", {"volunteer_id": member.pk, "role": "deputy"}
    )
    assert refused.status_code == 422  # not visible to the leader without the number
    refused = post_json(
        api_leader,
        f"{API}/teams/{team.pk}/members",
        {"volunteer_id": member.pk, "number": member.number, "role": "deputy"},
    )
    assert refused.status_code == 403
    assert refused.json() == {"detail": "只有社区工作者可以任免队长"}
    added = post_json(
        api_leader,
        f"{API}/teams/{team.pk}/members",
        {"volunteer_id": member.pk, "number": member.number},
    )
    assert added.status_code == 201
    membership_id = added.json()["id"]
    twice = post_json(api_a, f"{API}/teams/{team.pk}/members", {"volunteer_id": member.pk})
    assert twice.json() == {
        "detail": [{"field": "volunteer_id", "message": "李四 已是该服务队成员"}]
    }
    members = api_a.get(f"{API}/teams/{team.pk}/members").json()
    assert [(m["name"], m["role"]) for m in members["items"]] == [
        ("王队长", "leader"),
        ("李四", "member"),
    ]
    assert api_a.delete(f"{API}/teams/members/{membership_id}").status_code == 204
    assert api_a.get(f"{API}/teams/{team.pk}/members").json()["count"] == 1
    everyone = api_a.get(f"{API}/teams/{team.pk}/members", {"include_past": "true"}).json()
    assert everyone["count"] == 2

    api_b = bearer(city.worker_b)
    assert api_b.get(f"{API}/teams/{team.pk}").status_code == 404
    assert api_b.get(f"{API}/teams/{team.pk}/members").status_code == 404
    assert (
        post_json(api_b, f"{API}/teams/{team.pk}/members", {"volunteer_id": member.pk}).status_code
        == 404
    )
    assert api_b.delete(f"{API}/teams/members/{membership_id}").status_code == 404
    assert [t["name"] for t in api_b.get(f"{API}/teams").json()["items"]] == ["乙社区服务队"]


@with_api
def test_api_training_attendance_and_qualifications(city):
    api_a = bearer(city.worker_a)
    created = post_json(
        api_a,
        f"{API}/training/courses",
        {
            "org_id": city.community_a.pk,
            "name": "应急救护培训",
            "minutes": 240,
            "grants_qualification_id": first_aid().pk,
        },
    )
    assert created.status_code == 201, created.content
    course_id = created.json()["id"]
    assert created.json()["grants_qualification_name"] == "急救证"
    bad = post_json(
        api_a,
        f"{API}/training/sessions",
        {
            "course_id": course_id,
            "starts_at": "2026-03-15T10:00:00+08:00",
            "ends_at": "2026-03-15T09:00:00+08:00",
        },
    )
    assert bad.json() == {"detail": [{"field": "ends_at", "message": "结束时间必须晚于开始时间"}]}
    made = post_json(
        api_a,
        f"{API}/training/sessions",
        {
            "course_id": course_id,
            "starts_at": "2026-03-15T09:00:00+08:00",
            "ends_at": "2026-03-15T12:00:00+08:00",
        },
    )
    assert made.status_code == 201
    session_id = made.json()["id"]
    volunteer = register(city.grid_a, "张三")
    other = register(city.grid_b, "乙社区王五")
    sheet = {"rows": [{"volunteer_id": volunteer.pk}]}
    first = post_json(api_a, f"{API}/training/sessions/{session_id}/attendance", sheet)
    assert first.status_code == 200
    assert (first.json()["created"], len(first.json()["qualifications_created"])) == (1, 1)
    second = post_json(api_a, f"{API}/training/sessions/{session_id}/attendance", sheet)
    assert (second.json()["unchanged"], second.json()["qualifications_created"]) == (1, [])
    outside = post_json(
        api_a,
        f"{API}/training/sessions/{session_id}/attendance",
        {"rows": [{"volunteer_id": other.pk}]},
    )
    assert outside.status_code == 422
    assert outside.json()["detail"][0]["field"] == "volunteer_id"
    rows = api_a.get(f"{API}/training/sessions/{session_id}/attendance").json()
    assert [(r["name"], r["minutes"]) for r in rows["items"]] == [("张三", 240)]
    quals = api_a.get(f"{API}/{volunteer.pk}/qualifications").json()
    assert [(q["kind_name"], q["expires_on"]) for q in quals["items"]] == [("急救证", "2029-03-15")]
    added = post_json(
        api_a,
        f"{API}/{volunteer.pk}/qualifications",
        {"kind_id": first_aid().pk, "issued_on": "2026-03-01", "expires_on": "2026-01-01"},
    )
    assert added.json() == {
        "detail": [{"field": "expires_on", "message": "有效期至不能早于发证日期（2026年3月1日）"}]
    }
    assert api_a.get(f"{API}/training/courses").json()["count"] == 1
    assert api_a.get(f"{API}/training/sessions", {"course_id": course_id}).json()["count"] == 1

    api_b = bearer(city.worker_b)
    for url in (
        f"{API}/training/courses/{course_id}",
        f"{API}/training/sessions/{session_id}",
        f"{API}/training/sessions/{session_id}/attendance",
        f"{API}/{volunteer.pk}/qualifications",
    ):
        assert api_b.get(url).status_code == 404, url
    assert (
        post_json(api_b, f"{API}/training/sessions/{session_id}/attendance", sheet).status_code
        == 404
    )
    assert (
        post_json(
            api_b,
            f"{API}/{volunteer.pk}/qualifications",
            {"kind_id": first_aid().pk, "issued_on": "2026-03-01"},
        ).status_code
        == 404
    )
    refused = post_json(
        api_b, f"{API}/training/courses", {"org_id": city.community_a.pk, "name": "x"}
    )
    assert refused.status_code == 422
    assert api_b.get(f"{API}/training/courses").json()["count"] == 0
    assert Client().get(f"{API}/training/courses").status_code == 401


def test_router_is_importable_with_its_tag():
    assert router.tags == ["服务队与培训"]
