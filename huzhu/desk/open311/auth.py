"""Who posts an Open311 request: the ``api_key`` parameter is either a user's API token
(``huzhu token create``, ``hz_…``) or an application key an administrator issued
(``huzhu open311-key create`` or the 应用密钥 page, ``o311_…``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huzhu.api.services import InvalidToken, api_token_authenticate
from huzhu.desk.key_services import appkey_authenticate, is_app_key
from huzhu.desk.models import AppKey
from huzhu.orgs.scope import Scope


@dataclass(frozen=True)
class Poster:
    """The authenticated client of one request: a user (through their token) or an app."""

    user: Any = None
    app_key: AppKey | None = None

    @property
    def actor(self) -> Any:
        return self.user if self.user is not None else self.app_key

    @property
    def scope(self) -> Scope:
        return Scope.for_user(self.user) if self.user is not None else Scope.anonymous()


def poster_for(api_key: str) -> Poster | None:
    """The poster a presented key stands for, or None when it is missing, unknown, revoked
    or expired (the view answers 403)."""
    api_key = (api_key or "").strip()
    if not api_key or len(api_key) > 200:
        return None
    if is_app_key(api_key):
        key = appkey_authenticate(raw=api_key)
        return Poster(app_key=key) if key is not None else None
    try:
        token = api_token_authenticate(raw=api_key)
    except InvalidToken:
        return None
    return Poster(user=token.user)
