"""The desk's part of the home page: the worker's and team's to-dos, the resident's card."""

import pytest
from django.test import Client

from huzhu.desk.dashboard import person_tickets, worker_todo
from huzhu.desk.models import Channel, Notice, TicketStatus
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.desk.factories import patrol_team, report, run_to, team_leader
from tests.factories import UserFactory, grant
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db


def _tickets(city):
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    team = patrol_team(city.community_a, city.grid_a)
    leader = team_leader(team, "patrol-a")
    report(resident.user, city.grid_a)  # registered
    for status in (TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED):
        ticket = report(city.worker_a, city.grid_a, channel=Channel.PHONE, contact_name="刘先生")
        run_to(ticket, status, worker=city.worker_a, handler=leader)
    resolved_for_her = report(resident.user, city.grid_a, description="楼道堆满纸箱")
    run_to(resolved_for_her, TicketStatus.RESOLVED, worker=city.worker_a, handler=leader)
    return resident, leader


def test_worker_and_team_counts(city):
    resident, leader = _tickets(city)
    Notice.objects.create(org=city.community_a, kind="good_deed", title="拾金不昧", body="…")
    todo = worker_todo(scope=Scope.for_user(city.worker_a))
    assert (todo.to_accept, todo.returned, todo.to_follow_up) == (1, 0, 2)
    assert (todo.pending_notices, todo.open_suggestions, todo.overdue) == (1, 0, 0)
    assert (todo.team_to_acknowledge, todo.team_in_progress) == (1, 1)
    leader_todo = worker_todo(scope=Scope.for_user(leader))
    assert leader_todo.to_accept is None
    assert (leader_todo.team_to_acknowledge, leader_todo.team_in_progress) == (1, 1)
    other = worker_todo(scope=Scope.for_user(city.worker_b))
    assert (other.to_accept, other.to_follow_up, other.team_to_acknowledge) == (0, 0, 0)
    mine = person_tickets(scope=Scope.for_user(resident.user))
    assert (mine.open, mine.to_rate, mine.community_id) == (1, 1, city.community_a.pk)


def test_home_pages_show_the_desk(city):
    resident, _leader = _tickets(city)
    worker = Client()
    worker.force_login(city.worker_a)
    page = worker.get("/").content.decode()
    assert 'data-testid="todo-desk-accept">1<' in page
    assert 'data-testid="todo-desk-follow-up">2<' in page
    assert "/desk/" in page  # the 服务台 navigation group
    person = Client()
    person.force_login(resident.user)
    page = person.get("/").content.decode()
    assert 'data-testid="home-open-tickets">1<' in page
    assert f"/desk/public/{city.community_a.pk}/" in page


def test_supervisor_of_the_street_sees_overdue_only(city):
    supervisor = UserFactory(username="street-supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)
    todo = worker_todo(scope=Scope.for_user(supervisor))
    assert todo.to_accept is None and todo.team_to_acknowledge is None
    assert todo.overdue == 0
