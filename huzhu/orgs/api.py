"""The org tree over the API: list, get (by id or division code), create, update.

Handlers parse input, call one selector or service, and return schemas; the rules (who may
create what under which parent, code uniqueness) live in ``huzhu.orgs.services``.
"""

import math
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import BeforeValidator

from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    ObjectId,
    SmallInt,
    Text20,
    Text30,
    Text100,
    Text200,
    ValidationErrorOut,
)
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.selectors import org_get, org_get_by_code, org_list
from huzhu.orgs.services import org_create, org_update

router = Router(tags=["组织"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


def _number(value: Any) -> Any:
    """A JSON number (or null); the ranges and the pairing are the service's to judge."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(_("应为数字（十进制度数）"))
    try:
        return float(value)
    except OverflowError:  # an integer too large for a float: out of range, like inf
        return math.inf if value > 0 else -math.inf


Degrees = Annotated[float | None, BeforeValidator(_number)]
LATITUDE = "纬度（WGS-84，-90 到 90），与经度同时填写或同时为 null"
LONGITUDE = "经度（WGS-84，-180 到 180），与纬度同时填写或同时为 null"


class OrgOut(Schema):
    id: int
    parent_id: int | None
    kind: str
    kind_label: str
    name: str
    path: str
    depth: int
    division_code: str | None
    address: str
    service_phone: str
    supervision_phone: str
    latitude: float | None = Field(description="中心位置纬度（WGS-84），未标注为 null")
    longitude: float | None = Field(description="中心位置经度（WGS-84），未标注为 null")
    sort_order: int
    is_active: bool

    @staticmethod
    def resolve_kind_label(obj: Org) -> str:
        return str(obj.get_kind_display())


class OrgFilters(Schema):
    kind: OrgKind | None = Field(None, description="组织类型")
    parent_id: ObjectId | None = Field(None, description="只列出此组织的直接下级")
    q: Text100 = Field("", description="名称包含")


class OrgIn(Schema):
    parent_id: ObjectId | None = Field(None, description="上级组织；只有系统管理员可创建顶级组织")
    kind: Text20
    name: Text100
    division_code: Text20 | None = Field(None, description="6位或12位区划代码，可留空")
    address: Text200 = ""
    service_phone: Text30 = ""
    supervision_phone: Text30 = ""
    latitude: Degrees = Field(None, description=LATITUDE)
    longitude: Degrees = Field(None, description=LONGITUDE)
    sort_order: SmallInt = 0


class OrgPatch(Schema):
    """Only the fields sent are changed. ``division_code: null`` clears the code; a centre is
    cleared with ``latitude: null`` and ``longitude: null`` together."""

    name: Text100 = None
    division_code: Text20 | None = None
    address: Text200 = None
    service_phone: Text30 = None
    supervision_phone: Text30 = None
    latitude: Degrees = Field(None, description=LATITUDE)
    longitude: Degrees = Field(None, description=LONGITUDE)
    sort_order: SmallInt = None
    is_active: bool = None


def _parent(request: HttpRequest, parent_id: int | None) -> Org | None:
    if parent_id is None:
        return None
    try:
        return org_get(scope=request.scope, org_id=parent_id)
    except Http404 as exc:
        raise ValidationError({"parent_id": _("上级组织不存在或不在您的管辖范围内")}) from exc


@router.get("", response=list[OrgOut], summary="组织列表")
@paginate(Pagination)
def list_orgs(request: HttpRequest, filters: Query[OrgFilters]) -> Any:
    return org_list(
        scope=request.scope, kind=filters.kind, search=filters.q, parent_id=filters.parent_id
    )


@router.get("/by-code/{code}", response={200: OrgOut, **ERRORS}, summary="按区划代码查找组织")
def get_org_by_code(request: HttpRequest, code: str) -> Any:
    if not (code.isascii() and code.isdigit()) or len(code) > 12:  # not a code: missing
        raise Http404
    return org_get_by_code(scope=request.scope, code=code)


@router.get("/{org_id}", response={200: OrgOut, **ERRORS}, summary="组织详情")
def get_org(request: HttpRequest, org_id: ObjectId) -> Any:
    return org_get(scope=request.scope, org_id=org_id)


@router.post("", response={201: OrgOut, **ERRORS}, summary="创建组织")
def create_org(request: HttpRequest, payload: OrgIn) -> Any:
    data = payload.dict()
    parent = _parent(request, data.pop("parent_id"))
    org = org_create(actor=request.user, scope=request.scope, parent=parent, **data)
    return Status(201, org)


@router.patch("/{org_id}", response={200: OrgOut, **ERRORS}, summary="修改组织")
def update_org(request: HttpRequest, org_id: ObjectId, payload: OrgPatch) -> Any:
    org = org_get(scope=request.scope, org_id=org_id)
    return org_update(
        actor=request.user, scope=request.scope, org=org, **payload.dict(exclude_unset=True)
    )
