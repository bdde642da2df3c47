"""Service records (志愿服务记录) and certificates (志愿服务证明) over the API, mounted at
``/activities`` beside ``huzhu.activities.api``.

* Organisers: ``/records…`` (list, enter, confirm, reject, correct) and ``/certificates…``
  (list, issue, reject, revoke). Writes need ``ACTIVITY_MANAGE`` on the record's org,
  certificate decisions ``RECORD_CERTIFY``; the services check and refuse with 403.
* Volunteers: ``/me/hours``, ``/me/records`` (list, declare), ``/me/certificates`` (list,
  apply) and ``/me/orgs`` (where they may declare hours and ask for certificates).
* Public: ``GET /certificates/verify?number=&code=`` — no sign-in; when the number and the
  verification code do not match an issued (or revoked) certificate the answer is
  ``{"valid": false}`` and nothing else.

A record or certificate outside the caller's scope answers 404 ``未找到``; an id in a
request body that the caller cannot see is a 422 on that field.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.activities import record_services, selectors
from huzhu.activities.api import (
    ERRORS,
    ReasonIn,
    active_category,
    my_volunteer,
    visible_volunteer,
)
from huzhu.activities.models import (
    Activity,
    Certificate,
    CertificateStatus,
    RecordRating,
    RecordStatus,
    ServiceRecord,
)
from huzhu.api.helpers import missing_as_invalid, user_name
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    MAX_INT,
    NamedOut,
    ObjectId,
    Text30,
    Text50,
    Text100,
    Text200,
    ValidationErrorOut,
)
from huzhu.orgs.models import Org
from huzhu.orgs.selectors import org_get
from huzhu.volunteers.models import Volunteer

router = Router(tags=["服务记录与证明"])

MAX_BATCH = 1000


# --- output -------------------------------------------------------------------------------


class _RecordResolvers(Schema):
    """What records and certificates resolve alike (each resolver applies where its field is
    declared)."""

    @staticmethod
    def resolve_org_name(obj: ServiceRecord | Certificate) -> str:
        return obj.org.name

    @staticmethod
    def resolve_status_label(obj: ServiceRecord | Certificate) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_volunteer_name(obj: ServiceRecord | Certificate) -> str:
        return obj.volunteer.person.name

    @staticmethod
    def resolve_volunteer_number(obj: ServiceRecord | Certificate) -> str:
        return obj.volunteer.number


class MyRecordOut(_RecordResolvers):
    """A service record as its volunteer sees it."""

    id: int
    org_id: int
    org_name: str
    activity_id: int | None
    activity_title: str | None
    shift_id: int | None
    category: NamedOut
    served_on: dt.date
    place: str
    content: str
    minutes: int
    hours: str
    rating: int | None
    rating_label: str | None
    evaluation: str
    source: str
    source_label: str
    status: str
    status_label: str
    confirmed_at: dt.datetime | None
    reject_reason: str
    created_at: dt.datetime

    @staticmethod
    def resolve_activity_title(obj: ServiceRecord) -> str | None:
        return obj.activity.title if obj.activity_id else None

    @staticmethod
    def resolve_rating_label(obj: ServiceRecord) -> str | None:
        return str(obj.get_rating_display()) if obj.rating is not None else None

    @staticmethod
    def resolve_source_label(obj: ServiceRecord) -> str:
        return str(obj.get_source_display())


class RecordOut(MyRecordOut):
    """A service record as the organiser sees it: who served, who recorded, who confirmed."""

    volunteer_id: int
    volunteer_name: str
    volunteer_number: str
    recorder: str | None
    confirmer: str | None

    @staticmethod
    def resolve_recorder(obj: ServiceRecord) -> str | None:
        return user_name(obj.recorder)

    @staticmethod
    def resolve_confirmer(obj: ServiceRecord) -> str | None:
        return user_name(obj.confirmer)


class ConfirmedOut(Schema):
    confirmed: int


class MyCertificateOut(_RecordResolvers):
    id: int
    number: str | None
    verify_code: str | None = Field(description="验证码（开具后才有），与证明编号一起用于查验")
    org_id: int
    org_name: str
    period_from: dt.date
    period_to: dt.date
    purpose: str
    status: str
    status_label: str
    total_minutes: int
    total_hours: str
    record_count: int
    applied_at: dt.datetime
    issued_at: dt.datetime | None
    decision_reason: str
    revoked_at: dt.datetime | None

    @staticmethod
    def resolve_verify_code(obj: Certificate) -> str | None:
        return obj.snapshot.get("verify_code") or None


class CertificateOut(MyCertificateOut):
    volunteer_id: int
    volunteer_name: str
    volunteer_number: str


class VerifyOut(Schema):
    """What anyone may learn from a certificate's number and code: a masked name only."""

    valid: bool
    number: str | None = None
    status: str | None = None
    status_label: str | None = None
    name_masked: str | None = None
    org_name: str | None = None
    issued_on: dt.date | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    total_hours: str | None = None
    record_count: int | None = None
    revoked_on: dt.date | None = None
    reason: str | None = Field(None, description="撤销原因（仅已撤销的证明）")


