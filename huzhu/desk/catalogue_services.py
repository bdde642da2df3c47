"""The matter catalogue (事项清单) and the grids' patrol teams (巡查队), written from the
worker's desk; plus the audited reveal of a ticket's contact phone.

Every write is atomic, permission-checked with ``Perm.DESK_MANAGE`` over the org it touches
and audited with ``log_action``. The shared defaults (types without an org) are edited by
superusers only. The reads the catalogue pages need sit beside the writes, so that who may
see and who may edit a type is decided in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.desk.models import MatterKind, MatterType, PatrolTeam
from huzhu.desk.selectors import community_of
from huzhu.desk.text import plain_text_errors
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope

# Orgs that may own catalogue types: a type on a street or district applies below it.
CATALOGUE_KINDS = (OrgKind.CITY, OrgKind.DISTRICT, OrgKind.STREET, OrgKind.COMMUNITY)
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,39}$")
MATTER_NOT_FOUND = _("事项不存在或无权查看。")
DEADLINE_MIN, DEADLINE_MAX = 1, 60


# --- reads -----------------------------------------------------------------------------------


def _ancestor_ids(scope: Scope, perm: str) -> set[int]:
    """The orgs above (and at) each subtree root of ``perm``: their types apply below."""
    ids: set[int] = set()
    for root in scope.roots(perm):
        ids.update(int(part) for part in root.strip("/").split("/") if part)
    return ids


def visible_matter_types(*, scope: Scope, perm: str = Perm.VIEW) -> QuerySet[MatterType]:
    """Types the user meets in their work: the shared defaults, those of the orgs in scope and
    those of the orgs above them. Inactive ones included (filter for ``is_active``)."""
    condition = Q(org__isnull=True) | Q(org_id__in=_ancestor_ids(scope, perm))
    if scope.roots(perm):
        condition |= scope.q("org__path", perm)
    return (
        MatterType.objects.filter(condition)
        .select_related("org", "handling_team")
        .order_by("kind", "sort_order", "id")
    )


def matter_get(*, scope: Scope, matter_id: int) -> MatterType:
    """A visible type, or 404 (the same for missing and not yours)."""
    matter = visible_matter_types(scope=scope).filter(pk=matter_id).first()
    if matter is None:
        raise Http404(MATTER_NOT_FOUND)
    return matter


def may_edit_org(scope: Scope, org: Org | None) -> bool:
    """Shared defaults: superusers only; an org's types: ``DESK_MANAGE`` over it."""
    if org is None:
        return scope.is_superuser
    return scope.can(Perm.DESK_MANAGE, org)


def may_edit_matter(scope: Scope, matter: MatterType) -> bool:
    return may_edit_org(scope, matter.org)


def catalogue_orgs(*, scope: Scope) -> QuerySet[Org]:
    """Orgs the user may add catalogue types to."""
    return (
        Org.objects.within(scope, Perm.DESK_MANAGE)  # type: ignore[attr-defined]
        .filter(kind__in=CATALOGUE_KINDS, is_active=True)
        .order_by("path")
    )


def team_choices(*, scope: Scope) -> QuerySet[Org]:
    """Teams (服务队) under the orgs the user manages the desk of."""
    return (
        Org.objects.within(scope, Perm.DESK_MANAGE)  # type: ignore[attr-defined]
        .filter(kind=OrgKind.TEAM, is_active=True)
        .order_by("sort_order", "id")
    )


def managed_grids(*, scope: Scope) -> QuerySet[Org]:
    return (
        Org.objects.within(scope, Perm.DESK_MANAGE)  # type: ignore[attr-defined]
        .filter(kind=OrgKind.GRID, is_active=True)
        .select_related("parent")
        .order_by("path")
    )


@dataclass
class PatrolRow:
    grid: Org
    team: Org | None
    teams: list[Org]


def patrol_rows(*, scope: Scope) -> list[PatrolRow]:
    """Each grid the user manages, its patrol team and the teams of its community to choose
    from — three queries whatever the number of grids."""
    grids = list(managed_grids(scope=scope))
    current = {
        row.grid_id: row.team
        for row in PatrolTeam.objects.filter(grid__in=grids).select_related("team")
    }
    teams = list(team_choices(scope=scope))
    rows = []
    for grid in grids:
        community_path = grid.parent.path if grid.parent else grid.path
        rows.append(
            PatrolRow(
                grid=grid,
                team=current.get(grid.pk),
                teams=[t for t in teams if t.path.startswith(community_path)],
            )
        )
    return rows


# --- the catalogue -----------------------------------------------------------------------


@dataclass
class MatterInput:
    org: Org | None
    code: str
    name: str
    kind: str
    deadline_days: int
    group: str = ""
    description: str = ""
    materials: str = ""
    handling_team: Org | None = None
    keywords: str = ""
    is_public: bool = False
    sort_order: int = 0
    is_active: bool = True


TEXT_LIMITS = {
    "name": (_("事项名称"), 60),
    "group": (_("分组"), 30),
    "description": (_("说明"), 300),
    "materials": (_("一次性告知"), 2000),
    "keywords": (_("关键词"), 200),
}


