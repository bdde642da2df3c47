"""/api/v1/activities: service records (list, enter, confirm, reject, correct), certificates
(list, apply, issue, reject, revoke, public verification), the volunteer's hours, records,
declarations and certificates; scope, masking, N+1."""

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.activities.models import (
    Certificate,
    CertificateStatus,
    RecordCorrection,
    RecordStatus,
    ServiceRecord,
)
from huzhu.activities.record_services import certificate_apply
from huzhu.common.models import AuditEntry
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.volunteers.models import ServiceCategory, TeamMembership
from tests.activities.clients import (
    MISSING,
    URL,
    errors,
    post,
    token_client,
    volunteer_client,
)
from tests.activities.factories import SYSTEM, enter_record, make_activity, make_volunteer
from tests.factories import UserFactory, grant, make_org

pytestmark = pytest.mark.django_db


def community_service() -> ServiceCategory:
    return ServiceCategory.objects.get(name="社区服务")


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


def enter(volunteer, org, minutes=120, served_on=None, confirm=True, content="助老服务"):
    served_on = served_on or days_ago(3)
    return enter_record(volunteer, org, served_on, minutes, content=content, confirm=confirm)


def apply_for_certificate(volunteer, org, days: int = 5):
    """The volunteer's application for a certificate of the last ``days`` days."""
    return certificate_apply(
        actor=None, volunteer=volunteer, org=org, period_from=days_ago(days), period_to=days_ago(0)
    )


def record_payload(org, served_on: dt.date, minutes: int, content: str, place: str, **extra):
    """The body of a record entered or declared, in the category 社区服务."""
    return {
        "org_id": org.pk,
        "served_on": str(served_on),
        "minutes": minutes,
        "content": content,
        "place": place,
        "category_id": community_service().pk,
        **extra,
    }


@pytest.fixture
def me(city):
    """A volunteer of community A with their own login and API client."""
    return volunteer_client(city.grid_a, "欧阳甲乙", "vol-a")


def snapshot() -> tuple:
    return (
        tuple(ServiceRecord.objects.order_by("pk").values_list("status", "minutes")),
        tuple(Certificate.objects.order_by("pk").values_list("status", "number")),
        RecordCorrection.objects.count(),
        AuditEntry.objects.count(),
    )


# --- organiser: records -------------------------------------------------------------------


def test_records_list_scope_filters_and_query_count(city, client_a, client_b):
    mine = make_volunteer(city.grid_a, "王一")
    enter(mine, city.community_a, confirm=False)
    client_a.get(f"{URL}/records")  # the token's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        response = client_a.get(f"{URL}/records")
    assert response.json()["count"] == 1
    for n in range(5):
        enter(make_volunteer(city.grid_a, f"李{n}"), city.community_a, served_on=days_ago(n + 1))
    with CaptureQueriesContext(connection) as six:
        response = client_a.get(f"{URL}/records")
    assert response.json()["count"] == 6
    assert len(six) == len(one)
    item = client_a.get(f"{URL}/records?status=pending").json()["items"]
    assert [(r["volunteer_name"], r["status_label"], r["hours"]) for r in item] == [
        ("王一", "待确认", "2")
    ]
    only = client_a.get(f"{URL}/records?volunteer_id={mine.pk}").json()
    assert [r["volunteer_id"] for r in only["items"]] == [mine.pk]
    assert client_b.get(f"{URL}/records").json() == {"items": [], "count": 0}
    assert mine.person.id_number not in response.content.decode()


def test_enter_record_confirmed_rolls_up_hours(city, client_a):
    volunteer = make_volunteer(city.grid_a, "王一")
    payload = record_payload(
        city.community_a,
        days_ago(2),
        150,
        "陪同就医",
        "市第一医院",
        volunteer_id=volunteer.pk,
        rating=5,
        confirm=True,
    )
    response = post(client_a, f"{URL}/records", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["source"], body["source_label"]) == (
        "confirmed",
        "entered",
        "组织录入",
    )
    assert (body["minutes"], body["hours"], body["rating_label"]) == (150, "2.5", "优秀")
    assert (body["recorder"], body["confirmer"]) == ("worker-a", "worker-a")
    volunteer.refresh_from_db()
    assert volunteer.recorded_minutes == 150


