"""/api/v1/needs: categories, needs, matching, invitations, the volunteer's side, the thread,
confirmation and payment, offers and pairings — who sees what, refusals, and N+1 guards."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.activities.models import RecordSource, RecordStatus, ServiceRecord
from huzhu.needs import services
from huzhu.needs.models import (
    Invitation,
    Message,
    Need,
    NeedCategory,
    NeedEvent,
    NeedStatus,
    Offer,
    Pairing,
    Visit,
)
from huzhu.needs.pairing_services import PairingInput, VisitInput, pairing_create, visit_log
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.timebank import services as timebank
from huzhu.timebank.ledger import hours
from huzhu.timebank.models import Account
from tests.activities.clients import MISSING, errors, patch, post, token_client
from tests.factories import City, UserFactory, grant
from tests.needs.factories import (
    access_for,
    give_credits,
    helper_volunteer,
    make_resident,
    need_category,
    post_need,
    set_place,
    tomorrow_at,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/needs"


@pytest.fixture
def city() -> City:
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    set_place(city.community_b, 36.670, 117.030)
    return city


@pytest.fixture
def worker_a(city) -> Client:
    return token_client(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    return token_client(city.worker_b)


@pytest.fixture
def grandma(city):
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(resident, 300)
    return resident


@pytest.fixture
def near(city):
    return helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))


@pytest.fixture
def far(city):
    return helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))


def client_of(person) -> Client:
    return token_client(person.user)


def times(hour: int = 9, minutes: int = 120) -> dict[str, str]:
    start, end = tomorrow_at(hour, minutes)
    return {"starts_at": start.isoformat(), "ends_at": end.isoformat()}


def later(hour: int) -> dict:
    start, end = tomorrow_at(hour)
    return {"starts_at": start, "ends_at": end}


def need_payload(**overrides) -> dict:
    payload = {
        "description": "帮我买菜，腿脚不方便下楼",
        "address": "甲社区 3 号楼 2 单元 501",
        "minutes": 60,
        **times(),
    }
    payload.update(overrides)
    return payload


def state() -> tuple:
    return (
        tuple(Need.objects.order_by("pk").values_list("status", "volunteer_id", "title")),
        tuple(Invitation.objects.order_by("pk").values_list("status", "volunteer_id")),
        Message.objects.count(),
        NeedEvent.objects.count(),
        tuple(Account.objects.order_by("pk").values_list("balance")),
        ServiceRecord.objects.count(),
    )


def warm(client: Client, url: str) -> None:
    """The token's first use is recorded once (``last_used_at``): not part of a guard."""
    assert client.get(url).status_code == 200


def same_queries(client: Client, url: str, add: Callable[[], None], rows: int) -> dict:
    warm(client, url)
    with CaptureQueriesContext(connection) as one:
        first = client.get(url)
    assert first.status_code == 200 and first.json()["count"] == 1, first.content
    add()
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.json()["count"] == rows
    assert len(many) == len(one), [q["sql"] for q in many.captured_queries]
    return response.json()


# --- categories and classification ------------------------------------------------------


def test_categories_and_classify(city, worker_a, grandma):
    body = worker_a.get(f"{URL}/categories").json()
    meal = next(c for c in body if c["name"] == "助餐")
    assert meal == {
        "id": need_category("助餐").pk,
        "name": "助餐",
        "service_category": {
            "id": need_category("助餐").service_category_id,
            "name": "社区服务",
        },
        "default_minutes": 60,
        "keywords": [
            "助餐",
            "做饭",
            "买菜",
            "送饭",
            "送餐",
            "吃饭",
            "午饭",
            "晚饭",
            "饭菜",
            "配餐",
            "做菜",
            "煮饭",
        ],
    }
    assert len(body) == 15
    response = post(client_of(grandma), f"{URL}/classify", {"text": "帮我买菜，腿脚不方便下楼"})
    assert response.status_code == 200
    suggestions = response.json()
    assert [(s["category"]["name"], s["keywords"]) for s in suggestions] == [
        ("助餐", ["买菜"]),
        ("跑腿代办", ["买菜"]),
    ]
    assert post(worker_a, f"{URL}/classify", {"text": "天气不错"}).json() == []
    assert errors(post(worker_a, f"{URL}/classify", {})) == [("text", "此项为必填项")]


# --- the whole exchange through the API ---------------------------------------------------


