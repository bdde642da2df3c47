"""An Open311 GeoReport v2 client written only from the specification
(http://wiki.open311.org/GeoReport_v2), driven against the running server.

The client knows nothing of this project: it speaks HTTP with ``urllib``, reads JSON and
XML with the standard library, starts from the discovery document and follows the
endpoint it announces. The test sets the world up through the command line (``huzhu
open311-key`` and ``huzhu token``), as an operator would.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.core.management import call_command

from tests.factories import City
from tests.needs.factories import make_resident, set_place

SPEC = "http://wiki.open311.org/GeoReport_v2"


# --- the client: from the spec alone -------------------------------------------------------


class GeoReportError(Exception):
    """An error response: the HTTP status and the spec's list of {code, description}."""

    def __init__(self, status: int, errors: list[dict[str, Any]]) -> None:
        self.status = status
        self.errors = errors
        super().__init__(f"{status}: {errors}")


# XML elements the spec defines as lists of one repeated child.
LIST_ELEMENTS = ("endpoints", "formats", "attributes", "values")


def _element_to_value(element: ET.Element) -> Any:
    children = list(element)
    if element.tag in LIST_ELEMENTS:
        return [_element_to_value(child) for child in children]
    if not children:
        return element.text or ""
    return {child.tag: _element_to_value(child) for child in children}


class GeoReportClient:
    """GET/POST against a GeoReport v2 endpoint in JSON or XML."""

    def __init__(self, discovery_url: str, fmt: str = "json") -> None:
        self.discovery_url = discovery_url
        self.fmt = fmt
        self.base = ""

    # transport

    def _call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        url = path if path.startswith("http") else f"{self.base}{path}.{self.fmt}"
        data = None
        if method == "GET" and params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        elif method == "POST":
            data = urllib.parse.urlencode(params).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return self._parse(response.read(), response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            parsed = self._parse(exc.read(), exc.headers.get("Content-Type", ""))
            raise GeoReportError(exc.code, parsed if isinstance(parsed, list) else []) from exc

    def _parse(self, raw: bytes, content_type: str) -> Any:
        if "xml" in content_type:
            root = ET.fromstring(raw)
            if root.tag in ("services", "service_requests", "errors"):
                return [_element_to_value(child) for child in root]
            return _element_to_value(root)
        return json.loads(raw.decode("utf-8"))

    # the methods of the spec

    def discover(self) -> dict[str, Any]:
        document = self._call("GET", self.discovery_url)
        for endpoint in document["endpoints"]:
            if endpoint["specification"] == SPEC:
                url = endpoint["url"]
                self.base = url if url.endswith("/") else url + "/"
                return document
        raise LookupError("no GeoReport v2 endpoint")

    def services(self, jurisdiction_id: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "services", {"jurisdiction_id": jurisdiction_id})

    def service_definition(self, code: str) -> dict[str, Any]:
        return self._call("GET", f"services/{code}")

    def post_request(self, api_key: str, service_code: str, **fields: Any) -> dict[str, Any]:
        params = {"api_key": api_key, "service_code": service_code, **fields}
        return self._call("POST", "requests", params)[0]

    def get_request(self, service_request_id: str) -> dict[str, Any]:
        return self._call("GET", f"requests/{service_request_id}")[0]

    def get_requests(self, **filters: Any) -> list[dict[str, Any]]:
        return self._call("GET", "requests", filters)

    def request_id_from_token(self, token: str) -> str:
        return self._call("GET", f"tokens/{token}")[0]["service_request_id"]


# --- the world, as an operator sets it up --------------------------------------------------


def _command(*args: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip()


@pytest.fixture
def world(city: City) -> City:
    set_place(city.community_a, 36.6510, 117.1200)
    set_place(city.grid_a, 36.6510, 117.1200)
    set_place(city.community_b, 36.6600, 117.1400)
    return city


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_spec_client_lists_posts_reads_and_finds_its_request(world, live_server, fmt):
    app_key = _command("open311_key", "create", "--org", str(world.street.pk), "--name", "小程序")
    client = GeoReportClient(f"{live_server.url}/open311/v2/discovery.{fmt}", fmt=fmt)

    discovery = client.discover()
    assert client.base == f"{live_server.url}/open311/v2/"
    assert discovery["endpoints"]

    services = client.services()
    codes = [s["service_code"] for s in services]
    assert "civic-flyposting" in codes and len(codes) == 9
    flyposting = next(s for s in services if s["service_code"] == "civic-flyposting")
    assert flyposting["service_name"] == "乱贴小广告"
    assert str(flyposting["metadata"]).lower() == "false"
    assert flyposting["type"] == "realtime"
    definition = client.service_definition("civic-flyposting")
    assert definition["service_code"] == "civic-flyposting"

    created = client.post_request(
        app_key,
        "civic-flyposting",
        lat="36.6511",
        long="117.1201",
        address_string="甲社区3号楼",
        description="单元门口贴满了小广告",
        first_name="三",
        last_name="张",
        phone="13800138000",
        device_id="device-1",
    )
    request_id = created["service_request_id"]
    assert request_id and created["token"]

    request = client.get_request(request_id)
    assert request["service_request_id"] == request_id
    assert request["status"] == "open"
    assert request["service_code"] == "civic-flyposting"
    assert request["description"] == "单元门口贴满了小广告"
    assert request["address"] == "甲社区3号楼"
    assert float(request["lat"]) == 36.6511 and float(request["long"]) == 117.1201
    assert request["requested_datetime"].endswith("+08:00")
    assert request["agency_responsible"] == "甲社区"
    text = json.dumps(request, ensure_ascii=False)
    assert "张" not in text and "13800138000" not in text

    assert client.request_id_from_token(created["token"]) == request_id

    listed = client.get_requests(service_code="civic-flyposting", status="open")
    assert [r["service_request_id"] for r in listed] == [request_id]
    assert client.get_requests(service_code="civic-flyposting", status="closed") == []
    assert client.get_requests(service_code="civic-litter") == []


def test_a_spec_client_posts_with_a_users_api_token(world, live_server):
    resident = make_resident(world.grid_a, "李阿姨", username="li")
    token = _command("token", "create", "li", "--name", "小程序")
    client = GeoReportClient(f"{live_server.url}/open311/v2/discovery.json")
    client.discover()

    created = client.post_request(
        token, "civic-stairwell", address_string="2号楼楼道", description="楼道堆满纸箱"
    )
    request = client.get_request(created["service_request_id"])
    assert request["service_name"] == "楼道堆物"
    assert request["agency_responsible"] == "甲社区"
    assert resident.name not in json.dumps(request, ensure_ascii=False)

    with pytest.raises(GeoReportError) as refused:
        client.post_request("not-a-key", "civic-stairwell", address_string="2号楼")
    assert refused.value.status == 403
    assert refused.value.errors[0]["code"] == 403

    with pytest.raises(GeoReportError) as refused:
        client.post_request(token, "no-such-service", address_string="2号楼", description="x")
    assert refused.value.status == 404

    with pytest.raises(GeoReportError) as refused:
        client.post_request(token, "civic-stairwell", description="没有位置")
    assert refused.value.status == 400
    assert refused.value.errors[0]["code"] == 400
