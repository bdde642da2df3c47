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
from huzhu.orgs.roles import Perm, Role
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


def _under(path_field: str, paths: list[str]) -> Q:
    condition = Q()
    for path in paths:
        condition |= Q(**{f"{path_field}__startswith": path})
    return condition


def visible_volunteers(scope: Scope) -> QuerySet[Volunteer]:
    """Volunteers registered in the scope's areas, plus the members of teams a team leader
    runs (a leader's grant is on the team, not the community). Written as ``org_id IN
    (orgs of the area)`` so PostgreSQL can use the volunteer indexes (a join on the org
    path would scan every volunteer)."""
    roots = scope.roots(Perm.VOLUNTEER_VIEW)
    if not roots:
        return Volunteer.objects.none()
    if "/" in roots:
        return Volunteer.objects.all()
    teams = sorted({g.path for g in scope.grants if g.role == Role.TEAM_LEADER})
    areas = [root for root in roots if root not in teams]
    conditions = []
    if areas:
        conditions.append(Q(org_id__in=Org.objects.filter(_under("path", areas)).values("pk")))
    if teams:
        members = TeamMembership.objects.filter(_under("team__path", teams), left_on__isnull=True)
        conditions.append(Q(pk__in=members.values("volunteer_id")))
    condition = conditions[0]
    for other in conditions[1:]:
        condition |= other
    return Volunteer.objects.filter(condition)


def volunteer_list(
    *, scope: Scope, filters: VolunteerFilters | None = None, today: dt.date | None = None
) -> QuerySet[Volunteer]:
    f = filters or VolunteerFilters()
    today = today or timezone.localdate()
    qs = visible_volunteers(scope).select_related("person", "org")
    if f.search.strip():
        qs = _search(qs, f.search.strip())
    if f.org is not None:
        qs = qs.filter(org_id__in=Org.objects.filter(path__startswith=f.org.path).values("pk"))
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


# --- registry pages: registration choices, review queue, search rows, lookup -------------

from huzhu.orgs.models import RESIDENCE_KINDS, OrgKind  # noqa: E402
from huzhu.volunteers.models import (  # noqa: E402
    QualificationType,
    ServedGroup,
    ServiceCategory,
    Skill,
    VolunteerStatus,
    VolunteerStatusChange,
)


def volunteer_rows(
    *, scope: Scope, filters: VolunteerFilters | None = None, today: dt.date | None = None
) -> QuerySet[Volunteer]:
    """``volunteer_list`` with skills and categories prefetched, for list pages and exports:
    the number of queries does not grow with the rows shown."""
    return volunteer_list(scope=scope, filters=filters, today=today).prefetch_related(
        "skills", "categories", "served_groups"
    )


def volunteer_review_queue(*, scope: Scope) -> QuerySet[Volunteer]:
    """Registrations waiting for review (待审核) in orgs where the user manages volunteers."""
    if not scope.roots(Perm.VOLUNTEER_MANAGE):
        return Volunteer.objects.none()
    return (
        Volunteer.objects.filter(
            scope.q("org__path", Perm.VOLUNTEER_MANAGE), status=VolunteerStatus.PENDING
        )
        .select_related("person", "org")
        .prefetch_related("skills", "categories", "served_groups")
        .order_by("registered_at", "id")
    )


def volunteer_status_history(*, volunteer: Volunteer) -> list[VolunteerStatusChange]:
    return list(volunteer.status_changes.select_related("actor").order_by("created_at", "id"))


def volunteer_lookup_number(*, scope: Scope, number: str) -> list[Volunteer]:
    """Exact lookup by a full volunteer number, ID number or mobile number (POST only, so
    the number never travels in a URL). Only visible registrations are returned."""
    from huzhu.common.identity import normalise_text
    from huzhu.people.selectors import person_lookup_number

    text = normalise_text(number).upper()
    visible = visible_volunteers(scope).select_related("person", "org")
    if text.startswith("V"):
        return list(visible.filter(number=text))
    people = person_lookup_number(scope=scope, number=text)
    return list(visible.filter(person__in=[p.pk for p in people]).order_by("number"))


