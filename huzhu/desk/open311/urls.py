"""Open311 GeoReport v2 routes under ``/open311/v2/``. Each endpoint answers with a format
suffix (``services.json``, ``services.xml``) and without one (JSON)."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import URLPattern, path

from huzhu.desk.open311 import views

app_name = "open311"


def formats(route: str, view: Callable, name: str) -> list[URLPattern]:
    """``route.json``, ``route.xml`` and ``route`` (JSON), all under one name: reverse with
    ``kwargs={"fmt": "xml"}`` for the XML one."""
    return [
        path(f"{route}.json", view, {"fmt": "json"}, name=name),
        path(f"{route}.xml", view, {"fmt": "xml"}, name=name),
        path(route, view, name=name),
    ]


urlpatterns = [
    path("", views.discovery, name="root"),
    *formats("discovery", views.discovery, "discovery"),
    *formats("services", views.service_list, "services"),
    *formats("services/<slug:service_code>", views.service_definition, "service"),
    *formats("requests", views.requests, "requests"),
    *formats("requests/<slug:request_id>", views.request_detail, "request"),
    *formats("tokens/<slug:token>", views.token_detail, "token"),
]
