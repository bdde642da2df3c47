"""Reads on people: search, filters, scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, Tag
from huzhu.people.selectors import person_get, person_list
from tests.factories import UserFactory, make_person

pytestmark = pytest.mark.django_db

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
TODAY = dt.date(2024, 6, 15)


def build_id(area: str, birth: dt.date, order: int) -> str:
    body = f"{area}{birth:%Y%m%d}{order:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


@pytest.fixture
def people(city):
    lonely, poor = Tag.objects.get(name="独居老人"), Tag.objects.get(name="低保")
    zhang_san = make_person(
        city.grid_a, "张三", build_id("370102", dt.date(1964, 6, 15), 101)
    )  # 60 on TODAY
    zhang_wei = make_person(
        city.community_a, "张伟", build_id("370102", dt.date(1964, 6, 16), 102)
    )  # 59 on TODAY
    ouyang = make_person(city.community_a, "欧阳娜娜", "11010519491231002X")  # 74, female
    li_si = make_person(
        city.grid_a, "李四", build_id("370102", dt.date(2010, 2, 28), 103), status="moved_out"
    )  # 14
    sanfeng = make_person(
        city.community_b, "张三丰", build_id("370102", dt.date(1950, 1, 1), 105)
    )  # in B
    zhang_san.tags.set([lonely])
    zhang_wei.tags.set([lonely, poor])
    sanfeng.tags.set([lonely])
    return {
        "张三": zhang_san,
        "张伟": zhang_wei,
        "欧阳娜娜": ouyang,
        "李四": li_si,
        "张三丰": sanfeng,
        "lonely": lonely,
        "poor": poor,
    }


def names(qs) -> list[str]:
    return [p.name for p in qs]


def listed(city, **kwargs) -> list[str]:
    return names(person_list(scope=Scope.for_user(city.worker_a), today=TODAY, **kwargs))


def test_default_order_is_by_pinyin(city, people):
    assert listed(city) == ["李四", "欧阳娜娜", "张三", "张伟"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张", ["张三", "张伟"]),
        ("三", ["张三"]),  # 张三丰 is in community B
        ("欧阳", ["欧阳娜娜"]),
        ("zs", ["张三"]),
        ("ZS", ["张三"]),
        (" zw ", ["张伟"]),
        ("z", ["张三", "张伟"]),
        ("oynn", ["欧阳娜娜"]),
        ("zhang", ["张三", "张伟"]),
        ("zhangw", ["张伟"]),
        ("ouyangnana", ["欧阳娜娜"]),
        ("LiSi", ["李四"]),
        ("002X", ["欧阳娜娜"]),  # the visible suffix of 1101**********002X
        ("002x", ["欧阳娜娜"]),
        ("02X", ["欧阳娜娜"]),
        ("xyz", []),
        ("王", []),
        ("", ["李四", "欧阳娜娜", "张三", "张伟"]),
    ],
)
def test_search(city, people, text, expected):
    assert listed(city, search=text) == expected


def test_search_by_masked_suffix_of_each_person(city, people):
    for name in ("张三", "张伟", "李四"):
        suffix = people[name].id_number_masked[-4:]
        assert listed(city, search=suffix) == [name]


def test_search_within_the_other_community(city, people):
    scope_b = Scope.for_user(city.worker_b)
    assert names(person_list(scope=scope_b, search="张")) == ["张三丰"]
    assert names(person_list(scope=scope_b, search="zsf")) == ["张三丰"]
    assert names(person_list(scope=scope_b, search="002X")) == []


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"min_age": 60}, ["欧阳娜娜", "张三"]),
        ({"min_age": 61}, ["欧阳娜娜"]),
        ({"max_age": 59}, ["李四", "张伟"]),
        ({"max_age": 60}, ["李四", "张三", "张伟"]),
        ({"min_age": 59, "max_age": 60}, ["张三", "张伟"]),
        ({"min_age": 14, "max_age": 14}, ["李四"]),
        ({"min_age": 15, "max_age": 58}, []),
        ({"min_age": 0}, ["李四", "欧阳娜娜", "张三", "张伟"]),
    ],
)
def test_age_filters(city, people, filters, expected):
    assert listed(city, **filters) == expected


def test_age_filters_on_leap_days(city):
    make_person(city.community_a, "闰日", build_id("370102", dt.date(2000, 2, 29), 107))
    scope = Scope.for_user(city.worker_a)

    def adult(day):
        return names(person_list(scope=scope, min_age=18, today=day))

    assert adult(dt.date(2018, 2, 28)) == []  # still 17
    assert adult(dt.date(2018, 3, 1)) == ["闰日"]
    assert names(person_list(scope=scope, max_age=17, today=dt.date(2018, 2, 28))) == ["闰日"]
    assert names(person_list(scope=scope, max_age=17, today=dt.date(2018, 3, 1))) == []
    # on a leap day the birthday is exact
    assert names(person_list(scope=scope, min_age=20, today=dt.date(2020, 2, 28))) == []
    assert names(person_list(scope=scope, min_age=20, today=dt.date(2020, 2, 29))) == ["闰日"]
    assert names(person_list(scope=scope, max_age=19, today=dt.date(2020, 2, 29))) == []


def test_tag_filter(city, people):
    lonely, poor = people["lonely"].pk, people["poor"].pk
    assert listed(city, tag_ids=[lonely]) == ["张三", "张伟"]
    assert listed(city, tag_ids=[poor]) == ["张伟"]
    assert listed(city, tag_ids=[lonely, poor]) == ["张三", "张伟"]  # each once
    assert listed(city, tag_ids=[lonely], search="zw") == ["张伟"]
    assert listed(city, tag_ids=[lonely], min_age=60) == ["张三"]


def test_other_filters(city, people):
    assert listed(city, org=city.grid_a) == ["李四", "张三"]
    assert listed(city, org=city.community_a) == ["李四", "欧阳娜娜", "张三", "张伟"]
    assert listed(city, org=city.community_b) == []  # outside the scope stays outside
    assert listed(city, status="moved_out") == ["李四"]
    assert listed(city, status="active") == ["欧阳娜娜", "张三", "张伟"]
    assert listed(city, gender="F") == ["欧阳娜娜", "张伟"]
    assert listed(city, gender="M") == ["李四", "张三"]


def test_anonymous_lists_nothing(city, people):
    assert list(person_list(scope=Scope.anonymous())) == []


def test_list_does_not_load_encrypted_columns_and_has_no_n_plus_one(city, people):
    scope = Scope.for_user(city.worker_a)
    with CaptureQueriesContext(connection) as queries:
        rows = [
            (p.name, p.org.name, [t.name for t in p.tags.all()], p.get_deferred_fields())
            for p in person_list(scope=scope, tag_ids=[people["lonely"].pk])
        ]
    assert len(queries) == 2  # people with their org, then all their tags
    assert [r[:3] for r in rows] == [
        ("张三", "甲社区第一网格", ["独居老人"]),
        ("张伟", "甲社区", ["独居老人", "低保"]),
    ]
    assert all(r[3] == {"id_number_encrypted", "phone_encrypted"} for r in rows)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "_encrypted" not in sql


def test_person_get(city, people):
    zhang_san = people["张三"]
    scope_a, scope_b = Scope.for_user(city.worker_a), Scope.for_user(city.worker_b)
    assert person_get(scope=scope_a, person_id=zhang_san.pk) == zhang_san
    with pytest.raises(Http404):
        person_get(scope=scope_b, person_id=zhang_san.pk)
    with pytest.raises(Http404):
        person_get(scope=Scope.anonymous(), person_id=zhang_san.pk)
    with pytest.raises(Http404):
        person_get(scope=scope_a, person_id=Person.objects.order_by("-pk")[0].pk + 1)


def test_everyone_sees_their_own_record(city, people):
    sanfeng = people["张三丰"]
    resident = UserFactory(username="resident")
    Person.objects.filter(pk=sanfeng.pk).update(user=resident)
    scope = Scope.for_user(resident)
    assert person_get(scope=scope, person_id=sanfeng.pk) == sanfeng
    with pytest.raises(Http404):
        person_get(scope=scope, person_id=people["张三"].pk)
    assert list(person_list(scope=scope)) == []
