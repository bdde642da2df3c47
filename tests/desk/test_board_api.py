"""/api/v1/desk notices, suggestions, contacts, phones and the public community: who sees
what, refusals in the API's shape, 429 on floods, and N+1 guards on the lists."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.desk.board_services import ContactInput, contact_add
from huzhu.desk.models import Notice, NoticeKind, NoticeStatus, PublicContact, SuggestionStatus
from tests.activities.clients import MISSING, errors, post, token_client
from tests.activities.factories import make_volunteer
from tests.desk.test_board_services import publish, reply, resident, scope_of, submit, suggest

pytestmark = pytest.mark.django_db

URL = "/api/v1/desk"


def count(client: Client, url: str) -> tuple[int, Any]:
    client.get(url)  # the first call of a token may record its use; measure the second
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def good_deed(**overrides: Any) -> dict[str, Any]:
    return {"kind": "good_deed", "title": "邻居修灯", "body": "楼道灯修好了", **overrides}


# --- notices ---------------------------------------------------------------------------------


def test_resident_posts_and_reads_their_notice(city):
    person = resident(city.grid_a)
    client = token_client(person.user)
    response = post(client, f"{URL}/notices", good_deed())
    assert response.status_code == 201, response.content
    body = response.json()
    notice = Notice.objects.get()
    assert body["id"] == notice.pk and body["org_id"] == city.community_a.pk
    assert (body["status"], body["status_label"], body["kind_label"]) == (
        "pending",
        "待审核",
        "好人好事",
    )
    assert (body["mine"], body["submitted_by"], body["consent_note"]) == (True, None, None)
    assert client.get(f"{URL}/notices/{notice.pk}").json()["title"] == "邻居修灯"
    mine = client.get(f"{URL}/notices?mine=true").json()
    assert mine["count"] == 1 and mine["items"][0]["id"] == notice.pk
    assert client.get(f"{URL}/notices").json() == {"items": [], "count": 0}


def test_notice_refusals_name_the_field(city):
    person = resident(city.grid_a)
    resident(city.grid_a, "王建国", "wang")
    client = token_client(person.user)
    assert errors(post(client, f"{URL}/notices", good_deed(kind="exemplary"))) == [
        ("kind", "居民可以投稿“好人好事”和“不文明行为”，其他栏目由社区发布。")
    ]
    uncivil = {"kind": "uncivil", "title": "狗粪", "body": "王建国遛狗不清理", "place": "绿地"}
    assert errors(post(client, f"{URL}/notices", uncivil)) == [
        ("body", "不文明行为只写地点和现象，不能点名个人：请删去“内容”中的居民姓名。")
    ]
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    worker = token_client(city.worker_a)
    exemplary = good_deed(kind="exemplary", org_id=city.community_a.pk, volunteer_id=volunteer.pk)
    assert errors(post(worker, f"{URL}/notices", exemplary)) == [
        ("consent_note", "署名前须取得志愿者本人同意：请填写同意方式（如“本人书面同意”）。")
    ]
    other = make_volunteer(city.grid_b, "周志愿")
    assert errors(
        post(
            worker,
            f"{URL}/notices",
            {**exemplary, "volunteer_id": other.pk, "consent_note": "同意"},
        )
    ) == [("volunteer_id", "本社区没有该志愿者。")]
    response = post(worker, f"{URL}/notices", {**exemplary, "consent_note": "本人书面同意"})
    assert response.status_code == 201
    body = response.json()
    assert (body["volunteer_name"], body["consent_note"]) == ("陈志愿", "本人书面同意")
    assert body["submitted_by"] == "worker-a"
    assert post(client, f"{URL}/notices", {"kind": "bad"}).status_code == 422
    assert Notice.objects.count() == 1


def test_notice_flood_is_429(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 1
    client = token_client(resident(city.grid_a).user)
    assert post(client, f"{URL}/notices", good_deed()).status_code == 201
    response = post(client, f"{URL}/notices", good_deed())
    assert response.status_code == 429
    assert response.json() == {"detail": "投稿过于频繁：每小时最多 1 篇，请稍后再试。"}


def test_moderation_over_the_api(city):
    person = resident(city.grid_a)
    notice = submit(person.user)
    worker = token_client(city.worker_a)
    moderate = f"{URL}/notices/{notice.pk}/moderate"
    assert errors(post(worker, moderate, {"action": "reject"})) == [("note", "请填写审核意见。")]
    assert errors(post(worker, moderate, {})) == [("action", "此项为必填项")]
    assert post(token_client(city.worker_b), moderate, {"action": "publish"}).json() == MISSING
    assert post(token_client(city.worker_b), moderate, {}).json() == MISSING
    response = post(token_client(person.user), moderate, {"action": "publish"})
    assert response.status_code == 403
    assert response.json() == {"detail": "没有审核该内容的权限。"}
    body = post(worker, moderate, {"action": "publish", "note": "好"}).json()
    assert (body["status"], body["moderated_by"], body["moderation_note"]) == (
        "published",
        "worker-a",
        "好",
    )
    assert body["published_at"] is not None
    neighbour = token_client(resident(city.grid_a, "周阿姨", "zhou").user)
    seen = neighbour.get(f"{URL}/notices/{notice.pk}").json()
    assert (seen["moderated_by"], seen["moderation_note"], seen["mine"]) == (None, None, False)
    assert errors(post(worker, moderate, {"action": "publish"})) == [
        ("__all__", "该内容当前为“已发布”，不能审核。")
    ]
    body = post(worker, f"{URL}/notices/{notice.pk}/withdraw", {"note": "过时"}).json()
    assert body["status"] == "withdrawn"
    assert neighbour.get(f"{URL}/notices/{notice.pk}").json() == MISSING


def test_notice_list_filters_scope_and_query_count(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    person = resident(city.grid_a)
    worker = token_client(city.worker_a)
    first = submit(person.user)
    few, body = count(worker, f"{URL}/notices")
    assert [n["id"] for n in body["items"]] == [first.pk]
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    for n in range(4):
        publish(city.worker_a, submit(person.user, NoticeKind.UNCIVIL, title=f"乱堆{n}"))
    submit(
        city.worker_a,
        NoticeKind.EXEMPLARY,
        org_id=city.community_a.pk,
        volunteer_id=volunteer.pk,
        consent_note="本人同意",
    )
    many, body = count(worker, f"{URL}/notices")
    assert body["count"] == 6 and many == few
    assert count(worker, f"{URL}/notices?kind=uncivil&status=published")[1]["count"] == 4
    assert count(worker, f"{URL}/notices?status=pending")[1]["count"] == 2
    assert token_client(city.worker_b).get(f"{URL}/notices").json()["count"] == 0
    assert token_client(city.worker_b).get(f"{URL}/notices/{first.pk}").json() == MISSING
    assert Client().get(f"{URL}/notices").status_code == 401


# --- suggestions -----------------------------------------------------------------------------


def test_suggestions_over_the_api(city):
    person = resident(city.grid_a)
    client = token_client(person.user)
    response = post(
        client, f"{URL}/suggestions", {"title": "增设停车棚", "body": "东门", "is_public": True}
    )
    assert response.status_code == 201
    body = response.json()
    year = timezone.localdate().year
    assert body["number"] == f"JY{year}000001" and body["status"] == "received"
    assert (body["is_public"], body["author_public"], body["author_name"]) == (
        True,
        False,
        "李阿姨",
    )
    suggestion_id = body["id"]
    worker = token_client(city.worker_a)
    reply_url = f"{URL}/suggestions/{suggestion_id}/reply"
    assert errors(post(worker, reply_url, {"status": "adopted", "reply": ""})) == [
        ("reply", "请填写答复。")
    ]
    assert post(worker, reply_url, {"status": "received", "reply": "x"}).status_code == 422
    assert errors(post(worker, reply_url, {})) == [
        ("status", "请选择答复结果。"),
        ("reply", "请填写答复。"),
    ]
    assert post(token_client(city.worker_b), reply_url, {}).json() == MISSING
    assert (
        post(token_client(city.worker_b), reply_url, {"status": "adopted", "reply": "x"}).json()
        == MISSING
    )
    assert post(client, reply_url, {"status": "adopted", "reply": "x"}).status_code == 403
    body = post(worker, reply_url, {"status": "adopted", "reply": "已采纳"}).json()
    assert (body["status"], body["reply"], body["replied_by"]) == ("adopted", "已采纳", "worker-a")
    mine = client.get(f"{URL}/suggestions/{suggestion_id}").json()
    assert (mine["reply"], mine["replied_by"], mine["mine"]) == ("已采纳", None, True)
    neighbour = token_client(resident(city.grid_a, "周阿姨", "zhou").user)
    assert neighbour.get(f"{URL}/suggestions/{suggestion_id}").json() == MISSING
    assert neighbour.get(f"{URL}/suggestions?mine=true").json() == {"items": [], "count": 0}
    no_person = post(worker, f"{URL}/suggestions", {"title": "t", "body": "b"})
    assert no_person.status_code == 403
    assert no_person.json() == {"detail": "只有登记的居民可以提建议。"}


def test_suggestion_flood_is_429(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 1
    client = token_client(resident(city.grid_a).user)
    assert post(client, f"{URL}/suggestions", {"title": "t", "body": "b"}).status_code == 201
    response = post(client, f"{URL}/suggestions", {"title": "t", "body": "b"})
    assert response.status_code == 429
    assert response.json()["detail"].startswith("提交过于频繁")


def test_suggestion_lists_and_query_count(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    person = resident(city.grid_a)
    worker, author = token_client(city.worker_a), token_client(person.user)
    suggest(person.user)
    few_worker, _ = count(worker, f"{URL}/suggestions")
    few_mine, _ = count(author, f"{URL}/suggestions?mine=true")
    for n in range(5):
        reply(city.worker_a, suggest(person.user, title=f"建议{n}"))
    many_worker, body = count(worker, f"{URL}/suggestions")
    assert body["count"] == 6 and many_worker == few_worker
    assert body["items"][0]["status"] == SuggestionStatus.RECEIVED
    many_mine, body = count(author, f"{URL}/suggestions?mine=true")
    assert body["count"] == 6 and many_mine == few_mine
    assert count(worker, f"{URL}/suggestions?status=adopted")[1]["count"] == 5
    assert count(worker, f"{URL}/suggestions?q=建议3")[1]["count"] == 1
    assert token_client(city.worker_b).get(f"{URL}/suggestions").json()["count"] == 0


# --- contacts and phones ---------------------------------------------------------------------


def test_contacts_over_the_api(city):
    worker = token_client(city.worker_a)
    response = post(
        worker,
        f"{URL}/contacts",
        {"org_id": city.grid_a.pk, "name": "刘网格", "phone": "0531-1234567"},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["org_name"], body["role"], body["name"]) == ("甲社区第一网格", "网格员", "刘网格")
    assert errors(
        post(worker, f"{URL}/contacts", {"org_id": city.grid_a.pk, "name": "x", "phone": "x"})
    ) == [("phone", "电话只能包含数字、空格和“-”，如 0531-88886666。")]
    assert errors(
        post(worker, f"{URL}/contacts", {"org_id": city.street.pk, "name": "x", "phone": "12345"})
    ) == [("org_id", "请选择社区或网格。")]
    other = token_client(city.worker_b)
    denied = post(
        other, f"{URL}/contacts", {"org_id": city.grid_a.pk, "name": "x", "phone": "12345"}
    )
    assert denied.status_code == 403
    assert other.delete(f"{URL}/contacts/{body['id']}").json() == MISSING
    assert worker.delete(f"{URL}/contacts/{body['id']}").status_code == 204
    assert PublicContact.objects.count() == 0


def test_contact_list_filter_and_query_count(city):
    worker = token_client(city.worker_a)
    contact_add(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        data=ContactInput(org_id=city.community_a.pk, name="社区书记", phone="12345", role="书记"),
    )
    few, _ = count(worker, f"{URL}/contacts")
    for n in range(4):
        contact_add(
            actor=city.worker_a,
            scope=scope_of(city.worker_a),
            data=ContactInput(org_id=city.grid_a.pk, name=f"网格员{n}", phone="12345"),
        )
    many, body = count(worker, f"{URL}/contacts?org_id={city.community_a.pk}")
    assert body["count"] == 5 and many <= few + 1  # +1: the community looked up for the filter
    assert count(worker, f"{URL}/contacts")[0] == few
    assert worker.get(f"{URL}/contacts?org_id={city.community_b.pk}").json() == MISSING
    assert token_client(city.worker_b).get(f"{URL}/contacts").json()["count"] == 0


def test_phones_over_the_api(city):
    worker = token_client(city.worker_a)
    url = f"{URL}/communities/{city.community_a.pk}/phones"
    body = post(
        worker, url, {"service_phone": "0531-12345678", "supervision_phone": "12345"}
    ).json()
    assert body == {
        "id": city.community_a.pk,
        "name": "甲社区",
        "service_phone": "0531-12345678",
        "supervision_phone": "12345",
    }
    assert post(token_client(city.worker_b), url, {"service_phone": "1"}).json() == MISSING
    assert errors(post(worker, url, {"service_phone": "12"})) == [
        ("service_phone", "电话只能包含数字、空格和“-”，如 0531-88886666。")
    ]


# --- the public community ----------------------------------------------------------------------


def test_public_community_needs_no_login_and_names_nobody(city):
    person = resident(city.grid_a)
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    good = publish(city.worker_a, submit(person.user))
    submit(person.user, title="待审核")
    exemplary = publish(
        city.worker_a,
        submit(
            city.worker_a,
            NoticeKind.EXEMPLARY,
            org_id=city.community_a.pk,
            volunteer_id=volunteer.pk,
            consent_note="本人书面同意",
        ),
    )
    named = reply(city.worker_a, suggest(person.user, is_public=True, author_public=True))
    anonymous = reply(city.worker_a, suggest(person.user, is_public=True, title="路灯"))
    contact_add(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        data=ContactInput(org_id=city.grid_a.pk, name="刘网格", phone="12345"),
    )
    response = Client().get(f"{URL}/public/communities/{city.community_a.pk}")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["year"]) == (
        city.community_a.pk,
        "甲社区",
        timezone.localdate().year,
    )
    assert body["contacts"] == [
        {"org_name": "甲社区第一网格", "role": "网格员", "name": "刘网格", "phone": "12345"}
    ]
    columns = {c["kind"]: [n["id"] for n in c["notices"]] for c in body["columns"]}
    assert columns == {
        "notice": [],
        "good_deed": [good.pk],
        "exemplary": [exemplary.pk],
        "uncivil": [],
    }
    exemplary_out = body["columns"][2]["notices"][0]
    assert exemplary_out["volunteer_name"] == "陈志愿" and "consent_note" not in exemplary_out
    assert [(s["number"], s["author_name"]) for s in body["suggestions"]] == [
        (anonymous.number, None),
        (named.number, "李**"),
    ]
    assert (body["reports_this_year"], body["reports_closed"]) == (0, 0)
    assert body["reports_url"] == f"/desk/public/reports/?org={city.community_a.pk}"
    assert "李阿姨" not in response.content.decode()
    assert Client().get(f"{URL}/public/communities/{city.grid_a.pk}").json() == MISSING


def test_public_community_query_count_does_not_grow(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    url = f"{URL}/public/communities/{city.community_a.pk}"
    few, _ = count(Client(), url)
    person = resident(city.grid_a)
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    for n in range(3):
        publish(city.worker_a, submit(person.user, title=f"好事{n}"))
        reply(city.worker_a, suggest(person.user, is_public=True, author_public=True))
        contact_add(
            actor=city.worker_a,
            scope=scope_of(city.worker_a),
            data=ContactInput(org_id=city.grid_a.pk, name=f"网格员{n}", phone="12345"),
        )
    publish(
        city.worker_a,
        submit(
            city.worker_a,
            NoticeKind.EXEMPLARY,
            org_id=city.community_a.pk,
            volunteer_id=volunteer.pk,
            consent_note="同意",
        ),
    )
    many, body = count(Client(), url)
    assert len(body["suggestions"]) == 3 and many == few
    assert Notice.objects.filter(status=NoticeStatus.PUBLISHED).count() == 4
