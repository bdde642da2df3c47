"""People over the API: list, get, create, update, and the audited reveal.

Output carries the masked ID and phone only (``id_number_masked``, ``phone_masked``); the full
numbers come from ``POST /people/{person_id}/reveal`` alone, which writes an audit entry.
Birth date is not sent either: with the masked ID it would give away most of the number.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    ObjectId,
    Text20,
    Text30,
    Text50,
    Text200,
    Text2000,
    ValidationErrorOut,
)
from huzhu.orgs.models import Org
from huzhu.orgs.selectors import org_get
from huzhu.people.models import Person, ResidenceStatus, Tag
from huzhu.people.selectors import (
    person_get,
    person_list,
    tag_filter_choices,
    tag_list,
    visible_tags,
)
from huzhu.people.services import person_create, person_reveal, person_update

router = Router(tags=["居民"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}


class TagOut(Schema):
    id: int
    name: str
    category: str


class PersonOut(Schema):
    id: int
    org_id: int
    org_name: str
    name: str
    gender: str
    age: int
    id_number_masked: str
    phone_masked: str
    address: str
    status: str
    status_label: str
    notes: str
    tags: list[TagOut]
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_org_name(obj: Person) -> str:
        return obj.org.name

    @staticmethod
    def resolve_status_label(obj: Person) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_tags(obj: Person, context: dict[str, Any]) -> list[Tag]:
        # Sensitive tags (残疾, 低保 …) only for those who may edit the person.
        return visible_tags(scope=context["request"].scope, person=obj)


class PersonFilters(Schema):
    q: Text50 = Field("", description="姓名、拼音首字母、全拼或身份证号末四位")
    org_id: ObjectId | None = Field(None, description="只列出此组织（含下级）的居民")
    tag: list[ObjectId] = Field([], description="标签 id，可重复")
    status: ResidenceStatus | None = Field(None, description="居住状态")


class PersonIn(Schema):
    org_id: ObjectId = Field(description="所属社区或网格")
    name: Text200
    id_number: Text30 = Field(description="18位身份证号（或15位旧号码）")
    phone: Text30 = ""
    address: Text200 = ""
    notes: Text2000 = ""
    status: Text20 = ResidenceStatus.ACTIVE.value
    tag_ids: list[ObjectId] = []


class PersonPatch(Schema):
    """Only the fields sent are changed. An empty ``id_number`` leaves it unchanged;
    an empty ``phone`` clears it."""

    org_id: ObjectId | None = None
    name: Text200 | None = None
    id_number: Text30 | None = None
    phone: Text30 | None = None
    address: Text200 | None = None
    notes: Text2000 | None = None
    status: Text20 | None = None
    tag_ids: list[ObjectId] | None = None


class RevealIn(Schema):
    reason: Text200 = Field("", description="查看原因（记入操作记录）")


class RevealOut(Schema):
    id_number: str
    phone: str


def _residence(request: HttpRequest, org_id: int | None) -> Org | None:
    if org_id is None:
        return None
    try:
        return org_get(scope=request.scope, org_id=org_id)
    except Http404 as exc:
        raise ValidationError({"org_id": _("请选择您有权登记的社区或网格")}) from exc


def _tags(tag_ids: list[int]) -> list[Tag]:
    wanted = set(tag_ids)
    tags = list(tag_list().filter(pk__in=wanted))
    missing = wanted - {t.pk for t in tags}
    if missing:
        raise ValidationError(
            {
                "tag_ids": _("标签不存在或已停用：%(ids)s")
                % {"ids": ", ".join(map(str, sorted(missing)))}
            }
        )
    return tags


@router.get("", response=list[PersonOut], summary="居民列表")
@paginate(Pagination)
def list_people(request: HttpRequest, filters: Query[PersonFilters]) -> Any:
    scope = request.scope
    org = org_get(scope=scope, org_id=filters.org_id) if filters.org_id else None
    tag_ids = sorted(set(filters.tag))
    if tag_ids:
        allowed = set(
            tag_filter_choices(scope=scope).filter(pk__in=tag_ids).values_list("pk", flat=True)
        )
        if allowed != set(tag_ids):
            raise ValidationError({"tag": _("标签不存在")})
    return person_list(
        scope=scope,
        search=filters.q,
        org=org,
        tag_ids=tag_ids,
        status=filters.status or "",
    )


@router.get("/{person_id}", response={200: PersonOut, **ERRORS}, summary="居民详情")
def get_person(request: HttpRequest, person_id: ObjectId) -> Any:
    return person_get(scope=request.scope, person_id=person_id)


@router.post("", response={201: PersonOut, **ERRORS}, summary="登记居民")
def create_person(request: HttpRequest, payload: PersonIn) -> Any:
    data = payload.dict()
    org = _residence(request, data.pop("org_id"))
    tags = _tags(data.pop("tag_ids"))
    person = person_create(actor=request.user, scope=request.scope, org=org, tags=tags, **data)
    return Status(201, person_get(scope=request.scope, person_id=person.pk))


@router.patch("/{person_id}", response={200: PersonOut, **ERRORS}, summary="修改居民信息")
def update_person(request: HttpRequest, person_id: ObjectId, payload: PersonPatch) -> Any:
    person = person_get(scope=request.scope, person_id=person_id)
    changes = payload.dict(exclude_unset=True)
    if "org_id" in changes:
        changes["org"] = _residence(request, changes.pop("org_id"))
    if "tag_ids" in changes:
        tag_ids = changes.pop("tag_ids")
        if tag_ids is not None:
            changes["tags"] = _tags(tag_ids)
    person_update(actor=request.user, scope=request.scope, person=person, **changes)
    return person_get(scope=request.scope, person_id=person.pk)


@router.post(
    "/{person_id}/reveal",
    response={200: RevealOut, **ERRORS},
    summary="查看完整身份证号和手机号（记入操作记录）",
)
def reveal_person(
    request: HttpRequest,
    response: HttpResponse,
    person_id: ObjectId,
    payload: RevealIn | None = None,
) -> Any:
    person = person_get(scope=request.scope, person_id=person_id)
    response["Cache-Control"] = "no-store"
    return person_reveal(
        actor=request.user,
        scope=request.scope,
        person=person,
        reason=payload.reason if payload else "",
    )