class YearHoursOut(Schema):
    year: int
    hours: str


class CategoryHoursOut(Schema):
    category: str
    hours: str


class YearCategoriesOut(Schema):
    year: int
    categories: list[CategoryHoursOut]


class MyHoursOut(Schema):
    total_minutes: int = Field(description="总时长：已确认的服务时长 + 历史时长（分钟）")
    total_hours: str
    service_minutes: int = Field(description="本平台已确认的服务时长（分钟）")
    service_hours: str
    historical_minutes: int
    historical_hours: str
    pending_minutes: int = Field(description="待确认的时长（分钟）")
    pending_hours: str
    by_year: list[YearHoursOut]
    by_category: list[CategoryHoursOut]
    by_year_category: list[YearCategoriesOut]


class MyOrgsOut(Schema):
    declare: list[NamedOut] = Field(description="可申报服务时长的确认单位")
    certify: list[NamedOut] = Field(description="可申请开具证明的单位（记录过我的已确认服务）")


# --- input --------------------------------------------------------------------------------


class RecordFilters(Schema):
    status: RecordStatus | None = Field(None, description="状态")
    volunteer_id: ObjectId | None = Field(None, description="只列出此志愿者的记录")


class MyRecordFilters(Schema):
    year: int | None = Field(None, ge=1900, le=2999, description="服务年份")


class CertificateFilters(Schema):
    status: CertificateStatus | None = Field(None, description="状态")


class _RecordFields(Schema):
    served_on: dt.date
    minutes: int = Field(ge=0, le=MAX_INT, description="服务时长（分钟，1 到 1440）")
    content: Text200
    place: Text200
    category_id: ObjectId = Field(description="服务类别 id")
    activity_id: ObjectId | None = Field(None, description="所属活动（可选）")


class RecordIn(_RecordFields):
    volunteer_id: ObjectId
    org_id: ObjectId = Field(description="记录单位（谁记录谁证明）")
    rating: RecordRating | None = Field(
        None, description="服务评价：5 优秀、4 良好、3 合格、1 不合格"
    )
    evaluation: Text200 = ""
    confirm: bool = Field(False, description="true：录入即确认")


class DeclareIn(_RecordFields):
    org_id: ObjectId = Field(description="确认单位（见 GET /activities/me/orgs）")


class ConfirmIn(Schema):
    ids: list[ObjectId] = Field(description=f"待确认记录的 id（一次最多 {MAX_BATCH} 条）")


class RecordCorrectIn(Schema):
    """Only the fields sent are changed; ``reason`` is required."""

    reason: Text200 = ""
    minutes: int | None = Field(None, ge=0, le=MAX_INT)
    served_on: dt.date | None = None
    content: Text200 | None = None
    place: Text200 | None = None


