"""The resident's desk pages on the phone: 我要反映 (photos cleaned, bad input refused in
Chinese with nothing stored, the hourly limit), 我的事项, a matter's progress with rating and
withdrawal — through the real services, as the people who use them."""

from __future__ import annotations

import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import ExifTags, Image

from huzhu.desk.models import (
    Channel,
    CloseReason,
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
    ticket_resolve,
    ticket_return,
)
from tests.activities.clients import client_for
from tests.desk.factories import access, matter, patrol_team, report, team_leader
from tests.factories import UserFactory
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db

REPORT = reverse("desk:report")
MINE = reverse("desk:my_tickets")
IP = "10.1.2.3"


def mine(ticket: Ticket) -> str:
    return reverse("desk:my_ticket", args=[ticket.pk])


def rate_url(ticket: Ticket) -> str:
    return reverse("desk:my_ticket_rate", args=[ticket.pk])


def withdraw_url(ticket: Ticket) -> str:
    return reverse("desk:my_ticket_withdraw", args=[ticket.pk])


def jpeg_with_gps(
    name: str = "snap.jpg", size: tuple[int, int] = (3000, 2000)
) -> SimpleUploadedFile:
    """A phone photo: large, with the maker, model and GPS position in its EXIF."""
    image = Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Huawei"
    exif[ExifTags.Base.Model] = "P60 Pro"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (36.0, 39.0, 30.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (117.0, 1.0, 2.0),
    }
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def png(name: str = "wall.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGBA", (800, 600), (10, 200, 10, 128)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def resident(city):
    return make_resident(city.grid_a, "李秀兰", username="li")


@pytest.fixture
def li(resident) -> Client:
    return client_for(resident.user)


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "matter_type": matter("civic-flyposting").pk,
        "description": "3号楼单元门口贴满小广告",
        "address": "3号楼1单元",
    }
    data.update(overrides)
    return data


def post_report(client: Client, **overrides: object):
    return client.post(REPORT, form_data(**overrides), REMOTE_ADDR=IP)


