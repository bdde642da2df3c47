"""The ``volunteers`` demo step: corps and teams in the association chain, volunteers drawn
from the residents, and what the demo logins need (volunteer, leader, a review to do)."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from huzhu.common.models import AuditEntry
from huzhu.demo.seed import STEPS, Step, register_step, seed_demo
from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.volunteers import demo_steps
from huzhu.volunteers.models import (
    Course,
    Qualification,
    RegistrationSource,
    StarApplication,
    StarStatus,
    TeamMembership,
    TeamProfile,
    TeamRole,
    TrainingAttendance,
    TrainingSession,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.selectors import VolunteerFilters, volunteer_list
from huzhu.volunteers.services import star_level_for

User = get_user_model()
PASSWORD = "demo-pass-123"
TODAY = dt.date(2025, 6, 1)


@pytest.fixture
def demo(db):
    return seed_demo(password=PASSWORD, residents=300, progress=False, today=TODAY)


def _age(person: Person) -> int:
    return person.age_on(TODAY)


def test_volunteers_are_drawn_from_the_residents(demo):
    volunteers = list(Volunteer.objects.select_related("person", "org"))
    residents = list(Person.objects.all())
    assert demo.counts["volunteers"] == len(volunteers) > 0
    adults = [p for p in residents if _age(p) >= 18]
    # About DEFAULT_VOLUNTEER_RATIO of adults, and nobody twice.
    assert 0.15 * len(adults) <= len(volunteers) <= 0.6 * len(adults)
    assert len({v.person_id for v in volunteers}) == len(volunteers)
    numbers = [v.number for v in volunteers]
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"V20\d{2}\d{7}", n) for n in numbers)
    for v in volunteers:
        assert v.org_id == v.person.org_id  # registered where they live
        assert _age(v.person) >= demo_steps.MIN_AGE
        if _age(v.person) < 18:
            assert v.guardian_consent_at and v.guardian_name
            assert re.fullmatch(r"1\d{2}\*{4}\d{4}", v.guardian_phone_masked)
        assert v.recorded_minutes >= v.historical_minutes  # + a year of service records
        assert v.star_level <= star_level_for(v.recorded_minutes)
        assert v.registered_at.date() <= TODAY
        assert v.availability > 0
    # Skewed to the 40–70 year-olds, who carry community volunteering.
    middle = sum(40 <= _age(v.person) <= 70 for v in volunteers) / len(volunteers)
    assert middle > sum(40 <= _age(p) <= 70 for p in adults) / len(adults)
    statuses = Counter(v.status for v in volunteers)
    assert statuses[VolunteerStatus.REGISTERED] > len(volunteers) * 0.8
    assert statuses[VolunteerStatus.PENDING] >= 3
    assert Volunteer.skills.through.objects.count() > 0
    assert Volunteer.categories.through.objects.filter(volunteer__in=volunteers).count() >= len(
        volunteers
    )  # at least one category each
    assert Volunteer.served_groups.through.objects.count() >= len(volunteers)
    assert any(v.political_status == "cpc_member" for v in volunteers)
    # one entry for the seed (demo certificates are issued through the audited service)
    seed_verbs = ("demo.seed", "certificate.apply", "certificate.issue", "timebank.redeem")
    assert not AuditEntry.objects.exclude(verb__in=seed_verbs).exists()


def test_registration_history_and_related_rows(demo):
    for volunteer in Volunteer.objects.all():
        changes = list(volunteer.status_changes.values_list("from_status", "to_status"))
        assert changes[0][0] == "" and changes[-1][1] == volunteer.status
        if volunteer.source == RegistrationSource.SELF:
            assert changes[0][1] == VolunteerStatus.PENDING
        for (_, to), (frm, _) in itertools.pairwise(changes):
            assert to == frm  # a chain
    assert VolunteerStatusChange.objects.count() >= Volunteer.objects.count()
    members = TeamMembership.objects.select_related("team", "volunteer__org")
    assert members.count() > 0
    for m in members:
        assert m.volunteer.status == VolunteerStatus.REGISTERED
        assert m.team.kind == OrgKind.TEAM
        assert m.volunteer.org.path.startswith(m.team.parent.parent.path)  # their community
    teams = Org.objects.filter(kind=OrgKind.TEAM)
    leaders = Counter(m.team_id for m in members if m.role == TeamRole.LEADER)
    assert all(n == 1 for n in leaders.values())
    assert TeamProfile.objects.count() == teams.count()
    assert all(p.category_id for p in TeamProfile.objects.all())
    assert Course.objects.count() == 3 * Org.objects.filter(kind=OrgKind.COMMUNITY).count()
    assert TrainingSession.objects.count() > 0 and TrainingAttendance.objects.count() > 0
    for q in Qualification.objects.select_related("kind"):
        assert q.issued_on <= TODAY
        if q.kind.validity_months:
            assert q.expires_on > q.issued_on
    soon = Qualification.objects.filter(
        expires_on__gte=TODAY, expires_on__lte=TODAY + dt.timedelta(days=30)
    )
    assert soon.exists()  # reminders have something to remind of
    granted = StarApplication.objects.filter(status=StarStatus.GRANTED).select_related("volunteer")
    assert granted.exists()
    for application in granted:
        assert application.volunteer.star_level == application.level


def test_association_chain(demo):
    for branch in Org.objects.filter(kind=OrgKind.BRANCH):
        assert branch.affiliation.kind == OrgKind.DISTRICT
        assert branch.name == f"{branch.affiliation.name}社区志愿者分会"
    for corps in Org.objects.filter(kind=OrgKind.CORPS).select_related("affiliation"):
        community = corps.parent
        district = Org.objects.ancestors_of(community).get(kind=OrgKind.DISTRICT)
        assert corps.affiliation.kind == OrgKind.BRANCH
        assert corps.affiliation.affiliation_id == district.pk


def test_demo_logins(demo):
    community_a = RoleGrant.objects.get(user__username="worker-a").org
    volunteer = Volunteer.objects.get(person__user__username="volunteer")
    assert volunteer.status == VolunteerStatus.REGISTERED
    assert volunteer.org.path.startswith(community_a.path)
    assert volunteer.star_level == 1 and volunteer.historical_minutes == 128 * 60
    assert volunteer.recorded_minutes > volunteer.historical_minutes  # a year of service
    assert volunteer.memberships.filter(left_on__isnull=True).exists()
    first_aid = volunteer.qualifications.get(kind__name="急救证")
    assert TODAY <= first_aid.expires_on <= TODAY + dt.timedelta(days=30)

    leader_user = User.objects.get(username="leader")
    person = Person.objects.get(user=leader_user)
    assert leader_user.first_name == person.name
    assert person.org.path.startswith(community_a.path)
    grant = RoleGrant.objects.get(user=leader_user)  # still exactly one grant
    assert (grant.role, grant.org.kind) == (Role.TEAM_LEADER, OrgKind.TEAM)
    membership = TeamMembership.objects.get(volunteer__person=person)
    assert (membership.team, membership.role) == (grant.org, TeamRole.LEADER)
    assert TeamMembership.objects.filter(team=grant.org, role=TeamRole.LEADER).count() == 1
    assert {a.username: a.display_name for a in demo.accounts}["leader"] == person.name

    # worker-a has self-registrations to review, found through the real search.
    waiting = volunteer_list(
        scope=Scope.for_user(User.objects.get(username="worker-a")),
        filters=VolunteerFilters(status=VolunteerStatus.PENDING),
    )
    assert waiting.count() >= 3
    assert all(v.source == RegistrationSource.SELF for v in waiting)


def test_if_empty_is_idempotent_and_reset_reseeds(db):
    out = io.StringIO()
    call_command(
        "seed_demo", "--if-empty", "--residents", "300", "--password", PASSWORD, stdout=out
    )
    assert "志愿者：" in out.getvalue()
    before = (Volunteer.objects.count(), TeamMembership.objects.count(), Course.objects.count())
    assert before[0] > 0
    call_command("seed_demo", "--if-empty", "--password", PASSWORD, stdout=io.StringIO())
    assert (
        Volunteer.objects.count(),
        TeamMembership.objects.count(),
        Course.objects.count(),
    ) == before
    call_command(
        "seed_demo", "--reset", "--residents", "300", "--password", PASSWORD, stdout=io.StringIO()
    )
    assert Volunteer.objects.count() == before[0]  # same seed, same city
    assert Org.objects.filter(kind=OrgKind.CITY).count() == 1
    numbers = list(Volunteer.objects.values_list("number", flat=True))
    assert len(set(numbers)) == len(numbers)


def test_scale_and_batches_and_ratio(db):
    small = seed_demo(password=PASSWORD, residents=100, progress=False, today=TODAY, batch_size=40)
    assert small.counts["volunteers"] == Volunteer.objects.count() > 0
    scaled = seed_demo(
        password=PASSWORD,
        residents=100,
        scale=4,
        progress=False,
        today=TODAY,
        batch_size=40,
        reset=True,
    )
    assert scaled.counts["volunteers"] == Volunteer.objects.count()
    assert scaled.counts["volunteers"] > 2.5 * small.counts["volunteers"]

    def more(ctx):
        ctx.volunteer_ratio = 0.8  # what `seed-demo --volunteer-ratio 0.8` sets

    register_step(Step("test-ratio", more), after="accounts")
    try:
        assert [s.name for s in STEPS].index("test-ratio") < [s.name for s in STEPS].index(
            "volunteers"
        )
        many = seed_demo(password=PASSWORD, residents=400, progress=False, today=TODAY, reset=True)
    finally:
        STEPS[:] = [s for s in STEPS if s.name != "test-ratio"]
    adults = sum(p.age_on(TODAY) >= 18 for p in Person.objects.all())
    assert many.counts["volunteers"] >= 0.6 * adults


def test_profiles_are_plausible():
    import random

    rng = random.Random(3)
    profiles = [(age, demo_steps.profile_for(rng, age)) for age in range(16, 86) for _ in range(40)]
    hours = sorted(p.historical_minutes / 60 for _, p in profiles)
    assert 15 <= hours[len(hours) // 2] <= 60  # median tens of hours
    assert hours[-1] >= 300  # and a long tail: every star level is reachable
    levels = Counter(star_level_for(p.historical_minutes) for _, p in profiles)
    assert levels[0] > levels[1] > levels[2] > 0
    assert all(1 <= len(p.categories) <= 3 and 1 <= len(p.served) <= 2 for _, p in profiles)
    # Retired people give weekday daytimes; working-age people evenings and weekends.
    retired = [p.availability for a, p in profiles if a >= 65]
    working = [p.availability for a, p in profiles if 25 <= a < 55]
    weekday_am = 1 << 0  # mon_am
    assert sum(bool(m & weekday_am) for m in retired) / len(retired) > 0.4
    assert sum(bool(m & weekday_am) for m in working) / len(working) < 0.1
    assert demo_steps.add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert demo_steps.add_months(dt.date(2024, 11, 30), 3) == dt.date(2025, 2, 28)
