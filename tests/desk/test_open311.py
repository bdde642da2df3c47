"""Open311 GeoReport v2 at /open311/v2/: discovery, services, service definitions, requests
(GET with filters, POST with api_key), one request and token lookup, in JSON and XML.
Only public matter types and never the reporter; every refusal is the spec's error list
with its HTTP status, and a refused POST stores nothing."""

from __future__ import annotations

import datetime as dt
import io
import json
import xml.etree.ElementTree as ET

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from huzhu.api.services import api_token_create
from huzhu.desk.key_services import appkey_issue, appkey_revoke
from huzhu.desk.models import (
    AppKey,
    Channel,
    MatterKind,
    MatterType,
    Ticket,
    TicketEvent,
    TicketStatus,
)
from huzhu.desk.services import (
    FollowUp,
    ticket_accept,
    ticket_acknowledge,
    ticket_assign,
    ticket_follow_up,
    ticket_link,
    ticket_note,
    ticket_resolve,
)
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from tests.desk.factories import access, patrol_team, report, team_leader
from tests.factories import City, UserFactory, grant, make_org
from tests.needs.factories import make_resident, set_place

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
CIVIC_CODES = [
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
# Points: community A's centre, community B's, and one far away (Kunming).
POINT_A = (36.6510, 117.1200)
POINT_B = (36.6600, 117.1400)
FAR = (25.0400, 102.7100)


@pytest.fixture(autouse=True)
def roomy_limits(settings, tmp_path):
    """Most tests post several requests from one test client; the limits have their own
    tests below. Photos go to a temporary MEDIA_ROOT."""
    settings.HUZHU_DESK_RATE_PER_HOUR = 100
    settings.HUZHU_DESK_RATE_PER_DAY = 100
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def placed(city: City) -> City:
    set_place(city.community_a, *POINT_A)
    set_place(city.grid_a, *POINT_A)
    set_place(city.community_b, *POINT_B)
    set_place(city.grid_b, *POINT_B)
    return city


@pytest.fixture
def street_admin(placed: City):
    user = UserFactory(username="street-admin")
    grant(user, placed.street, Role.ADMIN)
    return user


@pytest.fixture
def street_key(placed: City, street_admin) -> str:
    _, raw = appkey_issue(
        actor=street_admin, scope=Scope.for_user(street_admin), org=placed.street, name="街道小程序"
    )
    return raw


def body(response) -> object:
    return json.loads(response.content.decode("utf-8"))


def xml(response) -> ET.Element:
    assert response["Content-Type"] == XML_TYPE
    text = response.content.decode("utf-8")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def post(key: str | None, fmt: str = "json", **fields: object) -> object:
    data = {"service_code": "civic-flyposting", "description": "3号楼单元门口贴满小广告"}
    data.update({name: str(value) for name, value in fields.items()})
    if key is not None:
        data["api_key"] = key
    return Client().post(f"{BASE}/requests.{fmt}", data)


def post_at(key: str, point: tuple[float, float], **fields: object):
    return post(key, lat=point[0], long=point[1], **fields)


def errors(response, status: int) -> list[str]:
    assert response.status_code == status, response.content.decode("utf-8")
    assert response["Content-Type"] == JSON_TYPE
    listing = body(response)
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in listing)
    return [e["description"] for e in listing]


def local_iso(value: dt.datetime) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


# --- discovery -----------------------------------------------------------------------------


