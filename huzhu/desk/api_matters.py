"""The matter catalogue (事项清单) over the API, mounted under ``/desk`` by ``huzhu.desk.api``.

* ``GET /desk/matters?org_id=…``: the catalogue a community uses (its own types, those of the
  orgs above it and the shared defaults; active ones only) — for an org in the caller's scope,
  above it, or the caller's own community; anything else is 404 ``未找到``;
* ``GET /desk/matters``: every type the caller meets in their work (shared defaults, types of
  orgs in scope and above), inactive ones with ``include_inactive=true``;
* ``POST`` / ``PATCH``: through ``desk.catalogue_services`` (``desk.manage`` over the org;
  shared defaults: superusers only).
"""

from dataclasses import fields
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.helpers import missing_as_invalid
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    NamedOut,
    ObjectId,
    SmallInt,
    Text30,
    Text200,
    ValidationErrorOut,
    text,
)
from huzhu.desk import catalogue_services
from huzhu.desk.catalogue_services import MatterInput
from huzhu.desk.models import MatterKind, MatterType
from huzhu.desk.selectors import community_of, matter_types_for
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.selectors import org_get
from huzhu.people.models import Person

router = Router()  # tagged "desk" where huzhu.desk.api mounts it

Text40 = text(40)
Text60 = text(60)
Text300 = text(300)

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
SERVICE_FIELDS = {"handling_team": "handling_team_id"}  # "org" → "org_id" is global


# --- output -------------------------------------------------------------------------------


class MatterOut(Schema):
    id: int
    org_id: int | None = Field(description="所属组织；null 为全市通用事项")
    org_name: str | None
    code: str = Field(description="事项编码（即 Open311 service_code）")
    name: str
    kind: str
    kind_label: str
    group: str
    description: str
    materials: list[str] = Field(description="一次性告知：需携带的材料和注意事项，每项一条")
    deadline_days: int = Field(description="办理时限（工作日）")
    handling_team: NamedOut | None = Field(description="默认承办队伍")
    keywords: str
    is_public: bool = Field(description="在公示栏和 Open311 中公开办理情况（不含反映人）")
    sort_order: int
    is_active: bool
    may_edit: bool = Field(description="我可以修改")

    @staticmethod
    def resolve_org_name(obj: MatterType) -> str | None:
        return obj.org.name if obj.org is not None else None

    @staticmethod
    def resolve_kind_label(obj: MatterType) -> str:
        return str(MatterKind(obj.kind).label)

    @staticmethod
    def resolve_materials(obj: MatterType) -> list[str]:
        return obj.material_list

    @staticmethod
    def resolve_may_edit(obj: MatterType, context: Any) -> bool:
        return catalogue_services.may_edit_matter(context["request"].scope, obj)


# --- input --------------------------------------------------------------------------------


class MatterFilterQuery(Schema):
    org_id: ObjectId | None = Field(None, description="社区（或网格）id：该社区使用的事项清单")
    kind: MatterKind | None = None
    include_inactive: bool = Field(False, description="true：含已停用的（不带 org_id 时）")


class MatterPatch(Schema):
    """Only the fields sent are changed."""

    org_id: ObjectId | None = Field(None, description="所属组织（市、区、街道或社区）")
    code: Text40 | None = Field(None, description="事项编码：小写字母、数字、-、_")
    name: Text60 | None = None
    kind: MatterKind | None = None
    group: Text30 | None = None
    description: Text300 | None = None
    materials: list[Text200] | None = Field(None, description="一次性告知，每项一条")
    deadline_days: SmallInt | None = Field(None, description="办理时限（1–60 个工作日）")
    handling_team_id: ObjectId | None = Field(None, description="默认承办队伍 id")
    keywords: Text200 | None = None
    is_public: bool | None = None
    sort_order: SmallInt | None = None
    is_active: bool | None = None


class MatterIn(MatterPatch):
    org_id: ObjectId | None = Field(None, description="所属组织；不填为全市通用事项（系统管理员）")
    code: Text40 = Field(description="事项编码：小写字母、数字、-、_")
    name: Text60
    kind: MatterKind
    deadline_days: SmallInt = Field(5, description="办理时限（1–60 个工作日）")


NULLABLE = frozenset({"org_id", "handling_team_id"})


# --- helpers ------------------------------------------------------------------------------


def _own_org_ids(request: HttpRequest) -> set[int]:
    """The caller's own community and the orgs above it (a resident's catalogue)."""
    person = Person.objects.select_related("org").filter(user=request.user).first()
    return set(person.org.ancestor_ids) if person is not None else set()


def _above_scope_ids(request: HttpRequest) -> set[int]:
    ids: set[int] = set()
    for root in request.scope.roots(Perm.VIEW):
        ids.update(int(part) for part in root.strip("/").split("/") if part)
    return ids


