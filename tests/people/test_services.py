"""Writes on people: validation, encryption, uniqueness, scope, audit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from huzhu.common.models import AuditEntry
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, Tag
from huzhu.people.services import person_create, person_reveal, person_update
from tests.factories import UserFactory, grant, make_org, make_person

pytestmark = pytest.mark.django_db

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

DUPLICATE = "该身份证号已登记，一人只能有一条实名记录"
BAD_PHONE = "手机号应为以1开头的11位数字"
BAD_CHECKSUM = "身份证号校验位不正确，请核对后重新输入"


def build_id(area: str, birth: dt.date, order: int) -> str:
    body = f"{area}{birth:%Y%m%d}{order:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


# 110105 19491231 002 X: the standard's example; its 15-digit form is 110105491231002.
ID_X = "11010519491231002X"
ID_MALE = build_id("370102", dt.date(1985, 7, 9), 123)
PHONE = "13800138000"


@pytest.fixture
def scope_a(city):
    return Scope.for_user(city.worker_a)


def create(city, scope, **kwargs):
    values = {"org": city.community_a, "name": "张三", "id_number": ID_X, "phone": PHONE}
    values.update(kwargs)
    return person_create(actor=city.worker_a, scope=scope, **values)


def state():
    return (
        list(Person.objects.order_by("pk").values()),
        list(Person.tags.through.objects.order_by("pk").values()),
        list(AuditEntry.objects.order_by("pk").values()),
    )


def all_strings(row: dict) -> list[str]:
    return [value for value in row.values() if isinstance(value, str)]


# --- person_create ------------------------------------------------------------------------


def test_person_create_derives_and_masks(city, scope_a):
    person = create(city, scope_a, name=" 张三 ", address=" 解放路1号 ")
    person.refresh_from_db()
    assert person.org == city.community_a
    assert (person.name, person.name_initials, person.name_pinyin) == ("张三", "zs", "zhangsan")
    assert (person.gender, person.birth_date) == ("F", dt.date(1949, 12, 31))
    assert person.id_number_masked == "1101**********002X"
    assert person.phone_masked == "138****8000"
    assert person.address == "解放路1号"
    assert (person.id_number, person.phone) == (ID_X, PHONE)
    male = create(city, scope_a, id_number=ID_MALE, phone="", name="欧阳娜娜")
    assert (male.gender, male.birth_date) == ("M", dt.date(1985, 7, 9))
    assert (male.name_initials, male.name_pinyin) == ("oynn", "ouyangnana")
    assert (male.phone_encrypted, male.phone_hash, male.phone_masked, male.phone) == ("",) * 4


def test_person_create_stores_no_plaintext(city, scope_a):
    person = create(city, scope_a, id_number="110105491231002", phone="+86 138-0013-8000")
    row = Person.objects.filter(pk=person.pk).values().get()
    for value in all_strings(row):
        for plain in (ID_X, ID_X.lower(), "110105491231002", PHONE):
            assert plain not in value, (value, plain)
    assert row["id_number_masked"] == "1101**********002X"
    assert row["phone_masked"] == "138****8000"
    entry = AuditEntry.objects.get(verb="person.create")
    text = json.dumps(entry.data, ensure_ascii=False) + entry.target_label
    for plain in (ID_X, "110105491231002", PHONE):
        assert plain not in text
    assert entry.data == {
        "name": "张三",
        "id_number": "1101**********002X",
        "phone": "138****8000",
        "org": "甲社区",
        "tags": [],
    }
    assert (entry.actor, entry.org_path) == (city.worker_a, city.community_a.path)


@pytest.mark.parametrize(
    "same_id",
    [
        ID_X,
        "11010519491231002x",  # lowercase x
        "110105491231002",  # the 15-digit form
        "110105 19491231 002X",
        "１１０１０５１９４９１２３１００２ｘ",  # full-width
    ],
)
def test_one_person_one_record(city, scope_a, same_id):
    create(city, scope_a)
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        create(city, scope_a, name="李四", id_number=same_id, phone="13900139000")
    assert exc_info.value.message_dict == {"id_number": [DUPLICATE]}
    assert state() == before


def test_duplicate_across_communities(city, scope_a):
    create(city, scope_a)
    with pytest.raises(ValidationError) as exc_info:
        person_create(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            org=city.community_b,
            name="张三",
            id_number=ID_X.lower(),
        )
    assert exc_info.value.message_dict == {"id_number": [DUPLICATE]}


@pytest.mark.parametrize(
    ("kwargs", "errors"),
    [
        ({"phone": "12800138000"}, {"phone": [BAD_PHONE]}),
        ({"phone": "1380013800"}, {"phone": [BAD_PHONE]}),
        ({"id_number": "11010519491231003X"}, {"id_number": [BAD_CHECKSUM]}),
        ({"id_number": ""}, {"id_number": ["身份证号不能为空"]}),
        ({"name": "  "}, {"name": ["姓名不能为空"]}),
        ({"name": "张" * 51}, {"name": ["姓名不能超过50个字"]}),
        ({"status": "gone"}, {"status": ["未知的居住状态"]}),
        (
            {"name": "", "phone": "123", "id_number": "1"},
            {
                "name": ["姓名不能为空"],
                "id_number": ["身份证号应为18位（前17位为数字，末位为数字或X），或15位旧号码"],
                "phone": [BAD_PHONE],
            },
        ),
    ],
)
def test_invalid_input_is_refused_and_nothing_is_written(city, scope_a, kwargs, errors):
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        create(city, scope_a, **kwargs)
    assert exc_info.value.message_dict == errors
    assert state() == before


def test_org_must_be_a_residence_in_the_actors_scope(city, scope_a):
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        create(city, scope_a, org=city.community_b)
    assert exc_info.value.message_dict == {"org": ["请选择您有权登记的社区或网格"]}
    superuser_scope = Scope(user_id=0, is_superuser=True)
    for org in (city.street, city.district):
        with pytest.raises(ValidationError) as exc_info:
            create(city, superuser_scope, org=org)
        assert exc_info.value.message_dict == {"org": ["居民只能登记在社区或网格下"]}
    leader = UserFactory(username="leader")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    with pytest.raises(ValidationError) as exc_info:
        create(city, Scope.for_user(leader))
    assert exc_info.value.message_dict == {"org": ["请选择您有权登记的社区或网格"]}
    assert state() == before
    assert create(city, scope_a, org=city.grid_a).org == city.grid_a


def test_person_create_with_tags(city, scope_a):
    lonely, poor = Tag.objects.get(name="独居老人"), Tag.objects.get(name="低保")  # seeded
    person = create(city, scope_a, tags=[poor, lonely])
    assert set(person.tags.all()) == {lonely, poor}
    assert AuditEntry.objects.get(verb="person.create").data["tags"] == ["低保", "独居老人"]


# --- person_update ------------------------------------------------------------------------


def test_person_update_audits_a_masked_diff(city, scope_a):
    lonely = Tag.objects.get(name="独居老人")
    person = create(city, scope_a)
    person_update(
        actor=city.worker_a,
        scope=scope_a,
        person=person,
        name="张三",  # unchanged: not in the diff
        phone="139 0013 9000",
        id_number=ID_MALE,
        address="解放路2号",
        org=city.grid_a,
        tags=[lonely],
    )
    person.refresh_from_db()
    assert (person.id_number, person.phone) == (ID_MALE, "13900139000")
    assert (person.gender, person.birth_date) == ("M", dt.date(1985, 7, 9))
    assert person.org == city.grid_a
    entry = AuditEntry.objects.get(verb="person.update")
    assert entry.actor == city.worker_a
    assert entry.data == {
        "changes": {
            "id_number": ["1101**********002X", f"3701**********{ID_MALE[-4:]}"],
            "phone": ["138****8000", "139****9000"],
            "address": ["", "解放路2号"],
            "org": ["甲社区", "甲社区第一网格"],
            "tags": [[], ["独居老人"]],
        }
    }
    text = json.dumps(entry.data, ensure_ascii=False)
    for plain in (ID_X, ID_MALE, PHONE, "13900139000"):
        assert plain not in text


def test_empty_id_number_keeps_the_old_one(city, scope_a):
    person = create(city, scope_a)
    row = Person.objects.values("id_number_encrypted", "id_number_hash", "id_number_masked")
    before = row.get(pk=person.pk)
    person_update(actor=city.worker_a, scope=scope_a, person=person, id_number="  ", name="李四")
    assert row.get(pk=person.pk) == before
    person.refresh_from_db()
    assert (person.name, person.name_initials, person.id_number) == ("李四", "ls", ID_X)
    assert AuditEntry.objects.get(verb="person.update").data == {
        "changes": {"name": ["张三", "李四"]}
    }


def test_unchanged_update_writes_no_audit_entry(city, scope_a):
    person = create(city, scope_a)
    count = AuditEntry.objects.count()
    person_update(
        actor=city.worker_a, scope=scope_a, person=person, name="张三", phone="138-0013-8000"
    )
    assert AuditEntry.objects.count() == count


def test_empty_phone_clears_it(city, scope_a):
    person = create(city, scope_a)
    person_update(actor=city.worker_a, scope=scope_a, person=person, phone="")
    person.refresh_from_db()
    assert (person.phone_encrypted, person.phone_hash, person.phone_masked) == ("", "", "")


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"name": "李四", "phone": "12345"}, {"phone": [BAD_PHONE]}),
        ({"address": "新地址", "id_number": "11010519491231003X"}, {"id_number": [BAD_CHECKSUM]}),
        ({"name": "李四", "id_number": "<other>"}, {"id_number": [DUPLICATE]}),
        ({"name": "李四", "status": "gone"}, {"status": ["未知的居住状态"]}),
        ({"name": "李四", "org": "<corps>"}, {"org": ["居民只能登记在社区或网格下"]}),
        ({"name": "李四", "org": "<street>"}, {"org": ["请选择您有权登记的社区或网格"]}),
        ({"name": "李四", "org": "<community_b>"}, {"org": ["请选择您有权登记的社区或网格"]}),
    ],
)
def test_failed_update_changes_nothing(city, scope_a, changes, errors):
    person = create(city, scope_a)
    other = create(city, scope_a, name="王五", id_number=ID_MALE, phone="")
    placeholders = {
        "<other>": other.id_number.lower(),
        "<street>": city.street,
        "<corps>": make_org(OrgKind.CORPS, "志愿者总队", city.community_a),
        "<community_b>": city.community_b,
    }
    changes = {k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}
    before = state()
    with pytest.raises(ValidationError) as exc_info:
        person_update(actor=city.worker_a, scope=scope_a, person=person, **changes)
    assert exc_info.value.message_dict == errors
    assert state() == before


def test_update_of_unknown_fields_is_refused(city, scope_a):
    person = create(city, scope_a)
    with pytest.raises(ValidationError) as exc_info:
        person_update(actor=city.worker_a, scope=scope_a, person=person, gender="M")
    assert exc_info.value.messages == ["不能修改这些字段：gender"]


def test_sibling_worker_cannot_update(city, scope_a):
    person = create(city, scope_a)
    before = state()
    with pytest.raises(PermissionDenied, match="您没有修改该居民信息的权限"):
        person_update(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            person=person,
            name="李四",
        )
    assert state() == before


# --- person_reveal ------------------------------------------------------------------------


def test_person_reveal_is_audited(city, scope_a):
    person = create(city, scope_a)
    revealed = person_reveal(actor=city.worker_a, scope=scope_a, person=person, reason="上门核实")
    assert revealed == {"id_number": ID_X, "phone": PHONE}
    entry = AuditEntry.objects.get(verb="person.reveal")
    assert (entry.actor, entry.target_id, entry.org_path) == (
        city.worker_a,
        str(person.pk),
        city.community_a.path,
    )
    assert entry.data == {"fields": ["id_number", "phone"], "reason": "上门核实"}


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.TEAM_LEADER, Role.PARTY_WORKER])
def test_person_reveal_refused_for_read_only_roles(city, scope_a, role):
    person = create(city, scope_a)
    user = UserFactory(username=f"u-{role}")
    grant(user, city.street, role)
    before = state()
    with pytest.raises(PermissionDenied, match="您没有查看完整证件号码的权限"):
        person_reveal(actor=user, scope=Scope.for_user(user), person=person)
    assert state() == before


def test_person_reveal_refused_outside_scope(city, scope_a):
    person = create(city, scope_a)
    with pytest.raises(PermissionDenied):
        person_reveal(actor=city.worker_b, scope=Scope.for_user(city.worker_b), person=person)
    with pytest.raises(PermissionDenied):
        person_reveal(actor=None, scope=Scope.anonymous(), person=person)
    assert not AuditEntry.objects.filter(verb="person.reveal").exists()


def test_factory_person_is_valid(city):
    person = make_person(city.grid_b, "李四")
    assert person.name_initials == "ls"
    assert len(person.id_number) == 18