def test_discovery_lists_the_endpoint_in_json_and_xml():
    response = Client().get(f"{BASE}/discovery.json")
    assert response.status_code == 200 and response["Content-Type"] == JSON_TYPE
    data = body(response)
    assert set(data) == {"changeset", "contact", "key_service", "endpoints"}
    assert data["endpoints"] == [
        {
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": "http://testserver/open311/v2/",
            "changeset": "2026-01-01T00:00:00+08:00",
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
    ]
    root = xml(Client().get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("url") == "http://testserver/open311/v2/"
    assert [f.text for f in endpoint.findall("formats/format")] == [
        "text/xml",
        "application/json",
    ]
    # The root and the suffix-less route answer the same, in JSON.
    assert body(Client().get(f"{BASE}/")) == data
    assert body(Client().get(f"{BASE}/discovery")) == data


# --- services ------------------------------------------------------------------------------


def test_services_are_the_public_active_matter_types(city):
    MatterType.objects.filter(code="civic-water").update(is_active=False)
    response = Client().get(f"{BASE}/services.json")
    assert response.status_code == 200 and response["Content-Type"] == JSON_TYPE
    services = body(response)
    assert [s["service_code"] for s in services] == CIVIC_CODES[:-1]
    assert services[3] == {
        "service_code": "civic-flyposting",
        "service_name": "乱贴小广告",
        "description": "请拍照并标注地点；反映人信息不对外公开。",
        "metadata": False,
        "type": "realtime",
        "keywords": "小广告,乱贴,乱涂,牛皮癣",
        "group": "文明评议",
    }
    # Desk matters that are not public (certificates, complaints …) are never listed.
    assert not any(s["service_code"].startswith(("affair-", "complaint-")) for s in services)
    assert body(Client().get(f"{BASE}/services")) == services


def test_services_xml_has_one_service_element_per_type(city):
    root = xml(Client().get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == CIVIC_CODES
    first = root.find("service")
    assert first.findtext("metadata") == "false"
    assert first.findtext("type") == "realtime"
    assert first.findtext("service_name") == "垃圾乱堆、背街小巷脏乱"


def test_jurisdiction_narrows_services_to_the_orgs_catalogue(city):
    MatterType.objects.create(
        org=city.community_a,
        code="a-dog-leash",
        name="遛狗不牵绳",
        kind=MatterKind.CIVIC,
        is_public=True,
        sort_order=1000,
    )
    MatterType.objects.create(
        org=city.street,
        code="street-noise",
        name="夜间施工噪音",
        kind=MatterKind.CIVIC,
        is_public=True,
        sort_order=1001,
    )

    def codes(code: str) -> list[str]:
        response = Client().get(f"{BASE}/services.json", {"jurisdiction_id": code})
        assert response.status_code == 200
        return [s["service_code"] for s in body(response)]

    assert codes(city.community_a.division_code) == [*CIVIC_CODES, "a-dog-leash", "street-noise"]
    assert codes(city.community_b.division_code) == [*CIVIC_CODES, "street-noise"]
    assert codes(city.street.division_code) == [*CIVIC_CODES, "street-noise"]
    assert codes(city.district.division_code) == CIVIC_CODES
    response = Client().get(f"{BASE}/services.json", {"jurisdiction_id": "999999"})
    assert errors(response, 404) == ["未知的 jurisdiction_id：999999"]


def test_service_definition_has_no_attributes(city):
    response = Client().get(f"{BASE}/services/civic-flyposting.json")
    assert response.status_code == 200
    assert body(response) == {"service_code": "civic-flyposting", "attributes": []}
    root = xml(Client().get(f"{BASE}/services/civic-flyposting.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "civic-flyposting"
    assert list(root.find("attributes")) == []
    for code in ("affair-certificate", "no-such-code"):
        response = Client().get(f"{BASE}/services/{code}.json")
        assert errors(response, 404) == [f"未知的 service_code：{code}"]


# --- POST service request ------------------------------------------------------------------


def test_post_with_an_app_key_creates_a_ticket_in_the_nearest_community(placed, street_key):
    response = post_at(
        street_key,
        POINT_A,
        address_string="3号楼1单元",
        first_name="三",
        last_name="张",
        phone="13800138000",
        email="zhang@example.com",
        device_id="phone-1",
    )
    assert response.status_code == 200 and response["Content-Type"] == JSON_TYPE
    ticket = Ticket.objects.get()
    assert body(response) == [
        {
            "service_request_id": ticket.number,
            "token": ticket.token,
            "service_notice": "受理后 3 个工作日内办理。",
            "account_id": None,
        }
    ]
    assert ticket.org == placed.community_a and ticket.grid == placed.grid_a
    assert ticket.channel == Channel.OPEN311 and ticket.status == TicketStatus.REGISTERED
    assert ticket.app_key == AppKey.objects.get() and ticket.submitted_by is None
    assert ticket.matter_type.code == "civic-flyposting"
    assert (ticket.latitude, ticket.longitude) == POINT_A
    assert ticket.address == "3号楼1单元"
    assert ticket.contact_name == "张三" and ticket.contact_phone == "13800138000"
    assert ticket.contact_phone_masked == "138****8000"
    assert ticket.reporter is None


def test_post_answers_in_xml(placed, street_key):
    response = post(street_key, "xml", lat=POINT_B[0], long=POINT_B[1])
    assert response.status_code == 200
    root = xml(response)
    ticket = Ticket.objects.get()
    assert ticket.org == placed.community_b
    assert root.tag == "service_requests"
    request = root.find("request")
    assert request.findtext("service_request_id") == ticket.number
    assert request.findtext("token") == ticket.token
    assert request.findtext("account_id") == ""  # present and empty


def test_community_key_takes_an_address_without_a_point(placed, street_admin):
    _, raw = appkey_issue(
        actor=street_admin, scope=Scope.for_user(street_admin), org=placed.community_b, name="乙"
    )
    response = post(raw, address_string="乙社区5号楼")
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.org == placed.community_b and ticket.address == "乙社区5号楼"
    assert ticket.grid is None


def test_post_with_a_user_token_goes_to_the_users_community(placed):
    resident = make_resident(placed.grid_a, "李阿姨", username="li")
    _, raw = api_token_create(actor=None, user=resident.user, name="app")
    # Her point is near community B, but she files as a resident of community A.
    response = post_at(raw, POINT_B)
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.org == placed.community_a
    assert ticket.reporter == resident and ticket.submitted_by == resident.user
    assert ticket.app_key is None


def test_post_with_a_token_of_a_user_without_person_uses_the_point(placed):
    _, raw = api_token_create(actor=None, user=placed.worker_b, name="app")
    response = post_at(raw, POINT_A)
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.org == placed.community_a and ticket.submitted_by == placed.worker_b


def test_media_url_is_kept_as_a_private_note(placed, street_key):
    url = "https://img.example.com/a/1.jpg"
    response = post_at(street_key, POINT_A, media_url=url)
    assert response.status_code == 200
    event = TicketEvent.objects.get(verb="media_url")
    assert event.is_public is False
    assert event.note == f"客户端提供的图片链接（未下载，请核实后使用）：{url}"


def test_api_key_missing_unknown_or_revoked_is_403(placed, street_admin, street_key):
    assert errors(post_at(None, POINT_A), 403) == ["api_key 缺失、无效或已吊销。"]
    assert errors(post_at("o311_00000000_nope", POINT_A), 403)
    assert errors(post_at("hz_00000000_nope", POINT_A), 403)
    assert errors(post_at("garbage", POINT_A), 403)
    key = AppKey.objects.get()
    appkey_revoke(actor=street_admin, scope=Scope.for_user(street_admin), key_id=key.pk)
    assert errors(post_at(street_key, POINT_A), 403) == ["api_key 缺失、无效或已吊销。"]
    # XML clients get XML errors.
    response = post(None, "xml", lat=POINT_A[0], long=POINT_A[1])
    assert response.status_code == 403
    root = xml(response)
    assert root.tag == "errors"
    assert root.find("error/code").text == "403"
    assert root.find("error/description").text == "api_key 缺失、无效或已吊销。"
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"service_code": "no-such"}, 404, "未知的 service_code：no-such"),
        ({"service_code": "affair-certificate"}, 404, "未知的 service_code：affair-certificate"),
        ({"service_code": ""}, 400, "缺少 service_code。"),
        (
            {"lat": "", "long": ""},
            400,
            "缺少位置：请提供 lat 和 long，或 address_string，或 address_id。",
        ),
        ({"long": ""}, 400, "lat 和 long 需同时提供。"),
        ({"lat": "north"}, 400, "lat 应为十进制度数（WGS-84）。"),
        ({"lat": "95"}, 400, "lat 应为十进制度数（WGS-84）。"),
        ({"long": "nan"}, 400, "long 应为十进制度数（WGS-84）。"),
        ({"description": ""}, 400, "description：请填写反映的内容。"),
        (
            {"description": "<script>alert(1)</script>"},
            400,
            "description：不能包含 HTML 标记或脚本，请只填写文字。",
        ),
        (
            {"first_name": "<b>三</b>"},
            400,
            "first_name/last_name：不能包含 HTML 标记或脚本，请只填写文字。",
        ),
        (
            {"address_string": "<img src=x onerror=alert(1)>"},
            400,
            "address_string：不能包含 HTML 标记或脚本，请只填写文字。",
        ),
        ({"phone": "12"}, 400, "phone：联系电话应为手机号或固定电话号码。"),
        (
            {"media_url": "javascript:alert(1)"},
            400,
            "media_url：media_url 应为 http(s) 开头的网址，且不超过 400 字符。",
        ),
        (
            {"lat": FAR[0], "long": FAR[1]},
            400,
            "位置不在服务范围内（location outside jurisdiction）。",
        ),
        ({"jurisdiction_id": "999999"}, 404, "未知的 jurisdiction_id：999999"),
    ],
)
def test_bad_posts_are_refused_in_the_spec_format_and_store_nothing(
    placed, street_key, fields, status, message
):
    data = {"lat": POINT_A[0], "long": POINT_A[1], **fields}
    response = post(street_key, **data)
    assert errors(response, status) == [message]
    assert Ticket.objects.count() == 0 and TicketEvent.objects.count() == 0


def test_a_key_of_the_street_cannot_post_elsewhere_with_a_jurisdiction(placed, street_key):
    other = make_org(OrgKind.STREET, "另一街道", placed.district, "370102002000")
    response = post_at(street_key, POINT_A, jurisdiction_id=other.division_code)
    assert errors(response, 400) == ["位置不在服务范围内（location outside jurisdiction）。"]
    # Naming the city around the key's street changes nothing; naming a community inside
    # the street pins the request there.
    response = post_at(street_key, POINT_A, jurisdiction_id=placed.city.division_code)
    assert response.status_code == 200
    assert Ticket.objects.get().org == placed.community_a
    Ticket.objects.all().delete()
    response = post_at(street_key, POINT_A, jurisdiction_id=placed.community_b.division_code)
    assert response.status_code == 200
    assert Ticket.objects.get().org == placed.community_b


def test_service_of_another_community_is_not_taken_here(placed, street_key):
    MatterType.objects.create(
        org=placed.community_b,
        code="b-only",
        name="乙社区专项",
        kind=MatterKind.CIVIC,
        is_public=True,
    )
    response = post_at(street_key, POINT_A, service_code="b-only")
    assert errors(response, 404) == ["该地点不受理 service_code b-only。"]
    assert post_at(street_key, POINT_B, service_code="b-only").status_code == 200


def test_per_key_hourly_limit_is_429(placed, street_key, settings):
    settings.HUZHU_OPEN311_RATE_PER_HOUR = 2
    for device in ("d1", "d2"):
        assert post_at(street_key, POINT_A, device_id=device).status_code == 200
    response = post_at(street_key, POINT_A, device_id="d3")
    assert errors(response, 429) == ["该密钥提交过于频繁：每小时最多 2 件，请稍后再试。"]
    assert Ticket.objects.count() == 2
    # An hour later the key may post again.
    Ticket.objects.update(created_at=timezone.now() - dt.timedelta(hours=1, minutes=1))
    assert post_at(street_key, POINT_A, device_id="d4").status_code == 200


def test_desks_per_source_limit_is_429(placed, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 1
    _, raw = api_token_create(actor=None, user=placed.worker_b, name="app")
    assert post_at(raw, POINT_A).status_code == 200
    response = post_at(raw, POINT_A)
    assert errors(response, 429) == [
        "提交过于频繁：每小时最多 1 件，请稍后再试或拨打社区服务电话。"
    ]
    assert Ticket.objects.count() == 1


def test_app_devices_are_limited_one_by_one(placed, street_key, settings):
    """An app posts for many phones from one server: the desk's per-source limit counts the
    device it names, not the server's address."""
    settings.HUZHU_DESK_RATE_PER_HOUR = 1
    assert post_at(street_key, POINT_A, device_id="d1").status_code == 200
    assert post_at(street_key, POINT_A, device_id="d2").status_code == 200
    assert errors(post_at(street_key, POINT_A, device_id="d1"), 429)
    assert Ticket.objects.count() == 2


def test_methods_the_endpoints_lack_are_405():
    response = Client().delete(f"{BASE}/requests.json")
    assert errors(response, 405) == ["不支持 DELETE 方法。"]
    assert response["Allow"] == "GET, HEAD, POST"
    response = Client().post(f"{BASE}/services.json")
    assert errors(response, 405) == ["不支持 POST 方法。"]
    assert response["Allow"] == "GET, HEAD"


# --- GET service requests ------------------------------------------------------------------


def _photo(name: str = "result.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def test_a_handled_request_shows_the_standard_fields(placed):
    resident = make_resident(placed.grid_a, "欧阳秀英", username="ouyang")
    team = patrol_team(placed.community_a, placed.grid_a)
    leader = team_leader(team, "patrol-a")
    worker = placed.worker_a
    ticket = report(
        resident.user, placed.grid_a, contact_phone="13912345678", latitude=36.65, longitude=117.12
    )
    ticket = ticket_accept(actor=worker, access=access(worker, ticket))
    ticket = ticket_assign(actor=worker, access=access(worker, ticket))
    ticket = ticket_acknowledge(actor=leader, access=access(leader, ticket))
    ticket_note(actor=leader, access=access(leader, ticket), note="内部：联系物业", public=False)
    ticket_note(actor=leader, access=access(leader, ticket), note="已安排明早清理", public=True)
    ticket.refresh_from_db()

    response = Client().get(f"{BASE}/requests/{ticket.number}.json")
    assert response.status_code == 200
    assert body(response) == [
        {
            "service_request_id": ticket.number,
            "status": "open",
            "status_notes": "已安排明早清理",
            "service_name": "乱贴小广告",
            "service_code": "civic-flyposting",
            "description": "3号楼单元门口贴满小广告",
            "agency_responsible": "甲社区巡查队",
            "service_notice": "受理后 3 个工作日内办理。",
            "requested_datetime": local_iso(ticket.created_at),
            "updated_datetime": local_iso(ticket.updated_at),
            "expected_datetime": f"{ticket.due_date.isoformat()}T23:59:59+08:00",
            "address": "3号楼1单元",
            "address_id": "",
            "zipcode": "",
            "lat": 36.65,
            "long": 117.12,
            "media_url": "",
        }
    ]
    assert body(response)[0]["requested_datetime"].endswith("+08:00")
    text = response.content.decode("utf-8")
    for private in ("欧阳", "13912345678", "139****5678", "ouyang", "内部：联系物业"):
        assert private not in text

    ticket = ticket_resolve(
        actor=leader, access=access(leader, ticket), result="已清理干净", photos=[_photo()]
    )
    ticket = ticket_follow_up(
        actor=resident.user,
        access=access(resident.user, ticket),
        data=FollowUp(satisfied=True, rating=5, comment="谢谢"),
    )
    photo = ticket.photos.get()
    data = body(Client().get(f"{BASE}/requests/{ticket.number}.json"))[0]
    assert data["status"] == "closed"
    assert data["status_notes"] == "已清理干净"  # the result, never the resident's comment
    assert data["media_url"] == f"http://testserver/desk/photos/{photo.pk}/"
    root = xml(Client().get(f"{BASE}/requests/{ticket.number}.xml"))
    assert root.tag == "service_requests"
    assert root.find("request/status").text == "closed"
    assert root.find("request/media_url").text == data["media_url"]
    assert root.find("request/lat").text == "36.65"


def test_a_fresh_request_has_empty_notes_and_no_deadline(placed):
    ticket = report(None, placed.grid_a)
    data = body(Client().get(f"{BASE}/requests/{ticket.number}.json"))[0]
    assert data["status_notes"] == "" and data["expected_datetime"] is None
    assert data["agency_responsible"] == "甲社区" and data["lat"] is None
    root = xml(Client().get(f"{BASE}/requests/{ticket.number}.xml"))
    assert root.find("request/expected_datetime").text is None


def test_requests_list_shows_public_tickets_newest_first(placed):
    first = report(None, placed.grid_a, description="第一件")
    second = report(None, placed.grid_b, code="civic-litter", description="第二件")
    report(None, placed.grid_a, code="affair-certificate", description="开证明")  # not public
    duplicate = report(None, placed.grid_a, description="重复反映")
    worker = placed.worker_a
    ticket_link(actor=worker, access=access(worker, duplicate), original=first)
    response = Client().get(f"{BASE}/requests.json")
    assert response.status_code == 200
    assert [r["service_request_id"] for r in body(response)] == [second.number, first.number]
    root = xml(Client().get(f"{BASE}/requests.xml"))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [
        second.number,
        first.number,
    ]
    assert body(Client().get(f"{BASE}/requests")) == body(response)


def test_requests_filters(placed):
    worker = placed.worker_a
    litter = report(None, placed.grid_a, code="civic-litter", description="垃圾")
    flyer = report(None, placed.grid_a, description="小广告")
    in_b = report(None, placed.grid_b, code="civic-pets", description="狗粪")
    closed = report(None, placed.grid_a, code="civic-litter", description="已处理的垃圾")
    from huzhu.desk.services import ticket_answer

    ticket_answer(actor=worker, access=access(worker, closed), answer="已当场清理")

    def ids(**params: str) -> list[str]:
        response = Client().get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content
        return [r["service_request_id"] for r in body(response)]

    assert ids(service_code="civic-litter") == [closed.number, litter.number]
    assert ids(service_code="civic-litter,civic-pets") == [
        closed.number,
        in_b.number,
        litter.number,
    ]
    assert ids(status="closed") == [closed.number]
    assert ids(status="open") == [in_b.number, flyer.number, litter.number]
    assert ids(status="open,closed") == [closed.number, in_b.number, flyer.number, litter.number]
    assert ids(service_code="civic-litter", status="open") == [litter.number]
    assert ids(jurisdiction_id=placed.community_b.division_code) == [in_b.number]
    assert ids(jurisdiction_id=placed.street.division_code) == [
        closed.number,
        in_b.number,
        flyer.number,
        litter.number,
    ]
    # service_request_id overrides every other filter.
    assert ids(service_request_id=f"{litter.number},{in_b.number}", status="closed") == [
        in_b.number,
        litter.number,
    ]


def test_requests_default_to_the_last_90_days(placed):
    old = report(None, placed.grid_a, description="很久以前")
    recent = report(None, placed.grid_a, description="最近")
    Ticket.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=100))

    def ids(**params: str) -> list[str]:
        response = Client().get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content
        return [r["service_request_id"] for r in body(response)]

    assert ids() == [recent.number]
    start = (timezone.localdate() - dt.timedelta(days=120)).isoformat()
    assert ids(start_date=start) == [old.number]  # start + 90 days
    assert ids(start_date=f"{start}T00:00:00+08:00") == [old.number]
    # An unencoded "+" arrives as a space and is still understood.
    response = Client().get(f"{BASE}/requests.json?start_date={start}T00:00:00+08:00")
    assert [r["service_request_id"] for r in body(response)] == [old.number]
    soon = (timezone.now() + dt.timedelta(minutes=1)).astimezone(dt.UTC)
    end = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    since = (timezone.now() - dt.timedelta(days=30)).isoformat()
    assert ids(start_date=since, end_date=end) == [recent.number]
    assert ids(service_request_id=old.number) == [old.number]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "pending"}, "status 只能是 open 或 closed。"),
        (
            {"start_date": "yesterday"},
            "start_date 应为 W3C 日期时间，例如 2026-01-05T08:15:30+08:00。",
        ),
        (
            {"start_date": "2026-02-30"},
            "start_date 应为 W3C 日期时间，例如 2026-01-05T08:15:30+08:00。",
        ),
        (
            {"start_date": "2026-03-01", "end_date": "2026-01-01"},
            "end_date 不能早于 start_date。",
        ),
        (
            {"start_date": "2026-01-01", "end_date": "2026-05-01"},
            "start_date 与 end_date 相隔不能超过 90 天。",
        ),
    ],
)
def test_bad_queries_are_400(city, params, message):
    response = Client().get(f"{BASE}/requests.json", params)
    assert errors(response, 400) == [message]


