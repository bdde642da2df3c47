"""Pages of the notice boards, the suggestion box, the public contacts and the public page
of a community: who gets in, what they see, refusals shown, and N+1 guards."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.common.models import AuditEntry
from huzhu.desk.board_services import ContactInput, contact_add
from huzhu.desk.models import (
    Notice,
    NoticeKind,
    NoticeStatus,
    PublicContact,
    Suggestion,
    SuggestionStatus,
)
from tests.activities.factories import make_volunteer
from tests.desk.factories import report
from tests.desk.test_board_services import publish, reply, resident, scope_of, submit, suggest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOTICES = reverse("desk:notices")
NEW = reverse("desk:notice_new")
SUGGEST = reverse("desk:suggest")
MINE = reverse("desk:my_suggestions")
SUGGESTIONS = reverse("desk:suggestions")
CONTACTS = reverse("desk:contacts")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response: Any) -> str:
    return response.content.decode()


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def detail(notice: Notice) -> str:
    return reverse("desk:notice_detail", args=[notice.pk])


def public_url(org: Any) -> str:
    return reverse("desk:public_community", args=[org.pk])


def row_ids(page: str, attr: str) -> list[int]:
    return [int(n) for n in re.findall(rf'data-{attr}-id="(\d+)"', page)]


def field_errors(page: str, field: str) -> list[str]:
    return re.findall(rf'data-field-error="{field}">([^<]+)<', page)


# --- posting ---------------------------------------------------------------------------------


def test_resident_posts_a_good_deed_from_the_phone_page(city):
    person = resident(city.grid_a)
    client = client_for(person.user)
    page = text(client.get(NEW))
    assert re.findall(r'name="kind" id="hz-kind-(\w+)"', page) == ["good_deed", "uncivil"]
    assert 'name="volunteer_number"' not in page and 'name="org"' not in page
    response = client.post(
        NEW, {"kind": "good_deed", "title": "邻居帮忙修灯", "body": "楼道灯修好了"}
    )
    notice = Notice.objects.get()
    assert response.status_code == 302 and response["Location"] == detail(notice)
    assert (notice.org, notice.status) == (city.community_a, NoticeStatus.PENDING)
    page = text(client.get(detail(notice)))
    assert 'data-status="pending"' in page and "邻居帮忙修灯" in page
    assert 'data-testid="moderate"' not in page and 'data-testid="notice-meta"' not in page


def test_uncivil_naming_a_resident_is_refused_beside_the_field(city):
    person = resident(city.grid_a)
    resident(city.grid_a, "王建国", "wang")
    response = client_for(person.user).post(
        NEW,
        {"kind": "uncivil", "title": "狗粪", "body": "王建国遛狗不清理", "place": ""},
    )
    assert response.status_code == 400
    page = text(response)
    assert field_errors(page, "body") == [
        "不文明行为只写地点和现象，不能点名个人：请删去“内容”中的居民姓名。"
    ]
    assert field_errors(page, "place") == ["请填写地点。"]
    assert Notice.objects.count() == 0


def test_notice_new_needs_a_resident_record_or_a_worker(city):
    response = client_for(UserFactory(username="nobody")).get(NEW)
    assert response.status_code == 403
    assert Client().get(NEW).status_code == 302


def test_worker_posts_an_exemplary_volunteer_with_consent(city):
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    client = client_for(city.worker_a)
    page = text(client.get(f"{NEW}?kind=exemplary"))
    assert re.findall(r'name="kind" id="hz-kind-(\w+)"', page) == [
        "good_deed",
        "exemplary",
        "uncivil",
        "notice",
    ]
    assert 'id="hz-kind-exemplary" value="exemplary" autocomplete="off" checked' in page
    data = {
        "kind": "exemplary",
        "org": str(city.community_a.pk),
        "title": "十年如一日照顾孤寡老人",
        "body": "陈志愿坚持每周探访。",
        "volunteer_number": volunteer.number,
    }
    response = client.post(NEW, data)
    assert response.status_code == 400
    assert field_errors(text(response), "consent_note") == [
        "署名前须取得志愿者本人同意：请填写同意方式（如“本人书面同意”）。"
    ]
    response = client.post(
        NEW, {**data, "consent_note": "本人书面同意", "consent_date": "2026-03-01"}
    )
    notice = Notice.objects.get()
    assert response.status_code == 302
    assert (notice.volunteer, notice.consent_note) == (volunteer, "本人书面同意")
    assert notice.consent_at.date().isoformat() == "2026-03-01"
    page = text(client.get(detail(notice)))
    assert "志愿者：陈志愿" in page and "本人书面同意，2026-03-01" in page


# --- moderation ------------------------------------------------------------------------------


def test_worker_list_moderation_queue_and_scope(city):
    person = resident(city.grid_a)
    published = publish(city.worker_a, submit(person.user, title="已发布的"))
    pending = submit(person.user, kind=NoticeKind.UNCIVIL)
    other = submit(city.worker_b, NoticeKind.NOTICE, org_id=city.community_b.pk)
    page = text(client_for(city.worker_a).get(NOTICES))
    assert row_ids(page, "notice") == [pending.pk, published.pk]
    assert re.findall(r'data-count="(\w+)">(\d+)<', page) == [
        ("all", "2"),
        ("pending", "1"),
        ("published", "1"),
        ("rejected", "0"),
        ("withdrawn", "0"),
    ]
    assert page.count('data-testid="quick-publish"') == 1
    assert 'data-testid="submitter">li<' in page
    filtered = text(client_for(city.worker_a).get(f"{NOTICES}?kind=good_deed"))
    assert row_ids(filtered, "notice") == [published.pk]
    filtered = text(client_for(city.worker_a).get(f"{NOTICES}?status=pending"))
    assert row_ids(filtered, "notice") == [pending.pk]
    assert row_ids(text(client_for(city.worker_b).get(NOTICES)), "notice") == [other.pk]
    assert client_for(person.user).get(NOTICES).status_code == 403


def test_notice_list_query_count_does_not_grow(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    person = resident(city.grid_a)
    client = client_for(city.worker_a)
    submit(person.user)
    few = count_queries(client, NOTICES)
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    for n in range(5):
        publish(city.worker_a, submit(person.user, title=f"好事{n}"))
    submit(
        city.worker_a,
        NoticeKind.EXEMPLARY,
        org_id=city.community_a.pk,
        volunteer_id=volunteer.pk,
        consent_note="本人同意",
    )
    assert len(row_ids(text(client.get(NOTICES)), "notice")) == 7
    assert count_queries(client, NOTICES) == few


def test_quick_publish_reject_and_withdraw(city):
    person = resident(city.grid_a)
    notice = submit(person.user)
    client = client_for(city.worker_a)
    moderate = reverse("desk:notice_moderate", args=[notice.pk])
    response = client.post(moderate, {"action": "reject", "note": ""})
    assert response.status_code == 302 and response["Location"] == detail(notice)
    page = text(client.get(detail(notice)))
    assert "请填写审核意见。" in page
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PENDING
    response = client.post(moderate, {"action": "publish", "next": f"{NOTICES}?status=pending"})
    assert response["Location"] == f"{NOTICES}?status=pending"
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PUBLISHED
    response = client.post(moderate, {"action": "publish", "next": "https://evil.example/"})
    assert response["Location"] == detail(notice)
    page = text(client.get(detail(notice)))
    assert "该内容当前为“已发布”，不能审核。" in page
    assert 'data-testid="withdraw"' in page
    client.post(reverse("desk:notice_withdraw", args=[notice.pk]), {"note": "活动已结束"})
    notice.refresh_from_db()
    assert (notice.status, notice.moderation_note) == (NoticeStatus.WITHDRAWN, "活动已结束")
    second = submit(person.user, title="第二件")
    client.post(
        reverse("desk:notice_moderate", args=[second.pk]), {"action": "reject", "note": "重复"}
    )
    second.refresh_from_db()
    assert second.status == NoticeStatus.REJECTED
    page = text(client_for(person.user).get(detail(second)))
    assert 'data-testid="moderation-note"' in page and "重复" in page


def test_who_sees_a_notice(city):
    person = resident(city.grid_a)
    neighbour = resident(city.grid_a, "周阿姨", "zhou")
    notice = submit(person.user)
    assert client_for(city.worker_b).get(detail(notice)).status_code == 404
    assert client_for(neighbour.user).get(detail(notice)).status_code == 404
    assert Client().get(detail(notice)).status_code == 302
    moderate = reverse("desk:notice_moderate", args=[notice.pk])
    assert client_for(city.worker_b).post(moderate, {"action": "publish"}).status_code == 404
    client_for(person.user).post(moderate, {"action": "publish"})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PENDING
    publish(city.worker_a, notice)
    page = text(client_for(neighbour.user).get(detail(notice)))
    assert "热心邻居帮忙修好楼道灯" in page and "li" not in re.findall(r">(\w+)<", page)
    assert 'data-testid="notice-meta"' not in page


# --- suggestions -----------------------------------------------------------------------------


def test_resident_suggests_and_reads_the_reply(city):
    person = resident(city.grid_a)
    client = client_for(person.user)
    response = client.post(
        SUGGEST, {"title": "增设停车棚", "body": "东门缺少停车棚", "is_public": "on"}
    )
    suggestion = Suggestion.objects.get()
    assert response.status_code == 302 and response["Location"] == MINE
    assert (suggestion.is_public, suggestion.author_public) == (True, False)
    page = text(client.get(MINE))
    assert suggestion.number in page and "社区正在研究" in page
    reply(city.worker_a, suggestion, "adopted", "已采纳，下月动工")
    page = text(client.get(MINE))
    assert row_ids(page, "suggestion") == [suggestion.pk]
    assert "已采纳，下月动工" in page and 'data-status="adopted"' in page
    page = text(client.get(reverse("desk:suggestion_detail", args=[suggestion.pk])))
    assert "已采纳，下月动工" in page and 'data-testid="reply-form"' not in page
    assert "worker-a" not in page


def test_suggest_refusals(city):
    page = text(client_for(UserFactory(username="nobody")).get(SUGGEST))
    assert 'data-testid="no-person"' in page and 'data-testid="suggest-form"' not in page
    person = resident(city.grid_a)
    response = client_for(person.user).post(SUGGEST, {"title": "", "body": "<b>hi</b>"})
    assert response.status_code == 400
    assert field_errors(text(response), "title") == ["请填写标题。"]
    assert field_errors(text(response), "body") == ["不能包含 HTML 标记或脚本，请只填写文字。"]
    assert Suggestion.objects.count() == 0


def test_worker_replies_and_who_sees_a_suggestion(city):
    person = resident(city.grid_a)
    suggestion = suggest(person.user)
    url = reverse("desk:suggestion_detail", args=[suggestion.pk])
    reply_url = reverse("desk:suggestion_reply", args=[suggestion.pk])
    client = client_for(city.worker_a)
    page = text(client.get(url))
    assert 'data-testid="reply-form"' in page and 'data-testid="author">李阿姨<' in page
    response = client.post(reply_url, {"status": "adopted", "reply": ""})
    assert response.status_code == 400
    assert field_errors(text(response), "reply") == ["请填写答复。"]
    response = client.post(reply_url, {"status": "partly", "reply": "部分采纳"})
    assert response.status_code == 302 and response["Location"] == url
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.reply) == (SuggestionStatus.PARTLY, "部分采纳")
    neighbour = resident(city.grid_a, "周阿姨", "zhou")
    assert client_for(neighbour.user).get(url).status_code == 404
    assert client_for(city.worker_b).get(url).status_code == 404
    sent = {"status": "adopted", "reply": "x"}
    assert client_for(city.worker_b).post(reply_url, sent).status_code == 404
    response = client_for(person.user).post(reply_url, sent)
    assert response.status_code == 302
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PARTLY


def test_suggestion_lists_query_counts_do_not_grow(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    person = resident(city.grid_a)
    worker = client_for(city.worker_a)
    author = client_for(person.user)
    suggest(person.user)
    few_worker, few_mine = count_queries(worker, SUGGESTIONS), count_queries(author, MINE)
    for n in range(5):
        reply(city.worker_a, suggest(person.user, title=f"建议{n}"))
    page = text(worker.get(SUGGESTIONS))
    assert len(row_ids(page, "suggestion")) == 6
    assert 'data-testid="waiting">待答复 1 条<' in page
    assert count_queries(worker, SUGGESTIONS) == few_worker
    assert count_queries(author, MINE) == few_mine
    assert row_ids(text(client_for(city.worker_b).get(SUGGESTIONS)), "suggestion") == []
    page = text(worker.get(f"{SUGGESTIONS}?status=received"))
    assert len(row_ids(page, "suggestion")) == 1


# --- contacts --------------------------------------------------------------------------------


def test_contacts_page_adds_lists_deletes_and_sets_phones(city):
    client = client_for(city.worker_a)
    page = text(client.get(CONTACTS))
    orgs = re.findall(r'<option value="(\d+)"', page.split('data-testid="contact-form"')[1])
    assert orgs == [str(city.community_a.pk), str(city.grid_a.pk)]
    response = client.post(
        f"{CONTACTS}?org={city.community_a.pk}",
        {"org": str(city.grid_a.pk), "role": "网格员", "name": "刘网格", "phone": "0531-1234567"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{CONTACTS}?org={city.community_a.pk}"
    contact = PublicContact.objects.get()
    assert (contact.org, contact.name) == (city.grid_a, "刘网格")
    response = client.post(CONTACTS, {"org": str(city.grid_a.pk), "name": "", "phone": "x"})
    assert response.status_code == 400
    assert field_errors(text(response), "name") == ["请填写姓名。"]
    response = client.post(
        reverse("desk:community_phones", args=[city.community_a.pk]),
        {"service_phone": "0531-12345678", "supervision_phone": "12345"},
    )
    assert response.status_code == 302
    city.community_a.refresh_from_db()
    assert (city.community_a.service_phone, city.community_a.supervision_phone) == (
        "0531-12345678",
        "12345",
    )
    delete = reverse("desk:contact_delete", args=[contact.pk])
    assert client_for(city.worker_b).post(delete).status_code == 404
    assert client.post(delete).status_code == 302
    assert PublicContact.objects.count() == 0
    assert AuditEntry.objects.filter(verb="desk.contact.delete").count() == 1


def test_contacts_page_refusals_and_scope(city):
    person = resident(city.grid_a)
    assert client_for(person.user).get(CONTACTS).status_code == 403
    phones = reverse("desk:community_phones", args=[city.community_a.pk])
    assert client_for(city.worker_b).post(phones, {"service_phone": "12345"}).status_code == 404
    worker = client_for(city.worker_a)
    response = worker.post(phones, {"service_phone": "call"})
    assert response.status_code == 302
    page = text(worker.get(CONTACTS))
    assert "电话只能包含数字、空格和“-”，如 0531-88886666。" in page
    # A worker of community B asking for A's contacts gets their own community.
    page = text(client_for(city.worker_b).get(f"{CONTACTS}?org={city.community_a.pk}"))
    assert f'action="/desk/contacts/phones/{city.community_b.pk}/"' in page


def test_contacts_page_query_count_does_not_grow(city):
    client = client_for(city.worker_a)
    few = count_queries(client, CONTACTS)
    for n in range(5):
        contact_add(
            actor=city.worker_a,
            scope=scope_of(city.worker_a),
            data=ContactInput(org_id=city.grid_a.pk, name=f"网格员{n}", phone="12345"),
        )
    assert len(row_ids(text(client.get(CONTACTS)), "contact")) == 5
    assert count_queries(client, CONTACTS) == few


# --- the public page -------------------------------------------------------------------------


def fill_community(city: Any) -> dict[str, Any]:
    person = resident(city.grid_a)
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    made = {
        "good": publish(city.worker_a, submit(person.user)),
        "pending": submit(person.user, title="待审核的投稿"),
        "exemplary": publish(
            city.worker_a,
            submit(
                city.worker_a,
                NoticeKind.EXEMPLARY,
                org_id=city.community_a.pk,
                title="好邻居",
                volunteer_id=volunteer.pk,
                consent_note="本人书面同意",
            ),
        ),
        "named": reply(city.worker_a, suggest(person.user, is_public=True, author_public=True)),
        "anonymous": reply(city.worker_a, suggest(person.user, is_public=True, title="加装路灯")),
        "private": reply(city.worker_a, suggest(person.user, title="不公开的建议")),
    }
    contact_add(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        data=ContactInput(org_id=city.grid_a.pk, name="刘网格", phone="0531-1234567"),
    )
    city.community_a.service_phone = "0531-88886666"
    city.community_a.supervision_phone = "0531-88887777"
    city.community_a.save()
    report(person.user, city.grid_a)
    return made


def test_public_page_shows_the_community_without_names(city):
    made = fill_community(city)
    page = text(Client().get(public_url(city.community_a)))
    assert 'data-testid="community-name"' in page and "甲社区" in page
    assert 'data-testid="service-phone">0531-88886666<' in page
    assert 'data-testid="supervision-phone">0531-88887777<' in page
    assert "刘网格" in page and "0531-1234567" in page
    assert row_ids(page, "notice") == [made["good"].pk, made["exemplary"].pk]
    assert "待审核的投稿" not in page
    assert "志愿者：陈志愿" in page and "本人书面同意" not in page
    assert row_ids(page, "suggestion") == [made["anonymous"].pk, made["named"].pk]
    assert re.findall(r'data-testid="author">([^<]+)<', page) == ["李**"]
    assert "李阿姨" not in page and "worker-a" not in page and ">li<" not in page
    assert 'data-testid="reports-total">1<' in page and 'data-testid="reports-closed">0<' in page
    reports = reverse("desk:public_reports")
    assert f'href="{reports}?org={city.community_a.pk}"' in page


def test_public_page_is_404_for_anything_but_an_active_community(city):
    for org in (city.grid_a, city.street):
        assert Client().get(public_url(org)).status_code == 404
    city.community_b.is_active = False
    city.community_b.save(update_fields=["is_active"])
    assert Client().get(public_url(city.community_b)).status_code == 404
    assert Client().get("/desk/public/999999/").status_code == 404


def test_public_page_query_count_does_not_grow(city):
    few = count_queries(Client(), public_url(city.community_a))
    fill_community(city)
    person = resident(city.grid_a, "周阿姨", "zhou")
    for n in range(4):
        publish(city.worker_a, submit(person.user, NoticeKind.UNCIVIL, title=f"乱堆放{n}"))
        reply(city.worker_a, suggest(person.user, is_public=True, author_public=True))
    assert count_queries(Client(), public_url(city.community_a)) == few
