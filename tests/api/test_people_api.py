"""/api/v1/people: scope, masking, refusals that name the field, reveal, pagination, N+1."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.people.models import Person, Tag
from tests.factories import UserFactory, grant, make_id_number, make_person

MISSING = {"detail": "未找到"}
ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"


@pytest.fixture
def person_a(city):
    return make_person(city.grid_a, "欧阳甲乙", id_number=ID_NUMBER, phone=PHONE)


def snapshot() -> tuple[int, int, int]:
    return Person.objects.count(), AuditEntry.objects.count(), Person.tags.through.objects.count()


def post(client, payload):
    return client.post("/api/v1/people", payload, content_type="application/json")


def patch(client, person, payload):
    return client.patch(f"/api/v1/people/{person.pk}", payload, content_type="application/json")


# --- reading --------------------------------------------------------------------------


def test_item_is_masked(city, client_a, person_a):
    response = client_a.get(f"/api/v1/people/{person_a.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": person_a.pk,
        "org_id": city.grid_a.pk,
        "org_name": "甲社区第一网格",
        "name": "欧阳甲乙",
        "gender": "F",
        "age": person_a.age,
        "id_number_masked": "1101**********002X",
        "phone_masked": "138****5678",
        "address": "",
        "status": "active",
        "status_label": "在册",
        "notes": "",
        "tags": [],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    text = response.content.decode()
    assert ID_NUMBER not in text
    assert PHONE not in text
    assert "19491231" not in text  # no birth date: with the mask it would give the number away


def test_list_shows_only_own_scope(city, client_a, client_b, person_a):
    make_person(city.grid_b, "乙居民")
    response = client_a.get("/api/v1/people")
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["items"]] == ["欧阳甲乙"]
    assert response.json()["count"] == 1
    assert ID_NUMBER not in response.content.decode()
    response = client_b.get("/api/v1/people")
    assert [p["name"] for p in response.json()["items"]] == ["乙居民"]


def test_other_community_is_missing(city, client_b, person_a):
    for url in (
        f"/api/v1/people/{person_a.pk}",
        "/api/v1/people/999999",
        f"/api/v1/people?org_id={city.community_a.pk}",
    ):
        response = client_b.get(url)
        assert (response.status_code, response.json()) == (404, MISSING), url


def test_other_community_cannot_be_changed_or_revealed(city, client_b, person_a):
    before = snapshot()
    response = patch(client_b, person_a, {"phone": "13900000000"})
    assert (response.status_code, response.json()) == (404, MISSING)
    response = client_b.post(
        f"/api/v1/people/{person_a.pk}/reveal", {}, content_type="application/json"
    )
    assert (response.status_code, response.json()) == (404, MISSING)
    assert snapshot() == before
    assert Person.objects.get(pk=person_a.pk).phone == PHONE


def test_filters(city, client_a, person_a):
    elderly = Tag.objects.get(name="独居老人")  # seeded by a migration
    other = make_person(city.community_a, "李四", status="moved_out")
    other.tags.add(elderly)

    def listed(query: str) -> list[str]:
        response = client_a.get(f"/api/v1/people?{query}")
        assert response.status_code == 200, response.content
        return [p["name"] for p in response.json()["items"]]

    assert listed("") == ["李四", "欧阳甲乙"]
    assert listed("q=ls") == ["李四"]
    assert listed("q=002X") == ["欧阳甲乙"]
    assert listed(f"org_id={city.grid_a.pk}") == ["欧阳甲乙"]
    assert listed(f"tag={elderly.pk}") == ["李四"]
    assert listed("status=moved_out") == ["李四"]
    assert listed("status=active") == ["欧阳甲乙"]
    response = client_a.get("/api/v1/people?tag=424242")
    assert response.status_code == 422
    assert response.json() == {"detail": [{"field": "tag", "message": "标签不存在"}]}


def test_sensitive_tags_only_for_editors(city, bearer, person_a):
    poor = Tag.objects.get(name="低保", is_sensitive=True)
    person_a.tags.add(poor)
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    client = bearer(leader)
    response = client.get(f"/api/v1/people/{person_a.pk}")
    assert response.json()["tags"] == []
    response = client.get(f"/api/v1/people?tag={poor.pk}")  # no filtering by it either
    assert response.status_code == 422
    response = bearer(city.worker_a).get(f"/api/v1/people/{person_a.pk}")
    assert response.json()["tags"] == [{"id": poor.pk, "name": "低保", "category": "difficulty"}]


# --- creating ---------------------------------------------------------------------------


def test_create(city, client_a):
    tag = Tag.objects.get(name="残疾", is_sensitive=True)
    number = make_id_number()
    response = post(
        client_a,
        {
            "org_id": city.grid_a.pk,
            "name": "赵六",
            "id_number": number.lower(),
            "phone": "+86 139-0000-1234",
            "address": "甲社区3号楼",
            "tag_ids": [tag.pk],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    person = Person.objects.get()
    assert body["id"] == person.pk
    assert body["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert body["phone_masked"] == "139****1234"
    assert body["tags"] == [{"id": tag.pk, "name": "残疾", "category": "difficulty"}]
    assert number not in response.content.decode()
    assert person.id_number == number
    assert person.phone == "13900001234"
    entry = AuditEntry.objects.get(verb="person.create")
    assert entry.actor == city.worker_a


def test_invalid_id_number_is_refused_naming_the_field(city, client_a):
    number = make_id_number()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    before = snapshot()
    response = post(client_a, {"org_id": city.grid_a.pk, "name": "赵六", "id_number": wrong})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "id_number", "message": "身份证号校验位不正确，请核对后重新输入"}]
    }
    assert snapshot() == before


def test_every_bad_field_is_reported_at_once(city, client_a):
    before = snapshot()
    response = post(
        client_a,
        {"org_id": city.grid_a.pk, "name": " ", "id_number": "123", "phone": "12345"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"field": "name", "message": "姓名不能为空"},
            {
                "field": "id_number",
                "message": "身份证号应为18位（前17位为数字，末位为数字或X），或15位旧号码",
            },
            {"field": "phone", "message": "手机号应为以1开头的11位数字"},
        ]
    }
    assert snapshot() == before


def test_duplicate_person_is_refused(city, client_a, person_a):
    before = snapshot()
    response = post(
        client_a, {"org_id": city.grid_a.pk, "name": "另一个人", "id_number": ID_NUMBER.lower()}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "id_number", "message": "该身份证号已登记，一人只能有一条实名记录"}]
    }
    assert snapshot() == before


def test_duplicate_in_another_community_is_refused_too(city, client_b, person_a):
    response = post(client_b, {"org_id": city.grid_b.pk, "name": "某", "id_number": ID_NUMBER})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "id_number"


def test_unknown_tag_leaves_nothing_half_saved(city, client_a):
    before = snapshot()
    response = post(
        client_a,
        {
            "org_id": city.grid_a.pk,
            "name": "赵六",
            "id_number": make_id_number(),
            "tag_ids": [424242],
        },
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "tag_ids", "message": "标签不存在或已停用：424242"}]
    }
    assert snapshot() == before


@pytest.mark.parametrize("where", ["grid_b", "street", "missing"])
def test_create_outside_own_scope_names_org_id(city, client_a, where):
    org_id = 999999 if where == "missing" else getattr(city, where).pk
    before = snapshot()
    response = post(client_a, {"org_id": org_id, "name": "赵六", "id_number": make_id_number()})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "org_id", "message": "请选择您有权登记的社区或网格"}]
    }
    assert snapshot() == before


def test_create_requires_edit_permission(city, bearer):
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    response = post(
        bearer(leader), {"org_id": city.grid_a.pk, "name": "赵六", "id_number": make_id_number()}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"field": "org_id", "message": "请选择您有权登记的社区或网格"}
    ]
    assert Person.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[]", "application/json", 422),
        ('"x"', "application/json", 422),
        ('{"org_id": "abc", "name": "x", "id_number": "1"}', "application/json", 422),
        ('{"org_id": 1e400, "name": "x", "id_number": "1"}', "application/json", 422),
        ('{"org_id": 1, "name": "x\\u0000", "id_number": "1"}', "application/json", 422),
    ],
)
def test_malformed_bodies_are_refused_not_500(city, client_a, body, content_type, status):
    before = snapshot()
    response = client_a.post("/api/v1/people", body, content_type=content_type)
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"detail": "请求格式不正确（请求体应为有效的JSON）"}
    else:
        assert all("field" in e and "message" in e for e in response.json()["detail"])
    assert snapshot() == before


# --- updating ---------------------------------------------------------------------------


def test_update_phone(city, client_a, person_a):
    response = patch(client_a, person_a, {"phone": "139 0000 8888"})
    assert response.status_code == 200
    assert response.json()["phone_masked"] == "139****8888"
    assert response.json()["id_number_masked"] == "1101**********002X"
    assert Person.objects.get(pk=person_a.pk).phone == "13900008888"
    entry = AuditEntry.objects.get(verb="person.update")
    assert entry.data == {"changes": {"phone": ["138****5678", "139****8888"]}}


def test_update_refusals_change_nothing(city, client_a, person_a):
    before = snapshot()
    response = patch(client_a, person_a, {"phone": "12345", "address": "新地址"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "phone", "message": "手机号应为以1开头的11位数字"}]
    }
    other = make_person(city.grid_a, "李四")
    before = snapshot()
    response = patch(client_a, other, {"id_number": ID_NUMBER})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "id_number", "message": "该身份证号已登记，一人只能有一条实名记录"}]
    }
    assert snapshot() == before
    person = Person.objects.get(pk=person_a.pk)
    assert (person.phone, person.address) == (PHONE, "")


def test_update_moves_and_tags(city, client_a, person_a):
    tag = Tag.objects.get(name="独居老人")
    response = patch(
        client_a, person_a, {"org_id": city.community_a.pk, "tag_ids": [tag.pk], "id_number": ""}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["org_id"], body["tags"]) == (
        city.community_a.pk,
        [{"id": tag.pk, "name": "独居老人", "category": "elderly"}],
    )
    assert body["id_number_masked"] == "1101**********002X"  # empty id_number: unchanged
    response = patch(client_a, person_a, {"org_id": city.grid_b.pk})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "org_id", "message": "请选择您有权登记的社区或网格"}]
    }


def test_read_only_role_gets_403_on_update(city, bearer, person_a):
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    response = patch(bearer(leader), person_a, {"address": "x"})
    assert response.status_code == 403
    assert response.json() == {"detail": "您没有修改该居民信息的权限"}


# --- reveal ------------------------------------------------------------------------------


def test_reveal_is_audited(city, client_a, person_a):
    response = client_a.post(
        f"/api/v1/people/{person_a.pk}/reveal",
        {"reason": "上门服务核对身份"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {"id_number": ID_NUMBER, "phone": PHONE}
    assert response["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.get(verb="person.reveal")
    assert entry.actor == city.worker_a
    assert entry.target_id == str(person_a.pk)
    assert entry.data == {"fields": ["id_number", "phone"], "reason": "上门服务核对身份"}
    assert ID_NUMBER not in str(entry.data)

    response = client_a.generic("POST", f"/api/v1/people/{person_a.pk}/reveal")  # no body
    assert response.status_code == 200
    assert AuditEntry.objects.filter(verb="person.reveal").count() == 2


def test_reveal_needs_the_permission(city, bearer, person_a):
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    response = bearer(leader).post(
        f"/api/v1/people/{person_a.pk}/reveal", {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "您没有查看完整证件号码的权限"}
    assert not AuditEntry.objects.filter(verb="person.reveal").exists()


# --- pagination and the N+1 guard ----------------------------------------------------------


def test_pagination_is_stable_and_complete(city, client_a):
    for i in range(7):
        make_person(city.grid_a, "张三", address=str(i))  # same name: the id breaks ties
    seen = []
    for offset in (0, 3, 6):
        response = client_a.get(f"/api/v1/people?limit=3&offset={offset}")
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 7
        seen += [p["id"] for p in body["items"]]
    assert seen == sorted(Person.objects.values_list("pk", flat=True))
    response = client_a.get("/api/v1/people?limit=3&offset=7")
    assert response.json() == {"items": [], "count": 7}
    assert client_a.get("/api/v1/people?limit=501").status_code == 422
    assert client_a.get("/api/v1/people?offset=-1").status_code == 422


def test_list_query_count_does_not_grow_with_rows(city, client_a):
    tags = [Tag.objects.create(name=f"标签{i}") for i in range(3)]

    def add(n: int) -> None:
        for _ in range(n):
            make_person(city.grid_a).tags.set(tags)

    def measure() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client_a.get("/api/v1/people?limit=100")
        assert response.status_code == 200
        return len(queries), len(response.json()["items"])

    add(2)
    measure()  # warm up: marks the token used
    few_queries, few = measure()
    add(25)
    many_queries, many = measure()
    assert (few, many) == (2, 27)
    assert many_queries == few_queries
    # And the same holds for one filtered by tag (distinct) and searched.
    with CaptureQueriesContext(connection) as queries:
        client_a.get(f"/api/v1/people?limit=100&tag={tags[0].pk}&q=zs")
    assert len(queries) <= few_queries + 1  # + the tag check