def test_post_match_invite_accept_talk_done_confirm_pays_and_records(
    city, worker_a, grandma, near, far
):
    helper_volunteer(city.grid_a, "钱理发", "barber", categories=("理发",))
    response = post(worker_a, URL, need_payload(requester_id=grandma.pk))
    assert response.status_code == 201, response.content
    need = response.json()
    assert (need["status"], need["status_label"], need["channel"]) == ("open", "待匹配", "worker")
    assert need["category"]["name"] == "助餐"
    assert [c["name"] for c in need["extra_categories"]] == ["跑腿代办"]
    assert need["requester_name"] == "王奶奶"  # a worker sees full names
    assert need["address"] == "甲社区 3 号楼 2 单元 501"
    assert need["me"]["is_worker"] is True
    need_url = f"{URL}/{need['id']}"

    matches = worker_a.get(f"{need_url}/matches").json()
    assert [(m["volunteer_id"], m["name"]) for m in matches] == [
        (near.pk, "李近"),
        (far.pk, "赵远"),
    ]
    first = matches[0]
    assert first["reasons"][:2] == ["发布了“跑腿代办”服务", "距离约 0.1 公里"]
    assert first["distance_km"] == pytest.approx(0.14, abs=0.01)
    assert set(first["parts"]) == {"fit", "distance", "availability", "load", "reliability"}
    assert 0 < first["score"] <= 100 and first["score"] > matches[1]["score"]
    # the requester sees the same ranking with masked names
    mine = client_of(grandma).get(f"{need_url}/matches").json()
    assert [m["name"] for m in mine] == ["李*", "赵*"]

    response = post(worker_a, f"{need_url}/invitations", {"volunteer_ids": [near.pk, far.pk]})
    assert response.status_code == 201, response.content
    assert [(i["volunteer_name"], i["status"]) for i in response.json()] == [
        ("李近", "pending"),
        ("赵远", "pending"),
    ]

    near_client, far_client = client_of(near.person), client_of(far.person)
    invitations = near_client.get(f"{URL}/invitations?pending=true").json()
    assert invitations["count"] == 1
    invitation = invitations["items"][0]
    assert invitation["need"]["requester_name"] == "王**"
    assert invitation["need"]["address"] is None  # not yet theirs
    detail = near_client.get(need_url).json()
    assert (detail["address"], detail["latitude"], detail["me"]["is_invited"]) == (
        None,
        None,
        True,
    )
    assert detail["my_invitation"] == {
        "id": invitation["id"],
        "kind": "invite",
        "status": "pending",
    }
    assert detail["events"] == []

    response = post(near_client, f"{URL}/invitations/{invitation['id']}/accept")
    assert response.status_code == 200, response.content
    taken = response.json()
    assert (taken["status"], taken["volunteer_name"], taken["requester_name"]) == (
        "matched",
        "李近",
        "王**",
    )
    assert taken["address"] == "甲社区 3 号楼 2 单元 501"  # now theirs to visit

    # the second volunteer is told it is taken, and nothing changes
    far_invitation = Invitation.objects.get(volunteer=far)
    before = state()
    response = post(far_client, f"{URL}/invitations/{far_invitation.pk}/accept")
    number = Need.objects.get().number
    assert errors(response) == [("need", f"需求{number}已由其他志愿者承接或已关闭。")]
    assert state() == before
    assert far_invitation.__class__.objects.get(pk=far_invitation.pk).status == "closed"

    response = post(near_client, f"{need_url}/messages", {"body": "我明早九点到，电话 13912345678"})
    assert response.status_code == 201
    assert response.json()["body"] == "我明早九点到，电话 [号码已隐藏]"
    assert response.json()["author_label"] == "志愿者 李*"
    post(client_of(grandma), f"{need_url}/messages", {"body": "好的，谢谢"})
    thread = client_of(grandma).get(f"{need_url}/messages").json()
    assert [(m["role"], m["body"], m["mine"]) for m in thread["items"]] == [
        ("system", "志愿者 李* 已承接此需求，可在此留言沟通。", False),
        ("volunteer", "我明早九点到，电话 [号码已隐藏]", False),
        ("requester", "好的，谢谢", True),
    ]
    assert client_of(grandma).get(need_url).json()["volunteer_name"] == "李*"

    assert post(near_client, f"{need_url}/start").json()["status"] == "in_service"
    response = post(near_client, f"{need_url}/done", {"minutes": 75, "note": "已送到"})
    assert (response.json()["status"], response.json()["actual_minutes"]) == ("awaiting", 75)
    response = post(client_of(grandma), f"{need_url}/confirm", {"rating": 5, "comment": "很及时"})
    assert response.status_code == 200, response.content
    done = response.json()
    assert (done["status"], done["rating"], done["rating_comment"]) == ("done", 5, "很及时")
    assert Account.objects.get(person=grandma).balance == 300 - 75
    assert Account.objects.get(person=near.person).balance == 75
    record = ServiceRecord.objects.get(volunteer=near)
    assert (record.minutes, record.source, record.status) == (
        75,
        RecordSource.NEED,
        RecordStatus.CONFIRMED,
    )
    assert done["record_id"] == record.pk and done["transfer_id"] is not None
    history = worker_a.get(need_url).json()["events"]
    assert [e["verb"] for e in history] == ["post", "invite", "match", "start", "done", "confirm"]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_volunteers_accepting_together_one_wins_the_other_is_told(city):
    from importlib import import_module

    from django.apps import apps

    if not NeedCategory.objects.exists():  # a transactional test's flush removed them
        import_module("huzhu.needs.migrations.0002_need_categories").add_categories(apps, None)
    grandma = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(grandma, 300)
    volunteers = [
        helper_volunteer(city.grid_a, name, username, place=(36.661, 117.021))
        for name, username in (("李近", "near"), ("赵远", "far"))
    ]
    need = post_need(city.worker_a, grandma)
    services.need_invite(
        actor=city.worker_a,
        access=access_for(city.worker_a, need),
        volunteer_ids=[v.pk for v in volunteers],
    )
    calls = [
        (client_of(v.person), f"{URL}/invitations/{v.invitations.get().pk}/accept")
        for v in volunteers
    ]
    barrier = threading.Barrier(len(calls))
    answers: list[tuple[int, dict]] = []

    def accept(client: Client, url: str) -> None:
        try:
            barrier.wait(timeout=30)
            response = post(client, url)
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(status for status, _body in answers) == [200, 422]
    refused = next(body for status, body in answers if status == 422)
    assert refused == {
        "detail": [{"field": "need", "message": f"需求{need.number}已由其他志愿者承接或已关闭。"}]
    }
    need.refresh_from_db()
    assert need.status == NeedStatus.MATCHED
    assert sorted(Invitation.objects.values_list("status", flat=True)) == ["accepted", "closed"]
    assert Message.objects.filter(need=need, role="system").count() == 1