def _clean_matter(data: MatterInput, matter: MatterType | None) -> MatterInput:
    errors: dict[str, list[str]] = {}
    code = (data.code or "").strip().lower()
    if not CODE_PATTERN.match(code):
        errors["code"] = [_("事项编码须为 2–40 位小写字母、数字、短横线或下划线。")]
    elif MatterType.objects.filter(code=code).exclude(pk=getattr(matter, "pk", None)).exists():
        errors["code"] = [_("事项编码“%(code)s”已被使用。") % {"code": code}]
    values = {name: (getattr(data, name) or "").strip() for name in TEXT_LIMITS}
    if not values["name"]:
        errors["name"] = [_("请填写事项名称。")]
    for name, (label, limit) in TEXT_LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = [_("%(label)s不能超过 %(n)d 字。") % {"label": label, "n": limit}]
    errors.update(plain_text_errors(values))
    if data.kind not in MatterKind.values:
        errors["kind"] = [_("请选择事项类型。")]
    if not DEADLINE_MIN <= (data.deadline_days or 0) <= DEADLINE_MAX:
        errors["deadline_days"] = [
            _("办理时限须为 %(low)d–%(high)d 个工作日。")
            % {"low": DEADLINE_MIN, "high": DEADLINE_MAX}
        ]
    if data.org is not None and data.org.kind not in CATALOGUE_KINDS:
        errors["org"] = [_("事项只能属于市、区、街道或社区。")]
    team = data.handling_team
    if team is not None:
        if data.org is None:
            errors["handling_team"] = [_("全市通用事项不能指定承办队伍。")]
        elif not (team.is_active and team.path.startswith(data.org.path) and team != data.org):
            errors["handling_team"] = [_("承办队伍须属于该事项所属组织。")]
    if errors:
        raise ValidationError(errors)
    return MatterInput(**{**_as_dict(data), **values, "code": code})


def _as_dict(data: MatterInput) -> dict[str, Any]:
    return {f.name: getattr(data, f.name) for f in fields(data)}


def _require_edit(scope: Scope, org: Org | None) -> None:
    if not may_edit_org(scope, org):
        if org is None:
            raise PermissionDenied(_("全市通用事项只有系统管理员可以修改。"))
        raise PermissionDenied(_("没有管理该组织事项清单的权限。"))


def _save(matter: MatterType, data: MatterInput) -> MatterType:
    for name, value in _as_dict(data).items():
        setattr(matter, name, value)
    try:
        with transaction.atomic():
            matter.save()
    except IntegrityError:
        raise ValidationError(
            {"code": [_("事项编码“%(code)s”已被使用。") % {"code": data.code}]}
        ) from None
    return matter


def matter_type_create(*, actor: Any, scope: Scope, data: MatterInput) -> MatterType:
    """Add a type to the catalogue of an org in scope (or a shared default, superusers)."""
    _require_edit(scope, data.org)
    data = _clean_matter(data, None)
    with transaction.atomic():
        matter = _save(MatterType(), data)
        log_action(actor, "desk.matter.create", matter, {"code": matter.code, "name": matter.name})
    return matter


def matter_type_update(
    *, actor: Any, scope: Scope, matter: MatterType, data: MatterInput
) -> MatterType:
    """Change a type; moving it to another org needs the right over both."""
    _require_edit(scope, matter.org)
    _require_edit(scope, data.org)
    data = _clean_matter(data, matter)
    with transaction.atomic():
        locked = MatterType.objects.select_for_update().get(pk=matter.pk)
        before = _as_dict(_input_of(locked))
        matter = _save(locked, data)
        changed = sorted(name for name, value in _as_dict(data).items() if before[name] != value)
        log_action(actor, "desk.matter.update", matter, {"code": matter.code, "changed": changed})
    return matter


def _input_of(matter: MatterType) -> MatterInput:
    return MatterInput(**{f.name: getattr(matter, f.name) for f in fields(MatterInput)})


# --- patrol teams --------------------------------------------------------------------------


def patrol_team_set(*, actor: Any, scope: Scope, grid: Org, team: Org | None) -> PatrolTeam | None:
    """The patrol team civic reports of ``grid`` go to; ``None`` clears it."""
    if grid.kind != OrgKind.GRID:
        raise ValidationError({"grid": [_("请选择网格。")]})
    if not scope.can(Perm.DESK_MANAGE, grid):
        raise PermissionDenied(_("没有设置该网格巡查队的权限。"))
    community = community_of(grid)
    if team is not None and not (
        team.kind == OrgKind.TEAM and team.is_active and team.path.startswith(community.path)
    ):
        raise ValidationError({"team": [_("巡查队须是本社区的服务队。")]})
    with transaction.atomic():
        current = PatrolTeam.objects.select_for_update().filter(grid=grid).first()
        if team is None:
            if current is not None:
                current.delete()
                log_action(actor, "desk.patrol.clear", grid, {"team": current.team.name})
            return None
        if current is not None and current.team_id == team.pk:
            return current
        if current is None:
            current = PatrolTeam.objects.create(grid=grid, team=team)
        else:
            current.team = team
            current.save(update_fields=["team"])
        log_action(actor, "desk.patrol.set", grid, {"team": team.name})
    return current


# --- the contact phone -------------------------------------------------------------------
