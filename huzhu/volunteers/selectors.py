"""Reads on the volunteer register, always through a ``Scope``.

``volunteer_list`` is the one search: every filter is a plain column, an ``EXISTS`` on an
indexed link table, or a bit test on the availability mask, so it stays fast on a register of
a million rows (benchmarks/search_volunteers.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.availability import to_mask
from huzhu.volunteers.models import Qualification, TeamMembership, Volunteer

SORTS = {
    "number": ("number",),
    "-number": ("-number",),
    "name": ("person__name_pinyin", "number"),
    "-name": ("-person__name_pinyin", "-number"),
    "hours": ("recorded_minutes", "number"),
    "-hours": ("-recorded_minutes", "number"),
    "star": ("star_level", "number"),
    "-star": ("-star_level", "number"),
    "registered": ("registered_at", "number"),
    "-registered": ("-registered_at", "-number"),
    "age": ("-person__birth_date", "number"),
    "-age": ("person__birth_date", "number"),
}


@dataclass
class VolunteerFilters:
    search: str = ""  # name, pinyin initials/full pinyin, number, ID suffix
    org: Org | None = None  # community subtree
    status: str = ""
    skill_ids: list[int] = field(default_factory=list)  # any of
    category_ids: list[int] = field(default_factory=list)  # any of
    served_group_ids: list[int] = field(default_factory=list)  # any of
    slots: list[str] = field(default_factory=list)  # available in all of these slots
    qualification_type_id: int | None = None  # holds one valid on ``today``
    min_star: int | None = None
    political_status: str = ""
    min_age: int | None = None
    max_age: int | None = None
    team: Org | None = None  # active member of this team
    sort: str = "number"


def visible_volunteers(scope: Scope) -> QuerySet[Volunteer]:
    """Volunteers registered in the scope's communities, plus members of teams a team
    leader runs (a leader's grant is on the team, not the community)."""
    roots = scope.roots(Perm.VOLUNTEER_VIEW)
    if not roots:
        return Volunteer.objects.none()
    in_teams = TeamMembership.objects.filter(
        scope.q("team__path", Perm.VOLUNTEER_VIEW), volunteer=OuterRef("pk"), left_on__isnull=True
    )
    return Volunteer.objects.filter(scope.q("org__path", Perm.VOLUNTEER_VIEW) | Exists(in_teams))


def volunteer_list(
    *, scope: Scope, filters: VolunteerFilters | None = None, today: dt.date | None = None
) -> QuerySet[Volunteer]:
    f = filters or VolunteerFilters()
    today = today or timezone.localdate()
    qs = visible_volunteers(scope).select_related("person", "org")
    if f.search.strip():
        qs = _search(qs, f.search.strip())
    if f.org is not None:
        qs = qs.filter(org__path__startswith=f.org.path)
    if f.status:
        qs = qs.filter(status=f.status)
    for ids, relation in (
        (f.skill_ids, "skills"),
        (f.category_ids, "categories"),
        (f.served_group_ids, "served_groups"),
    ):
        if ids:
            through = getattr(Volunteer, relation).through
            qs = qs.filter(
                Exists(
                    through.objects.filter(
                        volunteer_id=OuterRef("pk"), **{f"{through_target(relation)}__in": ids}
                    )
                )
            )
    if f.slots:
        mask = to_mask(f.slots)
        qs = qs.annotate(_slots=F("availability").bitand(mask)).filter(_slots=mask)
    if f.qualification_type_id:
        valid = Qualification.objects.filter(
            volunteer_id=OuterRef("pk"), kind_id=f.qualification_type_id
        ).filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
        qs = qs.filter(Exists(valid))
    if f.min_star:
        qs = qs.filter(star_level__gte=f.min_star)
    if f.political_status:
        qs = qs.filter(political_status=f.political_status)
    if f.min_age is not None:
        qs = qs.filter(person__birth_date__lte=_years_before(today, f.min_age))
    if f.max_age is not None:
        qs = qs.filter(person__birth_date__gt=_years_before(today, f.max_age + 1))
    if f.team is not None:
        qs = qs.filter(
            Exists(
                TeamMembership.objects.filter(
                    volunteer_id=OuterRef("pk"), team=f.team, left_on__isnull=True
                )
            )
        )
    return qs.order_by(*SORTS.get(f.sort, SORTS["number"]))


def through_target(relation: str) -> str:
    return {
        "skills": "skill_id",
        "categories": "servicecategory_id",
        "served_groups": "servedgroup_id",
    }[relation]


def _search(qs: QuerySet[Volunteer], text: str) -> QuerySet[Volunteer]:
    lowered = text.lower()
    condition = Q(person__name__contains=text) | Q(number__iexact=text)
    if lowered.isascii() and lowered.isalpha():
        condition |= Q(person__name_initials__startswith=lowered)
        condition |= Q(person__name_pinyin__startswith=lowered)
    if len(text) <= 4 and text[:-1].isdigit() and (text[-1].isdigit() or text[-1] in "xX"):
        condition |= Q(person__id_number_masked__endswith=text.upper())
    return qs.filter(condition)


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def volunteer_get(*, scope: Scope, volunteer_id: int) -> Volunteer:
    """The registration if visible (or the user's own), else 404 — same as missing."""
    qs = Volunteer.objects.select_related("person", "org", "approved_by")
    if scope.person_id is not None:
        own = qs.filter(pk=volunteer_id, person_id=scope.person_id).first()
        if own is not None:
            return own
    return get_object_or_404(
        qs.filter(pk__in=visible_volunteers(scope).values("pk")), pk=volunteer_id
    )


def volunteer_for_person(*, person_id: int | None) -> Volunteer | None:
    if person_id is None:
        return None
    return Volunteer.objects.select_related("person", "org").filter(person_id=person_id).first()