def test_unknown_jurisdiction_in_a_query_is_404(city):
    response = Client().get(f"{BASE}/requests.json", {"jurisdiction_id": "000000"})
    assert errors(response, 404) == ["未知的 jurisdiction_id：000000"]


def test_request_list_query_count_does_not_grow_with_rows(placed):
    team = patrol_team(placed.community_a, placed.grid_a)
    worker = placed.worker_a

    def make(n: int) -> None:
        for i in range(n):
            ticket = report(None, placed.grid_a, description=f"第{i}件")
            ticket = ticket_accept(actor=worker, access=access(worker, ticket))
            ticket_assign(actor=worker, access=access(worker, ticket), team=team)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = Client().get(f"{BASE}/requests.json")
        assert response.status_code == 200
        return len(captured)

    make(1)
    one = queries()
    make(6)
    assert queries() == one
    assert len(body(Client().get(f"{BASE}/requests.json"))) == 7


def test_one_request_of_a_non_public_matter_or_a_missing_one_is_404(placed):
    private = report(None, placed.grid_a, code="affair-certificate", description="开证明")
    for number in (private.number, "GD0000"):
        response = Client().get(f"{BASE}/requests/{number}.json")
        assert errors(response, 404) == [f"服务请求 {number} 不存在。"]
    root = xml(Client().get(f"{BASE}/requests/GD0000.xml"))
    assert root.tag == "errors" and root.find("error/code").text == "404"