class ApplyIn(Schema):
    org_id: ObjectId = Field(description="出具单位（见 GET /activities/me/orgs）")
    period_from: dt.date
    period_to: dt.date
    purpose: Text100 = ""


class VerifyQuery(Schema):
    number: Text30 = Field("", description="证明编号")
    code: Text50 = Field("", description="验证码")


# --- helpers ------------------------------------------------------------------------------


def _managed_activity(request: HttpRequest, activity_id: int | None) -> Activity | None:
    if activity_id is None:
        return None
    with missing_as_invalid("activity_id", _("活动不存在或不在您的管理范围内")):
        return selectors.activity_get_managed(scope=request.scope, activity_id=activity_id)


def _volunteer_activity(volunteer: Volunteer, activity_id: int | None) -> Activity | None:
    if activity_id is None:
        return None
    with missing_as_invalid("activity_id", _("活动不存在或未向您开放")):
        return selectors.activity_get_for_volunteer(volunteer=volunteer, activity_id=activity_id)


def _record_data(payload: _RecordFields, activity: Activity | None) -> record_services.RecordInput:
    return record_services.RecordInput(
        served_on=payload.served_on,
        minutes=payload.minutes,
        content=payload.content,
        place=payload.place,
        category=active_category(payload.category_id),
        activity=activity,
    )


def _one_of(orgs: list[Org], org_id: int, message: str) -> Org:
    found = next((org for org in orgs if org.pk == org_id), None)
    if found is None:
        raise ValidationError({"org_id": message})
    return found


def _record(request: HttpRequest, record_id: int) -> ServiceRecord:
    return selectors.record_get_managed(scope=request.scope, record_id=record_id)


def _record_out(request: HttpRequest, record_id: int) -> ServiceRecord:
    return selectors.record_list(scope=request.scope).get(pk=record_id)


def _my_record_out(volunteer: Volunteer, record_id: int) -> ServiceRecord:
    return selectors.my_records(volunteer=volunteer).get(pk=record_id)


def _certificate(request: HttpRequest, certificate_id: int) -> Certificate:
    return selectors.certificate_get_managed(scope=request.scope, certificate_id=certificate_id)


def _certificate_out(request: HttpRequest, certificate_id: int) -> Certificate:
    return selectors.certificate_list(scope=request.scope).get(pk=certificate_id)


# --- public -------------------------------------------------------------------------------


@router.get(
    "/certificates/verify",
    response={200: VerifyOut, 422: ValidationErrorOut},
    auth=None,
    exclude_unset=True,
    summary="查验志愿服务证明（公开，无需登录）",
)
def verify_certificate(request: HttpRequest, query: Query[VerifyQuery]) -> Any:
    found = selectors.certificate_verify(number=query.number, code=query.code)
    if found is None:
        return {"valid": False}
    return {
        "valid": True,
        "number": found.number,
        "status": found.status,
        "status_label": str(found.status_label),
        "name_masked": found.name_masked,
        "org_name": found.org_name,
        "issued_on": found.issued_on,
        "period_from": found.period_from,
        "period_to": found.period_to,
        "total_hours": found.total_hours,
        "record_count": found.record_count,
        "revoked_on": found.revoked_on,
        "reason": found.reason,
    }


# --- organiser: records -------------------------------------------------------------------


@router.get("/records", response=list[RecordOut], summary="服务记录（管理范围内）")
@paginate(Pagination)
def list_records(request: HttpRequest, filters: Query[RecordFilters]) -> Any:
    return selectors.record_list(
        scope=request.scope, status=filters.status or "", volunteer_id=filters.volunteer_id
    )


@router.post("/records", response={201: RecordOut, **ERRORS}, summary="组织录入服务记录")
def enter_record(request: HttpRequest, payload: RecordIn) -> Any:
    volunteer = visible_volunteer(request, payload.volunteer_id)
    with missing_as_invalid("org_id", _("请选择您有权记录服务时长的组织")):
        org = org_get(scope=request.scope, org_id=payload.org_id)
    data = _record_data(payload, _managed_activity(request, payload.activity_id))
    data.rating = payload.rating
    data.evaluation = payload.evaluation
    record = record_services.record_enter(
        actor=request.user,
        scope=request.scope,
        volunteer=volunteer,
        org=org,
        data=data,
        confirm=payload.confirm,
    )
    return Status(201, _record_out(request, record.pk))