def all_revealable(*, scope: Scope, volunteers: QuerySet[Volunteer]) -> bool:
    """True when the user may see full ID and phone numbers of every row (PERSON_REVEAL
    over each row's org). One ``EXISTS`` query."""
    if not scope.roots(Perm.PERSON_REVEAL):
        return False
    if scope.roots(Perm.PERSON_REVEAL) == ("/",):
        return True
    return not volunteers.exclude(scope.q("org__path", Perm.PERSON_REVEAL)).exists()


def _street_of(orgs: list[Org]) -> dict[int, Org]:
    """Each org's nearest ancestor of kind street (one query)."""
    ancestor_ids = {i for org in orgs for i in org.ancestor_ids}
    streets = {
        s.pk: s for s in Org.objects.filter(pk__in=ancestor_ids, kind=OrgKind.STREET).only("name")
    }
    result = {}
    for org in orgs:
        for ancestor_id in reversed(org.ancestor_ids):
            if ancestor_id in streets:
                result[org.pk] = streets[ancestor_id]
                break
    return result


def residence_org_groups(orgs: QuerySet[Org]) -> list[tuple[str, list[tuple[int, str]]]]:
    """Communities and grids grouped by street, for a ``<select>`` with ``<optgroup>``s:
    ``[(street name, [(org id, label), …]), …]``. A grid's label carries its community's
    name unless it already starts with it."""
    rows = list(orgs.select_related("parent").order_by("path"))
    streets = _street_of(rows)
    groups: dict[str, list[tuple[int, str]]] = {}
    for org in rows:
        street = streets.get(org.pk)
        label = org.name
        if org.kind == OrgKind.GRID and org.parent and not org.name.startswith(org.parent.name):
            label = f"{org.parent.name} · {org.name}"
        groups.setdefault(street.name if street else "", []).append((org.pk, label))
    return list(groups.items())


def registration_streets() -> list[tuple[str, list[tuple[int, str]]]]:
    """Active streets that have an active community, grouped by district: the first step of
    self-registration. Names of communities are not listed until a street is chosen."""
    has_residence = Org.objects.filter(
        path__startswith=OuterRef("path"), kind__in=RESIDENCE_KINDS, is_active=True
    )
    streets = (
        Org.objects.filter(kind=OrgKind.STREET, is_active=True)
        .filter(Exists(has_residence))
        .select_related("parent")
        .order_by("path")
    )
    groups: dict[str, list[tuple[int, str]]] = {}
    for street in streets:
        groups.setdefault(street.parent.name if street.parent else "", []).append(
            (street.pk, street.name)
        )
    return list(groups.items())


def registration_orgs(*, street_id: int | None) -> QuerySet[Org]:
    """Active communities and grids of one street (any signed-in resident may choose)."""
    if not street_id:
        return Org.objects.none()
    street = Org.objects.filter(pk=street_id, kind=OrgKind.STREET, is_active=True).first()
    if street is None:
        return Org.objects.none()
    return Org.objects.filter(
        path__startswith=street.path, kind__in=RESIDENCE_KINDS, is_active=True
    ).order_by("path")


def registration_org(*, org_id: int | None) -> Org | None:
    """An active community or grid anyone may register in, or None."""
    if not org_id:
        return None
    return Org.objects.filter(pk=org_id, kind__in=RESIDENCE_KINDS, is_active=True).first()


def street_for(org: Org | None) -> Org | None:
    if org is None:
        return None
    return (
        Org.objects.filter(pk__in=org.ancestor_ids, kind=OrgKind.STREET).order_by("-depth").first()
    )


def skill_choices(*, curated: bool | None = None) -> QuerySet[Skill]:
    qs = Skill.objects.filter(is_active=True)
    if curated is not None:
        qs = qs.filter(is_curated=curated)
    return qs.order_by("-is_curated", "sort_order", "id")


def category_choices() -> QuerySet[ServiceCategory]:
    return ServiceCategory.objects.filter(is_active=True).order_by("sort_order", "id")


def served_group_choices() -> QuerySet[ServedGroup]:
    return ServedGroup.objects.filter(is_active=True).order_by("sort_order", "id")


def qualification_type_choices() -> QuerySet[QualificationType]:
    return QualificationType.objects.filter(is_active=True).order_by("sort_order", "id")