# --- posting and editing ------------------------------------------------------------------


def test_resident_posts_for_themselves_and_lists_their_own(city, grandma):
    client = client_of(grandma)
    response = post(client, URL, need_payload(title="买菜", urgency="soon"))
    assert response.status_code == 201, response.content
    need = response.json()
    assert (need["channel"], need["requester_name"], need["urgency_label"]) == (
        "self",
        "王奶奶",
        "较急",
    )
    assert need["me"]["is_requester"] is True and need["me"]["is_worker"] is False
    assert need["latitude"] == 36.660  # no place marked: the community's centre
    body = client.get(f"{URL}?mine=true").json()
    assert [n["id"] for n in body["items"]] == [need["id"]]
    assert client.get(URL).json() == {"items": [], "count": 0}  # no staff scope


def test_the_worker_list_filters(city, worker_a, grandma, near):
    meal = post_need(city.worker_a, grandma)
    repair = post_need(
        city.worker_a, grandma, description="家里水管漏水了", urgency="urgent", **later(14)
    )
    hall = post_need(
        city.worker_a, org=city.community_a, description="活动室打扫卫生", payment="pool"
    )
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, meal), volunteer_ids=[near.pk]
    )
    services.invitation_accept(actor=near.person.user, invitation=near.invitations.get())

    def ids(query: str) -> list[int]:
        response = worker_a.get(f"{URL}?{query}")
        assert response.status_code == 200, response.content
        return [n["id"] for n in response.json()["items"]]

    assert ids("") == [hall.pk, repair.pk, meal.pk]
    assert ids("status=matched") == [meal.pk]
    assert ids("unmatched=true") == [hall.pk, repair.pk]
    assert ids(f"category_id={need_category('家居维修').pk}") == [repair.pk]
    assert ids("urgency=urgent") == [repair.pk]
    assert ids("payment=pool") == [hall.pk]
    assert ids(f"org_id={city.grid_a.pk}") == [repair.pk, meal.pk]
    assert ids(f"text={repair.number}") == [repair.pk]
    assert ids("text=王奶奶") == [repair.pk, meal.pk]
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert ids(f"date_from={tomorrow + dt.timedelta(days=1)}") == []
    assert ids(f"date_to={tomorrow}") == [hall.pk, repair.pk, meal.pk]
    assert errors(worker_a.get(f"{URL}?status=lost"))[0][0] == "status"
    assert errors(worker_a.get(f"{URL}?mine=true&board=true")) == [
        ("board", "mine 和 board 只能选择一个。")
    ]


def test_worker_posts_for_an_org_without_payment(city, worker_a):
    response = post(
        worker_a, URL, need_payload(org_id=city.community_a.pk, payment="pool", title="楼道清扫")
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["channel"], body["requester_name"], body["payment_label"]) == (
        "org",
        None,
        "公益（互助池支付）",
    )
    response = post(worker_a, URL, need_payload(org_id=city.community_a.pk))
    assert errors(response) == [("payment", "组织发布的需求只能是公益（互助池支付或不计时间币）。")]


def test_bad_input_is_refused_with_the_field(city, worker_a, grandma):
    client = client_of(grandma)
    before = state()
    past = timezone.localtime() - dt.timedelta(hours=3)
    response = post(
        client,
        URL,
        need_payload(
            starts_at=past.isoformat(), ends_at=(past + dt.timedelta(hours=1)).isoformat()
        ),
    )
    assert errors(response) == [("starts_at", "开始时间已过去，请选择现在或以后的时间。")]
    start, _end = tomorrow_at(9)
    response = post(
        client,
        URL,
        need_payload(
            starts_at=start.isoformat(), ends_at=(start - dt.timedelta(hours=1)).isoformat()
        ),
    )
    assert errors(response) == [("ends_at", "结束时间须晚于开始时间。")]
    poor = make_resident(city.grid_a, "张爷爷", username="poor")
    response = post(client_of(poor), URL, need_payload(minutes=90))
    assert errors(response) == [
        (
            "payment",
            "时间币余额不足：现有 0 小时，本次预计需要 1.5 小时。"
            "可选择“公益（互助池支付）”，或先请家人转赠。",
        )
    ]
    response = post(worker_a, URL, need_payload(requester_id=grandma.pk, category_id=999999))
    assert errors(response) == [("category_id", "需求类别不存在或已停用：999999")]
    response = post(
        worker_a, URL, need_payload(requester_id=grandma.pk, org_id=city.community_a.pk)
    )
    assert errors(response)[0][0] == "org_id"
    other = make_resident(city.grid_b, "乙居民")
    response = post(worker_a, URL, need_payload(requester_id=other.pk))
    assert errors(response) == [("requester_id", "居民不存在或不在您的管理范围内")]
    response = post(worker_a, URL, need_payload())  # a worker without a resident record
    assert errors(response)[0][0] == "requester_id"
    response = post(client, URL, {"address": "x"})
    assert {f for f, _m in errors(response)} == {"description", "starts_at", "ends_at"}
    response = post(client, URL, need_payload(urgency="very"))
    assert errors(response)[0][0] == "urgency"
    assert state() == before


