"""志愿服务证明: applying, issuing, rejecting, revoking and the public verification."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huzhu.activities.models import Certificate, CertificateStatus
from huzhu.activities.record_services import (
    VERIFY_ALPHABET,
    RecordInput,
    certificate_apply,
    certificate_download_logged,
    certificate_issue,
    certificate_orgs,
    certificate_reject,
    certificate_revoke,
    record_declare,
)
from huzhu.activities.selectors import certificate_verify
from huzhu.common.models import AuditEntry, Notification
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.activities.factories import (
    SYSTEM,
    category,
    enter_record,
    make_login_volunteer,
    make_service_team,
    make_volunteer,
)
from tests.factories import UserFactory, grant

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


def ago(days: int) -> dt.date:
    return today() - dt.timedelta(days=days)


def record(volunteer, org, days_ago: int, minutes: int, name="社区服务", confirm=True):
    return enter_record(
        volunteer,
        org,
        ago(days_ago),
        minutes,
        content=f"服务{days_ago}",
        category_name=name,
        confirm=confirm,
    )


def apply(volunteer, org, start: int = 30, end: int = 0, **kwargs) -> Certificate:
    return certificate_apply(
        actor=None,
        volunteer=volunteer,
        org=org,
        period_from=ago(start),
        period_to=ago(end),
        **kwargs,
    )


@pytest.fixture
def served(city):
    """王小明 served 甲社区 three times (one of them outside the usual period)."""
    volunteer = make_login_volunteer(city.grid_a, "王小明", "wxm")
    record(volunteer, city.community_a, 3, 120)
    record(volunteer, city.community_a, 10, 90, name="环境保护")
    record(volunteer, city.community_a, 60, 45)
    return volunteer


# --- applying ---------------------------------------------------------------------------------


def test_apply_creates_an_open_application(city, served):
    user = served.person.user
    certificate = certificate_apply(
        actor=user,
        volunteer=served,
        org=city.community_a,
        period_from=ago(30),
        period_to=today(),
        purpose="  升学  ",
    )
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.APPLIED
    assert (certificate.number, certificate.purpose, certificate.applied_by) == (None, "升学", user)
    assert (certificate.total_minutes, certificate.snapshot) == (0, {})
    assert AuditEntry.objects.get(verb="certificate.apply").data == {"org": "甲社区"}


def test_apply_only_to_an_org_that_recorded_confirmed_service(city, served):
    assert certificate_orgs(served) == [city.community_a]
    other = make_volunteer(city.grid_b, "李四")
    record_declare(
        actor=None,
        volunteer=other,
        org=city.community_b,
        data=RecordInput(
            served_on=ago(2), minutes=60, content="巡逻", place="乙社区", category=category()
        ),
    )
    for volunteer, org in ((served, city.community_b), (other, city.community_b)):
        with pytest.raises(ValidationError) as caught:
            apply(volunteer, org)
        assert caught.value.message_dict == {
            "org": ["该单位没有记录过您的已确认服务，不能由其出具证明。"]
        }
    assert Certificate.objects.count() == 0


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (5, 10, "period_to", "结束日期不能早于开始日期。"),
        (5, -1, "period_to", "结束日期不能晚于今天。"),
    ],
)
def test_apply_period_checks(city, served, start, end, field, message):
    with pytest.raises(ValidationError) as caught:
        apply(served, city.community_a, start, end)
    assert caught.value.message_dict == {field: [message]}
    assert Certificate.objects.count() == 0


def test_apply_needs_records_in_the_period(city, served):
    with pytest.raises(ValidationError) as caught:
        apply(served, city.community_a, start=50, end=40)
    assert caught.value.messages == ["该期间内没有该单位确认的服务记录。"]
    assert Certificate.objects.count() == 0


def test_a_second_open_application_is_refused(city, served):
    first = apply(served, city.community_a)
    with pytest.raises(ValidationError) as caught:
        apply(served, city.community_a, start=90)
    assert caught.value.messages == ["您向该单位的证明申请尚在办理中，请等待开具。"]
    assert Certificate.objects.count() == 1
    certificate_issue(actor=None, scope=SYSTEM, certificate=first)
    assert apply(served, city.community_a, start=90).status == CertificateStatus.APPLIED


# --- issuing ----------------------------------------------------------------------------------


def test_issue_freezes_the_content(city, served):
    # Not certified: a pending record, another org's record, a record outside the period.
    record(served, city.community_a, 5, 30, confirm=False)
    record(served, city.community_b, 4, 60)
    certificate = apply(served, city.community_a)
    issued = certificate_issue(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), certificate=certificate
    )
    issued.refresh_from_db()
    assert issued.status == CertificateStatus.ISSUED
    assert re.fullmatch(rf"ZYZM{timezone.localdate().year}\d{{8}}", issued.number)
    assert (issued.total_minutes, issued.record_count, issued.total_hours) == (210, 2, "3.5")
    assert issued.issued_by == city.worker_a and issued.issued_at is not None
    snapshot = issued.snapshot
    person = served.person
    assert snapshot["name_masked"] == "王**"
    assert snapshot["id_masked"] == person.id_number_masked
    assert person.id_number not in str(snapshot)
    assert snapshot["volunteer_number"] == served.number
    assert snapshot["org_name"] == "甲社区"
    assert [(r["date"], r["minutes"], r["hours"], r["category"]) for r in snapshot["records"]] == [
        (ago(10).isoformat(), 90, "1.5", "环境保护"),
        (ago(3).isoformat(), 120, "2", "社区服务"),
    ]
    assert snapshot["categories"] == [["社区服务", 120], ["环境保护", 90]]
    code = snapshot["verify_code"]
    assert len(code) == 8 and set(code) <= set(VERIFY_ALPHABET)
    note = Notification.objects.get(kind="activity.certificate")
    assert (note.user, note.title, note.body) == (
        person.user,
        "志愿服务证明：已开具",
        issued.number,
    )
    entry = AuditEntry.objects.get(verb="certificate.issue")
    assert entry.data == {"number": issued.number, "minutes": 210}


def test_numbers_follow_each_other(city, served):
    other = make_volunteer(city.grid_a, "李四")
    record(other, city.community_a, 2, 60)
    one = certificate_issue(actor=None, scope=SYSTEM, certificate=apply(served, city.community_a))
    two = certificate_issue(actor=None, scope=SYSTEM, certificate=apply(other, city.community_a))
    assert int(two.number[-8:]) == int(one.number[-8:]) + 1


def test_records_of_a_team_are_certified_by_the_team_and_the_community(city):
    team = make_service_team(city.community_a)
    volunteer = make_volunteer(city.grid_a, "王五")
    record(volunteer, team, 2, 60)
    assert certificate_orgs(volunteer) == [team]
    leader = UserFactory(username="leader")
    grant(leader, team, Role.TEAM_LEADER)
    certificate = apply(volunteer, team)
    for call in (certificate_issue, certificate_reject):
        with pytest.raises(PermissionDenied):
            kwargs = {"reason": "不符合"} if call is certificate_reject else {}
            call(actor=leader, scope=Scope.for_user(leader), certificate=certificate, **kwargs)
    certificate.refresh_from_db()
    assert (certificate.status, certificate.number) == (CertificateStatus.APPLIED, None)
    with pytest.raises(PermissionDenied):
        certificate_issue(
            actor=city.worker_b, scope=Scope.for_user(city.worker_b), certificate=certificate
        )
    issued = certificate_issue(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), certificate=certificate
    )
    assert (issued.status, issued.total_minutes) == (CertificateStatus.ISSUED, 60)
    with pytest.raises(PermissionDenied):
        certificate_revoke(
            actor=leader, scope=Scope.for_user(leader), certificate=issued, reason="有误"
        )


def test_issue_only_once(city, served):
    certificate = certificate_issue(
        actor=None, scope=SYSTEM, certificate=apply(served, city.community_a)
    )
    number = certificate.number
    with pytest.raises(ValidationError) as caught:
        certificate_issue(actor=None, scope=SYSTEM, certificate=certificate)
    assert caught.value.messages == ["该证明不是待开具状态。"]
    certificate.refresh_from_db()
    assert certificate.number == number


# --- rejecting and revoking -------------------------------------------------------------------


def test_reject_needs_a_reason(city, served):
    certificate = apply(served, city.community_a)
    with pytest.raises(ValidationError) as caught:
        certificate_reject(actor=None, scope=SYSTEM, certificate=certificate, reason="  ")
    assert caught.value.message_dict == {"reason": ["请说明不予开具的原因。"]}
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.APPLIED
    certificate_reject(actor=None, scope=SYSTEM, certificate=certificate, reason="期间填写有误")
    certificate.refresh_from_db()
    assert (certificate.status, certificate.decision_reason, certificate.number) == (
        CertificateStatus.REJECTED,
        "期间填写有误",
        None,
    )
    note = Notification.objects.get(kind="activity.certificate")
    assert (note.title, note.body) == ("志愿服务证明：不予开具", "期间填写有误")
    with pytest.raises(ValidationError) as caught:
        certificate_reject(actor=None, scope=SYSTEM, certificate=certificate, reason="再次")
    assert caught.value.messages == ["该证明不是待开具状态。"]
    # A rejected application is closed: the volunteer may apply again.
    assert apply(served, city.community_a, start=20).status == CertificateStatus.APPLIED


def test_revoke_needs_a_reason_and_an_issued_certificate(city, served):
    certificate = apply(served, city.community_a)
    with pytest.raises(ValidationError) as caught:
        certificate_revoke(actor=None, scope=SYSTEM, certificate=certificate, reason="有误")
    assert caught.value.messages == ["只能撤销已开具的证明。"]
    issued = certificate_issue(actor=None, scope=SYSTEM, certificate=certificate)
    with pytest.raises(ValidationError) as caught:
        certificate_revoke(actor=None, scope=SYSTEM, certificate=issued, reason="")
    assert caught.value.message_dict == {"reason": ["请说明撤销原因。"]}
    issued.refresh_from_db()
    assert (issued.status, issued.revoked_at) == (CertificateStatus.ISSUED, None)
    certificate_revoke(actor=None, scope=SYSTEM, certificate=issued, reason="服务记录更正")
    issued.refresh_from_db()
    assert issued.status == CertificateStatus.REVOKED
    assert issued.decision_reason == "服务记录更正" and issued.revoked_at is not None
    titles = list(
        Notification.objects.filter(kind="activity.certificate")
        .order_by("id")
        .values_list("title", flat=True)
    )
    assert titles == ["志愿服务证明：已开具", "志愿服务证明：已撤销"]
    assert AuditEntry.objects.get(verb="certificate.revoke").data == {"reason": "服务记录更正"}


def test_download_only_once_issued(city, served):
    certificate = apply(served, city.community_a)
    with pytest.raises(PermissionDenied):
        certificate_download_logged(actor=None, certificate=certificate)
    issued = certificate_issue(actor=None, scope=SYSTEM, certificate=certificate)
    certificate_download_logged(actor=None, certificate=issued)
    assert AuditEntry.objects.get(verb="certificate.download").data == {"number": issued.number}


# --- public verification ----------------------------------------------------------------------


def test_verify_an_issued_certificate(city, served):
    issued = certificate_issue(
        actor=None, scope=SYSTEM, certificate=apply(served, city.community_a)
    )
    code = issued.snapshot["verify_code"]
    found = certificate_verify(number=issued.number, code=code)
    assert found is not None
    assert (found.number, found.status, found.status_label) == (issued.number, "issued", "已开具")
    assert (found.name_masked, found.org_name) == ("王**", "甲社区")
    assert (found.period_from, found.period_to) == (ago(30), today())
    assert (found.total_hours, found.record_count) == ("3.5", 2)
    assert found.issued_on == timezone.localtime(issued.issued_at).date()
    assert (found.revoked_on, found.reason) == (None, "")
    # Typed by hand: spaces and lower case are forgiven.
    assert certificate_verify(number=f" {issued.number.lower()} ", code=f" {code.lower()} ")


def test_verify_refuses_a_wrong_code_or_number(city, served):
    issued = certificate_issue(
        actor=None, scope=SYSTEM, certificate=apply(served, city.community_a)
    )
    code = issued.snapshot["verify_code"]
    wrong = "AAAAAAAA" if code != "AAAAAAAA" else "BBBBBBBB"
    assert certificate_verify(number=issued.number, code=wrong) is None
    assert certificate_verify(number=issued.number, code="") is None
    assert certificate_verify(number="ZYZM000000000000", code=code) is None
    assert certificate_verify(number="", code=code) is None


def test_verify_shows_a_revocation(city, served):
    issued = certificate_issue(
        actor=None, scope=SYSTEM, certificate=apply(served, city.community_a)
    )
    certificate_revoke(actor=None, scope=SYSTEM, certificate=issued, reason="服务记录更正")
    issued.refresh_from_db()
    found = certificate_verify(number=issued.number, code=issued.snapshot["verify_code"])
    assert (found.status, found.status_label) == ("revoked", "已撤销")
    assert found.revoked_on == timezone.localtime(issued.revoked_at).date()
    assert found.reason == "服务记录更正"
    assert found.name_masked == "王**"


def test_applications_not_issued_cannot_be_verified(city, served):
    applied = apply(served, city.community_a)
    assert certificate_verify(number=str(applied.number or ""), code="ABCDEFGH") is None
    certificate_reject(actor=None, scope=SYSTEM, certificate=applied, reason="重复申请")
    # Even a forged number with a code stored on a not-issued row does not verify.
    Certificate.objects.filter(pk=applied.pk).update(
        number="ZYZM202600000001", snapshot={"verify_code": "ABCDEFGH"}
    )
    assert certificate_verify(number="ZYZM202600000001", code="ABCDEFGH") is None
