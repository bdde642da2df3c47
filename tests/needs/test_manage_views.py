"""The worker's matching desk: the need board (filters, counts, export), posting for a resident
or an org, the matching screen (ranked volunteers with reasons, invitations, broadcast,
applications, disputes, confirming on a resident's behalf) and the offers of the area.
Worker A manages community A; worker B, of community B, must find every need of A missing."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from huzhu.common.models import AuditEntry
from huzhu.needs import services
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    Need,
    NeedChannel,
    NeedStatus,
    Offer,
    Payment,
    Urgency,
)
from huzhu.needs.services import OfferInput, offer_save
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.timebank.models import Account
from huzhu.volunteers.availability import describe
from tests.activities.clients import client_for
from tests.factories import City, UserFactory, grant, make_org
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

LIST = reverse("needs:manage_list")
NEW = reverse("needs:manage_new")
OFFERS = reverse("needs:manage_offers")
OFFER_NEW = reverse("needs:manage_offer_new")


@pytest.fixture
def city():
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    set_place(city.community_b, 36.670, 117.030)
    return city


@pytest.fixture
def worker_a(city) -> Client:
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city) -> Client:
    return client_for(city.worker_b)


@pytest.fixture
def supervisor(city) -> Client:
    user = UserFactory(username="supervisor-a")
    grant(user, city.community_a, Role.SUPERVISOR)
    return client_for(user)


def detail_url(need: Need) -> str:
    return reverse("needs:manage_detail", kwargs={"need_id": need.pk})


def need_url(name: str, need: Need, **kwargs: int) -> str:
    return reverse(f"needs:{name}", kwargs={"need_id": need.pk, **kwargs})


def text(response) -> str:
    return response.content.decode()


@dataclass
class Sent:
    location: str  # where the POST redirected to
    messages: list[str]  # what the page there showed


def submit(client: Client, url: str, data: dict | None = None) -> Sent:
    """POST and follow the redirect, like a browser."""
    response = client.post(url, data or {}, follow=True)
    assert response.status_code == 200
    assert len(response.redirect_chain) == 1
    return Sent(response.redirect_chain[0][0], [str(m) for m in response.context["messages"]])


def row_ids(response, attribute: str = "data-need-id") -> list[int]:
    return [int(n) for n in re.findall(rf'{attribute}="(\d+)"', text(response))]


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def resident_need(city, name: str = "王奶奶", username: str | None = None, **overrides) -> Need:
    resident = make_resident(city.grid_a, name, username=username)
    give_credits(resident, 600)
    return post_need(city.worker_a, resident, **overrides)


def matched(city, need: Need, volunteer) -> Need:
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[volunteer.pk]
    )
    invitation = volunteer.invitations.get(need=need)
    services.invitation_accept(actor=volunteer.person.user, invitation=invitation)
    return Need.objects.get(pk=need.pk)


def awaiting(city, need: Need, volunteer, minutes: int = 75) -> Need:
    matched(city, need, volunteer)
    user = volunteer.person.user
    services.need_mark_done(actor=user, access=access_for(user, need), minutes=minutes)
    return Need.objects.get(pk=need.pk)


def disputed(city, need: Need, volunteer, resident_user) -> Need:
    awaiting(city, need, volunteer)
    services.need_dispute(
        actor=resident_user, access=access_for(resident_user, need), reason="只做了一半"
    )
    return Need.objects.get(pk=need.pk)


# --- access ---------------------------------------------------------------------------------


def test_every_page_renders_for_worker_a(city, worker_a):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 300)
    need = post_need(city.worker_a, resident)
    urls = [
        LIST,
        f"{LIST}?status=open&unmatched=on&sort=-urgency",
        NEW,
        f"{NEW}?q=王",
        f"{NEW}?requester={resident.pk}",
        f"{NEW}?as=org",
        detail_url(need),
        OFFERS,
        OFFER_NEW,
    ]
    for url in urls:
        response = worker_a.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "text/html; charset=utf-8"
    page = text(worker_a.get(detail_url(need)))
    assert "王奶奶" in page  # workers see full names
    assert "甲社区 3 号楼 2 单元 501" in page  # and the address
    assert reverse("needs:detail", kwargs={"need_id": need.pk}) in page


def test_worker_b_finds_a_need_of_a_missing(city, worker_b):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 300)
    need = post_need(city.worker_a, resident)
    assert worker_b.get(detail_url(need)).status_code == 404
    for name in ("manage_invite", "manage_broadcast", "dispute_return", "dispute_close"):
        assert worker_b.post(need_url(name, need), {"volunteer_id": "1"}).status_code == 404
    assert worker_b.get(f"{NEW}?requester={resident.pk}").status_code == 404
    assert row_ids(worker_b.get(LIST)) == []
    assert "王奶奶" not in text(worker_b.get(f"{NEW}?q=王"))
    assert Invitation.objects.count() == 0


def test_pages_need_login(city):
    need = resident_need(city)
    client = Client()
    for url in (LIST, NEW, detail_url(need), OFFERS, OFFER_NEW):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login"))
    response = client.post(need_url("manage_invite", need), {"volunteer_id": "1"})
    assert response.status_code == 302
    assert Invitation.objects.count() == 0


def test_a_resident_without_a_role_may_not_use_the_desk(city):
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(resident, 300)
    need = post_need(city.worker_a, resident)
    client = client_for(resident.user)
    assert client.get(LIST).status_code == 403
    assert client.get(NEW).status_code == 403
    assert client.get(detail_url(need)).status_code == 404  # her own page is needs:detail


def test_supervisor_sees_the_matching_screen_read_only(city, supervisor):
    need = resident_need(city, urgency=Urgency.URGENT)
    near = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    response = supervisor.get(detail_url(need))
    page = text(response)
    assert response.status_code == 200
    assert 'data-testid="read-only"' in page
    assert re.findall(r'data-testid="candidate-name">([^<]+)<', page) == ["李近"]
    assert 'name="volunteer_id"' not in page
    assert 'data-testid="broadcast-form"' not in page
    assert 'data-testid="cancel-form"' not in page
    assert row_ids(supervisor.get(LIST)) == [need.pk]
    assert supervisor.get(NEW).status_code == 403
    assert supervisor.get(OFFER_NEW).status_code == 403
    response = submit(supervisor, need_url("manage_invite", need), {"volunteer_id": str(near.pk)})
    assert response.location == detail_url(need)
    assert response.messages == ["只有求助人或工作人员可以邀请志愿者。"]
    assert Invitation.objects.count() == 0


# --- the need board ---------------------------------------------------------------------------


@pytest.fixture
def board(city):
    """Needs of every kind in community A (and one in B)."""
    grandma = make_resident(city.grid_a, "王奶奶")
    grandpa = make_resident(city.community_a, "赵爷爷")
    other = make_resident(city.community_b, "钱阿姨")
    for person in (grandma, grandpa, other):
        give_credits(person, 900)
    later = tomorrow_at(9)[0] + dt.timedelta(days=3)
    rows = {
        "meal": post_need(city.worker_a, grandma),  # 助餐, normal, open
        "repair": post_need(
            city.worker_a,
            grandpa,
            description="家里水管漏水，请帮忙修理",
            urgency=Urgency.URGENT,
            starts_at=later,
            ends_at=later + dt.timedelta(hours=2),
        ),
        "org": post_need(
            city.worker_a,
            org=city.grid_a,
            description="楼道卫生打扫",
            payment=Payment.POOL,
            urgency=Urgency.SOON,
        ),
        "cancelled": post_need(city.worker_a, grandpa, description="陪我去医院复查"),
        "b": post_need(city.worker_b, other),
    }
    services.need_cancel(
        actor=city.worker_a,
        access=access_for(city.worker_a, rows["cancelled"]),
        reason="家人陪同",
    )
    return rows


def test_the_board_lists_needs_of_the_scope_newest_first_with_counts(city, worker_a, board):
    response = worker_a.get(LIST)
    ids = [board[k].pk for k in ("cancelled", "org", "repair", "meal")]
    assert row_ids(response) == ids
    page = text(response)
    assert 'data-count="all">4<' in page
    assert 'data-count="open">3<' in page
    assert 'data-count="cancelled">1<' in page
    assert 'data-count="done">0<' in page
    requesters = re.findall(r'data-testid="requester">(.*?)</td>', page)
    assert requesters[2:] == ["赵爷爷", "王奶奶"]
    assert "组织发布" in requesters[1]
    assert "钱阿姨" not in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=open", ["org", "repair", "meal"]),
        ("status=cancelled", ["cancelled"]),
        ("unmatched=on", ["org", "repair", "meal"]),
        ("urgency=urgent", ["repair"]),
        ("payment=pool", ["org"]),
        ("q=赵爷爷", ["cancelled", "repair"]),
        ("q=漏水", ["repair"]),
        ("sort=-urgency&status=open", ["repair", "org", "meal"]),
    ],
)
def test_filters_find_exact_rows(city, worker_a, board, query, expected):
    response = worker_a.get(f"{LIST}?{query}")
    assert row_ids(response) == [board[k].pk for k in expected]


def test_filters_by_org_category_number_and_dates(city, worker_a, board):
    grid = city.grid_a.pk
    assert row_ids(worker_a.get(f"{LIST}?org={grid}")) == [board["org"].pk, board["meal"].pk]
    category = need_category("家居维修").pk
    assert row_ids(worker_a.get(f"{LIST}?category={category}")) == [board["repair"].pk]
    number = board["meal"].number
    assert row_ids(worker_a.get(f"{LIST}?q={number}")) == [board["meal"].pk]
    later = (timezone.localdate() + dt.timedelta(days=4)).isoformat()
    assert row_ids(worker_a.get(f"{LIST}?date_from={later}")) == [board["repair"].pk]
    assert row_ids(worker_a.get(f"{LIST}?date_to={later}&status=open")) == [
        board["org"].pk,
        board["repair"].pk,
        board["meal"].pk,
    ]
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    assert row_ids(worker_a.get(f"{LIST}?date_to={tomorrow}&status=open")) == [
        board["org"].pk,
        board["meal"].pk,
    ]
    # an org outside the scope is not a choice: the filter is dropped, the scope still holds
    outside = city.community_b.pk
    assert board["b"].pk not in row_ids(worker_a.get(f"{LIST}?org={outside}"))


def test_the_board_refuses_a_full_number_in_the_search(city, worker_a, board):
    response = worker_a.get(f"{LIST}?q=13912345678")
    assert "请用标题、描述、需求编号或求助人姓名搜索" in text(response)
    assert len(row_ids(response)) == 4


def test_the_board_partial_for_htmx(city, worker_a, board):
    response = worker_a.get(
        f"{LIST}?status=open", headers={"HX-Request": "true", "HX-Target": "need-results"}
    )
    page = text(response)
    assert "<html" not in page
    assert row_ids(response) == [board[k].pk for k in ("org", "repair", "meal")]


def test_board_query_count_does_not_grow_with_rows(city, worker_a):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 3000)
    helper = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    first = post_need(city.worker_a, resident)
    matched(city, first, helper)
    few = count_queries(worker_a, LIST)
    for n in range(6):
        need = post_need(city.worker_a, resident, description=f"帮我买菜 第{n}次")
        if n % 2:
            matched(city, need, helper)
    post_need(city.worker_a, org=city.community_a, description="楼道清洁", payment=Payment.NONE)
    assert len(row_ids(worker_a.get(LIST))) == 8
    assert count_queries(worker_a, LIST) == few


def test_export_has_the_rows_and_is_audited(city, worker_a, board):
    page = text(worker_a.get(f"{LIST}?status=open&page=1"))
    assert 'href="?status=open&amp;export=xlsx"' in page  # the current filter
    response = worker_a.get(f"{LIST}?status=open&export=xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("导出人：worker-a 时间：")
    assert rows[1][:3] == ("需求编号", "标题", "求助人")
    numbers = [board[k].number for k in ("org", "repair", "meal")]
    assert [r[0] for r in rows[2:]] == numbers
    assert [r[2] for r in rows[2:]] == [None, "赵爷爷", "王奶奶"]
    assert [r[10] for r in rows[2:]] == ["待匹配", "待匹配", "待匹配"]
    entry = AuditEntry.objects.get(verb="need.export")
    assert entry.actor == city.worker_a
    assert entry.data == {"filter": "状态：待匹配", "rows": 3}
    assert entry.org == city.community_a


def test_an_empty_export_leaves_no_audit_entry(city, worker_a, board):
    response = worker_a.get(f"{LIST}?q=没有这样的需求&export=xlsx")
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2
    assert not AuditEntry.objects.filter(verb="need.export").exists()


# --- 代发需求 -----------------------------------------------------------------------------


def need_post(**overrides) -> dict:
    data = {
        "description": "帮我买菜，腿脚不方便下楼",
        "category": "",
        "title": "",
        "day": (timezone.localdate() + dt.timedelta(days=1)).isoformat(),
        "period": "am",
        "start_time": "",
        "end_time": "",
        "end_day": "",
        "address": "甲社区 3 号楼 2 单元 501",
        "latitude": "",
        "longitude": "",
        "urgency": Urgency.NORMAL,
        "payment": Payment.REQUESTER,
        "minutes": "60",
    }
    data.update(overrides)
    return data


def test_the_worker_finds_the_resident_in_scope(city, worker_a):
    mine = make_resident(city.grid_a, "王奶奶")
    make_resident(city.community_b, "王大爷")
    response = worker_a.get(f"{NEW}?q=王&description=想找人陪聊天")
    assert row_ids(response, "data-person-id") == [mine.pk]
    assert (
        f"?description=%E6%83%B3%E6%89%BE%E4%BA%BA%E9%99%AA%E8%81%8A%E5%A4%A9&amp;requester={mine.pk}"
        in text(response)
    )
    full = worker_a.get(f"{NEW}?q=110101194803080011")
    assert "请勿输入完整证件号或手机号" in text(full)


def test_prefill_from_a_visit(city, worker_a):
    resident = make_resident(city.grid_a, "王奶奶")
    resident.address = "甲社区 5 号楼 101"
    resident.save(update_fields=["address"])
    response = worker_a.get(f"{NEW}?requester={resident.pk}&description=家里灯泡坏了")
    page = text(response)
    assert ">家里灯泡坏了</textarea>" in page
    assert 'value="甲社区 5 号楼 101"' in page
    assert re.findall(r'data-testid="suggested-name">([^<]+)<', page) == ["家居维修"]


def test_suggestions_by_htmx(city, worker_a):
    response = worker_a.get(
        f"{NEW}?description=帮我买菜",
        headers={"HX-Request": "true", "HX-Target": "need-suggestions"},
    )
    page = text(response)
    assert "<html" not in page
    assert re.findall(r'data-testid="suggested-name">([^<]+)<', page) == ["助餐", "跑腿代办"]


def test_post_a_need_for_a_resident(city, worker_a):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 300)
    response = submit(worker_a, f"{NEW}?requester={resident.pk}", need_post())
    need = Need.objects.get()
    assert response.location == detail_url(need)
    assert (need.requester, need.channel, need.posted_by) == (
        resident,
        NeedChannel.WORKER,
        city.worker_a,
    )
    assert (need.category.name, need.minutes, need.org) == ("助餐", 60, city.grid_a)
    start = timezone.localtime(need.starts_at)
    assert (start.hour, timezone.localtime(need.ends_at).hour) == (8, 12)


def test_post_an_exact_window_and_qualifications(city, worker_a):
    from huzhu.volunteers.models import QualificationType

    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 300)
    nurse, _created = QualificationType.objects.get_or_create(name="护士执业证书")
    data = need_post(
        description="需要量血压",
        period="exact",
        start_time="15:30",
        end_time="16:30",
        qualifications=[str(nurse.pk)],
        urgency=Urgency.SOON,
    )
    worker_a.post(f"{NEW}?requester={resident.pk}", data)
    need = Need.objects.get()
    assert timezone.localtime(need.starts_at).strftime("%H:%M") == "15:30"
    assert timezone.localtime(need.ends_at).strftime("%H:%M") == "16:30"
    assert list(need.qualifications.all()) == [nurse]
    assert need.urgency == Urgency.SOON


def test_a_refused_post_shows_the_services_words_and_creates_nothing(city, worker_a):
    resident = make_resident(city.grid_a, "王奶奶")  # no credits
    yesterday = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    response = worker_a.post(f"{NEW}?requester={resident.pk}", need_post(day=yesterday))
    assert response.status_code == 400
    assert "开始时间已过去，请选择现在或以后的时间。" in text(response)
    response = worker_a.post(f"{NEW}?requester={resident.pk}", need_post())
    assert response.status_code == 400
    assert "时间币余额不足：现有 0 小时，本次预计需要 1 小时。" in text(response)
    response = worker_a.post(
        f"{NEW}?requester={resident.pk}", need_post(period="exact", start_time="10:00")
    )
    assert "请填写结束时间。" in text(response)
    assert Need.objects.count() == 0


def test_post_in_an_orgs_name(city, worker_a):
    page = text(worker_a.get(f"{NEW}?as=org"))
    assert 'value="requester"' not in page  # only the pool or none
    data = need_post(description="楼道卫生打扫", payment=Payment.POOL, org=str(city.grid_a.pk))
    response = submit(worker_a, f"{NEW}?as=org", data)
    need = Need.objects.get()
    assert response.location == detail_url(need)
    assert (need.requester, need.channel, need.org, need.payment) == (
        None,
        NeedChannel.ORG,
        city.grid_a,
        Payment.POOL,
    )
    refused = worker_a.post(f"{NEW}?as=org", need_post(org=str(city.grid_a.pk)))
    assert refused.status_code == 400
    outside = worker_a.post(f"{NEW}?as=org", need_post(org=str(city.grid_b.pk), payment="pool"))
    assert outside.status_code == 400
    assert Need.objects.count() == 1


# --- the matching screen ------------------------------------------------------------------------


@pytest.fixture
def ranked(city):
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(resident, 600)
    near = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    far = helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    helper_volunteer(city.grid_a, "钱理发", "barber", categories=("理发",))
    need = post_need(city.worker_a, resident)
    return need, near, far, resident


def test_the_ranked_list_shows_names_scores_parts_and_reasons(city, worker_a, ranked):
    need, near, _far, _resident = ranked
    page = text(worker_a.get(detail_url(need)))
    assert re.findall(r'data-testid="candidate-name">([^<]+)<', page) == ["李近", "赵远"]
    assert re.findall(r'data-testid="candidate-score">(\d+)<', page) == ["92", "69"]
    first = page[page.index(f'data-volunteer-id="{near.pk}"') :]
    parts = re.findall(r'data-part="\w+">([^<]+)<', first)[:5]
    assert parts == ["服务契合 24/30", "距离 24/25", "时间 20/20", "近期负担 15/15", "可靠性 9/10"]
    reasons = re.findall(r"</i> ([^<]+)</li>", first[: first.index("</ul>")])
    slots = describe(1 << (timezone.localtime(need.starts_at).weekday() * 3))
    assert reasons == [
        "发布了“跑腿代办”服务",
        "距离约 0.1 公里",
        f"需求时段（{slots}）有空",
        "近 30 天未承担服务，可分担",
        "暂无评价",
        "近 90 天无缺席",
    ]
    assert f'name="volunteer_id" value="{near.pk}"' in page
    assert 'data-testid="broadcast-form"' not in page  # a normal need


def test_invite_creates_invitations(city, worker_a, ranked):
    need, near, far, _resident = ranked
    response = submit(
        worker_a, need_url("manage_invite", need), {"volunteer_id": [str(near.pk), str(far.pk)]}
    )
    assert response.location == detail_url(need)
    assert response.messages == ["已邀请 2 位志愿者：李近、赵远。"]
    invitations = Invitation.objects.filter(need=need).order_by("volunteer_id")
    assert [(i.volunteer_id, i.kind, i.status, i.invited_by) for i in invitations] == [
        (near.pk, InvitationKind.INVITE, InvitationStatus.PENDING, city.worker_a),
        (far.pk, InvitationKind.INVITE, InvitationStatus.PENDING, city.worker_a),
    ]
    assert [i.score for i in invitations] == [92, 69]
    page = text(worker_a.get(detail_url(need)))
    assert re.findall(r'data-testid="candidate-name">([^<]+)<', page) == []
    assert sorted(row_ids(worker_a.get(detail_url(need)), "data-invitation-id")) == sorted(
        i.pk for i in invitations
    )
    again = submit(worker_a, need_url("manage_invite", need), {"volunteer_id": str(near.pk)})
    assert again.messages == ["所选志愿者都已邀请过。"]
    none = submit(worker_a, need_url("manage_invite", need), {})
    assert none.messages == ["请选择要邀请的志愿者。"]
    assert Invitation.objects.count() == 2


def test_broadcast_is_refused_for_a_normal_need(city, worker_a, ranked):
    need, *_rest = ranked
    response = submit(worker_a, need_url("manage_broadcast", need), {"top": "5"})
    assert response.location == detail_url(need)
    assert response.messages == ["只有较急或紧急的需求可以广播。"]
    assert Invitation.objects.count() == 0


def test_broadcast_an_urgent_need_to_the_best(city, worker_a):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 300)
    near = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    helper_volunteer(city.grid_a, "赵远", "far", place=(36.690, 117.060))
    need = post_need(city.worker_a, resident, urgency=Urgency.URGENT)
    page = text(worker_a.get(detail_url(need)))
    assert 'data-testid="broadcast-form"' in page
    assert 'name="top" id="hz-top" value="5"' in page
    response = submit(worker_a, need_url("manage_broadcast", need), {"top": "1"})
    assert response.messages == ["已向 1 位志愿者发出紧急广播，先接受者承接。"]
    invitation = Invitation.objects.get()
    assert (invitation.volunteer, invitation.kind) == (near, InvitationKind.BROADCAST)


def test_approve_and_decline_applications(city, worker_a, ranked):
    need, near, far, _resident = ranked
    first = services.need_apply(actor=near.person.user, need=need, volunteer=near, note="我有空")
    second = services.need_apply(actor=far.person.user, need=need, volunteer=far)
    page = text(worker_a.get(detail_url(need)))
    assert 'data-testid="applications"' in page
    assert "我有空" in page
    response = submit(
        worker_a,
        need_url("application_decline", need, invitation_id=second.pk),
        {"reply": "路程太远"},
    )
    assert response.messages == ["已婉拒 赵远 的自荐。"]
    second.refresh_from_db()
    assert (second.status, second.reply) == (InvitationStatus.DECLINED, "路程太远")
    response = submit(worker_a, need_url("application_approve", need, invitation_id=first.pk))
    assert response.messages == ["已确认由 李近 承接此需求。"]
    need.refresh_from_db()
    assert (need.status, need.volunteer) == (NeedStatus.MATCHED, near)
    again = submit(worker_a, need_url("application_approve", need, invitation_id=first.pk))
    assert again.messages == [f"需求{need.number}已由其他志愿者承接或已关闭。"]


def test_an_invitation_is_not_an_application(city, worker_a, ranked):
    need, near, _far, _resident = ranked
    (invitation,) = services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, need), volunteer_ids=[near.pk]
    )
    url = need_url("application_approve", need, invitation_id=invitation.pk)
    assert worker_a.post(url).status_code == 404


def test_confirm_on_behalf_needs_the_residents_consent(city, worker_a, ranked):
    need, near, _far, resident = ranked
    need = awaiting(city, need, near, minutes=75)
    page = text(worker_a.get(detail_url(need)))
    assert 'data-testid="confirm-form"' in page
    assert 'name="consent"' in page
    confirm = need_url("confirm", need)
    data = {"rating": "5", "comment": "很及时", "minutes": "75", "next": detail_url(need)}
    response = submit(worker_a, confirm, {**data, "consent": ""})
    assert response.location == detail_url(need)
    assert response.messages == ["代为确认并支付时间币，须记录求助人的同意（如“本人电话同意”）。"]
    need.refresh_from_db()
    assert need.status == NeedStatus.AWAITING
    assert Account.objects.get(person=resident).balance == 600
    assert not Account.objects.filter(person=near.person, balance__gt=0).exists()

    response = submit(worker_a, confirm, {**data, "consent": "本人电话同意"})
    assert response.location == detail_url(need)
    need.refresh_from_db()
    assert (need.status, need.rating, need.actual_minutes) == (NeedStatus.DONE, 5, 75)
    assert Account.objects.get(person=resident).balance == 600 - 75
    assert Account.objects.get(person=near.person).balance == 75


def test_dispute_return_and_close(city, worker_a, ranked):
    need, near, _far, resident = ranked
    need = disputed(city, need, near, resident.user)
    page = text(worker_a.get(detail_url(need)))
    assert 'data-testid="dispute-form"' in page
    assert "只做了一半" in page
    empty = submit(worker_a, need_url("dispute_return", need), {"note": ""})
    assert empty.messages == ["请写明处理意见。"]
    response = submit(worker_a, need_url("dispute_return", need), {"note": "请补做剩余部分"})
    assert response.messages == ["已退回志愿者继续服务，处理意见已发到留言。"]
    need.refresh_from_db()
    assert need.status == NeedStatus.IN_SERVICE
    user = near.person.user
    services.need_mark_done(actor=user, access=access_for(user, need), minutes=30)
    services.need_dispute(
        actor=resident.user, access=access_for(resident.user, need), reason="还是没做完"
    )
    response = submit(worker_a, need_url("dispute_close", need), {"note": "双方同意不计时长"})
    assert response.messages == ["已关闭该需求，不计时长、不支付时间币。"]
    need.refresh_from_db()
    assert (need.status, need.cancel_reason) == (NeedStatus.CANCELLED, "双方同意不计时长")


def test_cancel_from_the_matching_screen(city, worker_a, ranked):
    need, *_rest = ranked
    assert 'data-testid="cancel-form"' in text(worker_a.get(detail_url(need)))
    response = submit(
        worker_a, need_url("cancel", need), {"reason": "家人已帮忙", "next": detail_url(need)}
    )
    assert response.location == detail_url(need)
    need.refresh_from_db()
    assert need.status == NeedStatus.CANCELLED


def test_unit_offers_covering_the_category_are_shown(city, worker_a, ranked):
    need, *_rest = ranked
    canteen = make_org(OrgKind.UNIT, "幸福食堂", city.community_a)
    offer_save(
        actor=city.worker_a,
        org=canteen,
        scope=Scope.for_user(city.worker_a),
        data=OfferInput(title="老年助餐", category_ids=[need_category("助餐").pk]),
    )
    page = text(worker_a.get(detail_url(need)))
    assert "幸福食堂：老年助餐" in page


def test_detail_query_count_does_not_grow_with_candidates_or_invitations(city, worker_a):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 900)
    small = post_need(city.worker_a, resident)
    first = helper_volunteer(city.grid_a, "李一", "v1", place=(36.661, 117.021))
    second = helper_volunteer(city.grid_a, "李二", "v2", place=(36.662, 117.021))
    services.need_invite(
        actor=city.worker_a, access=access_for(city.worker_a, small), volunteer_ids=[first.pk]
    )
    few = count_queries(worker_a, detail_url(small))
    page = text(worker_a.get(detail_url(small)))
    assert re.findall(r'data-testid="candidate-name">([^<]+)<', page) == ["李二"]

    large = post_need(city.worker_a, resident, description="帮我买菜 周末")
    others = [
        helper_volunteer(city.grid_a, f"张{n}", f"z{n}", place=(36.661 + n / 1000, 117.02))
        for n in range(4)
    ]
    services.need_invite(
        actor=city.worker_a,
        access=access_for(city.worker_a, large),
        volunteer_ids=[first.pk, second.pk, others[0].pk],
    )
    services.need_apply(actor=others[1].person.user, need=large, volunteer=others[1])
    page = text(worker_a.get(detail_url(large)))
    assert len(re.findall(r'data-testid="candidate-name">', page)) == 2
    assert len(row_ids(worker_a.get(detail_url(large)), "data-invitation-id")) == 5
    assert count_queries(worker_a, detail_url(large)) == few


# --- offers ------------------------------------------------------------------------------------


def test_offers_list_and_filter(city, worker_a):
    volunteer = helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    helper_volunteer(city.grid_b, "孙乙", "b1")
    canteen = make_org(OrgKind.UNIT, "幸福食堂", city.community_a)
    unit = offer_save(
        actor=city.worker_a,
        org=canteen,
        scope=Scope.for_user(city.worker_a),
        data=OfferInput(
            title="老年助餐", category_ids=[need_category("助餐").pk], availability=0b111
        ),
    )
    response = worker_a.get(OFFERS)
    mine = Offer.objects.get(volunteer=volunteer)
    assert row_ids(response, "data-offer-id") == [unit.pk, mine.pk]
    page = text(response)
    assert "周一全天" in page
    assert "李近" in page
    assert "孙乙" not in page
    assert row_ids(worker_a.get(f"{OFFERS}?units=on"), "data-offer-id") == [unit.pk]
    category = need_category("跑腿代办").pk
    assert row_ids(worker_a.get(f"{OFFERS}?category={category}"), "data-offer-id") == [mine.pk]


def test_offers_query_count_does_not_grow_with_rows(city, worker_a):
    helper_volunteer(city.grid_a, "李一", "v1")
    few = count_queries(worker_a, OFFERS)
    for n in range(4):
        helper_volunteer(city.grid_a, f"张{n}", f"z{n}", categories=("跑腿代办", "助餐"))
    canteen = make_org(OrgKind.UNIT, "幸福食堂", city.community_a)
    offer_save(
        actor=city.worker_a,
        org=canteen,
        scope=Scope.for_user(city.worker_a),
        data=OfferInput(title="老年助餐", category_ids=[need_category("助餐").pk]),
    )
    assert len(row_ids(worker_a.get(OFFERS), "data-offer-id")) == 6
    assert count_queries(worker_a, OFFERS) == few


def test_record_a_units_offer(city, worker_a):
    canteen = make_org(OrgKind.UNIT, "幸福食堂", city.community_a)
    make_org(OrgKind.UNIT, "乙社区超市", city.community_b)
    page = text(worker_a.get(OFFER_NEW))
    assert "幸福食堂" in page
    assert "乙社区超市" not in page
    data = {
        "org": str(canteen.pk),
        "title": "老年助餐",
        "categories": [str(need_category("助餐").pk)],
        "description": "每天中午供应老年餐",
        "availability": ["mon_am", "tue_am"],
        "address": "甲社区 1 号楼底商",
        "latitude": "36.660500",
        "longitude": "117.020500",
    }
    response = submit(worker_a, OFFER_NEW, data)
    assert response.location == OFFERS
    assert response.messages == ["已登记 幸福食堂 的服务“老年助餐”。"]
    offer = Offer.objects.get()
    assert (offer.org, offer.volunteer, offer.title, offer.availability) == (
        canteen,
        None,
        "老年助餐",
        0b1001,
    )
    assert [c.name for c in offer.categories.all()] == ["助餐"]
    assert offer.latitude == pytest.approx(36.6605)
    refused = worker_a.post(OFFER_NEW, {**data, "categories": []})
    assert refused.status_code == 400
    assert "请至少选择一项可提供的服务。" in text(refused)
    assert Offer.objects.count() == 1
