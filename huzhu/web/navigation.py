"""One navigation for every role: each item names the permission that shows it.

Later apps append their items to ``NAV_ITEMS``; the context processor filters by scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str
    perm: str | None = None  # None: any signed-in user
    needs_person: bool = False  # shown to users linked to a Person record (residents, volunteers)


NAV_ITEMS: list[NavItem] = [
    NavItem(_("工作台"), "home", "house"),
    NavItem(_("我的信息"), "people:me", "person-circle", needs_person=True),
    NavItem(_("居民"), "people:list", "people", Perm.PERSON_VIEW),
    NavItem(_("组织"), "orgs:tree", "diagram-3", Perm.VIEW),
    NavItem(_("居民标签"), "people:tags", "tags", Perm.ORG_MANAGE),
]


def visible_items(scope: Scope) -> list[NavItem]:
    items = []
    for item in NAV_ITEMS:
        if item.needs_person and scope.person_id is None:
            continue
        if item.perm is not None and not scope.can(item.perm):
            continue
        items.append(item)
    return items
