"""``log_action``: the one way every service records what it did."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from huzhu.common.logging import scrub
from huzhu.common.models import AuditEntry


def _clean(value: Any) -> Any:
    """Mask anything that looks like an ID or mobile number, at any depth."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


def log_action(
    actor: Any, verb: str, target: models.Model | None = None, data: dict | None = None
) -> AuditEntry:
    """Record that ``actor`` did ``verb`` to ``target``. ``data`` must hold masked values only;
    it is scrubbed again here as a backstop."""
    org = getattr(target, "audit_org", None) if target is not None else None
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEntry.objects.create(
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else (str(actor) if actor else "系统")),
        verb=verb,
        target_type=ContentType.objects.get_for_model(target) if target is not None else None,
        target_id=str(target.pk) if target is not None else "",
        target_label=scrub(str(target))[:200] if target is not None else "",
        org=org,
        org_path=org.path if org is not None else "",
        data=_clean(data or {}),
    )