def test_enter_record_refusals_change_nothing(city, client_a):
    volunteer = make_volunteer(city.grid_a, "王一")
    other = make_volunteer(city.grid_b, "乙一")
    activity_b = make_activity(city.community_b, "乙活动")
    base = record_payload(
        city.community_a, days_ago(2), 60, "陪同就医", "医院", volunteer_id=volunteer.pk
    )
    before = snapshot()
    response = post(client_a, f"{URL}/records", {**base, "volunteer_id": other.pk})
    assert errors(response) == [("volunteer_id", "志愿者不存在或不在您的管理范围内")]
    response = post(client_a, f"{URL}/records", {**base, "org_id": city.community_b.pk})
    assert errors(response) == [("org_id", "请选择您有权记录服务时长的组织")]
    response = post(client_a, f"{URL}/records", {**base, "activity_id": activity_b.pk})
    assert errors(response) == [("activity_id", "活动不存在或不在您的管理范围内")]
    response = post(client_a, f"{URL}/records", {**base, "minutes": 1500})
    assert errors(response) == [("minutes", "服务时长应在 1 分钟到 24 小时之间。")]
    future = str(timezone.localdate() + dt.timedelta(days=1))
    response = post(client_a, f"{URL}/records", {**base, "served_on": future})
    assert errors(response) == [("served_on", "服务日期不能晚于今天。")]
    assert snapshot() == before


def test_confirm_records_in_batch(city, client_a):
    a1 = enter(make_volunteer(city.grid_a, "王一"), city.community_a, confirm=False)
    a2 = enter(make_volunteer(city.grid_a, "王二"), city.community_a, confirm=False)
    b1 = enter(make_volunteer(city.grid_b, "乙一"), city.community_b, confirm=False)
    response = post(client_a, f"{URL}/records/confirm", {"ids": [a1.pk, b1.pk]})
    assert errors(response) == [("__all__", "部分记录不存在、不是待确认状态或不在您的管理范围内。")]
    assert set(ServiceRecord.objects.values_list("status", flat=True)) == {RecordStatus.PENDING}
    response = post(client_a, f"{URL}/records/confirm", {"ids": []})
    assert errors(response) == [("ids", "请选择要确认的记录")]
    response = post(client_a, f"{URL}/records/confirm", {"ids": [a1.pk, a2.pk]})
    assert (response.status_code, response.json()) == (200, {"confirmed": 2})
    statuses = dict(ServiceRecord.objects.values_list("pk", "status"))
    assert statuses == {
        a1.pk: RecordStatus.CONFIRMED,
        a2.pk: RecordStatus.CONFIRMED,
        b1.pk: RecordStatus.PENDING,
    }


def test_reject_and_correct(city, client_a):
    volunteer = make_volunteer(city.grid_a, "王一")
    pending = enter(volunteer, city.community_a, confirm=False, served_on=days_ago(5))
    confirmed = enter(volunteer, city.community_a, minutes=60, served_on=days_ago(4))
    response = post(client_a, f"{URL}/records/{pending.pk}/reject", {})
    assert errors(response) == [("reason", "请说明退回原因。")]
    response = post(client_a, f"{URL}/records/{pending.pk}/reject", {"reason": "时长有误"})
    assert (response.json()["status"], response.json()["reject_reason"]) == ("rejected", "时长有误")
    response = post(client_a, f"{URL}/records/{confirmed.pk}/reject", {"reason": "x"})
    assert errors(response) == [("__all__", "只能退回待确认的记录。")]

    url = f"{URL}/records/{confirmed.pk}/correct"
    response = post(client_a, url, {"minutes": 90})
    assert errors(response) == [("reason", "请填写更正原因。")]
    response = post(client_a, url, {"reason": "x", "minutes": None})
    assert errors(response) == [("minutes", "不能为空")]
    response = post(client_a, url, {"reason": "漏记半小时", "minutes": 90, "place": "乙楼"})
    assert response.status_code == 200, response.content
    assert (response.json()["minutes"], response.json()["place"]) == (90, "乙楼")
    correction = RecordCorrection.objects.get()
    assert (correction.old_minutes, correction.new_minutes, correction.reason) == (
        60,
        90,
        "漏记半小时",
    )
    volunteer.refresh_from_db()
    assert volunteer.recorded_minutes == 90
    response = post(client_a, f"{URL}/records/{pending.pk}/correct", {"reason": "x", "minutes": 5})
    assert errors(response) == [("__all__", "只能更正已确认的记录；待确认的记录可直接退回或确认。")]


