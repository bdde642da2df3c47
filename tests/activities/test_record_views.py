"""The organiser's record and certificate pages: records from a shift's attendance, batch
confirmation, entering, rejecting, correcting and evaluating a record, and issuing,
refusing and revoking certificates."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from huzhu.activities.models import (
    Certificate,
    CertificateStatus,
    RecordCorrection,
    RecordSource,
    RecordStatus,
    ServiceRecord,
)
from huzhu.activities.record_services import certificate_apply
from huzhu.orgs.roles import Role
from huzhu.volunteers import services as volunteer_services
from tests.activities.clients import client_for
from tests.activities.factories import SYSTEM, category, enter_record, first_shift, make_volunteer
from tests.activities.test_manage_views import (
    attend,
    count_queries,
    page_text,
    past_activity,
    sign_up,
)
from tests.factories import UserFactory, grant

pytestmark = pytest.mark.django_db


def enter(volunteer, org, *, minutes: int = 120, days_ago: int = 3, confirm: bool = False):
    served_on = timezone.localdate() - dt.timedelta(days=days_ago)
    return enter_record(volunteer, org, served_on, minutes, confirm=confirm)


def apply_for(volunteer, org) -> Certificate:
    today = timezone.localdate()
    return certificate_apply(
        actor=None,
        volunteer=volunteer,
        org=org,
        period_from=today - dt.timedelta(days=30),
        period_to=today,
        purpose="升学",
    )


# --- pages render and scope -------------------------------------------------------------------


def test_every_page_renders_for_worker_a(city, worker_a):
    volunteer = make_volunteer(city.grid_a, "王一")
    record = enter(volunteer, city.community_a, confirm=True)
    certificate = apply_for(volunteer, city.community_a)
    urls = [
        reverse("activities:records"),
        reverse("activities:records") + "?tab=all",
        reverse("activities:records") + "?tab=all&status=confirmed",
        reverse("activities:record_enter"),
        reverse("activities:record_detail", kwargs={"record_id": record.pk}),
        reverse("activities:certificates"),
        reverse("activities:certificates") + "?status=applied",
        reverse("activities:certificate_detail", kwargs={"certificate_id": certificate.pk}),
    ]
    for url in urls:
        response = worker_a.get(url)
        assert response.status_code == 200, url
    assert "陪伴独居老人" in page_text(worker_a.get(urls[1]))
    detail = page_text(worker_a.get(urls[7]))
    assert "王一" in detail and "陪伴独居老人" in detail and "升学" in detail
    assert volunteer.person.id_number_masked in detail
    assert volunteer.person.id_number not in detail


def test_worker_b_finds_records_and_certificates_of_a_missing(city, worker_b):
    volunteer = make_volunteer(city.grid_a, "王一")
    pending = enter(volunteer, city.community_a, days_ago=2)
    record = enter(volunteer, city.community_a, confirm=True)
    certificate = apply_for(volunteer, city.community_a)
    r, c = record.pk, certificate.pk
    for name, kwargs in [
        ("record_detail", {"record_id": r}),
        ("certificate_detail", {"certificate_id": c}),
    ]:
        assert worker_b.get(reverse(f"activities:{name}", kwargs=kwargs)).status_code == 404
    for name, kwargs in [
        ("record_reject", {"record_id": pending.pk}),
        ("record_correct", {"record_id": r}),
        ("record_evaluate", {"record_id": r}),
        ("certificate_issue", {"certificate_id": c}),
        ("certificate_reject", {"certificate_id": c}),
        ("certificate_revoke", {"certificate_id": c}),
    ]:
        response = worker_b.post(
            reverse(f"activities:{name}", kwargs=kwargs),
            {"reason": "x", "rating": "5", "hours": "1", "served_on": "2020-01-01"},
        )
        assert response.status_code == 404, name
    response = worker_b.post(
        reverse("activities:records_confirm"), {"record_ids": [pending.pk]}, follow=True
    )
    assert "部分记录不存在、不是待确认状态或不在您的管理范围内。" in page_text(response)
    assert "陪伴独居老人" not in page_text(worker_b.get(reverse("activities:records") + "?tab=all"))
    assert "王一" not in page_text(worker_b.get(reverse("activities:certificates")))
    pending.refresh_from_db()
    record.refresh_from_db()
    certificate.refresh_from_db()
    assert (pending.status, record.minutes, record.rating, certificate.status) == (
        RecordStatus.PENDING,
        120,
        None,
        CertificateStatus.APPLIED,
    )


# --- records from a shift ---------------------------------------------------------------------


def test_shift_records_then_whole_shift_confirmation(city, worker_a):
    shift = first_shift(past_activity(city.community_a))
    full, no_out, absent = (
        make_volunteer(city.grid_a, "王一"),
        make_volunteer(city.grid_a, "王二"),
        make_volunteer(city.grid_a, "王三"),
    )
    sign_up(shift, full, no_out, absent)
    attend(shift, full)  # 1 → 130 minutes after the start: 129, rounded down to 120
    attend(shift, no_out, minutes_out=None)
    response = worker_a.post(
        reverse("activities:shift_records", kwargs={"shift_id": shift.pk}), follow=True
    )
    text = page_text(response)
    assert "已生成 1 条待确认的服务记录。" in text
    assert "未生成记录：王二（已签到未签退，请先更正签退时间）" in text
    record = ServiceRecord.objects.get()
    assert (record.volunteer, record.minutes, record.status, record.source) == (
        full,
        120,
        RecordStatus.PENDING,
        RecordSource.ATTENDANCE,
    )
    response = worker_a.post(
        reverse("activities:shift_confirm", kwargs={"shift_id": shift.pk}), follow=True
    )
    assert "已确认 1 条服务记录（其中新生成 0 条）。" in page_text(response)
    record.refresh_from_db()
    full.refresh_from_db()
    assert (record.status, record.confirmer, full.recorded_minutes) == (
        RecordStatus.CONFIRMED,
        city.worker_a,
        120,
    )


def test_shift_confirmation_over_24_hours_records_nothing(city, worker_a):
    shift = first_shift(past_activity(city.community_a))
    busy, other = make_volunteer(city.grid_a, "王一"), make_volunteer(city.grid_a, "王二")
    sign_up(shift, busy, other)
    attend(shift, busy)
    attend(shift, other)
    day = timezone.localtime(shift.starts_at).date()
    days_ago = (timezone.localdate() - day).days
    enter(busy, city.community_a, minutes=23 * 60, days_ago=days_ago, confirm=True)
    response = worker_a.post(
        reverse("activities:shift_confirm", kwargs={"shift_id": shift.pk}), follow=True
    )
    text = page_text(response)
    assert "未确认任何记录：" in text
    assert f"王一 在 {day} 的服务时长合计 25.0 小时，超过一天 24 小时。" in text
    assert ServiceRecord.objects.filter(shift=shift).count() == 0
    shift.refresh_from_db()
    other.refresh_from_db()
    assert (shift.records_created_at, other.recorded_minutes) == (None, 0)


# --- 时长确认 ---------------------------------------------------------------------------------


def test_records_query_count_does_not_grow(city, worker_a):
    people = [make_volunteer(city.grid_a, f"志愿者{n:02d}") for n in range(30)]
    for person in people[:3]:
        enter(person, city.community_a)
        enter(person, city.community_a, days_ago=4, confirm=True)
    urls = [reverse("activities:records"), reverse("activities:records") + "?tab=all"]
    few = [count_queries(worker_a, url) for url in urls]
    for person in people[3:]:
        enter(person, city.community_a)
        enter(person, city.community_a, days_ago=4, confirm=True)
    assert ServiceRecord.objects.count() == 60
    assert [count_queries(worker_a, url) for url in urls] == few


def test_batch_confirmation(city, worker_a):
    volunteer = make_volunteer(city.grid_a, "王一")
    one, two, three = (enter(volunteer, city.community_a, days_ago=d) for d in (1, 2, 3))
    url = reverse("activities:records_confirm")
    response = worker_a.post(url, {}, follow=True)
    assert "请先勾选要确认的服务记录。" in page_text(response)
    stranger = enter(make_volunteer(city.grid_b, "乙一"), city.community_b)
    response = worker_a.post(url, {"record_ids": [one.pk, stranger.pk]}, follow=True)
    assert "部分记录不存在、不是待确认状态或不在您的管理范围内。" in page_text(response)
    assert ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED).count() == 0
    response = worker_a.post(url, {"record_ids": [one.pk, two.pk]}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("activities:records") + "?tab=pending"
    assert "已确认 2 条服务记录。" in page_text(response)
    statuses = dict(ServiceRecord.objects.values_list("pk", "status"))
    assert (statuses[one.pk], statuses[two.pk], statuses[three.pk]) == (
        RecordStatus.CONFIRMED,
        RecordStatus.CONFIRMED,
        RecordStatus.PENDING,
    )
    volunteer.refresh_from_db()
    assert volunteer.recorded_minutes == 240


def test_enter_a_record(city, worker_a):
    volunteer = make_volunteer(city.grid_a, "王一")
    stranger = make_volunteer(city.grid_b, "乙一")
    url = reverse("activities:record_enter")
    data = {
        "number": volunteer.number,
        "org": city.community_a.pk,
        "category": category().pk,
        "served_on": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
        "hours": "2.5",
        "content": "社区环境整治",
        "place": "甲社区花园",
        "rating": "5",
        "evaluation": "认真负责",
        "confirm": "on",
    }
    for number in (stranger.number, stranger.person.id_number):
        response = worker_a.post(url, {**data, "number": number})
        assert response.status_code == 400
        assert "在您的管理范围内未找到该志愿者，请核对志愿者编号或号码。" in page_text(response)
    assert stranger.person.id_number not in page_text(response)
    response = worker_a.post(url, {**data, "hours": "0"})
    assert response.status_code == 400
    assert "服务时长应在 1 分钟到 24 小时之间。" in page_text(response)
    future = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = worker_a.post(url, {**data, "served_on": future})
    assert response.status_code == 400
    assert "服务日期不能晚于今天。" in page_text(response)
    assert ServiceRecord.objects.count() == 0
    response = worker_a.post(url, data)
    record = ServiceRecord.objects.get()
    assert response["Location"] == reverse(
        "activities:record_detail", kwargs={"record_id": record.pk}
    )
    assert (record.volunteer, record.minutes, record.status, record.source, record.rating) == (
        volunteer,
        150,
        RecordStatus.CONFIRMED,
        RecordSource.ENTERED,
        5,
    )
    volunteer.refresh_from_db()
    assert volunteer.recorded_minutes == 150


def test_reject_needs_reason(city, worker_a):
    record = enter(make_volunteer(city.grid_a, "王一"), city.community_a)
    url = reverse("activities:record_reject", kwargs={"record_id": record.pk})
    response = worker_a.post(url, {"reason": ""})
    assert response.status_code == 400
    assert "请说明退回原因。" in page_text(response)
    record.refresh_from_db()
    assert record.status == RecordStatus.PENDING
    response = worker_a.post(url, {"reason": "时间与签到不符"}, follow=True)
    assert "已退回该服务记录。" in page_text(response)
    record.refresh_from_db()
    assert (record.status, record.reject_reason) == (RecordStatus.REJECTED, "时间与签到不符")


def test_correct_a_confirmed_record_keeps_history(city, worker_a):
    volunteer = make_volunteer(city.grid_a, "王一")
    record = enter(volunteer, city.community_a, confirm=True)
    url = reverse("activities:record_correct", kwargs={"record_id": record.pk})
    data = {
        "served_on": record.served_on.isoformat(),
        "hours": "1.5",
        "content": record.content,
        "place": "甲社区服务站",
        "reason": "",
    }
    response = worker_a.post(url, data)
    assert response.status_code == 400
    assert "请填写更正原因。" in page_text(response)
    record.refresh_from_db()
    assert (record.minutes, record.place) == (120, "甲社区")
    assert RecordCorrection.objects.count() == 0
    response = worker_a.post(url, {**data, "reason": "提前离场半小时"}, follow=True)
    assert "已更正该服务记录，原记录已保留。" in page_text(response)
    record.refresh_from_db()
    volunteer.refresh_from_db()
    assert (record.minutes, record.place, volunteer.recorded_minutes) == (90, "甲社区服务站", 90)
    correction = RecordCorrection.objects.get()
    assert (correction.old_minutes, correction.new_minutes, correction.reason) == (
        120,
        90,
        "提前离场半小时",
    )
    text = page_text(worker_a.get(reverse("activities:record_detail", args=[record.pk])))
    assert "时长 120 → 90 分钟" in text and "原服务地点：甲社区" in text
    assert "提前离场半小时" in text
    pending = enter(volunteer, city.community_a, days_ago=5)
    response = worker_a.post(
        reverse("activities:record_correct", kwargs={"record_id": pending.pk}),
        {**data, "reason": "更正"},
    )
    assert response.status_code == 400
    assert "只能更正已确认的记录；待确认的记录可直接退回或确认。" in page_text(response)


def test_evaluate_a_record(city, worker_a):
    record = enter(make_volunteer(city.grid_a, "王一"), city.community_a, confirm=True)
    url = reverse("activities:record_evaluate", kwargs={"record_id": record.pk})
    response = worker_a.post(url, {"rating": "4", "evaluation": "细心耐心"}, follow=True)
    assert "已保存服务评价。" in page_text(response)
    record.refresh_from_db()
    assert (record.rating, record.evaluation) == (4, "细心耐心")
    response = worker_a.post(url, {"rating": "2"})
    assert response.status_code == 400
    record.refresh_from_db()
    assert record.rating == 4


# --- certificates -----------------------------------------------------------------------------


def test_certificates_query_count_does_not_grow(city, worker_a):
    people = [make_volunteer(city.grid_a, f"志愿者{n:02d}") for n in range(25)]

    def add(group):
        for person in group:
            enter(person, city.community_a, confirm=True)
            apply_for(person, city.community_a)

    url = reverse("activities:certificates")
    add(people[:3])
    few = count_queries(worker_a, url)
    add(people[3:])
    assert Certificate.objects.count() == 25
    assert count_queries(worker_a, url) == few
    text = page_text(worker_a.get(url))
    assert text.count('data-certificate-id="') == 50  # waiting to be issued, and in all


def test_issue_reject_and_revoke(city, worker_a):
    one, two = make_volunteer(city.grid_a, "王一"), make_volunteer(city.grid_a, "王二")
    enter(one, city.community_a, minutes=90, confirm=True)
    enter(one, city.community_a, minutes=60, days_ago=4, confirm=True)
    enter(two, city.community_a, confirm=True)
    first, second = apply_for(one, city.community_a), apply_for(two, city.community_a)
    detail = reverse("activities:certificate_detail", kwargs={"certificate_id": first.pk})
    text = page_text(worker_a.get(detail))
    assert "将证明的服务记录（2 条，共 2.5 小时）" in text
    response = worker_a.post(
        reverse("activities:certificate_issue", kwargs={"certificate_id": first.pk}), follow=True
    )
    text = page_text(response)
    assert "已开具志愿服务证明，志愿者会收到通知。" in text
    first.refresh_from_db()
    assert (first.status, first.total_minutes, first.record_count, first.issued_by) == (
        CertificateStatus.ISSUED,
        150,
        2,
        city.worker_a,
    )
    assert first.number in text
    pdf = reverse("activities:certificate_pdf", kwargs={"certificate_id": first.pk})
    assert f'href="{pdf}"' in text
    again = worker_a.post(
        reverse("activities:certificate_issue", kwargs={"certificate_id": first.pk}), follow=True
    )
    assert "该证明不是待开具状态。" in page_text(again)

    reject = reverse("activities:certificate_reject", kwargs={"certificate_id": second.pk})
    assert "请说明不予开具的原因。" in page_text(worker_a.post(reject, {"reason": ""}, follow=True))
    second.refresh_from_db()
    assert second.status == CertificateStatus.APPLIED
    worker_a.post(reject, {"reason": "期间内记录存疑"})
    second.refresh_from_db()
    assert (second.status, second.decision_reason) == (CertificateStatus.REJECTED, "期间内记录存疑")

    revoke = reverse("activities:certificate_revoke", kwargs={"certificate_id": first.pk})
    assert "请说明撤销原因。" in page_text(worker_a.post(revoke, {"reason": ""}, follow=True))
    first.refresh_from_db()
    assert first.status == CertificateStatus.ISSUED
    response = worker_a.post(revoke, {"reason": "记录有误"}, follow=True)
    assert "已撤销该证明，核验页面将显示已撤销。" in page_text(response)
    first.refresh_from_db()
    assert (first.status, first.decision_reason) == (CertificateStatus.REVOKED, "记录有误")


def test_team_leader_may_not_issue(city):
    corps = volunteer_services.corps_ensure(actor=None, scope=SYSTEM, community=city.community_a)
    team = volunteer_services.team_create(actor=None, scope=SYSTEM, corps=corps, name="助老队")
    leader = UserFactory(username="leader")
    grant(leader, team, Role.TEAM_LEADER)
    volunteer = make_volunteer(city.grid_a, "王一")
    enter(volunteer, team, confirm=True)
    certificate = apply_for(volunteer, team)
    client = client_for(leader)
    text = page_text(client.get(reverse("activities:certificates")))
    assert "待开具的申请" not in text and "王一" in text
    detail = reverse("activities:certificate_detail", kwargs={"certificate_id": certificate.pk})
    assert 'data-testid="certificate-issue"' not in page_text(client.get(detail))
    response = client.post(
        reverse("activities:certificate_issue", kwargs={"certificate_id": certificate.pk}),
        follow=True,
    )
    assert "没有为该单位开具志愿服务证明的权限。" in page_text(response)
    certificate.refresh_from_db()
    assert (certificate.status, certificate.number) == (CertificateStatus.APPLIED, None)
    # the leader does confirm and correct the team's records
    assert client.get(reverse("activities:records")).status_code == 200
