"""Reads for the home page: dashboard counts over a ``Scope``.

Every function here runs a fixed number of aggregate queries: the number of queries never
grows with the number of residents, orgs or tags counted (tests/web guards this).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from huzhu.common.models import AuditEntry
from huzhu.common.selectors import audit_recent
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.orgs.selectors import org_roots
from huzhu.people.models import Person, ResidenceStatus

# 老年人 = 60+ (DOMAIN.md §1); a setting, so a city that counts from 65 can say so.
ELDERLY_AGE: int = getattr(settings, "HUZHU_ELDERLY_AGE", 60)
NEW_RESIDENT_DAYS = 30
VOLUNTEER_CHAIN_KINDS = (OrgKind.ASSOCIATION, OrgKind.BRANCH, OrgKind.CORPS, OrgKind.TEAM)
# Scopes rooted at these kinds oversee several communities and get the per-community table.
OVERSIGHT_KINDS = frozenset({OrgKind.CITY, OrgKind.DISTRICT, OrgKind.STREET})


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _residents(scope: Scope, perm: str = Perm.PERSON_VIEW) -> Any:
    return Person.objects.within(scope, perm).filter(status=ResidenceStatus.ACTIVE)


def scope_roots(*, scope: Scope) -> list[Org]:
    """The orgs at the top of the user's view (one query)."""
    return list(org_roots(scope=scope).order_by("path"))


def org_counts(*, scope: Scope) -> dict[str, int]:
    """Active orgs in scope: communities, grids, and the volunteer chain by kind (one query)."""
    chain = {kind.value: Count("pk", filter=Q(kind=kind)) for kind in VOLUNTEER_CHAIN_KINDS}
    counts = (
        Org.objects.within(scope)
        .filter(is_active=True)
        .aggregate(
            communities=Count("pk", filter=Q(kind=OrgKind.COMMUNITY)),
            grids=Count("pk", filter=Q(kind=OrgKind.GRID)),
            volunteer_orgs=Count("pk", filter=Q(kind__in=VOLUNTEER_CHAIN_KINDS)),
            **chain,
        )
    )
    return {key: value or 0 for key, value in counts.items()}


def resident_counts(*, scope: Scope, today: dt.date | None = None) -> dict[str, int]:
    """Residents in register (在册) in scope: total, aged 60+, registered in the last 30 days,
    without a phone number (one query)."""
    today = today or timezone.localdate()
    since = timezone.now() - dt.timedelta(days=NEW_RESIDENT_DAYS)
    counts = _residents(scope).aggregate(
        residents=Count("pk"),
        elderly=Count("pk", filter=Q(birth_date__lte=_years_before(today, ELDERLY_AGE))),
        new_recent=Count("pk", filter=Q(created_at__gte=since)),
        no_phone=Count("pk", filter=Q(phone_hash="")),
    )
    return {key: value or 0 for key, value in counts.items()}


def tag_counts(*, scope: Scope, limit: int = 8) -> list[dict[str, Any]]:
    """The most used active tags among residents in scope, with counts (one query).
    Sensitive tags (残疾, 低保 …) only for scopes that may edit people, as on the people list."""
    # One filter() call, so the conditions and the grouping share the same join on tags.
    condition = Q(tags__is_active=True)
    if not scope.can(Perm.PERSON_EDIT):
        condition &= Q(tags__is_sensitive=False)
    rows = (
        _residents(scope)
        .filter(condition)
        .order_by()
        .values("tags__id", "tags__name", "tags__is_sensitive")
        .annotate(n=Count("pk"))
        .order_by("-n", "tags__id")[:limit]
    )
    return [
        {
            "id": r["tags__id"],
            "name": r["tags__name"],
            "sensitive": r["tags__is_sensitive"],
            "count": r["n"],
        }
        for r in rows
    ]


@dataclass
class CommunityRow:
    org: Org
    grids: int
    residents: int = 0
    elderly: int = 0


def community_table(
    *, scope: Scope, today: dt.date | None = None, limit: int = 200
) -> list[CommunityRow]:
    """Per community in scope: grids, residents in register (in the community and its grids)
    and residents aged 60+. Two queries: the communities, and residents grouped by org."""
    today = today or timezone.localdate()
    communities = (
        Org.objects.within(scope)
        .filter(kind=OrgKind.COMMUNITY, is_active=True)
        .select_related("parent")
        .annotate(
            grid_count=Count(
                "children", filter=Q(children__kind=OrgKind.GRID, children__is_active=True)
            )
        )
        .order_by("path")[:limit]
    )
    rows = {c.pk: CommunityRow(org=c, grids=c.grid_count) for c in communities}
    if not rows:
        return []
    grouped = (
        _residents(scope)
        .filter(org__kind__in=(OrgKind.COMMUNITY, OrgKind.GRID))
        .order_by()
        .values_list("org__path")
        .annotate(
            n=Count("pk"),
            old=Count("pk", filter=Q(birth_date__lte=_years_before(today, ELDERLY_AGE))),
        )
    )
    for path, n, old in grouped:
        for part in path.strip("/").split("/"):
            row = rows.get(int(part))
            if row is not None:
                row.residents += n
                row.elderly += old
                break
    return list(rows.values())


def residents_without_phone(*, scope: Scope, limit: int = 10) -> tuple[int, list[Person]]:
    """To-do: residents in register with no phone number, where the user may fix that —
    how many, and the most recently registered few (always two queries)."""
    qs = _residents(scope, Perm.PERSON_EDIT).filter(phone_hash="")
    people = list(
        qs.select_related("org")
        .defer("id_number_encrypted", "phone_encrypted")
        .order_by("-created_at", "-id")[:limit]
    )
    return qs.count(), people


@dataclass
class Dashboard:
    roots: list[Org]
    orgs: dict[str, int]
    residents: dict[str, int]
    top_tags: list[dict[str, Any]]
    communities: list[CommunityRow] | None = None
    no_phone_count: int = 0
    no_phone: list[Person] = field(default_factory=list)
    recent_audit: list[AuditEntry] | None = None
    can_edit_people: bool = False
    elderly_age: int = ELDERLY_AGE
    new_resident_days: int = NEW_RESIDENT_DAYS

    @property
    def show_communities(self) -> bool:
        return self.communities is not None


def dashboard(*, scope: Scope, today: dt.date | None = None) -> Dashboard:
    """Everything the home page shows a user with grants, in a fixed number of queries."""
    today = today or timezone.localdate()
    roots = scope_roots(scope=scope)
    board = Dashboard(
        roots=roots,
        orgs=org_counts(scope=scope),
        residents=resident_counts(scope=scope, today=today),
        top_tags=tag_counts(scope=scope),
        can_edit_people=scope.can(Perm.PERSON_EDIT),
    )
    if scope.is_superuser or any(root.kind in OVERSIGHT_KINDS for root in roots):
        board.communities = community_table(scope=scope, today=today)
    if board.can_edit_people:
        board.no_phone_count, board.no_phone = residents_without_phone(scope=scope)
    if scope.can(Perm.AUDIT_VIEW):
        board.recent_audit = list(audit_recent(scope=scope, limit=10))
    return board
