import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import (
    RegistrationSource,
    Skill,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.services import RegistrationInput, volunteer_register, volunteer_set_status
from tests.factories import UserFactory, make_id_number, make_person


@pytest.mark.django_db
def test_worker_registers_volunteer_with_number_and_free_skill(city):
    scope = Scope.for_user(city.worker_a)
    data = RegistrationInput(
        name="王秀英",
        id_number=make_id_number(dt.date(1960, 5, 1), male=False),
        phone="13800001234",
        skills=["医疗", "剪纸"],
        availability=0b111,
    )
    result = volunteer_register(
        actor=city.worker_a, scope=scope, org=city.grid_a, data=data, today=dt.date(2026, 11, 29)
    )
    volunteer = result.volunteer
    assert result.created and result.person_created
    assert volunteer.number == "V20260000001"
    assert volunteer.status == VolunteerStatus.REGISTERED
    assert volunteer.approved_by == city.worker_a
    assert sorted(s.name for s in volunteer.skills.all()) == ["剪纸", "医疗"]
    assert Skill.objects.get(name="剪纸").is_curated is False
    again = volunteer_register(actor=city.worker_a, scope=scope, org=city.grid_a, data=data)
    assert (again.created, again.volunteer.pk) == (False, volunteer.pk)


@pytest.mark.django_db
def test_self_registration_waits_for_review_and_minor_needs_guardian(city):
    user = UserFactory(username="xiaoming")
    scope = Scope.for_user(user)
    minor = RegistrationInput(name="小明", id_number=make_id_number(dt.date(2012, 3, 2)))
    with pytest.raises(ValidationError) as caught:
        volunteer_register(
            actor=user,
            scope=scope,
            org=city.community_a,
            data=minor,
            source=RegistrationSource.SELF,
            today=dt.date(2026, 11, 29),
        )
    assert caught.value.message_dict["guardian_consent"] == [
        "未满18周岁须经监护人同意后方可注册",
        "未满18周岁须填写监护人姓名",
    ]
    adult = RegistrationInput(name="李强", id_number=make_id_number(dt.date(1990, 3, 2)))
    result = volunteer_register(
        actor=user, scope=scope, org=city.community_a, data=adult, source=RegistrationSource.SELF
    )
    assert result.volunteer.status == VolunteerStatus.PENDING
    assert result.volunteer.person.user == user
    approved = volunteer_set_status(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        volunteer=result.volunteer,
        status=VolunteerStatus.REGISTERED,
    )
    assert approved.approved_by == city.worker_a
    assert list(
        VolunteerStatusChange.objects.filter(volunteer=approved).values_list(
            "from_status", "to_status"
        )
    ) == [("", "pending"), ("pending", "registered")]


@pytest.mark.django_db
def test_existing_resident_is_linked_not_duplicated(city):
    person = make_person(city.grid_a, "赵大爷", id_number=make_id_number(dt.date(1950, 1, 1)))
    data = RegistrationInput(id_number=person.id_number)
    result = volunteer_register(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), org=city.grid_a, data=data
    )
    assert (result.created, result.person_created, result.volunteer.person) == (True, False, person)


@pytest.mark.django_db
def test_volunteer_list_filters_by_skill_slot_and_scope(city):
    from huzhu.volunteers.availability import to_mask
    from huzhu.volunteers.selectors import VolunteerFilters, volunteer_list

    scope_a = Scope.for_user(city.worker_a)

    def make(name, skills, slots, org):
        return volunteer_register(
            actor=None,
            scope=Scope(user_id=0, is_superuser=True),
            org=org,
            data=RegistrationInput(
                name=name,
                id_number=make_id_number(dt.date(1980, 1, 1)),
                skills=skills,
                availability=to_mask(slots),
            ),
        ).volunteer

    doctor = make("张医生", ["医疗"], ["sat_am", "sat_pm"], city.grid_a)
    make("李师傅", ["维修"], ["sat_am"], city.grid_a)
    make("王护士", ["医疗"], ["sat_am"], city.grid_b)
    medical = Skill.objects.get(name="医疗")
    found = volunteer_list(
        scope=scope_a, filters=VolunteerFilters(skill_ids=[medical.pk], slots=["sat_am", "sat_pm"])
    )
    assert list(found) == [doctor]
    assert [
        v.person.name for v in volunteer_list(scope=scope_a, filters=VolunteerFilters(search="zys"))
    ] == ["张医生"]
