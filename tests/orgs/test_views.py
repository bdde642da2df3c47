"""Org pages: tree, lazily loaded children, detail, and the manager's forms."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import MinimumLengthValidator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from huzhu.common.models import AuditEntry
from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from tests.factories import UserFactory, grant, make_org, make_person

User = get_user_model()


@pytest.fixture
def admin(city):
    """An admin of the street: manages both communities, sees neither district nor city."""
    user = UserFactory(username="street-admin")
    grant(user, city.street, Role.ADMIN)
    return user


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def field_errors(response, name: str) -> list[str]:
    html = response.content.decode()
    return re.findall(rf'data-field-error="{re.escape(name)}">([^<]*)<', html)


# --- tree and children -------------------------------------------------------------------


def test_tree_shows_the_workers_own_root_only(client, city):
    client.force_login(city.worker_a)
    response = client.get("/orgs/")
    assert response.status_code == 200
    assert [o.name for o in response.context["roots"]] == ["甲社区"]
    html = response.content.decode()
    assert "乙社区" not in html and "解放路街道" not in html
    # A single root opens at once: its children load through HTMX on page load.
    assert f'hx-get="/orgs/{city.community_a.pk}/children/"' in html
    assert 'open hx-trigger="load"' in html


def test_tree_of_street_admin(admin_client, city):
    response = admin_client.get("/orgs/")
    roots = list(response.context["roots"])
    assert [(o.name, o.child_count) for o in roots] == [("解放路街道", 2)]


def test_children_partial_lists_kinds_and_counts(admin_client, city):
    make_person(city.grid_a, "甲居民")
    make_person(city.community_a, "甲居民二")
    response = admin_client.get(f"/orgs/{city.street.pk}/children/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a partial, not a page
    rows = {o.name: (o.kind, o.child_count, o.resident_count) for o in response.context["children"]}
    assert rows == {"甲社区": ("community", 1, 2), "乙社区": ("community", 1, 0)}
    assert "甲社区第一网格" not in html  # grandchildren are loaded when expanded
    assert "居民 2" in html and "下级 1" in html


def test_children_partial_of_a_leaf(client, city):
    client.force_login(city.worker_a)
    response = client.get(f"/orgs/{city.grid_a.pk}/children/")
    assert response.status_code == 200
    assert list(response.context["children"]) == []
    assert "没有下级组织" in response.content.decode()


# --- detail ------------------------------------------------------------------------------


def test_detail_for_worker_shows_visible_breadcrumb_children_and_grants(client, city):
    client.force_login(city.worker_a)
    response = client.get(f"/orgs/{city.grid_a.pk}/")
    assert response.status_code == 200
    assert [a.name for a in response.context["ancestors"]] == ["甲社区"]
    html = response.content.decode()
    assert "解放路街道" not in html and "历下区" not in html

    response = client.get(f"/orgs/{city.community_a.pk}/")
    assert response.status_code == 200
    assert response.context["ancestors"] == []
    children = response.context["children"]
    assert [(c.name, c.get_kind_display()) for c in children] == [("甲社区第一网格", "网格")]
    assert [g.user.username for g in response.context["grants"]] == ["worker-a"]
    assert response.context["can_manage"] is False
    html = response.content.decode()
    assert "370102001001" in html
    assert "新增下级组织" not in html and "撤销" not in html
    assert f'href="/orgs/{city.community_a.pk}/edit/"' not in html
    assert f'href="/history/org/{city.community_a.pk}/"' in html  # workers have audit.view


def test_detail_for_admin_shows_breadcrumb_and_forms(admin_client, city):
    response = admin_client.get(f"/orgs/{city.grid_a.pk}/")
    assert [a.name for a in response.context["ancestors"]] == ["解放路街道", "甲社区"]
    response = admin_client.get(f"/orgs/{city.community_a.pk}/")
    assert response.context["can_manage"] is True
    html = response.content.decode()
    assert "新增下级组织" in html
    assert f'action="/orgs/{city.community_a.pk}/children/new/"' in html
    assert f'action="/orgs/{city.community_a.pk}/grants/new/"' in html
    assert f'action="/orgs/{city.community_a.pk}/accounts/new/"' in html
    grant_a = RoleGrant.objects.get(user=city.worker_a)
    assert f'action="/orgs/grants/{grant_a.pk}/revoke/"' in html
    # Only the kinds allowed under a community are offered.
    kinds = [k for k, _ in response.context["child_form"].allowed_kinds]
    assert kinds == ["grid", "corps", "party_committee", "party_branch", "unit"]
    assert '<option value="city"' not in html


def test_grid_offers_no_child_form(admin_client, city):
    html = admin_client.get(f"/orgs/{city.grid_a.pk}/").content.decode()
    assert "网格下不能再设下级组织。" in html
    assert "children/new/" not in html


@pytest.mark.parametrize(
    "url",
    [
        "/orgs/{id}/",
        "/orgs/{id}/children/",
        "/orgs/{id}/edit/",
    ],
)
def test_other_community_and_missing_ids_are_404(client, city, url):
    client.force_login(city.worker_b)
    other = client.get(url.format(id=city.community_a.pk))
    missing = client.get(url.format(id=999999))
    assert other.status_code == missing.status_code == 404
    assert "甲社区" not in other.content.decode()


@pytest.mark.parametrize("path", ["children/new/", "edit/", "grants/new/", "accounts/new/"])
def test_worker_b_posting_to_community_a_gets_404_and_changes_nothing(client, city, path):
    client.force_login(city.worker_b)
    before = (Org.objects.count(), RoleGrant.objects.count(), User.objects.count())
    response = client.post(
        f"/orgs/{city.community_a.pk}/{path}",
        {"child-kind": "grid", "child-name": "x", "edit-name": "x", "grant-username": "worker-b"},
    )
    assert response.status_code == 404
    assert (Org.objects.count(), RoleGrant.objects.count(), User.objects.count()) == before


# --- writes ------------------------------------------------------------------------------


def test_admin_creates_a_child_org(admin_client, admin, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/children/new/",
        {
            "child-kind": "corps",
            "child-name": " 甲社区志愿者总队 ",
            "child-division_code": "",
            "child-address": "甲社区活动中心",
            "child-sort_order": "",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/orgs/{city.community_a.pk}/"
    corps = Org.objects.get(name="甲社区志愿者总队")
    assert (corps.kind, corps.parent_id, corps.path, corps.depth) == (
        OrgKind.CORPS,
        city.community_a.pk,
        f"{city.community_a.path}{corps.pk}/",
        city.community_a.depth + 1,
    )
    assert (corps.division_code, corps.address, corps.sort_order) == (None, "甲社区活动中心", 0)
    entry = AuditEntry.objects.get(verb="org.create")
    assert (entry.actor, entry.org_id) == (admin, corps.pk)
    page = admin_client.get(response["Location"])
    assert "已新增下级组织：甲社区志愿者总队" in page.content.decode()
    assert {c.name for c in page.context["children"]} == {"甲社区第一网格", "甲社区志愿者总队"}


def test_bad_kind_is_refused_next_to_the_kind_field(admin_client, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/children/new/",
        {"child-kind": "city", "child-name": "不该存在的市"},
    )
    assert response.status_code == 400
    assert field_errors(response, "child-kind") == ["社区下不能设立市"]
    assert not Org.objects.filter(name="不该存在的市").exists()
    html = response.content.decode()
    assert '<details open id="add-child">' in html
    assert 'value="不该存在的市"' in html  # what was typed is kept


def test_unknown_kind_is_refused(admin_client, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/children/new/",
        {"child-kind": "castle", "child-name": "城堡"},
    )
    assert response.status_code == 400
    assert field_errors(response, "child-kind") == ["未知的组织类型"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("12345", "区划代码应为6位或12位数字"),
        ("37010200100A", "区划代码应为6位或12位数字"),
        ("370102001001", "区划代码 370102001001 已被其他组织使用"),
    ],
)
def test_bad_division_code_message_is_shown(admin_client, city, code, message):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/children/new/",
        {"child-kind": "grid", "child-name": "第二网格", "child-division_code": code},
    )
    assert response.status_code == 400
    assert field_errors(response, "child-division_code") == [message]
    assert not Org.objects.filter(name="第二网格").exists()


def test_empty_name_is_refused(admin_client, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/children/new/", {"child-kind": "grid", "child-name": ""}
    )
    assert response.status_code == 400
    assert field_errors(response, "child-name") == ["这个字段是必填项。"]


def test_admin_edits_an_org(admin_client, city):
    url = f"/orgs/{city.community_a.pk}/edit/"
    page = admin_client.get(url)
    assert page.status_code == 200
    assert page.context["form"]["division_code"].value() == "370102001001"
    response = admin_client.post(
        url,
        {
            "edit-name": "甲社区（新）",
            "edit-division_code": "370102001001",
            "edit-address": "幸福路1号",
            "edit-service_phone": "0531-12345678",
            "edit-supervision_phone": "",
            "edit-sort_order": "3",
            "edit-is_active": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/orgs/{city.community_a.pk}/"
    org = Org.objects.get(pk=city.community_a.pk)
    assert (org.name, org.address, org.service_phone, org.sort_order, org.is_active) == (
        "甲社区（新）",
        "幸福路1号",
        "0531-12345678",
        3,
        True,
    )
    entry = AuditEntry.objects.get(verb="org.update")
    assert set(entry.data["changes"]) == {"name", "address", "service_phone", "sort_order"}


def test_edit_shows_service_error_next_to_division_code(admin_client, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/edit/",
        {"edit-name": "甲社区", "edit-division_code": "370102001002", "edit-is_active": "on"},
    )
    assert response.status_code == 400
    assert field_errors(response, "edit-division_code") == [
        "区划代码 370102001002 已被其他组织使用"
    ]
    assert Org.objects.get(pk=city.community_a.pk).division_code == "370102001001"


def test_admin_grants_a_role_to_an_existing_user(admin_client, admin, city):
    newbie = UserFactory(username="newbie")
    url = f"/orgs/{city.community_b.pk}/grants/new/"
    response = admin_client.post(url, {"grant-username": "NewBie", "grant-role": "team_leader"})
    assert response.status_code == 302
    granted = RoleGrant.objects.get(user=newbie)
    assert (granted.org_id, granted.role, granted.granted_by) == (
        city.community_b.pk,
        Role.TEAM_LEADER,
        admin,
    )
    assert AuditEntry.objects.filter(verb="role.grant", org=city.community_b).count() == 1
    # The same role again is refused by the service, next to the role field.
    again = admin_client.post(url, {"grant-username": "newbie", "grant-role": "team_leader"})
    assert again.status_code == 400
    assert field_errors(again, "grant-role") == ["该用户在此组织已有这个角色"]
    assert '<details open id="add-grant">' in again.content.decode()


def test_grant_to_unknown_user_or_role_is_refused(admin_client, city):
    url = f"/orgs/{city.community_a.pk}/grants/new/"
    response = admin_client.post(url, {"grant-username": "ghost", "grant-role": "worker"})
    assert response.status_code == 400
    assert field_errors(response, "grant-username") == ["用户名 ghost 不存在；新同事请用“新建账号”"]
    response = admin_client.post(url, {"grant-username": "worker-b", "grant-role": "king"})
    assert response.status_code == 400
    assert field_errors(response, "grant-role") == ["未知的角色"]
    assert RoleGrant.objects.count() == 3


def test_admin_creates_an_account_with_a_role(admin_client, city):
    response = admin_client.post(
        f"/orgs/{city.community_a.pk}/accounts/new/",
        {
            "account-username": "wang-worker",
            "account-display_name": "王芳",
            "account-password": "a-good-long-password",
            "account-password_confirm": "a-good-long-password",
            "account-role": "worker",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="wang-worker")
    assert user.first_name == "王芳"
    assert user.check_password("a-good-long-password")
    assert list(user.role_grants.values_list("org_id", "role")) == [
        (city.community_a.pk, Role.WORKER)
    ]
    assert AuditEntry.objects.filter(verb="user.create").count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"account-username": "worker-b"}, "account-username", "用户名 worker-b 已存在"),
        (
            {"account-username": "new person!"},
            "account-username",
            "用户名只能包含字母、数字和 @ . + - _，不超过150个字符",
        ),
        (
            {"account-password": "short", "account-password_confirm": "short"},
            "account-password",
            None,  # Django's own validator message, in the active language
        ),
        (
            {"account-password_confirm": "something-else-entirely"},
            "account-password_confirm",
            "两次输入的密码不一致",
        ),
    ],
)
def test_account_form_errors(admin_client, city, data, field, message):
    form = {
        "account-username": "new-person",
        "account-password": "a-good-long-password",
        "account-password_confirm": "a-good-long-password",
        "account-role": "worker",
    } | data
    response = admin_client.post(f"/orgs/{city.community_a.pk}/accounts/new/", form)
    assert response.status_code == 400
    if message is None:
        with translation.override("zh-hans"):
            message = MinimumLengthValidator(8).get_error_message()
    assert field_errors(response, field) == [message]
    assert not User.objects.filter(username__startswith="new").exists()
    assert '<details open id="add-account">' in response.content.decode()


def test_admin_revokes_a_grant(admin_client, city):
    grant_a = RoleGrant.objects.get(user=city.worker_a)
    url = f"/orgs/grants/{grant_a.pk}/revoke/"
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url)
    assert response.status_code == 302
    assert response["Location"] == f"/orgs/{city.community_a.pk}/"
    assert not RoleGrant.objects.filter(pk=grant_a.pk).exists()
    entry = AuditEntry.objects.get(verb="role.revoke")
    assert entry.data == {"user": "worker-a", "role": "worker", "org": "甲社区"}
    assert admin_client.post(url).status_code == 404  # gone


def test_workers_cannot_revoke_grants(client, city):
    grant_a = RoleGrant.objects.get(user=city.worker_a)
    for worker in (city.worker_a, city.worker_b):
        client.force_login(worker)
        assert client.post(f"/orgs/grants/{grant_a.pk}/revoke/").status_code == 404
    assert RoleGrant.objects.filter(pk=grant_a.pk).exists()


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("post", "children/new/", {"child-kind": "grid", "child-name": "私设网格"}),
        ("get", "edit/", {}),
        ("post", "edit/", {"edit-name": "改名", "edit-is_active": "on"}),
        ("post", "grants/new/", {"grant-username": "worker-a", "grant-role": "admin"}),
        (
            "post",
            "accounts/new/",
            {
                "account-username": "sneaky",
                "account-password": "a-good-long-password",
                "account-password_confirm": "a-good-long-password",
                "account-role": "admin",
            },
        ),
    ],
)
def test_worker_trying_to_manage_own_org_gets_403(client, city, method, path, data):
    client.force_login(city.worker_a)
    before = (Org.objects.count(), RoleGrant.objects.count(), User.objects.count())
    response = getattr(client, method)(f"/orgs/{city.community_a.pk}/{path}", data)
    assert response.status_code == 403
    assert (Org.objects.count(), RoleGrant.objects.count(), User.objects.count()) == before
    assert Org.objects.get(pk=city.community_a.pk).name == "甲社区"


# --- query counts ------------------------------------------------------------------------


def _add_children(parent, n: int, start: int) -> None:
    for i in range(start, start + n):
        corps = make_org(OrgKind.CORPS, f"总队{i}", parent)
        make_org(OrgKind.TEAM, f"服务队{i}", corps)
        grid = make_org(OrgKind.GRID, f"网格{i}", parent)
        make_person(grid, f"居民{i}")


def _queries(client, url: str) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


@pytest.mark.parametrize("path", ["", "children/"])
def test_children_queries_do_not_grow_with_rows(admin_client, city, path):
    url = f"/orgs/{city.community_a.pk}/{path}"
    _add_children(city.community_a, 3, 0)
    small, response = _queries(admin_client, url)
    assert len(response.context["children"]) == 1 + 6
    _add_children(city.community_a, 6, 3)
    large, response = _queries(admin_client, url)
    assert len(response.context["children"]) == 1 + 18
    assert sum(c.resident_count for c in response.context["children"]) == 9
    assert large == small


def test_tree_and_grants_queries_do_not_grow_with_rows(admin_client, city):
    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            grant(UserFactory(username=f"helper{i}"), city.street, Role.SUPERVISOR)
            make_org(OrgKind.COMMUNITY, f"新社区{i}", city.street)

    add(3, 0)
    small_detail, _ = _queries(admin_client, f"/orgs/{city.street.pk}/")
    small_tree, _ = _queries(admin_client, "/orgs/")
    add(6, 3)
    large_detail, response = _queries(admin_client, f"/orgs/{city.street.pk}/")
    large_tree, _ = _queries(admin_client, "/orgs/")
    assert len(response.context["grants"]) == 1 + 9
    assert (large_detail, large_tree) == (small_detail, small_tree)
