"""The desk's services one by one: each step of a ticket, who may take it, and what is refused
(wrong status → ValidationError, wrong person → PermissionDenied; nothing changes either
way). Deadlines count working days on the mainland calendar of 2026 (国庆 1–7 October off,
Saturday 10 October a make-up working day)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from huzhu.common.models import AuditEntry, Notification
from huzhu.desk.models import (
    Channel,
    CloseReason,
    MatterKind,
    MatterType,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from huzhu.desk.selectors import my_tickets, ticket_access, ticket_list
from huzhu.desk.services import (
    FollowUp,
    TicketInput,
    default_team,
    ticket_accept,
    ticket_acknowledge,
    ticket_answer,
    ticket_assign,
    ticket_close_unrated,
    ticket_create,
    ticket_extension_decide,
    ticket_extension_request,
    ticket_follow_up,
    ticket_link,
    ticket_note,
    ticket_resolve,
    ticket_return,
    ticket_withdraw,
)
from huzhu.orgs.models import OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.desk.factories import access, matter, patrol_team, report, run_to, team_leader
from tests.factories import UserFactory, grant, make_org
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

NATIONAL_DAY_EVE = dt.date(2026, 9, 30)  # a Wednesday; 1–7 October are holidays
TZ = timezone.get_default_timezone()


@pytest.fixture
def desk(city):
    """Community A with a patrol team for grid A, its leader, and a resident with a login."""
    city.team = patrol_team(city.community_a, city.grid_a)
    city.leader = team_leader(city.team, "patrol-a")
    city.resident = make_resident(city.grid_a, "李阿姨", username="li")
    city.neighbour = make_resident(city.grid_a, "赵大爷", username="zhao")
    return city


def state(ticket: Ticket) -> tuple[dict[str, Any], int, int]:
    """Everything a refused call must leave as it was: the row, its events, the audit log."""
    row = Ticket.objects.filter(pk=ticket.pk).values().get()
    return row, TicketEvent.objects.filter(ticket=ticket).count(), AuditEntry.objects.count()


def refused(exc_type: type[Exception], call: Any, ticket: Ticket) -> Exception:
    before = state(ticket)
    with pytest.raises(exc_type) as info:
        call()
    assert state(ticket) == before
    return info.value


def civic(city: Any) -> Ticket:
    return report(city.resident.user, city.grid_a)


def walk_in(city: Any, code: str = "consult-policy", worker: Any = None) -> Ticket:
    worker = worker or city.worker_a
    data = TicketInput(
        matter_type_id=matter(code).pk,
        description="想问问高龄津贴怎么申请",
        channel=Channel.WALK_IN,
        org_id=city.community_a.pk,
        contact_name="周大爷",
        contact_phone="0531-82345678",
    )
    return ticket_create(actor=worker, scope=Scope.for_user(worker), data=data)


def verbs(ticket: Ticket) -> list[str]:
    return list(TicketEvent.objects.filter(ticket=ticket).values_list("verb", flat=True))


def set_assigned_on(ticket: Ticket, day: dt.date) -> None:
    moment = dt.datetime.combine(day, dt.time(10, 0), tzinfo=TZ)
    Ticket.objects.filter(pk=ticket.pk).update(assigned_at=moment)


# --- registering ---------------------------------------------------------------------------


def test_a_resident_registers_their_own_report(desk):
    ticket = civic(desk)
    assert ticket.status == TicketStatus.REGISTERED
    assert (ticket.org, ticket.grid, ticket.reporter) == (
        desk.community_a,
        desk.grid_a,
        desk.resident,
    )
    assert ticket.receiver is None and ticket.due_date is None
    assert ticket.title == "3号楼单元门口贴满小广告"
    assert ticket.number == f"GD{timezone.localdate().year}000001"
    assert len(ticket.token) == 32
    assert verbs(ticket) == ["create"]
    event = TicketEvent.objects.get(ticket=ticket)
    assert (event.note, event.is_public, event.actor) == ("手机", True, desk.resident.user)
    second = report(desk.neighbour.user, desk.grid_a, description="又贴上了")
    assert second.number == f"GD{timezone.localdate().year}000002"


def test_a_walk_in_makes_the_worker_first_receiver_and_masks_the_phone(desk):
    ticket = walk_in(desk)
    assert ticket.receiver == desk.worker_a and ticket.submitted_by == desk.worker_a
    assert ticket.reporter is None and ticket.contact_name == "周大爷"
    assert ticket.contact_phone_masked == "053****5678"
    assert ticket.contact_phone == "053182345678"
    assert "82345678" not in ticket.contact_phone_encrypted


def test_only_desk_staff_register_visits_and_calls(desk):
    data = TicketInput(
        matter_type_id=matter("consult-policy").pk,
        description="问一下",
        channel=Channel.PHONE,
        org_id=desk.community_a.pk,
    )
    for user in (desk.resident.user, desk.leader, desk.worker_b):
        with pytest.raises(PermissionDenied):
            ticket_create(actor=user, scope=Scope.for_user(user), data=data)
    assert Ticket.objects.count() == 0


def test_registration_refuses_bad_input_naming_each_field(desk):
    data = TicketInput(
        matter_type_id=matter("civic-litter").pk,
        description="   ",
        channel="fax",
        org_id=desk.community_a.pk,
        title="题" * 61,
        latitude=91.0,
        longitude=None,
        contact_phone="12ab",
    )
    with pytest.raises(ValidationError) as info:
        ticket_create(actor=desk.resident.user, scope=Scope.for_user(desk.resident.user), data=data)
    assert info.value.message_dict == {
        "channel": ["未知的渠道。"],
        "description": ["请填写反映的内容。"],
        "title": ["标题不能超过 60 字。"],
        "latitude": ["经度和纬度需同时填写。"],
        "address": ["文明评议需要填写地点或在地图上标注位置。"],
        "contact_phone": ["联系电话应为手机号或固定电话号码。"],
    }
    assert Ticket.objects.count() == 0


def test_a_matter_of_another_community_is_refused(desk):
    own = make_org(OrgKind.COMMUNITY, "丙社区", desk.street)
    theirs = MatterType.objects.create(
        org=own, code="own-parking", name="停车位申请", kind=MatterKind.AFFAIR
    )
    data = TicketInput(
        matter_type_id=theirs.pk,
        description="想申请停车位",
        channel=Channel.WEB,
        org_id=desk.community_a.pk,
    )
    with pytest.raises(ValidationError) as info:
        ticket_create(actor=desk.resident.user, scope=Scope.for_user(desk.resident.user), data=data)
    assert info.value.message_dict == {"matter_type": ["请选择本社区事项清单中的事项。"]}


# --- accepting and deadlines ---------------------------------------------------------------


def test_accept_starts_the_deadline_in_working_days_over_the_national_day(desk):
    ticket = walk_in(desk, code="affair-elderly-allowance")  # 5 working days
    ticket = ticket_accept(
        actor=desk.worker_a, access=access(desk.worker_a, ticket), today=NATIONAL_DAY_EVE
    )
    # 8, 9, 10 (the make-up Saturday), 12 and 13 October.
    assert ticket.due_date == dt.date(2026, 10, 13)
    assert ticket.status == TicketStatus.ACCEPTED and ticket.accepted_at is not None
    assert ticket.receiver == desk.worker_a
    event = TicketEvent.objects.filter(ticket=ticket).last()
    assert (event.verb, event.from_status, event.to_status, event.note) == (
        "accept",
        TicketStatus.REGISTERED,
        TicketStatus.ACCEPTED,
        "已受理",
    )
    assert AuditEntry.objects.filter(verb="desk.ticket.accept").count() == 1


def test_accept_by_a_second_worker_keeps_the_first_receiver(desk):
    colleague = UserFactory(username="colleague-a")
    grant(colleague, desk.community_a, Role.WORKER)
    ticket = walk_in(desk)
    ticket = ticket_accept(actor=colleague, access=access(colleague, ticket))
    assert ticket.receiver == desk.worker_a


def test_accept_refusals(desk):
    ticket = civic(desk)
    for user in (desk.worker_b, desk.leader, desk.resident.user):
        refused(
            PermissionDenied,
            lambda u=user: ticket_accept(actor=u, access=access(u, ticket)),
            ticket,
        )
    ticket = ticket_accept(actor=desk.worker_a, access=access(desk.worker_a, ticket))
    error = refused(
        ValidationError,
        lambda: ticket_accept(actor=desk.worker_a, access=access(desk.worker_a, ticket)),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“已受理”，不能受理。"]


def test_other_communities_see_nothing(desk):
    ticket = civic(desk)
    with pytest.raises(Http404):
        ticket_access(user=desk.worker_b, scope=Scope.for_user(desk.worker_b), ticket_id=ticket.pk)
    with pytest.raises(Http404):
        ticket_access(user=desk.leader, scope=Scope.for_user(desk.leader), ticket_id=ticket.pk)
    with pytest.raises(Http404):
        neighbour = desk.neighbour.user
        ticket_access(user=neighbour, scope=Scope.for_user(neighbour), ticket_id=ticket.pk)
    with pytest.raises(Http404):
        ticket_access(user=desk.worker_a, scope=Scope.for_user(desk.worker_a), ticket_id=10**6)
    assert list(ticket_list(scope=Scope.for_user(desk.worker_b), user=desk.worker_b)) == []


# --- answering on the spot -----------------------------------------------------------------


def test_answer_on_the_spot_closes_at_once(desk):
    ticket = walk_in(desk)
    ticket = ticket_answer(
        actor=desk.worker_a, access=access(desk.worker_a, ticket), answer="携带身份证到社区办理即可"
    )
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.close_reason == CloseReason.ON_THE_SPOT
    assert ticket.closed_on_time is True and ticket.closed_at is not None
    assert ticket.result == "携带身份证到社区办理即可"
    assert ticket.accepted_at is not None and ticket.resolved_at is not None
    assert verbs(ticket) == ["create", "answer"]


def test_answer_refusals(desk):
    ticket = civic(desk)
    refused(
        ValidationError,
        lambda: ticket_answer(actor=desk.worker_a, access=access(desk.worker_a, ticket), answer=""),
        ticket,
    )
    refused(
        PermissionDenied,
        lambda: ticket_answer(actor=desk.leader, access=access(desk.leader, ticket), answer="好"),
        ticket,
    )
    ticket = run_to(ticket, TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    error = refused(
        ValidationError,
        lambda: ticket_answer(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), answer="好"
        ),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“已派单”，不能当场答复。"]


# --- assigning, acknowledging, returning ---------------------------------------------------


def test_assign_goes_to_the_patrol_team_of_the_grid(desk):
    ticket = run_to(civic(desk), TicketStatus.ACCEPTED, worker=desk.worker_a, handler=desk.leader)
    assert default_team(ticket) == desk.team
    ticket = ticket_assign(actor=desk.worker_a, access=access(desk.worker_a, ticket))
    assert (ticket.status, ticket.team) == (TicketStatus.ASSIGNED, desk.team)
    assert ticket.assigned_at is not None
    assert TicketEvent.objects.filter(ticket=ticket).last().note == desk.team.name


def test_assign_refusals(desk):
    ticket = civic(desk)
    error = refused(
        ValidationError,
        lambda: ticket_assign(actor=desk.worker_a, access=access(desk.worker_a, ticket)),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“登记”，不能派单。"]
    ticket = ticket_accept(actor=desk.worker_a, access=access(desk.worker_a, ticket))
    other_team = patrol_team(desk.community_b, desk.grid_b)
    error = refused(
        ValidationError,
        lambda: ticket_assign(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), team=other_team
        ),
        ticket,
    )
    assert error.message_dict == {"team": ["承办队伍须属于本社区。"]}
    refused(
        PermissionDenied,
        lambda: ticket_assign(actor=desk.leader, access=access(desk.leader, ticket)),
        ticket,
    )
    consult = ticket_accept(actor=desk.worker_a, access=access(desk.worker_a, walk_in(desk)))
    error = refused(
        ValidationError,
        lambda: ticket_assign(actor=desk.worker_a, access=access(desk.worker_a, consult)),
        consult,
    )
    assert error.message_dict == {"team": ["请选择承办队伍。"]}


def test_the_team_acknowledges_and_a_stranger_may_not(desk):
    ticket = run_to(civic(desk), TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    other_leader = team_leader(patrol_team(desk.community_b, desk.grid_b), "patrol-b")
    refused(
        PermissionDenied,
        lambda: ticket_acknowledge(actor=other_leader, access=access(other_leader, ticket)),
        ticket,
    )
    refused(
        PermissionDenied,
        lambda: ticket_acknowledge(
            actor=desk.resident.user, access=access(desk.resident.user, ticket)
        ),
        ticket,
    )
    ticket = ticket_acknowledge(actor=desk.leader, access=access(desk.leader, ticket))
    assert ticket.status == TicketStatus.IN_PROGRESS and ticket.acknowledged_at is not None
    error = refused(
        ValidationError,
        lambda: ticket_acknowledge(actor=desk.leader, access=access(desk.leader, ticket)),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“办理中”，不能签收。"]


def test_return_within_two_working_days_counting_the_holidays(desk):
    ticket = run_to(civic(desk), TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    set_assigned_on(ticket, NATIONAL_DAY_EVE)
    # The third working day after the eve is the make-up Saturday, 10 October.
    error = refused(
        ValidationError,
        lambda: ticket_return(
            actor=desk.leader,
            access=access(desk.leader, ticket),
            reason="不属于本网格",
            today=dt.date(2026, 10, 10),
        ),
        ticket,
    )
    assert error.messages == ["派单已超过 2 个工作日，不能再回退，请签收办理或申请协调。"]
    ticket = ticket_return(
        actor=desk.leader,
        access=access(desk.leader, ticket),
        reason="不属于本网格",
        today=dt.date(2026, 10, 9),  # the second working day: 8 and 9 October
    )
    assert (ticket.status, ticket.team, ticket.return_count) == (TicketStatus.RETURNED, None, 1)
    event = TicketEvent.objects.filter(ticket=ticket).last()
    assert (event.verb, event.note, event.is_public) == ("return", "不属于本网格", False)
    # The team no longer sees it; the receiver assigns again.
    with pytest.raises(Http404):
        ticket_access(user=desk.leader, scope=Scope.for_user(desk.leader), ticket_id=ticket.pk)
    ticket = ticket_assign(
        actor=desk.worker_a, access=access(desk.worker_a, ticket), team=desk.team
    )
    assert ticket.status == TicketStatus.ASSIGNED and ticket.acknowledged_at is None


def test_return_refusals(desk):
    ticket = run_to(civic(desk), TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    error = refused(
        ValidationError,
        lambda: ticket_return(actor=desk.leader, access=access(desk.leader, ticket), reason=" "),
        ticket,
    )
    assert error.message_dict == {"reason": ["请填写回退理由。"]}
    refused(
        PermissionDenied,
        lambda: ticket_return(
            actor=desk.worker_b, access=access(desk.worker_b, ticket), reason="不归我们"
        ),
        ticket,
    )
    ticket = ticket_acknowledge(actor=desk.leader, access=access(desk.leader, ticket))
    error = refused(
        ValidationError,
        lambda: ticket_return(
            actor=desk.leader, access=access(desk.leader, ticket), reason="不归我们"
        ),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“办理中”，不能回退。"]


# --- in progress: notes and extensions -----------------------------------------------------


def test_progress_notes_public_and_internal(desk):
    ticket = run_to(
        civic(desk), TicketStatus.IN_PROGRESS, worker=desk.worker_a, handler=desk.leader
    )
    ticket_note(
        actor=desk.leader, access=access(desk.leader, ticket), note="已联系物业", public=True
    )
    ticket_note(actor=desk.worker_a, access=access(desk.worker_a, ticket), note="内部：物业推诿")
    notes = TicketEvent.objects.filter(ticket=ticket, verb="note").order_by("pk")
    assert [(e.note, e.is_public) for e in notes] == [
        ("已联系物业", True),
        ("内部：物业推诿", False),
    ]
    refused(
        PermissionDenied,
        lambda: ticket_note(
            actor=desk.resident.user, access=access(desk.resident.user, ticket), note="快点"
        ),
        ticket,
    )


def test_extensions_move_the_deadline_up_to_ten_working_days_in_all(desk):
    ticket = run_to(
        walk_in(desk, code="affair-elderly-allowance"),
        TicketStatus.ACCEPTED,
        worker=desk.worker_a,
        handler=desk.leader,
        today=NATIONAL_DAY_EVE,
    )
    ticket = ticket_assign(
        actor=desk.worker_a, access=access(desk.worker_a, ticket), team=desk.team
    )
    ticket = ticket_acknowledge(actor=desk.leader, access=access(desk.leader, ticket))
    assert ticket.due_date == dt.date(2026, 10, 13)

    def ask(days: int) -> Ticket:
        return ticket_extension_request(
            actor=desk.leader, access=access(desk.leader, ticket), days=days, reason="需要协调物业"
        )

    def decide(approve: bool, user: Any = None) -> Ticket:
        user = user or desk.worker_a
        return ticket_extension_decide(actor=user, access=access(user, ticket), approve=approve)

    ticket = ask(4)
    assert (ticket.extension_requested_days, ticket.extension_reason) == (4, "需要协调物业")
    error = refused(ValidationError, lambda: ask(1), ticket)
    assert error.messages == ["已有待审批的延期申请。"]
    refused(PermissionDenied, lambda: decide(True, desk.leader), ticket)
    ticket = decide(True)
    # 14, 15, 16 and 19 October.
    assert (ticket.due_date, ticket.extension_days) == (dt.date(2026, 10, 19), 4)
    assert ticket.extension_requested_days == 0
    error = refused(ValidationError, lambda: ask(7), ticket)
    assert error.message_dict == {"days": ["延期合计不能超过 10 个工作日（已延期 4 个）。"]}
    error = refused(ValidationError, lambda: ask(0), ticket)
    assert error.message_dict == {"days": ["延期合计不能超过 10 个工作日（已延期 4 个）。"]}
    ticket = ask(3)
    ticket = decide(False)
    assert (ticket.due_date, ticket.extension_days) == (dt.date(2026, 10, 19), 4)
    ticket = ask(6)
    ticket = decide(True)
    assert (ticket.due_date, ticket.extension_days) == (dt.date(2026, 10, 27), 10)
    error = refused(ValidationError, lambda: ask(1), ticket)
    assert error.message_dict == {"days": ["延期合计不能超过 10 个工作日（已延期 10 个）。"]}
    error = refused(ValidationError, lambda: decide(True), ticket)
    assert error.messages == ["没有待审批的延期申请。"]
    assert [e.verb for e in TicketEvent.objects.filter(ticket=ticket, verb__startswith="ext")] == [
        "extension_request",
        "extension_approve",
        "extension_request",
        "extension_refuse",
        "extension_request",
        "extension_approve",
    ]


def test_an_extension_is_asked_only_while_in_progress(desk):
    ticket = run_to(civic(desk), TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    error = refused(
        ValidationError,
        lambda: ticket_extension_request(
            actor=desk.leader, access=access(desk.leader, ticket), days=2, reason="忙"
        ),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“已派单”，不能申请延期。"]


def test_resolving_drops_a_pending_extension_request(desk):
    ticket = run_to(
        civic(desk), TicketStatus.IN_PROGRESS, worker=desk.worker_a, handler=desk.leader
    )
    ticket_extension_request(
        actor=desk.leader, access=access(desk.leader, ticket), days=2, reason="等材料"
    )
    ticket = ticket_resolve(actor=desk.leader, access=access(desk.leader, ticket), result="已清理")
    assert ticket.extension_requested_days == 0
    error = refused(
        ValidationError,
        lambda: ticket_extension_decide(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), approve=True
        ),
        ticket,
    )
    assert error.messages == ["没有待审批的延期申请。"]


# --- resolving, follow-up, closing ---------------------------------------------------------


def test_resolve_refusals(desk):
    ticket = run_to(civic(desk), TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    error = refused(
        ValidationError,
        lambda: ticket_resolve(actor=desk.leader, access=access(desk.leader, ticket), result="好"),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“已派单”，不能反馈结果。"]
    ticket = ticket_acknowledge(actor=desk.leader, access=access(desk.leader, ticket))
    error = refused(
        ValidationError,
        lambda: ticket_resolve(actor=desk.leader, access=access(desk.leader, ticket), result=""),
        ticket,
    )
    assert error.message_dict == {"result": ["请填写办理结果。"]}
    refused(
        PermissionDenied,
        lambda: ticket_resolve(
            actor=desk.resident.user, access=access(desk.resident.user, ticket), result="好了"
        ),
        ticket,
    )


def test_the_resident_rates_and_the_ticket_closes_on_time(desk):
    ticket = run_to(civic(desk), TicketStatus.RESOLVED, worker=desk.worker_a, handler=desk.leader)
    ticket = ticket_follow_up(
        actor=desk.resident.user,
        access=access(desk.resident.user, ticket),
        data=FollowUp(satisfied=True, rating=4, comment="还不错"),
    )
    assert (ticket.status, ticket.close_reason, ticket.rating, ticket.rating_comment) == (
        TicketStatus.CLOSED,
        CloseReason.RESOLVED,
        4,
        "还不错",
    )
    assert ticket.closed_on_time is True
    assert TicketEvent.objects.filter(ticket=ticket).last().note == "4★ 还不错"


def test_a_result_after_the_deadline_closes_late(desk):
    ticket = run_to(
        civic(desk), TicketStatus.IN_PROGRESS, worker=desk.worker_a, handler=desk.leader
    )
    Ticket.objects.filter(pk=ticket.pk).update(due_date=timezone.localdate() - dt.timedelta(days=1))
    ticket = ticket_resolve(actor=desk.leader, access=access(desk.leader, ticket), result="已清理")
    ticket = ticket_follow_up(
        actor=desk.worker_a,
        access=access(desk.worker_a, ticket),
        data=FollowUp(satisfied=True, rating=3, on_behalf=True),
    )
    assert ticket.status == TicketStatus.CLOSED and ticket.closed_on_time is False


def test_dissatisfied_sends_it_back_with_a_new_deadline(desk):
    ticket = run_to(civic(desk), TicketStatus.RESOLVED, worker=desk.worker_a, handler=desk.leader)
    ticket = ticket_follow_up(
        actor=desk.resident.user,
        access=access(desk.resident.user, ticket),
        data=FollowUp(satisfied=False, rating=2, comment="小广告又贴上了"),
        today=NATIONAL_DAY_EVE,
    )
    # civic-flyposting: 3 working days → 8, 9, 10 October.
    assert (ticket.status, ticket.reopen_count, ticket.due_date) == (
        TicketStatus.IN_PROGRESS,
        1,
        dt.date(2026, 10, 10),
    )
    assert ticket.resolved_at is None and ticket.team == desk.team
    event = TicketEvent.objects.filter(ticket=ticket).last()
    assert (event.verb, event.from_status, event.to_status, event.note) == (
        "reopen",
        TicketStatus.RESOLVED,
        TicketStatus.IN_PROGRESS,
        "2★ 小广告又贴上了",
    )
    ticket = ticket_resolve(
        actor=desk.leader, access=access(desk.leader, ticket), result="已清理并加装宣传牌"
    )
    ticket = ticket_follow_up(
        actor=desk.resident.user,
        access=access(desk.resident.user, ticket),
        data=FollowUp(satisfied=True, rating=5),
    )
    assert (ticket.status, ticket.rating, ticket.reopen_count) == (TicketStatus.CLOSED, 5, 1)


def test_follow_up_refusals(desk):
    ticket = run_to(
        civic(desk), TicketStatus.IN_PROGRESS, worker=desk.worker_a, handler=desk.leader
    )
    resident = desk.resident.user
    error = refused(
        ValidationError,
        lambda: ticket_follow_up(
            actor=resident, access=access(resident, ticket), data=FollowUp(True, 5)
        ),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“办理中”，不能评价。"]
    ticket = ticket_resolve(actor=desk.leader, access=access(desk.leader, ticket), result="已清理")
    error = refused(
        ValidationError,
        lambda: ticket_follow_up(
            actor=resident, access=access(resident, ticket), data=FollowUp(False, 6, "")
        ),
        ticket,
    )
    assert error.message_dict == {
        "rating": ["请选择 1 到 5 星的满意度。"],
        "comment": ["不满意时请说明原因，以便重新办理。"],
    }
    for user, data in (
        (desk.neighbour.user, FollowUp(True, 5)),  # not the reporter
        (desk.worker_a, FollowUp(True, 5)),  # a worker only on behalf
        (desk.leader, FollowUp(True, 5, on_behalf=True)),  # the team never rates itself
    ):
        refused(
            PermissionDenied,
            lambda u=user, d=data: ticket_follow_up(actor=u, access=access(u, ticket), data=d),
            ticket,
        )


def test_close_unrated_when_the_resident_cannot_be_reached(desk):
    ticket = run_to(civic(desk), TicketStatus.RESOLVED, worker=desk.worker_a, handler=desk.leader)
    refused(
        PermissionDenied,
        lambda: ticket_close_unrated(
            actor=desk.leader, access=access(desk.leader, ticket), note="联系不上"
        ),
        ticket,
    )
    ticket = ticket_close_unrated(
        actor=desk.worker_a, access=access(desk.worker_a, ticket), note="三次电话未接通"
    )
    assert (ticket.status, ticket.rating, ticket.closed_on_time) == (
        TicketStatus.CLOSED,
        None,
        True,
    )
    error = refused(
        ValidationError,
        lambda: ticket_close_unrated(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), note="再关一次"
        ),
        ticket,
    )
    assert error.messages == [f"工单 {ticket.number} 当前为“办结”，不能办结。"]


# --- linking and withdrawing ---------------------------------------------------------------


def test_a_repeated_report_is_linked_and_closed(desk):
    original = civic(desk)
    again = report(desk.neighbour.user, desk.grid_a, description="单元门又贴小广告了")
    third = report(desk.neighbour.user, desk.grid_a, description="还是小广告")
    again = ticket_link(actor=desk.worker_a, access=access(desk.worker_a, again), original=original)
    assert (again.status, again.close_reason, again.duplicate_of) == (
        TicketStatus.CLOSED,
        CloseReason.DUPLICATE,
        original,
    )
    assert again.closed_on_time is True and again.receiver == desk.worker_a
    assert again.result == f"与工单 {original.number} 反映的是同一事项，并案办理。"
    # Linking to a duplicate links to its original.
    third = ticket_link(actor=desk.worker_a, access=access(desk.worker_a, third), original=again)
    assert third.duplicate_of == original
    assert list(original.duplicates.order_by("pk")) == [again, third]


def test_linking_a_ticket_carries_its_duplicates_along(desk):
    first, second, third = (civic(desk) for _ in range(3))
    ticket_link(actor=desk.worker_a, access=access(desk.worker_a, third), original=second)
    ticket_link(actor=desk.worker_a, access=access(desk.worker_a, second), original=first)
    third.refresh_from_db()
    assert third.duplicate_of == first


def test_link_refusals(desk):
    ticket = civic(desk)
    error = refused(
        ValidationError,
        lambda: ticket_link(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), original=ticket
        ),
        ticket,
    )
    assert error.message_dict == {"original": ["不能与自身并案。"]}
    error = refused(
        ValidationError,
        lambda: ticket_link(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), original=Ticket(pk=10**6)
        ),
        ticket,
    )
    assert error.message_dict == {"original": ["要并入的工单不存在。"]}
    elsewhere = report(
        desk.worker_b, desk.grid_b, channel=Channel.PHONE, contact_name="孙", contact_phone=""
    )
    error = refused(
        ValidationError,
        lambda: ticket_link(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), original=elsewhere
        ),
        ticket,
    )
    assert error.message_dict == {"original": ["只能并入本社区的工单。"]}
    other = civic(desk)
    refused(
        PermissionDenied,
        lambda: ticket_link(actor=desk.leader, access=access(desk.leader, ticket), original=other),
        ticket,
    )
    closed = walk_in(desk)
    ticket_answer(actor=desk.worker_a, access=access(desk.worker_a, closed), answer="已答复")
    error = refused(
        ValidationError,
        lambda: ticket_link(
            actor=desk.worker_a, access=access(desk.worker_a, closed), original=ticket
        ),
        closed,
    )
    assert error.messages == [f"工单 {closed.number} 当前为“办结”，不能并案。"]


def test_the_reporter_withdraws_before_assignment(desk):
    ticket = civic(desk)
    refused(
        PermissionDenied,
        lambda: ticket_withdraw(
            actor=desk.neighbour.user, access=access(desk.neighbour.user, ticket)
        ),
        ticket,
    )
    refused(
        PermissionDenied,
        lambda: ticket_withdraw(actor=desk.worker_a, access=access(desk.worker_a, ticket)),
        ticket,
    )
    ticket = ticket_withdraw(
        actor=desk.resident.user, access=access(desk.resident.user, ticket), reason="已自行处理"
    )
    assert (ticket.status, ticket.close_reason) == (TicketStatus.CLOSED, CloseReason.WITHDRAWN)
    assert TicketEvent.objects.filter(ticket=ticket).last().note == "已自行处理"
    assigned = run_to(civic(desk), TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    error = refused(
        ValidationError,
        lambda: ticket_withdraw(
            actor=desk.resident.user, access=access(desk.resident.user, assigned)
        ),
        assigned,
    )
    assert error.messages == [f"工单 {assigned.number} 当前为“已派单”，不能撤回。"]


def test_a_report_others_joined_cannot_be_withdrawn(desk):
    ticket = civic(desk)
    again = report(desk.neighbour.user, desk.grid_a, description="同一处小广告")
    ticket_link(actor=desk.worker_a, access=access(desk.worker_a, again), original=ticket)
    resident = desk.resident.user
    error = refused(
        ValidationError,
        lambda: ticket_withdraw(actor=resident, access=access(resident, ticket)),
        ticket,
    )
    assert error.messages == ["已有其他居民反映同一事项并入本工单，不能撤回。"]


# --- who keeps access ----------------------------------------------------------------------


def test_the_first_receiver_keeps_the_matter_until_it_closes(desk):
    """A worker who received a call and then moved to another post (grant withdrawn) still
    sees and manages it — until it is closed."""
    mover = UserFactory(username="mover")
    grant(mover, desk.community_a, Role.WORKER)
    ticket = report(mover, desk.grid_a, channel=Channel.PHONE, contact_name="钱女士")
    assert ticket.receiver == mover
    RoleGrant.objects.filter(user=mover).delete()
    scope = Scope.for_user(mover)
    assert not scope.roots()

    def mine() -> list[int]:
        return list(
            ticket_list(scope=Scope.for_user(mover), user=mover).values_list("pk", flat=True)
        )

    found = ticket_access(user=mover, scope=scope, ticket_id=ticket.pk)
    assert (found.is_receiver, found.is_manager, found.may_manage) == (True, False, True)
    assert mine() == [ticket.pk]
    ticket = ticket_accept(actor=mover, access=access(mover, ticket))
    ticket = ticket_assign(actor=mover, access=access(mover, ticket), team=desk.team)
    ticket = ticket_acknowledge(actor=desk.leader, access=access(desk.leader, ticket))
    ticket = ticket_resolve(actor=desk.leader, access=access(desk.leader, ticket), result="已清理")
    assert mine() == [ticket.pk]  # awaiting the follow-up the receiver makes
    ticket = ticket_follow_up(
        actor=mover, access=access(mover, ticket), data=FollowUp(True, 5, on_behalf=True)
    )
    assert ticket.status == TicketStatus.CLOSED
    with pytest.raises(Http404):
        ticket_access(user=mover, scope=Scope.for_user(mover), ticket_id=ticket.pk)
    assert mine() == []


def test_team_handlers_see_what_is_assigned_to_their_team_only(desk):
    ticket = run_to(civic(desk), TicketStatus.ASSIGNED, worker=desk.worker_a, handler=desk.leader)
    found = ticket_access(user=desk.leader, scope=Scope.for_user(desk.leader), ticket_id=ticket.pk)
    assert (found.is_handler, found.is_manager, found.can_view, found.sees_reporter) == (
        True,
        False,
        False,
        False,
    )
    other = civic(desk)  # not assigned: the team does not see it
    listed = ticket_list(scope=Scope.for_user(desk.leader), user=desk.leader, team_only=True)
    assert list(listed.values_list("pk", flat=True)) == [ticket.pk]
    with pytest.raises(Http404):
        ticket_access(user=desk.leader, scope=Scope.for_user(desk.leader), ticket_id=other.pk)


def test_the_worker_who_enters_a_visit_is_not_its_reporter(desk):
    ticket = walk_in(desk)
    found = access(desk.worker_a, ticket)
    assert found.is_reporter is False
    assert list(my_tickets(user=desk.worker_a)) == []
    own = civic(desk)
    assert list(my_tickets(user=desk.resident.user)) == [own]
    error = refused(
        PermissionDenied,
        lambda: ticket_withdraw(actor=desk.worker_a, access=access(desk.worker_a, ticket)),
        ticket,
    )
    assert str(error) == "只有反映人可以撤回。"


def test_notifications_are_not_sent_on_refusal(desk):
    ticket = civic(desk)
    before = Notification.objects.count()
    with pytest.raises(PermissionDenied):
        ticket_accept(actor=desk.leader, access=access(desk.leader, ticket))
    assert Notification.objects.count() == before
