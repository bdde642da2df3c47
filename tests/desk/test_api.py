"""/api/v1/desk: the matter catalogue, tickets through every step, the public board — who
sees what, refusals that change nothing, rate limits, and N+1 guards on every list."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image

from huzhu.common.models import AuditEntry
from huzhu.desk.models import (
    Channel,
    MatterType,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.desk.services import today_local
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from tests.activities.clients import MISSING, errors, patch, post, token_client
from tests.desk.factories import matter, patrol_team, report, team_leader
from tests.factories import UserFactory, grant, make_org
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

URL = "/api/v1/desk"
TICKET_KEYS = {
    "id",
    "number",
    "org_id",
    "org_name",
    "grid",
    "matter_type",
    "channel",
    "channel_label",
    "title",
    "description",
    "address",
    "latitude",
    "longitude",
    "status",
    "status_label",
    "team",
    "receiver_name",
    "due_date",
    "is_overdue",
    "escalation_level",
    "escalation_label",
    "reporter_public",
    "reporter_id",
    "reporter_name",
    "contact_name",
    "contact_phone_masked",
    "created_at",
    "updated_at",
    "closed_at",
}
PUBLIC_KEYS = {
    "id",
    "number",
    "org_id",
    "org_name",
    "grid_name",
    "matter_type",
    "title",
    "description",
    "address",
    "latitude",
    "longitude",
    "status",
    "status_label",
    "result",
    "created_at",
    "updated_at",
    "closed_at",
    "photos",
}


@pytest.fixture
def team(city):
    return patrol_team(city.community_a, city.grid_a)


@pytest.fixture
def leader(team):
    return team_leader(team, "patrol-a")


@pytest.fixture
def resident(city):
    return make_resident(city.grid_a, "李阿姨", username="li")


@pytest.fixture
def worker_a(city) -> Client:
    return token_client(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    return token_client(city.worker_b)


@pytest.fixture
def li(resident) -> Client:
    return token_client(resident.user)


@pytest.fixture
def patrol(leader) -> Client:
    return token_client(leader)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def state() -> tuple:
    return (
        tuple(
            Ticket.objects.order_by("pk").values_list(
                "status",
                "team_id",
                "receiver_id",
                "extension_days",
                "extension_requested_days",
                "rating",
                "duplicate_of_id",
                "result",
                "due_date",
            )
        ),
        TicketEvent.objects.count(),
        tuple(TicketPhoto.objects.order_by("pk").values_list("is_public", flat=True)),
        tuple(MatterType.objects.order_by("pk").values_list("name", "is_active", "org_id")),
        AuditEntry.objects.count(),
    )


def flyposting(**overrides) -> dict:
    payload = {
        "matter_type_id": matter("civic-flyposting").pk,
        "description": "3号楼单元门口贴满小广告",
        "address": "3号楼1单元",
    }
    payload.update(overrides)
    return payload


def photo_file(name: str = "p.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def warm(client: Client, url: str) -> None:
    """The token's first use is recorded once (``last_used_at``): not part of a guard."""
    assert client.get(url).status_code == 200


def same_queries(client: Client, url: str, add: Callable[[], None], added: int) -> dict:
    """The page costs as many queries after ``add()`` put ``added`` more rows on it."""
    warm(client, url)
    with CaptureQueriesContext(connection) as few:
        first = client.get(url)
    assert first.status_code == 200 and first.json()["count"] >= 1, first.content
    add()
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.json()["count"] == first.json()["count"] + added
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    return response.json()


def act(client: Client, ticket_id: int, action: str, payload: dict | None = None):
    return post(client, f"{URL}/tickets/{ticket_id}/{action}", payload)


def assign_to_team(city, ticket: Ticket, worker: Client) -> None:
    assert act(worker, ticket.pk, "accept").status_code == 200
    assert act(worker, ticket.pk, "assign").status_code == 200


# --- the whole path ---------------------------------------------------------------------


