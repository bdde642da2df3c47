"""API tokens: create, revoke and resolve. Only the SHA-256 of a token is ever stored.

A token reads ``hz_<prefix>_<secret>``: ``prefix`` is 8 hex characters kept in clear for
display and revocation (``huzhu token revoke ab12cd34``); ``secret`` is
``secrets.token_urlsafe(32)`` (256 bits). The plaintext is returned once by
``api_token_create`` and cannot be recovered afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.api.models import ApiToken
from huzhu.common.audit import log_action

TOKEN_SCHEME = "hz"
PREFIX_BYTES = 4  # 8 hex characters
SECRET_BYTES = 32
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
MAX_EXPIRES_DAYS = 3650


class InvalidToken(Exception):
    """A presented bearer token that is unknown, malformed, revoked or expired."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _split(raw: str) -> tuple[str, str] | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_SCHEME:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != PREFIX_BYTES * 2 or not secret:
        return None
    return prefix, secret


def normalise_prefix(value: str) -> str:
    """Accept ``ab12cd34``, ``hz_ab12cd34`` or a whole token; return the 8-character prefix."""
    value = (value or "").strip()
    if value.startswith(f"{TOKEN_SCHEME}_"):
        value = value[len(TOKEN_SCHEME) + 1 :]
    return value.split("_", 1)[0].lower()


def token_status(token: ApiToken, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    if token.revoked_at is not None:
        return _("已吊销")
    if token.expires_at is not None and token.expires_at <= now:
        return _("已过期")
    return _("有效")


@transaction.atomic
def api_token_create(
    *,
    actor: Any,
    user: Any,
    name: str = "",
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return the row and the plaintext (shown once)."""
    name = (name or "").strip()
    if len(name) > 100:
        raise ValidationError({"name": _("用途说明不能超过100个字")})
    if expires_days is not None and not (1 <= expires_days <= MAX_EXPIRES_DAYS):
        raise ValidationError(
            {"expires_days": _("有效天数应在1到%(max)d之间") % {"max": MAX_EXPIRES_DAYS}}
        )
    if not user.is_active:
        raise ValidationError({"user": _("该用户已停用，不能创建令牌")})
    while True:
        prefix = secrets.token_hex(PREFIX_BYTES)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    raw = f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    expires_at = timezone.now() + dt.timedelta(days=expires_days) if expires_days else None
    token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, token_hash=token_hash(raw), expires_at=expires_at
    )
    log_action(
        actor,
        "api_token.create",
        token,
        {
            "user": user.get_username(),
            "prefix": prefix,
            "name": name,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, raw


@transaction.atomic
def api_token_revoke(*, actor: Any, prefix: str) -> ApiToken:
    """Revoke the token with ``prefix``. Revoking a revoked token changes nothing."""
    prefix = normalise_prefix(prefix)
    token = (
        ApiToken.objects.select_for_update().select_related("user").filter(prefix=prefix).first()
        if prefix
        else None
    )
    if token is None:
        raise ValidationError({"prefix": _("未找到前缀为 %(p)s 的令牌") % {"p": prefix or "-"}})
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        log_action(
            actor,
            "api_token.revoke",
            token,
            {"user": token.user.get_username(), "prefix": token.prefix},
        )
    return token


def api_token_authenticate(*, raw: str) -> ApiToken:
    """The live token for a presented bearer string, or ``InvalidToken``.

    The lookup is by SHA-256 of the whole token (an index probe on a hash says nothing about
    the secret), then the stored hash is compared again with ``hmac.compare_digest``. Marks
    ``last_used_at`` at most once a minute, so a busy client does not write on every call.
    """
    raw = (raw or "").strip()
    parts = _split(raw)
    if parts is None:
        raise InvalidToken(_("令牌无效"))
    digest = token_hash(raw)
    token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if (
        token is None
        or not hmac.compare_digest(token.token_hash, digest)
        or not hmac.compare_digest(token.prefix, parts[0])
    ):
        raise InvalidToken(_("令牌无效"))
    now = timezone.now()
    if token.revoked_at is not None:
        raise InvalidToken(_("令牌已吊销"))
    if token.expires_at is not None and token.expires_at <= now:
        raise InvalidToken(_("令牌已过期"))
    if not token.user.is_active:
        raise InvalidToken(_("令牌所属用户已停用"))
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
