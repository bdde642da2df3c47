"""/api/v1/volunteers: scope, masking, worker entry (new and existing), review transitions,
profile changes, the caller's own record, the classification lists, filters, N+1."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.volunteers.availability import to_mask
from huzhu.volunteers.models import (
    PoliticalStatus,
    QualificationType,
    RegistrationSource,
    ServedGroup,
    ServiceCategory,
    Skill,
    TeamMembership,
    TeamRole,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.factories import UserFactory, grant, make_id_number, make_org, make_person

MISSING = {"detail": "未找到"}
ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
SYSTEM = Scope(user_id=0, is_superuser=True)
URL = "/api/v1/volunteers"


def register(org, name="张三", *, birth=dt.date(1970, 5, 1), actor=None, source=None, **kw):
    data = RegistrationInput(
        name=name, id_number=kw.pop("id_number", None) or make_id_number(birth), **kw
    )
    return volunteer_register(
        actor=actor,
        scope=SYSTEM,
        org=org,
        data=data,
        source=source or RegistrationSource.WORKER,
    ).volunteer


@pytest.fixture
def volunteer_a(city):
    return register(
        city.grid_a,
        "欧阳甲乙",
        id_number=ID_NUMBER,
        phone=PHONE,
        skills=["医疗", "剪纸"],
        categories=[ServiceCategory.objects.get(name="卫生健康")],
        served_groups=[ServedGroup.objects.get(name="老年人")],
        availability=to_mask(["sat_am", "sat_pm", "sat_eve"]),
        political_status=PoliticalStatus.CPC_MEMBER,
        historical_minutes=6000,
        publish_name=True,
        actor=city.worker_a,
    )


def snapshot() -> tuple[int, ...]:
    return (
        Volunteer.objects.count(),
        Person.objects.count(),
        AuditEntry.objects.count(),
        VolunteerStatusChange.objects.count(),
        Volunteer.skills.through.objects.count(),
    )


def post(client, payload, url=URL):
    return client.post(url, payload, content_type="application/json")


def patch(client, volunteer, payload):
    return client.patch(f"{URL}/{volunteer.pk}", payload, content_type="application/json")


def set_status(client, volunteer, payload):
    return post(client, payload, f"{URL}/{volunteer.pk}/status")


# --- reading --------------------------------------------------------------------------


def test_item_is_masked(city, client_a, volunteer_a):
    response = client_a.get(f"{URL}/{volunteer_a.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    medical, paper_cut = Skill.objects.get(name="医疗"), Skill.objects.get(name="剪纸")
    health = ServiceCategory.objects.get(name="卫生健康")
    elderly = ServedGroup.objects.get(name="老年人")
    person = volunteer_a.person
    assert body == {
        "id": volunteer_a.pk,
        "number": volunteer_a.number,
        "status": "registered",
        "status_label": "已注册",
        "status_reason": "",
        "source": "worker",
        "source_label": "工作人员代录",
        "person": {
            "id": person.pk,
            "name": "欧阳甲乙",
            "gender": "F",
            "age": person.age,
            "id_number_masked": "1101**********002X",
            "phone_masked": "138****5678",
        },
        "org_id": city.grid_a.pk,
        "org_name": "甲社区第一网格",
        "political_status": "cpc_member",
        "political_status_label": "中共党员",
        "skills": [
            {"id": medical.pk, "name": "医疗", "is_curated": True},
            {"id": paper_cut.pk, "name": "剪纸", "is_curated": False},
        ],
        "categories": [{"id": health.pk, "name": "卫生健康"}],
        "served_groups": [{"id": elderly.pk, "name": "老年人"}],
        "availability": ["sat_am", "sat_pm", "sat_eve"],
        "availability_label": "周六全天",
        "publish_name": True,
        "guardian_name": "",
        "guardian_phone_masked": "",
        "guardian_consent_at": None,
        "historical_minutes": 6000,
        "recorded_minutes": 6000,
        "star_level": 0,
        "teams": [],
        "approved_by": "worker-a",
        "approved_at": body["approved_at"],
        "notes": "",
        "registered_at": body["registered_at"],
        "updated_at": body["updated_at"],
    }
    assert body["approved_at"] is not None
    text = response.content.decode()
    assert ID_NUMBER not in text and PHONE not in text
    assert "19491231" not in text  # no birth date


def test_list_shows_only_own_scope(city, client_a, client_b, volunteer_a):
    register(city.grid_b, "乙志愿者")
    response = client_a.get(URL)
    assert response.status_code == 200
    assert [v["person"]["name"] for v in response.json()["items"]] == ["欧阳甲乙"]
    assert response.json()["count"] == 1
    assert ID_NUMBER not in response.content.decode()
    response = client_b.get(URL)
    assert [v["person"]["name"] for v in response.json()["items"]] == ["乙志愿者"]


def test_other_community_is_missing_and_unchanged(city, client_b, volunteer_a):
    for url in (
        f"{URL}/{volunteer_a.pk}",
        f"{URL}/999999",
        f"{URL}?org_id={city.community_a.pk}",
        f"{URL}?team_id={city.community_a.pk}",
    ):
        response = client_b.get(url)
        assert (response.status_code, response.json()) == (404, MISSING), url
    before = snapshot()
    for response in (
        patch(client_b, volunteer_a, {"notes": "x", "availability": []}),
        patch(client_b, volunteer_a, {}),
        set_status(client_b, volunteer_a, {"status": "suspended", "reason": "x"}),
        set_status(client_b, volunteer_a, {}),  # 404 before any complaint about the body
    ):
        assert (response.status_code, response.json()) == (404, MISSING)
    assert snapshot() == before
    volunteer_a.refresh_from_db()
    assert (volunteer_a.status, volunteer_a.notes) == ("registered", "")


def test_anonymous_is_refused(db, volunteer_a):
    from django.test import Client

    for url in (URL, f"{URL}/{volunteer_a.pk}", f"{URL}/me", f"{URL}/classification"):
        assert Client().get(url).status_code == 401


def test_me(city, bearer, client_a, volunteer_a):
    user = UserFactory(username="vol-a")
    Person.objects.filter(pk=volunteer_a.person_id).update(user=user)
    response = bearer(user).get(f"{URL}/me")
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["person"]["id_number_masked"]) == (
        volunteer_a.pk,
        "1101**********002X",
    )
    # Their own record by id too, though they hold no role anywhere.
    assert bearer(user).get(f"{URL}/{volunteer_a.pk}").status_code == 200
    assert bearer(user).get(URL).json() == {"items": [], "count": 0}
    response = client_a.get(f"{URL}/me")
    assert (response.status_code, response.json()) == (404, MISSING)


def test_classification(city, client_a):
    response = client_a.get(f"{URL}/classification")
    assert response.status_code == 200
    body = response.json()
    assert [c["name"] for c in body["categories"]][:3] == ["社区服务", "扶贫减贫", "支教助学"]
    assert len(body["categories"]) == 20
    assert [g["name"] for g in body["served_groups"]][:3] == ["儿童", "妇女", "老年人"]
    assert [s["name"] for s in body["skills"]][:8] == [
        "医疗",
        "护理",
        "法律",
        "心理",
        "维修",
        "水电",
        "驾驶",
        "教育",
    ]
    Skill.objects.create(name="剪纸")  # a free tag is not in the curated list
    ServiceCategory.objects.filter(name="其他").update(is_active=False)
    body = client_a.get(f"{URL}/classification").json()
    assert "剪纸" not in [s["name"] for s in body["skills"]]
    assert "其他" not in [c["name"] for c in body["categories"]]
    first_aid = QualificationType.objects.get(name="急救证")
    assert {"id": first_aid.pk, "name": "急救证", "validity_months": 36} in body[
        "qualification_types"
    ]
    assert len(body["slots"]) == 21
    assert body["slots"][0] == {"code": "mon_am", "label": "周一上午"}
    assert body["slots"][-1] == {"code": "sun_eve", "label": "周日晚上"}
    assert {"value": "cpc_member", "label": "中共党员"} in body["political_statuses"]
    assert {"value": "pending", "label": "待审核"} in body["statuses"]


# --- filters, sorting, pagination -----------------------------------------------------------


def test_filters(city, client_a, volunteer_a):
    medical = Skill.objects.get(name="医疗")
    repair = Skill.objects.get(name="维修")
    health = ServiceCategory.objects.get(name="卫生健康")
    today = timezone.localdate()
    young = register(
        city.community_a,
        "李四",
        birth=dt.date(today.year - 25, 1, 1),
        skills=["维修"],
        availability=to_mask(["mon_eve", "sat_am"]),
        political_status=PoliticalStatus.CYL_MEMBER,
    )
    Volunteer.objects.filter(pk=volunteer_a.pk).update(star_level=2)
    first_aid = QualificationType.objects.get(name="急救证")
    young.qualifications.create(
        kind=first_aid, issued_on=today - dt.timedelta(days=10), expires_on=today
    )
    team = make_org("team", "甲社区助老服务队", make_org("corps", "甲社区总队", city.community_a))
    TeamMembership.objects.create(team=team, volunteer=young, joined_on=today)

    def listed(query: str) -> list[str]:
        response = client_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [v["person"]["name"] for v in response.json()["items"]]

    assert listed("") == ["欧阳甲乙", "李四"]  # by number
    assert listed("sort=-number") == ["李四", "欧阳甲乙"]
    assert listed("sort=name") == ["李四", "欧阳甲乙"]
    assert listed("sort=-star") == ["欧阳甲乙", "李四"]
    assert listed("sort=age") == ["李四", "欧阳甲乙"]
    assert listed("q=ls") == ["李四"]
    assert listed("q=002X") == ["欧阳甲乙"]
    assert listed(f"q={young.number}") == ["李四"]
    assert listed(f"org_id={city.grid_a.pk}") == ["欧阳甲乙"]
    assert listed(f"skill={medical.pk}") == ["欧阳甲乙"]
    assert listed(f"skill={medical.pk}&skill={repair.pk}") == ["欧阳甲乙", "李四"]
    assert listed(f"category={health.pk}") == ["欧阳甲乙"]
    assert listed("slot=sat_am") == ["欧阳甲乙", "李四"]
    assert listed("slot=sat_am&slot=sat_pm") == ["欧阳甲乙"]
    assert listed("slot=mon_eve") == ["李四"]
    assert listed(f"qualification_type={first_aid.pk}") == ["李四"]
    assert listed("min_star=2") == ["欧阳甲乙"]
    assert listed("political_status=cyl_member") == ["李四"]
    assert listed("min_age=18&max_age=30") == ["李四"]
    assert listed("min_age=31") == ["欧阳甲乙"]
    assert listed(f"team_id={team.pk}") == ["李四"]
    assert listed("status=pending") == []
    assert listed(f"skill={repair.pk}&slot=sat_am&org_id={city.community_a.pk}") == ["李四"]
    response = client_a.get(f"{URL}?slot=someday")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["slot"]
    response = client_a.get(f"{URL}?min_age=40&max_age=30")
    assert response.json() == {
        "detail": [{"field": "max_age", "message": "最大年龄不能小于最小年龄"}]
    }
    for bad in ("sort=salary", "min_star=6", "status=unknown", "skill=abc"):
        assert client_a.get(f"{URL}?{bad}").status_code == 422, bad


def test_pagination_is_stable_and_complete(city, client_a):
    for i in range(7):
        register(city.grid_a, f"张{i}")
    seen = []
    for offset in (0, 3, 6):
        body = client_a.get(f"{URL}?limit=3&offset={offset}").json()
        assert body["count"] == 7
        seen += [v["id"] for v in body["items"]]
    assert seen == list(Volunteer.objects.order_by("number").values_list("pk", flat=True))
    assert client_a.get(f"{URL}?limit=501").status_code == 422


def test_list_query_count_does_not_grow_with_rows(city, client_a):
    corps = make_org("corps", "甲社区总队", city.community_a)
    teams = [make_org("team", f"甲社区第{i}服务队", corps) for i in range(2)]
    categories = list(ServiceCategory.objects.all()[:2])
    groups = list(ServedGroup.objects.all()[:2])

    def add(n: int) -> None:
        for _ in range(n):
            volunteer = register(
                city.grid_a,
                skills=["医疗", "剪纸"],
                categories=categories,
                served_groups=groups,
                actor=city.worker_a,
            )
            for team in teams:
                TeamMembership.objects.create(
                    team=team, volunteer=volunteer, joined_on=dt.date(2026, 1, 1)
                )

    def measure(query: str = "") -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client_a.get(f"{URL}?limit=100{query}")
        assert response.status_code == 200
        return len(queries), len(response.json()["items"])

    add(2)
    measure()  # warm up: marks the token used
    few_queries, few = measure()
    add(20)
    many_queries, many = measure()
    assert (few, many) == (2, 22)
    assert many_queries == few_queries
    medical = Skill.objects.get(name="医疗")
    filtered, n = measure(f"&skill={medical.pk}&slot=sat_am&q=zs&min_age=18")
    assert filtered <= few_queries and n == 0  # no rows: the prefetches are skipped


# --- creating ---------------------------------------------------------------------------


def test_create(city, client_a):
    medical = Skill.objects.get(name="医疗")
    health = ServiceCategory.objects.get(name="卫生健康")
    elderly = ServedGroup.objects.get(name="老年人")
    number = make_id_number(dt.date(1962, 3, 4), male=False)
    before = snapshot()
    response = post(
        client_a,
        {
            "org_id": city.grid_a.pk,
            "name": "王秀英",
            "id_number": number.lower(),
            "phone": "139-0000-1234",
            "skill_ids": [medical.pk],
            "skill_names": ["剪纸", " "],
            "category_ids": [health.pk],
            "served_group_ids": [elderly.pk],
            "availability": ["tue_am", "mon_am"],
            "political_status": "cpc_member",
            "historical_minutes": 600,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    volunteer = Volunteer.objects.get()
    assert body["id"] == volunteer.pk and body["existing"] is False
    assert body["number"] == volunteer.number and volunteer.number.startswith("V")
    assert (body["status"], body["source"], body["approved_by"]) == (
        "registered",
        "worker",
        "worker-a",
    )
    assert body["person"]["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    assert body["person"]["phone_masked"] == "139****1234"
    assert [s["name"] for s in body["skills"]] == ["医疗", "剪纸"]
    assert body["availability"] == ["mon_am", "tue_am"]
    assert body["availability_label"] == "周一上午、周二上午"
    assert (body["political_status"], body["recorded_minutes"]) == ("cpc_member", 600)
    assert number not in response.content.decode()
    assert volunteer.person.id_number == number
    assert snapshot()[:2] == (before[0] + 1, before[1] + 1)
    entry = AuditEntry.objects.get(verb="volunteer.register")
    assert entry.actor == city.worker_a

    # The same person again: the existing record, nothing new.
    before = snapshot()
    response = post(client_a, {"org_id": city.grid_a.pk, "name": "王秀英", "id_number": number})
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["existing"]) == (volunteer.pk, True)
    assert response.json()["skills"][0]["name"] == "医疗"
    assert snapshot() == before


def test_create_links_an_existing_resident(city, client_a):
    person = make_person(city.grid_a, "赵大爷", id_number=ID_NUMBER, phone=PHONE)
    response = post(
        client_a, {"org_id": city.community_a.pk, "name": "赵大爷", "id_number": ID_NUMBER}
    )
    assert response.status_code == 201
    assert response.json()["person"]["id"] == person.pk
    assert Person.objects.count() == 1


def test_create_existing_elsewhere_shows_nothing_of_it(city, client_b, volunteer_a):
    before = snapshot()
    response = post(client_b, {"org_id": city.grid_b.pk, "name": "某", "id_number": ID_NUMBER})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"field": "id_number", "message": "此人已在其他社区注册为志愿者，请联系其所在社区"}
        ]
    }
    assert "欧阳甲乙" not in response.content.decode()
    assert snapshot() == before


def test_create_refusals_name_the_field_and_save_nothing(city, client_a):
    number = make_id_number(dt.date(1980, 1, 1))
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    minor = make_id_number(timezone.localdate().replace(year=timezone.localdate().year - 15))
    cases = [
        (
            {"org_id": city.grid_a.pk, "name": "赵六", "id_number": wrong},
            [{"field": "id_number", "message": "身份证号校验位不正确，请核对后重新输入"}],
        ),
        (
            {"org_id": city.grid_a.pk, "name": "小明", "id_number": minor},
            [
                {"field": "guardian_consent", "message": "未满18周岁须经监护人同意后方可注册"},
                {"field": "guardian_consent", "message": "未满18周岁须填写监护人姓名"},
            ],
        ),
        (
            {"org_id": city.grid_a.pk, "name": "赵六", "id_number": number, "phone": "12345"},
            [{"field": "phone", "message": "手机号应为以1开头的11位数字"}],
        ),
        (
            {"org_id": city.grid_a.pk, "name": "赵六", "id_number": number, "skill_ids": [424242]},
            [{"field": "skill_ids", "message": "技能不存在或已停用：424242"}],
        ),
        (
            {"org_id": city.grid_a.pk, "name": "赵", "id_number": number, "category_ids": [424242]},
            [{"field": "category_ids", "message": "服务类别不存在或已停用：424242"}],
        ),
        (
            {"org_id": city.grid_a.pk, "name": "赵", "id_number": number, "political_status": "x"},
            [{"field": "political_status", "message": "未知的政治面貌"}],
        ),
        (
            {"org_id": city.grid_b.pk, "name": "赵六", "id_number": number},
            [{"field": "org_id", "message": "请选择您有权登记的社区或网格"}],
        ),
        (
            {"org_id": city.street.pk, "name": "赵六", "id_number": number},
            [{"field": "org_id", "message": "请选择您有权登记的社区或网格"}],
        ),
    ]
    before = snapshot()
    for payload, detail in cases:
        response = post(client_a, payload)
        assert (response.status_code, response.json()) == (422, {"detail": detail}), payload
    response = post(
        client_a,
        {"org_id": city.grid_a.pk, "name": "赵六", "id_number": number, "availability": ["x"]},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "availability"
    assert snapshot() == before


def test_create_outside_community_is_org_error_and_minor_with_guardian_is_fine(city, client_a):
    today = timezone.localdate()
    minor = make_id_number(today.replace(year=today.year - 15))
    response = post(
        client_a,
        {
            "org_id": city.grid_a.pk,
            "name": "小明",
            "id_number": minor,
            "guardian_name": "王女士",
            "guardian_phone": "13900001111",
            "guardian_consent": True,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["guardian_name"], body["guardian_phone_masked"]) == ("王女士", "139****1111")
    assert body["guardian_consent_at"] is not None
    assert "13900001111" not in response.content.decode()


def test_create_needs_manage_permission(city, bearer):
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    client = bearer(leader)
    before = snapshot()
    response = post(
        client, {"org_id": city.grid_a.pk, "name": "赵六", "id_number": make_id_number()}
    )
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "您没有管理该组织志愿者的权限"},
    )
    assert snapshot() == before


# --- review --------------------------------------------------------------------------------


def test_review_transitions(city, client_a):
    applicant = UserFactory(username="applicant")
    pending = register(city.community_a, "申请人", actor=applicant, source=RegistrationSource.SELF)
    assert pending.status == VolunteerStatus.PENDING
    response = set_status(client_a, pending, {"status": "registered"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["approved_by"]) == ("registered", "worker-a")

    response = set_status(client_a, pending, {"status": "rejected", "reason": "信息不实"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": [{"field": "status", "message": "“已注册”状态的志愿者不能变更为“未通过”"}]
    }
    response = set_status(client_a, pending, {"status": "suspended"})
    assert response.json() == {"detail": [{"field": "reason", "message": "请填写原因"}]}
    response = set_status(client_a, pending, {"reason": "x"})
    assert response.json() == {"detail": [{"field": "status", "message": "此项为必填项"}]}
    response = set_status(client_a, pending, {"status": "pending"})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "status"

    response = set_status(client_a, pending, {"status": "suspended", "reason": "长期联系不上"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_reason"]) == (
        "suspended",
        "长期联系不上",
    )
    assert set_status(client_a, pending, {"status": "registered"}).json()["status"] == "registered"
    response = set_status(client_a, pending, {"status": "cancelled", "reason": "本人申请注销"})
    assert response.json()["status_label"] == "注销"
    assert list(
        VolunteerStatusChange.objects.filter(volunteer=pending).values_list(
            "from_status", "to_status"
        )
    ) == [
        ("", "pending"),
        ("pending", "registered"),
        ("registered", "suspended"),
        ("suspended", "registered"),
        ("registered", "cancelled"),
    ]
    assert AuditEntry.objects.filter(verb="volunteer.status").count() == 4


def test_reject_pending(city, client_a):
    pending = register(
        city.grid_a, "申请人", actor=UserFactory(username="x"), source=RegistrationSource.SELF
    )
    response = set_status(client_a, pending, {"status": "rejected", "reason": "身份信息不符"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["status_reason"]) == (
        "rejected",
        "身份信息不符",
    )


def test_read_only_role_gets_403_on_review_and_update(city, bearer, volunteer_a):
    supervisor = UserFactory(username="sup")
    grant(supervisor, city.street, Role.SUPERVISOR)
    client = bearer(supervisor)
    assert client.get(f"{URL}/{volunteer_a.pk}").status_code == 200
    before = snapshot()
    response = set_status(client, volunteer_a, {"status": "suspended", "reason": "x"})
    assert (response.status_code, response.json()) == (
        403,
        {"detail": "您没有管理该组织志愿者的权限"},
    )
    assert patch(client, volunteer_a, {"notes": "x"}).status_code == 403
    assert snapshot() == before


# --- updating ---------------------------------------------------------------------------


def test_update(city, client_a, volunteer_a):
    repair = Skill.objects.get(name="维修")
    children = ServedGroup.objects.get(name="儿童")
    response = patch(
        client_a,
        volunteer_a,
        {
            "availability": ["sun_eve"],
            "skill_ids": [repair.pk],
            "skill_names": ["太极拳"],
            "served_group_ids": [children.pk],
            "notes": "周日晚上有空",
            "org_id": city.community_a.pk,
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["availability"] == ["sun_eve"]
    assert [s["name"] for s in body["skills"]] == ["维修", "太极拳"]
    assert [g["name"] for g in body["served_groups"]] == ["儿童"]
    assert [c["name"] for c in body["categories"]] == ["卫生健康"]  # not sent: unchanged
    assert (body["notes"], body["org_id"]) == ("周日晚上有空", city.community_a.pk)
    entry = AuditEntry.objects.get(verb="volunteer.update")
    assert entry.data["changes"]["availability"] == ["周六全天", "周日晚上"]
    assert entry.data["changes"]["skills"] == [["剪纸", "医疗"], ["太极拳", "维修"]]


def test_update_refusals_change_nothing(city, client_a, volunteer_a):
    before = snapshot()
    no_org = "请选择您有权登记的社区或网格"
    no_group = "服务对象不存在或已停用：424242"
    for payload, detail in (
        ({"org_id": city.grid_b.pk}, [{"field": "org_id", "message": no_org}]),
        ({"political_status": "x"}, [{"field": "political_status", "message": "未知的政治面貌"}]),
        ({"notes": None}, [{"field": "notes", "message": "不能为空"}]),
        ({"served_group_ids": [424242]}, [{"field": "served_group_ids", "message": no_group}]),
    ):
        response = patch(client_a, volunteer_a, payload)
        assert (response.status_code, response.json()) == (422, {"detail": detail}), payload
    assert patch(client_a, volunteer_a, {"historical_minutes": -1}).status_code == 422
    assert snapshot() == before


def test_volunteer_edits_own_profile_but_not_hours(city, bearer, volunteer_a):
    user = UserFactory(username="vol-a")
    Person.objects.filter(pk=volunteer_a.person_id).update(user=user)
    client = bearer(user)
    response = patch(client, volunteer_a, {"availability": ["mon_am"], "publish_name": False})
    assert response.status_code == 200, response.content
    assert (response.json()["availability"], response.json()["publish_name"]) == (["mon_am"], False)
    response = patch(client, volunteer_a, {"historical_minutes": 99999})
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "__all__"
    assert Volunteer.objects.get(pk=volunteer_a.pk).historical_minutes == 6000
    response = set_status(client, volunteer_a, {"status": "cancelled", "reason": "x"})
    assert response.status_code == 403


def test_team_shown_on_the_record(city, client_a, volunteer_a):
    team = make_org("team", "甲社区助老服务队", make_org("corps", "甲社区总队", city.community_a))
    TeamMembership.objects.create(
        team=team, volunteer=volunteer_a, role=TeamRole.LEADER, joined_on=dt.date(2025, 3, 1)
    )
    TeamMembership.objects.create(
        team=make_org("team", "已退出的队", team.parent),
        volunteer=volunteer_a,
        joined_on=dt.date(2024, 1, 1),
        left_on=dt.date(2024, 6, 1),
    )
    body = client_a.get(f"{URL}/{volunteer_a.pk}").json()
    assert body["teams"] == [
        {
            "team_id": team.pk,
            "team_name": "甲社区助老服务队",
            "role": "leader",
            "role_label": "队长",
            "joined_on": "2025-03-01",
        }
    ]


def test_teams_and_training_routes_are_mounted_beside(city, client_a, volunteer_a):
    # huzhu/volunteers/api_training.py shares the /volunteers prefix; no path is shared.
    for url in (
        f"{URL}/teams",
        f"{URL}/training/courses",
        f"{URL}/{volunteer_a.pk}/qualifications",
    ):
        response = client_a.get(url)
        assert response.status_code == 200, (url, response.content)
    assert client_a.get(f"{URL}/me").status_code == 404  # still this router's /me
