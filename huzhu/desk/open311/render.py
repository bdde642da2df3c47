"""Open311 responses in the two formats of GeoReport v2: JSON and XML, both UTF-8.

A response body is a list of objects (services, requests, errors …) or one object
(discovery, a service definition). In XML a list becomes a root element with one child per
object (``<services><service>…</service></services>``); a list inside an object becomes an
element whose children carry the singular name (``<formats><format>…</format></formats>``).
Missing values are JSON ``null`` and empty XML elements; booleans are ``true``/``false``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from django.http import HttpResponse

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
CONTENT_TYPES = {
    JSON: "application/json; charset=utf-8",
    XML: "text/xml; charset=utf-8",
}
# The singular element name of each list inside an object.
SINGULAR = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
# Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _append(parent: Element, name: str, value: Any) -> None:
    element = SubElement(parent, name)
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list | tuple):
        child = SINGULAR.get(name, "item")
        for item in value:
            _append(element, child, item)
    else:
        element.text = _text(value)


def to_xml(payload: Any, root: str, item: str = "") -> bytes:
    """``payload`` as an XML document: a list under ``<root>`` with one ``<item>`` per
    object, or one object as ``<root>`` itself."""
    element = Element(root)
    if isinstance(payload, list):
        for entry in payload:
            _append(element, item, entry)
    else:
        for key, value in payload.items():
            _append(element, key, value)
    body = tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def to_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def respond(payload: Any, fmt: str, root: str, item: str = "", status: int = 200) -> HttpResponse:
    body = to_xml(payload, root, item) if fmt == XML else to_json(payload)
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])
    response["Cache-Control"] = "no-cache"
    return response


def error_response(fmt: str, status: int, descriptions: list[str]) -> HttpResponse:
    """The spec's error list: ``[{"code": status, "description": …}, …]`` with that HTTP
    status."""
    errors = [{"code": status, "description": text} for text in descriptions]
    return respond(errors, fmt, "errors", "error", status=status)