def test_resident_report_runs_to_closed_and_shows_on_the_public_board(
    city, team, leader, resident, li, worker_a, patrol
):
    response = post(li, f"{URL}/tickets", flyposting(org_id=city.grid_a.pk))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(TICKET_KEYS) <= set(body)
    assert (body["status"], body["status_label"]) == ("registered", "登记")
    assert (body["channel"], body["channel_label"]) == ("api", "接口")
    assert body["org_id"] == city.community_a.pk and body["org_name"] == "甲社区"
    assert body["grid"] == {"id": city.grid_a.pk, "name": "甲社区第一网格"}
    assert body["matter_type"] == {
        "id": matter("civic-flyposting").pk,
        "code": "civic-flyposting",
        "name": "乱贴小广告",
        "kind": "civic",
        "kind_label": "文明评议",
    }
    assert body["title"] == "3号楼单元门口贴满小广告"
    assert (body["reporter_id"], body["reporter_name"]) == (resident.pk, "李阿姨")
    assert body["contact_phone_masked"] == resident.phone_masked
    assert body["me"]["is_reporter"] is True and body["me"]["may_manage"] is False
    assert [e["verb"] for e in body["events"]] == ["create"]
    ticket_id = body["id"]

    body = act(worker_a, ticket_id, "accept", {"note": "已受理，今天派单"}).json()
    assert (body["status"], body["receiver_name"]) == ("accepted", "worker-a")
    assert body["due_date"] is not None and body["is_overdue"] is False
    body = act(worker_a, ticket_id, "assign").json()
    assert (body["status"], body["team"]) == ("assigned", {"id": team.pk, "name": team.name})
    body = act(patrol, ticket_id, "acknowledge").json()
    assert body["status"] == "in_progress"
    assert body["me"] == {
        "is_reporter": False,
        "is_receiver": False,
        "is_manager": False,
        "is_handler": True,
        "can_view": False,
        "may_manage": False,
        "sees_reporter": False,
    }
    assert (body["reporter_id"], body["reporter_name"], body["contact_phone_masked"]) == (
        None,
        None,
        None,
    )
    body = act(patrol, ticket_id, "notes", {"note": "已联系物业", "public": False}).json()
    body = act(patrol, ticket_id, "notes", {"note": "明天上午清理", "public": True}).json()
    body = act(patrol, ticket_id, "resolve", {"result": "小广告已清理干净"}).json()
    assert (body["status"], body["result"]) == ("resolved", "小广告已清理干净")
    body = act(li, ticket_id, "follow-up", {"satisfied": True, "rating": 5, "comment": "很快"})
    body = body.json()
    assert (body["status"], body["rating"], body["closed_on_time"]) == ("closed", 5, True)
    assert (body["close_reason"], body["close_reason_label"]) == ("resolved", "办理完毕")

    staff = worker_a.get(f"{URL}/tickets/{ticket_id}").json()
    assert [e["verb"] for e in staff["events"]] == [
        "create",
        "accept",
        "assign",
        "acknowledge",
        "note",
        "note",
        "resolve",
        "close",
    ]
    mine = li.get(f"{URL}/tickets/{ticket_id}").json()  # the public steps only
    assert [e["note"] for e in mine["events"]] == [
        "接口",
        "已受理，今天派单",
        team.name,
        "承办队伍已签收",
        "明天上午清理",
        "小广告已清理干净",
        "5★ 很快",
    ]

    board = Client().get(f"{URL}/public/reports?org_id={city.street.pk}")
    assert board.status_code == 200
    items = board.json()["items"]
    assert [(i["number"], i["status"], i["status_label"]) for i in items] == [
        (staff["number"], "closed", "办结")
    ]
    assert set(items[0]) == PUBLIC_KEYS
    assert "李阿姨" not in board.content.decode()
    assert resident.phone_masked not in board.content.decode()


