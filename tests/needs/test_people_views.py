"""The resident's and volunteer's needs pages: 我的求助, 我要求助 (with category suggestions),
a need's page with its buttons, the thread, 推荐志愿者, the steps from accepting to paying,
邀请 and 需求广场 — through the real services, as the people who use them."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from huzhu.activities.models import RecordSource, RecordStatus, ServiceRecord
from huzhu.needs import services
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    Message,
    Need,
    NeedChannel,
    NeedStatus,
    Payment,
)
from huzhu.timebank.models import Account
from tests.activities.clients import client_for
from tests.factories import City, make_person
from tests.needs.factories import (
    access_for,
    give_credits,
    helper_volunteer,
    make_resident,
    need_input,
    post_need,
    set_place,
)

pytestmark = pytest.mark.django_db

HOME = reverse("needs:home")
ASK = reverse("needs:ask")
BOARD = reverse("needs:board")
INVITATIONS = reverse("needs:invitations")


@pytest.fixture
def city():
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    set_place(city.community_b, 36.670, 117.030)
    return city


@pytest.fixture
def grandma(city):
    resident = make_resident(city.grid_a, "王秀英", username="grandma")
    resident.address = "甲社区 3 号楼 2 单元 501"
    resident.save(update_fields=["address"])
    give_credits(resident, 300)
    return resident


@pytest.fixture
def near(city):
    return helper_volunteer(city.grid_a, "李建国", "near", place=(36.661, 117.021))


@pytest.fixture
def far(city):
    return helper_volunteer(city.grid_a, "赵志强", "far", place=(36.690, 117.060))


@pytest.fixture
def volunteer_b(city):
    return helper_volunteer(city.grid_b, "孙乙丙", "vol-b", place=(36.671, 117.031))


def own_need(resident, **overrides) -> Need:
    """A need the resident posted for themselves (as from 我要求助)."""
    return services.need_create(
        actor=resident.user,
        scope=access_scope(resident.user),
        data=need_input(**overrides),
        requester=resident,
    )


def access_scope(user):
    from huzhu.orgs.scope import Scope

    return Scope.for_user(user)


def invite(worker, need: Need, *volunteers) -> list[Invitation]:
    return services.need_invite(
        actor=worker,
        access=access_for(worker, need),
        volunteer_ids=[v.pk for v in volunteers],
    )


def matched_need(city, grandma, volunteer) -> Need:
    need = own_need(grandma)
    invitation = invite(city.worker_a, need, volunteer)[0]
    services.invitation_accept(actor=volunteer.person.user, invitation=invitation)
    return Need.objects.get(pk=need.pk)


def flash(response) -> list[str]:
    """The messages this request added (earlier unread ones stay out)."""
    storage = get_messages(response.wsgi_request)
    return [str(m) for m in storage._queued_messages]


def detail_url(need: Need) -> str:
    return reverse("needs:detail", args=[need.pk])


def ask_data(**overrides: str) -> dict[str, str]:
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    data = {
        "description": "帮我买菜，腿脚不方便下楼",
        "category": "",
        "day": tomorrow.isoformat(),
        "period": "am",
        "start_time": "",
        "end_time": "",
        "address": "甲社区 3 号楼 2 单元 501",
        "urgency": "normal",
        "payment": Payment.REQUESTER,
        "minutes": "60",
    }
    data.update(overrides)
    return data


def field_errors(response, name: str) -> list[str]:
    html = response.content.decode()
    pattern = rf'data-field-error="{name}">([^<]*)<'
    return re.findall(pattern, html)


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


# --- who may see what -------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(city, grandma):
    need = own_need(grandma)
    for url in (HOME, ASK, BOARD, INVITATIONS, detail_url(need), reverse("needs:suggest")):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=" + quote(url, safe="/")


def test_a_worker_without_a_resident_record_goes_to_the_need_desk(city):
    response = client_for(city.worker_a).get(HOME)
    assert response.status_code == 302
    assert response["Location"] == reverse("needs:manage_list")
    response = client_for(city.worker_a).get(ASK)
    assert response["Location"] == reverse("needs:manage_new")


def test_others_cannot_open_a_taken_need(city, grandma, near, volunteer_b):
    need = matched_need(city, grandma, near)
    stranger = make_resident(city.grid_a, "周路人", username="stranger")
    urls = [
        detail_url(need),
        reverse("needs:messages", args=[need.pk]),
        reverse("needs:edit", args=[need.pk]),
        reverse("needs:recommend", args=[need.pk]),
    ]
    for user in (volunteer_b.person.user, stranger.user, city.worker_b):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
        response = client.post(reverse("needs:start", args=[need.pk]))
        assert response.status_code == 404
    need.refresh_from_db()
    assert need.status == NeedStatus.MATCHED


def test_only_the_requester_picks_recommended_volunteers(city, grandma, near, volunteer_b):
    need = own_need(grandma)
    url = reverse("needs:recommend", args=[need.pk])
    # A volunteer of the street sees the open need on the board, but cannot invite for it.
    assert client_for(volunteer_b.person.user).get(url).status_code == 403
    assert client_for(city.worker_b).get(url).status_code == 404
    response = client_for(city.worker_a).get(url)
    assert response["Location"] == reverse("needs:manage_detail", args=[need.pk])


# --- 我的求助 ---------------------------------------------------------------------------------


def test_home_lists_my_needs_with_the_volunteer_masked(city, grandma, near):
    taken = matched_need(city, grandma, near)
    waiting = own_need(grandma, description="帮我修水管")
    own_need(make_resident(city.grid_a, "邻居甲", username="neighbour"), payment=Payment.POOL)
    response = client_for(grandma.user).get(HOME)
    assert response.status_code == 200
    assert [n.pk for n in response.context["page"].object_list] == [waiting.pk, taken.pk]
    html = response.content.decode()
    assert "志愿者：李**" in html
    assert "李建国" not in html
    assert "我要求助" in html
    assert response.context["volunteer"] is None
    assert 'data-testid="volunteer-card"' not in html


def test_a_volunteer_sees_the_way_to_invitations_board_and_offers(city, grandma, near):
    invite(city.worker_a, own_need(grandma), near)
    response = client_for(near.person.user).get(HOME)
    html = response.content.decode()
    assert 'data-testid="volunteer-card"' in html
    for name in ("needs:invitations", "needs:board", "needs:my_offers"):
        assert f'href="{reverse(name)}"' in html
    assert response.context["pending_invitations"] == 1


def test_home_query_count_does_not_grow_with_needs(city, grandma, near, django_assert_num_queries):
    client = client_for(grandma.user)
    matched_need(city, grandma, near)
    few = count_queries(client, HOME)
    for n in range(4):
        matched_need(city, grandma, helper_volunteer(city.grid_a, f"张{n}号", f"v{n}"))
    with django_assert_num_queries(few):
        response = client.get(HOME)
    assert len(response.context["page"].object_list) == 5


# --- 我要求助 ---------------------------------------------------------------------------------


def test_the_ask_page_prefills_the_address_and_shows_the_balance(city, grandma):
    response = client_for(grandma.user).get(ASK)
    assert response.status_code == 200
    form = response.context["form"]
    assert form["address"].value() == "甲社区 3 号楼 2 单元 501"
    assert form["day"].value() == timezone.localdate() + dt.timedelta(days=1)
    assert form.fields["payment"].choices == [
        ("requester", "时间币支付（现有 5 小时）"),
        ("pool", "公益（互助池支付）"),
    ]
    html = response.content.decode()
    assert "请说说需要什么帮助" in html
    assert f'hx-get="{reverse("needs:suggest")}"' in html


def test_asking_posts_the_need_and_opens_it(city, grandma):
    client = client_for(grandma.user)
    response = client.post(ASK, ask_data(period="pm"))
    need = Need.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(need)
    assert flash(response) == [f"求助已发布（编号 {need.number}）。有志愿者承接后会通知您。"]
    start = timezone.localtime(need.starts_at)
    end = timezone.localtime(need.ends_at)
    assert (start.date(), start.hour, end.hour) == (
        timezone.localdate() + dt.timedelta(days=1),
        14,
        18,
    )
    assert (need.requester, need.channel, need.category.name) == (
        grandma,
        NeedChannel.SELF,
        "助餐",
    )
    assert [c.name for c in need.extra_categories.all()] == ["跑腿代办"]


def test_asking_with_exact_times_and_a_chosen_category(city, grandma):
    from tests.needs.factories import need_category

    errand = need_category("跑腿代办")
    data = ask_data(category=str(errand.pk), period="exact", start_time="09:30", end_time="10:15")
    response = client_for(grandma.user).post(ASK, data)
    assert response.status_code == 302
    need = Need.objects.get()
    assert need.category == errand
    assert timezone.localtime(need.starts_at).strftime("%H:%M") == "09:30"
    assert timezone.localtime(need.ends_at).strftime("%H:%M") == "10:15"


def test_asking_for_a_time_in_the_past_is_refused_beside_the_field(city, grandma):
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = client_for(grandma.user).post(ASK, ask_data(day=yesterday))
    assert response.status_code == 400
    assert field_errors(response, "start_time") == ["开始时间已过去，请选择现在或以后的时间。"]
    assert Need.objects.count() == 0


def test_asking_for_a_backwards_window_is_refused(city, grandma):
    data = ask_data(period="exact", start_time="15:00", end_time="14:00")
    response = client_for(grandma.user).post(ASK, data)
    assert response.status_code == 400
    assert field_errors(response, "end_time") == ["结束时间须晚于开始时间。"]
    assert Need.objects.count() == 0


def test_exact_times_must_be_given(city, grandma):
    response = client_for(grandma.user).post(ASK, ask_data(period="exact"))
    assert response.status_code == 400
    assert field_errors(response, "start_time") == ["请填写开始时间。"]
    assert field_errors(response, "end_time") == ["请填写结束时间。"]


def test_paying_without_balance_is_refused_with_the_figures(city):
    poor = make_resident(city.grid_a, "钱大爷", username="poor")
    response = client_for(poor.user).post(ASK, ask_data(minutes="90"))
    assert response.status_code == 400
    assert field_errors(response, "payment") == [
        "时间币余额不足：现有 0 小时，本次预计需要 1.5 小时。"
        "可选择“公益（互助池支付）”，或先请家人转赠。"
    ]
    assert Need.objects.count() == 0
    response = client_for(poor.user).post(ASK, ask_data(minutes="90", payment=Payment.POOL))
    assert response.status_code == 302
    assert Need.objects.get().payment == Payment.POOL


def test_description_and_address_are_asked_for(city, grandma):
    response = client_for(grandma.user).post(ASK, ask_data(description="", address=""))
    assert response.status_code == 400
    assert field_errors(response, "description") == ["请说明需要什么帮助。"]
    assert field_errors(response, "address") == ["请填写服务地点。"]


def test_suggest_offers_meal_help_and_errands_for_buying_vegetables(city, grandma):
    client = client_for(grandma.user)
    response = client.get(reverse("needs:suggest"), {"description": "帮我买菜"})
    assert response.status_code == 200
    assert [s.category.name for s in response.context["suggestions"]] == ["助餐", "跑腿代办"]
    html = response.content.decode()
    assert re.findall(r'data-category="([^"]+)"', html) == ["助餐", "跑腿代办"]
    meals = response.context["suggestions"][0].category
    assert f'for="hz-category-{meals.pk}"' in html
    empty = client.get(reverse("needs:suggest"), {"description": ""})
    assert empty.content.decode().strip() == ""


def test_edit_an_open_need(city, grandma):
    need = own_need(grandma)
    url = reverse("needs:edit", args=[need.pk])
    client = client_for(grandma.user)
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["form"]["description"].value() == "帮我买菜，腿脚不方便下楼"
    assert response.context["form"]["period"].value() == "exact"
    response = client.post(url, ask_data(description="帮我取药", period="am"))
    assert response.status_code == 302
    need.refresh_from_db()
    assert (need.description, need.category.name) == ("帮我取药", "跑腿代办")
    assert timezone.localtime(need.starts_at).hour == 8


# --- a need's page ----------------------------------------------------------------------------


def test_the_requester_sees_the_address_and_the_volunteer_masked(city, grandma, near):
    need = matched_need(city, grandma, near)
    response = client_for(grandma.user).get(detail_url(need))
    assert response.status_code == 200
    html = response.content.decode()
    assert "甲社区 3 号楼 2 单元 501" in html
    assert response.context["volunteer_name"] == "李**"
    assert "李建国" not in html
    assert 'data-testid="thread"' in html
    assert 'hx-trigger="every 15s"' in html
    assert 'data-testid="cancel-action"' in html
    assert [e["label"] for e in response.context["events"]] == [
        "发布求助",
        "邀请志愿者",
        "志愿者承接",
    ]
    assert response.context["events"][0]["actor"] == ""


def test_the_volunteer_sees_the_requester_masked_and_the_buttons_to_serve(city, grandma, near):
    need = matched_need(city, grandma, near)
    response = client_for(near.person.user).get(detail_url(need))
    html = response.content.decode()
    assert response.context["requester_name"] == "王**"
    assert "王秀英" not in html
    assert "甲社区 3 号楼 2 单元 501" in html
    assert 'data-testid="volunteer-actions"' in html
    assert "开始服务" in html


def test_a_volunteer_on_the_board_sees_the_community_not_the_address(city, grandma, volunteer_b):
    need = own_need(grandma)
    response = client_for(volunteer_b.person.user).get(detail_url(need))
    assert response.status_code == 200
    html = response.content.decode()
    assert "甲社区 3 号楼 2 单元 501" not in html
    assert response.context["area"] == "甲社区"
    assert response.context["can_apply"] is True
    assert 'data-testid="thread"' not in html
    assert 'data-testid="apply-action"' in html


def test_a_worker_sees_full_names_and_the_desk_link(city, grandma, near):
    need = matched_need(city, grandma, near)
    response = client_for(city.worker_a).get(detail_url(need))
    assert response.context["requester_name"] == "王秀英"
    assert response.context["volunteer_name"] == "李建国"
    assert f'href="{reverse("needs:manage_detail", args=[need.pk])}"' in response.content.decode()
    assert response.context["events"][0]["actor"] == "grandma"


# --- the thread -------------------------------------------------------------------------------


def test_a_phone_number_in_a_message_is_hidden(city, grandma, near):
    need = matched_need(city, grandma, near)
    url = reverse("needs:messages", args=[need.pk])
    response = client_for(near.person.user).post(
        url, {"body": "我明早九点到，电话 13912345678"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "我明早九点到，电话 [号码已隐藏]" in html
    assert "13912345678" not in html
    assert Message.objects.filter(role="volunteer").get().body == "我明早九点到，电话 [号码已隐藏]"
    # The requester's page polls the partial and sees it.
    partial = client_for(grandma.user).get(url)
    assert "我明早九点到，电话 [号码已隐藏]" in partial.content.decode()


def test_posting_without_htmx_goes_back_to_the_page(city, grandma, near):
    need = matched_need(city, grandma, near)
    url = reverse("needs:messages", args=[need.pk])
    client = client_for(grandma.user)
    response = client.post(url, {"body": "谢谢你"})
    assert response["Location"] == detail_url(need) + "#thread"
    assert flash(response) == ["留言已发送。"]
    response = client.post(url, {"body": "  "})
    assert flash(response) == ["请输入留言内容。"]
    assert Message.objects.filter(role="requester").count() == 1


def test_an_invited_volunteer_does_not_read_the_thread(city, grandma, near):
    need = own_need(grandma)
    invite(city.worker_a, need, near)
    client = client_for(near.person.user)
    assert client.get(detail_url(need)).status_code == 200
    assert client.get(reverse("needs:messages", args=[need.pk])).status_code == 404


# --- 推荐志愿者 -------------------------------------------------------------------------------


def test_the_requester_invites_recommended_volunteers(city, grandma, near, far):
    need = own_need(grandma)
    url = reverse("needs:recommend", args=[need.pk])
    client = client_for(grandma.user)
    response = client.get(url)
    assert response.status_code == 200
    rows = response.context["candidates"]
    assert [(r.volunteer_id, r.name) for r in rows] == [(near.pk, "李**"), (far.pk, "赵**")]
    assert rows[0].reasons[:2] == ["发布了“跑腿代办”服务", "距离约 0.1 公里"]
    html = response.content.decode()
    assert "李建国" not in html
    assert 'class="list-unstyled mb-0 small hz-reasons"' in html
    response = client.post(url, {"volunteer_id": [near.pk, far.pk]})
    assert response["Location"] == detail_url(need)
    assert flash(response) == ["已邀请 2 位志愿者，有人接受后会通知您。"]
    assert set(need.invitations.values_list("volunteer_id", "kind")) == {
        (near.pk, InvitationKind.INVITE),
        (far.pk, InvitationKind.INVITE),
    }


def test_inviting_someone_not_recommended_is_refused(city, grandma, near):
    remote = helper_volunteer(city.grid_b, "远方人", "remote", place=(37.5, 118.5))
    need = own_need(grandma)
    url = reverse("needs:recommend", args=[need.pk])
    response = client_for(grandma.user).post(url, {"volunteer_id": [remote.pk]})
    assert response.status_code == 400
    assert "所选志愿者不在推荐名单中，请刷新页面后重新选择。" in response.content.decode()
    assert need.invitations.count() == 0


# --- 邀请: accept and decline -----------------------------------------------------------------


def test_invitations_list_what_i_am_asked_and_what_i_took(city, grandma, near):
    need = own_need(grandma)
    invite(city.worker_a, need, near)
    taken = matched_need(city, grandma, near)
    response = client_for(near.person.user).get(INVITATIONS)
    assert response.status_code == 200
    assert [i.need_id for i in response.context["pending"]] == [need.pk]
    assert [n.pk for n in response.context["page"].object_list] == [taken.pk]
    html = response.content.decode()
    assert "甲社区 · 王**" in html
    assert "甲社区 3 号楼" not in html
    assert "发布了“跑腿代办”服务" in html


def test_a_non_volunteer_is_shown_how_to_register(city, grandma):
    client = client_for(grandma.user)
    for url in (INVITATIONS, BOARD, reverse("needs:my_offers")):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'data-testid="not-volunteer"' in html
        assert f'href="{reverse("volunteers:register_self")}"' in html


def test_accepting_takes_the_need_and_opens_it(city, grandma, near):
    need = own_need(grandma)
    invitation = invite(city.worker_a, need, near)[0]
    client = client_for(near.person.user)
    url = reverse("needs:invitation_accept", args=[invitation.pk])
    response = client.post(url)
    assert response["Location"] == detail_url(need)
    assert flash(response) == [f"已承接：{need.title}。请按约定时间服务，有事请在本页留言。"]
    need.refresh_from_db()
    assert (need.status, need.volunteer_id) == (NeedStatus.MATCHED, near.pk)
    # The second tap changes nothing.
    response = client.post(url)
    assert flash(response) == ["您已接受这个邀请。"]
    assert need.events.filter(verb="match").count() == 1


def test_accepting_a_need_already_taken_is_refused(city, grandma, near, far):
    need = own_need(grandma)
    first, second = invite(city.worker_a, need, near, far)
    client_for(near.person.user).post(reverse("needs:invitation_accept", args=[first.pk]))
    response = client_for(far.person.user).post(
        reverse("needs:invitation_accept", args=[second.pk])
    )
    assert response["Location"] == INVITATIONS
    assert flash(response) == [f"需求{need.number}已由其他志愿者承接或已关闭。"]
    need.refresh_from_db()
    assert need.volunteer_id == near.pk
    second.refresh_from_db()
    assert second.status == InvitationStatus.CLOSED


def test_declining_with_a_reply(city, grandma, near):
    need = own_need(grandma)
    invitation = invite(city.worker_a, need, near)[0]
    response = client_for(near.person.user).post(
        reverse("needs:invitation_decline", args=[invitation.pk]), {"reply": "那天不在家"}
    )
    assert response["Location"] == INVITATIONS
    assert flash(response) == ["已婉拒，谢谢您的回复。"]
    invitation.refresh_from_db()
    assert (invitation.status, invitation.reply) == (InvitationStatus.DECLINED, "那天不在家")


def test_someone_elses_invitation_is_missing(city, grandma, near, far):
    invitation = invite(city.worker_a, own_need(grandma), near)[0]
    for user in (far.person.user, grandma.user, city.worker_a):
        client = client_for(user)
        for name in ("needs:invitation_accept", "needs:invitation_decline"):
            assert client.post(reverse(name, args=[invitation.pk])).status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING


def test_invitations_query_count_does_not_grow(city, grandma, near, django_assert_num_queries):
    client = client_for(near.person.user)
    invite(city.worker_a, own_need(grandma), near)
    matched_need(city, grandma, near)
    few = count_queries(client, INVITATIONS)
    for _ in range(4):
        invite(city.worker_a, own_need(grandma), near)
        matched_need(city, grandma, near)
    with django_assert_num_queries(few):
        response = client.get(INVITATIONS)
    assert len(response.context["pending"]) == 5
    assert len(response.context["page"].object_list) == 5


# --- 需求广场 and 我来帮忙 --------------------------------------------------------------------


def test_the_board_shows_open_needs_nearby_without_addresses(city, grandma, volunteer_b):
    meals = own_need(grandma)
    repair = own_need(grandma, description="家里水管漏水，请帮忙修理")
    response = client_for(volunteer_b.person.user).get(BOARD)
    assert response.status_code == 200
    assert [n.pk for n in response.context["page"].object_list] == [meals.pk, repair.pk]
    html = response.content.decode()
    assert re.findall(r'data-testid="area">([^<]+)<', html) == ["甲社区", "甲社区"]
    assert re.findall(r'data-testid="requester-name">([^<]+)<', html) == ["王**", "王**"]
    assert "3 号楼" not in html
    assert "王秀英" not in html
    filtered = client_for(volunteer_b.person.user).get(BOARD, {"category": repair.category_id})
    assert [n.pk for n in filtered.context["page"].object_list] == [repair.pk]


def test_board_query_count_does_not_grow(city, grandma, volunteer_b, django_assert_num_queries):
    client = client_for(volunteer_b.person.user)
    own_need(grandma)
    few = count_queries(client, BOARD)
    for _ in range(4):
        own_need(grandma)
    with django_assert_num_queries(few):
        response = client.get(BOARD)
    assert len(response.context["page"].object_list) == 5


def test_offering_help_from_the_board_and_the_requester_approves(city, grandma, volunteer_b):
    need = own_need(grandma)
    response = client_for(volunteer_b.person.user).post(
        reverse("needs:apply", args=[need.pk]), {"note": "我下午有空", "next": BOARD}
    )
    assert response["Location"] == BOARD
    assert flash(response) == ["已告诉求助人您愿意帮忙，对方确认后会通知您。"]
    application = Invitation.objects.get(need=need)
    assert (application.kind, application.reply) == (InvitationKind.APPLY, "我下午有空")
    assert client_for(volunteer_b.person.user).get(BOARD).context["page"].object_list == []

    client = client_for(grandma.user)
    page = client.get(detail_url(need))
    assert [r.name for r in page.context["applications"]] == ["孙**"]
    assert "我下午有空" in page.content.decode()
    response = client.post(detail_url(need), {"action": "approve", "invitation": application.pk})
    assert response["Location"] == detail_url(need)
    assert flash(response) == ["已请志愿者 孙** 帮忙，可以在下方留言沟通。"]
    need.refresh_from_db()
    assert (need.status, need.volunteer_id) == (NeedStatus.MATCHED, volunteer_b.pk)


def test_the_requester_declines_an_offer_of_help(city, grandma, volunteer_b):
    need = own_need(grandma)
    application = services.need_apply(
        actor=volunteer_b.person.user, need=need, volunteer=volunteer_b
    )
    response = client_for(grandma.user).post(
        detail_url(need), {"action": "decline", "invitation": application.pk}
    )
    assert flash(response) == ["已婉拒志愿者 孙** 的自荐。"]
    application.refresh_from_db()
    assert application.status == InvitationStatus.DECLINED
    need.refresh_from_db()
    assert need.status == NeedStatus.OPEN


def test_a_resident_who_is_not_a_volunteer_cannot_offer_help(city, grandma):
    need = own_need(make_resident(city.grid_a, "吴阿姨", username="auntie"), payment=Payment.POOL)
    response = client_for(grandma.user).post(reverse("needs:apply", args=[need.pk]))
    assert response.status_code == 404  # not on any board: the need is not theirs to see
    assert Invitation.objects.count() == 0


# --- from start to payment --------------------------------------------------------------------


def test_the_whole_job_through_the_pages_pays_and_records(city, grandma, near):
    need = own_need(grandma)
    invitation = invite(city.worker_a, need, near)[0]
    volunteer = client_for(near.person.user)
    volunteer.post(reverse("needs:invitation_accept", args=[invitation.pk]))

    response = volunteer.post(reverse("needs:start", args=[need.pk]))
    assert response["Location"] == detail_url(need)
    assert flash(response) == ["已开始服务。完成后请点“服务完成”。"]
    response = volunteer.post(
        reverse("needs:done", args=[need.pk]), {"minutes": "75", "note": "菜已送到"}
    )
    assert flash(response) == ["已标记服务完成，等待求助人确认。"]

    requester = client_for(grandma.user)
    page = requester.get(detail_url(need))
    assert 'data-testid="confirm-actions"' in page.content.decode()
    response = requester.post(
        reverse("needs:confirm", args=[need.pk]), {"rating": "5", "comment": "很及时"}
    )
    assert response["Location"] == detail_url(need)
    assert flash(response) == ["已确认完成，已向志愿者支付 1.25 小时时间币。谢谢您的评价！"]
    need.refresh_from_db()
    assert (need.status, need.rating, need.rating_comment, need.actual_minutes) == (
        NeedStatus.DONE,
        5,
        "很及时",
        75,
    )
    assert Account.objects.get(person=grandma).balance == 300 - 75
    assert Account.objects.get(person=near.person).balance == 75
    record = ServiceRecord.objects.get(volunteer=near)
    assert (record.minutes, record.source, record.status) == (
        75,
        RecordSource.NEED,
        RecordStatus.CONFIRMED,
    )


def test_confirming_without_enough_balance_changes_nothing(city, near):
    resident = make_resident(city.grid_a, "郑大妈", username="zheng")
    give_credits(resident, 60)
    need = own_need(resident)
    invitation = invite(city.worker_a, need, near)[0]
    services.invitation_accept(actor=near.person.user, invitation=invitation)
    services.need_mark_done(
        actor=near.person.user, access=access_for(near.person.user, need), minutes=120
    )
    response = client_for(resident.user).post(
        reverse("needs:confirm", args=[need.pk]), {"rating": "4"}
    )
    assert response["Location"] == detail_url(need)
    # The time bank's own refusal (LedgerRefusal), as a message.
    assert flash(response) == ["余额不足：账户“郑大妈（个人账户）”余额 1 小时，本次需 2 小时。"]
    need.refresh_from_db()
    assert (need.status, need.rating, need.record_id) == (NeedStatus.AWAITING, None, None)
    assert Account.objects.get(person=resident).balance == 60
    assert ServiceRecord.objects.filter(volunteer=near).count() == 0


def test_a_dispute_goes_to_the_worker(city, grandma, near):
    need = matched_need(city, grandma, near)
    services.need_mark_done(
        actor=near.person.user, access=access_for(near.person.user, need), minutes=30
    )
    url = reverse("needs:dispute", args=[need.pk])
    client = client_for(grandma.user)
    response = client.post(url, {"reason": ""})
    assert flash(response) == ["请说明异议内容。"]
    response = client.post(url, {"reason": "菜没有买齐"})
    assert flash(response) == ["已提出异议，社区工作人员会尽快处理。"]
    need.refresh_from_db()
    assert (need.status, need.dispute_reason) == (NeedStatus.DISPUTED, "菜没有买齐")


def test_a_worker_confirms_for_the_resident_and_returns_to_the_desk(city, grandma, near):
    need = matched_need(city, grandma, near)
    services.need_mark_done(
        actor=near.person.user, access=access_for(near.person.user, need), minutes=90
    )
    client = client_for(city.worker_a)
    url = reverse("needs:confirm", args=[need.pk])
    desk = reverse("needs:manage_detail", args=[need.pk])
    response = client.post(url, {"minutes": "60", "next": desk})
    assert response["Location"] == desk
    assert flash(response) == ["代为确认并支付时间币，须记录求助人的同意（如“本人电话同意”）。"]
    response = client.post(url, {"minutes": "60", "consent": "本人电话同意", "next": desk})
    assert response["Location"] == desk
    need.refresh_from_db()
    assert (need.status, need.actual_minutes) == (NeedStatus.DONE, 60)
    assert Account.objects.get(person=grandma).balance == 240


def test_a_requester_cannot_settle_a_different_time(city, grandma, near):
    need = matched_need(city, grandma, near)
    services.need_mark_done(
        actor=near.person.user, access=access_for(near.person.user, need), minutes=90
    )
    client_for(grandma.user).post(reverse("needs:confirm", args=[need.pk]), {"minutes": "5"})
    need.refresh_from_db()
    assert need.actual_minutes == 90  # the posted minutes are ignored for a requester
    assert Account.objects.get(person=grandma).balance == 300 - 90


def test_cancel_goes_only_to_a_safe_next(city, grandma, near):
    need = own_need(grandma)
    client = client_for(city.worker_a)
    url = reverse("needs:cancel", args=[need.pk])
    response = client.post(url, {"reason": "", "next": "https://evil.example/"})
    assert response["Location"] == detail_url(need)
    assert flash(response) == ["请说明取消原因。"]
    desk = reverse("needs:manage_list")
    response = client.post(url, {"reason": "家人已帮忙", "next": desk})
    assert response["Location"] == desk
    assert flash(response) == ["需求已取消。"]
    need.refresh_from_db()
    assert (need.status, need.cancel_reason) == (NeedStatus.CANCELLED, "家人已帮忙")


def test_a_volunteer_cannot_cancel_or_confirm(city, grandma, near):
    need = matched_need(city, grandma, near)
    client = client_for(near.person.user)
    response = client.post(reverse("needs:cancel", args=[need.pk]), {"reason": "不想去了"})
    assert flash(response) == ["只有求助人或工作人员可以取消需求。"]
    need.refresh_from_db()
    assert need.status == NeedStatus.MATCHED


def test_steps_answer_only_to_post(city, grandma):
    need = own_need(grandma)
    client = client_for(grandma.user)
    for name in ("needs:start", "needs:done", "needs:confirm", "needs:dispute", "needs:cancel"):
        assert client.get(reverse(name, args=[need.pk])).status_code == 405


def test_a_person_without_login_details_elsewhere_is_not_involved(city):
    # A resident record without a login does not make a need visible to anyone else.
    make_person(city.grid_a, "无账号")
    need = post_need(city.worker_a, make_resident(city.grid_a, "代发对象"), payment=Payment.NONE)
    response = client_for(city.worker_b).get(detail_url(need))
    assert response.status_code == 404
