"""Resolve one ``Scope`` per request, lazily."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from huzhu.orgs.scope import Scope


class ScopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.scope = SimpleLazyObject(lambda: Scope.for_user(request.user))  # type: ignore[attr-defined]
        return self.get_response(request)