def test_walk_in_registered_by_staff_with_a_masked_phone_and_an_audited_reveal(
    city, team, leader, worker_a, patrol
):
    response = post(
        worker_a,
        f"{URL}/tickets",
        {
            "matter_type_id": matter("consult-policy").pk,
            "description": "想问高龄津贴怎么申请",
            "org_id": city.community_a.pk,
            "contact_name": "刘先生",
            "contact_phone": "138 0013 8000",
            "channel": "walk_in",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["channel"], body["receiver_name"]) == ("walk_in", "worker-a")
    assert (body["contact_name"], body["contact_phone_masked"]) == ("刘先生", "138****8000")
    assert body["reporter_id"] is None and body["grid"] is None
    assert (body["me"]["is_reporter"], body["me"]["is_receiver"]) == (False, True)
    assert "13800138000" not in response.content.decode()

    reveal = act(worker_a, body["id"], "reveal")
    assert reveal.status_code == 200
    assert reveal.json() == {"contact_phone": "13800138000"}
    assert reveal["Cache-Control"] == "no-store"
    entry = AuditEntry.objects.get(verb="desk.ticket.reveal")
    assert (entry.actor, entry.data) == (city.worker_a, {"fields": ["contact_phone"]})

    act(worker_a, body["id"], "accept")
    act(worker_a, body["id"], "assign", {"team_id": team.pk})
    before = state()
    refused = act(patrol, body["id"], "reveal")
    assert refused.status_code == 403
    assert refused.json() == {"detail": "没有查看完整联系电话的权限。"}
    assert state() == before


def test_on_the_spot_answer_closes_at_once(city, worker_a):
    ticket = report(city.worker_a, city.community_a, code="consult-policy", channel=Channel.PHONE)
    assert errors(act(worker_a, ticket.pk, "answer", {"answer": ""})) == [
        ("answer", "请填写答复内容。")
    ]
    body = act(worker_a, ticket.pk, "answer", {"answer": "带身份证到社区服务站办理"}).json()
    assert (body["status"], body["close_reason"], body["close_reason_label"]) == (
        "closed",
        "on_the_spot",
        "当场答复",
    )
    assert body["result"] == "带身份证到社区服务站办理"


# --- input and refusals on create -------------------------------------------------------


def test_create_refuses_bad_input_and_stores_nothing(city, resident, li, worker_b):
    other = make_resident(city.grid_a, "王大爷")
    before = state()
    assert errors(post(li, f"{URL}/tickets", {"description": "x"})) == [
        ("matter_type_id", "此项为必填项")
    ]
    private = MatterType.objects.create(
        org=city.community_b, code="b-only", name="乙社区专项", kind="affair"
    )
    before = state()
    assert errors(
        post(li, f"{URL}/tickets", flyposting(matter_type_id=private.pk, org_id=city.grid_a.pk))
    ) == [("matter_type_id", "请选择本社区事项清单中的事项。")]
    assert errors(post(li, f"{URL}/tickets", flyposting(address="", org_id=city.grid_a.pk))) == [
        ("address", "文明评议需要填写地点或在地图上标注位置。")
    ]
    refused = errors(
        post(
            li,
            f"{URL}/tickets",
            flyposting(description="<script>alert(1)</script>", org_id=city.grid_a.pk),
        )
    )
    assert [field for field, _message in refused] == ["description"]
    assert errors(
        post(li, f"{URL}/tickets", flyposting(contact_phone="12ab", org_id=city.grid_a.pk))
    ) == [("contact_phone", "联系电话应为手机号或固定电话号码。")]
    assert errors(
        post(li, f"{URL}/tickets", flyposting(org_id=city.community_a.pk, grid_id=city.grid_b.pk))
    ) == [("grid_id", "网格不属于该社区。")]
    assert errors(post(li, f"{URL}/tickets", flyposting(latitude=91, longitude=10))) == [
        ("latitude", "超出允许的范围")
    ]
    assert errors(post(li, f"{URL}/tickets", flyposting(channel="web"))) == [
        ("channel", "取值无效，可选值：'api', 'walk_in', 'phone'")
    ]
    # a resident of community A named by a worker of B: the same answer as a missing one
    for reporter_id in (other.pk, 10**9):
        assert errors(
            post(
                worker_b,
                f"{URL}/tickets",
                flyposting(reporter_id=reporter_id, org_id=city.grid_b.pk, channel="phone"),
            )
        ) == [("reporter_id", "居民不存在或不在您的管理范围内")]
    refused = post(li, f"{URL}/tickets", flyposting(org_id=city.grid_a.pk, channel="walk_in"))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "只有社区工作人员可以登记来访和来电。"}
    assert state() == before


