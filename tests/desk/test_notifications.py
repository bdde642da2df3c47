"""Who hears what at each step of a ticket: exact users, kinds and titles, sent once the
step has committed (and not at all inside ``notifications.muted()``)."""

from __future__ import annotations

from typing import Any

import pytest

from huzhu.common.models import Notification
from huzhu.desk import notifications
from huzhu.desk.models import Channel, TicketStatus
from huzhu.desk.services import (
    FollowUp,
    ticket_accept,
    ticket_acknowledge,
    ticket_answer,
    ticket_assign,
    ticket_extension_decide,
    ticket_extension_request,
    ticket_follow_up,
    ticket_link,
    ticket_resolve,
    ticket_return,
)
from huzhu.orgs.roles import Role
from tests.desk.factories import access, patrol_team, report, run_to, team_leader
from tests.factories import UserFactory, grant
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

TITLE = "3号楼单元门口贴满小广告"


@pytest.fixture
def desk(city):
    city.admin_a = UserFactory(username="admin-a")
    grant(city.admin_a, city.community_a, Role.ADMIN)
    city.team = patrol_team(city.community_a, city.grid_a)
    city.leader = team_leader(city.team, "patrol-a")
    city.resident = make_resident(city.grid_a, "李阿姨", username="li")
    city.neighbour = make_resident(city.grid_a, "赵大爷", username="zhao")
    return city


@pytest.fixture
def step(django_capture_on_commit_callbacks):
    """Run one service call and return what it sent: (username, kind, title) in order."""

    def run(call: Any) -> list[tuple[str, str, str]]:
        seen = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        with django_capture_on_commit_callbacks(execute=True):
            call()
        return list(
            Notification.objects.filter(pk__gt=seen)
            .order_by("pk")
            .values_list("user__username", "kind", "title")
        )

    return run


def test_each_step_tells_the_right_people(desk, step):
    worker, leader, li = desk.worker_a, desk.leader, desk.resident.user
    holder: dict[str, Any] = {}

    def create() -> None:
        holder["t"] = report(li, desk.grid_a)

    assert step(create) == [
        ("worker-a", "desk.ticket.create", f"新的工单：{TITLE}"),
        ("admin-a", "desk.ticket.create", f"新的工单：{TITLE}"),
    ]

    def do(service: Any, user: Any, **kwargs: Any) -> Any:
        def call() -> None:
            holder["t"] = service(actor=user, access=access(user, holder["t"]), **kwargs)

        return step(call)

    assert do(ticket_accept, worker) == [
        ("li", "desk.ticket.accept", f"您反映的事项已受理：{TITLE}")
    ]
    assert do(ticket_assign, worker) == [("patrol-a", "desk.ticket.assign", f"派单：{TITLE}")]
    assert do(ticket_return, leader, reason="不是本队") == [
        ("worker-a", "desk.ticket.return", f"工单被回退：{TITLE}")
    ]
    do(ticket_assign, worker, team=desk.team)
    assert do(ticket_acknowledge, leader) == []
    assert do(ticket_extension_request, leader, days=2, reason="等材料") == [
        ("worker-a", "desk.ticket.extension", f"延期申请：{TITLE}")
    ]
    assert do(ticket_extension_decide, worker, approve=True) == [
        ("patrol-a", "desk.ticket.extension", f"延期已批准：{TITLE}")
    ]
    assert do(ticket_resolve, leader, result="已清理") == [
        ("li", "desk.ticket.resolve", f"您反映的事项有了办理结果：{TITLE}"),
        ("worker-a", "desk.ticket.resolve", f"待回访：{TITLE}"),
    ]
    assert do(ticket_follow_up, li, data=FollowUp(False, 2, "又贴上了")) == [
        ("worker-a", "desk.ticket.reopen", f"居民不满意，退回重办：{TITLE}"),
        ("patrol-a", "desk.ticket.reopen", f"居民不满意，退回重办：{TITLE}"),
    ]
    do(ticket_resolve, leader, result="已清理")
    assert do(ticket_follow_up, li, data=FollowUp(True, 5)) == [
        ("worker-a", "desk.ticket.close", f"工单办结：{TITLE}"),
        ("patrol-a", "desk.ticket.close", f"工单办结：{TITLE}"),
    ]
    assert holder["t"].status == TicketStatus.CLOSED


def test_a_visit_entered_at_the_desk_tells_nobody_on_registration(desk, step):
    assert (
        step(
            lambda: report(
                desk.worker_a, desk.grid_a, channel=Channel.WALK_IN, contact_name="周大爷"
            )
        )
        == []
    )


def test_linked_reporters_hear_when_the_original_closes(desk, step):
    original = report(desk.resident.user, desk.grid_a)
    again = report(desk.neighbour.user, desk.grid_a, description="单元门小广告")
    assert (
        step(
            lambda: ticket_link(
                actor=desk.worker_a, access=access(desk.worker_a, again), original=original
            )
        )
        == []
    )
    original = run_to(original, TicketStatus.RESOLVED, worker=desk.worker_a, handler=desk.leader)
    li = desk.resident.user
    sent = step(
        lambda: ticket_follow_up(actor=li, access=access(li, original), data=FollowUp(True, 5))
    )
    assert sent == [
        ("worker-a", "desk.ticket.close", f"工单办结：{TITLE}"),
        ("patrol-a", "desk.ticket.close", f"工单办结：{TITLE}"),
        ("zhao", "desk.ticket.close", "您反映的事项已办结：单元门小广告"),
    ]
    assert Notification.objects.filter(user=desk.neighbour.user).last().body == "已处理完毕"


def test_a_report_linked_to_a_closed_original_hears_its_result_at_once(desk, step):
    original = run_to(
        report(desk.resident.user, desk.grid_a),
        TicketStatus.CLOSED,
        worker=desk.worker_a,
        handler=desk.leader,
    )
    again = report(desk.neighbour.user, desk.grid_a, description="单元门小广告")
    sent = step(
        lambda: ticket_link(
            actor=desk.worker_a, access=access(desk.worker_a, again), original=original
        )
    )
    assert sent == [("zhao", "desk.ticket.close", "您反映的事项已办结：单元门小广告")]


def test_an_answer_on_the_spot_reaches_linked_reporters(desk, step):
    original = report(desk.resident.user, desk.grid_a, code="consult-policy", address="")
    again = report(desk.neighbour.user, desk.grid_a, code="consult-policy", description="同问")
    ticket_link(actor=desk.worker_a, access=access(desk.worker_a, again), original=original)
    sent = step(
        lambda: ticket_answer(
            actor=desk.worker_a, access=access(desk.worker_a, original), answer="可以办理"
        )
    )
    assert sent == [
        ("li", "desk.ticket.answer", f"您反映的事项已答复：{TITLE}"),
        ("zhao", "desk.ticket.close", "您反映的事项已办结：同问"),
    ]
    assert Notification.objects.filter(user=desk.resident.user).last().body == "可以办理"


def test_muted_service_calls_tell_nobody(desk, step):
    def quiet() -> None:
        with notifications.muted():
            ticket = report(desk.resident.user, desk.grid_a)
            ticket_accept(actor=desk.worker_a, access=access(desk.worker_a, ticket))

    assert step(quiet) == []
    # … and only inside the block.
    assert len(step(lambda: report(desk.neighbour.user, desk.grid_a))) == 2
