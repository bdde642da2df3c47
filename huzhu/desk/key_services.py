"""Application keys for Open311 clients (``AppKey``): issue, revoke, list and resolve.

A key reads ``o311_<prefix>_<secret>``: ``prefix`` is 8 hex characters kept in clear for
display and revocation; ``secret`` is ``secrets.token_urlsafe(32)`` (256 bits). Only the
SHA-256 of the whole key is stored, so the plaintext is shown once, when it is issued.

Issuing and revoking need ``Perm.ORG_MANAGE`` over the key's org (an administrator of the
street, district or city whose communities the client reports to). A key outside the
administrator's scope is missing (404), like any other record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.desk.models import AppKey
from huzhu.desk.text import plain_text_errors
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

KEY_SCHEME = "o311"
PREFIX_BYTES = 4  # 8 hex characters
SECRET_BYTES = 32
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# Orgs a key may be issued for: each has communities at or below it.
KEY_ORG_KINDS = (OrgKind.CITY, OrgKind.DISTRICT, OrgKind.STREET, OrgKind.COMMUNITY)


def key_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def key_label(key: AppKey) -> str:
    """How a key is shown once issued: its scheme and prefix, never the secret."""
    return f"{KEY_SCHEME}_{key.prefix}…"


def _split(raw: str) -> tuple[str, str] | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    return prefix, secret


def is_app_key(raw: str) -> bool:
    return (raw or "").strip().startswith(f"{KEY_SCHEME}_")


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("请填写应用名称。")]})
    if len(name) > 100:
        raise ValidationError({"name": [_("应用名称不能超过 100 字。")]})
    errors = plain_text_errors({"name": name})
    if errors:
        raise ValidationError(errors)
    return name


@transaction.atomic
def appkey_issue(*, actor: Any, scope: Scope, org: Org, name: str) -> tuple[AppKey, str]:
    """Issue a key for a client reporting to the communities under ``org``; return the row
    and the plaintext key (shown once)."""
    if not scope.can(Perm.ORG_MANAGE, org):
        raise PermissionDenied(_("只有该组织的管理员可以签发应用密钥。"))
    if org.kind not in KEY_ORG_KINDS or not org.is_active:
        raise ValidationError({"org": [_("应用密钥只能签发给市、区、街道或社区。")]})
    name = _clean_name(name)
    while True:
        prefix = secrets.token_hex(PREFIX_BYTES)
        if not AppKey.objects.filter(prefix=prefix).exists():
            break
    raw = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = AppKey.objects.create(
        name=name,
        org=org,
        prefix=prefix,
        key_hash=key_hash(raw),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    log_action(actor, "desk.appkey.issue", key, {"name": name, "prefix": prefix})
    return key, raw


def appkey_list(*, scope: Scope) -> QuerySet[AppKey]:
    """The keys an administrator may see and revoke, newest first."""
    return AppKey.objects.within(scope, Perm.ORG_MANAGE).select_related("org", "created_by")


def appkey_get(*, scope: Scope, key_id: int) -> AppKey:
    """One key within the administrator's scope; 404 for missing and not yours alike."""
    key = appkey_list(scope=scope).filter(pk=key_id).first()
    if key is None:
        raise Http404(_("应用密钥不存在或无权管理。"))
    return key


@transaction.atomic
def appkey_revoke(*, actor: Any, scope: Scope, key_id: int) -> AppKey:
    """Revoke a key at once; revoking a revoked key changes nothing. Requests it posted
    stay (their ``app_key`` still names the client)."""
    key = appkey_list(scope=scope).select_for_update(of=("self",)).filter(pk=key_id).first()
    if key is None:
        raise Http404(_("应用密钥不存在或无权管理。"))
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        log_action(actor, "desk.appkey.revoke", key, {"name": key.name, "prefix": key.prefix})
    return key


def appkey_authenticate(*, raw: str) -> AppKey | None:
    """The live key for a presented string, or None when it is unknown, malformed or revoked.

    The lookup is by SHA-256 of the whole key, then the stored hash is compared again in
    constant time. ``last_used_at`` is written at most once a minute."""
    raw = (raw or "").strip()
    parts = _split(raw)
    if parts is None:
        return None
    digest = key_hash(raw)
    key = AppKey.objects.select_related("org").filter(key_hash=digest).first()
    if (
        key is None
        or not hmac.compare_digest(key.key_hash, digest)
        or not hmac.compare_digest(key.prefix, parts[0])
        or key.revoked_at is not None
        or not key.org.is_active
    ):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        AppKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
