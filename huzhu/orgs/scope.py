"""The access scope of one request (DESIGN.md §2).

A ``Scope`` is the set of subtree roots on which the user holds each role. Every org-owned
model's queryset offers ``.within(scope, perm)``; a record outside it is treated exactly
like a missing record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

from huzhu.orgs.roles import ROLE_PERMS, Perm

if TYPE_CHECKING:
    from huzhu.orgs.models import Org


@dataclass(frozen=True)
class Grant:
    org_id: int
    path: str
    role: str


@dataclass(frozen=True)
class Scope:
    user_id: int | None
    grants: tuple[Grant, ...] = ()
    is_superuser: bool = False
    person_id: int | None = None
    _cache: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def anonymous(cls) -> Scope:
        return cls(user_id=None)

    @classmethod
    def for_user(cls, user: Any) -> Scope:
        if user is None or not user.is_authenticated:
            return cls.anonymous()
        from huzhu.orgs.models import RoleGrant

        rows = RoleGrant.objects.filter(user_id=user.pk, org__is_active=True).values_list(
            "org_id", "org__path", "role"
        )
        person = getattr(user, "person", None) if hasattr(user, "person") else None
        return cls(
            user_id=user.pk,
            grants=tuple(Grant(org_id, path, role) for org_id, path, role in rows),
            is_superuser=bool(user.is_superuser),
            person_id=person.pk if person else None,
        )

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(g.role for g in self.grants)

    def roots(self, perm: str = Perm.VIEW) -> tuple[str, ...]:
        """Minimal list of subtree paths on which ``perm`` holds."""
        if perm in self._cache:
            return self._cache[perm]
        if self.is_superuser:
            result: tuple[str, ...] = ("/",)
        else:
            paths = sorted({g.path for g in self.grants if perm in ROLE_PERMS.get(g.role, ())})
            kept: list[str] = []
            for path in paths:  # sorted, so an ancestor comes before its descendants
                if not any(path.startswith(root) for root in kept):
                    kept.append(path)
            result = tuple(kept)
        self._cache[perm] = result
        return result

    def can(self, perm: str, org: Org | None = None) -> bool:
        roots = self.roots(perm)
        if org is None:
            return bool(roots)
        return any(org.path.startswith(root) for root in roots)

    def q(self, path_field: str, perm: str = Perm.VIEW) -> Q:
        roots = self.roots(perm)
        if not roots:
            return Q(pk__in=[])
        condition = Q()
        for root in roots:
            condition |= Q(**{f"{path_field}__startswith": root})
        return condition


class ScopedQuerySet(models.QuerySet):
    """Base queryset for org-owned models; set ``scope_path`` on the model."""

    def within(self, scope: Scope, perm: str = Perm.VIEW) -> ScopedQuerySet:
        path_field: str = self.model.scope_path  # type: ignore[attr-defined]
        if not scope.roots(perm):
            return self.none()
        return self.filter(scope.q(path_field, perm))
