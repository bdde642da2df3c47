"""Reads on API tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from huzhu.api.models import ApiToken


def api_token_list(*, user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
