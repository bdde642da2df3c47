"""The interactive API docs at /api/v1/docs, with every asset served by this site.

ninja's stock docs page loads Swagger UI from a CDN unless ``ninja`` is an installed app;
government intranets are offline (DESIGN.md §8), so this page renders our own template and
serves Swagger UI's files from the installed django-ninja package under fixed URLs
(``/api/v1/docs/swagger-ui.css`` …). Nothing is fetched from outside at run time.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.http import require_safe
from ninja.openapi.docs import Swagger, _csrf_needed

if TYPE_CHECKING:
    from ninja import NinjaAPI

ASSET_DIR = Path(ninja.__file__).parent / "static" / "ninja"
# url name → (file, content type); fixed names, so the URLs carry no parameters.
ASSETS = {
    "docs-swagger-css": ("swagger-ui.css", "text/css; charset=utf-8"),
    "docs-swagger-js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "docs-swagger-init": ("swagger-ui-init.js", "text/javascript; charset=utf-8"),
    "docs-favicon": ("favicon.png", "image/png"),
}


class LocalSwagger(Swagger):
    template = "api/swagger.html"

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": _csrf_needed(api),
        }
        return render(request, self.template, context)


@functools.cache
def _asset_bytes(filename: str) -> bytes:
    return (ASSET_DIR / filename).read_bytes()


def _asset_view(filename: str, content_type: str) -> Any:
    @require_safe
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(_asset_bytes(filename), content_type=content_type)
        response["Cache-Control"] = "public, max-age=86400"
        return response

    return view


def asset_urls(docs_url: str) -> list[URLPattern]:
    base = docs_url.strip("/")
    return [
        path(f"{base}/{filename}", _asset_view(filename, content_type), name=name)
        for name, (filename, content_type) in ASSETS.items()
    ]
