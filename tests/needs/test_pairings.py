"""结对帮扶: the services (pairs, visits, ending, quiet reminders and their periodic job) and
the pages (the worker's list and form, a pair's page, the helper's own pairs)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from huzhu.common.models import AuditEntry, Notification
from huzhu.needs.models import Pairing, PairingStatus, Visit
from huzhu.needs.pairing_services import (
    PairingInput,
    VisitInput,
    pairing_create,
    pairing_end,
    quiet_pairings_remind,
    visit_log,
)
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, ResidenceStatus, Tag
from huzhu.volunteers.models import PoliticalStatus, Volunteer
from tests.activities.clients import client_for
from tests.activities.factories import SYSTEM, make_login_volunteer
from tests.factories import City, UserFactory, grant, make_id_number, make_person

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = dt.timedelta(days=1)
ADDRESS = "甲社区 3 号楼 2 单元 501"


def days_ago(n: int) -> dt.date:
    return TODAY - n * DAY


def make_elder(org, name: str = "王奶奶", address: str = ADDRESS, tags=("独居老人",)) -> Person:
    return make_person(
        org,
        name,
        id_number=make_id_number(birth=dt.date(1940, 3, 8)),
        address=address,
        tags=Tag.objects.filter(name__in=tags),
    )


def pair(
    city: City,
    helper: Person,
    resident: Person,
    *,
    started: int = 10,
    every: int = 30,
    party: bool = False,
    purpose: str = "每周探望，代购生活用品",
) -> Pairing:
    return pairing_create(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        data=PairingInput(
            helper=helper,
            resident=resident,
            purpose=purpose,
            started_on=days_ago(started),
            visit_every_days=every,
            helper_is_party_member=party,
        ),
    )


def visit(pairing: Pairing, day: dt.date, actor=None, **overrides) -> Visit:
    data = {"visited_on": day, "done": "陪聊，打扫卫生", **overrides}
    return visit_log(actor=actor, scope=SYSTEM, pairing=pairing, data=VisitInput(**data))


def refusal(exc_info) -> dict[str, list[str]] | list[str]:
    exc = exc_info.value
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages


@pytest.fixture
def city() -> City:
    return City()


@pytest.fixture
def helper(city) -> Volunteer:
    return make_login_volunteer(city.grid_a, "李帮扶", "helper")


@pytest.fixture
def elder(city) -> Person:
    return make_elder(city.grid_a)


@pytest.fixture
def pairing(city, helper, elder) -> Pairing:
    return pair(city, helper.person, elder)


def notes(kind: str) -> list[tuple[str, str, str]]:
    return list(
        Notification.objects.filter(kind=kind)
        .order_by("user__username", "pk")
        .values_list("user__username", "title", "dedupe_key")
    )


# --- creating -----------------------------------------------------------------------------


def test_a_worker_pairs_a_helper_with_a_resident(city, helper, elder):
    pairing = pair(city, helper.person, elder, started=3, every=14)
    assert (pairing.org, pairing.helper, pairing.resident) == (city.grid_a, helper.person, elder)
    assert (pairing.status, pairing.started_on, pairing.visit_every_days) == (
        PairingStatus.ACTIVE,
        days_ago(3),
        14,
    )
    assert (pairing.last_visit_on, pairing.helper_is_party_member) == (None, False)
    assert pairing.created_by == city.worker_a
    assert AuditEntry.objects.filter(verb="pairing.create").count() == 1
    assert notes("pairing.create") == [("helper", "您已与 王** 结对帮扶", "")]


def test_the_default_visit_cycle_comes_from_the_settings(city, helper, elder, settings):
    settings.HUZHU_PAIRING_VISIT_DAYS = 21
    data = PairingInput(helper=helper.person, resident=elder, purpose="探望", started_on=TODAY)
    assert data.visit_every_days == 21


def test_a_second_active_pair_of_the_same_two_is_refused(city, helper, elder, pairing):
    with pytest.raises(ValidationError) as exc:
        pair(city, helper.person, elder)
    assert refusal(exc) == {"resident": ["这两人已在结对中，不能重复结对。"]}
    pairing_end(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), pairing=pairing, reason="搬家"
    )
    again = pair(city, helper.person, elder)
    assert Pairing.objects.filter(status=PairingStatus.ACTIVE).get() == again


def test_nobody_is_paired_with_themself(city, elder):
    with pytest.raises(ValidationError) as exc:
        pair(city, elder, elder)
    assert refusal(exc) == {"helper": ["帮扶人和帮扶对象不能是同一人。"]}
    assert not Pairing.objects.exists()


def test_bad_input_is_refused_field_by_field(city, helper, elder):
    with pytest.raises(ValidationError) as exc:
        pairing_create(
            actor=city.worker_a,
            scope=Scope.for_user(city.worker_a),
            data=PairingInput(
                helper=helper.person,
                resident=elder,
                purpose="  ",
                started_on=TODAY + DAY,
                visit_every_days=0,
            ),
        )
    assert refusal(exc) == {
        "purpose": ["请填写帮扶内容。"],
        "visit_every_days": ["走访周期应在 1 到 366 天之间。"],
        "started_on": ["结对日期不能晚于今天。"],
    }
    with pytest.raises(ValidationError) as exc:
        pair(city, helper.person, elder, purpose="探" * 201)
    assert refusal(exc) == {"purpose": ["帮扶内容不能超过 200 个字。"]}
    assert not Pairing.objects.exists()


def test_only_residents_in_residence_are_paired(city, helper):
    gone = make_person(city.grid_a, "赵已故", status=ResidenceStatus.DECEASED)
    with pytest.raises(ValidationError) as exc:
        pair(city, helper.person, gone)
    assert refusal(exc) == {"resident": ["帮扶对象的状态为“已故”，不能结对。"]}


def test_a_worker_pairs_only_within_their_communities(city, helper, elder):
    with pytest.raises(PermissionDenied):
        pairing_create(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            data=PairingInput(
                helper=helper.person, resident=elder, purpose="探望", started_on=TODAY
            ),
        )
    stranger = make_login_volunteer(city.grid_b, "孙乙社区", "stranger")
    with pytest.raises(ValidationError) as exc:
        pair(city, stranger.person, elder)
    assert refusal(exc) == {"helper": ["请从查找结果中选择帮扶人。"]}
    assert not Pairing.objects.exists()


def test_party_member_pairs_follow_the_volunteer_register(city, elder, helper):
    with pytest.raises(ValidationError) as exc:
        pair(city, helper.person, elder, party=True)
    assert refusal(exc) == {
        "helper_is_party_member": [
            "帮扶人登记的政治面貌不是中共党员（含预备党员），不能登记为党员结对。"
        ]
    }
    member = make_login_volunteer(city.grid_a, "党员甲", "member")
    Volunteer.objects.filter(pk=member.pk).update(political_status=PoliticalStatus.CPC_MEMBER)
    assert pair(city, member.person, elder).helper_is_party_member is True
    probationary = make_login_volunteer(city.grid_a, "党员乙", "probationary")
    Volunteer.objects.filter(pk=probationary.pk).update(
        political_status=PoliticalStatus.CPC_PROBATIONARY
    )
    assert pair(city, probationary.person, elder, party=True).helper_is_party_member is True
    unregistered = make_person(city.grid_a, "周党员")  # a party member who is not a volunteer
    assert pair(city, unregistered, elder, party=True).helper_is_party_member is True
    assert pair(city, make_person(city.grid_a, "吴群众"), elder).helper_is_party_member is False


# --- visits and ending ----------------------------------------------------------------------


def test_a_visit_moves_the_last_visit_forward_only(city, helper, pairing):
    first = visit(pairing, days_ago(2), actor=helper.person.user, minutes=45, concerns="想理发")
    pairing.refresh_from_db()
    assert pairing.last_visit_on == days_ago(2)
    assert (first.minutes, first.done, first.concerns, first.recorded_by) == (
        45,
        "陪聊，打扫卫生",
        "想理发",
        helper.person.user,
    )
    visit(pairing, days_ago(5))
    pairing.refresh_from_db()
    assert pairing.last_visit_on == days_ago(2)
    assert pairing.visits.count() == 2
    assert AuditEntry.objects.filter(verb="pairing.visit").count() == 2


def test_a_visit_is_dated_between_the_start_and_today(city, pairing):
    with pytest.raises(ValidationError) as exc:
        visit(pairing, days_ago(11))
    assert refusal(exc) == {
        "visited_on": [f"走访日期不能早于结对日期（{days_ago(10):%Y-%m-%d}）。"]
    }
    with pytest.raises(ValidationError) as exc:
        visit(pairing, TODAY + DAY, done="", minutes=0)
    assert refusal(exc) == {
        "visited_on": ["走访日期不能晚于今天。"],
        "done": ["请填写帮扶事项。"],
        "minutes": ["时长应在 1 分钟到 24 小时之间。"],
    }
    assert not Visit.objects.exists()


def test_the_helper_logs_their_own_visits_and_nobody_else_without_the_right(city, pairing):
    other = make_login_volunteer(city.grid_a, "钱路人", "other")
    with pytest.raises(PermissionDenied):
        visit_log(
            actor=other.person.user,
            scope=Scope.for_user(other.person.user),
            pairing=pairing,
            data=VisitInput(visited_on=TODAY, done="探望"),
        )
    helper_user = pairing.helper.user
    visit_log(
        actor=helper_user,
        scope=Scope.for_user(helper_user),
        pairing=pairing,
        data=VisitInput(visited_on=TODAY, done="探望"),
    )
    assert pairing.visits.count() == 1


def test_an_ended_pair_takes_no_visits_and_ends_once(city, pairing):
    scope = Scope.for_user(city.worker_a)
    with pytest.raises(ValidationError) as exc:
        pairing_end(actor=city.worker_a, scope=scope, pairing=pairing, reason=" ")
    assert refusal(exc) == {"reason": ["请说明结束原因。"]}
    ended = pairing_end(actor=city.worker_a, scope=scope, pairing=pairing, reason="帮扶对象搬家")
    assert (ended.status, ended.ended_on, ended.end_reason) == (
        PairingStatus.ENDED,
        TODAY,
        "帮扶对象搬家",
    )
    assert notes("pairing.end") == [("helper", "您与 王** 的结对帮扶已结束", "")]
    with pytest.raises(ValidationError) as exc:
        visit(ended, TODAY)
    assert refusal(exc) == ["该结对已结束，不能再记录走访。"]
    with pytest.raises(ValidationError) as exc:
        pairing_end(actor=city.worker_a, scope=scope, pairing=ended, reason="再次")
    assert refusal(exc) == ["该结对已结束。"]
    with pytest.raises(PermissionDenied):
        pairing_end(
            actor=city.worker_b, scope=Scope.for_user(city.worker_b), pairing=ended, reason="x"
        )
    assert not Visit.objects.exists()


# --- quiet reminders ----------------------------------------------------------------------


def test_quiet_pairs_are_reminded_once_per_quiet_spell(city, helper, elder):
    quiet = pair(city, helper.person, elder, started=40, every=30)
    on_the_edge = pair(city, helper.person, make_elder(city.grid_a, "陈爷爷"), started=30)
    visited = pair(city, helper.person, make_elder(city.grid_a, "刘奶奶"), started=60)
    visit(visited, days_ago(5))
    ended = pair(city, helper.person, make_elder(city.grid_a, "杨爷爷"), started=90)
    pairing_end(actor=None, scope=SYSTEM, pairing=ended, reason="搬家")

    assert quiet_pairings_remind(today=TODAY) == 1
    key = f"pairing.quiet:{quiet.pk}:{days_ago(40).isoformat()}"
    title = "结对帮扶已 40 天未走访：王**"
    assert notes("pairing.quiet") == [("helper", title, key), ("worker-a", title, key)]
    quiet.refresh_from_db()
    on_the_edge.refresh_from_db()
    assert (quiet.reminded_on, on_the_edge.reminded_on) == (TODAY, None)

    assert quiet_pairings_remind(today=TODAY) == 0  # idempotent
    assert Notification.objects.filter(kind="pairing.quiet").count() == 2

    # The next day the pair on the edge goes quiet too; the first one is not told again.
    assert quiet_pairings_remind(today=TODAY + DAY) == 1
    assert Notification.objects.filter(kind="pairing.quiet").count() == 4

    # A visit ends the quiet spell; once the cycle runs out again, they are told again.
    visit(quiet, TODAY)
    assert quiet_pairings_remind(today=TODAY + 25 * DAY) == 0
    assert quiet_pairings_remind(today=TODAY + 26 * DAY) == 1  # visited 5 days ago: 31 days
    assert quiet_pairings_remind(today=TODAY + 30 * DAY) == 0
    assert quiet_pairings_remind(today=TODAY + 31 * DAY) == 1
    assert quiet_pairings_remind(today=TODAY + 31 * DAY) == 0
    key = f"pairing.quiet:{quiet.pk}:{TODAY.isoformat()}"
    title = "结对帮扶已 31 天未走访：王**"
    again = [n for n in notes("pairing.quiet") if n[2] == key]
    assert again == [("helper", title, key), ("worker-a", title, key)]
    assert Notification.objects.filter(kind="pairing.quiet").count() == 8


def test_a_visit_dated_before_the_reminder_starts_a_new_spell(city, helper, elder):
    quiet = pair(city, helper.person, elder, started=40, every=30)
    assert quiet_pairings_remind(today=TODAY) == 1
    visit(quiet, days_ago(20))  # logged late: the visit happened before the reminder
    assert quiet_pairings_remind(today=TODAY) == 0  # 20 days: not quiet now
    assert quiet_pairings_remind(today=TODAY + 10 * DAY) == 0  # 30 days: on the edge
    assert quiet_pairings_remind(today=TODAY + 11 * DAY) == 1
    assert Notification.objects.filter(user__username="helper", kind="pairing.quiet").count() == 2


def test_reminders_reach_the_community_and_party_workers_of_a_party_pair(city, elder):
    party_worker = UserFactory(username="party-a")
    grant(party_worker, city.community_a, Role.PARTY_WORKER)
    grid_worker = UserFactory(username="grid-a")
    grant(grid_worker, city.grid_a, Role.WORKER)
    member = make_login_volunteer(city.grid_a, "党员甲", "member")
    Volunteer.objects.filter(pk=member.pk).update(political_status=PoliticalStatus.CPC_MEMBER)
    pair(city, member.person, elder, started=40)
    plain = make_person(city.grid_a, "吴群众")  # no login: only the workers hear of it
    pair(city, plain, make_elder(city.grid_a, "陈爷爷"), started=40)

    assert quiet_pairings_remind(today=TODAY) == 2
    rows = sorted(set(Notification.objects.values_list("user__username", "title")))
    assert rows == sorted(
        [
            ("grid-a", "结对帮扶已 40 天未走访：王**"),
            ("grid-a", "结对帮扶已 40 天未走访：陈**"),
            ("member", "结对帮扶已 40 天未走访：王**"),
            ("member", "您已与 王** 结对帮扶"),
            ("party-a", "结对帮扶已 40 天未走访：王**"),
            ("worker-a", "结对帮扶已 40 天未走访：王**"),
            ("worker-a", "结对帮扶已 40 天未走访：陈**"),
        ]
    )


def test_runperiodic_runs_the_reminders_idempotently(city, helper, elder):
    pair(city, helper.person, elder, started=40)
    out = StringIO()
    call_command("runperiodic", only=["needs.quiet_pairings"], date=TODAY.isoformat(), stdout=out)
    call_command("runperiodic", only=["needs.quiet_pairings"], date=TODAY.isoformat(), stdout=out)
    assert out.getvalue().splitlines() == [
        "needs.quiet_pairings: 结对走访提醒：1 对",
        "needs.quiet_pairings: 结对走访提醒：0 对",
    ]
    assert Notification.objects.filter(kind="pairing.quiet").count() == 2


# --- the pages: access ----------------------------------------------------------------------


@pytest.fixture
def worker_a(city) -> Client:
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    return client_for(city.worker_b)


@pytest.fixture
def helper_client(helper) -> Client:
    return client_for(helper.person.user)


def _login_redirect(response, url: str) -> None:
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_the_pages_of_a_pair_for_each_actor(city, pairing, worker_a, worker_b, helper_client):
    detail = reverse("needs:pairing_detail", args=[pairing.pk])
    visit_url = reverse("needs:pairing_visit", args=[pairing.pk])
    end_url = reverse("needs:pairing_end", args=[pairing.pk])
    assert worker_a.get(detail).status_code == 200
    assert helper_client.get(detail).status_code == 200
    assert worker_b.get(detail).status_code == 404
    other = client_for(make_login_volunteer(city.grid_a, "钱路人", "other").person.user)
    assert other.get(detail).status_code == 404
    for url in (visit_url, end_url):
        assert worker_b.post(
            url, {"visited_on": TODAY, "done": "x", "reason": "x"}
        ).status_code == (404)
        assert other.post(url, {"visited_on": TODAY, "done": "x", "reason": "x"}).status_code == 404
    for url in (detail, reverse("needs:my_pairings"), reverse("needs:manage_pairings")):
        _login_redirect(Client().get(url), url)
    _login_redirect(Client().post(visit_url), visit_url)
    pairing.refresh_from_db()
    assert (pairing.status, pairing.visits.count()) == (PairingStatus.ACTIVE, 0)


def test_the_worker_list_shows_the_pairs_of_their_communities(
    city, helper, elder, worker_a, worker_b, helper_client
):
    quiet = pair(city, helper.person, elder, started=45)
    member = make_login_volunteer(city.grid_a, "党员甲", "member")
    Volunteer.objects.filter(pk=member.pk).update(political_status=PoliticalStatus.CPC_MEMBER)
    recent = pair(city, member.person, make_elder(city.grid_a, "陈爷爷", tags=("孤寡老人",)))
    visit(recent, days_ago(3))
    url = reverse("needs:manage_pairings")

    response = worker_a.get(url)
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(r.pairing.pk, r.days, r.quiet) for r in rows] == [
        (recent.pk, 3, False),
        (quiet.pk, 45, True),
    ]
    assert [[t.name for t in r.tags] for r in rows] == [["孤寡老人"], ["独居老人"]]
    body = response.content.decode()
    assert "李帮扶" in body and "王奶奶" in body and "独居老人" in body
    assert body.count('data-testid="party-badge"') == 1
    assert body.count('data-testid="quiet-days"') == 2
    assert '<span class="text-danger fw-bold" data-testid="quiet-days"' in body
    assert 'data-testid="new-pairing"' in body

    quiet_only = worker_a.get(url, {"quiet": "1"})
    assert [r.pairing.pk for r in quiet_only.context["rows"]] == [quiet.pk]
    partial = worker_a.get(
        url, {"quiet": "1"}, headers={"HX-Request": "true", "HX-Target": "pairing-results"}
    )
    assert partial.content.decode().lstrip().startswith('<p class="text-body-secondary small')
    assert "共 1 对" in partial.content.decode()
    pairing_end(actor=None, scope=SYSTEM, pairing=recent, reason="搬家")
    assert [r.pairing.pk for r in worker_a.get(url, {"status": "ended"}).context["rows"]] == [
        recent.pk
    ]
    assert len(worker_a.get(url, {"status": "all"}).context["rows"]) == 2

    other = worker_b.get(url)
    assert other.status_code == 200
    assert other.context["rows"] == []
    assert "王奶奶" not in other.content.decode()
    assert helper_client.get(url).status_code == 403


def test_a_supervisor_sees_the_list_without_the_new_button(city, pairing):
    supervisor = UserFactory(username="supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)
    client = client_for(supervisor)
    response = client.get(reverse("needs:manage_pairings"))
    assert [r.pairing.pk for r in response.context["rows"]] == [pairing.pk]
    assert 'data-testid="new-pairing"' not in response.content.decode()
    assert client.get(reverse("needs:pairing_new")).status_code == 403


# --- the pages: setting up a pair -----------------------------------------------------------


def test_a_worker_finds_picks_and_pairs(city, helper, elder, worker_a):
    url = reverse("needs:pairing_new")
    make_elder(city.grid_b, "王乙社区")
    page = worker_a.get(url, {"helper_q": "李帮", "resident_q": "王"})
    assert page.status_code == 200
    assert [p.name for p in page.context["helpers"]] == ["李帮扶"]
    assert [(p.name, [t.name for t in tags]) for p, tags in page.context["residents"]] == [
        ("王奶奶", ["独居老人"])
    ]
    assert page.context["form"]["visit_every_days"].value() == 30

    response = worker_a.post(
        url,
        {
            "helper": helper.person.pk,
            "resident": elder.pk,
            "purpose": "每周探望",
            "visit_every_days": "14",
            "started_on": TODAY.isoformat(),
        },
    )
    pairing = Pairing.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("needs:pairing_detail", args=[pairing.pk])
    assert (pairing.helper, pairing.resident, pairing.visit_every_days) == (
        helper.person,
        elder,
        14,
    )


def test_the_pairing_form_shows_refusals_next_to_the_fields(city, helper, elder, worker_a):
    url = reverse("needs:pairing_new")
    response = worker_a.post(
        url,
        {
            "helper": helper.person.pk,
            "resident": elder.pk,
            "purpose": "",
            "visit_every_days": "400",
            "started_on": TODAY.isoformat(),
            "helper_is_party_member": "on",
            "helper_q": "李",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "purpose": ["请填写帮扶内容。"],
        "visit_every_days": ["走访周期应在 1 到 366 天之间。"],
        "helper_is_party_member": [
            "帮扶人登记的政治面貌不是中共党员（含预备党员），不能登记为党员结对。"
        ],
    }
    assert [p.pk for p in response.context["helpers"]] == [helper.person.pk]
    assert [p.pk for p, _ in response.context["residents"]] == [elder.pk]  # the one picked
    assert not Pairing.objects.exists()
    empty = worker_a.post(url, {"visit_every_days": "30", "started_on": TODAY.isoformat()})
    assert empty.status_code == 400
    assert empty.context["form"].errors == {
        "helper": ["请先查找并选择帮扶人。"],
        "resident": ["请先查找并选择帮扶对象。"],
    }


def test_another_community_cannot_pair_people_it_cannot_see(city, helper, elder, worker_b):
    url = reverse("needs:pairing_new")
    assert worker_b.get(url, {"helper_q": "李帮", "resident_q": "王"}).context["helpers"] == []
    response = worker_b.post(
        url,
        {
            "helper": helper.person.pk,
            "resident": elder.pk,
            "purpose": "探望",
            "visit_every_days": "30",
            "started_on": TODAY.isoformat(),
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "helper": ["请从查找结果中选择帮扶人。"],
        "resident": ["请从查找结果中选择帮扶对象。"],
    }
    assert "李帮扶" not in response.content.decode()
    assert not Pairing.objects.exists()


# --- the pages: a pair and its visits -------------------------------------------------------


def test_the_helper_sees_name_and_address_but_never_the_phone(pairing, elder, helper_client):
    response = helper_client.get(reverse("needs:pairing_detail", args=[pairing.pk]))
    body = response.content.decode()
    assert "王奶奶" in body and ADDRESS in body
    assert elder.phone not in body and elder.phone_masked not in body
    assert response.context["can_log"] is True
    assert response.context["can_end"] is False
    assert 'data-testid="end-form"' not in body


def test_the_helper_logs_a_visit_from_the_page(pairing, helper_client):
    url = reverse("needs:pairing_visit", args=[pairing.pk])
    response = helper_client.post(
        url, {"visited_on": days_ago(1).isoformat(), "done": "陪聊", "minutes": "40"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("needs:pairing_detail", args=[pairing.pk])
    pairing.refresh_from_db()
    assert pairing.last_visit_on == days_ago(1)
    assert list(pairing.visits.values_list("done", "minutes")) == [("陪聊", 40)]

    bad = helper_client.post(url, {"visited_on": (TODAY + DAY).isoformat(), "done": ""})
    assert bad.status_code == 400
    assert bad.context["visit_form"].errors == {
        "visited_on": ["走访日期不能晚于今天。"],
        "done": ["请填写帮扶事项。"],
    }
    assert pairing.visits.count() == 1


def test_a_concern_turns_into_a_need_for_the_worker(pairing, helper, worker_a, helper_client):
    visit(pairing, TODAY, concerns="想找人理发 & 修水管")
    url = reverse("needs:pairing_detail", args=[pairing.pk])
    link = (
        f'href="{reverse("needs:manage_new")}?requester={pairing.resident_id}'
        "&amp;description=%E6%83%B3%E6%89%BE%E4%BA%BA%E7%90%86%E5%8F%91%20%26%20"
        '%E4%BF%AE%E6%B0%B4%E7%AE%A1"'
    )
    assert link in worker_a.get(url).content.decode()
    helper_page = helper_client.get(url).content.decode()
    assert "想找人理发 &amp; 修水管" in helper_page
    assert 'data-testid="to-need"' not in helper_page


def test_a_worker_ends_a_pair_and_the_helper_cannot(pairing, worker_a, helper_client):
    url = reverse("needs:pairing_end", args=[pairing.pk])
    detail = reverse("needs:pairing_detail", args=[pairing.pk])
    refused = helper_client.post(url, {"reason": "不想帮了"}, follow=True)
    assert [str(m) for m in refused.context["messages"]] == ["没有在该社区管理结对帮扶的权限。"]
    empty = worker_a.post(url, {"reason": ""}, follow=True)
    assert [str(m) for m in empty.context["messages"]] == ["请说明结束原因。"]
    pairing.refresh_from_db()
    assert pairing.status == PairingStatus.ACTIVE

    response = worker_a.post(url, {"reason": "帮扶对象搬离本社区"})
    assert (response.status_code, response["Location"]) == (302, detail)
    pairing.refresh_from_db()
    assert (pairing.status, pairing.end_reason) == (PairingStatus.ENDED, "帮扶对象搬离本社区")

    late = helper_client.post(
        reverse("needs:pairing_visit", args=[pairing.pk]),
        {"visited_on": TODAY.isoformat(), "done": "探望"},
    )
    assert late.status_code == 400
    assert late.context["visit_form"].non_field_errors() == ["该结对已结束，不能再记录走访。"]
    assert "该结对已结束，不能再记录走访。" in late.content.decode()
    assert pairing.visits.count() == 0


# --- the pages: 我的结对 --------------------------------------------------------------------


def test_my_pairings_lists_the_helpers_pairs_longest_unvisited_first(
    city, helper, elder, helper_client
):
    recent = pair(city, helper.person, make_elder(city.grid_a, "陈爷爷", address="甲社区 5 号楼"))
    visit(recent, days_ago(2))
    quiet = pair(city, helper.person, elder, started=35)
    ended = pair(city, helper.person, make_elder(city.grid_a, "刘奶奶"), started=50)
    pairing_end(actor=None, scope=SYSTEM, pairing=ended, reason="搬家")
    pair(city, make_person(city.grid_a, "别人"), make_elder(city.grid_a, "杨爷爷"))

    response = helper_client.get(reverse("needs:my_pairings"))
    assert response.status_code == 200
    assert [(r.pairing.pk, r.days, r.quiet) for r in response.context["active"]] == [
        (quiet.pk, 35, True),
        (recent.pk, 2, False),
    ]
    assert response.context["ended"] == [ended]
    body = response.content.decode()
    assert "王奶奶" in body and ADDRESS in body and "甲社区 5 号楼" in body
    assert "杨爷爷" not in body
    assert elder.phone not in body and elder.phone_masked not in body
    assert body.count('data-testid="log-visit"') == 2
    assert "已 35 天未走访" in body


def test_my_pairings_for_a_login_without_a_person(city):
    response = client_for(get_user_model().objects.create_user("nobody")).get(
        reverse("needs:my_pairings")
    )
    assert response.status_code == 200
    assert response.context["active"] == []
    assert "您的账号还没有关联居民信息" in response.content.decode()


# --- query counts ---------------------------------------------------------------------------


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_manage_pairings_query_count_does_not_grow_with_pairs(city, helper, elder, worker_a):
    url = reverse("needs:manage_pairings")
    pair(city, helper.person, elder, started=40)
    worker_a.get(url)
    few = count_queries(worker_a, url)
    for n in range(5):
        someone = make_login_volunteer(city.grid_a, f"志愿者{n}", f"volunteer-{n}")
        if n % 2:
            Volunteer.objects.filter(pk=someone.pk).update(
                political_status=PoliticalStatus.CPC_MEMBER
            )
        pairing = pair(city, someone.person, make_elder(city.grid_a, f"老人{n}"), party=n % 2 == 1)
        visit(pairing, days_ago(n))
    many = count_queries(worker_a, url)
    assert len(worker_a.get(url).context["rows"]) == 6
    assert count_queries(worker_a, url + "?quiet=1") == many + 1  # the quiet pairs' ids
    assert many == few


def test_my_pairings_query_count_does_not_grow_with_pairs(city, helper, elder, helper_client):
    url = reverse("needs:my_pairings")
    first = pair(city, helper.person, elder)
    pairing_end(actor=None, scope=SYSTEM, pairing=first, reason="搬家")
    pair(city, helper.person, elder)
    helper_client.get(url)
    few = count_queries(helper_client, url)
    for n in range(4):
        resident = make_elder(city.grid_a, f"老人{n}")
        visit(pair(city, helper.person, resident), days_ago(n))
        ended = pair(city, helper.person, make_elder(city.grid_a, f"搬走{n}"))
        pairing_end(actor=None, scope=SYSTEM, pairing=ended, reason="搬家")
    many = count_queries(helper_client, url)
    response = helper_client.get(url)
    assert (len(response.context["active"]), len(response.context["ended"])) == (5, 5)
    assert many == few