def test_patch_changes_only_what_is_sent_while_open(city, worker_a, grandma, near):
    need = post_need(city.worker_a, grandma)
    url = f"{URL}/{need.pk}"
    response = patch(client_of(grandma), url, {"title": "买菜和药", "minutes": 90})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["minutes"], body["description"]) == (
        "买菜和药",
        90,
        "帮我买菜，腿脚不方便下楼",
    )
    assert errors(patch(worker_a, url, {"address": None})) == [("address", "不能为空")]
    early, _end = tomorrow_at(8)
    response = patch(worker_a, url, {"ends_at": early.isoformat()})
    assert errors(response) == [("ends_at", "结束时间须晚于开始时间。")]
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[near.pk]
    )
    services.invitation_accept(actor=near.person.user, invitation=near.invitations.get())
    response = patch(worker_a, url, {"title": "再改"})
    assert errors(response) == [("__all__", f"需求{need.number}当前为“已匹配”，不能再修改。")]
    assert patch(client_of(near.person), url, {"title": "x"}).status_code == 403


# --- who sees what ------------------------------------------------------------------------


def need_routes(need_id: int, invitation_id: int) -> list[tuple[str, str]]:
    base = f"{URL}/{need_id}"
    return [
        ("get", base),
        ("patch", base),
        ("post", f"{base}/cancel"),
        ("post", f"{base}/start"),
        ("post", f"{base}/done"),
        ("post", f"{base}/confirm"),
        ("post", f"{base}/dispute"),
        ("post", f"{base}/dispute/return"),
        ("post", f"{base}/dispute/close"),
        ("post", f"{base}/apply"),
        ("get", f"{base}/matches"),
        ("get", f"{base}/invitations"),
        ("post", f"{base}/invitations"),
        ("post", f"{base}/broadcast"),
        ("get", f"{base}/messages"),
        ("post", f"{base}/messages"),
        ("post", f"{base}/applications/{invitation_id}/approve"),
        ("post", f"{base}/applications/{invitation_id}/decline"),
        ("post", f"{URL}/invitations/{invitation_id}/accept"),
        ("post", f"{URL}/invitations/{invitation_id}/decline"),
    ]


def call(client: Client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return getattr(client, method)(url, {}, content_type="application/json")


def test_a_need_is_missing_for_worker_b_and_other_residents(city, worker_b, grandma, near):
    need = post_need(city.worker_a, grandma, urgency="urgent")
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[near.pk]
    )
    invitation = near.invitations.get()
    neighbour = make_resident(city.grid_a, "孙邻居", username="neighbour")
    stranger = make_resident(city.grid_b, "周外人", username="stranger")
    before = state()
    for client in (worker_b, client_of(neighbour), client_of(stranger)):
        for method, url in need_routes(need.pk, invitation.pk):
            response = call(client, method, url)
            assert (response.status_code, response.json()) == (404, MISSING), (method, url)
    assert worker_b.get(f"{URL}?text={need.number}").json() == {"items": [], "count": 0}
    assert state() == before


def test_every_route_needs_a_token(city, grandma, near):
    need = post_need(city.worker_a, grandma)
    anonymous = Client()
    bad = Client(headers={"Authorization": "Bearer not-a-token"})
    routes = [
        *need_routes(need.pk, 1),
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}/categories"),
        ("post", f"{URL}/classify"),
        ("get", f"{URL}/invitations"),
        ("get", f"{URL}/offers"),
        ("post", f"{URL}/offers"),
        ("patch", f"{URL}/offers/1"),
        ("get", f"{URL}/pairings"),
        ("post", f"{URL}/pairings"),
        ("get", f"{URL}/pairings/1"),
        ("post", f"{URL}/pairings/1/visits"),
        ("post", f"{URL}/pairings/1/end"),
    ]
    before = state()
    for client in (anonymous, bad):
        for method, url in routes:
            assert call(client, method, url).status_code == 401, (method, url)
    assert state() == before


def test_matches_and_invitations_are_for_the_requester_and_workers(city, worker_a, grandma, near):
    need = post_need(city.worker_a, grandma)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[near.pk]
    )
    volunteer = client_of(near.person)
    for url in (f"{URL}/{need.pk}/matches", f"{URL}/{need.pk}/invitations"):
        response = volunteer.get(url)
        assert response.status_code == 403, url
    response = volunteer.get(f"{URL}/{need.pk}/messages")
    assert response.json() == {"detail": "只有求助人、承接志愿者和工作人员可以查看留言。"}
    response = post(volunteer, f"{URL}/{need.pk}/messages", {"body": "你好"})
    assert response.status_code == 403
    assert errors(worker_a.get(f"{URL}/{need.pk}/matches?limit=51"))[0][0] == "limit"
    listed = client_of(grandma).get(f"{URL}/{need.pk}/invitations").json()
    assert [(i["volunteer_name"], i["kind_label"]) for i in listed["items"]] == [("李*", "邀请")]