# --- certificates -------------------------------------------------------------------------


def test_certificate_apply_issue_and_verify(city, client_a, me):
    volunteer, client = me
    enter(volunteer, city.community_a, minutes=120, served_on=days_ago(10))
    enter(volunteer, city.community_a, minutes=90, served_on=days_ago(9))
    orgs = client.get(f"{URL}/me/orgs").json()
    assert orgs["certify"] == [{"id": city.community_a.pk, "name": "甲社区"}]
    payload = {
        "org_id": city.community_a.pk,
        "period_from": str(days_ago(30)),
        "period_to": str(days_ago(0)),
        "purpose": "升学",
    }
    response = post(client, f"{URL}/me/certificates", {**payload, "org_id": city.community_b.pk})
    assert errors(response) == [("org_id", "该单位没有记录过您的已确认服务，不能由其出具证明。")]
    response = post(client, f"{URL}/me/certificates", payload)
    assert response.status_code == 201, response.content
    applied = response.json()
    assert (applied["status"], applied["number"], applied["verify_code"]) == ("applied", None, None)
    response = post(client, f"{URL}/me/certificates", payload)
    assert errors(response) == [("__all__", "您向该单位的证明申请尚在办理中，请等待开具。")]

    listing = client_a.get(f"{URL}/certificates?status=applied").json()
    assert [(c["id"], c["volunteer_name"]) for c in listing["items"]] == [
        (applied["id"], "欧阳甲乙")
    ]
    response = post(client_a, f"{URL}/certificates/{applied['id']}/issue")
    assert response.status_code == 200, response.content
    issued = response.json()
    assert (issued["status"], issued["total_minutes"], issued["total_hours"]) == (
        "issued",
        210,
        "3.5",
    )
    assert issued["record_count"] == 2
    assert issued["number"].startswith("ZYZM")
    mine = client.get(f"{URL}/me/certificates").json()["items"]
    assert (mine[0]["number"], mine[0]["verify_code"]) == (issued["number"], issued["verify_code"])

    public = Client()
    query = f"number={issued['number']}&code={issued['verify_code'].lower()}"
    response = public.get(f"{URL}/certificates/verify?{query}")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "valid": True,
        "number": issued["number"],
        "status": "issued",
        "status_label": "已开具",
        "name_masked": "欧阳**",
        "org_name": "甲社区",
        "issued_on": str(timezone.localdate()),
        "period_from": payload["period_from"],
        "period_to": payload["period_to"],
        "total_hours": "3.5",
        "record_count": 2,
        "revoked_on": None,
        "reason": "",
    }
    assert "欧阳甲乙" not in response.content.decode()

    response = post(client_a, f"{URL}/certificates/{applied['id']}/revoke", {})
    assert errors(response) == [("reason", "请说明撤销原因。")]
    response = post(client_a, f"{URL}/certificates/{applied['id']}/revoke", {"reason": "时长有误"})
    assert response.json()["status"] == "revoked"
    body = public.get(f"{URL}/certificates/verify?{query}").json()
    assert (body["valid"], body["status"], body["revoked_on"], body["reason"]) == (
        True,
        "revoked",
        str(timezone.localdate()),
        "时长有误",
    )


