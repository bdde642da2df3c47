"""Star volunteers (DOMAIN.md §4): eligibility, application, publicity in working days,
grant, rejection, withdrawal, the bar for falsified hours, the reminder job, the board."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from huzhu.common.models import AuditEntry, Notification
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.volunteers import archive_services as stars
from huzhu.volunteers.archive_selectors import star_eligible_list
from huzhu.volunteers.models import StarApplication, StarStatus, VolunteerStatus
from huzhu.volunteers.services import (
    RegistrationInput,
    volunteer_register,
    volunteer_set_status,
)
from tests.factories import UserFactory, grant, make_id_number, make_phone

SYSTEM = Scope(user_id=0, is_superuser=True)


def make_volunteer(org, name="张三", hours=0.0, **kwargs):
    data = RegistrationInput(
        name=name,
        id_number=make_id_number(dt.date(1980, 1, 1)),
        phone=make_phone(),
        historical_minutes=round(hours * 60),
        **kwargs,
    )
    return volunteer_register(actor=None, scope=SYSTEM, org=org, data=data).volunteer


def own_login(volunteer, username="zhangsan"):
    user = UserFactory(username=username)
    volunteer.person.user = user
    volunteer.person.save(update_fields=["user"])
    return user, Scope.for_user(user)


def errors(excinfo) -> list[str]:
    return excinfo.value.messages


@pytest.fixture
def worker(city):
    return city.worker_a, Scope.for_user(city.worker_a)


# --- applying -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_apply_names_the_rule_and_the_numbers(city, worker):
    volunteer = make_volunteer(city.grid_a, hours=412.5)
    user, own = own_login(volunteer)
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=user, scope=own, volunteer=volunteer, level=3)
    assert errors(caught) == ["申请三星级需累计服务满600小时，目前为412.5小时"]

    application = stars.star_apply(actor=user, scope=own, volunteer=volunteer, level=2)
    assert (application.level, application.status) == (2, StarStatus.APPLIED)
    assert application.minutes_at_application == 24750
    assert application.applied_by == user
    entry = AuditEntry.objects.get(verb="star.apply")
    assert entry.data == {"volunteer": volunteer.number, "level": 2, "hours": "412.5", "own": True}

    # One open application at a time, whoever applies.
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=worker[0], scope=worker[1], volunteer=volunteer, level=1)
    assert errors(caught) == ["已有一份二星级申请正在办理（已申请），请等待认定结果或先撤回"]


@pytest.mark.django_db
def test_apply_only_above_the_current_star_and_for_configured_levels(city, worker):
    volunteer = make_volunteer(city.grid_a, hours=350)
    volunteer.star_level = 2
    volunteer.save(update_fields=["star_level"])
    actor, scope = worker
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=2)
    assert errors(caught) == ["已认定为二星级志愿者，只能申请更高星级"]
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=6)
    assert errors(caught) == ["可申请的星级为一星级至五星级"]
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=3)
    assert errors(caught) == ["申请三星级需累计服务满600小时，目前为350小时"]


@pytest.mark.django_db
def test_thresholds_come_from_settings(city, worker, settings):
    settings.HUZHU_STAR_THRESHOLDS_HOURS = [10, 20, 30]
    volunteer = make_volunteer(city.grid_a, hours=25)
    actor, scope = worker
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=3)
    assert errors(caught) == ["申请三星级需累计服务满30小时，目前为25小时"]
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=4)
    assert errors(caught) == ["可申请的星级为一星级至三星级"]
    assert stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=2).level == 2


@pytest.mark.django_db
def test_only_registered_volunteers_apply_and_only_own_or_worker(city, worker):
    actor, scope = worker
    volunteer = make_volunteer(city.grid_a, hours=150)
    volunteer_set_status(
        actor=actor,
        scope=scope,
        volunteer=volunteer,
        status=VolunteerStatus.SUSPENDED,
        reason="外出务工",
    )
    volunteer.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=1)
    assert errors(caught) == ["只有已注册的志愿者可以申请星级认定"]

    other = make_volunteer(city.grid_a, name="李四", hours=150)
    for outsider in (city.worker_b, UserFactory(username="leader")):
        if outsider.username == "leader":
            grant(outsider, city.community_a, Role.TEAM_LEADER)
        with pytest.raises(PermissionDenied):
            stars.star_apply(
                actor=outsider, scope=Scope.for_user(outsider), volunteer=other, level=1
            )
    assert not StarApplication.objects.exists()


# --- publicity and decision -------------------------------------------------------------


@pytest.mark.django_db
def test_publicity_runs_five_working_days_over_national_day_then_grant(city, worker):
    actor, scope = worker
    volunteer = make_volunteer(city.grid_a, hours=320)
    application = stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=2)
    # Monday 28 September 2026: 29, 30 September; 1–7 October are the National Day
    # holiday; 8, 9 October; Saturday 10 October is a make-up working day (调休).
    application = stars.star_start_publicity(
        actor=actor, scope=scope, application=application, today=dt.date(2026, 9, 28)
    )
    assert application.status == StarStatus.PUBLICISING
    assert application.publicity_starts_on == dt.date(2026, 9, 28)
    assert application.publicity_ends_on == dt.date(2026, 10, 10)
    assert application.calendar_warning == ""

    with pytest.raises(ValidationError) as caught:
        stars.star_start_publicity(actor=actor, scope=scope, application=application)
    assert errors(caught) == ["只有“已申请”的星级申请可以开始公示，该申请为“公示中”"]
    for early in (dt.date(2026, 10, 9), dt.date(2026, 10, 10)):
        with pytest.raises(ValidationError) as caught:
            stars.star_grant(actor=actor, scope=scope, application=application, today=early)
        assert errors(caught) == ["公示期至2026年10月10日，期满后方可认定"]

    granted = stars.star_grant(
        actor=actor, scope=scope, application=application, today=dt.date(2026, 10, 11)
    )
    volunteer.refresh_from_db()
    assert (granted.status, granted.decided_by, volunteer.star_level) == (
        StarStatus.GRANTED,
        actor,
        2,
    )
    assert list(
        AuditEntry.objects.filter(verb__startswith="star.")
        .order_by("id")
        .values_list("verb", flat=True)
    ) == ["star.apply", "star.publicity", "star.grant"]
    assert AuditEntry.objects.get(verb="star.grant").data == {
        "volunteer": volunteer.number,
        "from": 0,
        "to": 2,
    }
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=2)
    assert errors(caught) == ["已认定为二星级志愿者，只能申请更高星级"]


@pytest.mark.django_db
def test_publicity_in_a_year_without_calendar_warns(city, worker, settings):
    settings.HUZHU_STAR_PUBLICITY_WORKDAYS = 3
    actor, scope = worker
    volunteer = make_volunteer(city.grid_a, hours=120)
    application = stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=1)
    application = stars.star_start_publicity(
        actor=actor, scope=scope, application=application, today=dt.date(2027, 9, 30)
    )
    assert application.publicity_ends_on == dt.date(2027, 10, 5)
    assert (
        application.calendar_warning == "2027年的法定节假日安排尚未录入，已按周一至周五计算工作日"
    )


@pytest.mark.django_db
def test_publicity_and_grant_are_for_workers_only(city, worker):
    volunteer = make_volunteer(city.grid_a, hours=120)
    user, own = own_login(volunteer)
    application = stars.star_apply(actor=user, scope=own, volunteer=volunteer, level=1)
    with pytest.raises(PermissionDenied):
        stars.star_start_publicity(actor=user, scope=own, application=application)
    with pytest.raises(PermissionDenied):
        stars.star_start_publicity(
            actor=city.worker_b, scope=Scope.for_user(city.worker_b), application=application
        )
    with pytest.raises(PermissionDenied):
        stars.star_reject(actor=user, scope=own, application=application, reason="x")


@pytest.mark.django_db
def test_reject_needs_a_reason_and_withdraw_by_the_volunteer(city, worker):
    actor, scope = worker
    volunteer = make_volunteer(city.grid_a, hours=120)
    user, own = own_login(volunteer)
    application = stars.star_apply(actor=user, scope=own, volunteer=volunteer, level=1)
    with pytest.raises(ValidationError) as caught:
        stars.star_reject(actor=actor, scope=scope, application=application, reason="  ")
    assert caught.value.message_dict == {"reason": ["请填写不予认定的原因"]}
    stars.star_withdraw(actor=user, scope=own, application=application, reason="明年再申请")
    application.refresh_from_db()
    assert (application.status, application.decision_reason) == (StarStatus.WITHDRAWN, "明年再申请")
    with pytest.raises(ValidationError) as caught:
        stars.star_withdraw(actor=user, scope=own, application=application)
    assert errors(caught) == ["该申请已办结（已撤回）"]

    again = stars.star_apply(actor=user, scope=own, volunteer=volunteer, level=1)
    rejected = stars.star_reject(actor=actor, scope=scope, application=again, reason="时长待核实")
    assert (rejected.status, rejected.decision_reason) == (StarStatus.REJECTED, "时长待核实")
    assert AuditEntry.objects.get(verb="star.reject").data == {
        "volunteer": volunteer.number,
        "level": 1,
        "reason": "时长待核实",
    }


@pytest.mark.django_db
def test_falsified_hours_bar_applications_for_the_configured_months(city, worker, settings):
    actor, scope = worker
    volunteer = make_volunteer(city.grid_a, hours=700)
    application = stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=3)
    with pytest.raises(ValidationError) as caught:
        stars.star_bar(actor=actor, scope=scope, volunteer=volunteer, reason="")
    assert caught.value.message_dict == {"reason": ["请填写服务时长不实的情况"]}
    with pytest.raises(PermissionDenied):
        stars.star_bar(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            volunteer=volunteer,
            reason="x",
        )

    barred = stars.star_bar(
        actor=actor,
        scope=scope,
        volunteer=volunteer,
        reason="虚报活动时长200小时",
        today=dt.date(2026, 11, 29),
    )
    assert barred.star_barred_until == dt.date(2028, 11, 29)
    application.refresh_from_db()
    assert application.status == StarStatus.REJECTED
    assert application.decision_reason == "服务时长记录不实：虚报活动时长200小时"
    assert AuditEntry.objects.get(verb="star.bar").data == {
        "until": "2028-11-29",
        "months": 24,
        "reason": "虚报活动时长200小时",
        "closed_applications": [application.pk],
    }
    with pytest.raises(ValidationError) as caught:
        stars.star_apply(
            actor=actor, scope=scope, volunteer=barred, level=1, today=dt.date(2028, 11, 29)
        )
    assert errors(caught) == ["该志愿者因服务时长记录不实，2028年11月29日前不得申请星级认定"]
    assert (
        stars.star_apply(
            actor=actor, scope=scope, volunteer=barred, level=1, today=dt.date(2028, 11, 30)
        ).level
        == 1
    )

    settings.HUZHU_STAR_BAR_MONTHS = 6
    other = make_volunteer(city.grid_a, name="李四", hours=10)
    other = stars.star_bar(
        actor=actor, scope=scope, volunteer=other, reason="代签", today=dt.date(2026, 8, 31)
    )
    assert other.star_barred_until == dt.date(2027, 2, 28)


# --- the reminder job ---------------------------------------------------------------------


@pytest.mark.django_db
def test_publicity_ended_job_notifies_community_staff_once(city, worker):
    actor, scope = worker
    grid_worker = UserFactory(username="grid-worker")
    grant(grid_worker, city.grid_a, Role.WORKER)
    street_worker = UserFactory(username="street-worker")
    grant(street_worker, city.street, Role.WORKER)
    volunteer = make_volunteer(city.grid_a, name="王芳", hours=120)
    application = stars.star_apply(actor=actor, scope=scope, volunteer=volunteer, level=1)
    stars.star_start_publicity(
        actor=actor, scope=scope, application=application, today=dt.date(2026, 9, 28)
    )
    # Still publicising on its last day: nothing to say.
    call_command("runperiodic", "--only", "volunteers.star_publicity_ended", "--date", "2026-10-10")
    assert Notification.objects.count() == 0

    for _run in range(2):
        call_command(
            "runperiodic", "--only", "volunteers.star_publicity_ended", "--date", "2026-10-12"
        )
    notes = Notification.objects.order_by("user__username")
    assert [(n.user.username, n.kind) for n in notes] == [
        ("grid-worker", "star.publicity_ended"),
        ("worker-a", "star.publicity_ended"),
    ]
    note = notes[0]
    assert note.title == "星级公示期满待认定：王芳（一星级）"
    assert note.body == (
        f"{volunteer.number}的一星级申请公示期2026年9月28日至2026年10月10日已满，请作出认定决定。"
    )
    assert note.url == "/volunteers/stars/"
    assert note.dedupe_key == f"star.publicity_ended:{application.pk}"


@pytest.mark.django_db
def test_publicity_ended_job_falls_back_to_the_street_when_community_has_no_worker(city):
    street_worker = UserFactory(username="street-worker")
    grant(street_worker, city.street, Role.WORKER)
    scope = Scope.for_user(street_worker)
    volunteer = make_volunteer(city.grid_b, name="赵敏", hours=120)
    application = stars.star_apply(actor=street_worker, scope=scope, volunteer=volunteer, level=1)
    stars.star_start_publicity(
        actor=street_worker, scope=scope, application=application, today=dt.date(2026, 9, 28)
    )
    city.worker_b.is_active = False
    city.worker_b.save(update_fields=["is_active"])
    summary = stars.star_publicity_ended_notify(today=dt.date(2026, 10, 11))
    assert summary == "1份星级申请公示期满待认定，新发提醒1条"
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["street-worker"]
    assert stars.star_publicity_ended_notify(today=dt.date(2026, 10, 12)) == (
        "1份星级申请公示期满待认定，新发提醒0条"
    )


# --- the board ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_eligible_list_is_computed_in_sql(city, worker, settings):
    actor, scope = worker
    make_volunteer(city.grid_a, name="甲一", hours=99.9)  # below one star
    one = make_volunteer(city.grid_a, name="甲二", hours=100)  # one star
    three = make_volunteer(city.grid_a, name="甲三", hours=650)  # up to three stars
    granted = make_volunteer(city.grid_a, name="甲四", hours=350)
    granted.star_level = 2
    granted.save(update_fields=["star_level"])  # two stars already, 300 for three: no
    applied = make_volunteer(city.grid_a, name="甲五", hours=150)
    stars.star_apply(actor=actor, scope=scope, volunteer=applied, level=1)
    barred = make_volunteer(city.grid_a, name="甲六", hours=150)
    stars.star_bar(actor=actor, scope=scope, volunteer=barred, reason="代签")
    make_volunteer(city.grid_b, name="乙一", hours=900)  # another community
    found = list(star_eligible_list(scope=scope))
    assert [(v.person.name, v.eligible_level, v.next_threshold) for v in found] == [
        ("甲三", 3, 6000),
        ("甲二", 1, 6000),
    ]
    assert [v.pk for v in found] == [three.pk, one.pk]
    settings.HUZHU_STAR_THRESHOLDS_HOURS = [50, 100, 400]
    assert [(v.person.name, v.eligible_level) for v in star_eligible_list(scope=scope)] == [
        ("甲三", 3),
        ("甲二", 2),
        ("甲一", 1),
    ]  # 甲四 (350 h, two stars) needs 400


@pytest.mark.django_db
def test_star_board_page_and_actions(city, worker):
    actor, _scope = worker
    client = Client()
    client.force_login(actor)
    volunteer = make_volunteer(city.grid_a, name="孙丽", hours=130)
    page = client.get("/volunteers/stars/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "孙丽" in body and "代为申请" in body

    response = client.post(f"/volunteers/{volunteer.pk}/stars/", {"level": "1"})
    assert (
        response.status_code == 302 and response["Location"] == f"/volunteers/{volunteer.pk}/stars/"
    )
    application = StarApplication.objects.get()
    response = client.post(f"/volunteers/stars/{application.pk}/publicity/")
    assert response["Location"] == "/volunteers/stars/"
    application.refresh_from_db()
    assert application.status == StarStatus.PUBLICISING
    response = client.post(f"/volunteers/stars/{application.pk}/grant/", follow=True)
    end = application.publicity_ends_on
    end_text = f"{end.year}年{end.month}月{end.day}日"
    assert [str(m) for m in response.context["messages"]] == [
        "已提交一星级申请，等待社区公示",
        f"孙丽的一星级申请开始公示，至{end_text}",
        f"公示期至{end_text}，期满后方可认定",
    ]
    body = response.content.decode()
    assert "公示名单" in body and "孙丽" in body
    response = client.post(f"/volunteers/stars/{application.pk}/reject/", {"reason": "材料不全"})
    application.refresh_from_db()
    assert application.status == StarStatus.REJECTED

    # Worker B: the board shows nothing of community A; A's application is missing.
    other = Client()
    other.force_login(city.worker_b)
    assert "孙丽" not in other.get("/volunteers/stars/").content.decode()
    assert other.post(f"/volunteers/stars/{application.pk}/withdraw/").status_code == 404
    # A volunteer without a worker role may not open the board.
    user, _own = own_login(volunteer)
    mine = Client()
    mine.force_login(user)
    assert mine.get("/volunteers/stars/").status_code == 403
    assert mine.get(f"/volunteers/{volunteer.pk}/stars/").status_code == 200


@pytest.mark.django_db
def test_star_board_query_count_does_not_grow(city, worker):
    actor, scope = worker
    client = Client()
    client.force_login(actor)

    def add(n, start):
        for i in range(n):
            v = make_volunteer(city.grid_a, name=f"志愿者{start + i}", hours=150)
            if i % 2:
                stars.star_apply(actor=actor, scope=scope, volunteer=v, level=1)
                app = StarApplication.objects.get(volunteer=v)
                stars.star_start_publicity(actor=actor, scope=scope, application=app)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/volunteers/stars/").status_code == 200
        return len(ctx.captured_queries)

    add(2, 0)
    few = count()
    add(8, 10)
    assert count() == few
