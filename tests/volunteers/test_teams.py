"""Corps and teams: creation rules, membership, leader grants, the pages and their scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.orgs.models import OrgKind, RoleGrant
from huzhu.orgs.roles import Perm, Role
from huzhu.orgs.scope import Scope
from huzhu.people.services import person_link_user
from huzhu.volunteers import services
from huzhu.volunteers.models import ServiceCategory, TeamMembership, TeamRole
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.factories import UserFactory, make_id_number, make_org

pytestmark = pytest.mark.django_db

SYSTEM = Scope(user_id=0, is_superuser=True)


def scope_of(user) -> Scope:
    return Scope.for_user(user)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def register(org, name: str, login: str | None = None):
    """A registered volunteer of ``org``; with ``login``, linked to a new user account."""
    volunteer = volunteer_register(
        actor=None,
        scope=SYSTEM,
        org=org,
        data=RegistrationInput(name=name, id_number=make_id_number(dt.date(1980, 5, 5))),
    ).volunteer
    if login:
        person_link_user(
            actor=None, scope=SYSTEM, person=volunteer.person, user=UserFactory(username=login)
        )
        volunteer.person.refresh_from_db()
    return volunteer


def make_team(city, name: str = "甲社区助老服务队", community=None):
    community = community or city.community_a
    corps = services.corps_ensure(actor=None, scope=SYSTEM, community=community)
    return services.team_create(actor=None, scope=SYSTEM, corps=corps, name=name)


def add(team, volunteer, role=TeamRole.MEMBER, scope=SYSTEM, actor=None):
    return services.team_member_add(
        actor=actor, scope=scope, team=team, volunteer=volunteer, role=role
    )


# --- creation rules ---------------------------------------------------------------------


def test_team_only_under_corps(city):
    with pytest.raises(ValidationError) as caught:
        services.team_create(
            actor=city.worker_a, scope=scope_of(city.worker_a), corps=city.community_a, name="队"
        )
    assert caught.value.message_dict == {"parent": ["服务队只能设在志愿者总队下"]}
    with pytest.raises(ValidationError) as caught:
        services.corps_ensure(
            actor=city.worker_a, scope=scope_of(city.worker_a), community=city.grid_a
        )
    assert caught.value.message_dict == {"org": ["志愿者总队只能设在社区"]}


def test_worker_creates_corps_and_team_in_own_community_and_worker_b_cannot(city):
    scope_a = scope_of(city.worker_a)
    corps = services.corps_ensure(actor=city.worker_a, scope=scope_a, community=city.community_a)
    assert (corps.kind, corps.parent, corps.name) == (
        OrgKind.CORPS,
        city.community_a,
        "甲社区志愿者总队",
    )
    again = services.corps_ensure(actor=city.worker_a, scope=scope_a, community=city.community_a)
    assert again.pk == corps.pk
    category = ServiceCategory.objects.get(name="关爱特殊群体")
    team = services.team_create(
        actor=city.worker_a,
        scope=scope_a,
        corps=corps,
        name="甲社区助老服务队",
        category=category,
        description="  陪伴独居老人  ",
    )
    assert (team.kind, team.parent, team.path) == (
        OrgKind.TEAM,
        corps,
        f"{corps.path}{team.pk}/",
    )
    assert (team.team_profile.category, team.team_profile.description) == (category, "陪伴独居老人")

    scope_b = scope_of(city.worker_b)
    with pytest.raises(PermissionDenied):
        services.team_create(actor=city.worker_b, scope=scope_b, corps=corps, name="乙的队")
    with pytest.raises(PermissionDenied):
        services.corps_ensure(actor=city.worker_b, scope=scope_b, community=city.community_a)
    assert list(corps.children.values_list("name", flat=True)) == ["甲社区助老服务队"]


def test_corps_is_affiliated_to_the_district_branch(city):
    association = make_org(OrgKind.ASSOCIATION, "测试市社区志愿者协会", city.city)
    branch = make_org(OrgKind.BRANCH, "历下区社区志愿者分会", association)
    branch.affiliation = city.district
    branch.save(update_fields=["affiliation"])
    corps = services.corps_ensure(actor=None, scope=SYSTEM, community=city.community_a)
    assert corps.affiliation == branch
    corps.refresh_from_db()
    assert corps.affiliation == branch


# --- members and leaders ----------------------------------------------------------------


def test_leader_grant_is_given_and_taken_with_the_post(city):
    team = make_team(city)
    volunteer = register(city.grid_a, "王队长", login="wang")
    user = volunteer.person.user
    scope_a = scope_of(city.worker_a)
    membership = add(team, volunteer, scope=scope_a, actor=city.worker_a)
    assert not RoleGrant.objects.filter(user=user, org=team).exists()

    services.team_member_set_role(
        actor=city.worker_a, scope=scope_a, membership=membership, role=TeamRole.LEADER
    )
    grant = RoleGrant.objects.get(user=user, org=team)
    assert (grant.role, grant.granted_by) == (Role.TEAM_LEADER, city.worker_a)
    assert scope_of(user).can(Perm.TEAM_MANAGE, team)
    assert not scope_of(user).can(Perm.TEAM_MANAGE, team.parent)

    services.team_member_set_role(
        actor=city.worker_a, scope=scope_a, membership=membership, role=TeamRole.MEMBER
    )
    assert not RoleGrant.objects.filter(user=user, org=team).exists()

    services.team_member_set_role(
        actor=city.worker_a, scope=scope_a, membership=membership, role=TeamRole.DEPUTY
    )
    assert RoleGrant.objects.filter(user=user, org=team, role=Role.TEAM_LEADER).count() == 1
    services.team_member_remove(actor=city.worker_a, scope=scope_a, membership=membership)
    assert not RoleGrant.objects.filter(user=user, org=team).exists()
    membership.refresh_from_db()
    assert membership.left_on is not None
    with pytest.raises(ValidationError) as caught:
        services.team_member_set_role(
            actor=city.worker_a, scope=scope_a, membership=membership, role=TeamRole.LEADER
        )
    assert caught.value.message_dict == {"membership": ["该队员已退出服务队"]}
    with pytest.raises(ValidationError):
        services.team_member_remove(actor=city.worker_a, scope=scope_a, membership=membership)


def test_member_added_twice_and_unregistered_volunteer_are_refused(city):
    team = make_team(city)
    volunteer = register(city.grid_a, "李四")
    add(team, volunteer)
    with pytest.raises(ValidationError) as caught:
        add(team, volunteer)
    assert caught.value.message_dict == {"volunteer": ["李四 已是该服务队成员"]}


def test_team_leader_manages_members_but_cannot_appoint_leaders(city):
    team = make_team(city)
    leader = register(city.grid_a, "王队长", login="wang")
    deputy = register(city.grid_a, "赵副队")
    member = register(city.grid_a, "钱队员")
    newcomer = register(city.grid_a, "孙新人")
    add(team, leader, TeamRole.LEADER)
    deputy_membership = add(team, deputy, TeamRole.DEPUTY)
    member_membership = add(team, member)
    user = leader.person.user
    scope = scope_of(user)

    added = add(team, newcomer, scope=scope, actor=user)
    assert added.role == TeamRole.MEMBER
    with pytest.raises(PermissionDenied):
        services.team_member_set_role(
            actor=user, scope=scope, membership=member_membership, role=TeamRole.DEPUTY
        )
    with pytest.raises(PermissionDenied):
        services.team_member_remove(actor=user, scope=scope, membership=deputy_membership)
    services.team_member_remove(actor=user, scope=scope, membership=member_membership)
    newcomer_2 = register(city.grid_a, "周新人")
    with pytest.raises(PermissionDenied):
        add(team, newcomer_2, role=TeamRole.LEADER, scope=scope, actor=user)
    current = TeamMembership.objects.filter(team=team, left_on__isnull=True)
    assert sorted(current.values_list("volunteer__person__name", "role")) == [
        ("孙新人", "member"),
        ("王队长", "leader"),
        ("赵副队", "deputy"),
    ]

    # The pages say the same: the leader adds and removes members, appointing is refused.
    client = client_for(user)
    response = client.get(reverse("volunteers:team_detail", kwargs={"team_id": team.pk}))
    assert response.status_code == 200
    assert response.context["can_manage"] and not response.context["can_appoint"]
    response = client.post(
        reverse("volunteers:team_member_role", kwargs={"membership_id": added.pk}),
        {"role": "leader"},
    )
    assert response.status_code == 403
    response = client.post(
        reverse("volunteers:team_member_add", kwargs={"team_id": team.pk}),
        {"volunteer_id": newcomer_2.pk, "number": newcomer_2.number, "role": "member"},
    )
    assert response.status_code == 302
    assert TeamMembership.objects.filter(team=team, volunteer=newcomer_2).exists()


def test_team_leader_finds_new_members_only_by_exact_number(city):
    team = make_team(city)
    leader = register(city.grid_a, "王队长", login="wang")
    add(team, leader, TeamRole.LEADER)
    target = register(city.grid_a, "张三")
    register(city.grid_b, "张三丰")  # another community: never offered
    client = client_for(leader.person.user)
    url = reverse("volunteers:team_candidates", kwargs={"team_id": team.pk})
    by_name = client.get(url, {"q": "张三"}, headers={"HX-Request": "true"})
    assert by_name.status_code == 200
    assert by_name.context["candidates"] == []
    by_number = client.get(url, {"q": target.number.lower()}, headers={"HX-Request": "true"})
    assert by_number.context["candidates"] == [target]
    assert "张三丰" not in by_number.content.decode()

    worker = client_for(city.worker_a)
    by_pinyin = worker.get(url, {"q": "zs"}, headers={"HX-Request": "true"})
    assert [v.person.name for v in by_pinyin.context["candidates"]] == ["张三"]


# --- pages ------------------------------------------------------------------------------


def test_teams_page_shows_the_chain_with_counts_and_leaders(city):
    association = make_org(OrgKind.ASSOCIATION, "测试市社区志愿者协会", city.city)
    branch = make_org(OrgKind.BRANCH, "历下区社区志愿者分会", association)
    branch.affiliation = city.district
    branch.save(update_fields=["affiliation"])
    team = make_team(city)
    make_team(city, "乙社区环保服务队", community=city.community_b)
    add(team, register(city.grid_a, "王队长"), TeamRole.LEADER)
    add(team, register(city.grid_a, "李四"))
    left = add(team, register(city.grid_a, "赵五"))
    services.team_member_remove(actor=None, scope=SYSTEM, membership=left)

    response = client_for(city.worker_a).get(reverse("volunteers:teams"))
    assert response.status_code == 200
    rows = response.context["overview"].corps
    assert [(r.corps.name, [t.name for t in r.teams]) for r in rows] == [
        ("甲社区志愿者总队", ["甲社区助老服务队"])
    ]
    shown = rows[0].teams[0]
    assert shown.member_count == 2
    assert [m.volunteer.person.name for m in shown.leaders] == ["王队长"]
    assert rows[0].corps.affiliation == branch
    body = response.content.decode()
    assert "历下区社区志愿者分会" in body and "乙社区环保服务队" not in body

    city_admin = UserFactory(username="city-admin")
    RoleGrant.objects.create(user=city_admin, org=city.city, role=Role.ADMIN)
    response = client_for(city_admin).get(reverse("volunteers:teams"))
    assert [o.name for o in response.context["overview"].chain] == [
        "测试市社区志愿者协会",
        "历下区社区志愿者分会",
    ]
    assert response.context["overview"].chain[1].corps_count == 2
    assert response.context["overview"].total_corps == 2


def test_worker_sets_up_corps_and_team_through_the_pages(city):
    client = client_for(city.worker_a)
    page = client.get(reverse("volunteers:teams"))
    assert list(page.context["corps_form"].fields["community"].queryset) == [city.community_a]
    response = client.post(reverse("volunteers:corps_ensure"), {"community": city.community_a.pk})
    assert response.status_code == 302
    corps = city.community_a.children.get(kind=OrgKind.CORPS)
    category = ServiceCategory.objects.get(name="社区服务")
    response = client.post(
        reverse("volunteers:team_create"),
        {"corps": corps.pk, "name": "甲社区便民服务队", "category": category.pk},
    )
    team = corps.children.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("volunteers:team_detail", kwargs={"team_id": team.pk})
    assert team.team_profile.category == category

    response = client.post(reverse("volunteers:team_create"), {"corps": corps.pk, "name": " "})
    assert response.status_code == 400
    assert response.context["team_form"].errors["name"] == ["这个字段是必填项。"]

    # worker B is offered nothing of community A and cannot post it
    worker_b = client_for(city.worker_b)
    response = worker_b.post(
        reverse("volunteers:team_create"), {"corps": corps.pk, "name": "乙的队"}
    )
    assert response.status_code == 400
    assert corps.children.count() == 1


def test_worker_appoints_and_removes_through_the_team_page(city):
    team = make_team(city)
    volunteer = register(city.grid_a, "王队长", login="wang")
    client = client_for(city.worker_a)
    url = reverse("volunteers:team_member_add", kwargs={"team_id": team.pk})
    response = client.post(url, {"volunteer_id": volunteer.pk, "role": "leader"})
    assert response.status_code == 302
    membership = TeamMembership.objects.get(team=team, volunteer=volunteer)
    assert membership.role == TeamRole.LEADER
    assert RoleGrant.objects.filter(user=volunteer.person.user, org=team).exists()
    client.post(
        reverse("volunteers:team_member_role", kwargs={"membership_id": membership.pk}),
        {"role": "member"},
    )
    assert not RoleGrant.objects.filter(user=volunteer.person.user, org=team).exists()
    client.post(reverse("volunteers:team_member_remove", kwargs={"membership_id": membership.pk}))
    page = client.get(reverse("volunteers:team_detail", kwargs={"team_id": team.pk}))
    members = page.context["members"]
    assert (members.current, [m.pk for m in members.past]) == ([], [membership.pk])


def test_team_detail_query_count_does_not_grow_with_members(city):
    team = make_team(city)
    client = client_for(city.worker_a)
    url = reverse("volunteers:team_detail", kwargs={"team_id": team.pk})
    add(team, register(city.grid_a, "队长一"), TeamRole.LEADER)
    left = add(team, register(city.grid_a, "队员一"))
    services.team_member_remove(actor=None, scope=SYSTEM, membership=left)
    client.get(url)  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for i in range(6):
        add(team, register(city.grid_a, f"队员{i + 2}"), TeamRole.DEPUTY if i == 0 else "member")
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["members"].current) == 7
    assert len(many) == len(few)


def test_teams_page_query_count_does_not_grow_with_teams(city):
    make_team(city)
    client = client_for(city.worker_a)
    url = reverse("volunteers:teams")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(4):
        team = make_team(city, f"甲社区第{i}服务队")
        add(team, register(city.grid_a, f"队长{i}"), TeamRole.LEADER)
    make_team(city, "乙社区服务队", community=city.community_b)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert len(response.context["overview"].corps[0].teams) == 5
    assert len(many) == len(few)


# --- scope ------------------------------------------------------------------------------


def test_team_and_membership_routes_are_missing_for_worker_b(city):
    team = make_team(city)
    membership = add(team, register(city.grid_a, "欧阳甲乙"))
    worker_b = client_for(city.worker_b)
    routes = [
        ("get", reverse("volunteers:team_detail", kwargs={"team_id": team.pk})),
        ("get", reverse("volunteers:team_candidates", kwargs={"team_id": team.pk})),
        ("post", reverse("volunteers:team_member_add", kwargs={"team_id": team.pk})),
        ("post", reverse("volunteers:team_member_role", kwargs={"membership_id": membership.pk})),
        (
            "post",
            reverse("volunteers:team_member_remove", kwargs={"membership_id": membership.pk}),
        ),
    ]
    for method, url in routes:
        response = getattr(worker_b, method)(url, {"role": "leader", "q": "欧阳"})
        assert response.status_code == 404, url
        assert "欧阳甲乙" not in response.content.decode()
    membership.refresh_from_db()
    assert (membership.role, membership.left_on) == (TeamRole.MEMBER, None)
    response = worker_b.get(reverse("volunteers:teams"))
    assert "甲社区" not in response.content.decode()
    anonymous = Client().get(reverse("volunteers:team_detail", kwargs={"team_id": team.pk}))
    assert anonymous.status_code == 302
