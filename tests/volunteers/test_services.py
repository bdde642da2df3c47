"""Volunteer state changes, profile updates, corps and teams."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import TeamRole, VolunteerStatus
from huzhu.volunteers.services import (
    RegistrationInput,
    corps_ensure,
    star_level_for,
    team_create,
    team_member_add,
    team_member_remove,
    team_member_set_role,
    volunteer_register,
    volunteer_set_status,
    volunteer_update,
)
from tests.factories import UserFactory, make_id_number, make_org

SYSTEM = Scope(user_id=0, is_superuser=True)


def register(org, name="周志愿", birth=dt.date(1980, 1, 1), **extra):
    data = RegistrationInput(name=name, id_number=make_id_number(birth), **extra)
    return volunteer_register(actor=None, scope=SYSTEM, org=org, data=data).volunteer


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "target", "reason", "expected"),
    [
        ("registered", "suspended", "多次无故缺席", "suspended"),
        ("suspended", "registered", "", "registered"),
        ("registered", "cancelled", "本人申请注销", "cancelled"),
    ],
)
def test_allowed_transitions(city, start, target, reason, expected):
    volunteer = register(city.grid_a)
    if start == "suspended":
        volunteer_set_status(
            actor=None, scope=SYSTEM, volunteer=volunteer, status="suspended", reason="暂停"
        )
    scope = Scope.for_user(city.worker_a)
    result = volunteer_set_status(
        actor=city.worker_a, scope=scope, volunteer=volunteer, status=target, reason=reason
    )
    assert result.status == expected
    assert result.status_reason == reason


@pytest.mark.django_db
def test_refused_transitions_name_the_rule(city):
    volunteer = register(city.grid_a)
    scope = Scope.for_user(city.worker_a)
    with pytest.raises(ValidationError) as caught:
        volunteer_set_status(
            actor=city.worker_a, scope=scope, volunteer=volunteer, status=VolunteerStatus.SUSPENDED
        )
    assert caught.value.message_dict == {"reason": ["请填写原因"]}
    volunteer_set_status(
        actor=city.worker_a,
        scope=scope,
        volunteer=volunteer,
        status=VolunteerStatus.CANCELLED,
        reason="迁出",
    )
    with pytest.raises(ValidationError) as caught:
        volunteer_set_status(
            actor=city.worker_a, scope=scope, volunteer=volunteer, status=VolunteerStatus.REGISTERED
        )
    assert caught.value.message_dict == {"status": ["“注销”状态的志愿者不能变更为“已注册”"]}
    with pytest.raises(PermissionDenied):
        volunteer_set_status(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            volunteer=volunteer,
            status=VolunteerStatus.SUSPENDED,
            reason="x",
        )


@pytest.mark.django_db
def test_volunteer_edits_own_profile_but_not_hours(city):
    user = UserFactory(username="self-vol")
    volunteer = register(city.grid_a, historical_minutes=600)
    volunteer.person.user = user
    volunteer.person.save()
    own = Scope.for_user(user)
    updated = volunteer_update(
        actor=user, scope=own, volunteer=volunteer, skills=["摄影"], availability=0b1
    )
    assert [s.name for s in updated.skills.all()] == ["摄影"]
    with pytest.raises(ValidationError):
        volunteer_update(actor=user, scope=own, volunteer=volunteer, historical_minutes=99999)
    worker = Scope.for_user(city.worker_a)
    updated = volunteer_update(
        actor=city.worker_a, scope=worker, volunteer=volunteer, historical_minutes=900
    )
    assert (updated.historical_minutes, updated.recorded_minutes) == (900, 900)


@pytest.mark.django_db
def test_corps_is_affiliated_to_the_district_branch(city):
    association = make_org(OrgKind.ASSOCIATION, "测试市社区志愿者协会", city.city)
    branch = make_org(OrgKind.BRANCH, "历下区分会", association)
    Org.objects.filter(pk=branch.pk).update(affiliation=city.district)
    corps = corps_ensure(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), community=city.community_a
    )
    assert (corps.kind, corps.parent, corps.affiliation) == (
        OrgKind.CORPS,
        city.community_a,
        branch,
    )
    assert corps_ensure(actor=None, scope=SYSTEM, community=city.community_a) == corps


@pytest.mark.django_db
def test_team_leader_gets_and_loses_the_leader_role(city):
    scope = Scope.for_user(city.worker_a)
    corps = corps_ensure(actor=city.worker_a, scope=scope, community=city.community_a)
    team = team_create(actor=city.worker_a, scope=scope, corps=corps, name="助老服务队")
    with pytest.raises(PermissionDenied):
        team_create(
            actor=city.worker_b, scope=Scope.for_user(city.worker_b), corps=corps, name="越权服务队"
        )
    leader_user = UserFactory(username="team-lead")
    volunteer = register(city.grid_a, name="队长甲")
    volunteer.person.user = leader_user
    volunteer.person.save()
    membership = team_member_add(
        actor=city.worker_a, scope=scope, team=team, volunteer=volunteer, role=TeamRole.LEADER
    )
    assert RoleGrant.objects.filter(user=leader_user, org=team, role=Role.TEAM_LEADER).exists()
    with pytest.raises(ValidationError) as caught:
        team_member_add(actor=city.worker_a, scope=scope, team=team, volunteer=volunteer)
    assert caught.value.message_dict == {"volunteer": ["队长甲 已是该服务队成员"]}
    leader_scope = Scope.for_user(leader_user)
    with pytest.raises(PermissionDenied):
        team_member_set_role(
            actor=leader_user, scope=leader_scope, membership=membership, role=TeamRole.MEMBER
        )
    team_member_set_role(
        actor=city.worker_a, scope=scope, membership=membership, role=TeamRole.MEMBER
    )
    assert not RoleGrant.objects.filter(user=leader_user, org=team).exists()
    team_member_remove(actor=city.worker_a, scope=scope, membership=membership)
    membership.refresh_from_db()
    assert membership.left_on is not None


@pytest.mark.parametrize(
    ("hours", "stars"), [(0, 0), (99.9, 0), (100, 1), (299, 1), (300, 2), (1500, 5), (9999, 5)]
)
def test_star_level_for_default_thresholds(hours, stars):
    assert star_level_for(int(hours * 60)) == stars
