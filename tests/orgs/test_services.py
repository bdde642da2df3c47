"""Writes on the org tree and role grants: paths, kinds, codes, permissions, audit."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import MinimumLengthValidator
from django.core.exceptions import PermissionDenied, ValidationError

from huzhu.common.models import AuditEntry
from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.orgs.services import (
    account_create,
    org_create,
    org_move,
    role_grant_create,
    role_grant_revoke,
)
from huzhu.people.models import Person
from tests.factories import UserFactory, grant, make_org, make_person

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin(city):
    """An admin of the district (so of both streets' communities)."""
    user = UserFactory(username="admin-d")
    grant(user, city.district, Role.ADMIN)
    return user


@pytest.fixture
def admin_scope(admin):
    return Scope.for_user(admin)


@pytest.fixture
def superuser():
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def state():
    """Everything a failed write must leave as it was."""
    return (
        list(Org.objects.order_by("pk").values()),
        list(RoleGrant.objects.order_by("pk").values()),
        list(User.objects.order_by("pk").values_list("pk", "username")),
        AuditEntry.objects.count(),
    )


# --- org_create ---------------------------------------------------------------------------


def test_org_create_sets_path_depth_and_audits(city, admin, admin_scope):
    grid = org_create(
        actor=admin,
        scope=admin_scope,
        parent=city.community_a,
        kind=OrgKind.GRID,
        name="  甲社区第二网格 ",
        division_code="",
    )
    grid.refresh_from_db()
    assert grid.path == f"{city.community_a.path}{grid.pk}/"
    assert (
        grid.path
        == f"/{city.city.pk}/{city.district.pk}/{city.street.pk}/{city.community_a.pk}/{grid.pk}/"
    )
    assert grid.depth == city.community_a.depth + 1 == 4
    assert grid.parent == city.community_a
    assert grid.name == "甲社区第二网格"
    assert grid.division_code is None
    entry = AuditEntry.objects.get(verb="org.create")
    assert (entry.actor, entry.org, entry.org_path) == (admin, grid, grid.path)
    assert entry.data == {"kind": "grid", "name": "甲社区第二网格", "parent": "甲社区"}


def test_top_level_org_only_for_superusers(city, admin, admin_scope, superuser):
    before = state()
    with pytest.raises(PermissionDenied, match="只有系统管理员可以创建顶级组织"):
        org_create(actor=admin, scope=admin_scope, parent=None, kind=OrgKind.CITY, name="新市")
    assert state() == before
    new_city = org_create(
        actor=superuser,
        scope=Scope.for_user(superuser),
        parent=None,
        kind=OrgKind.CITY,
        name="新市",
        division_code="370200",
    )
    assert (new_city.path, new_city.depth) == (f"/{new_city.pk}/", 0)
    assert new_city.division_code == "370200"


def test_top_level_org_must_be_a_city(superuser):
    with pytest.raises(ValidationError) as exc_info:
        org_create(
            actor=superuser,
            scope=Scope.for_user(superuser),
            parent=None,
            kind=OrgKind.STREET,
            name="街道",
        )
    assert exc_info.value.message_dict == {"kind": ["顶级组织只能是市"]}


@pytest.mark.parametrize(
    ("parent_attr", "kind", "message"),
    [
        ("community_a", OrgKind.STREET, "社区下不能设立街道/镇"),
        ("grid_a", OrgKind.GRID, "网格下不能设立网格"),
        ("street", OrgKind.GRID, "街道/镇下不能设立网格"),
        ("district", OrgKind.COMMUNITY, "区/县下不能设立社区"),
        ("community_a", "planet", "未知的组织类型"),
    ],
)
def test_kind_rules(city, admin, admin_scope, parent_attr, kind, message):
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        org_create(
            actor=admin,
            scope=admin_scope,
            parent=getattr(city, parent_attr),
            kind=kind,
            name="新组织",
        )
    assert exc_info.value.message_dict == {"kind": [message]}
    assert state() == before


@pytest.mark.parametrize(
    ("parent_attr", "kind"),
    [
        ("street", OrgKind.COMMUNITY),
        ("community_a", OrgKind.GRID),
        ("community_a", OrgKind.CORPS),
        ("community_a", OrgKind.PARTY_BRANCH),
        ("district", OrgKind.STREET),
        ("street", OrgKind.UNIT),
    ],
)
def test_allowed_children(city, admin, admin_scope, parent_attr, kind):
    org = org_create(
        actor=admin, scope=admin_scope, parent=getattr(city, parent_attr), kind=kind, name="新组织"
    )
    assert org.kind == kind


@pytest.mark.parametrize(
    "code", ["12345", "1234567", "37010200100", "3701020010011", "37010200100A", "３７０１０２x"]
)
def test_division_code_must_be_6_or_12_digits(city, admin, admin_scope, code):
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        org_create(
            actor=admin,
            scope=admin_scope,
            parent=city.street,
            kind=OrgKind.COMMUNITY,
            name="丙社区",
            division_code=code,
        )
    assert exc_info.value.message_dict == {"division_code": ["区划代码应为6位或12位数字"]}
    assert state() == before


def test_division_code_is_normalised(city, admin, admin_scope):
    org = org_create(
        actor=admin,
        scope=admin_scope,
        parent=city.street,
        kind=OrgKind.COMMUNITY,
        name="丙社区",
        division_code=" ３７０１０２ ００１００３ ",
    )
    org.refresh_from_db()
    assert org.division_code == "370102001003"


def test_division_code_must_be_unique(city, admin, admin_scope):
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        org_create(
            actor=admin,
            scope=admin_scope,
            parent=city.street,
            kind=OrgKind.COMMUNITY,
            name="丙社区",
            division_code="370102001001",
        )
    assert exc_info.value.message_dict == {
        "division_code": ["区划代码 370102001001 已被其他组织使用"]
    }
    assert state() == before


def test_many_orgs_without_a_division_code(city, admin, admin_scope):
    for name in ("一", "二", "三"):
        org_create(
            actor=admin, scope=admin_scope, parent=city.community_a, kind=OrgKind.GRID, name=name
        )
    assert Org.objects.filter(parent=city.community_a, division_code__isnull=True).count() == 4


def test_name_is_required(city, admin, admin_scope):
    with pytest.raises(ValidationError) as exc_info:
        org_create(
            actor=admin, scope=admin_scope, parent=city.community_a, kind=OrgKind.GRID, name="  "
        )
    assert exc_info.value.message_dict == {"name": ["名称不能为空"]}


def test_worker_cannot_create_orgs(city):
    before = state()
    with pytest.raises(PermissionDenied, match="您没有管理该组织的权限"):
        org_create(
            actor=city.worker_a,
            scope=Scope.for_user(city.worker_a),
            parent=city.community_a,
            kind=OrgKind.GRID,
            name="网格",
        )
    assert state() == before


def test_admin_only_under_orgs_they_manage(city):
    admin_a = UserFactory(username="admin-a")
    grant(admin_a, city.community_a, Role.ADMIN)
    scope = Scope.for_user(admin_a)
    org_create(actor=admin_a, scope=scope, parent=city.grid_a.parent, kind=OrgKind.GRID, name="二")
    for parent in (city.community_b, city.street):
        with pytest.raises(PermissionDenied):
            org_create(actor=admin_a, scope=scope, parent=parent, kind=OrgKind.UNIT, name="单位")


# --- org_move -----------------------------------------------------------------------------


@pytest.fixture
def street2(city):
    return make_org(OrgKind.STREET, "泉城路街道", city.district, "370102002000")


def test_org_move_moves_the_whole_subtree(city, admin, admin_scope, street2):
    corps = make_org(OrgKind.CORPS, "甲社区志愿者总队", city.community_a)
    team = make_org(OrgKind.TEAM, "助老服务队", corps)
    person = make_person(city.grid_a, "张三")
    untouched = {
        o.pk: (o.path, o.depth) for o in (city.community_b, city.grid_b, city.street, street2)
    }
    old_path = city.community_a.path
    moved = org_move(actor=admin, scope=admin_scope, org=city.community_a, new_parent=street2)
    base = f"{street2.path}{city.community_a.pk}/"
    assert (moved.path, moved.depth, moved.parent) == (base, 3, street2)
    expected = {
        city.community_a.pk: (base, 3),
        city.grid_a.pk: (f"{base}{city.grid_a.pk}/", 4),
        corps.pk: (f"{base}{corps.pk}/", 4),
        team.pk: (f"{base}{corps.pk}/{team.pk}/", 5),
        **untouched,
    }
    assert {pk: tuple(Org.objects.values_list("path", "depth").get(pk=pk)) for pk in expected} == (
        expected
    )
    assert Org.objects.get(pk=city.grid_a.pk).parent_id == city.community_a.pk
    entry = AuditEntry.objects.get(verb="org.move")
    assert entry.data == {"from": old_path, "to": base}
    # the worker's scope follows the move; the sibling still sees nothing
    assert list(Person.objects.within(Scope.for_user(city.worker_a))) == [person]
    assert list(Person.objects.within(Scope.for_user(city.worker_b))) == []
    assert list(Org.objects.within(Scope.for_user(city.worker_a)).order_by("pk")) == [
        Org.objects.get(pk=city.community_a.pk),
        Org.objects.get(pk=city.grid_a.pk),
        corps,
        team,
    ]


def test_org_move_under_the_same_parent_changes_nothing(city, admin, admin_scope):
    before = list(Org.objects.order_by("pk").values_list("pk", "path", "depth"))
    org_move(actor=admin, scope=admin_scope, org=city.community_a, new_parent=city.street)
    assert list(Org.objects.order_by("pk").values_list("pk", "path", "depth")) == before


@pytest.mark.parametrize("target", ["street", "community_a", "grid_a"])
def test_org_move_refuses_its_own_subtree(city, admin, admin_scope, target):
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        org_move(actor=admin, scope=admin_scope, org=city.street, new_parent=getattr(city, target))
    assert exc_info.value.message_dict == {"parent": ["不能把组织移到它自己的下级之下"]}
    assert state() == before


def test_org_move_checks_kinds(city, admin, admin_scope):
    with pytest.raises(ValidationError) as exc_info:
        org_move(actor=admin, scope=admin_scope, org=city.grid_a, new_parent=city.street)
    assert exc_info.value.message_dict == {"kind": ["街道/镇下不能设立网格"]}


def test_org_move_needs_manage_on_source_and_destination(city, street2):
    admin_a = UserFactory(username="admin-a")
    grant(admin_a, city.community_a, Role.ADMIN)
    grant(admin_a, street2, Role.ADMIN)
    scope = Scope.for_user(admin_a)
    before = state()
    # manages the community and the destination, but not the street it would be taken from
    with pytest.raises(PermissionDenied):
        org_move(actor=admin_a, scope=scope, org=city.community_a, new_parent=street2)
    # manages the grid, not the destination community
    with pytest.raises(PermissionDenied):
        org_move(actor=admin_a, scope=scope, org=city.grid_a, new_parent=city.community_b)
    with pytest.raises(PermissionDenied):
        org_move(
            actor=city.worker_a,
            scope=Scope.for_user(city.worker_a),
            org=city.grid_a,
            new_parent=city.community_a,
        )
    assert state() == before


# --- role grants --------------------------------------------------------------------------


def test_role_grant_create_and_revoke_are_audited(city, admin, admin_scope):
    newcomer = UserFactory(username="newcomer")
    granted = role_grant_create(
        actor=admin, scope=admin_scope, org=city.community_a, user=newcomer, role=Role.WORKER
    )
    assert (granted.user, granted.org, granted.role, granted.granted_by) == (
        newcomer,
        city.community_a,
        "worker",
        admin,
    )
    entry = AuditEntry.objects.get(verb="role.grant")
    assert (entry.actor, entry.target_id, entry.org_path) == (
        admin,
        str(granted.pk),
        city.community_a.path,
    )
    assert entry.data == {"user": "newcomer", "role": "worker", "org": "甲社区"}
    assert Scope.for_user(newcomer).can("person.edit", city.grid_a)

    role_grant_revoke(actor=admin, scope=admin_scope, grant=granted)
    assert not RoleGrant.objects.filter(pk=granted.pk).exists()
    entry = AuditEntry.objects.get(verb="role.revoke")
    assert (entry.actor, entry.org, entry.org_path) == (
        admin,
        city.community_a,
        city.community_a.path,
    )
    assert entry.data == {"user": "newcomer", "role": "worker", "org": "甲社区"}
    assert not Scope.for_user(newcomer).can("view")


def test_role_grant_rules(city, admin, admin_scope):
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        role_grant_create(
            actor=admin, scope=admin_scope, org=city.community_a, user=city.worker_a, role="worker"
        )
    assert exc_info.value.message_dict == {"role": ["该用户在此组织已有这个角色"]}
    with pytest.raises(ValidationError) as exc_info:
        role_grant_create(
            actor=admin, scope=admin_scope, org=city.community_a, user=city.worker_a, role="king"
        )
    assert exc_info.value.message_dict == {"role": ["未知的角色"]}
    worker_scope = Scope.for_user(city.worker_a)
    with pytest.raises(PermissionDenied):
        role_grant_create(
            actor=city.worker_a,
            scope=worker_scope,
            org=city.community_a,
            user=city.worker_b,
            role="worker",
        )
    with pytest.raises(PermissionDenied):
        role_grant_revoke(
            actor=city.worker_a,
            scope=worker_scope,
            grant=RoleGrant.objects.get(user=city.worker_a),
        )
    assert state() == before


# --- account_create -----------------------------------------------------------------------


def test_account_create(city, admin, admin_scope):
    granted = account_create(
        actor=admin,
        scope=admin_scope,
        org=city.community_a,
        username=" li.si ",
        password="a long enough password",
        role=Role.WORKER,
        display_name="李四",
    )
    user = User.objects.get(username="li.si")
    assert user.check_password("a long enough password")
    assert user.first_name == "李四"
    assert not user.is_superuser and not user.is_staff
    assert (granted.user, granted.org, granted.role) == (user, city.community_a, "worker")
    assert list(
        AuditEntry.objects.order_by("id").values_list("verb", "data").filter(org=city.community_a)
    ) == [
        ("user.create", {"user": "li.si"}),
        ("role.grant", {"user": "li.si", "role": "worker", "org": "甲社区"}),
    ]


@pytest.mark.parametrize(
    ("username", "password", "role", "errors"),
    [
        ("Worker-A", "a long enough password", "worker", {"username": ["用户名 Worker-A 已存在"]}),
        ("  ", "a long enough password", "worker", {"username": ["用户名不能为空"]}),
        ("new", "short", "worker", {"password": ["<min-length>"]}),
        ("new", "a long enough password", "king", {"role": ["未知的角色"]}),
    ],
)
def test_account_create_validation(city, admin, admin_scope, username, password, role, errors):
    if errors.get("password") == ["<min-length>"]:
        errors = {"password": [MinimumLengthValidator().get_error_message()]}
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        account_create(
            actor=admin,
            scope=admin_scope,
            org=city.community_a,
            username=username,
            password=password,
            role=role,
        )
    assert exc_info.value.message_dict == errors
    assert state() == before  # no user, no grant, no audit entry left behind


def test_account_create_needs_manage(city):
    before = state()
    with pytest.raises(PermissionDenied):
        account_create(
            actor=city.worker_a,
            scope=Scope.for_user(city.worker_a),
            org=city.community_a,
            username="new",
            password="a long enough password",
            role="worker",
        )
    assert state() == before
