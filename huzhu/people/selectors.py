"""Reads on people, always through a ``Scope``."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, Tag


def person_list(
    *,
    scope: Scope,
    search: str = "",
    org: Org | None = None,
    tag_ids: list[int] | None = None,
    status: str = "",
    gender: str = "",
    min_age: int | None = None,
    max_age: int | None = None,
    today: dt.date | None = None,
) -> QuerySet[Person]:
    qs = (
        Person.objects.within(scope, Perm.PERSON_VIEW)
        .select_related("org")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("sort_order")))
        .defer("id_number_encrypted", "phone_encrypted")
    )
    if org is not None:
        qs = qs.filter(org__path__startswith=org.path)
    if search:
        qs = qs.search(search)
    if tag_ids:
        qs = qs.filter(tags__id__in=tag_ids).distinct()
    if status:
        qs = qs.filter(status=status)
    if gender:
        qs = qs.filter(gender=gender)
    today = today or dt.date.today()
    if min_age is not None:
        qs = qs.filter(birth_date__lte=_shift_years(today, -min_age))
    if max_age is not None:
        qs = qs.filter(birth_date__gt=_shift_years(today, -(max_age + 1)))
    return qs.order_by("name_pinyin", "id")


def _shift_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def person_get(*, scope: Scope, person_id: int, perm: str = Perm.PERSON_VIEW) -> Person:
    """The person if visible to ``scope``, or 404 — the same answer as for a missing id."""
    qs = Person.objects.within(scope, perm).select_related("org", "user").prefetch_related("tags")
    if scope.person_id == person_id:  # everyone sees their own record
        qs = Person.objects.select_related("org", "user").prefetch_related("tags")
    return get_object_or_404(qs, pk=person_id)


def person_for_user(*, user: object) -> Person | None:
    return Person.objects.select_related("org").prefetch_related("tags").filter(user=user).first()


def tag_list(*, active_only: bool = True) -> QuerySet[Tag]:
    qs = Tag.objects.all()
    return qs.filter(is_active=True) if active_only else qs
