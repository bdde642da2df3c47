"""Offers (供给) and long-term pairings (结对帮扶) over the API, mounted at ``/needs`` beside the
needs router: ``/needs/offers…`` and ``/needs/pairings…``.

* Offers: a volunteer publishes and edits their own (``mine=true`` lists them); a worker lists
  the offers in their scope and records the offers of units in the area (``org_id``). Another
  volunteer's offer, or one outside the scope, answers 404 ``未找到``.
* Pairings: workers (``PAIRING_MANAGE``) pair a helper with a resident, end pairs and see the
  pairs of their scope (``quiet=true``: not visited within their cycle); the helper sees their
  own pairs (``mine=true``) and logs visits. Staff see full names; the helper sees the
  resident's name masked.

Every write goes through ``needs.services`` and ``needs.pairing_services``.
"""

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.helpers import by_sort_order, missing_as_invalid, user_name
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    NamedOut,
    ObjectId,
    Text200,
    ValidationErrorOut,
    text,
)
from huzhu.needs import pairing_services, selectors, services
from huzhu.needs.api import api_fields, my_volunteer, shown_name, viewer_of
from huzhu.needs.models import NeedCategory, Offer, Pairing, PairingStatus, Visit
from huzhu.needs.selectors import person_id_of
from huzhu.orgs.roles import Perm
from huzhu.orgs.selectors import org_get
from huzhu.people.models import Person
from huzhu.people.selectors import person_get
from huzhu.volunteers.availability import SLOTS, describe, from_mask, to_mask

