"""Match profiles: one narrow row per volunteer and need category, built from the register,
offers, records, needs and attendance — and rebuilt when the register changes what matching
reads (approval or status, skills, categories, availability, org, an import)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from huzhu.activities.models import RecordStatus, ServiceRecord
from huzhu.needs.matching import cell_of
from huzhu.needs.models import MatchFit, MatchProfile, NeedCategory
from huzhu.needs.profiles import adult_born_by, profiles_refresh
from huzhu.needs.services import OfferInput, offer_save
from huzhu.orgs.models import OrgKind
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, ResidenceStatus
from huzhu.volunteers.models import ServiceCategory, Volunteer, VolunteerStatus
from huzhu.volunteers.services import (
    RegistrationInput,
    match_profiles_refresh,
    volunteer_register,
    volunteer_set_status,
    volunteer_update,
)
from tests.activities.factories import (
    SYSTEM,
    enter_record,
    make_login_volunteer,
    make_minor_volunteer,
    make_volunteer,
    years_before,
)
from tests.factories import City, make_id_number, make_org, make_person
from tests.needs.factories import helper_volunteer, need_category, set_place

pytestmark = pytest.mark.django_db

FULL = (1 << 21) - 1


@pytest.fixture
def city() -> City:
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    return city


def rows(volunteer) -> dict[str, tuple]:
    """category name → (fit, community, cell, lat, lng, availability, load)."""
    return {
        p.category.name: (
            p.fit,
            p.community_id,
            p.cell,
            p.latitude,
            p.longitude,
            p.availability,
            p.load,
        )
        for p in MatchProfile.objects.filter(volunteer=volunteer).select_related("category")
    }


def fits(volunteer) -> dict[str, int]:
    return {name: values[0] for name, values in rows(volunteer).items()}


def test_the_best_fit_of_offer_skill_and_category(city):
    volunteer = make_login_volunteer(city.grid_a, "李全", "all")
    volunteer_update(
        actor=None,
        scope=SYSTEM,
        volunteer=volunteer,
        skills=["烹饪"],
        categories=[ServiceCategory.objects.get(name="卫生健康")],
    )
    assert fits(volunteer) == {
        "助餐": MatchFit.SKILL,
        "助医陪诊": MatchFit.CATEGORY,
        "心理疏导": MatchFit.CATEGORY,
        "康复护理": MatchFit.CATEGORY,
    }
    offer_save(
        actor=volunteer.person.user,
        volunteer=volunteer,
        data=OfferInput(title="做饭陪诊", category_ids=[need_category("助餐").pk]),
    )
    assert fits(volunteer)["助餐"] == MatchFit.OFFER
    category = need_category("康复护理")
    category.is_active = False
    category.save()
    profiles_refresh(volunteer_ids=[volunteer.pk])
    assert "康复护理" not in fits(volunteer)


def test_places_come_from_the_newest_offer_else_the_grid_else_the_community(city):
    in_grid = make_volunteer(city.grid_a, "李网格")
    in_community = make_volunteer(city.community_a, "李社区")
    offered = helper_volunteer(city.grid_a, "李报", "offered", place=(36.7, 117.1))
    plain = make_org(OrgKind.COMMUNITY, "丙社区", city.street)  # no place marked
    unplaced = make_volunteer(plain, "李无址")
    for volunteer in (in_grid, in_community, unplaced):
        volunteer_update(actor=None, scope=SYSTEM, volunteer=volunteer, skills=["烹饪"])
    grid_cell = cell_of(36.660, 117.020)
    assert rows(in_grid)["助餐"][1:5] == (city.community_a.pk, grid_cell, 36.660, 117.020)
    assert rows(in_community)["助餐"][1:5] == (city.community_a.pk, grid_cell, 36.660, 117.020)
    assert rows(offered)["跑腿代办"][1:5] == (
        city.community_a.pk,
        cell_of(36.7, 117.1),
        36.7,
        117.1,
    )
    assert rows(unplaced)["助餐"][1:5] == (plain.pk, None, None, None)
    set_place(city.grid_a, 36.665, 117.025)
    profiles_refresh()
    assert rows(in_grid)["助餐"][1:5] == (
        city.community_a.pk,
        cell_of(36.665, 117.025),
        36.665,
        117.025,
    )
    # a newer offer without a place keeps the older offer's place
    offer_save(
        actor=offered.person.user,
        volunteer=offered,
        data=OfferInput(title="也能理发", category_ids=[need_category("理发").pk]),
    )
    assert rows(offered)["理发"][3:5] == (36.7, 117.1)


def test_availability_joins_the_register_and_the_offers(city):
    volunteer = make_login_volunteer(city.grid_a, "李时", "times")
    volunteer_update(actor=None, scope=SYSTEM, volunteer=volunteer, availability=0b000_001)
    offer_save(
        actor=volunteer.person.user,
        volunteer=volunteer,
        data=OfferInput(
            title="周二下午", category_ids=[need_category("助洁").pk], availability=0b010_000
        ),
    )
    assert rows(volunteer)["助洁"][5] == 0b010_001
    offer = volunteer.offers.get()
    offer_save(
        actor=volunteer.person.user,
        volunteer=volunteer,
        offer=offer,
        data=OfferInput(
            title="周二下午", category_ids=[offer.categories.get().pk], is_active=False
        ),
    )
    assert rows(volunteer) == {}


def test_only_adults_in_the_register_and_living_here_have_profiles(city):
    today = timezone.localdate()
    adult_today = make_volunteer(city.grid_a, "李成年", birth=years_before(today, 18))
    minor = make_minor_volunteer(city.grid_a, "李少年", years_before(today, 18, days=-1))
    pending = make_volunteer(city.grid_a, "李待审")
    moved = make_volunteer(city.grid_a, "李迁出")
    volunteers = (adult_today, minor, pending, moved)
    Volunteer.objects.filter(pk=pending.pk).update(status=VolunteerStatus.PENDING)
    Person.objects.filter(pk=moved.person_id).update(status=ResidenceStatus.MOVED_OUT)
    for volunteer in volunteers:
        Volunteer.objects.get(pk=volunteer.pk).skills.add(*_skills("烹饪"))
    written = profiles_refresh(volunteer_ids=[v.pk for v in volunteers])
    assert written == 1
    assert {v.pk for v in volunteers if rows(v)} == {adult_today.pk}


def test_the_adult_birth_date_cut_off():
    assert adult_born_by(dt.date(2026, 11, 29)) == dt.date(2008, 11, 29)
    assert adult_born_by(dt.date(2026, 12, 31)) == dt.date(2008, 12, 31)
    assert adult_born_by(dt.date(2028, 2, 29)) == dt.date(2010, 2, 28)


def _skills(*names):
    from huzhu.volunteers.models import Skill

    return list(Skill.objects.filter(name__in=names))


def test_load_counts_recent_records_and_needs_in_hand(city):
    volunteer = helper_volunteer(city.grid_a, "李忙", "busy")
    today = timezone.localdate()
    enter_record(volunteer, city.community_a, today - dt.timedelta(days=3))
    enter_record(volunteer, city.community_a, today - dt.timedelta(days=30))
    enter_record(volunteer, city.community_a, today - dt.timedelta(days=31))  # too old
    rejected = enter_record(
        volunteer, city.community_a, today - dt.timedelta(days=1), confirm=False
    )
    ServiceRecord.objects.filter(pk=rejected.pk).update(status=RecordStatus.REJECTED)
    pending = enter_record(volunteer, city.community_a, today, confirm=False)
    assert pending.status == RecordStatus.PENDING
    profiles_refresh(volunteer_ids=[volunteer.pk])
    assert rows(volunteer)["跑腿代办"][6] == 3  # 3 days, 30 days, and the one waiting


def test_the_register_services_refresh_the_profile(city):
    worker = Scope.for_user(city.worker_a)
    person = make_person(city.grid_a, "李新", id_number=make_id_number(birth=dt.date(1990, 1, 1)))
    volunteer = volunteer_register(
        actor=city.worker_a,
        scope=worker,
        org=city.grid_a,
        data=RegistrationInput(id_number=person.id_number, skills=["驾驶"]),
    ).volunteer
    assert set(fits(volunteer)) == {"跑腿代办", "助行出行"}
    volunteer_set_status(
        actor=city.worker_a,
        scope=worker,
        volunteer=volunteer,
        status=VolunteerStatus.SUSPENDED,
        reason="外出学习",
    )
    assert fits(volunteer) == {}
    volunteer_set_status(
        actor=city.worker_a,
        scope=worker,
        volunteer=volunteer,
        status=VolunteerStatus.REGISTERED,
        reason="学习结束",
    )
    assert set(fits(volunteer)) == {"跑腿代办", "助行出行"}
    volunteer_update(actor=city.worker_a, scope=worker, volunteer=volunteer, skills=["理发"])
    assert fits(volunteer) == {"理发": MatchFit.SKILL}
    volunteer_update(actor=city.worker_a, scope=worker, volunteer=volunteer, availability=0b111)
    assert rows(volunteer)["理发"][5] == 0b111
    other = make_org(OrgKind.COMMUNITY, "丙社区", city.street)
    set_place(other, 36.9, 117.3)
    volunteer_update(actor=None, scope=SYSTEM, volunteer=volunteer, org=other)
    assert rows(volunteer)["理发"][1:5] == (other.pk, cell_of(36.9, 117.3), 36.9, 117.3)


def test_a_self_registration_waits_for_approval(city):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="self", password="pw-for-tests")
    person_id = make_id_number(birth=dt.date(1991, 2, 3))
    volunteer = volunteer_register(
        actor=user,
        scope=Scope.for_user(user),
        org=city.grid_a,
        data=RegistrationInput(
            name="李自荐", id_number=person_id, phone="13900000001", skills=["烹饪"]
        ),
        source="self",
    ).volunteer
    assert volunteer.status == VolunteerStatus.PENDING
    assert fits(volunteer) == {}
    volunteer_set_status(
        actor=city.worker_a,
        scope=Scope.for_user(city.worker_a),
        volunteer=volunteer,
        status=VolunteerStatus.REGISTERED,
    )
    assert fits(volunteer) == {"助餐": MatchFit.SKILL}


def test_many_volunteers_are_refreshed_in_one_call(city):
    volunteers = [make_volunteer(city.grid_a, f"李{n}") for n in range(3)]
    for volunteer in volunteers:
        volunteer.skills.add(*_skills("烹饪"))  # as a bulk import writes them
    assert not MatchProfile.objects.exists()
    assert match_profiles_refresh(volunteer_ids=[v.pk for v in volunteers] * 2) == 3
    assert MatchProfile.objects.count() == 3
    assert match_profiles_refresh(volunteer_ids=[]) == 0


def test_a_full_refresh_rebuilds_everyone_and_drops_the_stale(city):
    kept = helper_volunteer(city.grid_a, "李留", "kept")
    gone = helper_volunteer(city.grid_a, "李走", "gone")
    Volunteer.objects.filter(pk=gone.pk).update(status=VolunteerStatus.CANCELLED)
    MatchProfile.objects.filter(volunteer=kept).update(load=9)
    assert profiles_refresh() == 1
    assert set(MatchProfile.objects.values_list("volunteer_id", "load")) == {(kept.pk, 0)}
    assert NeedCategory.objects.filter(is_active=True).count() == 15


def test_a_refresh_costs_the_same_queries_for_one_and_many(city):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    volunteers = [helper_volunteer(city.grid_a, f"李{n}", f"v{n}") for n in range(8)]
    counts = []
    for ids in ([volunteers[0].pk], [v.pk for v in volunteers]):
        with CaptureQueriesContext(connection) as captured:
            profiles_refresh(volunteer_ids=ids)
        counts.append(len(captured))
    assert counts[0] == counts[1]