def test_a_supervisor_reads_with_full_names_but_may_not_act(city, grandma, near):
    supervisor = UserFactory(username="supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)
    need = post_need(city.worker_a, grandma)
    client = token_client(supervisor)
    body = client.get(f"{URL}/{need.pk}").json()
    assert (body["requester_name"], body["address"], body["me"]["is_worker"]) == (
        "王奶奶",
        "甲社区 3 号楼 2 单元 501",
        False,
    )
    assert [e["verb"] for e in body["events"]] == ["post"]
    before = state()
    response = post(client, f"{URL}/{need.pk}/cancel", {"reason": "测试"})
    assert response.json() == {"detail": "只有求助人或工作人员可以取消需求。"}
    assert response.status_code == 403
    assert state() == before


# --- the board, applying, approving -------------------------------------------------------


def test_board_apply_and_the_requester_approves(city, grandma, near):
    need = post_need(city.worker_a, grandma)
    volunteer = client_of(near.person)
    board = volunteer.get(f"{URL}?board=true").json()
    assert [n["id"] for n in board["items"]] == [need.pk]
    assert (board["items"][0]["requester_name"], board["items"][0]["address"]) == ("王**", None)
    response = post(volunteer, f"{URL}/{need.pk}/apply", {"note": "我就住隔壁，电话13912345678"})
    assert response.status_code == 201, response.content
    application = response.json()
    assert (application["kind"], application["status"], application["reply"]) == (
        "apply",
        "pending",
        "我就住隔壁，电话[号码已隐藏]",
    )
    assert volunteer.get(f"{URL}?board=true").json()["count"] == 0  # answered
    again = post(volunteer, f"{URL}/{need.pk}/apply", {})
    assert errors(again) == [("need", "您已回应过这个需求。")]
    requester = client_of(grandma)
    listed = requester.get(f"{URL}/{need.pk}/invitations").json()["items"]
    assert [(i["id"], i["volunteer_name"], i["kind"]) for i in listed] == [
        (application["id"], "李*", "apply")
    ]
    # an application is approved by the requester, not accepted by the volunteer
    response = post(volunteer, f"{URL}/invitations/{application['id']}/accept")
    assert response.json() == {"detail": "自荐须由求助人或工作人员确认。"}
    response = post(requester, f"{URL}/{need.pk}/applications/{application['id']}/approve")
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["volunteer_name"]) == ("matched", "李*")
    assert client_of(grandma).get(f"{URL}?board=true").status_code == 404  # not a volunteer


def test_the_requester_declines_an_application(city, grandma, near):
    need = post_need(city.worker_a, grandma)
    application = services.need_apply(
        actor=near.person.user, need=need, volunteer=near, note="我来"
    )
    url = f"{URL}/{need.pk}/applications/{application.pk}/decline"
    response = post(client_of(grandma), url, {"reply": "已有家人帮忙"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["reply"]) == ("declined", "已有家人帮忙")
    assert Need.objects.get().status == NeedStatus.OPEN


def test_a_volunteer_declines_and_an_urgent_need_is_broadcast(city, worker_a, grandma, near, far):
    need = post_need(city.worker_a, grandma)
    response = post(worker_a, f"{URL}/{need.pk}/broadcast", {})
    assert errors(response) == [("urgency", "只有较急或紧急的需求可以广播。")]
    Need.objects.filter(pk=need.pk).update(urgency="urgent")
    response = post(worker_a, f"{URL}/{need.pk}/broadcast", {"top": 51})
    assert errors(response) == [("top", "广播人数应在 1 到 50 之间。")]
    response = post(worker_a, f"{URL}/{need.pk}/broadcast", {"top": 5})
    assert response.status_code == 201, response.content
    assert {(i["volunteer_id"], i["kind"]) for i in response.json()} == {
        (near.pk, "broadcast"),
        (far.pk, "broadcast"),
    }
    mine = client_of(far.person).get(f"{URL}/invitations").json()["items"][0]
    decline = f"{URL}/invitations/{mine['id']}/decline"
    response = post(client_of(far.person), decline, {"reply": "出差"})
    assert (response.json()["status"], response.json()["reply"]) == ("declined", "出差")
    again = post(client_of(far.person), decline, {})
    assert errors(again) == [("invitation_id", "该邀请已处理。")]
    assert client_of(far.person).get(f"{URL}/invitations?pending=true").json()["count"] == 0
    # another volunteer's invitation is missing for this one
    other = near.invitations.get()
    assert post(client_of(far.person), f"{URL}/invitations/{other.pk}/accept").status_code == 404


# --- cancel, disputes ---------------------------------------------------------------------


def matched_need(city, grandma, volunteer) -> Need:
    need = post_need(city.worker_a, grandma)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[volunteer.pk]
    )
    services.invitation_accept(actor=volunteer.person.user, invitation=volunteer.invitations.get())
    return need


def test_cancel_needs_a_reason_and_is_refused_once_started(city, grandma, near):
    need = post_need(city.worker_a, grandma)
    client = client_of(grandma)
    assert errors(post(client, f"{URL}/{need.pk}/cancel", {})) == [("reason", "请说明取消原因。")]
    response = post(client, f"{URL}/{need.pk}/cancel", {"reason": "家人回来了"})
    assert (response.json()["status"], response.json()["cancel_reason"]) == (
        "cancelled",
        "家人回来了",
    )
    started = matched_need(city, grandma, near)
    post(client_of(near.person), f"{URL}/{started.pk}/start")
    response = post(client, f"{URL}/{started.pk}/cancel", {"reason": "不要了"})
    assert errors(response)[0][0] == "__all__"


