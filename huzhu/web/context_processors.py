"""Navigation shown to each role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from huzhu.common.selectors import notification_unread_count
from huzhu.web.navigation import visible_entries


def navigation(request: HttpRequest) -> dict[str, Any]:
    scope = getattr(request, "scope", None)
    if scope is None or not scope.is_authenticated:
        return {"nav_entries": []}
    return {
        "nav_entries": visible_entries(scope),
        "unread_notifications": notification_unread_count(user=request.user),
    }
