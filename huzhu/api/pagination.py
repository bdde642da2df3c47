"""Limit/offset pagination for every list: ``?limit=50&offset=100`` →
``{"items": [...], "count": N}``. Each list's selector orders by a unique key, so pages are
stable. ``offset`` is bounded, so a huge value is a 422 rather than a database overflow."""

from __future__ import annotations

from django.conf import settings
from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

from huzhu.api.types import MAX_INT

PER_PAGE = getattr(settings, "NINJA_PAGINATION_PER_PAGE", 50)
MAX_LIMIT = getattr(settings, "NINJA_PAGINATION_MAX_LIMIT", 500)


class Pagination(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(PER_PAGE, ge=1, le=MAX_LIMIT, description=f"每页条数（最多{MAX_LIMIT}）")
        offset: int = Field(0, ge=0, le=MAX_INT, description="跳过的条数")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_limit=MAX_LIMIT, **kwargs)
