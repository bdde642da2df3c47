"""Reads on people, always through a ``Scope``."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from huzhu.common.identity import normalise_mobile, parse_id_number
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


# --- pages (people list, lookup, tags) ---------------------------------------------------

AGE_BANDS: dict[str, tuple[int | None, int | None]] = {
    "under18": (None, 17),
    "18-59": (18, 59),
    "60+": (60, None),
    "70+": (70, None),
    "80+": (80, None),
}


def person_lookup_number(*, scope: Scope, number: str) -> list[Person]:
    """Exact lookup by a full ID number or mobile number through the keyed hash.

    Returns the matching people visible to ``scope`` (an ID matches at most one; a phone may be
    shared by a household). Out-of-scope matches are left out, exactly like missing ones.
    Raises ``ValidationError`` when ``number`` is neither a valid ID number nor a mobile number.
    """
    from huzhu.people.services import id_number_hash, phone_hash  # pure keyed-hash helpers

    qs = (
        Person.objects.within(scope, Perm.PERSON_VIEW)
        .select_related("org")
        .defer("id_number_encrypted", "phone_encrypted")
    )
    try:
        citizen = parse_id_number(number)
    except ValidationError:
        citizen = None
    if citizen is not None:
        return list(qs.filter(id_number_hash=id_number_hash(citizen.number)))
    try:
        mobile = normalise_mobile(number)
    except ValidationError as exc:
        raise ValidationError(
            _("请输入完整的18位（或15位）身份证号，或11位手机号"), code="lookup"
        ) from exc
    return list(qs.filter(phone_hash=phone_hash(mobile)).order_by("name_pinyin", "id")[:50])


def visible_tags(*, scope: Scope, person: Person) -> list[Tag]:
    """The person's tags this scope may see: sensitive tags (残疾, 低保 …) only for those who
    may edit the person, and for the person themself. Uses the prefetched tags, so it costs
    no query in a list."""
    show_sensitive = scope.person_id == person.pk or scope.can(Perm.PERSON_EDIT, person.org)
    return [t for t in person.tags.all() if show_sensitive or not t.is_sensitive]


def tag_filter_choices(*, scope: Scope) -> QuerySet[Tag]:
    """Tags offered as a list filter: sensitive ones only to those who may edit people."""
    qs = tag_list()
    return qs if scope.can(Perm.PERSON_EDIT) else qs.filter(is_sensitive=False)


def tag_choices(*, person: Person | None = None) -> QuerySet[Tag]:
    """Tags offered on the person form: the active ones plus any the person already has."""
    if person is None or person.pk is None:
        return tag_list()
    return Tag.objects.filter(Q(is_active=True) | Q(people=person)).distinct()


def tag_list_with_counts(*, scope: Scope) -> QuerySet[Tag]:
    """Every tag with ``person_count``: the people in scope carrying it (one query)."""
    return Tag.objects.annotate(
        person_count=Count(
            "people",
            filter=scope.q("people__org__path", Perm.PERSON_VIEW),
            distinct=True,
        )
    ).order_by("sort_order", "id")