def test_dispute_return_and_close(city, worker_a, grandma, near):
    need = matched_need(city, grandma, near)
    volunteer, requester = client_of(near.person), client_of(grandma)
    url = f"{URL}/{need.pk}"
    assert errors(post(volunteer, f"{url}/done", {})) == [("minutes", "此项为必填项")]
    assert errors(post(volunteer, f"{url}/done", {"minutes": 2000})) == [
        ("minutes", "服务时长应在 1 分钟到 24 小时之间。")
    ]
    post(volunteer, f"{url}/done", {"minutes": 60})
    assert errors(post(requester, f"{url}/dispute", {})) == [("reason", "请说明异议内容。")]
    response = post(requester, f"{url}/dispute", {"reason": "菜没买全"})
    assert (response.json()["status"], response.json()["dispute_reason"]) == (
        "disputed",
        "菜没买全",
    )
    assert post(requester, f"{url}/dispute/return", {"note": "x"}).status_code == 403
    response = post(worker_a, f"{url}/dispute/return", {"note": "请补买鸡蛋"})
    assert response.json()["status"] == "in_service"
    assert Message.objects.filter(role="system").last().body == "工作人员处理意见：请补买鸡蛋"
    post(volunteer, f"{url}/done", {"minutes": 80})
    post(requester, f"{url}/dispute", {"reason": "还是不对"})
    response = post(worker_a, f"{url}/dispute/close", {"note": "双方协商不再服务"})
    assert (response.json()["status"], response.json()["record_id"]) == ("cancelled", None)
    assert Account.objects.get(person=grandma).balance == 300
    assert not ServiceRecord.objects.exists()


def test_worker_confirms_for_the_resident_with_consent_and_an_adjusted_time(
    city, worker_a, grandma, near
):
    need = matched_need(city, grandma, near)
    url = f"{URL}/{need.pk}"
    post(client_of(near.person), f"{url}/done", {"minutes": 100})
    assert post(client_of(grandma), f"{url}/confirm", {"minutes": 60}).status_code == 403
    response = post(worker_a, f"{url}/confirm", {"rating": 4})
    assert errors(response) == [
        ("consent", "代为确认并支付时间币，须记录求助人的同意（如“本人电话同意”）。")
    ]
    response = post(worker_a, f"{url}/confirm", {"minutes": 90, "consent": "本人电话同意"})
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["actual_minutes"]) == ("done", 90)
    assert Account.objects.get(person=near.person).balance == 90


def test_confirm_refused_by_the_ledger_names_the_rule_and_changes_nothing(city, grandma, near):
    need = matched_need(city, grandma, near)
    url = f"{URL}/{need.pk}"
    post(client_of(near.person), f"{url}/done", {"minutes": 120})
    # the resident gave most of the credits to the pool meanwhile
    timebank.donate(actor=grandma.user, sender=grandma, minutes=250)
    before = state()
    response = post(client_of(grandma), f"{url}/confirm", {"rating": 5})
    assert response.status_code == 422
    body = response.json()
    account = Account.objects.get(person=grandma)
    assert body == {
        "detail": [
            {
                "field": "payment",
                "message": f"余额不足：账户“{account}”余额 {hours(50)} 小时，本次需 2 小时。",
            }
        ],
        "rule": "balance.insufficient",
    }
    assert state() == before
    assert Need.objects.get().status == NeedStatus.AWAITING


# --- offers -------------------------------------------------------------------------------


def test_a_volunteer_publishes_and_edits_their_own_offers(city, near, far, worker_b):
    client = client_of(near.person)
    repair = need_category("家居维修")
    response = post(
        client,
        f"{URL}/offers",
        {
            "title": "周末修水管",
            "category_ids": [repair.pk],
            "availability": ["sat_am", "sat_pm"],
            "address": "甲社区 5 号楼",
        },
    )
    assert response.status_code == 201, response.content
    offer = response.json()
    assert (offer["volunteer_name"], offer["availability_label"], offer["org_id"]) == (
        "李近",
        "周六上午、周六下午",
        city.grid_a.pk,
    )
    assert [c["name"] for c in offer["categories"]] == ["家居维修"]
    mine = client.get(f"{URL}/offers?mine=true").json()
    assert [o["title"] for o in mine["items"]] == ["周末修水管", "李近可以帮忙"]
    url = f"{URL}/offers/{offer['id']}"
    response = patch(client, url, {"is_active": False, "title": "暂停"})
    assert (response.json()["is_active"], response.json()["title"]) == (False, "暂停")
    assert response.json()["availability"] == ["sat_am", "sat_pm"]
    assert errors(patch(client, url, {"category_ids": []})) == [
        ("category_ids", "请至少选择一项可提供的服务。")
    ]
    assert errors(patch(client, url, {"availability": ["someday"]}))[0][0] == "availability"
    for other in (client_of(far.person), worker_b):
        assert patch(other, url, {"title": "改"}).status_code == 404
    assert Offer.objects.get(pk=offer["id"]).title == "暂停"
    assert (
        client_of(make_resident(city.grid_a, "非志愿者", username="nv"))
        .get(f"{URL}/offers?mine=true")
        .status_code
        == 404
    )


