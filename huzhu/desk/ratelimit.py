"""Limits on how often one source may submit (DESIGN: bad input — spam and floods).

Counts are read from the stored rows themselves (tickets and suggestions keep a keyed hash of
the client address and of the contact phone), so the limit holds across processes and
machines without a shared cache. Staff entering matters at the desk are not limited.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.crypto import keyed_hash


class RateLimited(ValidationError):
    """Too many submissions from one source; the API answers 429."""


def source_hash(address: str) -> str:
    return keyed_hash(address, "desk-source") if address else ""


def check_rate(
    model: type[Model],
    *,
    source: str = "",
    phone_hash: str = "",
    person_id: int | None = None,
    person_field: str = "reporter_id",
    now: dt.datetime | None = None,
) -> None:
    """Refuse when the client address, phone or person already submitted the hourly or daily
    limit (``HUZHU_DESK_RATE_PER_HOUR`` / ``_PER_DAY``)."""
    condition = Q()
    if source:
        condition |= Q(source_hash=source)
    if phone_hash and hasattr(model, "contact_phone_hash"):
        condition |= Q(contact_phone_hash=phone_hash)
    if person_id is not None:
        condition |= Q(**{person_field: person_id})
    if not condition:
        return
    now = now or timezone.now()
    recent = model._default_manager.filter(condition, created_at__gte=now - dt.timedelta(days=1))
    per_hour = settings.HUZHU_DESK_RATE_PER_HOUR
    per_day = settings.HUZHU_DESK_RATE_PER_DAY
    if recent.filter(created_at__gte=now - dt.timedelta(hours=1)).count() >= per_hour:
        raise RateLimited(
            _("提交过于频繁：每小时最多 %(n)d 件，请稍后再试或拨打社区服务电话。")
            % {"n": per_hour},
            code="rate_limited",
        )
    if recent.count() >= per_day:
        raise RateLimited(
            _("今天已提交 %(n)d 件，已达上限，请明天再试或拨打社区服务电话。") % {"n": per_day},
            code="rate_limited",
        )
