"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the desk's public
civic reports: discovery, the service list and definitions, service requests (GET with
filters, POST with ``api_key``), one request, and token lookup — each in JSON or XML.

Views parse the protocol's parameters, call one selector or service, and render. Every
refusal is the spec's error list with the matching HTTP status: 400 bad or missing input,
403 a missing, unknown or revoked ``api_key``, 404 an unknown service, request, token or
jurisdiction, 405 a method the endpoint lacks, 429 too many requests. Output never holds
the reporter: no name, phone, e-mail, account or person.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from huzhu.desk.models import MatterType, Ticket, TicketStatus
from huzhu.desk.open311 import selectors
from huzhu.desk.open311.auth import poster_for
from huzhu.desk.open311.errors import Open311Error
from huzhu.desk.open311.render import JSON, XML, error_response, respond
from huzhu.desk.open311.services import PostInput, open311_request_create
from huzhu.desk.ratelimit import RateLimited
from huzhu.orgs.models import Org

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this implementation of the endpoints last changed (discovery's ``changeset``).
CHANGESET = "2026-01-01T00:00:00+08:00"
SAFE = ("GET", "HEAD")
MAX_LIST_ITEMS = 1000
# Our field names → the spec's parameter names, for error descriptions.
PARAMS = {
    "description": "description",
    "title": "description",
    "address": "address_string",
    "latitude": "lat",
    "longitude": "long",
    "contact_name": "first_name/last_name",
    "contact_phone": "phone",
    "matter_type": "service_code",
    "channel": "service_code",
    "org": "jurisdiction_id",
    "grid": "jurisdiction_id",
    "media_url": "media_url",
}
_SPLIT_KEYWORDS = re.compile(r"[\s,，、;；]+")
# "+08:00" sent unencoded in a query string arrives as " 08:00".
_LOST_PLUS = re.compile(r" (\d{2}:?\d{2})$")

Payload = tuple[Any, str, str]  # (body, XML root element, XML item element)


# --- the frame: formats, methods and errors ------------------------------------------------


def _descriptions(exc: ValidationError) -> list[str]:
    if not hasattr(exc, "error_dict"):
        return [str(message) for message in exc.messages]
    return [
        _("%(param)s：%(message)s") % {"param": PARAMS.get(name, name), "message": message}
        for name, messages in exc.message_dict.items()
        for message in messages
    ]


def _refusal(fmt: str, exc: Exception) -> HttpResponse:
    if isinstance(exc, Open311Error):
        return error_response(fmt, exc.status, [exc.description])
    if isinstance(exc, RateLimited):
        return error_response(fmt, 429, [str(m) for m in exc.messages])
    if isinstance(exc, ValidationError):
        return error_response(fmt, 400, _descriptions(exc))
    if isinstance(exc, PermissionDenied):
        return error_response(fmt, 403, [str(exc) or _("没有权限。")])
    return error_response(fmt, 404, [str(exc) or _("不存在。")])


def endpoint(methods: tuple[str, ...] = SAFE) -> Callable:
    """Wrap a view returning ``(payload, root, item)``: pick the format from the URL
    (default JSON), answer 405 for other methods, and turn refusals into error lists."""

    def decorate(view: Callable[..., Payload]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, fmt: str = JSON, **kwargs: Any) -> HttpResponse:
            fmt = XML if fmt == XML else JSON
            if request.method not in methods:
                response = error_response(
                    fmt, 405, [_("不支持 %(method)s 方法。") % {"method": request.method}]
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                payload, root, item = view(request, **kwargs)
            except (Open311Error, ValidationError, PermissionDenied, Http404) as exc:
                return _refusal(fmt, exc)
            return respond(payload, fmt, root, item)

        return wrapped

    return decorate


# --- parameters ----------------------------------------------------------------------------


def _param(data: QueryDict, name: str, limit: int = 4000) -> str:
    return (data.get(name) or "").strip()[:limit]


def _list_param(data: QueryDict, name: str) -> list[str]:
    """A comma-delimited parameter, which may also be repeated."""
    values = [part.strip() for raw in data.getlist(name) for part in raw.split(",")]
    values = [value for value in values if value]
    if len(values) > MAX_LIST_ITEMS:
        raise Open311Error(400, _("%(name)s 最多 %(n)d 项。") % {"name": name, "n": MAX_LIST_ITEMS})
    return values


def _w3_datetime(data: QueryDict, name: str) -> dt.datetime | None:
    """A W3C datetime (``2026-01-05T08:15:30+08:00``, ``…Z``) or a date; naive values are
    local time."""
    raw = _param(data, name, 40)
    if not raw:
        return None
    raw = _LOST_PLUS.sub(r"+\1", raw)
    try:
        value = parse_datetime(raw)
        if value is None:
            day = parse_date(raw)
            value = dt.datetime.combine(day, dt.time.min) if day else None
    except ValueError:
        value = None
    if value is None:
        raise Open311Error(
            400,
            _("%(name)s 应为 W3C 日期时间，例如 2026-01-05T08:15:30+08:00。") % {"name": name},
        )
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def _coordinate(data: QueryDict, name: str, low: float, high: float) -> float | None:
    raw = _param(data, name, 40)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not low <= value <= high:
        raise Open311Error(400, _("%(name)s 应为十进制度数（WGS-84）。") % {"name": name})
    return value


def _jurisdiction(data: QueryDict) -> Org | None:
    code = _param(data, "jurisdiction_id", 40)
    if not code:
        return None
    org = selectors.jurisdiction_get(code)
    if org is None:
        raise Open311Error(404, _("未知的 jurisdiction_id：%(code)s") % {"code": code})
    return org


def _request_filter(data: QueryDict) -> selectors.RequestFilter:
    statuses = _list_param(data, "status")
    unknown = [s for s in statuses if s not in (selectors.OPEN, selectors.CLOSED)]
    if unknown:
        raise Open311Error(400, _("status 只能是 open 或 closed。"))
    start = _w3_datetime(data, "start_date")
    end = _w3_datetime(data, "end_date")
    if start is not None and end is not None:
        if end < start:
            raise Open311Error(400, _("end_date 不能早于 start_date。"))
        if end - start > dt.timedelta(days=selectors.DEFAULT_DAYS):
            raise Open311Error(
                400,
                _("start_date 与 end_date 相隔不能超过 %(n)d 天。") % {"n": selectors.DEFAULT_DAYS},
            )
    return selectors.RequestFilter(
        ids=_list_param(data, "service_request_id"),
        codes=_list_param(data, "service_code"),
        statuses=statuses,
        start=start,
        end=end,
        jurisdiction=_jurisdiction(data),
    )


def _post_input(data: QueryDict) -> PostInput:
    code = _param(data, "service_code", 40)
    if not code:
        raise Open311Error(400, _("缺少 service_code。"))
    latitude = _coordinate(data, "lat", -90, 90)
    longitude = _coordinate(data, "long", -180, 180)
    if (latitude is None) != (longitude is None):
        raise Open311Error(400, _("lat 和 long 需同时提供。"))
    return PostInput(
        service_code=code,
        description=_param(data, "description", 4000),
        latitude=latitude,
        longitude=longitude,
        address_string=_param(data, "address_string", 400),
        address_id=_param(data, "address_id", 200),
        jurisdiction=_jurisdiction(data),
        first_name=_param(data, "first_name", 100),
        last_name=_param(data, "last_name", 100),
        phone=_param(data, "phone", 40),
        device_id=_param(data, "device_id", 200),
        media_url=_param(data, "media_url", 1000),
    )


# --- output --------------------------------------------------------------------------------


def _iso(value: dt.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


def _end_of_day(day: dt.date | None) -> str | None:
    if day is None:
        return None
    moment = dt.datetime.combine(day, dt.time(23, 59, 59))
    return timezone.make_aware(moment).isoformat(timespec="seconds")


def service_notice(matter: MatterType) -> str:
    return _("受理后 %(days)d 个工作日内办理。") % {"days": matter.deadline_days}


def _photo_url(request: HttpRequest, photo_id: int | None) -> str:
    if not photo_id:
        return ""
    try:
        return request.build_absolute_uri(reverse("desk:photo", args=[photo_id]))
    except NoReverseMatch:
        return ""


def service_dict(matter: MatterType) -> dict[str, Any]:
    keywords = [word for word in _SPLIT_KEYWORDS.split(matter.keywords) if word]
    return {
        "service_code": matter.code,
        "service_name": matter.name,
        "description": matter.description,
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(keywords),
        "group": matter.group,
    }


def request_dict(request: HttpRequest, ticket: Ticket) -> dict[str, Any]:
    """One public service request. Nothing about the reporter, ever."""
    matter = ticket.matter_type
    return {
        "service_request_id": ticket.number,
        "status": "closed" if ticket.status == TicketStatus.CLOSED else "open",
        "status_notes": getattr(ticket, "public_note", None) or "",
        "service_name": matter.name,
        "service_code": matter.code,
        "description": ticket.description,
        "agency_responsible": ticket.team.name if ticket.team else ticket.org.name,
        "service_notice": service_notice(matter),
        "requested_datetime": _iso(ticket.created_at),
        "updated_datetime": _iso(ticket.updated_at),
        "expected_datetime": _end_of_day(ticket.due_date),
        "address": ticket.address,
        "address_id": "",
        "zipcode": "",
        "lat": ticket.latitude,
        "long": ticket.longitude,
        "media_url": _photo_url(request, getattr(ticket, "public_photo_id", None)),
    }


# --- endpoints -----------------------------------------------------------------------------


@endpoint()
def discovery(request: HttpRequest) -> Payload:
    body = {
        "changeset": CHANGESET,
        "contact": _("互助平台 Open311 接口。问题请联系所在社区服务站或街道。"),
        "key_service": _(
            "发帖（POST）需要 api_key：向街道、区或市的管理员申请应用密钥，"
            "或使用个人 API 令牌（huzhu token create）。"
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": request.build_absolute_uri(reverse("open311:root")),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return body, "discovery", ""


@endpoint()
def service_list(request: HttpRequest) -> Payload:
    jurisdiction = _jurisdiction(request.GET)
    services = selectors.service_list(jurisdiction=jurisdiction)
    return [service_dict(matter) for matter in services], "services", "service"


@endpoint()
def service_definition(request: HttpRequest, service_code: str) -> Payload:
    matter = selectors.service_get(code=service_code, jurisdiction=_jurisdiction(request.GET))
    if matter is None:
        raise Open311Error(404, _("未知的 service_code：%(code)s") % {"code": service_code})
    return {"service_code": matter.code, "attributes": []}, "service_definition", ""


def _requests_get(request: HttpRequest) -> Payload:
    query = _request_filter(request.GET)
    tickets = selectors.request_list(query=query, now=timezone.now())
    return [request_dict(request, t) for t in tickets], "service_requests", "request"


def _requests_post(request: HttpRequest) -> Payload:
    poster = poster_for(request.POST.get("api_key") or request.GET.get("api_key") or "")
    if poster is None:
        raise Open311Error(403, _("api_key 缺失、无效或已吊销。"))
    ticket = open311_request_create(
        poster=poster,
        data=_post_input(request.POST),
        client_address=request.META.get("REMOTE_ADDR", ""),
    )
    body = [
        {
            "service_request_id": ticket.number,
            "token": ticket.token,
            "service_notice": service_notice(ticket.matter_type),
            "account_id": None,
        }
    ]
    return body, "service_requests", "request"


@csrf_exempt
@endpoint(methods=("GET", "HEAD", "POST"))
def requests(request: HttpRequest) -> Payload:
    if request.method == "POST":
        return _requests_post(request)
    return _requests_get(request)


@endpoint()
def request_detail(request: HttpRequest, request_id: str) -> Payload:
    ticket = selectors.request_get(number=request_id)
    if ticket is None:
        raise Open311Error(404, _("服务请求 %(id)s 不存在。") % {"id": request_id})
    return [request_dict(request, ticket)], "service_requests", "request"


@endpoint()
def token_detail(request: HttpRequest, token: str) -> Payload:
    ticket = selectors.token_lookup(token=token)
    if ticket is None:
        raise Open311Error(404, _("令牌不存在。"))
    body = [{"token": token, "service_request_id": ticket.number}]
    return body, "service_requests", "request"