def test_a_flood_of_reports_is_429_and_stores_nothing(city, resident, li, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 2
    for n in range(2):
        response = post(li, f"{URL}/tickets", flyposting(org_id=city.grid_a.pk, address=f"{n}号楼"))
        assert response.status_code == 201
    before = state()
    response = post(li, f"{URL}/tickets", flyposting(org_id=city.grid_a.pk))
    assert response.status_code == 429
    assert response.json() == {
        "detail": "提交过于频繁：每小时最多 2 件，请稍后再试或拨打社区服务电话。"
    }
    assert state() == before


def test_staff_are_not_rate_limited(city, worker_a, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 1
    for _n in range(3):
        response = post(worker_a, f"{URL}/tickets", flyposting(org_id=city.grid_a.pk))
        assert response.status_code == 201


# --- who may see and do what --------------------------------------------------------------


def test_worker_b_and_strangers_get_404_for_a_ticket_of_a_and_nothing_changes(
    city, team, resident, worker_b
):
    ticket = report(resident.user, city.grid_a)
    stranger = token_client(make_resident(city.grid_b, "赵路人", username="zhao").user)
    routes = [
        ("get", ""),
        ("get", "/similar"),
        ("post", "/reveal"),
        ("post", "/accept"),
        ("post", "/answer"),
        ("post", "/assign"),
        ("post", "/acknowledge"),
        ("post", "/return"),
        ("post", "/notes"),
        ("post", "/extension"),
        ("post", "/extension/decide"),
        ("post", "/resolve"),
        ("post", "/follow-up"),
        ("post", "/close"),
        ("post", "/link"),
        ("post", "/withdraw"),
        ("post", "/photos/1/publish"),
    ]
    bodies = {
        "/extension": {"days": 1, "reason": "x"},
        "/extension/decide": {"approve": True},
        "/follow-up": {"satisfied": True, "rating": 5},
        "/link": {"original": ticket.pk},
        "/photos/1/publish": {"public": True},
    }
    before = state()
    for client in (worker_b, stranger):
        for method, suffix in routes:
            url = f"{URL}/tickets/{ticket.pk}{suffix}"
            if method == "get":
                response = client.get(url)
            else:
                response = post(client, url, bodies.get(suffix, {}))
            assert (suffix, response.status_code, response.json()) == (suffix, 404, MISSING)
    for url in (f"{URL}/tickets", f"{URL}/tickets/overdue", f"{URL}/tickets/mine"):
        assert worker_b.get(url).json() == {"items": [], "count": 0}
    assert state() == before
    anonymous = Client()
    assert anonymous.get(f"{URL}/tickets/{ticket.pk}").status_code == 401
    assert post(anonymous, f"{URL}/tickets", flyposting()).status_code == 401
    assert state() == before


def test_steps_the_caller_may_not_take_are_403_and_change_nothing(
    city, team, leader, resident, li, worker_a, patrol
):
    ticket = report(resident.user, city.grid_a)
    before = state()
    for client, action, payload, message in (
        (li, "accept", {}, "没有受理该工单的权限。"),
        (li, "assign", {}, "没有派单的权限。"),
        (worker_a, "follow-up", {"satisfied": True, "rating": 5}, "只有反映人可以评价。"),
        (worker_a, "withdraw", {}, "只有反映人可以撤回。"),
        (li, "close", {"note": "x"}, "没有办结工单的权限。"),
        (li, "similar", None, "没有并案的权限。"),
    ):
        if payload is None:
            response = li.get(f"{URL}/tickets/{ticket.pk}/{action}")
        else:
            response = act(client, ticket.pk, action, payload)
        assert (action, response.status_code, response.json()) == (
            action,
            403,
            {"detail": message},
        )
    assert state() == before
    # the patrol team sees the ticket only once it is assigned to them
    assert act(patrol, ticket.pk, "acknowledge").json() == MISSING
    assign_to_team(city, ticket, worker_a)
    before = state()
    number = Ticket.objects.get(pk=ticket.pk).number
    assert errors(act(li, ticket.pk, "withdraw")) == [
        ("__all__", f"工单 {number} 当前为“已派单”，不能撤回。")
    ]
    assert errors(act(worker_a, ticket.pk, "accept")) == [
        ("__all__", f"工单 {number} 当前为“已派单”，不能受理。")
    ]
    refused = act(patrol, ticket.pk, "accept")
    assert (refused.status_code, refused.json()) == (403, {"detail": "没有受理该工单的权限。"})
    assert state() == before


def test_session_writes_need_the_csrf_token(city, resident):
    ticket = report(resident.user, city.grid_a)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(city.worker_a)
    before = state()
    response = act(browser, ticket.pk, "accept")
    assert response.status_code == 403
    assert response.json() == {"detail": "CSRF校验失败：请刷新页面后重试，或改用令牌访问"}
    assert state() == before
    assert browser.get(f"{URL}/tickets/{ticket.pk}").status_code == 200


# --- the workflow's side roads -------------------------------------------------------------


def test_return_reassign_extension_reopen_and_close_unrated(
    city, team, leader, resident, li, worker_a, patrol
):
    ticket = report(resident.user, city.grid_a)
    assign_to_team(city, ticket, worker_a)
    before = state()
    assert errors(act(patrol, ticket.pk, "return", {"reason": ""})) == [
        ("reason", "请填写回退理由。")
    ]
    assert state() == before
    body = act(patrol, ticket.pk, "return", {"reason": "不属于本网格"}).json()
    assert (body["status"], body["team"], body["return_count"]) == ("returned", None, 1)

    other_team = make_org(OrgKind.TEAM, "乙社区服务队", city.community_b)
    before = state()
    for team_id in (other_team.pk, 10**9):
        assert errors(act(worker_a, ticket.pk, "assign", {"team_id": team_id})) == [
            ("team_id", "承办队伍须属于本社区。")
        ]
    assert state() == before
    body = act(worker_a, ticket.pk, "assign", {"team_id": team.pk}).json()
    assert body["team"]["id"] == team.pk
    act(patrol, ticket.pk, "acknowledge")

    before = state()
    assert errors(act(patrol, ticket.pk, "extension", {"days": 11, "reason": "材料未齐"})) == [
        ("days", "延期合计不能超过 10 个工作日（已延期 0 个）。")
    ]
    assert errors(act(patrol, ticket.pk, "extension", {"days": 3, "reason": ""})) == [
        ("reason", "请填写延期理由。")
    ]
    assert act(li, ticket.pk, "extension", {"days": 3, "reason": "x"}).status_code == 403
    assert state() == before
    due = Ticket.objects.get(pk=ticket.pk).due_date
    body = act(patrol, ticket.pk, "extension", {"days": 3, "reason": "需协调城管"}).json()
    assert (body["extension_requested_days"], body["extension_reason"]) == (3, "需协调城管")
    assert act(patrol, ticket.pk, "extension/decide", {"approve": True}).status_code == 403
    body = act(worker_a, ticket.pk, "extension/decide", {"approve": True}).json()
    assert (body["extension_days"], body["extension_requested_days"]) == (3, 0)
    assert dt.date.fromisoformat(body["due_date"]) > due
    assert errors(act(worker_a, ticket.pk, "extension/decide", {"approve": False})) == [
        ("__all__", "没有待审批的延期申请。")
    ]

    act(patrol, ticket.pk, "resolve", {"result": "已清理"})
    before = state()
    assert errors(act(li, ticket.pk, "follow-up", {"satisfied": False, "rating": 2})) == [
        ("comment", "不满意时请说明原因，以便重新办理。")
    ]
    assert errors(act(li, ticket.pk, "follow-up", {"satisfied": True, "rating": 9})) == [
        ("rating", "请选择 1 到 5 星的满意度。")
    ]
    assert state() == before
    body = act(li, ticket.pk, "follow-up", {"satisfied": False, "rating": 2, "comment": "没清干净"})
    body = body.json()
    assert (body["status"], body["reopen_count"], body["rating"]) == ("in_progress", 1, 2)

    act(patrol, ticket.pk, "resolve", {"result": "已重新清理"})
    assert errors(act(worker_a, ticket.pk, "close", {"note": ""})) == [("note", "请填写办结说明。")]
    body = act(worker_a, ticket.pk, "close", {"note": "电话三次未接通"}).json()
    assert (body["status"], body["close_reason"]) == ("closed", "resolved")


def test_worker_records_the_follow_up_on_behalf(city, team, leader, resident, worker_a, patrol):
    ticket = report(resident.user, city.grid_a)
    assign_to_team(city, ticket, worker_a)
    act(patrol, ticket.pk, "acknowledge")
    act(patrol, ticket.pk, "resolve", {"result": "已清理"})
    body = act(
        worker_a, ticket.pk, "follow-up", {"satisfied": True, "rating": 4, "on_behalf": True}
    ).json()
    assert (body["status"], body["rating"]) == ("closed", 4)


def test_repeated_report_is_linked_by_number_or_id(city, resident, worker_a, worker_b):
    first = report(resident.user, city.grid_a)
    second = report(resident.user, city.grid_a, description="还是那些小广告", address="3号楼")
    third = report(resident.user, city.grid_a, description="小广告又贴上了", address="3号楼2单元")
    foreign = report(city.worker_b, city.grid_b, channel=Channel.PHONE)

    similar = worker_a.get(f"{URL}/tickets/{second.pk}/similar").json()
    assert sorted(t["id"] for t in similar) == sorted([first.pk, third.pk])

    before = state()
    for original in (foreign.pk, foreign.number, "GD0", 10**9):
        assert errors(act(worker_a, second.pk, "link", {"original": original})) == [
            ("original", "原工单不存在或无权查看。")
        ]
    assert errors(act(worker_a, second.pk, "link", {"original": second.pk})) == [
        ("original", "不能与自身并案。")
    ]
    assert state() == before
    body = act(worker_a, second.pk, "link", {"original": first.number.lower()}).json()
    assert body["status"] == "closed" and body["close_reason"] == "duplicate"
    assert body["duplicate_of"] == {"id": first.pk, "number": first.number}
    body = act(worker_a, third.pk, "link", {"original": first.pk}).json()
    assert body["duplicate_of"] == {"id": first.pk, "number": first.number}
    assert worker_b.get(f"{URL}/tickets/{foreign.pk}").status_code == 200


def test_reporter_withdraws_before_assignment(city, resident, li):
    ticket = report(resident.user, city.grid_a)
    body = act(li, ticket.pk, "withdraw", {"reason": "已自行解决"}).json()
    assert (body["status"], body["close_reason"]) == ("closed", "withdrawn")
    assert body["me"]["is_reporter"] is True


def test_photos_are_listed_and_published_after_review(city, resident, li, worker_a, media):
    ticket = report(resident.user, city.grid_a, photos=[photo_file()])
    photo = TicketPhoto.objects.get(ticket=ticket)
    body = li.get(f"{URL}/tickets/{ticket.pk}").json()
    assert body["photos"] == [
        {
            "id": photo.pk,
            "kind": "report",
            "url": f"/desk/photos/{photo.pk}/",
            "width": 64,
            "height": 48,
            "is_public": False,
        }
    ]
    board = Client().get(f"{URL}/public/reports").json()["items"]
    assert board[0]["photos"] == []

    before = state()
    refused = act(li, ticket.pk, f"photos/{photo.pk}/publish", {"public": True})
    assert refused.status_code == 403 and state() == before
    missing = act(worker_a, ticket.pk, f"photos/{photo.pk + 1}/publish", {"public": True})
    assert (missing.status_code, missing.json()) == (404, MISSING)

    body = act(worker_a, ticket.pk, f"photos/{photo.pk}/publish", {"public": True}).json()
    assert body["photos"][0]["is_public"] is True
    board = Client().get(f"{URL}/public/reports").json()["items"]
    assert [p["id"] for p in board[0]["photos"]] == [photo.pk]
    assert Client().get(board[0]["photos"][0]["url"]).status_code == 200


# --- lists --------------------------------------------------------------------------------


def test_ticket_list_filters(city, team, leader, resident, worker_a, patrol):
    civic = report(resident.user, city.grid_a)
    phoned = report(
        city.worker_a,
        city.community_a,
        code="complaint-property",
        channel=Channel.PHONE,
        description="电梯坏了三天",
        address="5号楼",
    )
    report(city.worker_b, city.grid_b, channel=Channel.PHONE)  # community B: never listed
    assign_to_team(city, civic, worker_a)
    Ticket.objects.filter(pk=phoned.pk).update(
        status=TicketStatus.ACCEPTED, due_date=today_local() - dt.timedelta(days=3)
    )

    def ids(query: str = "", client: Client = worker_a) -> list[int]:
        response = client.get(f"{URL}/tickets{query}")
        assert response.status_code == 200, response.content
        return [t["id"] for t in response.json()["items"]]

    assert ids() == [phoned.pk, civic.pk]
    assert ids("?status=assigned") == [civic.pk]
    assert ids("?status=open") == [phoned.pk, civic.pk]
    assert ids("?status=closed") == []
    assert ids("?channel=phone") == [phoned.pk]
    assert ids(f"?matter_type_id={matter('civic-flyposting').pk}") == [civic.pk]
    assert ids(f"?grid_id={city.grid_a.pk}") == [civic.pk]
    assert ids("?overdue=true") == [phoned.pk]
    assert ids("?mine=true") == [phoned.pk, civic.pk]
    assert ids("?q=5号楼") == [phoned.pk]
    assert ids(f"?q={civic.number}") == [civic.pk]
    assert ids("?team=true", patrol) == [civic.pk]
    assert ids("", patrol) == [civic.pk]
    assert errors(worker_a.get(f"{URL}/tickets?status=lost"))[0][0] == "status"

    overdue = worker_a.get(f"{URL}/tickets/overdue").json()["items"]
    assert [(t["id"], t["is_overdue"]) for t in overdue] == [(phoned.pk, True)]
    mine = token_client(resident.user).get(f"{URL}/tickets/mine").json()["items"]
    assert [(t["id"], t["reporter_name"]) for t in mine] == [(civic.pk, "李阿姨")]
    listed = worker_a.get(f"{URL}/tickets?grid_id={city.grid_a.pk}").json()["items"][0]
    assert listed["reporter_name"] == "李阿姨"  # a manager sees the reporter
    listed = patrol.get(f"{URL}/tickets").json()["items"][0]
    assert listed["reporter_name"] is None and listed["contact_phone_masked"] is None


def test_public_board_filters_and_never_names_the_reporter(city, resident, worker_a):
    shown = report(resident.user, city.grid_a, reporter_public=True)
    report(resident.user, city.grid_a, code="consult-policy", address="")  # not public
    other = report(city.worker_b, city.grid_b, channel=Channel.PHONE)
    act(worker_a, shown.pk, "accept")
    act(worker_a, shown.pk, "answer", {"answer": "已通知物业清理"})

    def numbers(query: str = "") -> list[str]:
        response = Client().get(f"{URL}/public/reports{query}")
        assert response.status_code == 200, response.content
        assert "李阿姨" not in response.content.decode()
        return [t["number"] for t in response.json()["items"]]

    assert numbers() == [other.number, shown.number]
    assert numbers(f"?org_id={city.community_a.pk}") == [shown.number]
    assert numbers("?status=closed") == [shown.number]
    assert numbers("?status=open") == [other.number]
    assert errors(Client().get(f"{URL}/public/reports?org_id={10**9}")) == [
        ("org_id", "组织不存在。")
    ]


def test_every_list_route_has_a_constant_query_count(
    city, team, leader, resident, li, worker_a, patrol, media, settings
):
    settings.HUZHU_DESK_RATE_PER_HOUR = settings.HUZHU_DESK_RATE_PER_DAY = 100

    def add(count: int) -> None:
        for n in range(count):
            ticket = report(resident.user, city.grid_a, address=f"{n}号楼", photos=[photo_file()])
            TicketPhoto.objects.filter(ticket=ticket).update(is_public=True)
            Ticket.objects.filter(pk=ticket.pk).update(
                status=TicketStatus.ASSIGNED,
                team=team,
                receiver=city.worker_a,
                due_date=today_local() - dt.timedelta(days=2),
            )

    add(1)

    def grow() -> None:
        add(3)

    same_queries(worker_a, f"{URL}/tickets", grow, 3)
    same_queries(worker_a, f"{URL}/tickets/overdue", grow, 3)
    same_queries(li, f"{URL}/tickets/mine", grow, 3)
    same_queries(patrol, f"{URL}/tickets?team=true", grow, 3)
    board = same_queries(Client(), f"{URL}/public/reports", grow, 3)
    assert all(len(item["photos"]) == 1 for item in board["items"])


def test_matter_lists_have_a_constant_query_count(city, worker_a, li):
    def add() -> None:
        for n in range(3):
            MatterType.objects.create(
                org=city.community_a, code=f"a-extra-{n}", name=f"甲社区事项{n}", kind="affair"
            )

    MatterType.objects.exclude(code="civic-flyposting").update(is_active=False)
    same_queries(worker_a, f"{URL}/matters", add, 3)
    MatterType.objects.filter(org=city.community_a).delete()
    same_queries(li, f"{URL}/matters?org_id={city.community_a.pk}", add, 3)


# --- the catalogue ------------------------------------------------------------------------


def test_catalogue_of_a_community(city, resident, li, worker_a, worker_b):
    own = MatterType.objects.create(
        org=city.community_a,
        code="a-parking",
        name="停车证办理",
        kind="affair",
        materials="行驶证\n身份证",
        deadline_days=3,
        handling_team=patrol_team(city.community_a, city.grid_a),
    )
    street = MatterType.objects.create(
        org=city.street, code="street-hall", name="街道活动室预约", kind="affair"
    )
    b_only = MatterType.objects.create(
        org=city.community_b, code="b-only", name="乙社区专项", kind="affair"
    )
    catalogue = li.get(f"{URL}/matters?org_id={city.community_a.pk}&limit=500").json()
    codes = [m["code"] for m in catalogue["items"]]
    assert catalogue["count"] == 18
    assert {"a-parking", "street-hall", "civic-flyposting"} <= set(codes)
    assert "b-only" not in codes
    parking = next(m for m in catalogue["items"] if m["code"] == "a-parking")
    assert parking == {
        "id": own.pk,
        "org_id": city.community_a.pk,
        "org_name": "甲社区",
        "code": "a-parking",
        "name": "停车证办理",
        "kind": "affair",
        "kind_label": "办事",
        "group": "",
        "description": "",
        "materials": ["行驶证", "身份证"],
        "deadline_days": 3,
        "handling_team": {"id": own.handling_team_id, "name": "甲社区巡查队"},
        "keywords": "",
        "is_public": False,
        "sort_order": 0,
        "is_active": True,
        "may_edit": False,
    }
    civic = li.get(f"{URL}/matters?org_id={city.grid_a.pk}&kind=civic").json()
    assert civic["count"] == 9

    # worker B: the street's and the shared types, never community A's
    assert worker_b.get(f"{URL}/matters?org_id={city.community_a.pk}").json() == MISSING
    assert li.get(f"{URL}/matters?org_id={city.community_b.pk}").json() == MISSING
    listed = [m["code"] for m in worker_b.get(f"{URL}/matters?limit=500").json()["items"]]
    assert "street-hall" in listed and "b-only" in listed and "a-parking" not in listed
    assert worker_b.get(f"{URL}/matters/{own.pk}").json() == MISSING
    assert worker_b.get(f"{URL}/matters/{street.pk}").json()["code"] == "street-hall"
    assert li.get(f"{URL}/matters/{own.pk}").json()["may_edit"] is False
    assert li.get(f"{URL}/matters/{b_only.pk}").json() == MISSING
    assert worker_a.get(f"{URL}/matters/{own.pk}").json()["may_edit"] is True

    MatterType.objects.filter(pk=own.pk).update(is_active=False)
    assert "a-parking" not in [
        m["code"] for m in worker_a.get(f"{URL}/matters?limit=500").json()["items"]
    ]
    assert "a-parking" in [
        m["code"]
        for m in worker_a.get(f"{URL}/matters?include_inactive=true&limit=500").json()["items"]
    ]


def test_create_and_update_a_matter(city, worker_a, worker_b):
    team = patrol_team(city.community_a, city.grid_a)
    response = post(
        worker_a,
        f"{URL}/matters",
        {
            "org_id": city.community_a.pk,
            "code": "a-parking",
            "name": "停车证办理",
            "kind": "affair",
            "materials": ["行驶证", " ", "身份证"],
            "deadline_days": 3,
            "handling_team_id": team.pk,
            "is_public": False,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["org_id"], body["materials"], body["handling_team"]["id"]) == (
        city.community_a.pk,
        ["行驶证", "身份证"],
        team.pk,
    )
    assert MatterType.objects.get(code="a-parking").materials == "行驶证\n身份证"
    url = f"{URL}/matters/{body['id']}"

    body = patch(worker_a, url, {"name": "停车证申领", "deadline_days": 5}).json()
    assert (body["name"], body["deadline_days"], body["materials"]) == (
        "停车证申领",
        5,
        ["行驶证", "身份证"],
    )
    assert AuditEntry.objects.filter(verb="desk.matter.update").count() == 1

    supervisor_user = UserFactory(username="sup")
    grant(supervisor_user, city.street, Role.SUPERVISOR)
    supervisor = token_client(supervisor_user)
    before = state()
    assert errors(patch(worker_a, url, {"deadline_days": 0})) == [
        ("deadline_days", "办理时限须为 1–60 个工作日。")
    ]
    assert errors(patch(worker_a, url, {"name": None})) == [("name", "不能为空")]
    assert errors(patch(worker_a, url, {"code": "civic-flyposting"})) == [
        ("code", "事项编码“civic-flyposting”已被使用。")
    ]
    assert errors(patch(worker_a, url, {"org_id": city.community_b.pk})) == [
        ("org_id", "请选择您有权管理的组织")
    ]
    assert errors(patch(worker_a, url, {"handling_team_id": 10**9})) == [
        ("handling_team_id", "承办队伍不存在或不在您的管理范围内")
    ]
    assert errors(patch(worker_a, url, {"description": "<b>粗体</b>"}))[0][0] == "description"
    assert patch(worker_b, url, {"name": "乙改"}).json() == MISSING
    shared = patch(worker_a, f"{URL}/matters/{matter('civic-litter').pk}", {"name": "改名"})
    assert shared.status_code == 403
    assert shared.json() == {"detail": "全市通用事项只有系统管理员可以修改。"}
    refused = post(worker_a, f"{URL}/matters", {"code": "x-new", "name": "新事项", "kind": "help"})
    assert refused.status_code == 403
    refused = patch(supervisor, url, {"name": "督查改"})
    assert refused.status_code == 403
    assert refused.json() == {"detail": "没有管理该组织事项清单的权限。"}
    assert state() == before