def test_workers_record_unit_offers_and_list_offers_in_scope(city, worker_a, worker_b, near):
    meals = need_category("助餐")
    response = post(
        worker_a,
        f"{URL}/offers",
        {"org_id": city.community_a.pk, "title": "老年食堂送餐", "category_ids": [meals.pk]},
    )
    assert response.status_code == 201, response.content
    unit = response.json()
    assert (unit["volunteer_id"], unit["volunteer_name"]) == (None, None)
    body = worker_a.get(f"{URL}/offers").json()
    assert [(o["title"], o["volunteer_name"]) for o in body["items"]] == [
        ("老年食堂送餐", None),
        ("李近可以帮忙", "李近"),
    ]
    assert [o["title"] for o in worker_a.get(f"{URL}/offers?units_only=true").json()["items"]] == [
        "老年食堂送餐"
    ]
    assert worker_b.get(f"{URL}/offers").json() == {"items": [], "count": 0}
    response = post(
        worker_b,
        f"{URL}/offers",
        {"org_id": city.community_a.pk, "title": "x", "category_ids": [meals.pk]},
    )
    assert errors(response) == [("org_id", "请选择您有权登记单位服务的社区")]
    response = patch(worker_a, f"{URL}/offers/{unit['id']}", {"title": "老年食堂午餐"})
    assert response.json()["title"] == "老年食堂午餐"
    volunteer_offer = Offer.objects.get(volunteer=near)
    response = patch(worker_a, f"{URL}/offers/{volunteer_offer.pk}", {"title": "改"})
    assert response.status_code == 403


# --- pairings -----------------------------------------------------------------------------


def test_pairings_created_visited_listed_and_ended(city, worker_a, worker_b, grandma, near):
    today = timezone.localdate()
    payload = {
        "helper_id": near.person.pk,
        "resident_id": grandma.pk,
        "purpose": "每周探望，帮助买药",
        "started_on": str(today - dt.timedelta(days=40)),
        "visit_every_days": 30,
    }
    response = post(worker_a, f"{URL}/pairings", payload)
    assert response.status_code == 201, response.content
    pairing = response.json()
    assert (pairing["helper_name"], pairing["resident_name"], pairing["is_quiet"]) == (
        "李近",
        "王奶奶",
        True,
    )
    assert pairing["days_since_visit"] == 40 and pairing["visits"] == []
    assert errors(post(worker_a, f"{URL}/pairings", payload)) == [
        ("resident_id", "这两人已在结对中，不能重复结对。")
    ]
    url = f"{URL}/pairings/{pairing['id']}"
    quiet = worker_a.get(f"{URL}/pairings?quiet=true").json()
    assert [p["id"] for p in quiet["items"]] == [pairing["id"]]

    helper = client_of(near.person)
    mine = helper.get(f"{URL}/pairings?mine=true").json()["items"]
    assert [(p["helper_name"], p["resident_name"]) for p in mine] == [("李近", "王**")]
    response = post(helper, f"{url}/visits", {"done": "送药，量血压", "minutes": 45})
    assert response.status_code == 201, response.content
    assert (response.json()["visited_on"], response.json()["recorded_by"]) == (
        str(today),
        "near",
    )
    future = str(today + dt.timedelta(days=1))
    assert errors(post(helper, f"{url}/visits", {"done": "x", "visited_on": future})) == [
        ("visited_on", "走访日期不能晚于今天。")
    ]
    detail = helper.get(url).json()
    assert [v["done"] for v in detail["visits"]] == ["送药，量血压"]
    assert (detail["is_quiet"], detail["last_visit_on"]) == (False, str(today))
    assert worker_a.get(f"{URL}/pairings?quiet=true").json()["count"] == 0

    assert post(helper, f"{url}/end", {"reason": "x"}).status_code == 403
    for method, target in (("get", url), ("post", f"{url}/visits"), ("post", f"{url}/end")):
        assert call(worker_b, method, target).status_code == 404
        assert call(client_of(grandma), method, target).status_code == 404
    assert errors(post(worker_a, f"{url}/end", {})) == [("reason", "请说明结束原因。")]
    response = post(worker_a, f"{url}/end", {"reason": "搬离本社区"})
    assert (response.json()["status"], response.json()["end_reason"]) == ("ended", "搬离本社区")
    assert worker_a.get(f"{URL}/pairings").json()["count"] == 0
    assert worker_a.get(f"{URL}/pairings?status=all").json()["count"] == 1
    response = post(worker_b, f"{URL}/pairings", {**payload, "started_on": str(today)})
    assert errors(response)[0][0] == "helper_id"


# --- N+1 guards ---------------------------------------------------------------------------


def test_need_lists_query_count_does_not_grow(city, worker_a, grandma, near):
    def more() -> None:
        for hour in (10, 11, 12, 13):
            post_need(city.worker_a, grandma, **later(hour))

    post_need(city.worker_a, grandma)
    body = same_queries(worker_a, URL, more, 5)
    assert all(
        n["extra_categories"] == [{"id": need_category("跑腿代办").pk, "name": "跑腿代办"}]
        for n in body["items"]
    )


