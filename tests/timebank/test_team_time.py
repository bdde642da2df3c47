"""团体时长: a team activity can credit the team's account, which may only donate."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huzhu.activities.record_services import shift_confirm
from huzhu.activities.services import signup_create
from huzhu.orgs.scope import Scope
from huzhu.timebank import ledger
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import Account, AccountKind
from huzhu.timebank.services import team_donate
from tests.activities.factories import (
    SYSTEM,
    attend,
    first_shift,
    local_at,
    make_activity,
    make_service_team,
    make_volunteer,
)
from tests.factories import make_person

pytestmark = pytest.mark.django_db


def served_team_shift(city, volunteers, credit_team=True):
    team = make_service_team(city.community_a)
    start = local_at(timezone.localdate() - dt.timedelta(days=2), 9)
    shift = first_shift(make_activity(team, start=start, capacity=10, credit_team=credit_team))
    for volunteer in volunteers:
        signup_create(
            actor=None, volunteer=volunteer, shift_id=shift.pk, now=start - dt.timedelta(days=1)
        )
        attend(volunteer, shift, start, start + dt.timedelta(hours=2))
    shift_confirm(actor=None, scope=SYSTEM, shift=shift)
    return team


def test_group_time_goes_to_the_team_and_hours_to_the_volunteers(city):
    first, second = make_volunteer(city.grid_a, "王一"), make_volunteer(city.grid_a, "王二")
    team = served_team_shift(city, [first, second])
    team_account = Account.objects.get(org=team, kind=AccountKind.TEAM)
    assert team_account.balance == 240
    assert not Account.objects.filter(person__in=[first.person, second.person]).exists()
    first.refresh_from_db()
    assert first.recorded_minutes == first.historical_minutes + 120
    assert ledger.verify().ok


def test_team_time_may_only_be_donated_to_the_pool_or_a_resident(city):
    team = served_team_shift(city, [make_volunteer(city.grid_a)])
    elder = make_person(city.grid_a, "孤寡老人")
    outsider = make_person(city.grid_b, "乙社区居民")
    worker = Scope.for_user(city.worker_a)
    team_donate(actor=city.worker_a, scope=worker, team=team, minutes=60)
    team_donate(actor=city.worker_a, scope=worker, team=team, minutes=30, to_person=elder)
    pool = Account.objects.get(org=city.community_a, kind=AccountKind.POOL)
    assert pool.balance == 60
    assert Account.objects.get(person=elder).balance == 30
    with pytest.raises(LedgerRefusal) as refusal:
        team_donate(actor=city.worker_a, scope=worker, team=team, minutes=10, to_person=outsider)
    assert refusal.value.rule == "team.recipient"
    with pytest.raises(LedgerRefusal) as refusal:
        team_donate(actor=city.worker_a, scope=worker, team=team, minutes=60)
    assert refusal.value.rule == "balance.insufficient"
    with pytest.raises(PermissionDenied):
        team_donate(actor=city.worker_b, scope=Scope.for_user(city.worker_b), team=team, minutes=10)
    assert Account.objects.get(org=team, kind=AccountKind.TEAM).balance == 30
    assert not Account.objects.filter(person=outsider).exists()
    assert ledger.verify().ok


def test_only_a_team_activity_can_credit_a_team(city):
    with pytest.raises(ValidationError) as error:
        make_activity(city.community_a, credit_team=True)
    assert "只有服务队组织的活动才能把时间币记入团队" in str(error.value)