router = Router(tags=["服务供给与结对帮扶"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}

Text60 = text(60)
Text300 = text(300)
Text1000 = text(1000)
SlotCode = Literal[SLOTS]  # type: ignore[valid-type]  # mon_am … sun_eve
PairingStatusFilter = Literal["active", "ended", "all"]
OFFER_NULLABLE = frozenset({"latitude", "longitude"})


# --- output -------------------------------------------------------------------------------


class OfferOut(Schema):
    id: int
    org_id: int
    org_name: str
    volunteer_id: int | None = Field(description="志愿者的服务；驻区单位的服务为 null")
    volunteer_name: str | None
    categories: list[NamedOut]
    title: str
    description: str
    availability: list[str] = Field(description="可服务时段代码，如 sat_am")
    availability_label: str
    address: str
    latitude: float | None
    longitude: float | None
    is_active: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_org_name(obj: Offer) -> str:
        return obj.org.name

    @staticmethod
    def resolve_volunteer_name(obj: Offer, context: Any) -> str | None:
        if obj.volunteer_id is None:
            return None
        viewer = viewer_of(context["request"])
        full = viewer.is_staff(obj.org) or obj.volunteer_id == viewer.volunteer_id
        return shown_name(obj.volunteer.person.name, full)  # type: ignore[union-attr]

    @staticmethod
    def resolve_categories(obj: Offer) -> list[NeedCategory]:
        return by_sort_order(obj.categories.all())

    @staticmethod
    def resolve_availability(obj: Offer) -> list[str]:
        return from_mask(obj.availability)

    @staticmethod
    def resolve_availability_label(obj: Offer) -> str:
        return describe(obj.availability)


class PairingOut(Schema):
    id: int
    org_id: int
    org_name: str
    helper_id: int = Field(description="帮扶人（居民 id）")
    helper_name: str
    resident_id: int = Field(description="帮扶对象（居民 id）")
    resident_name: str = Field(description="工作人员可见全名，帮扶人只见脱敏姓名")
    helper_is_party_member: bool
    purpose: str
    visit_every_days: int
    started_on: dt.date
    ended_on: dt.date | None
    end_reason: str
    status: str
    status_label: str
    last_visit_on: dt.date | None
    days_since_visit: int = Field(description="距最近走访（或结对）天数")
    is_quiet: bool = Field(description="超过走访周期未走访")

    @staticmethod
    def resolve_org_name(obj: Pairing) -> str:
        return obj.org.name

    @staticmethod
    def resolve_helper_name(obj: Pairing, context: Any) -> str:
        viewer = viewer_of(context["request"])
        full = viewer.scope.can(Perm.VIEW, obj.org) or obj.helper_id == viewer.person_id
        return shown_name(obj.helper.name, full)

    @staticmethod
    def resolve_resident_name(obj: Pairing, context: Any) -> str:
        viewer = viewer_of(context["request"])
        return shown_name(obj.resident.name, viewer.scope.can(Perm.VIEW, obj.org))

    @staticmethod
    def resolve_status_label(obj: Pairing) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_days_since_visit(obj: Pairing) -> int:
        return selectors.quiet_since(obj, timezone.localdate())

    @staticmethod
    def resolve_is_quiet(obj: Pairing) -> bool:
        days = selectors.quiet_since(obj, timezone.localdate())
        return obj.status == PairingStatus.ACTIVE and days > obj.visit_every_days


class VisitOut(Schema):
    id: int
    visited_on: dt.date
    minutes: int | None
    done: str = Field(description="帮扶事项")
    concerns: str = Field(description="反映的困难或诉求")
    need_id: int | None = Field(description="转为需求")
    recorded_by: str | None
    created_at: dt.datetime

    @staticmethod
    def resolve_recorded_by(obj: Visit) -> str | None:
        return user_name(obj.recorded_by)


class PairingDetailOut(PairingOut):
    visits: list[VisitOut] = Field(description="走访记录（最近在前）")

    @staticmethod
    def resolve_visits(obj: Pairing) -> list[Visit]:
        return obj.visit_list  # type: ignore[attr-defined]  # set by _pairing_detail


# --- input --------------------------------------------------------------------------------


class OfferFilters(Schema):
    mine: bool = Field(False, description="true：我发布的服务（志愿者，含已停止的）")
    category_id: ObjectId | None = Field(None, description="需求类别 id")
    units_only: bool = Field(False, description="true：只看驻区单位的服务")


class OfferPatch(Schema):
    """Only the fields sent are changed; ``category_ids`` replaces the whole list."""

    title: Text60 | None = None
    category_ids: list[ObjectId] | None = Field(None, description="可提供的需求类别 id")
    description: Text1000 | None = None
    availability: list[SlotCode] | None = Field(None, description="可服务时段代码")
    address: Text200 | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    is_active: bool | None = None


class OfferIn(OfferPatch):
    org_id: ObjectId | None = Field(
        None, description="工作人员登记驻区单位的服务：单位所在的社区或网格 id"
    )
    title: Text60
    category_ids: list[ObjectId] = Field(description="可提供的需求类别 id")
    description: Text1000 = ""
    availability: list[SlotCode] = Field([], description="可服务时段代码")
    address: Text200 = ""
    is_active: bool = True


class PairingFilters(Schema):
    mine: bool = Field(False, description="true：我作为帮扶人的结对")
    status: PairingStatusFilter = Field("active", description="active 结对中、ended 已结束、all")
    quiet: bool = Field(False, description="true：只看超过走访周期未走访的")


class PairingIn(Schema):
    helper_id: ObjectId = Field(description="帮扶人（居民 id）")
    resident_id: ObjectId = Field(description="帮扶对象（居民 id）")
    purpose: Text200 = Field(description="帮扶内容")
    started_on: dt.date | None = Field(None, description="结对日期（默认今天）")
    visit_every_days: int = Field(30, ge=0, le=10_000, description="走访周期（天，1–366）")
    helper_is_party_member: bool = False


class VisitIn(Schema):
    visited_on: dt.date | None = Field(None, description="走访日期（默认今天）")
    done: Text300 = Field("", description="帮扶事项")
    concerns: Text300 = ""
    minutes: int | None = Field(None, ge=0, le=10_000, description="时长（分钟）")


class EndIn(Schema):
    reason: Text200 = ""


# --- helpers ------------------------------------------------------------------------------


def _offers(qs: QuerySet[Offer]) -> QuerySet[Offer]:
    return qs.select_related("org", "volunteer__person").prefetch_related("categories")


def _offer_out(offer_id: int) -> Offer:
    return _offers(Offer.objects.all()).get(pk=offer_id)


def _offer(request: HttpRequest, offer_id: int) -> Offer:
    """The caller's own offer, or one in their scope; 404 otherwise."""
    offer = _offers(Offer.objects.all()).filter(pk=offer_id).first()
    if offer is None:
        raise Http404
    person_id = person_id_of(request.user)
    own = offer.volunteer_id is not None and offer.volunteer.person_id == person_id  # type: ignore[union-attr]
    if not (own or request.scope.can(Perm.VIEW, offer.org)):
        raise Http404
    return offer


def _offer_data(sent: dict[str, Any], base: dict[str, Any]) -> services.OfferInput:
    values = dict(base)
    errors: dict[str, list[str]] = {}
    for key, value in sent.items():
        if key == "org_id":
            continue
        if value is None and key not in OFFER_NULLABLE:
            errors[key] = [_("不能为空")]
        elif key == "availability":
            values[key] = to_mask(value)
        else:
            values[key] = value
    if errors:
        raise ValidationError(errors)
    return services.OfferInput(**values)


def _offer_values(offer: Offer) -> dict[str, Any]:
    return {
        "title": offer.title,
        "category_ids": [c.pk for c in offer.categories.all()],
        "description": offer.description,
        "availability": offer.availability,
        "address": offer.address,
        "latitude": offer.latitude,
        "longitude": offer.longitude,
        "is_active": offer.is_active,
    }


def _pairing(request: HttpRequest, pairing_id: int) -> Pairing:
    return selectors.pairing_get(user=request.user, scope=request.scope, pairing_id=pairing_id)


def _pairing_detail(request: HttpRequest, pairing_id: int) -> Pairing:
    pairing = _pairing(request, pairing_id)
    pairing.visit_list = list(selectors.pairing_visits(pairing=pairing))  # type: ignore[attr-defined]
    return pairing


def _person(request: HttpRequest, person_id: int, field: str) -> Person:
    with missing_as_invalid(field, _("居民不存在或不在您的管理范围内")):
        return person_get(scope=request.scope, person_id=person_id)


# --- offers -------------------------------------------------------------------------------


@router.get("/offers", response={200: list[OfferOut], **ERRORS}, summary="服务供给列表")
@paginate(Pagination)
def list_offers(request: HttpRequest, filters: Query[OfferFilters]) -> Any:
    if filters.mine:
        qs = _offers(selectors.my_offers(volunteer=my_volunteer(request)))
        if filters.category_id:
            qs = qs.filter(categories__pk=filters.category_id).distinct()
        return qs.order_by("-updated_at", "-pk")
    return selectors.offer_list(
        scope=request.scope, category_id=filters.category_id, units_only=filters.units_only
    ).order_by("-updated_at", "-pk")


@router.post(
    "/offers",
    response={201: OfferOut, **ERRORS},
    summary="发布服务（志愿者本人；工作人员登记驻区单位的服务）",
)
def create_offer(request: HttpRequest, payload: OfferIn) -> Any:
    sent = payload.dict(exclude_unset=True)
    base = {"availability": 0, "is_active": True}
    if payload.org_id is not None:
        with missing_as_invalid("org_id", _("请选择您有权登记单位服务的社区")):
            org = org_get(scope=request.scope, org_id=payload.org_id)
        with api_fields():
            offer = services.offer_save(
                actor=request.user, data=_offer_data(sent, base), org=org, scope=request.scope
            )
    else:
        volunteer = my_volunteer(request)
        with api_fields():
            offer = services.offer_save(
                actor=request.user, data=_offer_data(sent, base), volunteer=volunteer
            )
    return Status(201, _offer_out(offer.pk))


@router.patch(
    "/offers/{offer_id}",
    response={200: OfferOut, **ERRORS},
    summary="修改服务（本人的服务；驻区单位的服务由工作人员修改）",
)
def update_offer(request: HttpRequest, offer_id: ObjectId, payload: OfferPatch) -> Any:
    offer = _offer(request, offer_id)
    data = _offer_data(payload.dict(exclude_unset=True), _offer_values(offer))
    with api_fields():
        services.offer_save(actor=request.user, data=data, scope=request.scope, offer=offer)
    return _offer_out(offer.pk)


# --- pairings -----------------------------------------------------------------------------


@router.get("/pairings", response={200: list[PairingOut], **ERRORS}, summary="结对帮扶列表")
@paginate(Pagination)
def list_pairings(request: HttpRequest, filters: Query[PairingFilters]) -> Any:
    status = "" if filters.status == "all" else filters.status
    if not filters.mine:
        return selectors.pairing_list(
            scope=request.scope, status=status, quiet_only=filters.quiet
        ).order_by("-started_on", "-pk")
    person_id = person_id_of(request.user)
    if person_id is None:
        raise Http404
    qs = selectors.my_pairings(person_id=person_id).select_related("helper")
    if status:
        qs = qs.filter(status=status)
    if filters.quiet:
        qs = selectors.quiet_pairings(qs, timezone.localdate())
    return qs.order_by("-started_on", "-pk")


@router.post(
    "/pairings",
    response={201: PairingDetailOut, **ERRORS},
    summary="建立结对帮扶（工作人员）",
)
def create_pairing(request: HttpRequest, payload: PairingIn) -> Any:
    data = pairing_services.PairingInput(
        helper=_person(request, payload.helper_id, "helper_id"),
        resident=_person(request, payload.resident_id, "resident_id"),
        purpose=payload.purpose,
        started_on=payload.started_on or timezone.localdate(),
        visit_every_days=payload.visit_every_days,
        helper_is_party_member=payload.helper_is_party_member,
    )
    with api_fields():
        pairing = pairing_services.pairing_create(
            actor=request.user, scope=request.scope, data=data
        )
    return Status(201, _pairing_detail(request, pairing.pk))


@router.get(
    "/pairings/{pairing_id}",
    response={200: PairingDetailOut, **ERRORS},
    summary="结对详情和走访记录",
)
def get_pairing(request: HttpRequest, pairing_id: ObjectId) -> Any:
    return _pairing_detail(request, pairing_id)


@router.post(
    "/pairings/{pairing_id}/visits",
    response={201: VisitOut, **ERRORS},
    summary="记录走访（帮扶人或工作人员）",
)
def log_visit(request: HttpRequest, pairing_id: ObjectId, payload: VisitIn) -> Any:
    pairing = _pairing(request, pairing_id)
    data = pairing_services.VisitInput(
        visited_on=payload.visited_on or timezone.localdate(),
        done=payload.done,
        concerns=payload.concerns,
        minutes=payload.minutes,
    )
    with api_fields():
        visit = pairing_services.visit_log(
            actor=request.user, scope=request.scope, pairing=pairing, data=data
        )
    return Status(201, Visit.objects.select_related("recorded_by").get(pk=visit.pk))


@router.post(
    "/pairings/{pairing_id}/end",
    response={200: PairingDetailOut, **ERRORS},
    summary="结束结对（工作人员）",
)
def end_pairing(request: HttpRequest, pairing_id: ObjectId, payload: EndIn) -> Any:
    pairing = _pairing(request, pairing_id)
    with api_fields():
        pairing_services.pairing_end(
            actor=request.user, scope=request.scope, pairing=pairing, reason=payload.reason
        )
    return _pairing_detail(request, pairing_id)