# --- tokens --------------------------------------------------------------------------------


def test_token_lookup_gives_the_request_id(placed, street_key):
    token = body(post_at(street_key, POINT_A))[0]["token"]
    ticket = Ticket.objects.get()
    response = Client().get(f"{BASE}/tokens/{token}.json")
    assert body(response) == [{"token": token, "service_request_id": ticket.number}]
    root = xml(Client().get(f"{BASE}/tokens/{token}.xml"))
    assert root.find("request/service_request_id").text == ticket.number
    assert errors(Client().get(f"{BASE}/tokens/{'0' * 32}.json"), 404) == ["令牌不存在。"]


# --- output hygiene ------------------------------------------------------------------------


def test_xml_escapes_text_and_json_keeps_chinese(placed):
    ticket = report(None, placed.grid_a, description="A&B 商店门口 \x07 乱贴 “小广告”")
    response = Client().get(f"{BASE}/requests/{ticket.number}.json")
    assert "乱贴 “小广告”" in response.content.decode("utf-8")  # not \\u escapes
    root = xml(Client().get(f"{BASE}/requests/{ticket.number}.xml"))
    assert root.find("request/description").text == "A&B 商店门口  乱贴 “小广告”"


def test_status_notes_never_carry_what_the_resident_wrote(city):
    """A rating comment or a withdrawal reason is the resident's own text: Open311 shows the
    result instead (or nothing)."""
    from huzhu.desk.services import FollowUp, ticket_follow_up
    from tests.desk.factories import access as access_of
    from tests.desk.factories import patrol_team, report, run_to, team_leader
    from tests.needs.factories import make_resident

    resident = make_resident(city.grid_a, "王阿姨", username="wang-ayi")
    leader = team_leader(patrol_team(city.community_a, city.grid_a), "patrol-x")
    ticket = report(resident.user, city.grid_a)
    run_to(ticket, "resolved", worker=city.worker_a, handler=leader, result="已清理干净")
    ticket_follow_up(
        actor=resident.user,
        access=access_of(resident.user, ticket),
        data=FollowUp(satisfied=True, rating=4, comment="隔壁老张又贴了"),
    )
    body = Client().get(f"/open311/v2/requests/{ticket.number}.json").json()
    assert body[0]["status"] == "closed"
    assert body[0]["status_notes"] == "已清理干净"
