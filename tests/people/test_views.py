"""The people pages: list and search, exact lookup, register, edit, detail, reveal, me, tags."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.people.models import Person, Tag
from tests.factories import UserFactory, grant, make_id_number, make_person

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def worker_a(city) -> Client:
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    return client_for(city.worker_b)


def body(response) -> str:
    return response.content.decode()


def names_in(response) -> set[str]:
    return {p.name for p, _tags in response.context["rows"]}


# --- list and search -----------------------------------------------------------------------


def test_search_by_pinyin_initials_finds_zhang_san(city, worker_a):
    make_person(city.community_a, "张三")
    make_person(city.community_a, "李四")
    response = worker_a.get(reverse("people:list"), {"q": "zs"})
    assert response.status_code == 200
    assert names_in(response) == {"张三"}
    assert "张三" in body(response)
    assert "李四" not in body(response)


@pytest.mark.parametrize("query", ["zhangsan", "Zhang San", "张", "ZS"])
def test_search_by_full_pinyin_and_name(city, worker_a, query):
    make_person(city.community_a, "张三")
    make_person(city.community_a, "李四")
    response = worker_a.get(reverse("people:list"), {"q": query})
    assert names_in(response) == {"张三"}


def test_search_by_visible_id_suffix(city, worker_a):
    id_x = make_id_number(dt.date(1950, 3, 1))
    while not id_x.endswith("X"):  # find one ending in X to check lower-case input too
        id_x = make_id_number(dt.date(1950, 3, 1))
    target = make_person(city.community_a, "王五", id_number=id_x)
    make_person(city.community_a, "赵六", id_number=make_id_number(dt.date(1960, 1, 1)))
    suffix = target.id_number_masked[-4:]
    assert suffix == id_x[-4:]
    response = worker_a.get(reverse("people:list"), {"q": suffix.lower()})
    assert names_in(response) == {"王五"}


def test_search_is_limited_to_scope(city, worker_a, worker_b):
    make_person(city.community_a, "张三")
    make_person(city.community_b, "张思")
    assert names_in(worker_a.get(reverse("people:list"), {"q": "zs"})) == {"张三"}
    assert names_in(worker_b.get(reverse("people:list"), {"q": "zs"})) == {"张思"}


def test_long_number_query_is_refused_with_a_hint_and_not_echoed(city, worker_a):
    id_number = make_id_number()
    make_person(city.community_a, "张三", id_number=id_number)
    hint = "请使用姓名、拼音首字母或证件号后四位搜索；完整号码请用精确查找"
    for query in (id_number, "13912345678", "110105", "1101 0519", "x" * 60 + id_number):
        # plain GET: redirected to a URL without the number, the hint shown as a message
        response = worker_a.get(reverse("people:list"), {"q": query, "status": "active"})
        assert response.status_code == 302
        assert query.replace(" ", "") not in response["Location"].replace("+", "")
        assert "status=active" in response["Location"]
        page = worker_a.get(response["Location"])
        html = body(page)
        assert hint in html
        assert query not in html
        assert "按证件号/手机号精确查找" in html
        assert 'id="hz-lookup" open' in html
        # HTMX: the results partial carries the hint, and the URL pushed is the clean one
        partial = worker_a.get(
            reverse("people:list"),
            {"q": query},
            headers={"HX-Request": "true", "HX-Target": "person-results"},
        )
        assert hint in body(partial)
        assert query not in body(partial)
        assert partial.context["rows"] == []
        assert query.replace(" ", "") not in partial["HX-Replace-Url"]


def test_htmx_search_returns_only_the_results_partial(city, worker_a):
    make_person(city.community_a, "张三")
    response = worker_a.get(
        reverse("people:list"),
        {"q": "zs"},
        headers={"HX-Request": "true", "HX-Target": "person-results"},
    )
    html = body(response)
    assert "<html" not in html
    assert "张三" in html
    assert "HX-Request" in response["Vary"]
    full = worker_a.get(reverse("people:list"), {"q": "zs"})
    assert "<html" in body(full)
    assert 'hx-get="/people/"' in body(full)


def test_filters_org_tag_status_gender_and_age(city, worker_a):
    today = dt.date.today()
    old = make_person(
        city.grid_a, "高龄", id_number=make_id_number(today.replace(year=today.year - 85))
    )
    make_person(
        city.community_a,
        "青年",
        id_number=make_id_number(today.replace(year=today.year - 30), male=False),
    )
    make_person(
        city.community_a,
        "迁出",
        id_number=make_id_number(today.replace(year=today.year - 65)),
        status="moved_out",
    )
    tag = Tag.objects.get(name="独居老人")
    old.tags.add(tag)
    url = reverse("people:list")
    assert names_in(worker_a.get(url, {"org": city.grid_a.pk})) == {"高龄"}
    assert names_in(worker_a.get(url, {"tag": tag.pk})) == {"高龄"}
    assert names_in(worker_a.get(url, {"status": "moved_out"})) == {"迁出"}
    assert names_in(worker_a.get(url, {"gender": "F"})) == {"青年"}
    assert names_in(worker_a.get(url, {"age": "80+"})) == {"高龄"}
    assert names_in(worker_a.get(url, {"age": "60+"})) == {"高龄", "迁出"}
    assert names_in(worker_a.get(url, {"age": "18-59"})) == {"青年"}
    # an org outside the scope is not a choice: the filter is dropped, scope still applies
    response = worker_a.get(url, {"org": city.community_b.pk})
    assert names_in(response) == {"高龄", "青年", "迁出"}
    assert "乙社区" not in body(response)


def test_list_shows_masked_numbers_only(city, worker_a):
    id_number, phone = make_id_number(), "13912345678"
    person = make_person(city.community_a, "张三", id_number=id_number, phone=phone)
    html = body(worker_a.get(reverse("people:list")))
    assert person.id_number_masked in html
    assert "139****5678" in html
    assert id_number not in html
    assert phone not in html


def test_sensitive_tags_hidden_from_view_only_roles(city, worker_a):
    person = make_person(city.community_a, "张三")
    person.tags.add(Tag.objects.get(name="低保"), Tag.objects.get(name="独居老人"))
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    assert "低保" in body(worker_a.get(reverse("people:list")))
    html = body(client_for(leader).get(reverse("people:list")))
    assert "独居老人" in html
    assert "低保" not in html


def test_pagination_50_per_page(city, worker_a):
    for i in range(53):
        make_person(city.community_a, f"居民{i:02d}")
    first = worker_a.get(reverse("people:list"))
    assert len(first.context["rows"]) == 50
    second = worker_a.get(reverse("people:list"), {"page": 2})
    assert len(second.context["rows"]) == 3


def _count_queries(client: Client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_does_not_grow_with_rows(city, worker_a):
    tags = list(Tag.objects.all()[:3])

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            person = make_person(city.grid_a if i % 2 else city.community_a, f"居民{i:02d}")
            person.tags.add(*tags[: i % 3 + 1])

    url = reverse("people:list")
    add(5, 0)
    few = _count_queries(worker_a, url)
    few_filtered = _count_queries(worker_a, url, {"q": "jm", "tag": tags[0].pk, "age": "18-59"})
    add(25, 5)
    assert Person.objects.count() == 30
    assert _count_queries(worker_a, url) == few
    assert (
        _count_queries(worker_a, url, {"q": "jm", "tag": tags[0].pk, "age": "18-59"})
        == few_filtered
    )


def test_people_list_refused_without_person_view(city):
    nobody = UserFactory(username="nobody")
    assert client_for(nobody).get(reverse("people:list")).status_code == 403


# --- exact lookup --------------------------------------------------------------------------


def test_lookup_by_full_id_redirects_to_person(city, worker_a):
    id_number = make_id_number()
    person = make_person(city.community_a, "张三", id_number=id_number)
    spaced = f"{id_number[:6]} {id_number[6:14]} {id_number[14:]}".lower()
    response = worker_a.post(reverse("people:lookup"), {"number": spaced})
    assert response.status_code == 302
    assert response["Location"] == reverse("people:detail", kwargs={"person_id": person.pk})


def test_lookup_by_phone(city, worker_a):
    person = make_person(city.community_a, "张三", phone="13912345678")
    response = worker_a.post(reverse("people:lookup"), {"number": "+86 139-1234-5678"})
    assert response["Location"] == reverse("people:detail", kwargs={"person_id": person.pk})


def test_lookup_shared_phone_lists_the_household(city, worker_a):
    make_person(city.community_a, "张三", phone="13912345678")
    make_person(city.community_a, "张四", phone="13912345678")
    response = worker_a.post(reverse("people:lookup"), {"number": "13912345678"})
    assert response.status_code == 200
    assert names_in(response) == {"张三", "张四"}
    assert "13912345678" not in body(response)


def test_lookup_out_of_scope_is_the_same_as_missing(city, worker_b):
    id_number = make_id_number()
    make_person(city.community_a, "张三", id_number=id_number)
    out_of_scope = worker_b.post(reverse("people:lookup"), {"number": id_number})
    missing = worker_b.post(reverse("people:lookup"), {"number": make_id_number()})
    for response in (out_of_scope, missing):
        assert response.status_code == 200
        assert "未找到与该号码匹配的居民" in body(response)
        assert "张三" not in body(response)
        assert id_number not in body(response)


def test_lookup_rejects_what_is_not_a_number(city, worker_a):
    response = worker_a.post(reverse("people:lookup"), {"number": "12345"})
    assert "请输入完整的18位（或15位）身份证号，或11位手机号" in body(response)


def test_lookup_get_does_not_take_a_number(city, worker_a):
    response = worker_a.get(reverse("people:lookup"))
    assert response.status_code == 302
    assert response["Location"] == reverse("people:list")


# --- create and edit -----------------------------------------------------------------------


def _person_data(city, **overrides):
    data = {
        "name": "张三",
        "id_number": make_id_number(dt.date(1948, 5, 6)),
        "phone": "13912345678",
        "org": city.grid_a.pk,
        "address": "甲社区1号楼101",
        "status": "active",
        "notes": "",
        "tags": [Tag.objects.get(name="独居老人").pk],
    }
    data.update(overrides)
    return data


def test_create_person(city, worker_a):
    data = _person_data(city)
    response = worker_a.post(reverse("people:create"), data)
    person = Person.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("people:detail", kwargs={"person_id": person.pk})
    assert person.org == city.grid_a
    assert person.id_number == data["id_number"]
    assert [t.name for t in person.tags.all()] == ["独居老人"]
    assert AuditEntry.objects.filter(verb="person.create", target_id=str(person.pk)).exists()


def test_create_with_invalid_id_shows_error_and_creates_nothing(city, worker_a):
    good = make_id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = worker_a.post(reverse("people:create"), _person_data(city, id_number=bad))
    assert response.status_code == 200
    html = body(response)
    assert "身份证号校验位不正确" in html
    assert response.context["form"].errors["id_number"]
    assert Person.objects.count() == 0
    assert not AuditEntry.objects.filter(verb="person.create").exists()


def test_create_with_bad_phone_names_the_field(city, worker_a):
    response = worker_a.post(reverse("people:create"), _person_data(city, phone="12345"))
    assert "手机号应为以1开头的11位数字" in response.context["form"].errors["phone"][0]
    assert Person.objects.count() == 0


def test_duplicate_id_is_refused(city, worker_a, worker_b):
    id_number = make_id_number()
    make_person(city.community_a, "张三", id_number=id_number)
    # even from a sibling community that cannot see the first record
    response = worker_b.post(
        reverse("people:create"),
        _person_data(city, name="张叁", id_number=id_number, org=city.community_b.pk),
    )
    assert response.status_code == 200
    assert "该身份证号已登记，一人只能有一条实名记录" in body(response)
    assert Person.objects.count() == 1


def test_create_cannot_place_a_person_outside_scope(city, worker_b):
    response = worker_b.post(reverse("people:create"), _person_data(city))
    assert response.status_code == 200
    assert response.context["form"].errors["org"]
    assert Person.objects.count() == 0


def test_create_refused_for_view_only_role(city):
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    client = client_for(leader)
    assert client.get(reverse("people:create")).status_code == 403
    assert client.post(reverse("people:create"), _person_data(city)).status_code == 403
    assert Person.objects.count() == 0


def test_edit_form_starts_with_masked_placeholders(city, worker_a):
    id_number, phone = make_id_number(), "13912345678"
    person = make_person(city.community_a, "张三", id_number=id_number, phone=phone)
    response = worker_a.get(reverse("people:edit", kwargs={"person_id": person.pk}))
    html = body(response)
    assert response.status_code == 200
    assert f'placeholder="{person.id_number_masked}"' in html
    assert 'placeholder="139****5678"' in html
    assert "清除手机号" in html
    assert id_number not in html
    assert phone not in html
    assert response.context["form"]["id_number"].value() in (None, "")


def test_edit_with_empty_numbers_keeps_them(city, worker_a):
    id_number = make_id_number()
    person = make_person(city.community_a, "张三", id_number=id_number, phone="13912345678")
    data = _person_data(city, id_number="", phone="", address="新地址", tags=[])
    response = worker_a.post(reverse("people:edit", kwargs={"person_id": person.pk}), data)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.id_number == id_number
    assert person.phone == "13912345678"
    assert person.address == "新地址"


def test_edit_phone_shows_masked_old_and_new_in_history(city, worker_a):
    person = make_person(city.community_a, "张三", phone="13912345678")
    data = _person_data(city, id_number="", phone="13800001111", org=city.community_a.pk)
    response = worker_a.post(reverse("people:edit", kwargs={"person_id": person.pk}), data)
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.phone == "13800001111"
    history = worker_a.get(reverse("common:person_history", kwargs={"person_id": person.pk}))
    html = body(history)
    assert "修改居民信息" in html
    assert "手机号" in html
    assert "139****5678" in html
    assert "138****1111" in html
    assert "13912345678" not in html
    assert "13800001111" not in html
    item = next(i for i in history.context["items"] if i.entry.verb == "person.update")
    assert ("手机号", "139****5678", "138****1111") in item.changes


def test_edit_clear_phone(city, worker_a):
    person = make_person(city.community_a, "张三", phone="13912345678")
    data = _person_data(city, id_number="", phone="", clear_phone="on")
    worker_a.post(reverse("people:edit", kwargs={"person_id": person.pk}), data)
    person.refresh_from_db()
    assert person.phone == ""
    assert person.phone_masked == ""


def test_edit_error_saves_nothing(city, worker_a):
    person = make_person(city.community_a, "张三", phone="13912345678")
    data = _person_data(city, name="李四", id_number="", phone="999")
    response = worker_a.post(reverse("people:edit", kwargs={"person_id": person.pk}), data)
    assert response.status_code == 200
    assert "手机号应为以1开头的11位数字" in body(response)
    person.refresh_from_db()
    assert person.name == "张三"
    assert not AuditEntry.objects.filter(verb="person.update").exists()


def test_edit_to_an_id_already_registered_is_refused(city, worker_a):
    taken = make_id_number()
    make_person(city.community_a, "张三", id_number=taken)
    other = make_person(city.community_a, "李四")
    data = _person_data(city, name="李四", id_number=taken, phone="")
    response = worker_a.post(reverse("people:edit", kwargs={"person_id": other.pk}), data)
    assert "该身份证号已登记，一人只能有一条实名记录" in body(response)
    assert taken not in body(response).replace(f'value="{taken}"', "")


def test_edit_refused_for_view_only_role(city):
    person = make_person(city.community_a, "张三")
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    url = reverse("people:edit", kwargs={"person_id": person.pk})
    client = client_for(leader)
    assert client.get(url).status_code == 403
    assert client.post(url, _person_data(city, name="改名")).status_code == 403
    person.refresh_from_db()
    assert person.name == "张三"


# --- detail and reveal ---------------------------------------------------------------------


def test_detail_shows_masked_identity_and_derived_fields(city, worker_a):
    id_number, phone = make_id_number(dt.date(1950, 7, 8), male=False), "13912345678"
    person = make_person(
        city.grid_a, "张三", id_number=id_number, phone=phone, address="甲社区1号楼"
    )
    person.tags.add(Tag.objects.get(name="独居老人"))
    response = worker_a.get(reverse("people:detail", kwargs={"person_id": person.pk}))
    html = body(response)
    assert response.status_code == 200
    assert person.id_number_masked in html
    assert "139****5678" in html
    assert "1950年7月8日" in html
    assert f"{person.age} 岁" in html
    assert "女" in html
    assert "独居老人" in html
    assert "甲社区第一网格" in html
    assert "显示完整号码" in html
    assert reverse("people:edit", kwargs={"person_id": person.pk}) in html
    assert reverse("common:person_history", kwargs={"person_id": person.pk}) in html
    assert id_number not in html
    assert phone not in html


def test_reveal_shows_full_numbers_and_is_audited(city, worker_a):
    id_number, phone = make_id_number(), "13912345678"
    person = make_person(city.community_a, "张三", id_number=id_number, phone=phone)
    url = reverse("people:reveal", kwargs={"person_id": person.pk})
    response = worker_a.post(url, {"reason": "上门核实"}, headers={"HX-Request": "true"})
    html = body(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert id_number in html
    assert phone in html
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get(verb="person.reveal", target_id=str(person.pk))
    assert entry.actor == city.worker_a
    assert entry.data["reason"] == "上门核实"
    assert id_number not in str(entry.data)


def test_reveal_without_htmx_renders_the_detail_page(city, worker_a):
    id_number = make_id_number()
    person = make_person(city.community_a, "张三", id_number=id_number)
    response = worker_a.post(reverse("people:reveal", kwargs={"person_id": person.pk}))
    assert "<html" in body(response)
    assert id_number in body(response)


def test_reveal_hidden_and_refused_for_roles_without_permission(city):
    id_number = make_id_number()
    person = make_person(city.community_a, "张三", id_number=id_number)
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    client = client_for(leader)
    detail = client.get(reverse("people:detail", kwargs={"person_id": person.pk}))
    assert detail.status_code == 200
    assert "显示完整号码" not in body(detail)
    response = client.post(reverse("people:reveal", kwargs={"person_id": person.pk}))
    assert response.status_code == 403
    assert id_number not in body(response)
    assert not AuditEntry.objects.filter(verb="person.reveal").exists()


def test_reveal_get_is_not_allowed(city, worker_a):
    person = make_person(city.community_a, "张三")
    response = worker_a.get(reverse("people:reveal", kwargs={"person_id": person.pk}))
    assert response.status_code == 405
    assert not AuditEntry.objects.filter(verb="person.reveal").exists()


def test_worker_b_gets_404_on_every_person_url_of_community_a(city, worker_b):
    person = make_person(city.community_a, "张三")
    pid = {"person_id": person.pk}
    calls = [  # every method each route accepts (others answer 405 to everyone)
        ("get", reverse("people:detail", kwargs=pid)),
        ("get", reverse("people:edit", kwargs=pid)),
        ("post", reverse("people:edit", kwargs=pid)),
        ("post", reverse("people:reveal", kwargs=pid)),
        ("get", reverse("common:person_history", kwargs=pid)),
    ]
    for method, url in calls:
        response = getattr(worker_b, method)(url, _person_data(city, name="改名"))
        assert response.status_code == 404, (method, url)
        assert "张三" not in body(response)
    assert not AuditEntry.objects.filter(verb__in=["person.reveal", "person.update"]).exists()
    assert Person.objects.get().name == "张三"


def test_anonymous_is_sent_to_login(city):
    person = make_person(city.community_a, "张三")
    client = Client()
    for url in (
        reverse("people:list"),
        reverse("people:create"),
        reverse("people:me"),
        reverse("people:tags"),
        reverse("people:detail", kwargs={"person_id": person.pk}),
        reverse("people:edit", kwargs={"person_id": person.pk}),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


# --- me --------------------------------------------------------------------------------------


def test_me_shows_own_record(city):
    user = UserFactory(username="resident")
    person = make_person(city.community_a, "张三", phone="13912345678")
    person.user = user
    person.save(update_fields=["user"])
    response = client_for(user).get(reverse("people:me"))
    html = body(response)
    assert response.status_code == 200
    assert "张三" in html
    assert person.id_number_masked in html
    assert "139****5678" in html
    assert "13912345678" not in html


def test_me_without_a_record_is_friendly(city):
    response = client_for(UserFactory(username="stranger")).get(reverse("people:me"))
    assert response.status_code == 200
    assert "您的账号还没有关联居民信息" in body(response)


def test_resident_sees_own_detail_but_cannot_edit_or_reveal(city):
    user = UserFactory(username="resident")
    person = make_person(city.community_a, "张三")
    person.user = user
    person.save(update_fields=["user"])
    client = client_for(user)
    pid = {"person_id": person.pk}
    assert client.get(reverse("people:detail", kwargs=pid)).status_code == 200
    assert client.get(reverse("people:edit", kwargs=pid)).status_code == 403
    assert client.post(reverse("people:reveal", kwargs=pid)).status_code == 403


# --- tags --------------------------------------------------------------------------------------


def test_tags_page_counts_people_in_scope(city, worker_a, worker_b):
    tag = Tag.objects.get(name="独居老人")
    for name in ("张三", "李四"):
        make_person(city.community_a, name).tags.add(tag)
    make_person(city.community_b, "王五").tags.add(tag)
    counts_a = {
        t.name: t.person_count for t in worker_a.get(reverse("people:tags")).context["tags"]
    }
    counts_b = {
        t.name: t.person_count for t in worker_b.get(reverse("people:tags")).context["tags"]
    }
    assert counts_a["独居老人"] == 2
    assert counts_b["独居老人"] == 1
    assert counts_a["低保"] == 0


def test_admin_adds_a_tag_and_worker_cannot(city, worker_a):
    admin = UserFactory(username="admin-a")
    grant(admin, city.community_a, Role.ADMIN)
    client = client_for(admin)
    page = client.get(reverse("people:tags"))
    assert "添加标签" in body(page)
    response = client.post(
        reverse("people:tags"), {"name": "新市民", "category": "other", "description": ""}
    )
    assert response.status_code == 302
    assert Tag.objects.filter(name="新市民").exists()
    assert AuditEntry.objects.filter(verb="tag.create").exists()
    duplicate = client.post(reverse("people:tags"), {"name": "新市民", "category": "other"})
    assert "标签“新市民”已存在" in body(duplicate)

    assert "添加标签" not in body(worker_a.get(reverse("people:tags")))
    refused = worker_a.post(reverse("people:tags"), {"name": "另一个", "category": "other"})
    assert refused.status_code == 403
    assert not Tag.objects.filter(name="另一个").exists()


def test_tag_create_refuses_an_unknown_category(city):
    from django.core.exceptions import ValidationError

    from huzhu.orgs.scope import Scope
    from huzhu.people.services import tag_create

    with pytest.raises(ValidationError) as exc:
        tag_create(
            actor=None, scope=Scope(user_id=0, is_superuser=True), name="新", category="nope"
        )
    assert exc.value.message_dict == {"category": ["未知的标签类别"]}
    assert not Tag.objects.filter(name="新").exists()