@router.post(
    "/records/confirm",
    response={200: ConfirmedOut, **ERRORS},
    summary="批量确认待确认的记录",
)
def confirm_records(request: HttpRequest, payload: ConfirmIn) -> Any:
    if not payload.ids:
        raise ValidationError({"ids": _("请选择要确认的记录")})
    if len(payload.ids) > MAX_BATCH:
        raise ValidationError({"ids": _("一次最多确认 %(n)d 条记录") % {"n": MAX_BATCH}})
    count = record_services.records_confirm(
        actor=request.user, scope=request.scope, record_ids=payload.ids
    )
    return {"confirmed": count}


@router.post(
    "/records/{record_id}/reject",
    response={200: RecordOut, **ERRORS},
    summary="退回待确认的记录",
)
def reject_record(request: HttpRequest, record_id: ObjectId, payload: ReasonIn) -> Any:
    record = _record(request, record_id)
    record_services.record_reject(
        actor=request.user, scope=request.scope, record=record, reason=payload.reason
    )
    return _record_out(request, record.pk)


@router.post(
    "/records/{record_id}/revoke",
    response={200: RecordOut, **ERRORS},
    summary="撤销已确认的记录（时长和时间币冲回）",
)
def revoke_record(request: HttpRequest, record_id: ObjectId, payload: ReasonIn) -> Any:
    record = _record(request, record_id)
    record_services.record_revoke(
        actor=request.user, scope=request.scope, record=record, reason=payload.reason
    )
    return _record_out(request, record.pk)


@router.post(
    "/records/{record_id}/correct",
    response={200: RecordOut, **ERRORS},
    summary="更正已确认的记录（保留原值和原因）",
)
def correct_record(request: HttpRequest, record_id: ObjectId, payload: RecordCorrectIn) -> Any:
    record = _record(request, record_id)
    sent = payload.dict(exclude_unset=True)
    reason = sent.pop("reason", "")
    empty = {name: _("不能为空") for name, value in sent.items() if value is None}
    if empty:
        raise ValidationError(empty)
    record_services.record_correct(
        actor=request.user, scope=request.scope, record=record, reason=reason, **sent
    )
    return _record_out(request, record.pk)


# --- organiser: certificates --------------------------------------------------------------


@router.get("/certificates", response=list[CertificateOut], summary="志愿服务证明（管理范围内）")
@paginate(Pagination)
def list_certificates(request: HttpRequest, filters: Query[CertificateFilters]) -> Any:
    return selectors.certificate_list(scope=request.scope, status=filters.status or "")


@router.post(
    "/certificates/{certificate_id}/issue",
    response={200: CertificateOut, **ERRORS},
    summary="开具证明（免费；生成编号和验证码）",
)
def issue_certificate(request: HttpRequest, certificate_id: ObjectId) -> Any:
    certificate = _certificate(request, certificate_id)
    record_services.certificate_issue(
        actor=request.user, scope=request.scope, certificate=certificate
    )
    return _certificate_out(request, certificate.pk)


@router.post(
    "/certificates/{certificate_id}/reject",
    response={200: CertificateOut, **ERRORS},
    summary="不予开具",
)
def reject_certificate(request: HttpRequest, certificate_id: ObjectId, payload: ReasonIn) -> Any:
    certificate = _certificate(request, certificate_id)
    record_services.certificate_reject(
        actor=request.user, scope=request.scope, certificate=certificate, reason=payload.reason
    )
    return _certificate_out(request, certificate.pk)