def test_my_needs_query_count_does_not_grow(city, grandma, near):
    first = post_need(city.worker_a, grandma)
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, first), volunteer_ids=[near.pk]
    )
    services.invitation_accept(actor=near.person.user, invitation=near.invitations.get())

    def more() -> None:
        for hour in (10, 11, 12):
            post_need(city.worker_a, grandma, **later(hour))

    body = same_queries(client_of(grandma), f"{URL}?mine=true", more, 4)
    assert [n["volunteer_name"] for n in body["items"]] == [None, None, None, "李*"]


def test_board_query_count_does_not_grow(city, grandma, near):
    other = make_resident(city.grid_a, "孙奶奶", username="sun")
    give_credits(other, 600)
    post_need(city.worker_a, other, **later(15))

    def more() -> None:
        for hour in (16, 17):
            post_need(city.worker_a, other, **later(hour))
        post_need(city.worker_a, grandma, **later(18))

    board = same_queries(client_of(near.person), f"{URL}?board=true", more, 4)
    assert [n["requester_name"] for n in board["items"]] == ["孙**", "孙**", "孙**", "王**"]
    assert {n["address"] for n in board["items"]} == {None}


def test_invitation_and_message_lists_query_count_does_not_grow(city, worker_a, grandma, near, far):
    others = [
        helper_volunteer(city.grid_a, f"周{n}", f"v{n}", place=(36.662, 117.022)) for n in range(3)
    ]
    need = post_need(city.worker_a, grandma)
    access = access_for(city.worker_a, need)
    services.need_invite(actor=city.worker_a, access=access, volunteer_ids=[near.pk])
    url = f"{URL}/{need.pk}/invitations"
    body = same_queries(
        worker_a,
        url,
        lambda: services.need_invite(
            actor=city.worker_a,
            access=access_for(city.worker_a, need),
            volunteer_ids=[far.pk, *[v.pk for v in others]],
        ),
        5,
    )
    assert {i["volunteer_name"] for i in body["items"]} == {"李近", "赵远", "周0", "周1", "周2"}

    volunteer = client_of(near.person)

    def invite_elsewhere() -> None:
        for hour in (10, 11):
            extra = post_need(city.worker_a, grandma, **later(hour))
            services.need_invite(
                actor=city.worker_a,
                access=access_for(city.worker_a, extra),
                volunteer_ids=[near.pk],
            )

    same_queries(volunteer, f"{URL}/invitations", invite_elsewhere, 3)

    services.invitation_accept(actor=near.person.user, invitation=near.invitations.get(need=need))
    mine = access_for(near.person.user, need)

    def talk() -> None:
        for n in range(4):
            services.message_post(actor=near.person.user, access=mine, body=f"留言{n}")

    body = same_queries(client_of(grandma), f"{URL}/{need.pk}/messages", talk, 5)
    assert body["items"][0]["role"] == "system"


def add_offers(city, volunteer, n: int, units: bool) -> None:
    meals = need_category("助餐")
    for i in range(n):
        services.offer_save(
            actor=volunteer.person.user,
            volunteer=volunteer,
            data=services.OfferInput(title=f"送餐{i}", category_ids=[meals.pk]),
        )
        if units:
            services.offer_save(
                actor=city.worker_a,
                org=city.community_a,
                scope=Scope.for_user(city.worker_a),
                data=services.OfferInput(title=f"单位{i}", category_ids=[meals.pk]),
            )


def test_offer_lists_query_count_does_not_grow(city, worker_a, near):
    body = same_queries(worker_a, f"{URL}/offers", lambda: add_offers(city, near, 3, True), 7)
    assert {o["volunteer_name"] for o in body["items"]} == {"李近", None}


def test_my_offers_query_count_does_not_grow(city, near):
    url = f"{URL}/offers?mine=true"
    body = same_queries(client_of(near.person), url, lambda: add_offers(city, near, 3, False), 4)
    assert {o["volunteer_name"] for o in body["items"]} == {"李近"}


def pair(city, helper, resident, visited: bool = False) -> Pairing:
    scope = Scope.for_user(city.worker_a)
    today = timezone.localdate()
    pairing = pairing_create(
        actor=city.worker_a,
        scope=scope,
        data=PairingInput(helper=helper, resident=resident, purpose="探望", started_on=today),
    )
    if visited:
        visit_log(
            actor=city.worker_a,
            scope=scope,
            pairing=pairing,
            data=VisitInput(visited_on=today, done="聊天"),
        )
    return pairing


def test_pairing_lists_query_count_does_not_grow(city, worker_a, grandma, near):
    pair(city, near.person, grandma)

    def more() -> None:
        for n in range(3):
            pair(city, near.person, make_resident(city.grid_a, f"钱{n}号"), visited=True)

    body = same_queries(worker_a, f"{URL}/pairings", more, 4)
    assert {p["resident_name"] for p in body["items"]} == {"王奶奶", "钱0号", "钱1号", "钱2号"}
    assert Visit.objects.count() == 3


def test_my_pairings_query_count_does_not_grow(city, grandma, near):
    pair(city, near.person, grandma)

    def more() -> None:
        for n in range(3):
            pair(city, near.person, make_resident(city.grid_a, f"钱{n}号"), visited=True)

    url = f"{URL}/pairings?mine=true"
    body = same_queries(client_of(near.person), url, more, 4)
    assert {p["resident_name"] for p in body["items"]} == {"王**", "钱**"}