def field_errors(response, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


# --- 我要反映 ---------------------------------------------------------------------------------


def test_report_page_offers_civic_buttons_and_other_matters(li):
    response = li.get(REPORT)
    assert response.status_code == 200
    form = response.context["form"]
    civic = [m.code for m, _checked in form.civic_options]
    other = [m.code for m, _checked in form.other_options]
    assert civic == [
        "civic-litter",
        "civic-structure",
        "civic-stairwell",
        "civic-flyposting",
        "civic-pets",
        "civic-fireworks",
        "civic-stalls",
        "civic-height",
        "civic-water",
    ]
    assert other == [
        "consult-policy",
        "help-difficulty",
        "complaint-property",
        "complaint-neighbour",
    ]
    assert form["address"].value() == "甲社区第一网格"
    html = response.content.decode()
    assert 'accept="image/*" capture="environment" multiple' in html
    assert 'name="reporter_public" id="id_reporter_public">' in html  # unchecked
    assert "使用当前位置" in html
    assert "不会出现在任何公开页面" in html


def test_address_defaults_to_community_and_grid(city):
    city.grid_a.name = "第二网格"
    city.grid_a.save(update_fields=["name"])
    person = make_resident(city.grid_a, "周大爷", username="zhou")
    response = client_for(person.user).get(REPORT)
    assert response.context["form"]["address"].value() == "甲社区 第二网格"


def test_resident_reports_with_photos_cleaned(li, resident, media):
    response = li.post(
        REPORT,
        form_data(photos=[jpeg_with_gps(), png()], latitude="36.661", longitude="117.021"),
        REMOTE_ADDR=IP,
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == mine(ticket)
    assert ticket.reporter == resident and ticket.submitted_by == resident.user
    assert ticket.channel == Channel.MOBILE and ticket.status == TicketStatus.REGISTERED
    assert ticket.org == ticket.grid.parent and ticket.grid.name == "甲社区第一网格"
    assert ticket.reporter_public is False
    assert (ticket.latitude, ticket.longitude) == (36.661, 117.021)
    assert ticket.source_hash != ""  # the client address was passed for the rate limit
    photos = list(ticket.photos.order_by("id"))
    assert [(p.kind, p.is_public) for p in photos] == [(PhotoKind.REPORT, False)] * 2
    assert (photos[0].width, photos[0].height) == (1600, 1067)
    for photo in photos:
        with Image.open(photo.image.path) as stored:
            assert stored.format == "JPEG"
            assert max(stored.size) <= 1600
            assert dict(stored.getexif()) == {}
            assert "exif" not in stored.info
    page = li.get(response["Location"])
    assert [str(m) for m in get_messages(page.wsgi_request)] == [
        f"反映已提交，工单编号 {ticket.number}。社区受理后会通知您，可随时在这里查看进度。"
    ]
    assert f"工单编号 {ticket.number}" in page.content.decode()
    assert [p.pk for p in page.context["report_photos"]] == [p.pk for p in photos]


def test_reporter_may_opt_in_to_a_public_name(li):
    post_report(li, reporter_public="on")
    assert Ticket.objects.get().reporter_public is True


def test_other_matter_is_registered_too(li):
    response = post_report(li, matter_type=matter("complaint-property").pk, address="")
    assert response.status_code == 302
    assert Ticket.objects.get().matter_type.code == "complaint-property"


def test_affair_is_not_offered_from_the_phone(li):
    response = post_report(li, matter_type=matter("affair-certificate").pk)
    assert response.status_code == 400
    assert field_errors(response, "matter_type") == ["请选择本社区事项清单中的事项。"]
    assert Ticket.objects.count() == 0


def test_text_file_named_jpg_is_refused(li, media):
    fake = SimpleUploadedFile("photo.jpg", b"not an image at all", content_type="image/jpeg")
    response = post_report(li, photos=[fake])
    assert response.status_code == 400
    [message] = field_errors(response, "photos")
    assert message.startswith("“photo.jpg”不是可识别的图片")
    assert Ticket.objects.count() == 0 and TicketPhoto.objects.count() == 0
    assert not (media / "desk").exists()


def test_oversized_photo_is_refused(li, settings, media):
    settings.HUZHU_DESK_PHOTO_MAX_BYTES = 2000
    response = post_report(li, photos=[jpeg_with_gps("big.jpg")])
    assert response.status_code == 400
    [message] = field_errors(response, "photos")
    assert message.startswith("照片“big.jpg”太大（")
    assert Ticket.objects.count() == 0 and not (media / "desk").exists()


def test_html_in_text_is_refused(li):
    response = post_report(li, description="<script>alert(1)</script>门口有小广告")
    assert response.status_code == 400
    assert field_errors(response, "description") == ["不能包含 HTML 标记或脚本，请只填写文字。"]
    assert 'data-field-error="description"' in response.content.decode()
    assert Ticket.objects.count() == 0


def test_empty_description_and_place_are_explained(li):
    response = post_report(li, description="", address="")
    assert response.status_code == 400
    assert field_errors(response, "description") == ["请填写反映的内容。"]
    assert field_errors(response, "address") == ["文明评议需要填写地点或在地图上标注位置。"]
    assert field_errors(response, "matter_type") == []
    assert Ticket.objects.count() == 0


def test_missing_category_is_explained(li):
    response = post_report(li, matter_type="")
    assert field_errors(response, "matter_type") == ["请选择要反映的问题类别。"]


def test_rate_limit_refuses_in_chinese_and_stores_nothing(li, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 2
    assert post_report(li).status_code == 302
    assert post_report(li).status_code == 302
    response = post_report(li, description="又发现一处小广告")
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "提交过于频繁：每小时最多 2 件，请稍后再试或拨打社区服务电话。"
    ]
    assert "提交过于频繁" in response.content.decode()
    assert Ticket.objects.count() == 2
    assert not Ticket.objects.filter(description="又发现一处小广告").exists()


def test_rate_limit_counts_the_client_address(city, li, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 2
    post_report(li)
    post_report(li)
    neighbour = make_resident(city.grid_a, "赵大妈", username="zhao")
    response = post_report(client_for(neighbour.user))
    assert response.status_code == 400
    other_ip = client_for(neighbour.user).post(REPORT, form_data(), REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 302
    assert Ticket.objects.count() == 3


def test_worker_without_resident_record_is_sent_to_the_desk(city):
    response = client_for(city.worker_a).get(REPORT)
    assert response.status_code == 200
    assert response.templates[0].name == "desk/resident/no_person.html"
    assert "还没有关联居民信息" in response.content.decode()
    posted = client_for(city.worker_a).post(REPORT, form_data(), REMOTE_ADDR=IP)
    assert posted.status_code == 200 and Ticket.objects.count() == 0


def test_pages_need_a_login(city, resident):
    ticket = report(resident.user, city.grid_a)
    for url in (REPORT, MINE, mine(ticket)):
        response = Client().get(url)
        assert response.status_code == 302 and "/login" in response["Location"]
    assert Client().post(rate_url(ticket), {"satisfied": "yes", "rating": "5"}).status_code == 302
    assert Client().post(withdraw_url(ticket)).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REGISTERED


# --- 我的事项 ---------------------------------------------------------------------------------


def test_my_tickets_lists_only_own_matters(city, li, resident):
    own = report(resident.user, city.grid_a)
    other = make_resident(city.grid_a, "赵大妈", username="zhao")
    report(other.user, city.grid_a, description="楼道堆满纸箱", code="civic-stairwell")
    response = li.get(MINE)
    assert response.status_code == 200
    assert [t.pk for t in response.context["page"].object_list] == [own.pk]
    html = response.content.decode()
    assert own.number in html and "楼道堆满纸箱" not in html
    assert 'data-status="registered"' in html and "待受理" in html


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_my_tickets_query_count_does_not_grow_with_rows(city, li, resident, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    report(resident.user, city.grid_a)
    one = _queries(li, MINE)
    for n in range(5):
        report(resident.user, city.grid_a, description=f"第{n}处小广告")
    assert _queries(li, MINE) == one


def test_my_ticket_is_404_for_anyone_but_the_reporter(city, resident):
    ticket = report(resident.user, city.grid_a)
    other = make_resident(city.grid_a, "赵大妈", username="zhao")
    for user in (other.user, city.worker_a, city.worker_b, UserFactory(username="nobody")):
        client = client_for(user)
        assert client.get(mine(ticket)).status_code == 404
        assert client.post(rate_url(ticket), {"satisfied": "yes", "rating": "5"}).status_code == 404
        assert client.post(withdraw_url(ticket)).status_code == 404
    assert client_for(other.user).get(reverse("desk:my_ticket", args=[999999])).status_code == 404
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REGISTERED


# --- progress, rating, withdrawal -----------------------------------------------------------


def test_full_flow_with_rating(city, li, resident, media):
    team = patrol_team(city.community_a, city.grid_a)
    leader = team_leader(team, "patrol-a")
    li.post(REPORT, form_data(photos=[jpeg_with_gps()]), REMOTE_ADDR=IP)
    ticket = Ticket.objects.get()
    page = li.get(mine(ticket))
    assert page.context["can_withdraw"] is True and page.context["rate_form"] is None

    ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_return(actor=leader, access=access(leader, ticket), reason="请先核实楼号再派")
    ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket), team=team)
    ticket_acknowledge(actor=leader, access=access(leader, ticket))
    ticket_resolve(
        actor=leader, access=access(leader, ticket), result="已清理干净", photos=[png("done.png")]
    )

    page = li.get(mine(ticket))
    html = page.content.decode()
    assert page.context["can_withdraw"] is False and page.context["rate_form"] is not None
    assert "已清理干净" in html and "请您评价办理结果" in html
    assert [p.kind for p in page.context["result_photos"]] == [PhotoKind.RESULT]
    labels = [s.label for s in page.context["steps"]]
    assert labels == [
        "提交反映",
        "社区已受理",
        "已派单",
        "已派单",
        "承办队伍已签收",
        "反馈办理结果",
    ]
    assert "请先核实楼号再派" not in html  # the return is the desk's business
    assert "patrol-a" not in html and "worker-a" not in html  # no staff usernames

    refused = li.post(rate_url(ticket), {"satisfied": "no", "rating": "2", "comment": ""})
    assert refused.status_code == 400
    assert refused.context["rate_form"].errors["comment"] == ["不满意时请说明原因，以便重新办理。"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED and ticket.rating is None

    reopened = li.post(rate_url(ticket), {"satisfied": "no", "rating": "2", "comment": "背面还有"})
    assert reopened.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS and ticket.reopen_count == 1
    assert [str(m) for m in get_messages(reopened.wsgi_request)] == [
        "已退回重新办理，办理结果出来后会再请您评价。"
    ]

    ticket_resolve(actor=leader, access=access(leader, ticket), result="背面也已清理")
    closed = li.post(rate_url(ticket), {"satisfied": "yes", "rating": "5", "comment": "很及时"})
    assert closed.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED and ticket.rating == 5
    assert ticket.close_reason == CloseReason.RESOLVED
    page = li.get(mine(ticket))
    assert page.context["rate_form"] is None
    assert [s.label for s in page.context["steps"]][-3:] == [
        "居民不满意，退回重办",
        "反馈办理结果",
        "办结",
    ]
    assert "很及时" in page.content.decode()

    board = Client().get(reverse("desk:public_reports")).content.decode()
    assert ticket.number in board and "已办结" in board
    assert "李秀兰" not in board and "李**" not in board and "很及时" not in board


def test_rating_needs_stars(city, li, resident):
    team = patrol_team(city.community_a, city.grid_a)
    leader = team_leader(team, "patrol-a")
    ticket = report(resident.user, city.grid_a)
    ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_acknowledge(actor=leader, access=access(leader, ticket))
    ticket_resolve(actor=leader, access=access(leader, ticket), result="已清理")
    response = li.post(rate_url(ticket), {"satisfied": "yes"})
    assert response.status_code == 400
    assert response.context["rate_form"].errors["rating"] == ["请选择 1 到 5 星的满意度。"]
    response = li.post(rate_url(ticket), {"rating": "5"})
    assert response.context["rate_form"].errors["satisfied"] == ["请选择满意或不满意。"]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED


def test_rating_before_the_result_is_refused(city, li, resident):
    ticket = report(resident.user, city.grid_a)
    response = li.post(rate_url(ticket), {"satisfied": "yes", "rating": "5"})
    assert response.status_code == 302 and response["Location"] == mine(ticket)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"工单 {ticket.number} 当前为“登记”，不能评价。"
    ]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REGISTERED and ticket.rating is None


def test_withdraw_while_registered(city, li, resident):
    ticket = report(resident.user, city.grid_a)
    response = li.post(withdraw_url(ticket), {"reason": "已自行处理"})
    assert response.status_code == 302 and response["Location"] == mine(ticket)
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CLOSED
    assert ticket.close_reason == CloseReason.WITHDRAWN
    event = TicketEvent.objects.get(ticket=ticket, verb="withdraw")
    assert event.note == "已自行处理" and event.is_public is True
    page = li.get(mine(ticket))
    assert page.context["can_withdraw"] is False
    assert "已办结" in page.content.decode()


def test_withdraw_after_assignment_is_refused(city, li, resident):
    patrol_team(city.community_a, city.grid_a)
    ticket = report(resident.user, city.grid_a)
    ticket_accept(actor=city.worker_a, access=access(city.worker_a, ticket))
    ticket_assign(actor=city.worker_a, access=access(city.worker_a, ticket))
    response = li.post(withdraw_url(ticket))
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"工单 {ticket.number} 当前为“已派单”，不能撤回。"
    ]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.ASSIGNED


def test_withdraw_reason_with_html_is_refused(city, li, resident):
    ticket = report(resident.user, city.grid_a)
    response = li.post(withdraw_url(ticket), {"reason": "<b>不办了</b>"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "不能包含 HTML 标记或脚本，请只填写文字。"
    ]
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.REGISTERED
