"""Bad input: floods (per client address, per phone, per person; hourly and daily — each key
counted on its own) and HTML or script in any text a service takes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from huzhu.desk.models import Channel, Ticket, TicketStatus
from huzhu.desk.ratelimit import RateLimited, source_hash
from huzhu.desk.services import (
    FollowUp,
    TicketInput,
    ticket_accept,
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
from huzhu.desk.text import markup_error
from huzhu.orgs.scope import Scope
from tests.desk.factories import access, matter, patrol_team, report, run_to, team_leader
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

HOURLY = "提交过于频繁：每小时最多 2 件，请稍后再试或拨打社区服务电话。"
DAILY = "今天已提交 3 件，已达上限，请明天再试或拨打社区服务电话。"
MARKUP = "不能包含 HTML 标记或脚本，请只填写文字。"


@pytest.fixture
def limits(settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 2
    settings.HUZHU_DESK_RATE_PER_DAY = 3


def anonymous(city: Any, ip: str = "", phone: str = "", text: str = "楼道堆满杂物") -> Ticket:
    data = TicketInput(
        matter_type_id=matter("civic-stairwell").pk,
        description=text,
        channel=Channel.WEB,
        org_id=city.community_a.pk,
        address="5号楼2单元",
        contact_phone=phone,
    )
    return ticket_create(actor=None, scope=Scope.anonymous(), data=data, client_address=ip)


def rate_refusal(call: Any) -> str:
    before = Ticket.objects.count()
    with pytest.raises(RateLimited) as info:
        call()
    assert Ticket.objects.count() == before
    assert info.value.code == "rate_limited"
    assert isinstance(info.value, ValidationError)
    return info.value.messages[0]


def age(tickets: Any, hours: float) -> None:
    Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(
        created_at=timezone.now() - dt.timedelta(hours=hours)
    )


def test_per_client_address_hourly_then_daily(city, limits):
    first = [anonymous(city, ip="203.0.113.7"), anonymous(city, ip="203.0.113.7")]
    assert rate_refusal(lambda: anonymous(city, ip="203.0.113.7")) == HOURLY
    anonymous(city, ip="203.0.113.8")  # another address is not held back
    age(first, 2)
    anonymous(city, ip="203.0.113.7")  # the hour has passed: 3 today
    assert rate_refusal(lambda: anonymous(city, ip="203.0.113.7")) == DAILY
    age(Ticket.objects.filter(source_hash=source_hash("203.0.113.7")), 25)
    anonymous(city, ip="203.0.113.7")  # a new day
    # Only a keyed hash of the address is kept.
    assert not Ticket.objects.filter(source_hash__contains="203.0.113").exists()
    assert Ticket.objects.filter(source_hash=source_hash("203.0.113.7")).count() == 4


def test_per_phone_across_addresses(city, limits):
    anonymous(city, ip="198.51.100.1", phone="13905310001")
    anonymous(city, ip="198.51.100.2", phone="139 0531 0001")
    message = rate_refusal(lambda: anonymous(city, ip="198.51.100.3", phone="+8613905310001"))
    assert message == HOURLY
    anonymous(city, ip="198.51.100.3", phone="13905310002")


def test_per_person_without_an_address(city, limits):
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    tickets = [report(resident.user, city.grid_a), report(resident.user, city.grid_a)]
    assert rate_refusal(lambda: report(resident.user, city.grid_a)) == HOURLY
    age(tickets, 3)
    report(resident.user, city.grid_a)
    assert rate_refusal(lambda: report(resident.user, city.grid_a)) == DAILY


def test_each_key_is_counted_on_its_own(city, limits):
    """A person and an address that each sent one are not held back together."""
    li = make_resident(city.grid_a, "李阿姨", username="li")
    zhao = make_resident(city.grid_a, "赵大爷", username="zhao")
    report(li.user, city.grid_a, client_address="192.0.2.1")
    report(zhao.user, city.grid_a, client_address="192.0.2.2")
    report(li.user, city.grid_a, client_address="192.0.2.2")  # li: 2, address 2: 2
    assert rate_refusal(lambda: report(li.user, city.grid_a, client_address="192.0.2.9")) == HOURLY
    assert rate_refusal(lambda: report(zhao.user, city.grid_a, client_address="192.0.2.2")) == (
        HOURLY
    )
    report(zhao.user, city.grid_a, client_address="192.0.2.1")


def test_the_desk_staff_are_not_limited(city, limits):
    for _ in range(4):
        report(
            city.worker_a,
            city.grid_a,
            channel=Channel.PHONE,
            contact_phone="13905310001",
            client_address="10.0.0.1",
        )
    assert Ticket.objects.count() == 4


def test_a_limit_can_be_forced_for_staff_clients(city, limits):
    data = TicketInput(
        matter_type_id=matter("civic-litter").pk,
        description="垃圾堆放",
        channel=Channel.API,
        org_id=city.community_a.pk,
        address="北门",
    )
    scope = Scope.for_user(city.worker_a)
    for _ in range(2):
        ticket_create(actor=city.worker_a, scope=scope, data=data, client_address="10.0.0.2")
    message = rate_refusal(
        lambda: ticket_create(
            actor=city.worker_a,
            scope=scope,
            data=data,
            client_address="10.0.0.2",
            limit_rate=True,
        )
    )
    assert message == HOURLY


# --- markup --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "楼道<b>堆物</b>",
        '<img src=x onerror="alert(1)">',
        "点这里 javascript:alert(1)",
        "VBScript:msgbox",
        "data:text/html;base64,PHNjcmlwdD4=",
        "x onclick = steal()",
        "<!-- 注释 -->",
    ],
)
def test_markup_is_found(text):
    assert markup_error(text) == MARKUP


@pytest.mark.parametrize(
    "text", ["3<5 而且 6>4", "请看《通知》<第3条>", "condition=良好", "电话：0531-82345678", ""]
)
def test_plain_text_passes(text):
    assert markup_error(text) is None


@pytest.mark.parametrize("field", ["title", "description", "address", "contact_name"])
def test_markup_in_any_registration_field_is_refused(city, field):
    values = {"title": "", "description": "楼道堆物", "address": "5号楼", "contact_name": ""}
    values[field] = "<script>x</script>"
    data = TicketInput(
        matter_type_id=matter("civic-stairwell").pk,
        channel=Channel.WEB,
        org_id=city.community_a.pk,
        **values,
    )
    with pytest.raises(ValidationError) as info:
        ticket_create(actor=None, scope=Scope.anonymous(), data=data)
    assert info.value.message_dict == {field: [MARKUP]}
    assert Ticket.objects.count() == 0


@pytest.fixture
def desk(city):
    city.team = patrol_team(city.community_a, city.grid_a)
    city.leader = team_leader(city.team, "patrol-a")
    city.resident = make_resident(city.grid_a, "李阿姨", username="li")
    return city


BAD = '<a href="x">看这里</a>'


def by(user: Any, ticket: Ticket) -> dict[str, Any]:
    return {"actor": user, "access": access(user, ticket)}


# step: (field named in the error, the status the ticket needs, the call with BAD text)
STEPS: dict[str, tuple[str, str, Any]] = {
    "accept": ("note", "registered", lambda d, t: ticket_accept(**by(d.worker_a, t), note=BAD)),
    "answer": ("answer", "registered", lambda d, t: ticket_answer(**by(d.worker_a, t), answer=BAD)),
    "assign": ("note", "accepted", lambda d, t: ticket_assign(**by(d.worker_a, t), note=BAD)),
    "return": ("reason", "assigned", lambda d, t: ticket_return(**by(d.leader, t), reason=BAD)),
    "note": ("note", "in_progress", lambda d, t: ticket_note(**by(d.leader, t), note=BAD)),
    "extension": (
        "reason",
        "in_progress",
        lambda d, t: ticket_extension_request(**by(d.leader, t), days=2, reason=BAD),
    ),
    "resolve": (
        "result",
        "in_progress",
        lambda d, t: ticket_resolve(**by(d.leader, t), result=BAD),
    ),
    "follow_up": (
        "comment",
        "resolved",
        lambda d, t: ticket_follow_up(**by(d.resident.user, t), data=FollowUp(False, 2, BAD)),
    ),
    "close": ("note", "resolved", lambda d, t: ticket_close_unrated(**by(d.worker_a, t), note=BAD)),
    "link": (
        "note",
        "registered",
        lambda d, t: ticket_link(
            **by(d.worker_a, t), original=report(d.resident.user, d.grid_a), note=BAD
        ),
    ),
    "withdraw": (
        "reason",
        "registered",
        lambda d, t: ticket_withdraw(**by(d.resident.user, t), reason=BAD),
    ),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_markup_in_any_step_is_refused_and_changes_nothing(desk, name):
    field, status, call = STEPS[name]
    ticket = report(desk.resident.user, desk.grid_a)
    if status != TicketStatus.REGISTERED:
        ticket = run_to(ticket, status, worker=desk.worker_a, handler=desk.leader)
    before = Ticket.objects.filter(pk=ticket.pk).values().get()
    with pytest.raises(ValidationError) as info:
        call(desk, ticket)
    assert info.value.message_dict == {field: [MARKUP]}
    assert Ticket.objects.filter(pk=ticket.pk).values().get() == before


def test_an_extension_decision_note_is_plain_text_too(desk):
    ticket = run_to(
        report(desk.resident.user, desk.grid_a),
        TicketStatus.IN_PROGRESS,
        worker=desk.worker_a,
        handler=desk.leader,
    )
    ticket = ticket_extension_request(
        actor=desk.leader, access=access(desk.leader, ticket), days=2, reason="等材料"
    )
    with pytest.raises(ValidationError) as info:
        ticket_extension_decide(
            actor=desk.worker_a, access=access(desk.worker_a, ticket), approve=True, note=BAD
        )
    assert info.value.message_dict == {"note": [MARKUP]}
    ticket.refresh_from_db()
    assert (ticket.extension_requested_days, ticket.extension_days) == (2, 0)
