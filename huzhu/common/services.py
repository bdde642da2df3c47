"""Cross-cutting writes: numbered sequences and notifications."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from huzhu.common.models import Counter, Notification

logger = logging.getLogger("huzhu.notify")


def counter_next(name: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of the sequence ``name``; returns the first. Safe under
    concurrency: the counter row is locked until the caller's transaction ends."""
    with transaction.atomic():
        Counter.objects.get_or_create(name=name)
        counter = Counter.objects.select_for_update().get(name=name)
        first = counter.value + 1
        counter.value += count
        counter.save(update_fields=["value"])
    return first


def notify(
    *, user: Any, kind: str, title: str, body: str = "", url: str = "", dedupe_key: str = ""
) -> Notification | None:
    """Send one notification: in-app always, plus the console/log channel. With a
    ``dedupe_key`` a repeat (e.g. a periodic job run twice) sends nothing and returns None."""
    if user is None:
        return None
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                user=user, kind=kind, title=title, body=body, url=url, dedupe_key=dedupe_key
            )
    except IntegrityError:
        return None
    _dispatch_later(note)
    return note


def _dispatch_later(note: Notification) -> None:
    """Hand the message to the outside channels once the transaction has committed."""
    from huzhu.common.channels import dispatch

    transaction.on_commit(lambda: dispatch(note))


NOTIFICATION_COLUMNS = ("user_id", "kind", "title", "body", "url", "dedupe_key", "created_at")


def notify_many(messages: list[dict[str, Any]]) -> int:
    """Send many notifications at once (one bulk insert; the batch paths of the activities use
    it). Each message holds ``user`` (or ``user_id``), ``kind``, ``title`` and optionally
    ``body`` and ``url``; messages without a user are skipped. The outside channels get the
    whole batch after commit. Returns how many were stored."""
    from django.utils import timezone

    from huzhu.common.bulk import write_rows

    now = timezone.now()
    rows = []
    for m in messages:
        user_id = m["user_id"] if "user_id" in m else getattr(m.get("user"), "pk", None)
        if user_id is not None:
            rows.append(
                (user_id, m["kind"], m["title"], m.get("body", ""), m.get("url", ""), "", now)
            )
    write_rows(Notification, NOTIFICATION_COLUMNS, rows)
    if rows:
        transaction.on_commit(lambda: _dispatch_batch(rows))
    return len(rows)


def _dispatch_batch(rows: list[tuple]) -> None:
    from huzhu.common.channels import dispatch_many

    dispatch_many(
        [Notification(**dict(zip(NOTIFICATION_COLUMNS, row, strict=True))) for row in rows]
    )


def notifications_mark_read(*, user: Any, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when ``ids`` is None)."""
    from django.utils import timezone

    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())
