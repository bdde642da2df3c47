"""The worker's service desk pages: the 工作台, intake of walk-ins and calls with the
一次性告知, the ticket list, the detail with every action form, the printable 告知单, the
overdue board and the visitor log.

Worker A runs the desk of community A; worker B, of sibling community B, must find every
ticket of A missing. A refused action re-renders the detail (400) and changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from huzhu.common.calendar import count_working_days
from huzhu.common.models import AuditEntry
from huzhu.desk.models import (
    Channel,
    CloseReason,
    EscalationLevel,
    PhotoKind,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.desk.services import (
    ticket_accept,
    ticket_acknowledge,
    ticket_assign,
    ticket_extension_request,
    ticket_resolve,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role
from tests.activities.clients import client_for
from tests.desk.factories import access, matter, patrol_team, report, team_leader
from tests.factories import UserFactory, grant, make_org
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

HOME = reverse("desk:home")
INTAKE = reverse("desk:intake")
MATTER_INFO = reverse("desk:matter_info")
LIST = reverse("desk:ticket_list")
OVERDUE = reverse("desk:overdue")
VISITORS = reverse("desk:visitor_log")
PHONE = "13800138000"
PHONE_MASKED = "138****8000"
ACTIONS = (
    "accept",
    "answer",
    "assign",
    "acknowledge",
    "return",
    "note",
    "extension",
    "extension_decide",
    "resolve",
    "follow_up",
    "close",
    "link",
    "reveal",
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def team(city) -> Org:
    return patrol_team(city.community_a, city.grid_a)


@pytest.fixture
def leader(team) -> Any:
    return team_leader(team, "patrol-a")


@pytest.fixture
def worker_a(city) -> Client:
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    return client_for(city.worker_b)


@pytest.fixture
def leader_client(leader) -> Client:
    return client_for(leader)


@pytest.fixture
def supervisor(city) -> Client:
    """A street supervisor: sees the street's tickets, may do nothing with them."""
    user = UserFactory(username="supervisor-street")
    grant(user, city.street, Role.SUPERVISOR)
    return client_for(user)


# --- helpers -----------------------------------------------------------------------------------


def walk_in(city, code: str = "affair-certificate", **kwargs: Any) -> Ticket:
    """A walk-in registered by worker A for a visitor who left a name and phone."""
    kwargs.setdefault("description", "开具居住证明")
    kwargs.setdefault("contact_name", "刘先生")
    kwargs.setdefault("contact_phone", PHONE)
    kwargs.setdefault("channel", Channel.WALK_IN)
    return report(city.worker_a, kwargs.pop("org", city.grid_a), code=code, **kwargs)


def civic(city, **kwargs: Any) -> Ticket:
    """A flyposting report phoned in to worker A (a civic type: goes to the patrol team)."""
    return walk_in(city, code="civic-flyposting", channel=Channel.PHONE, **kwargs)


def accepted(city, ticket: Ticket) -> Ticket:
    return ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))


def assigned(city, ticket: Ticket) -> Ticket:
    return ticket_assign(actor=city.worker_a, access=access(city.worker_a, accepted(city, ticket)))


def in_progress(city, leader, ticket: Ticket) -> Ticket:
    ticket = assigned(city, ticket)
    return ticket_acknowledge(actor=leader, access=access(leader, ticket))


def resolved(city, leader, ticket: Ticket) -> Ticket:
    ticket = in_progress(city, leader, ticket)
    return ticket_resolve(actor=leader, access=access(leader, ticket), result="已清理干净")


def url(name: str, ticket: Ticket, **kwargs: int) -> str:
    return reverse(f"desk:{name}", kwargs={"ticket_id": ticket.pk, **kwargs})


def text(response) -> str:
    return response.content.decode()


def row_ids(response, attribute: str = "data-ticket-id") -> list[int]:
    return [int(n) for n in re.findall(rf'{attribute}="(\d+)"', text(response))]


