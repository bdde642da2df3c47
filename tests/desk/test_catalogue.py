"""The matter catalogue (事项清单) and the grids' patrol teams (巡查队) from the worker's desk:
the pages and the services behind them. Shared defaults are edited by superusers only; an
org's types by those who run its desk; every write is audited; a refusal changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.common.models import AuditEntry
from huzhu.desk.catalogue_services import (
    MatterInput,
    matter_type_create,
    matter_type_update,
    patrol_team_set,
)
from huzhu.desk.models import MatterKind, MatterType, PatrolTeam
from huzhu.desk.services import default_team
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.activities.clients import client_for
from tests.desk.factories import access, matter, report, team_leader
from tests.factories import UserFactory, grant, make_org

pytestmark = pytest.mark.django_db

MATTERS = reverse("desk:matters")
NEW = reverse("desk:matter_new")
PATROLS = reverse("desk:patrols")


@pytest.fixture
def worker_a(city) -> Client:
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    return client_for(city.worker_b)


@pytest.fixture
def root() -> Any:
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def scope_of(user: Any) -> Scope:
    return Scope.for_user(user)


def teams_of(community: Org, *names: str) -> list[Org]:
    corps = make_org(OrgKind.CORPS, f"{community.name}志愿者总队", community)
    return [make_org(OrgKind.TEAM, name, corps) for name in names]


def own_type(org: Org, code: str = "a-parking", **kwargs: Any) -> MatterType:
    values = {"name": "停车证办理", "kind": MatterKind.AFFAIR, "materials": "行驶证\n房产证"}
    return MatterType.objects.create(org=org, code=code, **{**values, **kwargs})


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "code": "a-parking",
        "name": "停车证办理",
        "kind": MatterKind.AFFAIR,
        "deadline_days": 5,
        "materials": "行驶证\n房产证",
        "sort_order": 0,
        "is_active": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def matter_ids(response) -> list[int]:
    return [int(n) for n in re.findall(r'data-matter-id="(\d+)"', response.content.decode())]


def count_queries(client: Client, target: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def edit_url(matter_type: MatterType) -> str:
    return reverse("desk:matter_edit", kwargs={"matter_id": matter_type.pk})


# --- the catalogue page --------------------------------------------------------------------


def test_catalogue_lists_shared_defaults_and_types_in_reach(city, worker_a, worker_b):
    own = own_type(city.community_a)
    street = own_type(city.street, code="street-permit", name="街道许可")
    other = own_type(city.community_b, code="b-only", name="乙社区专项")
    response = worker_a.get(MATTERS)
    assert response.status_code == 200
    shared = list(MatterType.objects.filter(org__isnull=True).values_list("pk", flat=True))
    assert [row["matter"].pk for row in response.context["own"]] == [street.pk, own.pk]
    assert sorted(row["matter"].pk for row in response.context["shared"]) == sorted(shared)
    assert other.pk not in matter_ids(response)
    editable = {row["matter"].pk for row in response.context["own"] if row["editable"]}
    assert editable == {own.pk}  # the street's type applies here, but is the street's
    page = response.content.decode()
    assert edit_url(own) in page and edit_url(street) not in page
    assert 'data-testid="new-matter"' in page
    assert not any(edit_url(MatterType.objects.get(pk=pk)) in page for pk in shared)
    b_page = worker_b.get(MATTERS)
    assert own.pk not in matter_ids(b_page) and other.pk in matter_ids(b_page)
    assert "甲社区" not in b_page.content.decode()


def test_catalogue_query_count_does_not_grow_with_types(city, worker_a):
    [team] = teams_of(city.community_a, "甲社区办事队")
    own_type(city.community_a, handling_team=team)
    few = count_queries(worker_a, MATTERS)
    for n in range(8):
        own_type(city.community_a, code=f"a-extra-{n}", name=f"事项{n}", handling_team=team)
    assert count_queries(worker_a, MATTERS) == few


def test_catalogue_needs_a_role(city):
    assert client_for(UserFactory(username="nobody")).get(MATTERS).status_code == 403


# --- adding and changing types ------------------------------------------------------------


def test_worker_adds_a_type_for_the_community(city, worker_a):
    [team] = teams_of(city.community_a, "甲社区办事队")
    data = form_data(org=city.community_a.pk, handling_team=team.pk, code="A-Parking ")
    response = worker_a.post(NEW, data, follow=True)
    assert response.redirect_chain == [(MATTERS, 302)]
    created = MatterType.objects.get(code="a-parking")
    assert (created.org, created.handling_team, created.deadline_days) == (
        city.community_a,
        team,
        5,
    )
    assert created.material_list == ["行驶证", "房产证"]
    entry = AuditEntry.objects.get(verb="desk.matter.create")
    assert (entry.actor, entry.org, entry.target_id) == (
        city.worker_a,
        city.community_a,
        str(created.pk),
    )
    assert [str(m) for m in response.context["messages"]] == ["已新增事项“停车证办理”。"]


def test_new_type_form_offers_only_orgs_in_reach(city, worker_a):
    response = worker_a.get(NEW)
    assert response.status_code == 200
    assert list(response.context["form"].fields["org"].queryset) == [city.community_a]
    assert response.context["form"].fields["org"].required is True


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"org": None}, "org", "这个字段是必填项。"),
        ({"code": "停车"}, "code", "事项编码须为 2–40 位小写字母、数字、短横线或下划线。"),
        ({"code": "civic-litter"}, "code", "事项编码“civic-litter”已被使用。"),
        ({"name": "<b>停车</b>"}, "name", "不能包含 HTML 标记或脚本，请只填写文字。"),
        ({"deadline_days": 61}, "deadline_days", "60"),
    ],
)
def test_new_type_refusals_store_nothing(city, worker_a, overrides, field, message):
    types, audits = MatterType.objects.count(), AuditEntry.objects.count()
    data = form_data(**{"org": city.community_a.pk, **overrides})
    response = worker_a.post(NEW, data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert (MatterType.objects.count(), AuditEntry.objects.count()) == (types, audits)


def test_new_type_for_another_community_is_refused(city, worker_a, worker_b):
    [team_b] = teams_of(city.community_b, "乙社区办事队")
    types = MatterType.objects.count()
    response = worker_a.post(NEW, form_data(org=city.community_b.pk))
    assert response.status_code == 400 and response.context["form"].errors["org"]
    response = worker_a.post(NEW, form_data(org=city.community_a.pk, handling_team=team_b.pk))
    assert response.status_code == 400 and response.context["form"].errors["handling_team"]
    assert MatterType.objects.count() == types


def test_new_type_page_needs_the_desk(city):
    leader = UserFactory(username="leader")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    client = client_for(leader)
    assert client.get(NEW).status_code == 403
    assert client.post(NEW, form_data(org=city.community_a.pk)).status_code == 403


def test_superuser_adds_a_shared_default(city, root):
    response = client_for(root).post(NEW, form_data(code="common-parking"))
    assert response.status_code == 302
    created = MatterType.objects.get(code="common-parking")
    assert created.org is None
    assert AuditEntry.objects.filter(verb="desk.matter.create", org__isnull=True).count() == 1


def test_worker_edits_an_own_type(city, worker_a):
    own = own_type(city.community_a)
    page = worker_a.get(edit_url(own))
    assert page.status_code == 200 and page.context["form"]["code"].value() == "a-parking"
    data = form_data(org=city.community_a.pk, deadline_days=7, is_public="on", materials="行驶证")
    response = worker_a.post(edit_url(own), data)
    assert response.status_code == 302 and response["Location"] == MATTERS
    own.refresh_from_db()
    assert (own.deadline_days, own.is_public, own.material_list) == (7, True, ["行驶证"])
    entry = AuditEntry.objects.get(verb="desk.matter.update")
    assert entry.data == {
        "code": "a-parking",
        "changed": ["deadline_days", "is_public", "materials"],
    }


def test_deactivating_a_type(city, worker_a):
    own = own_type(city.community_a)
    response = worker_a.post(edit_url(own), form_data(org=city.community_a.pk, is_active=None))
    assert response.status_code == 302
    own.refresh_from_db()
    assert own.is_active is False


def test_shared_defaults_are_for_superusers(city, worker_a, root):
    litter = matter("civic-litter")
    assert worker_a.get(edit_url(litter)).status_code == 403
    data = form_data(code="civic-litter", name="垃圾乱堆", kind=MatterKind.CIVIC, deadline_days=2)
    assert worker_a.post(edit_url(litter), data).status_code == 403
    litter.refresh_from_db()
    assert litter.deadline_days == 3
    response = client_for(root).post(edit_url(litter), data)
    assert response.status_code == 302
    litter.refresh_from_db()
    assert (litter.name, litter.deadline_days, litter.org) == ("垃圾乱堆", 2, None)


def test_types_of_another_community_are_missing(city, worker_b):
    own = own_type(city.community_a)
    assert worker_b.get(edit_url(own)).status_code == 404
    assert worker_b.post(edit_url(own), form_data(org=city.community_b.pk)).status_code == 404
    assert (
        worker_b.get(reverse("desk:matter_edit", kwargs={"matter_id": 999999})).status_code == 404
    )
    own.refresh_from_db()
    assert own.org == city.community_a


def test_a_street_type_is_edited_at_the_street(city, worker_a):
    street = own_type(city.street, code="street-permit", name="街道许可")
    assert worker_a.get(edit_url(street)).status_code == 403
    officer = UserFactory(username="street-worker")
    grant(officer, city.street, Role.WORKER)
    response = client_for(officer).post(
        edit_url(street), form_data(org=city.street.pk, code="street-permit", name="街道许可证")
    )
    assert response.status_code == 302
    street.refresh_from_db()
    assert street.name == "街道许可证"


# --- the services directly -------------------------------------------------------------------


def matter_input(org: Org | None, **overrides: Any) -> MatterInput:
    values: dict[str, Any] = {
        "org": org,
        "code": "a-parking",
        "name": "停车证办理",
        "kind": MatterKind.AFFAIR,
        "deadline_days": 5,
    }
    values.update(overrides)
    return MatterInput(**values)


def test_create_refuses_orgs_out_of_reach(city):
    scope = scope_of(city.worker_a)
    with pytest.raises(PermissionDenied, match="没有管理该组织事项清单的权限。"):
        matter_type_create(actor=city.worker_a, scope=scope, data=matter_input(city.community_b))
    with pytest.raises(PermissionDenied, match="全市通用事项只有系统管理员可以修改。"):
        matter_type_create(actor=city.worker_a, scope=scope, data=matter_input(None))
    assert not MatterType.objects.filter(code="a-parking").exists()


def test_create_checks_the_org_kind_and_the_team(city, root):
    scope = scope_of(root)
    [team_b] = teams_of(city.community_b, "乙社区办事队")
    with pytest.raises(ValidationError) as grid:
        matter_type_create(actor=root, scope=scope, data=matter_input(city.grid_a))
    assert grid.value.message_dict == {"org": ["事项只能属于市、区、街道或社区。"]}
    with pytest.raises(ValidationError) as foreign:
        data = matter_input(city.community_a, handling_team=team_b)
        matter_type_create(actor=root, scope=scope, data=data)
    assert foreign.value.message_dict == {"handling_team": ["承办队伍须属于该事项所属组织。"]}
    with pytest.raises(ValidationError) as shared:
        matter_type_create(actor=root, scope=scope, data=matter_input(None, handling_team=team_b))
    assert shared.value.message_dict == {"handling_team": ["全市通用事项不能指定承办队伍。"]}


def test_update_needs_the_right_over_both_orgs(city):
    own = own_type(city.community_a)
    scope = scope_of(city.worker_a)
    with pytest.raises(PermissionDenied):
        matter_type_update(
            actor=city.worker_a, scope=scope, matter=own, data=matter_input(city.community_b)
        )
    own.refresh_from_db()
    assert (
        own.org == city.community_a
        and not AuditEntry.objects.filter(verb="desk.matter.update").exists()
    )


def test_a_street_type_reaches_the_communities_below(city):
    street = own_type(city.street, code="street-permit", name="街道许可")
    ticket = report(city.worker_a, city.grid_a, code="street-permit", channel="walk_in")
    assert ticket.matter_type == street


# --- patrol teams -----------------------------------------------------------------------------


def test_patrols_page_lists_the_grids_with_their_teams(city, worker_a):
    patrol, office = teams_of(city.community_a, "甲社区巡查队", "甲社区办事队")
    teams_of(city.community_b, "乙社区巡查队")
    PatrolTeam.objects.create(grid=city.grid_a, team=patrol)
    response = worker_a.get(PATROLS)
    assert response.status_code == 200
    [row] = response.context["rows"]
    assert (row.grid, row.team, row.teams) == (city.grid_a, patrol, [patrol, office])
    page = response.content.decode()
    assert f'<option value="{patrol.pk}" selected>甲社区巡查队</option>' in page
    assert "乙社区" not in page


def test_setting_changing_and_clearing_a_patrol_team(city, worker_a):
    patrol, office = teams_of(city.community_a, "甲社区巡查队", "甲社区办事队")
    response = worker_a.post(PATROLS, {"grid": city.grid_a.pk, "team": patrol.pk}, follow=True)
    assert response.redirect_chain == [(PATROLS, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "甲社区第一网格 的文明评议将派给 甲社区巡查队。"
    ]
    assert PatrolTeam.objects.get(grid=city.grid_a).team == patrol
    ticket = report(city.worker_a, city.grid_a, channel="phone")
    assert default_team(ticket) == patrol
    worker_a.post(PATROLS, {"grid": city.grid_a.pk, "team": office.pk})
    assert PatrolTeam.objects.get(grid=city.grid_a).team == office
    worker_a.post(PATROLS, {"grid": city.grid_a.pk, "team": ""})
    assert not PatrolTeam.objects.filter(grid=city.grid_a).exists()
    verbs = list(
        AuditEntry.objects.filter(verb__startswith="desk.patrol")
        .order_by("id")
        .values_list("verb", "data")
    )
    assert verbs == [
        ("desk.patrol.set", {"team": "甲社区巡查队"}),
        ("desk.patrol.set", {"team": "甲社区办事队"}),
        ("desk.patrol.clear", {"team": "甲社区办事队"}),
    ]


def test_patrol_refusals_change_nothing(city, worker_a, worker_b):
    [patrol] = teams_of(city.community_a, "甲社区巡查队")
    [team_b] = teams_of(city.community_b, "乙社区巡查队")
    audits = AuditEntry.objects.count()
    response = worker_a.post(PATROLS, {"grid": city.grid_a.pk, "team": team_b.pk})
    assert response.status_code == 400
    assert response.context["failed_grid"] == str(city.grid_a.pk)
    assert 'class="form-select is-invalid"' in response.content.decode()
    response = worker_b.post(PATROLS, {"grid": city.grid_a.pk, "team": patrol.pk})
    assert response.status_code == 400
    assert "甲社区" not in response.content.decode()
    assert not PatrolTeam.objects.exists() and AuditEntry.objects.count() == audits


def test_patrols_need_the_desk(city):
    [patrol] = teams_of(city.community_a, "甲社区巡查队")
    leader = team_leader(patrol, "patrol-a")
    client = client_for(leader)
    assert client.get(PATROLS).status_code == 403
    assert client.post(PATROLS, {"grid": city.grid_a.pk, "team": patrol.pk}).status_code == 403
    assert not PatrolTeam.objects.exists()


def test_patrol_service_refusals(city):
    [patrol] = teams_of(city.community_a, "甲社区巡查队")
    [team_b] = teams_of(city.community_b, "乙社区巡查队")
    scope_a = scope_of(city.worker_a)
    with pytest.raises(ValidationError) as foreign:
        patrol_team_set(actor=city.worker_a, scope=scope_a, grid=city.grid_a, team=team_b)
    assert foreign.value.message_dict == {"team": ["巡查队须是本社区的服务队。"]}
    with pytest.raises(ValidationError) as not_grid:
        patrol_team_set(actor=city.worker_a, scope=scope_a, grid=city.community_a, team=patrol)
    assert not_grid.value.message_dict == {"grid": ["请选择网格。"]}
    with pytest.raises(PermissionDenied, match="没有设置该网格巡查队的权限。"):
        patrol_team_set(
            actor=city.worker_b, scope=scope_of(city.worker_b), grid=city.grid_a, team=patrol
        )
    corps = Org.objects.get(kind=OrgKind.CORPS, parent=city.community_a)
    with pytest.raises(ValidationError):
        patrol_team_set(actor=city.worker_a, scope=scope_a, grid=city.grid_a, team=corps)
    assert not PatrolTeam.objects.exists()
    assert patrol_team_set(actor=city.worker_a, scope=scope_a, grid=city.grid_a, team=None) is None
    assert not AuditEntry.objects.filter(verb__startswith="desk.patrol").exists()


def test_patrols_query_count_does_not_grow_with_grids(city, worker_a):
    [patrol] = teams_of(city.community_a, "甲社区巡查队")
    PatrolTeam.objects.create(grid=city.grid_a, team=patrol)
    few = count_queries(worker_a, PATROLS)
    for n in range(5):
        grid = make_org(OrgKind.GRID, f"甲社区第{n + 2}网格", city.community_a)
        PatrolTeam.objects.create(grid=grid, team=patrol)
    assert len(worker_a.get(PATROLS).context["rows"]) == 6
    assert count_queries(worker_a, PATROLS) == few


def test_assigning_follows_the_patrol_set_on_the_page(city, worker_a):
    [patrol] = teams_of(city.community_a, "甲社区巡查队")
    worker_a.post(PATROLS, {"grid": city.grid_a.pk, "team": patrol.pk})
    ticket = report(city.worker_a, city.grid_a, channel="phone")
    from huzhu.desk.services import ticket_accept, ticket_assign

    ticket = ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket = ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    assert ticket.team == patrol
