"""How an API caller proves who they are: a bearer token, or the browser's Django session.

Both put ``request.user`` and ``request.scope`` (the same ``Scope`` the web pages use) on the
request, so handlers and selectors see one world.

* ``TokenAuth``: ``Authorization: Bearer hz_<prefix>_<secret>``. A presented token that is
  unknown, malformed, revoked or expired is refused with 401 at once — the session is not
  tried as a fallback, so a bad token never silently "works" in a browser.
* ``SessionAuth``: the logged-in browser. Unsafe methods (POST, PATCH, …) must carry the
  CSRF token exactly as a form post would; safe methods need none. An anonymous request is
  not CSRF-checked, so it answers 401 (not 403) like any other unauthenticated call.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from huzhu.api.errors import CsrfFailed
from huzhu.api.services import api_token_authenticate
from huzhu.orgs.scope import Scope


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_token = api_token_authenticate(raw=token)  # raises InvalidToken → 401
        user = api_token.user
        request.user = user
        request.scope = Scope.for_user(user)  # type: ignore[attr-defined]
        request.api_token = api_token  # type: ignore[attr-defined]
        return user


class SessionAuth(APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)  # also tells the docs page to send the CSRF header

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed()
        if not hasattr(request, "scope"):  # ScopeMiddleware normally put a lazy one there
            request.scope = Scope.for_user(user)  # type: ignore[attr-defined]
        return user


def default_auth() -> list[Any]:
    return [TokenAuth(), SessionAuth()]