def _catalogue_org(request: HttpRequest, org_id: int) -> Org:
    """An org whose catalogue the caller may read, else 404 (missing and not yours alike)."""
    org = Org.objects.filter(pk=org_id, is_active=True).first()
    if org is None:
        raise Http404
    if request.scope.can(Perm.VIEW, org) or org.pk in _above_scope_ids(request):
        return org
    if org.pk in _own_org_ids(request):
        return org
    raise Http404


def _matter(request: HttpRequest, matter_id: int) -> MatterType:
    """A type the caller meets in their work, or one of their own community's catalogue."""
    try:
        return catalogue_services.matter_get(scope=request.scope, matter_id=matter_id)
    except Http404:
        person = Person.objects.select_related("org").filter(user=request.user).first()
        if person is None:
            raise
        community = community_of(person.org)
        matter = matter_types_for(community).select_related("org").filter(pk=matter_id).first()
        if matter is None:
            raise
        return matter


def _org(request: HttpRequest, org_id: int | None, field: str, message: str) -> Org | None:
    if org_id is None:
        return None
    with missing_as_invalid(field, message):
        return org_get(scope=request.scope, org_id=org_id)


def _values(matter: MatterType | None) -> dict[str, Any]:
    if matter is None:
        return {}
    return {f.name: getattr(matter, f.name) for f in fields(MatterInput)}


def _matter_data(request: HttpRequest, sent: dict[str, Any], base: dict[str, Any]) -> MatterInput:
    """Merge what was sent over ``base`` (the current type, or the defaults of a new one)."""
    values = dict(base)
    errors: dict[str, list[str]] = {}
    for key, value in sent.items():
        if value is None and key not in NULLABLE:
            errors[key] = [_("不能为空")]
        elif key == "org_id":
            values["org"] = _org(request, value, "org_id", _("请选择您有权管理的组织"))
        elif key == "handling_team_id":
            values["handling_team"] = _org(
                request, value, "handling_team_id", _("承办队伍不存在或不在您的管理范围内")
            )
        elif key == "materials":
            values["materials"] = "\n".join(line.strip() for line in value if line.strip())
        else:
            values[key] = value
    if errors:
        raise ValidationError(errors)
    return MatterInput(**values)


def _service_fields(exc: ValidationError) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError(
        {SERVICE_FIELDS.get(name, name): errors for name, errors in exc.error_dict.items()}
    )


def _catalogue(request: HttpRequest, filters: MatterFilterQuery) -> QuerySet[MatterType]:
    if filters.org_id is not None:
        org = _catalogue_org(request, filters.org_id)
        matters = matter_types_for(community_of(org)).select_related("org")
    else:
        matters = catalogue_services.visible_matter_types(scope=request.scope)
        if not filters.include_inactive:
            matters = matters.filter(is_active=True)
    if filters.kind:
        matters = matters.filter(kind=filters.kind)
    return matters


# --- routes -------------------------------------------------------------------------------


@router.get("/matters", response={200: list[MatterOut], **ERRORS}, summary="事项清单")
@paginate(Pagination)
def list_matters(request: HttpRequest, filters: Query[MatterFilterQuery]) -> Any:
    return _catalogue(request, filters)


@router.post(
    "/matters",
    response={201: MatterOut, **ERRORS},
    summary="新增事项（服务台权限；全市通用事项：系统管理员）",
)
def create_matter(request: HttpRequest, payload: MatterIn) -> Any:
    sent = payload.dict(exclude_unset=True)
    base = {
        "org": None,
        "code": payload.code,
        "name": payload.name,
        "kind": payload.kind,
        "deadline_days": payload.deadline_days,
    }
    data = _matter_data(request, sent, base)
    try:
        matter = catalogue_services.matter_type_create(
            actor=request.user, scope=request.scope, data=data
        )
    except ValidationError as exc:
        raise _service_fields(exc) from exc
    return Status(201, matter)


@router.get("/matters/{matter_id}", response={200: MatterOut, **ERRORS}, summary="事项详情")
def get_matter(request: HttpRequest, matter_id: ObjectId) -> Any:
    return _matter(request, matter_id)


@router.patch(
    "/matters/{matter_id}",
    response={200: MatterOut, **ERRORS},
    summary="修改事项（只改所发送的字段）",
)
def update_matter(request: HttpRequest, matter_id: ObjectId, payload: MatterPatch) -> Any:
    matter = catalogue_services.matter_get(scope=request.scope, matter_id=matter_id)
    data = _matter_data(request, payload.dict(exclude_unset=True), _values(matter))
    try:
        matter = catalogue_services.matter_type_update(
            actor=request.user, scope=request.scope, matter=matter, data=data
        )
    except ValidationError as exc:
        raise _service_fields(exc) from exc
    return matter