@router.post(
    "/certificates/{certificate_id}/revoke",
    response={200: CertificateOut, **ERRORS},
    summary="撤销已开具的证明",
)
def revoke_certificate(request: HttpRequest, certificate_id: ObjectId, payload: ReasonIn) -> Any:
    certificate = _certificate(request, certificate_id)
    record_services.certificate_revoke(
        actor=request.user, scope=request.scope, certificate=certificate, reason=payload.reason
    )
    return _certificate_out(request, certificate.pk)


# --- volunteer: hours, records, certificates ----------------------------------------------


@router.get("/me/hours", response={200: MyHoursOut, **ERRORS}, summary="我的服务时长")
def my_hours(request: HttpRequest) -> Any:
    hours = selectors.my_hours(volunteer=my_volunteer(request))
    return {
        "total_minutes": hours.total_minutes + hours.historical_minutes,
        "total_hours": hours.total_hours,
        "service_minutes": hours.total_minutes,
        "service_hours": hours.service_hours,
        "historical_minutes": hours.historical_minutes,
        "historical_hours": hours.historical_hours,
        "pending_minutes": hours.pending_minutes,
        "pending_hours": hours.pending_hours,
        "by_year": [{"year": year, "hours": h} for year, h in hours.by_year],
        "by_category": [{"category": name, "hours": h} for name, h in hours.by_category],
        "by_year_category": [
            {
                "year": year,
                "categories": [{"category": name, "hours": h} for name, h in cells],
            }
            for year, cells in sorted(hours.by_year_category.items(), reverse=True)
        ],
    }


@router.get("/me/orgs", response={200: MyOrgsOut, **ERRORS}, summary="我可申报时长、申请证明的单位")
def my_orgs(request: HttpRequest) -> Any:
    volunteer = my_volunteer(request)
    return {
        "declare": record_services.declarable_orgs(volunteer),
        "certify": record_services.certificate_orgs(volunteer),
    }


@router.get("/me/records", response={200: list[MyRecordOut], **ERRORS}, summary="我的服务记录")
@paginate(Pagination)
def my_records(request: HttpRequest, filters: Query[MyRecordFilters]) -> Any:
    return selectors.my_records(volunteer=my_volunteer(request), year=filters.year)


@router.post(
    "/me/records",
    response={201: MyRecordOut, **ERRORS},
    summary="申报服务时长（待确认单位确认）",
)
def declare_record(request: HttpRequest, payload: DeclareIn) -> Any:
    volunteer = my_volunteer(request)
    org = _one_of(
        record_services.declarable_orgs(volunteer),
        payload.org_id,
        _("请选择您所在的社区、总队或服务队作为确认单位。"),
    )
    data = _record_data(payload, _volunteer_activity(volunteer, payload.activity_id))
    record = record_services.record_declare(
        actor=request.user, volunteer=volunteer, org=org, data=data
    )
    return Status(201, _my_record_out(volunteer, record.pk))


@router.get(
    "/me/certificates",
    response={200: list[MyCertificateOut], **ERRORS},
    summary="我的志愿服务证明",
)
@paginate(Pagination)
def my_certificates(request: HttpRequest) -> Any:
    return selectors.my_certificates(volunteer=my_volunteer(request)).order_by("-applied_at", "-id")


@router.post(
    "/me/certificates",
    response={201: MyCertificateOut, **ERRORS},
    summary="申请开具志愿服务证明",
)
def apply_certificate(request: HttpRequest, payload: ApplyIn) -> Any:
    volunteer = my_volunteer(request)
    org = _one_of(
        record_services.certificate_orgs(volunteer),
        payload.org_id,
        _("该单位没有记录过您的已确认服务，不能由其出具证明。"),
    )
    certificate = record_services.certificate_apply(
        actor=request.user,
        volunteer=volunteer,
        org=org,
        period_from=payload.period_from,
        period_to=payload.period_to,
        purpose=payload.purpose,
    )
    return Status(
        201, selectors.my_certificate_get(volunteer=volunteer, certificate_id=certificate.pk)
    )
