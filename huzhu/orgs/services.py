"""Writes on the org tree and role grants. Each is atomic, validated and audited."""

from __future__ import annotations

import math
import re
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.identity import normalise_text
from huzhu.orgs.models import ALLOWED_CHILDREN, Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Perm, Role
from huzhu.orgs.scope import Scope

User = get_user_model()


# Kinds that people other than org administrators may create: community workers set up
# their community's volunteer corps and its service teams.
CREATE_PERM_BY_KIND: dict[str, str] = {
    OrgKind.CORPS: Perm.VOLUNTEER_MANAGE,
    OrgKind.TEAM: Perm.VOLUNTEER_MANAGE,
}


def _require_manage(scope: Scope, org: Org | None, perm: str = Perm.ORG_MANAGE) -> None:
    if org is None:
        if not scope.is_superuser:
            raise PermissionDenied(_("只有系统管理员可以创建顶级组织"))
        return
    if not (scope.can(Perm.ORG_MANAGE, org) or scope.can(perm, org)):
        raise PermissionDenied(_("您没有管理该组织的权限"))


def _clean_division_code(code: str | None, exclude_pk: int | None = None) -> str | None:
    code = normalise_text(code or "") or None
    if code is None:
        return None
    # ASCII digits only (str.isdigit() also accepts '²' and '٣', which the DB check rejects).
    if not re.fullmatch(r"[0-9]{6}([0-9]{6})?", code):
        raise ValidationError({"division_code": _("区划代码应为6位或12位数字")})
    clash = Org.objects.filter(division_code=code).exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError(
            {"division_code": _("区划代码 %(code)s 已被其他组织使用") % {"code": code}}
        )
    return code


LATITUDE_RANGE = (-90.0, 90.0)
LONGITUDE_RANGE = (-180.0, 180.0)


def _degrees(field: str, value: Any, bounds: tuple[float, float], label: str) -> float | None:
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValidationError({field: _("%(label)s应为数字") % {"label": label}})
    try:
        degrees = float(value)
    except OverflowError:  # an integer too large for a float: out of range, like inf
        degrees = math.inf
    except ValueError:
        raise ValidationError({field: _("%(label)s应为数字") % {"label": label}}) from None
    low, high = bounds
    if not (math.isfinite(degrees) and low <= degrees <= high):  # NaN fails here too
        raise ValidationError(
            {
                field: _("%(label)s应在 %(low)d 到 %(high)d 之间")
                % {"label": label, "low": low, "high": high}
            }
        )
    return degrees


def _clean_coordinates(latitude: Any, longitude: Any) -> tuple[float | None, float | None]:
    """The org's centre (WGS-84 degrees): both or neither, each within its range."""
    errors: dict[str, list[str]] = {}
    values: dict[str, float | None] = {}
    for field, value, bounds, label in (
        ("latitude", latitude, LATITUDE_RANGE, _("纬度")),
        ("longitude", longitude, LONGITUDE_RANGE, _("经度")),
    ):
        try:
            values[field] = _degrees(field, value, bounds, label)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not errors and (values["latitude"] is None) != (values["longitude"] is None):
        missing = "longitude" if values["longitude"] is None else "latitude"
        errors[missing] = [
            _("请同时填写经度（经纬度须同时填写或同时留空）")
            if missing == "longitude"
            else _("请同时填写纬度（经纬度须同时填写或同时留空）")
        ]
    if errors:
        raise ValidationError(errors)
    return values["latitude"], values["longitude"]


def _check_kind(parent: Org | None, kind: str) -> None:
    if kind not in OrgKind.values:
        raise ValidationError({"kind": _("未知的组织类型")})
    if parent is None:
        if kind != OrgKind.CITY:
            raise ValidationError({"kind": _("顶级组织只能是市")})
        return
    if kind not in ALLOWED_CHILDREN.get(parent.kind, frozenset()):
        raise ValidationError(
            {
                "kind": _("%(parent)s下不能设立%(kind)s")
                % {"parent": parent.get_kind_display(), "kind": OrgKind(kind).label}
            }
        )


