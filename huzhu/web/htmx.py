"""Small helpers for pages that HTMX updates in place."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def render_results(
    request: HttpRequest,
    *,
    page_template: str,
    partial_template: str,
    target: str,
    context: dict[str, Any],
    replace_url: str | None = None,
) -> HttpResponse:
    """The whole page, or only the results partial when HTMX asks for ``target``.
    ``replace_url`` rewrites the browser's address (e.g. after dropping a refused query)."""
    partial = is_htmx(request) and request.headers.get("HX-Target") == target
    response = render(request, partial_template if partial else page_template, context)
    if replace_url is not None:
        response["HX-Replace-Url"] = replace_url
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response
