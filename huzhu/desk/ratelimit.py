"""Limits on how often one source may submit (DESIGN: bad input — spam and floods).

Counts are read from the stored rows themselves (tickets and suggestions keep a keyed hash of
the client address and of the contact phone), so the limit holds across processes and
machines without a shared cache. Staff entering matters at the desk are not limited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Model, Q
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
    """Refuse when the client address, the phone or the person — each counted on its own —
    already submitted the hourly or daily limit (``HUZHU_DESK_RATE_PER_HOUR`` / ``_PER_DAY``).
    One query, whatever the number of keys."""
    keys: dict[str, Q] = {}
    if source:
        keys["source"] = Q(source_hash=source)
    if phone_hash and hasattr(model, "contact_phone_hash"):
        keys["phone"] = Q(contact_phone_hash=phone_hash)
    if person_id is not None:
        keys["person"] = Q(**{person_field: person_id})
    if not keys:
        return
    now = now or timezone.now()
    hour_ago = now - dt.timedelta(hours=1)
    counts: dict[str, Any] = {}
    for name, condition in keys.items():
        counts[f"{name}_day"] = Count("pk", filter=condition)
        counts[f"{name}_hour"] = Count("pk", filter=condition & Q(created_at__gte=hour_ago))
    either = Q()
    for condition in keys.values():
        either |= condition
    totals = model._default_manager.filter(
        either, created_at__gte=now - dt.timedelta(days=1)
    ).aggregate(**counts)
    per_hour = settings.HUZHU_DESK_RATE_PER_HOUR
    per_day = settings.HUZHU_DESK_RATE_PER_DAY
    if any(totals[f"{name}_hour"] >= per_hour for name in keys):
        raise RateLimited(
            _("提交过于频繁：每小时最多 %(n)d 件，请稍后再试或拨打社区服务电话。")
            % {"n": per_hour},
            code="rate_limited",
        )
    if any(totals[f"{name}_day"] >= per_day for name in keys):
        raise RateLimited(
            _("今天已提交 %(n)d 件，已达上限，请明天再试或拨打社区服务电话。") % {"n": per_day},
            code="rate_limited",
        )
