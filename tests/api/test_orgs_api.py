"""/api/v1/orgs: scope, lookups by id and code, create and update through the services."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.common.models import AuditEntry
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role
from tests.factories import UserFactory, grant, make_org

MISSING = {"detail": "未找到"}


def names(response) -> list[str]:
    return [item["name"] for item in response.json()["items"]]


def test_list_shows_only_own_scope(city, client_a, client_b):
    response = client_a.get("/api/v1/orgs")
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert names(response) == ["甲社区", "甲社区第一网格"]
    assert names(client_b.get("/api/v1/orgs")) == ["乙社区", "乙社区第一网格"]


def test_list_filters(city, bearer):
    admin = UserFactory(username="district-admin")
    grant(admin, city.district, Role.ADMIN)
    client = bearer(admin)
    assert names(client.get("/api/v1/orgs?kind=community")) == ["甲社区", "乙社区"]
    assert names(client.get(f"/api/v1/orgs?parent_id={city.community_b.pk}")) == ["乙社区第一网格"]
    assert names(client.get("/api/v1/orgs?q=第一网格")) == ["甲社区第一网格", "乙社区第一网格"]
    response = client.get("/api/v1/orgs?kind=planet")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "kind"


def test_item_shape(city, client_a):
    response = client_a.get(f"/api/v1/orgs/{city.community_a.pk}")
    assert response.status_code == 200
    assert response.json() == {
        "id": city.community_a.pk,
        "parent_id": city.street.pk,
        "kind": "community",
        "kind_label": "社区",
        "name": "甲社区",
        "path": city.community_a.path,
        "depth": 3,
        "division_code": "370102001001",
        "address": "",
        "service_phone": "",
        "supervision_phone": "",
        "latitude": None,
        "longitude": None,
        "sort_order": 0,
        "is_active": True,
    }


def test_by_code(city, client_a):
    response = client_a.get("/api/v1/orgs/by-code/370102001001")
    assert response.status_code == 200
    assert response.json()["id"] == city.community_a.pk


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orgs/{a}",  # community A by id
        "/api/v1/orgs/{grid}",
        "/api/v1/orgs/by-code/370102001001",  # community A by code
        "/api/v1/orgs/{street}",  # the common parent: not in worker-b's scope either
        "/api/v1/orgs/999999",  # does not exist at all
        "/api/v1/orgs/by-code/999999999999",  # unknown code
        "/api/v1/orgs/by-code/abc",  # cannot be a code
        "/api/v1/orgs/by-code/%00",
    ],
)
def test_out_of_scope_and_missing_look_the_same(city, client_b, path):
    url = path.format(a=city.community_a.pk, grid=city.grid_a.pk, street=city.street.pk)
    response = client_b.get(url)
    assert response.status_code == 404
    assert response.json() == MISSING


def test_update_of_other_community_is_404_and_changes_nothing(city, client_b):
    before = AuditEntry.objects.count()
    response = client_b.patch(
        f"/api/v1/orgs/{city.community_a.pk}", {"name": "改名"}, content_type="application/json"
    )
    assert response.status_code == 404
    assert response.json() == MISSING
    assert Org.objects.get(pk=city.community_a.pk).name == "甲社区"
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(
    ("path", "field", "type_"),
    [
        ("/api/v1/orgs/abc", "org_id", "int_parsing"),
        ("/api/v1/orgs/0", "org_id", "greater_than_equal"),
        ("/api/v1/orgs/99999999999999999999999", "org_id", "less_than_equal"),
        ("/api/v1/orgs?parent_id=x", "parent_id", "int_parsing"),
        ("/api/v1/orgs?limit=100000", "limit", "less_than_equal"),
        ("/api/v1/orgs?offset=99999999999999999999", "offset", "less_than_equal"),
        ("/api/v1/orgs?q=%00", "q", "value_error"),
    ],
)
def test_bad_input_is_422_not_500(city, client_a, path, field, type_):
    response = client_a.get(path)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert (error["field"], error["type"]) == (field, type_)


def test_worker_cannot_manage_orgs(city, client_a):
    response = client_a.patch(
        f"/api/v1/orgs/{city.community_a.pk}", {"name": "改名"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "您没有管理该组织的权限"}
    response = client_a.post(
        "/api/v1/orgs",
        {"parent_id": city.community_a.pk, "kind": "grid", "name": "第二网格"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert Org.objects.count() == 7


@pytest.fixture
def admin_a(city, bearer):
    user = UserFactory(username="admin-a")
    grant(user, city.community_a, Role.ADMIN)
    return bearer(user)


def test_admin_creates_org(city, admin_a):
    response = admin_a.post(
        "/api/v1/orgs",
        {"parent_id": city.community_a.pk, "kind": "grid", "name": " 甲社区第二网格 "},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    org = Org.objects.get(pk=body["id"])
    assert (body["name"], body["kind"], body["parent_id"]) == (
        "甲社区第二网格",
        "grid",
        city.community_a.pk,
    )
    assert body["path"] == f"{city.community_a.path}{org.pk}/"
    entry = AuditEntry.objects.get(verb="org.create")
    assert entry.actor.username == "admin-a"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"kind": "district", "name": "X"}, "kind", "社区下不能设立区/县"),
        ({"kind": "grid", "name": "  "}, "name", "名称不能为空"),
        ({"kind": "grid", "name": "X", "division_code": "12ab"}, "division_code",
         "区划代码应为6位或12位数字"),
        ({"kind": "grid", "name": "X", "division_code": "370102001002"}, "division_code",
         "区划代码 370102001002 已被其他组织使用"),
    ],
)  # fmt: skip
def test_create_refusals_name_the_field(city, admin_a, payload, field, message):
    payload = {"parent_id": city.community_a.pk, **payload}
    response = admin_a.post("/api/v1/orgs", payload, content_type="application/json")
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": field, "message": message}]}
    assert Org.objects.count() == 7


def test_create_under_parent_out_of_scope_is_a_field_error(city, admin_a):
    response = admin_a.post(
        "/api/v1/orgs",
        {"parent_id": city.community_b.pk, "kind": "grid", "name": "X"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "parent_id", "message": "上级组织不存在或不在您的管辖范围内"}]
    }


def test_top_level_org_only_for_superuser(city, admin_a):
    response = admin_a.post(
        "/api/v1/orgs", {"kind": "city", "name": "新市"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "只有系统管理员可以创建顶级组织"}


def test_admin_updates_org(city, admin_a):
    url = f"/api/v1/orgs/{city.grid_a.pk}"
    response = admin_a.patch(
        url,
        {"name": "甲社区东网格", "service_phone": "0531-12345", "division_code": "370102001003"},
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["service_phone"], body["division_code"]) == (
        "甲社区东网格",
        "0531-12345",
        "370102001003",
    )
    entry = AuditEntry.objects.get(verb="org.update")
    assert entry.data["changes"]["name"] == ["甲社区第一网格", "甲社区东网格"]

    response = admin_a.patch(url, {"division_code": None}, content_type="application/json")
    assert response.json()["division_code"] is None

    response = admin_a.patch(url, {"address": None}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "address"
    response = admin_a.patch(url, {"name": "长" * 101}, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["message"] == "不能超过100个字符"
    assert Org.objects.get(pk=city.grid_a.pk).name == "甲社区东网格"


def test_list_query_count_does_not_grow_with_rows(city, bearer):
    admin = UserFactory(username="city-admin")
    grant(admin, city.city, Role.ADMIN)
    client = bearer(admin)
    client.get("/api/v1/orgs")  # warm up: marks the token used

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/orgs?limit=500")
        assert response.status_code == 200
        return len(queries), len(response.json()["items"])

    few_queries, few = count()
    for i in range(30):
        make_org(OrgKind.GRID, f"网格{i}", city.community_b)
    many_queries, many = count()
    assert (few, many) == (7, 37)
    assert many_queries == few_queries
