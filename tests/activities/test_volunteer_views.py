"""The volunteer's activity pages: browse and sign up, my shifts, check-in by QR and by code,
my hours and declarations, certificates, the public verification page and the calendar feed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from huzhu.activities import checkin
from huzhu.activities.ical import feed_token
from huzhu.activities.models import (
    Certificate,
    CheckMethod,
    RecordSource,
    RecordStatus,
    Recruitment,
    ServiceRecord,
    Signup,
    SignupMode,
    SignupStatus,
)
from huzhu.activities.record_services import (
    RecordInput,
    certificate_apply,
    certificate_issue,
    certificate_revoke,
    record_declare,
    record_reject,
)
from huzhu.activities.services import (
    ShiftInput,
    activity_set_status,
    shift_add,
    signup_create,
)
from huzhu.common.models import AuditEntry
from huzhu.volunteers.models import Volunteer
from tests.activities.clients import client_for
from tests.activities.factories import (
    SYSTEM,
    User,
    category,
    enter_record,
    first_shift,
    make_activity,
    make_volunteer,
)
from tests.factories import make_person

pytestmark = pytest.mark.django_db


def volunteer_client(volunteer: Volunteer) -> Client:
    return client_for(User.objects.get(person__volunteer=volunteer))


def texts(response) -> list[str]:
    """The messages shown on the page a request ended on (follow=True renders them)."""
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def vol(city) -> Volunteer:
    return make_volunteer(city.grid_a, "李志愿", username="vol-a")


@pytest.fixture
def client(vol) -> Client:
    return volunteer_client(vol)


def soon(minutes: int = 10) -> dt.datetime:
    return timezone.localtime().replace(second=0, microsecond=0) + dt.timedelta(minutes=minutes)


def confirmed_record(volunteer, org, minutes=120, day=None, name="社区服务"):
    served_on = day or timezone.localdate()
    return enter_record(volunteer, org, served_on, minutes, place="甲社区3号楼", category_name=name)


def issued_certificate(volunteer, org) -> Certificate:
    confirmed_record(volunteer, org)
    today = timezone.localdate()
    applied = certificate_apply(
        actor=None, volunteer=volunteer, org=org, period_from=today, period_to=today
    )
    return certificate_issue(actor=None, scope=SYSTEM, certificate=applied)


# --- every page renders ---------------------------------------------------------------------


def test_each_page_renders_for_a_volunteer(city, vol, client):
    activity = make_activity(city.community_a, title="重阳节敬老活动")
    pages = {
        reverse("activities:browse"): "重阳节敬老活动",
        reverse("activities:detail", args=[activity.pk]): "报名",
        reverse("activities:my_shifts"): "订阅到手机日历",
        reverse("activities:scan"): "请用手机扫描活动现场组织者出示的二维码。",
        reverse("activities:checkin_code"): "您今天没有需要签到的班次。",
        reverse("activities:my_hours"): "申报服务时长",
        reverse("activities:declare"): "提交申报",
        reverse("activities:my_certificates"): "您还没有已确认的服务记录，暂时不能申请证明。",
        reverse("activities:verify"): "志愿服务证明查验",
    }
    for url, text in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
        assert response["Content-Type"] == "text/html; charset=utf-8"


def test_user_without_volunteer_record_sees_the_friendly_page(city):
    person = make_person(city.grid_a, "赵居民")
    person.user = User.objects.create_user(username="resident", password="pw-for-tests")
    person.save(update_fields=["user"])
    client = client_for(person.user)
    register = reverse("volunteers:register_self")
    for name in ("browse", "my_shifts", "scan", "checkin_code", "my_hours", "declare"):
        response = client.get(reverse(f"activities:{name}"))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert "您还没有注册为志愿者" in body and f'href="{register}"' in body, name
    response = client.get(reverse("activities:my_certificates"))
    assert 'data-testid="not-volunteer"' in response.content.decode()
    activity = make_activity(city.community_a)
    shift = first_shift(activity)
    assert client.get(reverse("activities:detail", args=[activity.pk])).status_code == 404
    assert client.post(reverse("activities:signup", args=[shift.pk])).status_code == 404
    assert client.post(reverse("activities:scan"), {"s": shift.pk}).status_code == 404
    assert client.post(reverse("activities:checkin_code")).status_code == 404
    assert client.post(reverse("activities:declare")).status_code == 404
    assert client.post(reverse("activities:my_certificates")).status_code == 404
    assert Signup.objects.count() == 0


def test_pending_volunteer_is_told_to_wait_for_review(city, vol, client):
    vol.status = "pending"
    vol.save(update_fields=["status"])
    response = client.get(reverse("activities:browse"))
    assert response.status_code == 200
    assert "您的志愿者注册状态为“待审核”。" in response.content.decode()


def test_organiser_sees_the_management_link(city):
    worker = client_for(city.worker_a)
    body = worker.get(reverse("activities:browse")).content.decode()
    assert f'href="{reverse("activities:manage_list")}"' in body
    activity = make_activity(city.community_a)
    body = worker.get(reverse("activities:detail", args=[activity.pk])).content.decode()
    assert f'href="{reverse("activities:manage_detail", args=[activity.pk])}"' in body
    assert "注册为志愿者后才能报名。" in body


def test_anonymous_is_sent_to_login_except_verify_and_ical(city, vol):
    activity = make_activity(city.community_a)
    shift = first_shift(activity)
    mine = signup_create(actor=None, volunteer=vol, shift_id=shift.pk)
    anonymous = Client()
    login_routes = [
        ("get", reverse("activities:browse")),
        ("get", reverse("activities:detail", args=[activity.pk])),
        ("post", reverse("activities:signup", args=[shift.pk])),
        ("post", reverse("activities:withdraw", args=[mine.pk])),
        ("get", reverse("activities:my_shifts")),
        ("get", reverse("activities:scan")),
        ("post", reverse("activities:scan")),
        ("get", reverse("activities:checkin_code")),
        ("get", reverse("activities:my_hours")),
        ("get", reverse("activities:declare")),
        ("get", reverse("activities:my_certificates")),
        ("get", reverse("activities:certificate_pdf", args=[1])),
    ]
    for method, url in login_routes:
        response = getattr(anonymous, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert anonymous.get(reverse("activities:verify")).status_code == 200
    ical = reverse("activities:ical", kwargs={"feed_token": feed_token(vol)})
    assert anonymous.get(ical).status_code == 200
    mine.refresh_from_db()
    assert mine.status == SignupStatus.CONFIRMED


# --- browse and detail -------------------------------------------------------------------------


def test_browse_filters_by_search_and_category(city, vol, client):
    make_activity(city.community_a, title="社区助老活动")
    make_activity(city.community_a, title="垃圾分类宣传")
    make_activity(city.community_b, title="乙社区环保行动")
    make_activity(city.community_a, title="未发布的活动", publish=False)
    response = client.get(reverse("activities:browse"))
    titles = [a.title for a in response.context["page"].object_list]
    assert sorted(titles) == ["乙社区环保行动", "垃圾分类宣传", "社区助老活动"]
    response = client.get(reverse("activities:browse"), {"q": "垃圾"})
    assert [a.title for a in response.context["page"].object_list] == ["垃圾分类宣传"]
    other = category("环境保护")
    response = client.get(reverse("activities:browse"), {"category": other.pk})
    assert list(response.context["page"].object_list) == []
    assert "暂时没有可报名的活动" in response.content.decode()


def test_detail_shows_place_requirements_contact_and_shifts(city, vol, client):
    activity = make_activity(
        city.community_a,
        title="河道清理",
        latitude=Decimal("36.651200"),
        longitude=Decimal("117.120000"),
        checkin_radius_m=300,
        min_age=16,
        is_risky=True,
        insurer="平安保险",
        insurance_policy="PA2025-001",
        contact_name="王老师",
        contact_phone="13812345678",
        capacity=2,
    )
    shift = first_shift(activity)
    url = reverse("activities:detail", args=[activity.pk])
    body = client.get(url).content.decode()
    assert (
        f'href="geo:36.651200,117.120000?q=36.651200,117.120000({quote("甲社区活动室")})"' in body
    )
    assert "在地图中打开" in body
    assert "须在活动地点 300 米以内签到" in body
    assert "年满 18 周岁" in body  # risky: minors may not join
    assert "平安保险（保单号 PA2025-001）" in body
    assert "138****5678" in body and "13812345678" not in body
    assert "剩余 <strong>2</strong> 个名额（共 2 个）" in body
    assert f'action="{reverse("activities:signup", args=[shift.pk])}"' in body
    signup_create(actor=None, volunteer=vol, shift_id=shift.pk)
    body = client.get(url).content.decode()
    assert 'href="tel:13812345678"' in body
    assert "剩余 <strong>1</strong> 个名额（共 2 个）" in body
    assert f'action="{reverse("activities:signup", args=[shift.pk])}"' not in body
    assert "确认取消这个班次的报名" in body


def test_detail_of_a_team_only_activity_elsewhere_is_missing(city, vol, client):
    activity = make_activity(city.community_b, recruitment=Recruitment.TEAM)
    assert client.get(reverse("activities:detail", args=[activity.pk])).status_code == 404
    shift = first_shift(activity)
    response = client.post(reverse("activities:signup", args=[shift.pk]))
    assert response.status_code == 404
    assert Signup.objects.count() == 0


# --- sign-up and withdraw ----------------------------------------------------------------------


def test_signup_waiting_list_and_withdraw_flow_through_the_views(city, vol, client):
    activity = make_activity(city.community_a, title="助老", capacity=1)
    shift = first_shift(activity)
    other = make_volunteer(city.grid_a, "王候补", username="vol-b")
    other_client = volunteer_client(other)
    url = reverse("activities:signup", args=[shift.pk])
    detail = reverse("activities:detail", args=[activity.pk]) + f"#shift-{shift.pk}"

    response = client.post(url, follow=True)
    assert response.redirect_chain == [(detail, 302)]
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    when = f"{start:%m-%d %H:%M}–{end:%H:%M}"
    assert texts(response) == [f"已报名：助老 {when}。请按时到达，现场扫码签到。"]

    response = other_client.post(url, follow=True)
    assert texts(response) == [
        f"名额已满，您已进入候补：助老 {when}。有人取消时按报名先后递补，并通知您。"
    ]
    theirs = Signup.objects.get(volunteer=other)
    assert theirs.status == SignupStatus.WAITLISTED
    body = other_client.get(detail).content.decode()
    assert "名额已满" in body and "候补 1 人" in body

    response = client.post(url, follow=True)
    assert texts(response) == ["您已报名该班次（已报名）。"]

    mine = Signup.objects.get(volunteer=vol)
    response = client.post(
        reverse("activities:withdraw", args=[mine.pk]), {"back": "mine"}, follow=True
    )
    assert response.redirect_chain == [(reverse("activities:my_shifts"), 302)]
    assert texts(response) == [f"已取消报名：助老 {when}"]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == (SignupStatus.WITHDRAWN, SignupStatus.CONFIRMED)


def test_signup_waiting_for_confirmation(city, vol, client):
    activity = make_activity(city.community_a, title="需审核活动", publish=False)
    start = first_shift(activity).starts_at + dt.timedelta(hours=4)
    shift = shift_add(
        actor=None,
        scope=SYSTEM,
        activity=activity,
        data=ShiftInput(
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            capacity=5,
            signup_mode=SignupMode.CONFIRM,
        ),
    )
    activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="recruiting")
    response = client.post(reverse("activities:signup", args=[shift.pk]), follow=True)
    assert texts(response)[0].startswith("报名已提交，待审核：需审核活动")
    assert Signup.objects.get().status == SignupStatus.PENDING


def test_signup_with_invite_code(city, vol, client):
    activity = make_activity(city.community_a, recruitment=Recruitment.CODE, invite_code="AB12CD")
    shift = first_shift(activity)
    body = client.get(reverse("activities:detail", args=[activity.pk])).content.decode()
    assert f'id="id_invite_code_{shift.pk}"' in body
    url = reverse("activities:signup", args=[shift.pk])
    response = client.post(url, {"invite_code": "WRONG1"}, follow=True)
    assert texts(response) == ["邀请码不正确。"]
    assert Signup.objects.count() == 0
    response = client.post(url, {"invite_code": "ab12cd", "note": "我会开车来"}, follow=True)
    assert texts(response)[0].startswith("已报名：")
    assert Signup.objects.get().note == "我会开车来"


def test_signup_is_post_only_and_withdraw_after_deadline_is_refused(city, vol, client):
    activity = make_activity(city.community_a, start=soon(60))
    shift = first_shift(activity)
    url = reverse("activities:signup", args=[shift.pk])
    assert client.get(url).status_code == 405
    mine = signup_create(actor=None, volunteer=vol, shift_id=shift.pk)
    response = client.post(reverse("activities:withdraw", args=[mine.pk]), follow=True)
    assert texts(response)[0].startswith("已过取消截止时间（")
    mine.refresh_from_db()
    assert mine.status == SignupStatus.CONFIRMED


def test_another_volunteers_signup_and_certificate_are_missing(city, vol, client):
    activity = make_activity(city.community_a)
    other = make_volunteer(city.grid_a, "王别人")
    theirs = signup_create(actor=None, volunteer=other, shift_id=first_shift(activity).pk)
    response = client.post(reverse("activities:withdraw", args=[theirs.pk]))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == SignupStatus.CONFIRMED
    certificate = issued_certificate(other, city.community_a)
    url = reverse("activities:certificate_pdf", args=[certificate.pk])
    assert client.get(url).status_code == 404
    assert client_for(city.worker_b).get(url).status_code == 404


# --- my shifts and the calendar feed ---------------------------------------------------------


def test_my_shifts_shows_upcoming_with_checkin_button_past_and_feed(city, vol, client):
    # A shift later today: 20 minutes on, or less when midnight is closer (it must stay today).
    now = timezone.localtime()
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    minutes_left = int((midnight - now).total_seconds() // 60) - 1
    if minutes_left < 2:
        pytest.skip("too close to midnight for a shift that starts later today")
    today = make_activity(city.community_a, title="今天的活动", start=soon(min(20, minutes_left)))
    later = make_activity(city.community_a, title="明天的活动")
    gone = make_activity(
        city.community_a,
        title="取消报名的活动",
        start=first_shift(later).starts_at + dt.timedelta(days=1),
    )
    for activity in (today, later, gone):
        signup_create(actor=None, volunteer=vol, shift_id=first_shift(activity).pk)
    gone_signup = Signup.objects.get(shift__activity=gone)
    client.post(reverse("activities:withdraw", args=[gone_signup.pk]))
    response = client.get(reverse("activities:my_shifts"))
    upcoming = response.context["upcoming"]
    assert [s.shift.activity.title for s in upcoming] == ["今天的活动", "明天的活动"]
    assert [s.is_today for s in upcoming] == [True, False]
    assert [s.shift.activity.title for s in response.context["page"].object_list] == [
        "取消报名的活动"
    ]
    body = response.content.decode()
    checkin_link = reverse("activities:checkin_code") + f"#shift-{first_shift(today).pk}"
    assert f'href="{checkin_link}"' in body
    feed = reverse("activities:ical", kwargs={"feed_token": feed_token(vol)})
    assert response.context["feed_url"] == "http://127.0.0.1:8000" + feed
    assert response.context["webcal_url"] == "webcal://127.0.0.1:8000" + feed
    assert 'data-hz-copy="#hz-feed-url"' in body


def test_ical_feed_is_public_by_token(city, vol):
    activity = make_activity(city.community_a, title="日历里的活动")
    signup_create(actor=None, volunteer=vol, shift_id=first_shift(activity).pk)
    anonymous = Client()
    response = anonymous.get(reverse("activities:ical", kwargs={"feed_token": feed_token(vol)}))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert b"BEGIN:VCALENDAR" in response.content
    assert "日历里的活动".encode() in response.content
    forged = feed_token(vol)[:-1] + ("A" if not feed_token(vol).endswith("A") else "B")
    response = anonymous.get(reverse("activities:ical", kwargs={"feed_token": forged}))
    assert response.status_code == 404


# --- check-in by QR code ---------------------------------------------------------------------


def scan_url(shift, token: str) -> str:
    return reverse("activities:scan") + f"?s={shift.pk}&t={token}"


def test_scan_checks_in_and_out_with_a_valid_token(city, vol, client):
    activity = make_activity(city.community_a, title="扫码活动", start=soon(10))
    shift = first_shift(activity)
    signup_create(actor=None, volunteer=vol, shift_id=shift.pk)
    token = checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=timezone.now())

    response = client.get(scan_url(shift, token))
    body = response.content.decode()
    assert response.status_code == 200
    assert "扫码活动" in body and 'name="action" value="in"' in body
    assert f'name="t" value="{token}"' in body

    response = client.post(
        reverse("activities:scan"), {"s": shift.pk, "t": token, "action": "in"}, follow=True
    )
    assert response.redirect_chain == [(reverse("activities:scan") + f"?s={shift.pk}", 302)]
    mine = Signup.objects.get()
    assert mine.check_in_method == CheckMethod.QR
    assert texts(response) == [f"签到成功 {timezone.localtime(mine.checked_in_at):%H:%M}"]
    assert "服务结束时，请再次扫描现场二维码签退。" in response.content.decode()

    response = client.get(scan_url(shift, token))
    assert 'name="action" value="out"' in response.content.decode()
    response = client.post(
        reverse("activities:scan"),
        {"s": shift.pk, "t": token, "action": "out", "lat": "36.6512", "lng": "117.12"},
        follow=True,
    )
    mine.refresh_from_db()
    assert texts(response) == [f"签退成功 {timezone.localtime(mine.checked_out_at):%H:%M}"]
    body = client.get(scan_url(shift, token)).content.decode()
    assert 'data-testid="scan-done"' in body and 'data-testid="scan-button"' not in body


def test_scan_refuses_an_expired_token_and_records_nothing(city, vol, client):
    activity = make_activity(city.community_a, start=soon(10))
    shift = first_shift(activity)
    signup_create(actor=None, volunteer=vol, shift_id=shift.pk)
    old = checkin.qr_token(
        secret=shift.qr_secret, shift_id=shift.pk, at=timezone.now() - dt.timedelta(minutes=5)
    )
    audits = AuditEntry.objects.count()
    response = client.post(reverse("activities:scan"), {"s": shift.pk, "t": old, "action": "in"})
    assert response.status_code == 200
    assert "二维码已过期，请扫描组织者屏幕上最新的二维码。" in response.content.decode()
    mine = Signup.objects.get()
    assert (mine.checked_in_at, mine.attendance) == (None, "")
    assert AuditEntry.objects.count() == audits


def test_scan_without_a_signup_says_so(city, vol, client):
    activity = make_activity(city.community_a, title="别人报名的活动", start=soon(10))
    shift = first_shift(activity)
    token = checkin.qr_token(secret=shift.qr_secret, shift_id=shift.pk, at=timezone.now())
    body = client.get(scan_url(shift, token)).content.decode()
    assert "您没有报名成功该班次，不能签到。" in body and "别人报名的活动" not in body
    response = client.post(reverse("activities:scan"), {"s": shift.pk, "t": token, "action": "in"})
    assert "您没有报名成功该班次，不能签到。" in response.content.decode()
    response = client.post(reverse("activities:scan"), {"s": 999999, "t": token, "action": "in"})
    assert response.status_code == 200
    assert Signup.objects.count() == 0


def test_scan_login_redirect_keeps_the_query_string(city):
    response = Client().get("/activities/scan/?s=12&t=abcdef")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=" + quote(
        "/activities/scan/?s=12&t=abcdef", safe="/"
    )


# --- check-in by code ------------------------------------------------------------------------


def test_code_checkin_and_checkout(city, vol, client):
    activity = make_activity(city.community_a, title="签到码活动", start=soon(10))
    shift = first_shift(activity)
    signup_create(actor=None, volunteer=vol, shift_id=shift.pk)
    url = reverse("activities:checkin_code")
    response = client.get(url)
    assert [s.shift_id for s in response.context["rows"]] == [shift.pk]
    wrong = "000000" if shift.checkin_code != "000000" else "111111"

    response = client.post(url, {"shift": shift.pk, "code": wrong, "action": "in"})
    assert response.status_code == 200
    assert "签到码不正确。" in response.content.decode()
    assert Signup.objects.get().checked_in_at is None

    response = client.post(url, {"shift": shift.pk, "code": "12", "action": "in"})
    assert "签到码为 6 位数字，请核对后重新输入。" in response.content.decode()

    response = client.post(
        url, {"shift": shift.pk, "code": shift.checkin_code, "action": "in"}, follow=True
    )
    assert response.redirect_chain == [(url, 302)]
    mine = Signup.objects.get()
    assert mine.check_in_method == CheckMethod.CODE
    assert texts(response) == [f"签到成功 {timezone.localtime(mine.checked_in_at):%H:%M}"]

    response = client.post(
        url, {"shift": shift.pk, "code": shift.checkin_code, "action": "out"}, follow=True
    )
    mine.refresh_from_db()
    assert texts(response) == [f"签退成功 {timezone.localtime(mine.checked_out_at):%H:%M}"]
    assert "已完成签到和签退" in client.get(url).content.decode()


def test_code_checkin_for_a_shift_not_mine_is_missing(city, vol, client):
    activity = make_activity(city.community_a, start=soon(10))
    shift = first_shift(activity)
    response = client.post(
        reverse("activities:checkin_code"),
        {"shift": shift.pk, "code": shift.checkin_code, "action": "in"},
    )
    assert response.status_code == 404


# --- hours ------------------------------------------------------------------------------------


def test_my_hours_totals_grid_records_and_reject_reason(city, vol, client):
    this_year = timezone.localdate()
    last_year = this_year.replace(year=this_year.year - 1, month=6, day=1)
    confirmed_record(vol, city.community_a, minutes=120)
    confirmed_record(vol, city.community_a, minutes=90, name="环境保护")
    confirmed_record(vol, city.community_a, minutes=60, day=last_year)
    declared = record_declare(
        actor=None,
        volunteer=vol,
        org=city.community_a,
        data=RecordInput(
            served_on=this_year,
            minutes=30,
            content="帮邻居买药",
            place="甲社区",
            category=category(),
        ),
    )
    record_reject(actor=None, scope=SYSTEM, record=declared, reason="无人可以证明")
    record_declare(
        actor=None,
        volunteer=vol,
        org=city.community_a,
        data=RecordInput(
            served_on=this_year, minutes=45, content="陪聊", place="甲社区", category=category()
        ),
    )
    response = client.get(reverse("activities:my_hours"))
    summary = response.context["summary"]
    assert (summary.service_hours, summary.pending_hours) == ("4.5", "0.8")
    assert response.context["columns"] == ["社区服务", "环境保护"]
    assert response.context["grid"] == [
        {"year": this_year.year, "total": "3.5", "cells": ["2", "1.5"]},
        {"year": last_year.year, "total": "1", "cells": ["1", ""]},
    ]
    body = response.content.decode()
    assert "退回原因：无人可以证明" in body
    assert body.count('data-testid="record-status"') == 5
    response = client.get(reverse("activities:my_hours"), {"year": last_year.year})
    assert [r.served_on for r in response.context["page"].object_list] == [last_year]


def test_declare_hours_as_decimal_or_hours_and_minutes(city, vol, client):
    url = reverse("activities:declare")
    data = {
        "org": city.grid_a.pk,
        "category": category().pk,
        "served_on": timezone.localdate().isoformat(),
        "content": "帮助邻居搬家",
        "place": "甲社区5号楼",
    }
    response = client.post(url, {**data, "hours": "2.5"}, follow=True)
    assert response.redirect_chain == [(reverse("activities:my_hours"), 302)]
    assert texts(response) == [
        f"已提交申报：{timezone.localdate()} 2.5 小时，等待“甲社区第一网格”确认。"
    ]
    client.post(url, {**data, "hours": "1", "minutes": "20"})
    client.post(url, {**data, "minutes": "45"})
    records = ServiceRecord.objects.filter(volunteer=vol).order_by("id")
    assert [r.minutes for r in records] == [150, 80, 45]
    assert {(r.source, r.status) for r in records} == {
        (RecordSource.DECLARED, RecordStatus.PENDING)
    }


def test_declare_over_24_hours_is_refused_and_nothing_stored(city, vol, client):
    url = reverse("activities:declare")
    data = {
        "org": city.grid_a.pk,
        "category": category().pk,
        "served_on": timezone.localdate().isoformat(),
        "content": "通宵值守",
        "place": "甲社区",
    }
    response = client.post(url, {**data, "hours": "25"})
    assert response.status_code == 200
    assert response.context["form"].errors["hours"] == ["服务时长应在 1 分钟到 24 小时之间。"]
    response = client.post(url, {**data, "hours": ""})
    assert response.context["form"].errors["hours"] == ["请填写服务时长。"]
    response = client.post(url, {**data, "hours": "2", "org": city.community_b.pk})
    assert response.status_code == 200 and "org" in response.context["form"].errors
    assert ServiceRecord.objects.count() == 0


# --- certificates ------------------------------------------------------------------------------


def test_certificate_apply_through_the_page(city, vol, client):
    confirmed_record(vol, city.community_a)
    url = reverse("activities:my_certificates")
    today = timezone.localdate()
    response = client.get(url)
    assert response.context["form"].fields["org"].choices == [(city.community_a.pk, "甲社区")]
    response = client.post(
        url,
        {
            "org": city.community_a.pk,
            "period_from": today.isoformat(),
            "period_to": (today + dt.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["period_to"] == ["服务期间至：结束日期不能晚于今天。"]
    assert Certificate.objects.count() == 0
    response = client.post(
        url,
        {
            "org": city.community_a.pk,
            "period_from": today.isoformat(),
            "period_to": today.isoformat(),
            "purpose": "升学",
        },
        follow=True,
    )
    assert response.redirect_chain == [(url, 302)]
    assert texts(response) == ["已向“甲社区”申请志愿服务证明，开具后会通知您。"]
    applied = Certificate.objects.get()
    assert (applied.status, applied.purpose, applied.volunteer) == ("applied", "升学", vol)
    body = client.get(url).content.decode()
    assert "已申请" in body and 'data-testid="certificate-download"' not in body
    pdf = reverse("activities:certificate_pdf", args=[applied.pk])
    assert client.get(pdf).status_code == 404


def test_issued_certificate_downloads_as_pdf(city, vol, client):
    certificate = issued_certificate(vol, city.community_a)
    body = client.get(reverse("activities:my_certificates")).content.decode()
    url = reverse("activities:certificate_pdf", args=[certificate.pk])
    assert f'href="{url}"' in body and certificate.number in body
    audits = AuditEntry.objects.filter(verb="certificate.download").count()
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    filename = f"志愿服务证明-{certificate.number}.pdf"
    assert f"filename*=utf-8''{quote(filename)}" in response["Content-Disposition"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert AuditEntry.objects.filter(verb="certificate.download").count() == audits + 1
    organiser = client_for(city.worker_a).get(url)
    assert organiser.status_code == 200 and organiser.content.startswith(b"%PDF")


# --- public verification -----------------------------------------------------------------------


def test_verify_valid_revoked_and_forged(city, vol):
    certificate = issued_certificate(vol, city.community_a)
    code = certificate.snapshot["verify_code"]
    anonymous = Client()
    url = reverse("activities:verify")

    response = anonymous.get(url, {"no": certificate.number, "code": code.lower()})
    body = response.content.decode()
    assert response.status_code == 200
    assert "真实有效" in body and "李**" in body and "甲社区" in body
    assert "2 小时" in body and "1 条" in body
    assert "李志愿" not in body

    response = anonymous.get(url, {"no": certificate.number, "code": "ABCDEFGH"})
    body = response.content.decode()
    assert "未找到该证明：编号或验证码不正确，请核对" in body
    assert "李**" not in body and "甲社区" not in body and "真实有效" not in body

    forged = anonymous.get(url, {"no": "ZYZM202500009999", "code": code})
    assert "未找到该证明：编号或验证码不正确，请核对" in forged.content.decode()

    certificate_revoke(actor=None, scope=SYSTEM, certificate=certificate, reason="时长有误")
    body = anonymous.get(url, {"no": certificate.number, "code": code}).content.decode()
    assert "已撤销" in body and "撤销原因：时长有误" in body and "真实有效" not in body
    today = timezone.localdate()
    assert f"该证明已于 {today.year}年{today.month}月{today.day}日 被出具单位撤销" in body


def test_verify_asks_for_both_fields(city):
    response = Client().get(reverse("activities:verify"), {"no": "ZYZM1"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"code": ["请填写验证码。"]}
    assert "未找到该证明" not in response.content.decode()
    assert Client().post(reverse("activities:verify")).status_code == 405


# --- query counts --------------------------------------------------------------------------------


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_browse_query_count_does_not_grow_with_activities(city, vol, client):
    url = reverse("activities:browse")
    make_activity(city.community_a, title="活动0")
    client.get(url)
    few = count_queries(client, url)
    for i in range(1, 6):
        make_activity(city.community_a, title=f"活动{i}", shifts=2)
    many = count_queries(client, url)
    assert len(client.get(url).context["page"].object_list) == 6
    assert many == few


def test_my_shifts_query_count_does_not_grow_with_signups(city, vol, client):
    url = reverse("activities:my_shifts")
    base = timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0)

    def sign_up(n: int) -> None:
        start = base + dt.timedelta(days=n + 1)
        activity = make_activity(city.community_a, title=f"活动{n}", start=start)
        signup_create(actor=None, volunteer=vol, shift_id=first_shift(activity).pk)

    def withdraw_first() -> None:
        mine = Signup.objects.filter(volunteer=vol, status=SignupStatus.CONFIRMED).order_by("id")
        client.post(reverse("activities:withdraw", args=[mine[0].pk]), follow=True)

    sign_up(0)
    sign_up(1)
    withdraw_first()
    client.get(url)
    few = count_queries(client, url)
    for n in range(2, 8):
        sign_up(n)
    withdraw_first()
    withdraw_first()
    many = count_queries(client, url)
    response = client.get(url)
    assert len(response.context["upcoming"]) == 5
    assert len(response.context["page"].object_list) == 3
    assert many == few


def test_my_hours_query_count_does_not_grow_with_records(city, vol, client):
    url = reverse("activities:my_hours")
    confirmed_record(vol, city.community_a, minutes=60)
    client.get(url)
    few = count_queries(client, url)
    today = timezone.localdate()
    for n in range(1, 6):
        confirmed_record(vol, city.community_a, minutes=30, day=today - dt.timedelta(days=60 * n))
    many = count_queries(client, url)
    assert len(client.get(url).context["page"].object_list) == 6
    assert many == few


def test_my_certificates_query_count_does_not_grow_with_certificates(city, vol, client):
    url = reverse("activities:my_certificates")
    issued_certificate(vol, city.community_a)
    client.get(url)
    few = count_queries(client, url)
    for n in range(1, 5):
        day = timezone.localdate() - dt.timedelta(days=n)
        confirmed_record(vol, city.community_a, day=day)
        applied = certificate_apply(
            actor=None, volunteer=vol, org=city.community_a, period_from=day, period_to=day
        )
        certificate_issue(actor=None, scope=SYSTEM, certificate=applied)
    many = count_queries(client, url)
    assert len(client.get(url).context["page"].object_list) == 5
    assert many == few