@transaction.atomic
def org_create(
    *,
    actor: Any,
    scope: Scope,
    parent: Org | None,
    kind: str,
    name: str,
    division_code: str | None = None,
    address: str = "",
    service_phone: str = "",
    supervision_phone: str = "",
    sort_order: int = 0,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Org:
    _require_manage(scope, parent, CREATE_PERM_BY_KIND.get(kind, Perm.ORG_MANAGE))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("名称不能为空")})
    _check_kind(parent, kind)
    latitude, longitude = _clean_coordinates(latitude, longitude)
    org = Org(
        parent=parent,
        kind=kind,
        name=name,
        division_code=_clean_division_code(division_code),
        address=address.strip(),
        service_phone=service_phone.strip(),
        supervision_phone=supervision_phone.strip(),
        sort_order=sort_order,
        latitude=latitude,
        longitude=longitude,
        path=f"/new-{uuid.uuid4().hex}/",
        depth=(parent.depth + 1) if parent else 0,
    )
    org.save()
    org.path = f"{parent.path if parent else '/'}{org.pk}/"
    org.save(update_fields=["path"])
    log_action(
        actor,
        "org.create",
        org,
        {"kind": kind, "name": name, "parent": parent.name if parent else None},
    )
    return org


ORG_EDITABLE = (
    "name",
    "division_code",
    "address",
    "service_phone",
    "supervision_phone",
    "latitude",
    "longitude",
    "sort_order",
    "is_active",
)


@transaction.atomic
def org_update(*, actor: Any, scope: Scope, org: Org, **changes: Any) -> Org:
    _require_manage(scope, org)
    unknown = set(changes) - set(ORG_EDITABLE)
    if unknown:
        raise ValidationError(_("不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise ValidationError({"name": _("名称不能为空")})
    if "division_code" in changes:
        changes["division_code"] = _clean_division_code(changes["division_code"], org.pk)
    if "latitude" in changes or "longitude" in changes:
        # One of the pair may come alone (an API PATCH): judged together with the other.
        changes["latitude"], changes["longitude"] = _clean_coordinates(
            changes.get("latitude", org.latitude), changes.get("longitude", org.longitude)
        )
    diff = {}
    for field, value in changes.items():
        if getattr(org, field) != value:
            diff[field] = [getattr(org, field), value]
            setattr(org, field, value)
    if diff:
        org.save()
        log_action(actor, "org.update", org, {"changes": diff})
    return org


@transaction.atomic
def org_move(*, actor: Any, scope: Scope, org: Org, new_parent: Org) -> Org:
    _require_manage(scope, org)
    _require_manage(scope, org.parent)  # taking a subtree away needs authority over its parent
    _require_manage(scope, new_parent)
    if new_parent.path.startswith(org.path):
        raise ValidationError({"parent": _("不能把组织移到它自己的下级之下")})
    _check_kind(new_parent, org.kind)
    old_path, new_path = org.path, f"{new_parent.path}{org.pk}/"
    depth_shift = new_parent.depth + 1 - org.depth
    Org.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", Length(Value(old_path)) + 1)),
        depth=F("depth") + depth_shift,
    )
    Org.objects.filter(pk=org.pk).update(parent=new_parent)
    org.refresh_from_db()
    log_action(actor, "org.move", org, {"from": old_path, "to": new_path})
    return org


@transaction.atomic
def role_grant_create(*, actor: Any, scope: Scope, org: Org, user: Any, role: str) -> RoleGrant:
    _require_manage(scope, org)
    if role not in Role.values:
        raise ValidationError({"role": _("未知的角色")})
    grant, created = RoleGrant.objects.get_or_create(
        user=user,
        org=org,
        role=role,
        defaults={"granted_by": actor if actor and actor.is_authenticated else None},
    )
    if not created:
        raise ValidationError({"role": _("该用户在此组织已有这个角色")})
    log_action(
        actor, "role.grant", grant, {"user": user.get_username(), "role": role, "org": org.name}
    )
    return grant


@transaction.atomic
def role_grant_revoke(*, actor: Any, scope: Scope, grant: RoleGrant) -> None:
    _require_manage(scope, grant.org)
    log_action(
        actor,
        "role.revoke",
        grant.org,
        {"user": grant.user.get_username(), "role": grant.role, "org": grant.org.name},
    )
    grant.delete()


@transaction.atomic
def account_create(
    *,
    actor: Any,
    scope: Scope,
    org: Org,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
) -> RoleGrant:
    """A new login with one role on ``org`` — how an admin brings a new worker in."""
    _require_manage(scope, org)
    username = (username or "").strip()
    if not username:
        raise ValidationError({"username": _("用户名不能为空")})
    try:  # create_user() does not run the field's validators, and forms are not the only callers
        User.username_validator(username)
        valid = len(username) <= 150
    except ValidationError:
        valid = False
    if not valid:
        raise ValidationError(
            {"username": _("用户名只能包含字母、数字和 @ . + - _，不超过150个字符")}
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("用户名 %(u)s 已存在") % {"u": username}})
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user = User.objects.create_user(username=username, password=password, first_name=display_name)
    log_action(actor, "user.create", org, {"user": username})
    return role_grant_create(actor=actor, scope=scope, org=org, user=user, role=role)