def test_verify_reveals_nothing_when_not_matched(city, me):
    volunteer, _ = me
    enter(volunteer, city.community_a, served_on=days_ago(3))
    certificate = apply_for_certificate(volunteer, city.community_a)
    from huzhu.activities.record_services import certificate_issue

    certificate = certificate_issue(actor=None, scope=SYSTEM, certificate=certificate)
    public = Client()
    for query in (
        f"number={certificate.number}&code=WRONGCOD",
        f"number=ZYZM000&code={certificate.snapshot['verify_code']}",
        f"number={certificate.number}",
        "",
    ):
        response = public.get(f"{URL}/certificates/verify?{query}")
        assert (response.status_code, response.json()) == (200, {"valid": False}), query
    assert public.post(f"{URL}/certificates/verify").status_code == 405


def test_certificate_reject_and_team_leader_may_not_decide(city, client_a, me):
    volunteer, _ = me
    enter(volunteer, city.community_a, served_on=days_ago(3))
    certificate = apply_for_certificate(volunteer, city.community_a)
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    leader_client = token_client(leader)
    before = snapshot()
    response = post(leader_client, f"{URL}/certificates/{certificate.pk}/issue")
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "没有为该单位开具志愿服务证明的权限。"},
    )
    assert snapshot() == before
    response = post(client_a, f"{URL}/certificates/{certificate.pk}/reject", {})
    assert errors(response) == [("reason", "请说明不予开具的原因。")]
    response = post(client_a, f"{URL}/certificates/{certificate.pk}/reject", {"reason": "期间有误"})
    body = response.json()
    assert (body["status"], body["status_label"], body["decision_reason"]) == (
        "rejected",
        "不予开具",
        "期间有误",
    )
    response = post(client_a, f"{URL}/certificates/{certificate.pk}/issue")
    assert errors(response) == [("__all__", "该证明不是待开具状态。")]


def test_certificate_list_query_count(city, client_a):
    def add(n: int) -> None:
        for i in range(n):
            volunteer = make_volunteer(city.grid_a, f"王{Certificate.objects.count()}{i}")
            enter(volunteer, city.community_a, served_on=days_ago(2))
            apply_for_certificate(volunteer, city.community_a, days=3)

    add(1)
    client_a.get(f"{URL}/certificates")
    with CaptureQueriesContext(connection) as one:
        client_a.get(f"{URL}/certificates")
    add(4)
    with CaptureQueriesContext(connection) as five:
        assert client_a.get(f"{URL}/certificates").json()["count"] == 5
    assert len(five) == len(one)


# --- volunteer: hours, records, declarations ----------------------------------------------


def test_my_hours(city, me):
    volunteer, client = me
    volunteer.historical_minutes = 600
    volunteer.save(update_fields=["historical_minutes"])
    enter(volunteer, city.community_a, minutes=120, served_on=days_ago(3))
    enter(volunteer, city.community_a, minutes=30, served_on=days_ago(2), confirm=False)
    response = client.get(f"{URL}/me/hours")
    assert response.status_code == 200
    year = days_ago(3).year
    assert response.json() == {
        "total_minutes": 720,
        "total_hours": "12",
        "service_minutes": 120,
        "service_hours": "2",
        "historical_minutes": 600,
        "historical_hours": "10",
        "pending_minutes": 30,
        "pending_hours": "0.5",
        "by_year": [{"year": year, "hours": "2"}],
        "by_category": [{"category": "社区服务", "hours": "2"}],
        "by_year_category": [
            {"year": year, "categories": [{"category": "社区服务", "hours": "2"}]}
        ],
    }


