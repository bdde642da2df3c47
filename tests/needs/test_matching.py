"""Ranking volunteers for a need: who is eligible, what each part of the score is worth, the
order and its tie-break, the reasons in words, the index path equal to the full scan, and
how work spreads and reliability counts."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest
from django.utils import timezone

from huzhu.activities.models import Signup
from huzhu.activities.services import shift_mark_no_shows, signup_create
from huzhu.needs import matching, services
from huzhu.needs.matching import Candidate, MatchContext, cell_of, cell_ranges, score_row
from huzhu.needs.models import MatchFit, MatchProfile, Need, Payment
from huzhu.needs.profiles import profiles_refresh
from huzhu.orgs.models import OrgKind
from huzhu.people.models import Person
from huzhu.people.services import person_build
from huzhu.volunteers.models import Qualification, QualificationType, Volunteer, VolunteerStatus
from huzhu.volunteers.services import issue_numbers
from tests.activities.factories import first_shift, make_activity
from tests.factories import City, make_id_number, make_org, make_phone
from tests.needs.factories import (
    access_for,
    give_credits,
    helper_volunteer,
    make_resident,
    need_category,
    post_need,
    set_place,
)

pytestmark = pytest.mark.django_db

LAT, LNG = 36.660, 117.020
KM_LAT = math.pi * 6371.0 / 180  # km per degree of latitude on the haversine sphere


@pytest.fixture
def city() -> City:
    city = City()
    set_place(city.community_a, LAT, LNG)
    set_place(city.community_b, 36.670, 117.030)
    return city


def north(km: float) -> float:
    """The latitude ``km`` north of the need."""
    return LAT + km / KM_LAT


def next_weekday(weekday: int, hour: int) -> dt.datetime:
    """The next such weekday (0 = Monday) after today, at ``hour`` local time."""
    day = timezone.localdate() + dt.timedelta(days=1)
    while day.weekday() != weekday:
        day += dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def monday_need(city: City, resident=None, **overrides) -> Need:
    """Next Monday 09:00–11:00 (周一上午), free help, at the community centre."""
    start = next_weekday(0, 9)
    resident = resident or make_resident(city.grid_a, "王奶奶")
    values = {"starts_at": start, "ends_at": start + dt.timedelta(hours=2)}
    values.update({"payment": Payment.NONE, **overrides})
    return post_need(city.worker_a, resident, **values)


def ctx_for(**changes) -> MatchContext:
    values = {
        "need_id": 1,
        "community_id": 10,
        "category_shares": {1: 1.0, 2: 0.8},
        "category_names": {1: "助餐", 2: "跑腿代办"},
        "latitude": LAT,
        "longitude": LNG,
        "radius": 5.0,
        "slots": 0b011,  # Monday morning and afternoon
        "qualification_ids": [],
        "excluded": set(),
        "today": dt.date(2026, 11, 29),
        "load_days": 30,
    }
    values.update(changes)
    return MatchContext(**values)


def row(**changes) -> tuple:
    values = {
        "volunteer_id": 7,
        "category_id": 1,
        "community_id": 10,
        "fit": MatchFit.OFFER,
        "latitude": LAT,
        "longitude": LNG,
        "availability": 0b011,
        "load": 0,
        "no_shows": 0,
        "rating_x10": 0,
        "ratings": 0,
    }
    values.update(changes)
    return tuple(values[name] for name in matching.COLUMNS)


# --- the score, part by part ---------------------------------------------------------------


def test_a_perfect_fresh_candidate_scores_99():
    candidate = score_row(ctx_for(), row())
    assert candidate.parts == {
        "fit": 1.0,
        "distance": 1.0,
        "availability": 1.0,
        "load": 1.0,
        "reliability": pytest.approx(0.9),
    }
    assert candidate.score == pytest.approx(99.0)
    assert (candidate.points, candidate.distance) == (99, 0.0)


@pytest.mark.parametrize(
    ("changes", "part", "value"),
    [
        ({"fit": MatchFit.SKILL}, "fit", 0.8),
        ({"fit": MatchFit.CATEGORY}, "fit", 0.5),
        ({"category_id": 2}, "fit", 0.8),  # a category the description suggested
        ({"category_id": 2, "fit": MatchFit.SKILL}, "fit", 0.64),
        ({"category_id": 2, "fit": MatchFit.CATEGORY}, "fit", 0.4),
        ({"latitude": north(2.5)}, "distance", 0.5),
        ({"latitude": north(4)}, "distance", 0.2),
        ({"latitude": north(5)}, "distance", 0.0),
        ({"latitude": None, "longitude": None}, "distance", 0.5),  # same community
        ({"availability": 0b001}, "availability", 0.5),
        ({"availability": 0b100}, "availability", 0.0),
        ({"availability": 0}, "availability", 0.4),  # nothing declared
        ({"load": 1}, "load", 0.5),
        ({"load": 3}, "load", 0.25),
        ({"rating_x10": 50, "ratings": 4}, "reliability", 1.0),
        ({"rating_x10": 40, "ratings": 2}, "reliability", 0.875),
        ({"rating_x10": 10, "ratings": 1}, "reliability", 0.5),
        ({"no_shows": 1}, "reliability", 0.4 + 0.5 * 2 / 3),
        ({"no_shows": 3}, "reliability", 0.4),
        ({"no_shows": 9, "rating_x10": 10, "ratings": 3}, "reliability", 0.0),
    ],
)
def test_each_part_of_the_score(changes, part, value):
    base = score_row(ctx_for(), row())
    candidate = score_row(ctx_for(), row(**changes))
    assert candidate.parts[part] == pytest.approx(value)
    others = {k: v for k, v in candidate.parts.items() if k != part}
    assert others == {k: v for k, v in base.parts.items() if k != part}
    weight = matching.WEIGHTS[part]
    assert candidate.score == pytest.approx(99.0 - weight * (base.parts[part] - value))


def test_a_mixed_candidate_adds_up_exactly():
    candidate = score_row(
        ctx_for(),
        row(
            category_id=2,
            fit=MatchFit.SKILL,
            latitude=None,
            longitude=None,
            availability=0b001,
            load=3,
            rating_x10=40,
            ratings=2,
            no_shows=1,
        ),
    )
    # 30×0.64 + 25×0.5 + 20×0.5 + 15×0.25 + 10×(0.375 + 1/3)
    assert candidate.score == pytest.approx(19.2 + 12.5 + 10 + 3.75 + 7.0833333)
    assert candidate.points == 53
    assert candidate.distance is None


def test_whole_points_round_halves_up():
    assert Candidate(1, 62.5, {}, ()).points == 63
    assert Candidate(1, 62.49, {}, ()).points == 62
    assert Candidate(1, 61.5, {}, ()).points == 62


@pytest.mark.parametrize(
    ("ctx_changes", "row_changes"),
    [
        ({}, {"latitude": north(5.01)}),  # beyond the radius
        ({}, {"latitude": None, "longitude": None, "community_id": 11}),  # unplaced elsewhere
        ({"latitude": None, "longitude": None}, {"community_id": 11}),  # need unplaced
        ({}, {"category_id": 3}),  # does not fit the need
        ({"excluded": {7}}, {}),  # the requester, or asked already
    ],
)
def test_who_is_not_eligible(ctx_changes, row_changes):
    assert score_row(ctx_for(**ctx_changes), row(**row_changes)) is None


def test_an_unplaced_need_takes_its_community_at_half_distance():
    candidate = score_row(ctx_for(latitude=None, longitude=None), row(latitude=north(30)))
    assert (candidate.parts["distance"], candidate.distance) == (0.5, None)


# --- windows and cells ---------------------------------------------------------------------


def _at(day: int, hour: int) -> dt.datetime:
    """``day`` days after Monday 30 November 2026, at ``hour`` local time."""
    return timezone.make_aware(dt.datetime(2026, 11, 30, hour) + dt.timedelta(days=day))


@pytest.mark.parametrize(
    ("start", "end", "mask"),
    [
        (_at(0, 9), _at(0, 11), 0b001),
        (_at(0, 11), _at(0, 13), 0b011),
        (_at(0, 17), _at(0, 19), 0b110),
        (_at(0, 12), _at(0, 18), 0b010),
        (_at(0, 22), _at(1, 1), 0b001_100),  # Monday evening, Tuesday morning
        (_at(6, 20), _at(6, 21), 1 << 20),  # Sunday evening
        (_at(0, 0), _at(7, 0), (1 << 21) - 1),
    ],
)
def test_window_mask(start, end, mask):
    assert matching.window_mask(start, end) == mask


def _destination(lat: float, lng: float, km: float, bearing: float) -> tuple[float, float]:
    """The point ``km`` from (lat, lng) along ``bearing`` on the haversine sphere."""
    d = km / 6371.0
    p1, l1, b = math.radians(lat), math.radians(lng), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)


def test_the_cells_cover_every_place_within_the_radius():
    rng = random.Random(20261129)
    for _ in range(3000):
        lat, lng = rng.uniform(18, 54), rng.uniform(73, 135)
        km = rng.choice([1.0, 5.0, 12.5])
        ranges = cell_ranges(lat, lng, km)
        bearing = rng.choice([0, 90, 180, 270, rng.uniform(0, 360)])
        distance = km * rng.choice([1.0, 0.999999, rng.random()])
        plat, plng = _destination(lat, lng, distance, bearing)
        assert matching.distance_km(lat, lng, plat, plng) == pytest.approx(distance, abs=1e-6)
        cell = cell_of(plat, plng)
        assert any(low <= cell <= high for low, high in ranges), (lat, lng, km, bearing)


def test_cells_of_places():
    assert cell_of(None, 117.0) is None
    assert cell_of(36.665, 117.025) == 12666 * 100_000 + 29702
    assert cell_of(36.665, 117.025) != cell_of(36.675, 117.025)


# --- eligibility on real data ---------------------------------------------------------------


def test_ranking_reads_radius_fit_requester_and_invitations(city):
    near = helper_volunteer(city.grid_a, "李近", "near", place=(north(1), LNG))
    far = helper_volunteer(city.grid_a, "赵远", "far", place=(north(6), LNG))
    helper_volunteer(city.grid_a, "钱理发", "barber", categories=("理发",), place=(LAT, LNG))
    other_community = helper_volunteer(city.grid_b, "孙乙", "sun")  # at community B's centre
    asked = helper_volunteer(city.grid_a, "周问", "asked", place=(north(0.5), LNG))
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    own = _register_with_offer(resident)  # the requester is a volunteer too
    need = monday_need(city, resident)
    assert MatchProfile.objects.filter(volunteer=own).exists()
    ranked = matching.rank(need)
    assert [c.volunteer_id for c in ranked] == [asked.pk, near.pk, other_community.pk]
    assert [round(c.distance, 3) for c in ranked] == [0.5, 1.0, 1.425]
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[asked.pk]
    )
    assert [c.volunteer_id for c in matching.rank(need)] == [near.pk, other_community.pk]
    assert far.pk not in [c.volunteer_id for c in matching.rank_full_scan(need, limit=100)]


def _register_with_offer(person: Person) -> Volunteer:
    from huzhu.needs.services import OfferInput, offer_save
    from huzhu.volunteers.services import RegistrationInput, volunteer_register
    from tests.activities.factories import SYSTEM

    volunteer = volunteer_register(
        actor=None, scope=SYSTEM, org=person.org, data=RegistrationInput(id_number=person.id_number)
    ).volunteer
    offer_save(
        actor=person.user,
        volunteer=volunteer,
        data=OfferInput(
            title="我也能帮忙",
            category_ids=[need_category("跑腿代办").pk],
            latitude=LAT,
            longitude=LNG,
        ),
    )
    return volunteer


def test_unplaced_volunteers_are_candidates_in_their_own_community(city):
    plain_c = make_org(OrgKind.COMMUNITY, "丙社区", city.street)  # no place marked
    plain_d = make_org(OrgKind.COMMUNITY, "丁社区", city.street)
    home = helper_volunteer(plain_c, "李家", "home")
    placed = helper_volunteer(plain_c, "赵定", "placed", place=(north(30), LNG))
    elsewhere = helper_volunteer(plain_d, "孙外", "elsewhere")
    resident = make_resident(plain_c, "王奶奶")
    need = post_need(_worker_of(plain_c), resident, payment=Payment.NONE)
    assert (need.latitude, need.longitude) == (None, None)
    ranked = matching.rank(need)
    assert [c.volunteer_id for c in ranked] == [home.pk, placed.pk]
    assert all(c.parts["distance"] == 0.5 and c.distance is None for c in ranked)
    assert elsewhere.pk not in [c.volunteer_id for c in ranked]
    ctx = MatchContext.for_need(need)
    assert matching.explain(ctx, ranked[0])[1] == "同一社区（位置未标注）"
    # a placed need in the same community still reaches the unplaced volunteer
    Need.objects.filter(pk=need.pk).update(latitude=LAT, longitude=LNG)
    need.refresh_from_db()
    assert [c.volunteer_id for c in matching.rank(need)] == [home.pk]
    assert matching.rank(need) == matching.rank_full_scan(need)


def _worker_of(org):
    from tests.factories import UserFactory, grant

    user = UserFactory(username=f"worker-{org.pk}")
    grant(user, org)
    return user


def test_qualifications_must_be_held_and_valid_on_the_first_day(city):
    kind = QualificationType.objects.create(name="匹配测试护理证")
    start = next_weekday(0, 9)
    first_day = timezone.localtime(start).date()
    holders = {
        "forever": None,
        "on_the_day": first_day,
        "later": first_day + dt.timedelta(days=30),
        "expired": timezone.localdate() - dt.timedelta(days=1),
        "the_day_before": first_day - dt.timedelta(days=1),
    }
    volunteers = {}
    for n, (name, expires) in enumerate(holders.items()):
        volunteer = helper_volunteer(city.grid_a, f"李{name}", name, place=(north(n / 10), LNG))
        Qualification.objects.create(
            volunteer=volunteer, kind=kind, issued_on=dt.date(2024, 1, 1), expires_on=expires
        )
        volunteers[name] = volunteer.pk
    helper_volunteer(city.grid_a, "赵无证", "none", place=(LAT, LNG))
    need = monday_need(city, qualification_ids=[kind.pk])
    ranked = [c.volunteer_id for c in matching.rank(need)]
    assert ranked == [volunteers["forever"], volunteers["on_the_day"], volunteers["later"]]
    assert matching.rank_full_scan(need) == matching.rank(need)
    assert [c.volunteer_id for c in matching.rank(need, limit=2)] == ranked[:2]


# --- order, reasons, ties -------------------------------------------------------------------


def test_equal_candidates_are_ordered_by_id_and_scores_are_exact(city):
    first = helper_volunteer(city.grid_a, "李甲", "first", place=(LAT, LNG))
    second = helper_volunteer(city.grid_a, "李乙", "second", place=(LAT, LNG))
    meal = helper_volunteer(city.grid_a, "李饭", "meal", categories=("助餐",), place=(LAT, LNG))
    need = monday_need(city)
    ranked = matching.rank(need)
    assert [c.volunteer_id for c in ranked] == [meal.pk, first.pk, second.pk]
    assert [c.score for c in ranked] == pytest.approx([99.0, 93.0, 93.0])
    assert [c.points for c in ranked] == [99, 93, 93]


def test_the_reasons_are_in_words(city):
    volunteer = helper_volunteer(
        city.grid_a, "李近", "near", place=(north(1.2), LNG), availability=0b101
    )
    need = monday_need(city, description="帮我买菜", ends_at=next_weekday(0, 13))
    (candidate,) = matching.rank(need)
    ctx = MatchContext.for_need(need)
    assert matching.explain(ctx, candidate) == [
        "发布了“跑腿代办”服务",
        "距离约 1.2 公里",
        "需求时段部分有空（周一上午）",
        "近 30 天未承担服务，可分担",
        "暂无评价",
        "近 90 天无缺席",
    ]
    MatchProfile.objects.filter(volunteer=volunteer).update(
        load=2, rating_x10=45, ratings=4, no_shows=1, availability=0b011, fit=MatchFit.SKILL
    )
    (candidate,) = matching.rank(need)
    assert matching.explain(ctx, candidate) == [
        "具备“跑腿代办”相关技能",
        "距离约 1.2 公里",
        "需求时段（周一上午、周一下午）有空",
        "近 30 天已承担服务 2 次",
        "平均评分 4.5（4 次评价）",
        "近 90 天缺席 1 次",
    ]
    MatchProfile.objects.filter(volunteer=volunteer).update(availability=0, fit=MatchFit.CATEGORY)
    (candidate,) = matching.rank(need)
    reasons = matching.explain(ctx, candidate)
    assert reasons[0] == "登记的服务类别与“跑腿代办”相近"
    assert reasons[2] == "未登记可服务时间"
    MatchProfile.objects.filter(volunteer=volunteer).update(availability=1 << 20)
    (candidate,) = matching.rank(need)
    assert matching.explain(ctx, candidate)[2] == "需求时段（周一上午、周一下午）未登记有空"


# --- the index path equals the full scan ----------------------------------------------------


def _population(city: City, count: int, rng: random.Random) -> list[int]:
    """``count`` registered volunteers with random profile rows (made in bulk: what is
    tested here is ranking, not how profiles are built)."""
    orgs = [city.grid_a, city.grid_b, city.community_a, city.community_b]
    people = Person.objects.bulk_create(
        [
            person_build(
                org=city.grid_a, name=f"志愿{n}", id_number=make_id_number(), phone=make_phone()
            )
            for n in range(count)
        ]
    )
    numbers = issue_numbers(count)
    volunteers = Volunteer.objects.bulk_create(
        [
            Volunteer(
                person=p, org=rng.choice(orgs), number=numbers[n], status=VolunteerStatus.REGISTERED
            )
            for n, p in enumerate(people)
        ]
    )
    categories = [need_category(name).pk for name in ("助餐", "跑腿代办", "助洁", "理发")]
    communities = [city.community_a.pk, city.community_b.pk]
    profile_rows = []
    twin = None
    for volunteer in volunteers:
        placed = rng.random() < 0.8
        lat = LAT + rng.uniform(-0.07, 0.07) if placed else None
        lng = LNG + rng.uniform(-0.09, 0.09) if placed else None
        values = {
            "community_id": rng.choice(communities),
            "fit": rng.choice(list(MatchFit)),
            "latitude": lat,
            "longitude": lng,
            "availability": rng.choice([0, (1 << 21) - 1, rng.getrandbits(21)]),
            "load": rng.choice([0, 0, 1, 2, 5]),
            "no_shows": rng.choice([0, 0, 0, 1, 4]),
            "rating_x10": rng.choice([0, 10, 35, 50]),
        }
        values["ratings"] = 0 if values["rating_x10"] == 0 else rng.randint(1, 9)
        if twin is not None and rng.random() < 0.15:
            values = dict(twin)  # the same profile as another volunteer: a tie
        twin = values
        for category_id in rng.sample(categories, rng.randint(1, 3)):
            profile_rows.append(
                MatchProfile(
                    volunteer=volunteer,
                    category_id=category_id,
                    cell=cell_of(values["latitude"], values["longitude"]),
                    **values,
                )
            )
    MatchProfile.objects.bulk_create(profile_rows)
    return [v.pk for v in volunteers]


def test_rank_equals_the_full_scan_on_a_random_population(city):
    rng = random.Random(6)
    ids = _population(city, 400, rng)
    kind = QualificationType.objects.create(name="匹配测试证书")
    for pk in rng.sample(ids, 120):
        expires = rng.choice([None, timezone.localdate() - dt.timedelta(days=1)])
        Qualification.objects.create(
            volunteer_id=pk, kind=kind, issued_on=dt.date(2024, 1, 1), expires_on=expires
        )
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 6000)
    needs = [
        post_need(city.worker_a, resident),  # 助餐 + 跑腿代办
        post_need(city.worker_a, resident, description="想剪头发", latitude=36.7, longitude=117.0),
        post_need(city.worker_a, resident, description="打扫卫生", qualification_ids=[kind.pk]),
        post_need(city.worker_a, resident, description="帮我买菜"),
    ]
    unplaced = needs[-1]
    Need.objects.filter(pk=unplaced.pk).update(latitude=None, longitude=None)
    unplaced.refresh_from_db()
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, needs[0]), volunteer_ids=ids[:5]
    )
    for need in needs:
        for limit in (1, 10, 50, 10_000):
            fast = matching.rank(need, limit=limit)
            slow = matching.rank_full_scan(need, limit=limit)
            assert [(c.volunteer_id, c.score) for c in fast] == [
                (c.volunteer_id, c.score) for c in slow
            ]
        everyone = matching.rank(need, limit=10_000)
        assert len(everyone) >= 10
        keys = [(-c.score, c.volunteer_id) for c in everyone]
        assert keys == sorted(keys)
    assert not set(ids[:5]) & {c.volunteer_id for c in matching.rank(needs[0], limit=10_000)}


# --- work spreads; reliability counts ------------------------------------------------------


def test_a_volunteer_who_just_accepted_drops_below_an_equal_peer(city):
    busy = helper_volunteer(city.grid_a, "李忙", "busy", place=(LAT, LNG))
    free = helper_volunteer(city.grid_a, "李闲", "free", place=(LAT, LNG))
    first = monday_need(city)
    assert [c.volunteer_id for c in matching.rank(first)] == [busy.pk, free.pk]
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, first), volunteer_ids=[busy.pk]
    )
    services.invitation_accept(actor=busy.person.user, invitation=busy.invitations.get())
    second = monday_need(city, make_resident(city.grid_a, "赵大爷"))
    ranked = matching.rank(second)
    assert [c.volunteer_id for c in ranked] == [free.pk, busy.pk]
    assert [c.parts["load"] for c in ranked] == [1.0, 0.5]
    assert ranked[0].score - ranked[1].score == pytest.approx(7.5)
    ctx = MatchContext.for_need(second)
    assert matching.explain(ctx, ranked[1])[3] == "近 30 天已承担服务 1 次"
    # the nightly rebuild agrees: a need in hand counts as load
    profiles_refresh()
    assert [c.parts["load"] for c in matching.rank(second)] == [1.0, 0.5]


def test_a_poor_rating_lowers_reliability(city):
    rated = helper_volunteer(city.grid_a, "李评", "rated", place=(LAT, LNG))
    peer = helper_volunteer(city.grid_a, "李同", "peer", place=(LAT, LNG))
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    need = monday_need(city, resident)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[rated.pk]
    )
    services.invitation_accept(actor=rated.person.user, invitation=rated.invitations.get())
    user = rated.person.user
    services.need_mark_done(actor=user, access=access_for(user, need), minutes=60)
    services.need_confirm(
        actor=resident.user,
        access=access_for(resident.user, need),
        data=services.Confirmation(rating=1),
    )
    profile = MatchProfile.objects.filter(volunteer=rated).first()
    assert (profile.rating_x10, profile.ratings, profile.load) == (10, 1, 1)
    later = monday_need(city, make_resident(city.grid_a, "赵大爷"))
    ranked = {c.volunteer_id: c for c in matching.rank(later)}
    assert ranked[rated.pk].parts["reliability"] == pytest.approx(0.5)
    assert ranked[peer.pk].parts["reliability"] == pytest.approx(0.9)
    ctx = MatchContext.for_need(later)
    assert matching.explain(ctx, ranked[rated.pk])[4] == "平均评分 1.0（1 次评价）"


def test_no_shows_lower_reliability(city):
    absent = helper_volunteer(city.grid_a, "李缺", "absent", place=(LAT, LNG))
    peer = helper_volunteer(city.grid_a, "李到", "peer", place=(LAT, LNG))
    shift = first_shift(make_activity(city.community_a))
    signup_create(actor=None, volunteer=absent, shift_id=shift.pk)
    marked = shift_mark_no_shows(actor=None, shift=shift, now=shift.ends_at + dt.timedelta(days=1))
    assert marked == 1
    assert Signup.objects.get(volunteer=absent).attendance == "no_show"
    profiles_refresh(volunteer_ids=[absent.pk, peer.pk])
    need = monday_need(city)
    ranked = matching.rank(need)
    assert [c.volunteer_id for c in ranked] == [peer.pk, absent.pk]
    assert ranked[1].parts["reliability"] == pytest.approx(0.4 + 0.5 * 2 / 3)
    ctx = MatchContext.for_need(need)
    assert matching.explain(ctx, ranked[1])[5] == "近 90 天缺席 1 次"


# --- cost ----------------------------------------------------------------------------------


def _queries(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def test_ranking_costs_the_same_queries_for_few_and_many_candidates(city):
    kind = QualificationType.objects.create(name="匹配测试费用证")
    helper = helper_volunteer(city.grid_a, "李一", "one", place=(LAT, LNG))
    Qualification.objects.create(volunteer=helper, kind=kind, issued_on=dt.date(2024, 1, 1))
    plain = monday_need(city)
    asking = monday_need(city, qualification_ids=[kind.pk])
    few = (_queries(lambda: matching.rank(plain)), _queries(lambda: matching.rank(asking)))
    for n in range(12):
        more = helper_volunteer(city.grid_a, f"李多{n}", f"many{n}", place=(north(n / 5), LNG))
        Qualification.objects.create(volunteer=more, kind=kind, issued_on=dt.date(2024, 1, 1))
    assert len(matching.rank(asking)) == 10
    many = (_queries(lambda: matching.rank(plain)), _queries(lambda: matching.rank(asking)))
    assert many == few
