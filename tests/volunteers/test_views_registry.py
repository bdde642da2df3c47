"""Registry pages: self-registration, worker entry, review, search and filters, detail, edit."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.volunteers.availability import to_mask
from huzhu.volunteers.models import (
    PoliticalStatus,
    Qualification,
    QualificationType,
    RegistrationSource,
    ServedGroup,
    ServiceCategory,
    Skill,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.factories import UserFactory, grant, make_id_number, make_person

pytestmark = pytest.mark.django_db

SYSTEM = Scope(user_id=0, is_superuser=True)
YEAR = timezone.localdate().year


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def worker_a(city) -> Client:
    return client_for(city.worker_a)


def register(
    org,
    name: str,
    *,
    birth: dt.date = dt.date(1980, 1, 1),
    source: str = RegistrationSource.WORKER,
    actor=None,
    **data,
) -> Volunteer:
    result = volunteer_register(
        actor=actor,
        scope=SYSTEM,
        org=org,
        data=RegistrationInput(name=name, id_number=make_id_number(birth), **data),
        source=source,
    )
    assert result.created
    return result.volunteer


def form_data(city, **overrides) -> dict:
    data = {
        "name": "李秀兰",
        "id_number": make_id_number(dt.date(1975, 4, 8), male=False),
        "phone": "13812345678",
        "street": str(city.street.pk),
        "org": str(city.grid_a.pk),
        "address": "解放路1号",
        "political_status": PoliticalStatus.CPC_MEMBER,
        "skills": [str(Skill.objects.get(name="医疗").pk)],
        "skill_tags": "剪纸、太极",
        "categories": [str(ServiceCategory.objects.get(name="卫生健康").pk)],
        "served_groups": [str(ServedGroup.objects.get(name="老年人").pk)],
        "availability": ["sat_am", "sat_pm", "sun_eve"],
        "publish_name": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def field_errors(response, field: str) -> list[str]:
    body = response.content.decode()
    pattern = rf'<div class="invalid-feedback d-block" data-field="{field}">(.*?)</div>'
    return re.findall(pattern, body)


def names(response) -> list[str]:
    """Volunteer names in the result table, in order."""
    body = response.content.decode()
    return re.findall(r'href="/volunteers/\d+/">([^<]+)</a></td>', body)


# --- self-registration ------------------------------------------------------------------


def test_register_page_offers_streets_then_the_street_s_communities(city):
    client = client_for(UserFactory(username="resident"))
    page = client.get(reverse("volunteers:register_self"))
    body = page.content.decode()
    assert page.status_code == 200
    assert '<optgroup label="历下区">' in body
    assert f'<option value="{city.street.pk}">解放路街道</option>' in body
    assert "甲社区" not in body  # communities come with the street
    options = client.get(reverse("volunteers:register_orgs"), {"street": city.street.pk})
    assert re.findall(r'<option value="(\d+)">([^<]+)</option>', options.content.decode()) == [
        (str(city.community_a.pk), "甲社区"),
        (str(city.grid_a.pk), "甲社区第一网格"),
        (str(city.community_b.pk), "乙社区"),
        (str(city.grid_b.pk), "乙社区第一网格"),
    ]
    # without JavaScript the street comes back in the URL and fills the community list
    step_two = client.get(reverse("volunteers:register_self"), {"street": city.street.pk})
    assert f'<option value="{city.grid_a.pk}">甲社区第一网格</option>' in step_two.content.decode()


def test_self_registration_issues_number_and_waits_for_review(city):
    user = UserFactory(username="lixiulan")
    client = client_for(user)
    response = client.post(reverse("volunteers:register_self"), form_data(city))
    assert response.status_code == 200
    volunteer = Volunteer.objects.get()
    assert volunteer.number == f"V{YEAR}0000001"
    body = response.content.decode()
    assert f'data-testid="volunteer-number">V{YEAR}0000001<' in body
    assert 'data-testid="status">待审核<' in body
    assert volunteer.status == VolunteerStatus.PENDING
    assert volunteer.source == RegistrationSource.SELF
    assert volunteer.person.user == user
    assert volunteer.person.name == "李秀兰"
    assert volunteer.org == city.grid_a
    assert volunteer.political_status == PoliticalStatus.CPC_MEMBER
    assert volunteer.publish_name is True
    assert volunteer.availability == to_mask(["sat_am", "sat_pm", "sun_eve"])
    assert sorted(s.name for s in volunteer.skills.all()) == ["剪纸", "医疗", "太极"]
    assert [c.name for c in volunteer.categories.all()] == ["卫生健康"]
    assert [g.name for g in volunteer.served_groups.all()] == ["老年人"]
    # coming back shows the registration, not the form
    again = client.get(reverse("volunteers:register_self"))
    assert "您已登记为志愿者" in again.content.decode()
    assert f"V{YEAR}0000001" in again.content.decode()
    assert "id_number" not in again.content.decode()


def test_self_registration_of_someone_already_registered_shows_that_registration(city):
    existing = register(city.grid_a, "赵大爷", birth=dt.date(1950, 2, 3))
    user = UserFactory(username="zhaodaye")
    response = client_for(user).post(
        reverse("volunteers:register_self"),
        form_data(city, name="赵大爷", id_number=existing.person.id_number),
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "您已登记为志愿者" in body
    assert f'data-testid="volunteer-number">{existing.number}<' in body
    assert 'data-testid="status">已注册<' in body
    assert Volunteer.objects.count() == 1
    existing.person.refresh_from_db()
    assert existing.person.user == user


def test_someone_else_s_id_number_with_another_name_is_refused(city):
    person = make_person(city.grid_a, "钱阿姨", id_number=make_id_number(dt.date(1960, 1, 1)))
    response = client_for(UserFactory(username="stranger")).post(
        reverse("volunteers:register_self"),
        form_data(city, name="冒名者", id_number=person.id_number),
    )
    assert field_errors(response, "name") == [
        "姓名与该身份证号登记的姓名不一致，请到社区服务站核实身份"
    ]
    person.refresh_from_db()
    assert person.user is None
    assert Volunteer.objects.count() == 0


def test_minor_without_guardian_gets_a_chinese_error_on_the_field(city):
    minor_id = make_id_number(dt.date(YEAR - 12, 3, 2))
    people_before = Person.objects.count()
    response = client_for(UserFactory(username="xiaoming")).post(
        reverse("volunteers:register_self"), form_data(city, name="小明", id_number=minor_id)
    )
    assert response.status_code == 200
    assert field_errors(response, "guardian_consent") == [
        "监护人已知悉并同意其参加志愿服务：未满18周岁须经监护人同意后方可注册",
        "监护人已知悉并同意其参加志愿服务：未满18周岁须填写监护人姓名",
    ]
    assert (Person.objects.count(), Volunteer.objects.count()) == (people_before, 0)
    # with the guardian's consent the minor is registered
    ok = client_for(UserFactory(username="xiaoming2")).post(
        reverse("volunteers:register_self"),
        form_data(
            city,
            name="小明",
            id_number=minor_id,
            guardian_name="王芳",
            guardian_phone="13900001111",
            guardian_consent="on",
        ),
    )
    assert "注册已提交" in ok.content.decode()
    volunteer = Volunteer.objects.get()
    assert (volunteer.guardian_name, volunteer.guardian_phone_masked) == ("王芳", "139****1111")
    assert volunteer.guardian_consent_at is not None


def test_invalid_id_number_names_the_field_and_saves_nothing(city):
    bad = make_id_number(dt.date(1980, 1, 1))
    bad = bad[:-1] + ("0" if bad[-1] != "0" else "1")  # wrong check character
    response = client_for(UserFactory(username="typo")).post(
        reverse("volunteers:register_self"), form_data(city, id_number=bad)
    )
    assert field_errors(response, "id_number") == ["身份证号校验位不正确，请核对后重新输入"]
    assert 'class="form-control form-control-lg is-invalid"' in response.content.decode()
    assert (Person.objects.count(), Volunteer.objects.count()) == (0, 0)


def test_self_registration_requires_an_active_community(city):
    response = client_for(UserFactory(username="nowhere")).post(
        reverse("volunteers:register_self"), form_data(city, org=str(city.street.pk))
    )
    assert len(field_errors(response, "org")) == 1
    assert Volunteer.objects.count() == 0


# --- worker entry -----------------------------------------------------------------------


def test_worker_registers_a_resident_as_registered(city, worker_a):
    response = worker_a.post(
        reverse("volunteers:create"), form_data(city, street=None, phone="", org=city.grid_a.pk)
    )
    volunteer = Volunteer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("volunteers:detail", args=[volunteer.pk])
    assert volunteer.status == VolunteerStatus.REGISTERED
    assert volunteer.source == RegistrationSource.WORKER
    assert volunteer.approved_by == city.worker_a
    assert volunteer.person.user is None


def test_worker_form_offers_only_orgs_in_scope(city, worker_a):
    page = worker_a.get(reverse("volunteers:create"))
    body = page.content.decode()
    assert "甲社区第一网格" in body and "乙社区" not in body
    response = worker_a.post(
        reverse("volunteers:create"), form_data(city, street=None, org=city.grid_b.pk)
    )
    assert len(field_errors(response, "org")) == 1
    assert Volunteer.objects.count() == 0


def test_worker_entry_of_a_registered_person_links_to_the_existing_record(city, worker_a):
    existing = register(city.grid_a, "周师傅")
    response = worker_a.post(
        reverse("volunteers:create"),
        form_data(city, street=None, name="周师傅", id_number=existing.person.id_number),
    )
    body = response.content.decode()
    assert "该居民已登记为志愿者" in body
    assert reverse("volunteers:detail", args=[existing.pk]) in body
    # registered elsewhere: said so, without details of another community's record
    other = register(city.grid_b, "吴阿姨")
    elsewhere = worker_a.post(
        reverse("volunteers:create"),
        form_data(city, street=None, name="吴阿姨", id_number=other.person.id_number),
    )
    assert "管辖范围以外" in elsewhere.content.decode()
    assert other.number not in elsewhere.content.decode()
    assert Volunteer.objects.count() == 2


def test_resident_cannot_open_worker_pages(city):
    client = client_for(UserFactory(username="plain"))
    for name in ("volunteers:create", "volunteers:review", "volunteers:list"):
        assert client.get(reverse(name)).status_code == 403


# --- review and status ------------------------------------------------------------------


def test_review_queue_approve_and_reject(city, worker_a):
    alice = register(city.grid_a, "孙阿姨", source=RegistrationSource.SELF)
    bob = register(city.community_a, "钱大伯", source=RegistrationSource.SELF)
    register(city.grid_b, "乙社区的人", source=RegistrationSource.SELF)
    register(city.grid_a, "已注册的人")
    page = worker_a.get(reverse("volunteers:review"))
    assert page.status_code == 200
    assert names(page) == ["孙阿姨", "钱大伯"]
    url = reverse("volunteers:status", args=[alice.pk])
    approved = worker_a.post(url, {"status": "registered", "from": "review"})
    assert approved["Location"] == reverse("volunteers:review")
    alice.refresh_from_db()
    assert (alice.status, alice.approved_by) == (VolunteerStatus.REGISTERED, city.worker_a)
    # rejecting needs a reason: shown next to the reason field, nothing changes
    url = reverse("volunteers:status", args=[bob.pk])
    refused = worker_a.post(url, {"status": "rejected", "from": "review"})
    assert field_errors(refused, "reason") == ["原因：请填写原因"]
    bob.refresh_from_db()
    assert bob.status == VolunteerStatus.PENDING
    rejected = worker_a.post(
        url, {"status": "rejected", "reason": "信息不实", "from": "review"}, HTTP_HX_REQUEST="true"
    )
    assert "已变更为“未通过”" in rejected.content.decode()
    bob.refresh_from_db()
    assert (bob.status, bob.status_reason) == (VolunteerStatus.REJECTED, "信息不实")
    assert list(
        VolunteerStatusChange.objects.filter(volunteer=bob).values_list(
            "from_status", "to_status", "reason", "actor_label"
        )
    ) == [
        ("", "pending", "本人注册", "系统"),
        ("pending", "rejected", "信息不实", "worker-a"),
    ]
    assert names(worker_a.get(reverse("volunteers:review"))) == []


def test_detail_suspend_resume_cancel_with_history(city, worker_a):
    volunteer = register(city.grid_a, "郑老师")
    detail = reverse("volunteers:detail", args=[volunteer.pk])
    url = reverse("volunteers:status", args=[volunteer.pk])
    page = worker_a.get(detail)
    body = page.content.decode()
    assert 'value="suspended"' in body and 'value="cancelled"' in body
    assert 'value="rejected"' not in body
    missing_reason = worker_a.post(url, {"status": "suspended"})
    assert field_errors(missing_reason, "reason") == ["原因：请填写原因"]
    assert worker_a.post(url, {"status": "suspended", "reason": "外出务工"}).status_code == 302
    assert worker_a.post(url, {"status": "registered"}).status_code == 302
    assert worker_a.post(url, {"status": "cancelled", "reason": "本人申请"}).status_code == 302
    wrong = worker_a.post(url, {"status": "registered"})
    assert field_errors(wrong, "status") == ["变更为：“注销”状态的志愿者不能变更为“已注册”"]
    volunteer.refresh_from_db()
    assert volunteer.status == VolunteerStatus.CANCELLED
    history = worker_a.get(detail).content.decode()
    assert history.count("worker-a ·") == 3
    assert "外出务工" in history and "本人申请" in history


def test_team_leader_may_view_but_not_change_status(city):
    leader = UserFactory(username="leader")
    grant(leader, city.community_a, Role.SUPERVISOR)
    volunteer = register(city.grid_a, "冯师傅")
    client = client_for(leader)
    assert client.get(reverse("volunteers:detail", args=[volunteer.pk])).status_code == 200
    url = reverse("volunteers:status", args=[volunteer.pk])
    assert client.post(url, {"status": "suspended", "reason": "x"}).status_code == 403
    assert client.get(reverse("volunteers:edit", args=[volunteer.pk])).status_code == 403


# --- detail, edit, mine -----------------------------------------------------------------


def test_detail_shows_classification_and_availability(city, worker_a):
    volunteer = register(
        city.grid_a,
        "陈医生",
        skills=["医疗"],
        categories=[ServiceCategory.objects.get(name="卫生健康")],
        availability=to_mask(["sat_am", "sat_pm", "sat_eve", "mon_eve"]),
    )
    body = worker_a.get(reverse("volunteers:detail", args=[volunteer.pk])).content.decode()
    assert 'data-testid="availability">周一晚上、周六全天<' in body
    assert ">医疗</a>" in body and ">卫生健康</span>" in body
    assert volunteer.person.id_number_masked in body
    assert volunteer.person.id_number not in body
    assert f'href="/volunteers/{volunteer.pk}/archive/"' in body


def test_worker_edits_classification_org_and_hours(city, worker_a):
    volunteer = register(city.grid_a, "褚阿姨", skills=["医疗", "剪纸"], historical_minutes=90)
    url = reverse("volunteers:edit", args=[volunteer.pk])
    page = worker_a.get(url).content.decode()
    assert 'value="剪纸"' in page  # free tags come back as text
    response = worker_a.post(
        url,
        {
            "org": city.community_a.pk,
            "historical_hours": "12.5",
            "political_status": PoliticalStatus.MASSES,
            "skills": [Skill.objects.get(name="法律").pk],
            "skill_tags": "剪纸",
            "categories": [],
            "served_groups": [ServedGroup.objects.get(name="儿童").pk],
            "availability": ["wed_pm"],
            "notes": "擅长调解",
        },
    )
    assert response.status_code == 302
    volunteer.refresh_from_db()
    assert volunteer.org == city.community_a
    assert volunteer.historical_minutes == 750
    assert sorted(s.name for s in volunteer.skills.all()) == ["剪纸", "法律"]
    assert [g.name for g in volunteer.served_groups.all()] == ["儿童"]
    assert volunteer.availability == to_mask(["wed_pm"])
    assert volunteer.notes == "擅长调解"
    assert AuditEntry.objects.filter(verb="volunteer.update").count() == 1


def test_volunteer_edits_own_profile_but_not_org_or_hours(city):
    user = UserFactory(username="selfedit")
    client = client_for(user)
    client.post(reverse("volunteers:register_self"), form_data(city))
    volunteer = Volunteer.objects.get()
    url = reverse("volunteers:edit", args=[volunteer.pk])
    page = client.get(url).content.decode()
    assert 'name="org"' not in page and 'name="historical_hours"' not in page
    response = client.post(
        url,
        {
            "political_status": PoliticalStatus.MASSES,
            "availability": ["mon_am"],
            "org": city.grid_b.pk,  # ignored: not a field for the volunteer
            "historical_hours": "999",
        },
    )
    assert response["Location"] == reverse("volunteers:mine")
    volunteer.refresh_from_db()
    assert (volunteer.org, volunteer.historical_minutes) == (city.grid_a, 0)
    assert volunteer.availability == to_mask(["mon_am"])
    assert volunteer.skills.count() == 0


def test_mine_shows_registration_or_link_to_register(city):
    user = UserFactory(username="mine")
    client = client_for(user)
    empty = client.get(reverse("volunteers:mine")).content.decode()
    assert "您还没有登记为志愿者" in empty
    assert reverse("volunteers:register_self") in empty
    client.post(reverse("volunteers:register_self"), form_data(city))
    body = client.get(reverse("volunteers:mine")).content.decode()
    assert f'data-testid="volunteer-number">V{YEAR}0000001<' in body
    assert 'data-testid="status">待审核<' in body
    assert "周六上午、周六下午、周日晚上" in body


def test_navigation_offers_register_then_mine(city):
    user = UserFactory(username="nav")
    client = client_for(user)
    home = client.get(reverse("volunteers:mine")).content.decode()
    assert 'href="/volunteers/register/"' in home
    client.post(reverse("volunteers:register_self"), form_data(city))
    after = client.get(reverse("volunteers:mine")).content.decode()
    assert '<i class="bi bi-heart"></i> 志愿者注册' not in after
    assert '<i class="bi bi-heart"></i> 我的志愿服务' in after
    worker_page = client_for(city.worker_a).get(reverse("volunteers:list")).content.decode()
    assert '<i class="bi bi-heart-pulse"></i> 志愿者</a>' in worker_page


# --- search and filters -----------------------------------------------------------------


@pytest.fixture
def register_a(city):
    """Four volunteers in community A, one in B."""
    first_aid = QualificationType.objects.get(name="急救证")
    today = timezone.localdate()
    doctor = register(
        city.grid_a,
        "张医生",
        birth=dt.date(1980, 5, 1),
        skills=["医疗"],
        categories=[ServiceCategory.objects.get(name="卫生健康")],
        served_groups=[ServedGroup.objects.get(name="老年人")],
        availability=to_mask(["sat_am", "sat_pm"]),
        political_status=PoliticalStatus.CPC_MEMBER,
        historical_minutes=600,
    )
    Volunteer.objects.filter(pk=doctor.pk).update(star_level=2)
    Qualification.objects.create(
        volunteer=doctor, kind=first_aid, issued_on=today - dt.timedelta(days=30)
    )
    fixer = register(
        city.community_a,
        "李师傅",
        birth=dt.date(1950, 7, 1),
        skills=["维修"],
        categories=[ServiceCategory.objects.get(name="社区服务")],
        served_groups=[ServedGroup.objects.get(name="困难家庭")],
        availability=to_mask(["sat_am"]),
        historical_minutes=6000,
    )
    artist = register(
        city.grid_a,
        "王小红",
        birth=dt.date(2000, 9, 9),
        skills=["剪纸"],
        categories=[ServiceCategory.objects.get(name="文化艺术")],
        served_groups=[ServedGroup.objects.get(name="儿童")],
        availability=to_mask(["sun_eve"]),
        political_status=PoliticalStatus.CYL_MEMBER,
        historical_minutes=60,
    )
    Qualification.objects.create(
        volunteer=artist,
        kind=first_aid,
        issued_on=today - dt.timedelta(days=800),
        expires_on=today - dt.timedelta(days=1),
    )
    pending = register(
        city.community_a, "孙阿姨", birth=dt.date(1990, 1, 1), source=RegistrationSource.SELF
    )
    register(
        city.grid_b,
        "赵护士",
        skills=["医疗"],
        availability=to_mask(["sat_am", "sat_pm"]),
        political_status=PoliticalStatus.CPC_MEMBER,
    )
    return {"doctor": doctor, "fixer": fixer, "artist": artist, "pending": pending}


def test_list_filters_each_give_exact_results(city, worker_a, register_a):
    url = reverse("volunteers:list")
    medical = Skill.objects.get(name="医疗").pk
    paper_cut = Skill.objects.get(name="剪纸").pk
    cases = [
        ({}, ["张医生", "李师傅", "王小红", "孙阿姨"]),
        ({"q": "zys"}, ["张医生"]),
        ({"q": "zhangyisheng"}, ["张医生"]),
        ({"q": "王"}, ["王小红"]),
        ({"q": register_a["fixer"].person.id_number_masked[-4:]}, ["李师傅"]),
        ({"org": city.grid_a.pk}, ["张医生", "王小红"]),
        ({"org": city.community_a.pk}, ["张医生", "李师傅", "王小红", "孙阿姨"]),
        ({"skill": medical}, ["张医生"]),
        ({"skill": paper_cut}, ["王小红"]),
        ({"category": ServiceCategory.objects.get(name="社区服务").pk}, ["李师傅"]),
        ({"served": ServedGroup.objects.get(name="儿童").pk}, ["王小红"]),
        ({"slot": ["sat_am"]}, ["张医生", "李师傅"]),
        ({"slot": ["sat_am", "sat_pm"]}, ["张医生"]),
        ({"qualification": QualificationType.objects.get(name="急救证").pk}, ["张医生"]),
        ({"star": 2}, ["张医生"]),
        ({"political": PoliticalStatus.CPC_MEMBER}, ["张医生"]),
        ({"age": "70+"}, ["李师傅"]),
        ({"age": "18-59"}, ["张医生", "王小红", "孙阿姨"]),
        ({"status": VolunteerStatus.PENDING}, ["孙阿姨"]),
        ({"status": VolunteerStatus.REGISTERED}, ["张医生", "李师傅", "王小红"]),
        ({"skill": medical, "slot": ["sat_am"], "political": "cpc_member"}, ["张医生"]),
        ({"org": city.grid_b.pk}, ["张医生", "李师傅", "王小红", "孙阿姨"]),  # not offered
    ]
    failures = []
    for params, expected in cases:
        response = worker_a.get(url, params)
        assert response.status_code == 200
        got = names(response)
        if sorted(got) != sorted(expected):
            failures.append((params, got, expected))
    assert failures == []


def test_list_sorts_by_columns(city, worker_a, register_a):
    url = reverse("volunteers:list")
    assert names(worker_a.get(url, {"sort": "name"})) == ["李师傅", "孙阿姨", "王小红", "张医生"]
    assert names(worker_a.get(url, {"sort": "-name"})) == ["张医生", "王小红", "孙阿姨", "李师傅"]
    assert names(worker_a.get(url, {"sort": "-hours"})) == ["李师傅", "张医生", "王小红", "孙阿姨"]
    assert names(worker_a.get(url, {"sort": "age"})) == ["王小红", "孙阿姨", "张医生", "李师傅"]
    assert names(worker_a.get(url, {"sort": "-star"}))[0] == "张医生"
    numbers = [v.number for v in register_a.values()]
    page = worker_a.get(url, {"sort": "-number"}).content.decode()
    assert re.findall(r'<td class="hz-masked small">(V\d{11})</td>', page) == sorted(
        numbers, reverse=True
    )
    # the current column offers the reverse order
    assert 'data-sort="-name"' in worker_a.get(url, {"sort": "name"}).content.decode()


def test_list_paginates_fifty_per_page(city, worker_a):
    for i in range(51):
        register(city.grid_a, f"志愿者{i:02d}")
    url = reverse("volunteers:list")
    first = worker_a.get(url)
    assert len(names(first)) == 50
    assert "共 51 人" in first.content.decode()
    assert len(names(worker_a.get(url, {"page": 2}))) == 1


def test_htmx_request_returns_the_results_only(city, worker_a, register_a):
    response = worker_a.get(
        reverse("volunteers:list"),
        {"skill": Skill.objects.get(name="医疗").pk},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="volunteer-results",
    )
    body = response.content.decode()
    assert "<html" not in body
    assert names(response) == ["张医生"]


def test_full_number_in_search_never_stays_in_the_url(city, worker_a, register_a):
    url = reverse("volunteers:list")
    phone = "13812345678"
    response = worker_a.get(url, {"q": phone, "status": "registered"})
    assert response.status_code == 302
    assert "q=" not in response["Location"] and "lookup=1" in response["Location"]
    assert "status=registered" in response["Location"]
    htmx = worker_a.get(
        url, {"q": phone}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="volunteer-results"
    )
    assert phone not in htmx.content.decode()
    assert phone not in htmx["HX-Replace-Url"]
    assert 'data-testid="search-refused"' in htmx.content.decode()
    number = register_a["doctor"].number
    assert worker_a.get(url, {"q": number}).status_code == 302  # 11 digits: refused too


def test_lookup_by_number_id_or_phone_is_post_only(city, worker_a, register_a):
    url = reverse("volunteers:lookup")
    doctor = register_a["doctor"]
    detail = reverse("volunteers:detail", args=[doctor.pk])
    assert worker_a.post(url, {"number": doctor.number})["Location"] == detail
    assert worker_a.post(url, {"number": doctor.number.lower()})["Location"] == detail
    assert worker_a.post(url, {"number": doctor.person.id_number})["Location"] == detail
    missing = worker_a.post(url, {"number": "V20990000001"})
    assert "未找到与该号码匹配的志愿者" in missing.content.decode()
    other = Volunteer.objects.get(person__name="赵护士")
    assert "未找到" in worker_a.post(url, {"number": other.number}).content.decode()
    assert worker_a.get(url).status_code == 302


def _count_queries(client: Client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_and_review_query_count_does_not_grow_with_rows(city, worker_a):
    skills = ["医疗", "法律", "维修"]
    categories = list(ServiceCategory.objects.all()[:3])

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            for source in (RegistrationSource.WORKER, RegistrationSource.SELF):
                register(
                    city.grid_a if i % 2 else city.community_a,
                    f"志愿者{i:02d}",
                    source=source,
                    skills=skills[: i % 3 + 1],
                    categories=categories[: i % 3 + 1],
                    served_groups=[ServedGroup.objects.first()],
                )

    url = reverse("volunteers:list")
    filtered = {"skill": Skill.objects.get(name="医疗").pk, "slot": [], "age": "18-59"}
    add(5, 0)
    few = _count_queries(worker_a, url)
    few_filtered = _count_queries(worker_a, url, filtered)
    few_review = _count_queries(worker_a, reverse("volunteers:review"))
    add(25, 5)
    assert Volunteer.objects.count() == 60
    assert _count_queries(worker_a, url) == few
    assert _count_queries(worker_a, url, filtered) == few_filtered
    assert _count_queries(worker_a, reverse("volunteers:review")) == few_review


# --- access -----------------------------------------------------------------------------


def _volunteer_id_routes() -> list[str]:
    routes = []
    for entry in get_resolver().url_patterns:
        if getattr(entry, "namespace", None) != "volunteers":
            continue
        stack = [("volunteers/", entry)]
        while stack:
            prefix, resolver = stack.pop()
            for sub in resolver.url_patterns:
                route = prefix + str(sub.pattern)
                if isinstance(sub, URLPattern):
                    if "<int:volunteer_id>" in route:
                        routes.append(route)
                else:
                    stack.append((route, sub))
    return routes


def test_worker_b_gets_404_on_every_volunteer_route_of_community_a(city):
    volunteer = register(city.grid_a, "欧阳甲乙", source=RegistrationSource.SELF)
    routes = _volunteer_id_routes()
    assert {
        "volunteers/<int:volunteer_id>/",
        "volunteers/<int:volunteer_id>/edit/",
        "volunteers/<int:volunteer_id>/status/",
    } <= set(routes)
    worker_b = client_for(city.worker_b)
    audit_before = AuditEntry.objects.count()
    for route in routes:
        url = "/" + route.replace("<int:volunteer_id>", str(volunteer.pk))
        statuses = {
            worker_b.get(url).status_code,
            worker_b.post(url, {"status": "registered", "reason": "x"}).status_code,
        }
        assert 404 in statuses and statuses <= {404, 405}, (url, statuses)
        assert "欧阳甲乙" not in worker_b.get(url).content.decode()
    volunteer.refresh_from_db()
    assert volunteer.status == VolunteerStatus.PENDING
    assert AuditEntry.objects.count() == audit_before
    anonymous = Client()
    for route in routes:
        url = "/" + route.replace("<int:volunteer_id>", str(volunteer.pk))
        response = anonymous.get(url)
        assert response.status_code in (302, 405)
