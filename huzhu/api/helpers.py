"""Small helpers shared by the routers: classification ids sent in a request, objects named
in a request body that the caller cannot see, and values several outputs show alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import Http404

T = TypeVar("T")


def active_items(model: type[Model], ids: list[int], field: str, message: Any) -> list[Any]:
    """The active rows of ``model`` with these ids, or a 422 on ``field`` naming the ids that
    are unknown or switched off (``message`` has an ``%(ids)s`` placeholder)."""
    wanted = set(ids)
    if not wanted:
        return []
    found = list(model.objects.filter(pk__in=wanted, is_active=True))
    missing = wanted - {o.pk for o in found}
    if missing:
        raise ValidationError({field: str(message) % {"ids": ", ".join(map(str, sorted(missing)))}})
    return found


@contextmanager
def missing_as_invalid(field: str, message: str) -> Iterator[None]:
    """Inside the block, a 404 (an id in the request body that the caller cannot see) is a
    422 on ``field`` instead."""
    try:
        yield
    except Http404 as exc:
        raise ValidationError({field: message}) from exc


def by_sort_order(items: Iterable[T]) -> list[T]:
    """Classification items (prefetched) in their list order: ``sort_order``, then id."""
    return sorted(items, key=lambda item: (item.sort_order, item.pk))  # type: ignore[attr-defined]


def user_name(user: Any) -> str | None:
    """How a user (who recorded, approved, …) is named in an output; None for nobody."""
    if user is None:
        return None
    return user.get_full_name() or user.get_username()