def test_my_records_and_declare(city, me):
    volunteer, client = me
    corps = make_org(OrgKind.CORPS, "甲社区志愿者总队", city.community_a)
    team = make_org(OrgKind.TEAM, "助老服务队", corps)
    TeamMembership.objects.create(team=team, volunteer=volunteer, joined_on=days_ago(100))
    declare = client.get(f"{URL}/me/orgs").json()["declare"]
    assert {o["name"] for o in declare} == {
        "甲社区第一网格",
        "甲社区",
        "甲社区志愿者总队",
        "助老服务队",
    }
    payload = record_payload(team, days_ago(1), 90, "上门陪伴老人", "3号楼")
    response = post(client, f"{URL}/me/records", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["source"], body["org_name"]) == (
        "pending",
        "declared",
        "助老服务队",
    )
    response = post(client, f"{URL}/me/records", {**payload, "org_id": city.community_b.pk})
    assert errors(response) == [("org_id", "请选择您所在的社区、总队或服务队作为确认单位。")]
    listing = client.get(f"{URL}/me/records").json()
    assert [r["id"] for r in listing["items"]] == [body["id"]]
    assert client.get(f"{URL}/me/records?year=2001").json() == {"items": [], "count": 0}


def test_declaring_more_than_24_hours_a_day_is_refused(city, me):
    volunteer, client = me
    day = days_ago(1)
    enter(volunteer, city.community_a, minutes=20 * 60, served_on=day)
    before = snapshot()
    payload = record_payload(city.community_a, day, 5 * 60, "夜间值守", "甲社区")
    response = post(client, f"{URL}/me/records", payload)
    assert errors(response) == [
        ("__all__", f"欧阳甲乙 在 {day} 的服务时长合计 25.0 小时，超过一天 24 小时。")
    ]
    assert snapshot() == before
    assert ServiceRecord.objects.filter(volunteer=volunteer).count() == 1
    response = post(client, f"{URL}/me/records", {**payload, "minutes": 25 * 60})
    assert errors(response) == [("minutes", "服务时长应在 1 分钟到 24 小时之间。")]
    assert snapshot() == before


def test_non_volunteer_gets_404_on_my_routes(city, client_a):
    for url in (f"{URL}/me/hours", f"{URL}/me/records", f"{URL}/me/certificates", f"{URL}/me/orgs"):
        assert (client_a.get(url).status_code, client_a.get(url).json()) == (404, MISSING), url


# --- access -------------------------------------------------------------------------------


def test_worker_b_gets_404_on_community_a_records_and_certificates(city, client_b, me):
    volunteer, _ = me
    record = enter(volunteer, city.community_a, served_on=days_ago(3))
    pending = enter(volunteer, city.community_a, served_on=days_ago(2), confirm=False)
    certificate = apply_for_certificate(volunteer, city.community_a)
    before = snapshot()
    for url, payload in (
        (f"{URL}/records/{pending.pk}/reject", {"reason": "x"}),
        (f"{URL}/records/{record.pk}/correct", {"reason": "x", "minutes": 30}),
        (f"{URL}/records/{record.pk}/reject", {}),
        (f"{URL}/certificates/{certificate.pk}/issue", {}),
        (f"{URL}/certificates/{certificate.pk}/reject", {"reason": "x"}),
        (f"{URL}/certificates/{certificate.pk}/revoke", {}),
    ):
        response = post(client_b, url, payload)
        assert (response.status_code, response.json()) == (404, MISSING), url
    response = post(client_b, f"{URL}/records/confirm", {"ids": [pending.pk]})
    assert response.status_code == 422
    assert client_b.get(f"{URL}/certificates").json() == {"items": [], "count": 0}
    assert client_b.get(f"{URL}/records?volunteer_id={volunteer.pk}").json()["count"] == 0
    assert snapshot() == before
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.APPLIED


def test_anonymous_is_refused_except_verification(db):
    for url in (f"{URL}/records", f"{URL}/certificates", f"{URL}/me/hours"):
        assert Client().get(url).status_code == 401, url
    assert Client().get(f"{URL}/certificates/verify?number=x&code=y").status_code == 200