def count_queries(client: Client, target: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def card(response, name: str) -> dict[str, Any]:
    return next(c for c in response.context["cards"] if c["name"] == name)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def act(client: Client, name: str, ticket: Ticket, data: dict | None = None):
    """POST an action and follow the redirect to the detail, like a browser."""
    response = client.post(url(f"ticket_{name}", ticket), data or {}, follow=True)
    assert response.status_code == 200, text(response)[:2000]
    assert response.redirect_chain == [(url("ticket_detail", ticket), 302)]
    return response


def snapshot(ticket: Ticket) -> tuple:
    """What a refused action must leave as it was."""
    ticket.refresh_from_db()
    return (
        ticket.status,
        ticket.updated_at,
        TicketEvent.objects.filter(ticket=ticket).count(),
        AuditEntry.objects.count(),
        TicketPhoto.objects.count(),
    )


def png(name: str = "photo.png", size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


# --- 工作台 ---------------------------------------------------------------------------------


def test_home_counts_and_short_lists(city, worker_a, team, leader):
    waiting = walk_in(city)
    returned = assigned(city, civic(city))
    from huzhu.desk.services import ticket_return

    ticket_return(actor=leader, access=access(leader, returned), reason="不属于本网格")
    follow = resolved(city, leader, civic(city, description="2号楼小广告"))
    response = worker_a.get(HOME)
    assert response.status_code == 200
    page = text(response)
    sections = {s.key: s for s in response.context["sections"]}
    assert list(sections) == ["to_accept", "follow_up", "returned", "team", "overdue"]
    assert [t.pk for t in sections["to_accept"].tickets] == [waiting.pk]
    assert [t.pk for t in sections["returned"].tickets] == [returned.pk]
    assert [t.pk for t in sections["follow_up"].tickets] == [follow.pk]
    assert sections["team"].count == 0 and sections["overdue"].count == 0
    assert 'data-count="to_accept">1<' in page
    assert f'href="{INTAKE}"' in page and 'data-testid="intake-link"' in page


def test_home_shows_the_team_queue_to_a_team_leader(city, team, leader, leader_client):
    ticket = assigned(city, civic(city))
    response = leader_client.get(HOME)
    assert response.status_code == 200
    sections = {s.key: s for s in response.context["sections"]}
    assert list(sections) == ["returned", "team", "overdue"]
    assert [t.pk for t in sections["team"].tickets] == [ticket.pk]
    assert 'data-testid="intake-link"' not in text(response)


def test_home_needs_a_role(city):
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    assert client_for(resident.user).get(HOME).status_code == 403
    assert Client().get(HOME).status_code == 302


def test_home_query_count_does_not_grow_with_tickets(city, worker_a, team, leader):
    civic(city)
    few = count_queries(worker_a, HOME)
    for n in range(6):
        walk_in(city, description=f"事项 {n}")
        resolved(city, leader, civic(city, description=f"小广告 {n}"))
    assert count_queries(worker_a, HOME) == few


# --- 登记 -----------------------------------------------------------------------------------


def test_intake_form_offers_only_places_in_scope(city, worker_a):
    response = worker_a.get(INTAKE)
    assert response.status_code == 200
    places = list(response.context["form"].fields["place"].queryset)
    assert places == [city.community_a, city.grid_a]
    page = text(response)
    assert "乙社区" not in page
    assert "开具证明" in page and "乱贴小广告" in page
    assert f'hx-get="{MATTER_INFO}"' in page


def test_intake_registers_a_walk_in_and_offers_the_notice(city, worker_a):
    certificate = matter("affair-certificate")
    response = worker_a.post(
        INTAKE,
        {
            "channel": Channel.WALK_IN,
            "place": city.grid_a.pk,
            "matter_type": certificate.pk,
            "description": "需要开具居住证明办理入学",
            "address": "3号楼2单元",
            "contact_name": "刘先生",
            "contact_phone": PHONE,
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("ticket_detail", ticket) + "?new=1"
    assert (ticket.channel, ticket.org, ticket.grid) == (
        Channel.WALK_IN,
        city.community_a,
        city.grid_a,
    )
    assert ticket.matter_type == certificate and ticket.receiver == city.worker_a
    assert ticket.contact_name == "刘先生" and ticket.contact_phone_masked == PHONE_MASKED
    assert ticket.reporter is None and ticket.reporter_public is False
    page = worker_a.get(response["Location"])
    assert page.status_code == 200
    body = text(page)
    assert 'data-testid="new-ticket"' in body
    assert url("ticket_print", ticket) in body
    assert PHONE_MASKED in body and PHONE not in body
    assert messages_of(page) == [f"已登记工单 {ticket.number}，请打印一次性告知单交给居民。"]


def test_intake_for_a_registered_resident_found_by_name(city, worker_a):
    resident = make_resident(city.grid_a, "欧阳甲乙")
    make_resident(city.grid_b, "欧阳丙丁")
    search = worker_a.get(INTAKE, {"q": "欧阳"})
    assert row_ids(search, "data-person-id") == [resident.pk]
    assert f'href="?reporter={resident.pk}"' in text(search)
    chosen = f"{INTAKE}?reporter={resident.pk}"
    page = worker_a.get(chosen)
    assert 'data-testid="chosen-reporter"' in text(page) and "欧阳甲乙" in text(page)
    assert page.context["form"]["place"].value() == city.grid_a.pk
    response = worker_a.post(
        chosen,
        {
            "channel": Channel.PHONE,
            "place": city.grid_a.pk,
            "matter_type": matter("affair-elderly-allowance").pk,
            "description": "咨询高龄津贴怎么申领",
            "reporter_public": "on",
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.reporter == resident and ticket.channel == Channel.PHONE
    assert ticket.reporter_public is True and ticket.contact_phone_masked == ""


def test_intake_does_not_reach_residents_of_another_community(city, worker_b):
    resident = make_resident(city.grid_a, "欧阳甲乙")
    assert row_ids(worker_b.get(INTAKE, {"q": "欧阳"}), "data-person-id") == []
    assert worker_b.get(f"{INTAKE}?reporter={resident.pk}").status_code == 404


def test_intake_refuses_a_search_by_full_phone_number(city, worker_a):
    response = worker_a.get(INTAKE, {"q": PHONE})
    assert response.status_code == 200
    assert "请勿输入完整证件号或手机号，请用姓名或拼音查找。" in text(response)
    assert f'value="{PHONE}"' not in text(response)  # not echoed into the search box


def test_intake_stores_cleaned_photos(city, worker_a):
    response = worker_a.post(
        INTAKE,
        {
            "channel": Channel.WALK_IN,
            "place": city.grid_a.pk,
            "matter_type": matter("civic-flyposting").pk,
            "description": "楼道里贴满小广告",
            "address": "3号楼",
            "photos": [png("a.png"), png("b.png")],
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    photos = list(ticket.photos.all())
    assert [(p.kind, p.is_public, p.image.name.endswith(".jpg")) for p in photos] == [
        (PhotoKind.REPORT, False, True),
        (PhotoKind.REPORT, False, True),
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"description": ""}, "description", "这个字段是必填项。"),
        ({"description": "<script>alert(1)</script>"}, "description", "不能包含 HTML"),
        ({"matter_type": ""}, "matter_type", "这个字段是必填项。"),
        ({"contact_phone": "12ab"}, "contact_phone", "联系电话应为手机号或固定电话号码。"),
        ({"address": ""}, "address", "文明评议需要填写地点或在地图上标注位置。"),
    ],
)
def test_intake_refusals_store_nothing(city, worker_a, change, field, message):
    audits = AuditEntry.objects.count()
    data = {
        "channel": Channel.WALK_IN,
        "place": city.grid_a.pk,
        "matter_type": matter("civic-flyposting").pk,
        "description": "楼道里贴满小广告",
        "address": "3号楼",
        "contact_phone": PHONE,
        **change,
    }
    response = worker_a.post(INTAKE, data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert f'data-field-error="{field}"' in text(response)
    assert Ticket.objects.count() == 0 and AuditEntry.objects.count() == audits


def test_intake_refuses_a_bad_photo_and_stores_nothing(city, worker_a):
    bad = SimpleUploadedFile("notes.png", b"not an image at all", content_type="image/png")
    response = worker_a.post(
        INTAKE,
        {
            "channel": Channel.WALK_IN,
            "place": city.grid_a.pk,
            "matter_type": matter("civic-flyposting").pk,
            "description": "楼道里贴满小广告",
            "address": "3号楼",
            "photos": [png(), bad],
        },
    )
    assert response.status_code == 400
    assert "“notes.png”" in " ".join(response.context["form"].non_field_errors())
    assert Ticket.objects.count() == 0 and TicketPhoto.objects.count() == 0


def test_intake_in_another_community_is_refused(city, worker_b):
    response = worker_b.post(
        INTAKE,
        {
            "channel": Channel.WALK_IN,
            "place": city.grid_a.pk,
            "matter_type": matter("affair-certificate").pk,
            "description": "开证明",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["place"]
    assert Ticket.objects.count() == 0


def test_intake_is_for_desk_workers_only(city, leader_client, supervisor):
    assert leader_client.get(INTAKE).status_code == 403
    assert supervisor.get(INTAKE).status_code == 403
    assert supervisor.post(INTAKE, {"description": "x"}).status_code == 403
    assert Ticket.objects.count() == 0


# --- 一次性告知 (HTMX partial) ----------------------------------------------------------------


def test_matter_info_reads_out_materials_and_deadline(city, worker_a):
    certificate = matter("affair-certificate")
    response = worker_a.get(
        MATTER_INFO, {"matter_type": certificate.pk}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    page = text(response)
    assert not page.lstrip().startswith("<!DOCTYPE") and "<nav" not in page
    assert page.startswith('<div id="matter-info"')
    items = re.findall(r"<li>(.*?)</li>", page)
    assert items == [
        "本人身份证原件",
        "户口簿或房产证明（居住证明需要）",
        "委托他人办理的带委托书和双方身份证",
    ]
    assert "办理时限：受理后 3 个工作日内" in page


def test_matter_info_of_a_type_out_of_reach_says_nothing(city, worker_a):
    from huzhu.desk.models import MatterKind, MatterType

    other = MatterType.objects.create(
        org=city.community_b,
        code="b-only",
        name="乙社区专项",
        kind=MatterKind.AFFAIR,
        materials="乙社区材料",
    )
    for value in (str(other.pk), "999999", "abc", ""):
        response = worker_a.get(MATTER_INFO, {"matter_type": value})
        assert response.status_code == 200
        assert 'data-testid="materials"' not in text(response)
        assert "乙社区" not in text(response)
        assert "选择事项后" in text(response)


# --- the ticket list ------------------------------------------------------------------------


def test_list_filters(city, worker_a, team, leader):
    today = timezone.localdate()
    certificate = walk_in(city, description="开居住证明")
    flyposting = assigned(city, civic(city, description="东门小广告"))
    closed = walk_in(city, code="consult-policy", description="问政策")
    from huzhu.desk.services import ticket_answer

    ticket_answer(actor=city.worker_a, access=access(city.worker_a, closed), answer="已解答")
    other_grid = make_org(OrgKind.GRID, "甲社区第二网格", city.community_a)
    elsewhere = walk_in(city, org=other_grid, description="别处的证明")
    late = accepted(city, walk_in(city, description="逾期的证明"))
    Ticket.objects.filter(pk=late.pk).update(due_date=today - dt.timedelta(days=3))

    def ids(**query: Any) -> set[int]:
        response = worker_a.get(LIST, query)
        assert response.status_code == 200
        return set(row_ids(response))

    everything = {certificate.pk, flyposting.pk, closed.pk, elsewhere.pk, late.pk}
    assert ids() == everything
    assert ids(status="open") == everything - {closed.pk}
    assert ids(status="closed") == {closed.pk}
    assert ids(channel=Channel.PHONE) == {flyposting.pk}
    assert ids(matter_type=matter("civic-flyposting").pk) == {flyposting.pk}
    assert ids(grid=other_grid.pk) == {elsewhere.pk}
    assert ids(overdue="on") == {late.pk}
    assert ids(mine="on") == everything
    assert ids(team="on") == {flyposting.pk}
    assert ids(q="东门") == {flyposting.pk}
    assert ids(q=flyposting.number) == {flyposting.pk}
    assert ids(q=PHONE) == everything  # a full phone number is no search: dropped
    assert "不要输入完整证件号或手机号" in text(worker_a.get(LIST, {"q": PHONE}))


def test_list_of_a_team_leader_is_the_team_queue(city, team, leader, leader_client):
    queued = assigned(city, civic(city))
    walk_in(city)
    response = leader_client.get(LIST)
    assert row_ids(response) == [queued.pk]
    assert "甲社区第一网格" in text(response)


def test_list_hides_other_communities(city, worker_a, worker_b):
    ticket = walk_in(city)
    assert row_ids(worker_b.get(LIST)) == []
    assert "甲社区" not in text(worker_b.get(LIST))
    assert row_ids(worker_a.get(LIST)) == [ticket.pk]


def test_list_pages_by_twenty_and_answers_htmx_with_the_results(city, worker_a):
    tickets = [walk_in(city, description=f"证明 {n}") for n in range(21)]
    first = worker_a.get(LIST)
    assert len(row_ids(first)) == 20 and "共 21 件工单" in text(first)
    second = worker_a.get(LIST, {"page": 2})
    assert row_ids(second) == [tickets[0].pk]
    partial = worker_a.get(
        LIST, {"page": 2}, headers={"HX-Request": "true", "HX-Target": "ticket-results"}
    )
    assert row_ids(partial) == [tickets[0].pk]
    assert 'data-testid="ticket-filters"' not in text(partial)


def test_list_query_count_does_not_grow_with_rows(city, worker_a, team, leader):
    walk_in(city)
    few = count_queries(worker_a, f"{LIST}?status=open")
    for n in range(8):
        assigned(city, civic(city, description=f"小广告 {n}"))
    assert count_queries(worker_a, f"{LIST}?status=open") == few


# --- the detail ---------------------------------------------------------------------------


def test_detail_shows_fields_reporter_history_and_actions(city, worker_a):
    ticket = walk_in(city)
    response = worker_a.get(url("ticket_detail", ticket))
    assert response.status_code == 200
    page = text(response)
    assert ticket.number in page and "开具居住证明" in page and "开具证明" in page
    assert 'data-testid="reporter-name">刘先生' in page
    assert PHONE_MASKED in page and PHONE not in page
    assert [row["label"] for row in response.context["events"]] == ["登记"]
    assert [card["name"] for card in response.context["cards"]] == [
        "accept",
        "answer",
        "note",
        "link",
    ]
    assert 'data-testid="reveal"' in page
    assert url("ticket_print", ticket) in page


def test_detail_is_missing_for_outsiders_and_the_reporter(city, worker_b):
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    ticket = report(resident.user, city.grid_a)
    target = url("ticket_detail", ticket)
    assert worker_b.get(target).status_code == 404
    assert client_for(resident.user).get(target).status_code == 404
    assert Client().get(target).status_code == 302
    missing = reverse("desk:ticket_detail", kwargs={"ticket_id": 999999})
    assert client_for(city.worker_a).get(missing).status_code == 404


def test_detail_for_the_team_hides_the_reporter_name(city, team, leader, leader_client):
    ticket = assigned(city, civic(city))
    response = leader_client.get(url("ticket_detail", ticket))
    assert response.status_code == 200
    page = text(response)
    assert "刘先生" not in page and "仅受理人员可见" in page
    assert PHONE_MASKED in page and 'data-testid="reveal"' not in page
    names = [card["name"] for card in response.context["cards"]]
    assert names == ["acknowledge", "return", "note"]


def test_detail_for_a_supervisor_is_read_only(city, supervisor):
    ticket = walk_in(city)
    response = supervisor.get(url("ticket_detail", ticket))
    assert response.status_code == 200
    assert response.context["cards"] == []
    assert 'data-testid="read-only"' in text(response)
    assert "刘先生" not in text(response)


def test_detail_shows_photos_with_the_publish_toggle(city, worker_a):
    ticket = civic(city, photos=[png()])
    photo = ticket.photos.get()
    page = text(worker_a.get(url("ticket_detail", ticket)))
    assert f'src="{reverse("desk:photo", args=[photo.pk])}"' in page
    assert url("ticket_photo_publish", ticket, photo_id=photo.pk) in page


# --- the actions --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIONS)
def test_actions_need_post(city, worker_a, name):
    ticket = walk_in(city)
    before = snapshot(ticket)
    assert worker_a.get(url(f"ticket_{name}", ticket)).status_code == 405
    assert snapshot(ticket) == before


@pytest.mark.parametrize("name", ACTIONS)
def test_actions_on_another_communitys_ticket_are_missing(city, worker_b, name):
    ticket = walk_in(city)
    before = snapshot(ticket)
    response = worker_b.post(url(f"ticket_{name}", ticket), {"reason": "x", "note": "x"})
    assert response.status_code == 404
    assert snapshot(ticket) == before


def test_the_whole_path_through_the_pages(city, worker_a, team, leader, leader_client):
    ticket = civic(city, photos=[png()])
    act(worker_a, "accept", ticket, {"note": "马上处理"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ACCEPTED and ticket.due_date is not None

    detail = worker_a.get(url("ticket_detail", ticket))
    assert card(detail, "assign")["form"]["team"].value() == team.pk
    sent = act(worker_a, "assign", ticket, {"team": ""})
    assert messages_of(sent) == ["已派单。"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ASSIGNED and ticket.team == team

    act(leader_client, "acknowledge", ticket)
    act(leader_client, "note", ticket, {"note": "已联系物业", "public": "on"})
    act(leader_client, "extension", ticket, {"days": 2, "reason": "等待物业配合"})
    ticket.refresh_from_db()
    due = ticket.due_date
    assert ticket.extension_requested_days == 2
    act(worker_a, "extension_decide", ticket, {"approve": "1", "note": "同意"})
    ticket.refresh_from_db()
    assert ticket.extension_days == 2 and ticket.due_date > due

    act(leader_client, "resolve", ticket, {"result": "小广告已清除", "photos": [png("after.png")]})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED
    assert ticket.photos.filter(kind=PhotoKind.RESULT, is_public=True).count() == 1

    act(worker_a, "follow_up", ticket, {"satisfied": "1", "rating": "5", "comment": "很及时"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.rating == 5
    verbs = list(ticket.events.values_list("verb", flat=True))
    assert verbs == [
        "create",
        "accept",
        "assign",
        "acknowledge",
        "note",
        "extension_request",
        "extension_approve",
        "resolve",
        "close",
    ]
    labels = [row["label"] for row in worker_a.get(url("ticket_detail", ticket)).context["events"]]
    assert labels == [
        "登记",
        "受理",
        "派单",
        "签收",
        "办理进展",
        "申请延期",
        "批准延期",
        "反馈结果",
        "办结",
    ]


def test_answer_on_the_spot_closes(city, worker_a):
    ticket = walk_in(city, code="consult-policy", description="问低保政策")
    sent = act(worker_a, "answer", ticket, {"answer": "已当面解释低保申请条件"})
    assert messages_of(sent) == ["已当场答复，工单办结。"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.close_reason == CloseReason.ON_THE_SPOT


def test_assign_to_a_chosen_team(city, worker_a, team):
    corps = Org.objects.get(kind=OrgKind.CORPS, parent=city.community_a)
    other = make_org(OrgKind.TEAM, "甲社区物业协调队", corps)
    ticket = accepted(city, civic(city))
    act(worker_a, "assign", ticket, {"team": other.pk, "note": "物业范围"})
    ticket.refresh_from_db()
    assert ticket.team == other


def test_assign_to_a_team_of_another_community_is_refused(city, worker_a, team):
    corps_b = make_org(OrgKind.CORPS, "乙社区志愿者总队", city.community_b)
    team_b = make_org(OrgKind.TEAM, "乙社区巡查队", corps_b)
    ticket = accepted(city, civic(city))
    before = snapshot(ticket)
    response = worker_a.post(url("ticket_assign", ticket), {"team": team_b.pk})
    assert response.status_code == 400
    assert "选择一个有效的选项" in text(response)
    assert snapshot(ticket) == before


def test_return_needs_a_reason(city, team, leader, leader_client):
    ticket = assigned(city, civic(city))
    before = snapshot(ticket)
    response = leader_client.post(url("ticket_return", ticket), {"reason": ""})
    assert response.status_code == 400
    assert 'data-testid="action-error">请填写回退理由。<' in text(response)
    assert 'data-field-error="reason">请填写回退理由。<' in text(response)
    assert snapshot(ticket) == before
    sent = leader_client.post(url("ticket_return", ticket), {"reason": "不属于本网格"})
    assert sent.status_code == 302 and sent["Location"] == HOME  # no longer the team's
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RETURNED and ticket.team is None


def test_accepting_twice_is_refused_and_changes_nothing(city, worker_a):
    ticket = accepted(city, walk_in(city))
    before = snapshot(ticket)
    response = worker_a.post(url("ticket_accept", ticket), {"note": ""})
    assert response.status_code == 400
    message = f"工单 {ticket.number} 当前为“已受理”，不能受理。"
    assert f'data-testid="action-error">{message}<' in text(response)
    assert snapshot(ticket) == before


CLOSED_REFUSALS = {
    "accept": "不能受理。",
    "answer": "不能当场答复。",
    "assign": "不能派单。",
    "acknowledge": "不能签收。",
    "return": "不能回退。",
    "note": "不能填写进展。",
    "extension": "不能申请延期。",
    "extension_decide": "没有待审批的延期申请。",
    "resolve": "不能反馈结果。",
    "follow_up": "不能评价。",
    "close": "不能办结。",
    "link": "不能并案。",
}


@pytest.mark.parametrize("name", list(CLOSED_REFUSALS))
def test_actions_on_a_closed_ticket_are_refused(city, worker_a, name):
    other = walk_in(city, description="另一件")
    ticket = walk_in(city, code="consult-policy", description="问政策")
    act(worker_a, "answer", ticket, {"answer": "已解答"})
    before = snapshot(ticket)
    data = {
        "note": "说明",
        "reason": "理由",
        "answer": "答复",
        "days": 1,
        "approve": "1",
        "result": "结果",
        "satisfied": "1",
        "rating": "5",
        "comment": "好",
        "number": other.number,
    }
    response = worker_a.post(url(f"ticket_{name}", ticket), data)
    assert response.status_code == 400
    assert CLOSED_REFUSALS[name] in response.context["error"]
    assert response.context["cards"] == []
    assert snapshot(ticket) == before


def test_a_supervisor_may_not_act(city, supervisor):
    ticket = walk_in(city)
    before = snapshot(ticket)
    response = supervisor.post(url("ticket_accept", ticket))
    assert response.status_code == 400
    assert 'data-testid="action-error">没有受理该工单的权限。<' in text(response)
    assert snapshot(ticket) == before


def test_a_team_leader_may_not_accept_or_assign(city, team, leader, leader_client):
    ticket = assigned(city, civic(city))
    before = snapshot(ticket)
    for name in ("accept", "assign", "follow_up", "close", "link"):
        response = leader_client.post(
            url(f"ticket_{name}", ticket),
            {"satisfied": "1", "rating": "5", "note": "x", "number": ticket.number},
        )
        assert response.status_code == 400, name
    assert snapshot(ticket) == before


def test_extension_over_the_limit_is_refused(city, team, leader, leader_client):
    ticket = in_progress(city, leader, civic(city))
    before = snapshot(ticket)
    response = leader_client.post(url("ticket_extension", ticket), {"days": 11, "reason": "久"})
    assert response.status_code == 400
    assert "延期合计不能超过 10 个工作日（已延期 0 个）。" in text(response)
    assert snapshot(ticket) == before


def test_extension_refused_by_the_receiver(city, worker_a, team, leader):
    ticket = in_progress(city, leader, civic(city))
    ticket_extension_request(actor=leader, access=access(leader, ticket), days=3, reason="等材料")
    ticket.refresh_from_db()
    due = ticket.due_date
    act(worker_a, "extension_decide", ticket, {"approve": "0", "note": "请按期办结"})
    ticket.refresh_from_db()
    assert ticket.extension_requested_days == 0 and ticket.due_date == due
    assert ticket.events.last().verb == "extension_refuse"


def test_follow_up_dissatisfied_sends_it_back(city, worker_a, team, leader):
    ticket = resolved(city, leader, civic(city))
    before = snapshot(ticket)
    response = worker_a.post(url("ticket_follow_up", ticket), {"satisfied": "0", "rating": "2"})
    assert response.status_code == 400
    assert "不满意时请说明原因，以便重新办理。" in text(response)
    assert snapshot(ticket) == before
    act(worker_a, "follow_up", ticket, {"satisfied": "0", "rating": "2", "comment": "还有残留"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS and ticket.reopen_count == 1


def test_close_without_rating(city, worker_a, team, leader):
    ticket = resolved(city, leader, civic(city))
    act(worker_a, "close", ticket, {"note": "三次电话回访均未接通"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.rating is None


def test_link_a_repeat_report_from_the_similar_list(city, worker_a):
    original = civic(city, description="东门小广告")
    repeat = civic(city, description="东门又贴了小广告")
    response = worker_a.get(url("ticket_detail", repeat))
    assert [t.pk for t in response.context["similar"]] == [original.pk]
    assert 'data-testid="similar"' in text(response)
    act(worker_a, "link", repeat, {"original": original.pk})
    repeat.refresh_from_db()
    assert repeat.status == TicketStatus.CLOSED and repeat.duplicate_of == original
    assert repeat.close_reason == CloseReason.DUPLICATE


def test_link_by_number(city, worker_a):
    original = walk_in(city)
    repeat = walk_in(city, description="再次来问居住证明")
    act(worker_a, "link", repeat, {"number": original.number.lower()})
    repeat.refresh_from_db()
    assert repeat.duplicate_of == original


def test_link_to_an_unknown_or_foreign_ticket_is_refused(city, worker_a):
    foreign = report(city.worker_b, city.grid_b, code="affair-certificate", channel="walk_in")
    ticket = walk_in(city)
    before = snapshot(ticket)
    for data, message in (
        ({}, "请选择相似工单或输入工单编号。"),
        ({"number": "GD1999000001"}, "本社区没有编号为 GD1999000001 的工单。"),
        ({"number": foreign.number}, f"本社区没有编号为 {foreign.number} 的工单。"),
        ({"number": ticket.number}, "不能与自身并案。"),
    ):
        response = worker_a.post(url("ticket_link", ticket), data)
        assert response.status_code == 400
        assert message in text(response)
        assert "乙社区" not in text(response)
    assert snapshot(ticket) == before


def test_photo_publish_and_hide(city, worker_a):
    ticket = civic(city, photos=[png()])
    photo = ticket.photos.get()
    target = url("ticket_photo_publish", ticket, photo_id=photo.pk)
    response = worker_a.post(target, {"public": "1"}, follow=True)
    assert messages_of(response) == ["照片已公开。"]
    photo.refresh_from_db()
    assert photo.is_public is True
    worker_a.post(target, {"public": "0"})
    photo.refresh_from_db()
    assert photo.is_public is False
    assert list(AuditEntry.objects.values_list("verb", flat=True).order_by("id"))[-2:] == [
        "desk.photo.publish",
        "desk.photo.hide",
    ]
    assert worker_a.get(target).status_code == 405


def test_photo_publish_refusals(city, worker_a, team, leader, leader_client):
    ticket = assigned(city, civic(city, photos=[png()]))
    other = civic(city, photos=[png()])
    photo = ticket.photos.get()
    before = snapshot(ticket)
    wrong = url("ticket_photo_publish", other, photo_id=photo.pk)
    assert worker_a.post(wrong, {"public": "1"}).status_code == 404
    response = leader_client.post(
        url("ticket_photo_publish", ticket, photo_id=photo.pk), {"public": "1"}
    )
    assert response.status_code == 400
    assert "没有审核照片的权限。" in text(response)
    bad = worker_a.post(url("ticket_photo_publish", ticket, photo_id=photo.pk), {"public": "x"})
    assert bad.status_code == 400
    photo.refresh_from_db()
    assert photo.is_public is False and snapshot(ticket) == before


# --- the reveal ------------------------------------------------------------------------------


def test_reveal_shows_the_phone_once_and_is_audited(city, worker_a):
    ticket = walk_in(city)
    response = worker_a.post(url("ticket_reveal", ticket))
    assert response.status_code == 200
    assert f'data-testid="contact-phone">{PHONE}<' in text(response)
    entry = AuditEntry.objects.get(verb="desk.ticket.reveal")
    assert (entry.actor, entry.target_id) == (city.worker_a, str(ticket.pk))
    assert PHONE not in str(entry.data)
    again = worker_a.get(url("ticket_detail", ticket))
    assert PHONE not in text(again)


def test_reveal_over_htmx_answers_the_contact_block(city, worker_a):
    resident = make_resident(city.grid_a, "欧阳甲乙")
    ticket = report(
        city.worker_a,
        city.grid_a,
        code="affair-certificate",
        channel="walk_in",
        reporter_id=resident.pk,
    )
    response = worker_a.post(url("ticket_reveal", ticket), headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = text(response)
    assert page.startswith('<div id="ticket-contact"')
    assert f'data-testid="contact-phone">{resident.phone}<' in page


def test_reveal_needs_the_reveal_permission(city, supervisor, worker_a):
    ticket = walk_in(city, contact_phone="")
    response = worker_a.post(url("ticket_reveal", ticket))
    assert response.status_code == 400 and "该工单没有联系电话。" in text(response)
    phoned = walk_in(city)
    response = supervisor.post(url("ticket_reveal", phoned))
    assert response.status_code == 400
    assert "没有查看完整联系电话的权限。" in text(response) and PHONE not in text(response)
    assert not AuditEntry.objects.filter(verb="desk.ticket.reveal").exists()


# --- the printed notice --------------------------------------------------------------------


def test_print_has_materials_deadline_and_phones_but_no_reporter_phone(city, worker_a, worker_b):
    Org.objects.filter(pk=city.community_a.pk).update(
        service_phone="0531-88880001", supervision_phone="0531-88880002"
    )
    ticket = walk_in(city)
    response = worker_a.get(url("ticket_print", ticket))
    assert response.status_code == 200
    page = text(response)
    assert f'data-testid="receipt-number">{ticket.number}<' in page
    assert 'data-testid="receipt-matter">开具证明<' in page
    assert re.findall(r"<li>(.*?)</li>", page.split('data-testid="receipt-materials"')[1])[:3] == [
        "本人身份证原件",
        "户口簿或房产证明（居住证明需要）",
        "委托他人办理的带委托书和双方身份证",
    ]
    assert "受理后 3 个工作日内" in page
    assert 'data-testid="service-phone">0531-88880001<' in page
    assert 'data-testid="supervision-phone">0531-88880002<' in page
    assert PHONE not in page and PHONE_MASKED not in page
    accepted(city, ticket)
    ticket.refresh_from_db()
    deadline = f"{ticket.due_date.year}年{ticket.due_date.month}月{ticket.due_date.day}日前办结"
    assert deadline in text(worker_a.get(url("ticket_print", ticket)))
    assert worker_b.get(url("ticket_print", ticket)).status_code == 404


# --- 督办 -----------------------------------------------------------------------------------


def overdue_ticket(city, days_ago: int, description: str = "逾期的证明") -> Ticket:
    ticket = accepted(city, walk_in(city, description=description))
    due = timezone.localdate() - dt.timedelta(days=days_ago)
    Ticket.objects.filter(pk=ticket.pk).update(due_date=due)
    ticket.refresh_from_db()
    return ticket


def test_overdue_board_for_the_street(city, supervisor, worker_b):
    on_time = accepted(city, walk_in(city))
    late = overdue_ticket(city, 10)
    Ticket.objects.filter(pk=late.pk).update(escalation_level=EscalationLevel.DISTRICT)
    response = supervisor.get(OVERDUE)
    assert response.status_code == 200
    assert row_ids(response) == [late.pk]
    expected, _ = count_working_days(late.due_date, timezone.localdate())
    assert f'data-testid="days-overdue">{expected}<' in text(response)
    assert 'data-level="2">区级督办<' in text(response)
    assert on_time.pk not in row_ids(response)
    assert row_ids(worker_b.get(OVERDUE)) == []


def test_overdue_query_count_does_not_grow_with_rows(city, supervisor):
    overdue_ticket(city, 12)  # the oldest first: later rows need no other calendar year
    few = count_queries(supervisor, OVERDUE)
    for n in range(6):
        overdue_ticket(city, 3 + n, description=f"逾期 {n}")
    assert count_queries(supervisor, OVERDUE) == few


# --- 来访登记 -------------------------------------------------------------------------------


def test_visitor_log_lists_todays_walk_ins(city, worker_a, supervisor):
    visit = walk_in(city)
    civic(city)  # a phone call is no visit
    earlier = walk_in(city, description="昨天来开证明")
    Ticket.objects.filter(pk=earlier.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    response = worker_a.get(VISITORS)
    assert response.status_code == 200
    assert row_ids(response) == [visit.pk]
    page = text(response)
    assert 'data-testid="visitor">刘先生<' in page and PHONE_MASKED in page
    assert "window.print()" in page
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    ranged = worker_a.get(VISITORS, {"date_from": yesterday.isoformat()})
    assert row_ids(ranged) == [earlier.pk, visit.pk]
    masked = supervisor.get(VISITORS)
    assert 'data-testid="visitor">刘**<' in text(masked)


def test_visitor_log_refuses_a_backwards_range(city, worker_a):
    visit = walk_in(city)
    today = timezone.localdate()
    response = worker_a.get(
        VISITORS,
        {"date_from": today.isoformat(), "date_to": (today - dt.timedelta(days=3)).isoformat()},
    )
    assert response.status_code == 200
    assert 'data-testid="range-error">开始日期不能晚于结束日期。<' in text(response)
    assert row_ids(response) == [visit.pk]


def test_visitor_log_hides_other_communities(city, worker_b):
    walk_in(city)
    assert row_ids(worker_b.get(VISITORS)) == []


def test_visitor_log_query_count_does_not_grow_with_rows(city, worker_a):
    resident = make_resident(city.grid_a, "欧阳甲乙")
    walk_in(city)
    few = count_queries(worker_a, VISITORS)
    for n in range(6):
        walk_in(city, description=f"来访 {n}")
        report(
            city.worker_a,
            city.grid_a,
            code="affair-certificate",
            channel="walk_in",
            description=f"居民来访 {n}",
            reporter_id=resident.pk,
        )
    assert count_queries(worker_a, VISITORS) == few
