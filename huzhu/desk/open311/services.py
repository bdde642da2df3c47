"""POST Service Request: an Open311 client registers a civic report as a desk ticket.

The request goes to one community: for a user's token, the community the user's person
lives in (else the community nearest the point); for an application key, the community
nearest the point under the key's org (or the key's org itself when it is a community).
Everything is refused before anything is stored, and the ticket with its media note is one
transaction (``ticket_create`` itself is atomic; this adds the note inside the same one).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.desk.models import AppKey, Channel, MatterType, Ticket, TicketEvent
from huzhu.desk.open311.auth import Poster
from huzhu.desk.open311.errors import Open311Error
from huzhu.desk.open311.selectors import service_get
from huzhu.desk.ratelimit import RateLimited
from huzhu.desk.selectors import community_of, matter_types_for
from huzhu.desk.services import TicketInput, nearest_org, ticket_create
from huzhu.desk.text import markup_error
from huzhu.orgs.models import Org, OrgKind

MEDIA_URL_MAX = 400
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass
class PostInput:
    """The parameters of POST Service Request (unparsed numbers arrive already checked)."""

    service_code: str
    description: str = ""
    latitude: float | None = None
    longitude: float | None = None
    address_string: str = ""
    address_id: str = ""
    jurisdiction: Org | None = None
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    device_id: str = ""
    media_url: str = ""


def contact_name(first_name: str, last_name: str) -> str:
    """张 + 三 → 张三 (Chinese names: family name first, no space); John Smith otherwise."""
    first, last = (first_name or "").strip(), (last_name or "").strip()
    if _CJK.search(first + last):
        return f"{last}{first}"
    return " ".join(part for part in (first, last) if part)


def _has_point(data: PostInput) -> bool:
    return data.latitude is not None and data.longitude is not None


def _within(org: Org, root: Org | None) -> bool:
    return root is None or org.path.startswith(root.path)


def _nearest_community(data: PostInput, under: Org | None) -> Org | None:
    if data.latitude is None or data.longitude is None:
        return None
    return nearest_org(OrgKind.COMMUNITY, data.latitude, data.longitude, under=under)


def _community_for_user(poster: Poster, data: PostInput) -> Org | None:
    person = getattr(poster.user, "person", None)
    if person is not None and person.org_id is not None:
        community = community_of(person.org)
        return community if _within(community, data.jurisdiction) else None
    return _nearest_community(data, data.jurisdiction)


def _community_for_key(key: AppKey, data: PostInput) -> Org | None:
    root = key.org
    if data.jurisdiction is not None:
        if _within(data.jurisdiction, root):
            root = data.jurisdiction
        elif not _within(root, data.jurisdiction):
            return None
    if root.kind == OrgKind.COMMUNITY:
        return root
    return _nearest_community(data, root)


def community_for(poster: Poster, data: PostInput) -> Org:
    community = (
        _community_for_key(poster.app_key, data)
        if poster.app_key is not None
        else _community_for_user(poster, data)
    )
    if community is None:
        raise Open311Error(400, _("位置不在服务范围内（location outside jurisdiction）。"))
    return community


def _check_location(data: PostInput) -> None:
    if not (_has_point(data) or data.address_string.strip() or data.address_id.strip()):
        raise Open311Error(
            400, _("缺少位置：请提供 lat 和 long，或 address_string，或 address_id。")
        )


def _check_media_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    try:
        if len(url) > MEDIA_URL_MAX or markup_error(url):
            raise ValidationError("")
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise ValidationError(
            {"media_url": [_("media_url 应为 http(s) 开头的网址，且不超过 400 字符。")]}
        ) from exc
    return url


def check_client_rate(poster: Poster, now: dt.datetime | None = None) -> None:
    """At most ``HUZHU_OPEN311_RATE_PER_HOUR`` requests per key (or per user token) an
    hour, counted from the stored tickets."""
    now = now or timezone.now()
    recent = Ticket.objects.filter(
        channel=Channel.OPEN311, created_at__gte=now - dt.timedelta(hours=1)
    )
    if poster.app_key is not None:
        recent = recent.filter(app_key=poster.app_key)
    else:
        recent = recent.filter(submitted_by=poster.user)
    limit = settings.HUZHU_OPEN311_RATE_PER_HOUR
    if recent.count() >= limit:
        raise RateLimited(
            _("该密钥提交过于频繁：每小时最多 %(n)d 件，请稍后再试。") % {"n": limit},
            code="rate_limited",
        )


def _source(poster: Poster, data: PostInput, client_address: str) -> str:
    """What the desk's per-source limit counts: for an app (one server posting for many
    phones) the device it names, else the client's address."""
    device = (data.device_id or "").strip()[:100]
    if poster.app_key is not None and device:
        return f"app:{poster.app_key.pk}:device:{device}"
    return client_address


def _public_matter(code: str) -> MatterType:
    matter = service_get(code=code)
    if matter is None:
        raise Open311Error(404, _("未知的 service_code：%(code)s") % {"code": code})
    return matter


def _check_offered(matter: MatterType, community: Org) -> None:
    if not matter_types_for(community).filter(pk=matter.pk).exists():
        raise Open311Error(404, _("该地点不受理 service_code %(code)s。") % {"code": matter.code})


def open311_request_create(*, poster: Poster, data: PostInput, client_address: str) -> Ticket:
    """Register the request as a ticket on the Open311 channel; the remote ``media_url``
    is kept as a note for the workers (never fetched)."""
    matter = _public_matter(data.service_code)
    _check_location(data)
    community = community_for(poster, data)
    _check_offered(matter, community)
    media_url = _check_media_url(data.media_url)
    check_client_rate(poster)
    ticket_input = TicketInput(
        matter_type_id=matter.pk,
        description=data.description,
        channel=Channel.OPEN311,
        org_id=community.pk,
        address=(data.address_string or data.address_id or "").strip(),
        latitude=data.latitude,
        longitude=data.longitude,
        contact_name=contact_name(data.first_name, data.last_name),
        contact_phone=data.phone,
    )
    with transaction.atomic():
        ticket = ticket_create(
            actor=poster.actor,
            scope=poster.scope,
            data=ticket_input,
            client_address=_source(poster, data, client_address),
            app_key=poster.app_key,
            limit_rate=True,
        )
        if media_url:
            TicketEvent.objects.create(
                ticket=ticket,
                verb="media_url",
                actor=poster.user,
                actor_label=str(poster.actor)[:150],
                note=_("客户端提供的图片链接（未下载，请核实后使用）：%(url)s")
                % {"url": media_url},
                is_public=False,
            )
    return ticket
