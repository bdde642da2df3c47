"""Reads on the org tree, always through a ``Scope``."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from huzhu.orgs.models import Org, RoleGrant
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope


def org_list(
    *, scope: Scope, kind: str | None = None, search: str = "", parent_id: int | None = None
) -> QuerySet[Org]:
    qs = Org.objects.within(scope).select_related("parent")
    if kind:
        qs = qs.filter(kind=kind)
    if parent_id:
        qs = qs.filter(parent_id=parent_id)
    if search.strip():
        qs = qs.filter(name__contains=search.strip())
    return qs.order_by("path")


def org_get(*, scope: Scope, org_id: int, perm: str = Perm.VIEW) -> Org:
    return get_object_or_404(Org.objects.within(scope, perm).select_related("parent"), pk=org_id)


def org_get_by_code(*, scope: Scope, code: str) -> Org:
    return get_object_or_404(Org.objects.within(scope), division_code=code)


def org_roots(*, scope: Scope) -> QuerySet[Org]:
    """The top nodes the user can see: their grant roots."""
    paths = scope.roots(Perm.VIEW)
    if paths == ("/",):
        return Org.objects.filter(parent__isnull=True)
    return Org.objects.filter(path__in=paths).order_by("path")


def org_children(*, scope: Scope, org: Org) -> QuerySet[Org]:
    return (
        Org.objects.within(scope)
        .filter(parent=org)
        .annotate(child_count=Count("children", distinct=True))
        .order_by("sort_order", "kind", "name")
    )


def org_ancestors(*, scope: Scope, org: Org) -> QuerySet[Org]:
    """Breadcrumb: only the ancestors the user may see."""
    return Org.objects.within(scope).ancestors_of(org)


def org_choices_for_residence(*, scope: Scope, perm: str = Perm.PERSON_EDIT) -> QuerySet[Org]:
    from huzhu.orgs.models import RESIDENCE_KINDS

    return (
        Org.objects.within(scope, perm)
        .filter(kind__in=RESIDENCE_KINDS, is_active=True)
        .order_by("path")
    )


def grant_list(*, scope: Scope, org: Org) -> QuerySet[RoleGrant]:
    return (
        RoleGrant.objects.within(scope)
        .filter(org=org)
        .select_related("user", "granted_by")
        .order_by("role", "user__username")
    )


def grant_get(*, scope: Scope, grant_id: int) -> RoleGrant:
    return get_object_or_404(
        RoleGrant.objects.within(scope, Perm.ORG_MANAGE).select_related("org", "user"), pk=grant_id
    )


# --- pages (org tree browser, org detail) ------------------------------------------------


def org_tree_roots(*, scope: Scope) -> QuerySet[Org]:
    """The user's visible roots, each with ``child_count`` (one query)."""
    return org_roots(scope=scope).annotate(child_count=Count("children", distinct=True))


def _active_residents_by_path(*, scope: Scope, under: Org | None = None) -> list[tuple[str, int]]:
    """(org path, number of residents in register) for every org that has residents, inside
    ``scope`` and, if given, the subtree of ``under``. One grouped query; its rows grow with
    the number of orgs, never with the number of residents."""
    from huzhu.people.models import Person, ResidenceStatus

    qs = Person.objects.within(scope, Perm.PERSON_VIEW).filter(status=ResidenceStatus.ACTIVE)
    if under is not None:
        qs = qs.filter(org__path__startswith=under.path)
    return list(qs.order_by().values_list("org__path").annotate(n=Count("pk")))


def org_children_overview(*, scope: Scope, org: Org) -> tuple[list[Org], int]:
    """The visible children of ``org`` — each with ``child_count`` and ``resident_count``
    (residents in register in its subtree) — and the residents of ``org``'s whole subtree.
    Two queries, however many children or residents there are."""
    children = list(org_children(scope=scope, org=org))
    by_id = {child.pk: child for child in children}
    for child in children:
        child.resident_count = 0  # type: ignore[attr-defined]
    total = 0
    for path, count in _active_residents_by_path(scope=scope, under=org):
        total += count
        for part in path.strip("/").split("/"):
            child = by_id.get(int(part))
            if child is not None:
                child.resident_count += count  # type: ignore[attr-defined]
                break
    return children, total


def user_get_by_username(*, username: str) -> object | None:
    """An existing login by its username (case-insensitive), or None. Used by the grant form:
    an org manager gives a role to an account that already exists."""
    from django.contrib.auth import get_user_model

    username = (username or "").strip()
    if not username:
        return None
    return get_user_model().objects.filter(username__iexact=username).first()
