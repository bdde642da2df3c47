"""The public board of civic reports (公示栏) and the photo route: what the public may see
(never who reported), the filters, the timeline of public steps, and who may fetch which
photo."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from huzhu.desk.models import Channel, PhotoKind, Ticket, TicketPhoto
from huzhu.desk.services import (
    FollowUp,
    photo_publish,
    ticket_accept,
    ticket_acknowledge,
    ticket_assign,
    ticket_follow_up,
    ticket_link,
    ticket_resolve,
    ticket_return,
)
from tests.activities.clients import client_for
from tests.desk.factories import access, patrol_team, report, team_leader
from tests.factories import UserFactory
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

BOARD = reverse("desk:public_reports")


def detail(ticket: Ticket) -> str:
    return reverse("desk:public_report", args=[ticket.pk])


def photo_url(photo: TicketPhoto) -> str:
    return reverse("desk:photo", args=[photo.pk])


def jpeg(name: str = "snap.jpg") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 30, 200)).save(out, format="JPEG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    settings.HUZHU_DESK_RATE_PER_DAY = 100


@pytest.fixture
def resident(city):
    return make_resident(city.grid_a, "李秀兰", username="lixiulan88")


@pytest.fixture
def team(city):
    return patrol_team(city.community_a, city.grid_a)


@pytest.fixture
def leader(team):
    return team_leader(team, "patrol-a")


def close_with_rating(city, leader, resident, ticket: Ticket, comment: str = "很及时") -> Ticket:
    ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_acknowledge(actor=leader, access=access(leader, ticket))
    ticket_resolve(
        actor=leader, access=access(leader, ticket), result="已清理干净", photos=[jpeg("done.jpg")]
    )
    return ticket_follow_up(
        actor=resident.user,
        access=access(resident.user, ticket),
        data=FollowUp(satisfied=True, rating=5, comment=comment),
    )


def board_ids(response) -> list[int]:
    return [t.pk for t in response.context["page"].object_list]


# --- the board --------------------------------------------------------------------------------


def test_board_never_shows_who_reported(city, resident, leader):
    resident.user.first_name = "秀兰"
    resident.user.save(update_fields=["first_name"])
    closed = report(resident.user, city.grid_a, description="李秀兰家门口贴满小广告")
    close_with_rating(city, leader, resident, closed, comment="李秀兰很满意")
    phoned = report(
        city.worker_a,
        city.grid_a,
        code="civic-stairwell",
        channel=Channel.PHONE,
        description="楼道堆满纸箱",
        contact_name="刘建国",
        contact_phone="13800138000",
    )
    response = Client().get(BOARD)
    assert response.status_code == 200
    assert board_ids(response) == [phoned.pk, closed.pk]
    html = response.content.decode()
    for secret in (
        "李秀兰",
        "李**",
        "秀兰",
        resident.user.username,
        resident.phone_masked,
        "刘建国",
        "13800138000",
        "138****8000",
        "贴满小广告",  # the description is the resident's own words
        "楼道堆满纸箱",
        "很满意",
    ):
        assert secret not in html, secret
    for ticket in (closed, phoned):
        page = Client().get(detail(ticket)).content.decode()
        for secret in ("李秀兰", "刘建国", "13800138000", "138****8000", "很满意", "lixiulan88"):
            assert secret not in page, secret


def test_opted_in_reporter_is_shown_masked(city, resident):
    ticket = report(resident.user, city.grid_a, reporter_public=True)
    phoned = report(
        city.worker_a,
        city.grid_a,
        channel=Channel.PHONE,
        contact_name="欧阳明月",
        contact_phone="13800138000",
        reporter_public=True,
    )
    html = Client().get(BOARD).content.decode()
    assert "反映人：李**" in html and "反映人：欧阳**" in html
    assert "李秀兰" not in html and "欧阳明月" not in html
    assert "李**" in Client().get(detail(ticket)).content.decode()
    assert "欧阳**" in Client().get(detail(phoned)).content.decode()


def test_board_shows_category_place_status_and_result(city, resident, leader):
    waiting = report(resident.user, city.grid_a, address="5号楼东侧")
    working = report(resident.user, city.grid_a, code="civic-pets", address="中心绿地")
    ticket_accept(actor=city.worker_a, access=access(city.worker_a, working))
    done = report(resident.user, city.grid_a, code="civic-litter", address="背街小巷")
    close_with_rating(city, leader, resident, done)
    response = Client().get(BOARD)
    rows = {t.pk: t for t in response.context["page"].object_list}
    assert [
        (rows[t.pk].public_status, str(rows[t.pk].public_status_label))
        for t in (waiting, working, done)
    ] == [
        ("registered", "待受理"),
        ("in_progress", "办理中"),
        ("closed", "已办结"),
    ]
    html = response.content.decode()
    assert "甲社区 · 甲社区第一网格 · 5号楼东侧" in html
    assert "宠物粪便污染绿地" in html and "乱贴小广告" in html
    assert html.count('data-testid="result"') == 1 and "已清理干净" in html
    [result_photo] = rows[done.pk].public_photos
    assert result_photo.kind == PhotoKind.RESULT
    assert photo_url(result_photo) in html


def test_board_hides_private_matters_and_duplicates(city, resident):
    civic = report(resident.user, city.grid_a)
    complaint = report(
        resident.user, city.grid_a, code="complaint-property", description="电梯坏了"
    )
    duplicate = report(resident.user, city.grid_a, description="又看到小广告")
    ticket_link(actor=city.worker_a, access=access(city.worker_a, duplicate), original=civic)
    response = Client().get(BOARD)
    assert board_ids(response) == [civic.pk]
    assert Client().get(detail(civic)).status_code == 200
    assert Client().get(detail(complaint)).status_code == 404
    assert Client().get(detail(duplicate)).status_code == 404
    assert Client().get(reverse("desk:public_report", args=[999999])).status_code == 404


def test_board_filters(city, resident, leader):
    person_b = make_resident(city.grid_b, "王大爷", username="wang")
    a_open = report(resident.user, city.grid_a)
    a_done = report(resident.user, city.grid_a, code="civic-litter")
    close_with_rating(city, leader, resident, a_done)
    b_open = report(person_b.user, city.grid_b, code="civic-litter")
    client = Client()
    assert board_ids(client.get(BOARD)) == [b_open.pk, a_done.pk, a_open.pk]
    assert board_ids(client.get(BOARD, {"org": city.community_a.pk})) == [a_done.pk, a_open.pk]
    assert board_ids(client.get(BOARD, {"org": city.community_b.pk})) == [b_open.pk]
    assert board_ids(client.get(BOARD, {"org": city.street.pk})) == [
        b_open.pk,
        a_done.pk,
        a_open.pk,
    ]
    assert board_ids(client.get(BOARD, {"status": "open"})) == [b_open.pk, a_open.pk]
    assert board_ids(client.get(BOARD, {"status": "closed"})) == [a_done.pk]
    litter = a_done.matter_type_id
    assert board_ids(client.get(BOARD, {"category": litter})) == [b_open.pk, a_done.pk]
    assert board_ids(
        client.get(BOARD, {"org": city.community_a.pk, "category": litter, "status": "closed"})
    ) == [a_done.pk]
    # An unknown org filters nothing away; the other filters still apply.
    assert board_ids(client.get(BOARD, {"org": 999999, "status": "closed"})) == [a_done.pk]
    choices = [label for _value, label in client.get(BOARD).context["form"].fields["org"].choices]
    assert choices == ["全部街道和社区", "解放路街道", "— 甲社区", "— 乙社区"]


def test_board_pages_keep_the_filters(city, resident):
    for n in range(21):
        report(resident.user, city.grid_a, description=f"第{n}处")
    response = Client().get(BOARD, {"status": "open"})
    assert len(response.context["page"].object_list) == 20
    assert "?status=open&amp;page=2" in response.content.decode()
    assert len(Client().get(BOARD, {"status": "open", "page": 2}).context["page"].object_list) == 1


def _queries(url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert Client().get(url).status_code == 200
    return len(ctx.captured_queries)


def test_board_query_count_does_not_grow_with_rows(city, resident, leader):
    person_b = make_resident(city.grid_b, "王大爷", username="wang")
    first = report(resident.user, city.grid_a, photos=[jpeg()])
    close_with_rating(city, leader, resident, first)
    one = _queries(BOARD)
    for n in range(4):
        ticket = report(resident.user, city.grid_a, description=f"第{n}处", photos=[jpeg()])
        photo_publish(
            actor=city.worker_a,
            access=access(city.worker_a, ticket),
            photo=ticket.photos.get(),
            public=True,
        )
        report(person_b.user, city.grid_b, code="civic-litter", reporter_public=True)
    assert _queries(BOARD) == one


def test_public_report_timeline_shows_only_public_steps(city, resident, leader):
    ticket = report(resident.user, city.grid_a)
    ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_return(actor=leader, access=access(leader, ticket), reason="请先核实楼号再派")
    ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_acknowledge(actor=leader, access=access(leader, ticket))
    ticket_resolve(actor=leader, access=access(leader, ticket), result="已清理干净")
    ticket_follow_up(
        actor=resident.user,
        access=access(resident.user, ticket),
        data=FollowUp(satisfied=True, rating=4, comment="楼下张大爷帮了忙"),
    )
    response = Client().get(detail(ticket))
    steps = [(s.label, s.note) for s in response.context["steps"]]
    assert steps == [
        ("提交反映", "手机"),
        ("社区已受理", "已受理"),
        ("已派单", "甲社区巡查队"),
        ("已派单", "甲社区巡查队"),
        ("承办队伍已签收", "承办队伍已签收"),
        ("反馈办理结果", "已清理干净"),
        ("办结", ""),
    ]
    html = response.content.decode()
    assert "请先核实楼号再派" not in html and "张大爷" not in html
    assert "worker-a" not in html and "patrol-a" not in html


# --- photos -----------------------------------------------------------------------------------


def _get(user, photo: TicketPhoto) -> int:
    client = Client() if user is None else client_for(user)
    return client.get(photo_url(photo)).status_code


def test_published_photo_of_a_public_report_is_open_to_all(city, resident):
    ticket = report(resident.user, city.grid_a, photos=[jpeg()])
    photo = ticket.photos.get()
    photo_publish(
        actor=city.worker_a, access=access(city.worker_a, ticket), photo=photo, public=True
    )
    response = Client().get(photo_url(photo))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    body = b"".join(response.streaming_content)
    assert body[:2] == b"\xff\xd8" and len(body) == photo.size


def test_photo_access_matrix(city, resident, leader):
    other = make_resident(city.grid_a, "赵大妈", username="zhao")
    stranger = UserFactory(username="stranger")
    civic = report(resident.user, city.grid_a, photos=[jpeg()])
    unchecked = civic.photos.get()  # a report photo nobody has checked yet
    complaint = report(
        resident.user, city.grid_a, code="complaint-property", photos=[jpeg()], address=""
    )
    private_type = complaint.photos.get()
    photo_publish(
        actor=city.worker_a,
        access=access(city.worker_a, complaint),
        photo=private_type,
        public=True,
    )
    duplicate = report(resident.user, city.grid_a, photos=[jpeg()])
    duplicated = duplicate.photos.get()
    photo_publish(
        actor=city.worker_a, access=access(city.worker_a, duplicate), photo=duplicated, public=True
    )
    ticket_link(actor=city.worker_a, access=access(city.worker_a, duplicate), original=civic)
    done = report(other.user, city.grid_a, code="civic-litter")
    close_with_rating(city, leader, other, done)
    result = done.photos.get(kind=PhotoKind.RESULT)

    actors = {
        "anonymous": None,
        "reporter": resident.user,
        "other resident": other.user,
        "stranger": stranger,
        "worker a": city.worker_a,
        "worker b": city.worker_b,
    }
    matrix = {
        name: [_get(user, p) for p in (unchecked, private_type, duplicated, result)]
        for name, user in actors.items()
    }
    assert matrix == {
        "anonymous": [404, 404, 404, 200],
        "reporter": [200, 200, 200, 200],
        "other resident": [404, 404, 404, 200],
        "stranger": [404, 404, 404, 200],
        "worker a": [200, 200, 200, 200],
        "worker b": [404, 404, 404, 200],
    }
    assert Client().get(reverse("desk:photo", args=[999999])).status_code == 404


def test_photo_file_missing_on_disk_is_404(city, resident):
    ticket = report(resident.user, city.grid_a, photos=[jpeg()])
    photo = ticket.photos.get()
    photo.image.storage.delete(photo.image.name)
    assert client_for(resident.user).get(photo_url(photo)).status_code == 404
