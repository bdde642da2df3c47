"""The needs exchange over the API, mounted at ``/needs``: categories and classification,
needs (post, list, read, edit, cancel), matching and invitations, the volunteer's side
(invitations, applying from the board, start, done), confirmation and disputes, and the thread.
Offers and pairings are in ``huzhu.needs.api_pairings``.

Who sees what — the same rules as the pages (``selectors.need_access``):

* a need answers 404 ``未找到`` to anyone who is not its requester, the volunteer who took
  it, a volunteer with a pending invitation or application, a volunteer of the street while it
  is open (the board), or staff over its org — the same answer as for a missing id, given
  before anything about the request body is checked;
* the exact address and the map position only to the requester, the volunteer who took it and
  staff (``sees_address``); everyone else gets ``null``;
* names: staff see full names; the requester and the volunteer see their own name in full and
  the other party's masked (``王**``); phone numbers are never sent;
* a step the caller may not take is 403 with the service's message, a step refused by a rule
  (wrong status, past time, not enough credits …) is 422 naming the field; a payment refused
  by the ledger also names the ``rule`` (e.g. ``balance.insufficient``).

Every write goes through ``needs.services``; reads through ``needs.selectors``.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.helpers import active_items, by_sort_order, missing_as_invalid
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    MAX_INT,
    ErrorOut,
    FieldErrorOut,
    NamedOut,
    ObjectId,
    Text50,
    Text200,
    ValidationErrorOut,
    text,
)
from huzhu.common.identity import mask_name
from huzhu.needs import matching, selectors, services
from huzhu.needs.classify import suggest_categories
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    Message,
    Need,
    NeedCategory,
    NeedStatus,
    Payment,
    Urgency,
)
from huzhu.needs.selectors import NeedAccess, NeedFilters, person_id_of
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.selectors import org_get
from huzhu.people.models import Person
from huzhu.people.selectors import person_get
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.volunteers.models import QualificationType, Volunteer

router = Router(tags=["需求对接"])

Text60 = text(60)
Text300 = text(300)
Text1000 = text(1000)

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}

# Services name model fields; the API's inputs name ids.
SERVICE_FIELDS = {
    "category": "category_id",
    "qualifications": "qualification_ids",
    "requester": "requester_id",
    "invitation": "invitation_id",
    "helper": "helper_id",
    "resident": "resident_id",
    "volunteer": "volunteer_id",
}
# The request field a refused ledger rule is about (anything else: "__all__").
RULE_FIELDS = {
    "balance.insufficient": "payment",
    "pool.balance": "payment",
    "spend.age": "payment",
    "spend.scope": "payment",
    "balance.cap": "minutes",
    "amount.positive": "minutes",
    "ledger.too_large": "minutes",
    "spend.consent": "consent",
}
NULLABLE = frozenset({"latitude", "longitude", "category_id", "minutes"})


# --- who is looking ------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The caller, computed once per request: what every output masks by."""

    scope: Any
    person_id: int | None
    volunteer_id: int | None

    def is_staff(self, org: Org) -> bool:
        return self.scope.can(Perm.NEED_MANAGE, org) or self.scope.can(Perm.VIEW, org)


def viewer_of(request: HttpRequest) -> Viewer:
    viewer = getattr(request, "_needs_viewer", None)
    if viewer is None:
        person_id = person_id_of(request.user)
        volunteer_id = (
            Volunteer.objects.filter(person_id=person_id).values_list("pk", flat=True).first()
            if person_id is not None
            else None
        )
        viewer = Viewer(scope=request.scope, person_id=person_id, volunteer_id=volunteer_id)
        request._needs_viewer = viewer  # type: ignore[attr-defined]
    return viewer


def _viewer(context: Any) -> Viewer:
    return viewer_of(context["request"])


@dataclass(frozen=True)
class NeedView:
    staff: bool
    requester: bool
    volunteer: bool

    @property
    def sees_address(self) -> bool:
        return self.staff or self.requester or self.volunteer


def need_view(need: Need, context: Any) -> NeedView:
    viewer = _viewer(context)
    return NeedView(
        staff=viewer.is_staff(need.org),
        requester=viewer.person_id is not None and need.requester_id == viewer.person_id,
        volunteer=viewer.volunteer_id is not None and need.volunteer_id == viewer.volunteer_id,
    )


def shown_name(name: str, full: bool) -> str:
    return name if full else mask_name(name)


# --- output -------------------------------------------------------------------------------


class CategoryOut(Schema):
    id: int
    name: str
    service_category: NamedOut = Field(description="对应的服务类别（服务记录所记）")
    default_minutes: int
    keywords: list[str]

    @staticmethod
    def resolve_keywords(obj: NeedCategory) -> list[str]:
        return obj.keyword_list


class SuggestionOut(Schema):
    category: NamedOut
    score: int
    keywords: list[str] = Field(description="描述中找到的关键词")


class NeedSummaryOut(Schema):
    """A need as a list or an invitation shows it."""

    id: int
    number: str
    org_id: int
    org_name: str
    category: NamedOut
    title: str
    description: str
    address: str | None = Field(description="详细地址：仅求助人、承接志愿者和工作人员可见")
    starts_at: dt.datetime
    ends_at: dt.datetime
    urgency: str
    urgency_label: str
    payment: str
    payment_label: str
    minutes: int = Field(description="预计时长（分钟）")
    status: str
    status_label: str
    requester_name: str | None = Field(
        description="求助人：工作人员和本人可见全名，其他人只见脱敏姓名；组织发布为 null"
    )
    created_at: dt.datetime

    @staticmethod
    def resolve_org_name(obj: Need) -> str:
        return obj.org.name

    @staticmethod
    def resolve_address(obj: Need, context: Any) -> str | None:
        return obj.address if need_view(obj, context).sees_address else None

    @staticmethod
    def resolve_urgency_label(obj: Need) -> str:
        return str(obj.get_urgency_display())

    @staticmethod
    def resolve_payment_label(obj: Need) -> str:
        return str(obj.get_payment_display())

    @staticmethod
    def resolve_status_label(obj: Need) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_requester_name(obj: Need, context: Any) -> str | None:
        if obj.requester_id is None:
            return None
        view = need_view(obj, context)
        return shown_name(obj.requester.name, view.staff or view.requester)  # type: ignore[union-attr]


class NeedOut(NeedSummaryOut):
    channel: str
    channel_label: str
    extra_categories: list[NamedOut] = Field(description="描述还提示的相关类别")
    qualifications: list[NamedOut] = Field(description="所需证书")
    latitude: float | None = Field(description="位置：与地址同样只对相关人员可见")
    longitude: float | None
    volunteer_id: int | None
    volunteer_name: str | None = Field(
        description="承接志愿者：工作人员和本人可见全名，求助人只见脱敏姓名"
    )
    matched_at: dt.datetime | None
    started_at: dt.datetime | None
    done_at: dt.datetime | None
    closed_at: dt.datetime | None
    actual_minutes: int | None
    done_note: str
    rating: int | None
    rating_comment: str
    dispute_reason: str
    cancel_reason: str
    record_id: int | None = Field(description="生成的服务记录")
    transfer_id: int | None = Field(description="时间币支付")
    updated_at: dt.datetime

    @staticmethod
    def resolve_channel_label(obj: Need) -> str:
        return str(obj.get_channel_display())

    @staticmethod
    def resolve_extra_categories(obj: Need) -> list[NeedCategory]:
        return by_sort_order(obj.extra_categories.all())

    @staticmethod
    def resolve_qualifications(obj: Need) -> list[QualificationType]:
        return by_sort_order(obj.qualifications.all())

    @staticmethod
    def resolve_latitude(obj: Need, context: Any) -> float | None:
        return obj.latitude if need_view(obj, context).sees_address else None

    @staticmethod
    def resolve_longitude(obj: Need, context: Any) -> float | None:
        return obj.longitude if need_view(obj, context).sees_address else None

    @staticmethod
    def resolve_volunteer_name(obj: Need, context: Any) -> str | None:
        if obj.volunteer_id is None:
            return None
        view = need_view(obj, context)
        return shown_name(obj.volunteer.person.name, view.staff or view.volunteer)  # type: ignore[union-attr]


class AccessOut(Schema):
    role: str = Field(description="requester 求助人、volunteer 志愿者、worker 工作人员")
    is_requester: bool
    is_volunteer: bool = Field(description="承接此需求的志愿者")
    is_invited: bool = Field(description="有待回复的邀请或自荐")
    is_worker: bool = Field(description="可办理（需求对接权限）")
    can_view_scope: bool = Field(description="可查看（督查等）")
    sees_address: bool
    in_thread: bool = Field(description="可查看留言")
    may_post: bool = Field(description="可留言")


class MyInvitationBriefOut(Schema):
    id: int
    kind: str
    status: str


class EventOut(Schema):
    verb: str
    from_status: str
    to_status: str
    actor_label: str
    note: str
    created_at: dt.datetime


class NeedDetailOut(NeedOut):
    me: AccessOut = Field(description="我与此需求的关系")
    my_invitation: MyInvitationBriefOut | None = Field(description="我（志愿者）收到的邀请或自荐")
    events: list[EventOut] = Field(description="处理记录（仅工作人员）")

    @staticmethod
    def resolve_me(obj: Need) -> NeedAccess:
        return obj.me  # type: ignore[attr-defined]  # set by _detail

    @staticmethod
    def resolve_my_invitation(obj: Need) -> Invitation | None:
        return obj.my_invitation  # type: ignore[attr-defined]

    @staticmethod
    def resolve_events(obj: Need) -> list[Any]:
        return obj.events_out  # type: ignore[attr-defined]


class MatchPartsOut(Schema):
    fit: float
    distance: float
    availability: float
    load: float
    reliability: float


class MatchOut(Schema):
    volunteer_id: int
    name: str = Field(description="工作人员可见全名，求助人只见脱敏姓名")
    score: int = Field(description="0–100")
    parts: MatchPartsOut = Field(description="各项得分（0–1）")
    reasons: list[str]
    distance_km: float | None


class InvitationOut(Schema):
    """An invitation (or application) of one need, as the requester or a worker sees it."""

    id: int
    need_id: int
    volunteer_id: int
    volunteer_name: str
    kind: str
    kind_label: str
    status: str
    status_label: str
    score: int | None
    reasons: list[str]
    reply: str = Field(description="志愿者的回复（自荐时为留言）")
    created_at: dt.datetime
    responded_at: dt.datetime | None

    @staticmethod
    def resolve_volunteer_name(obj: Invitation, context: Any) -> str:
        full = _viewer(context).is_staff(obj.need.org)
        return shown_name(obj.volunteer.person.name, full)

    @staticmethod
    def resolve_kind_label(obj: Invitation) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj: Invitation) -> str:
        return str(obj.get_status_display())


class MyInvitationOut(Schema):
    """An invitation as the volunteer it was sent to sees it."""

    id: int
    kind: str
    kind_label: str
    status: str
    status_label: str
    score: int | None
    reasons: list[str]
    reply: str
    created_at: dt.datetime
    responded_at: dt.datetime | None
    need: NeedSummaryOut

    @staticmethod
    def resolve_kind_label(obj: Invitation) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj: Invitation) -> str:
        return str(obj.get_status_display())


class MessageOut(Schema):
    id: int
    role: str
    role_label: str
    author_label: str = Field(description="发言人（姓名已脱敏）")
    body: str
    mine: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_role_label(obj: Message) -> str:
        return str(obj.get_role_display())

    @staticmethod
    def resolve_mine(obj: Message, context: Any) -> bool:
        return obj.author_id is not None and obj.author_id == context["request"].user.pk


class RefusalOut(Schema):
    detail: list[FieldErrorOut]
    rule: str | None = Field(None, description="拒绝所依据的时间银行规则，如 balance.insufficient")


# --- input --------------------------------------------------------------------------------


class ClassifyIn(Schema):
    text: Text1000 = Field(description="求助描述")


class NeedFilterQuery(Schema):
    mine: bool = Field(False, description="true：我发布的求助（居民）")
    board: bool = Field(False, description="true：需求广场，附近可自荐的需求（志愿者）")
    status: NeedStatus | None = Field(None, description="状态（工作人员列表）")
    category_id: ObjectId | None = Field(None, description="需求类别 id")
    urgency: Urgency | None = None
    payment: Payment | None = None
    org_id: ObjectId | None = Field(None, description="社区或网格（含下级）")
    text: Text50 = Field("", description="标题、描述、编号或求助人姓名包含")
    date_from: dt.date | None = Field(None, description="开始日期不早于")
    date_to: dt.date | None = Field(None, description="开始日期不晚于")
    unmatched: bool = Field(False, description="true：只看待匹配")


class NeedPatch(Schema):
    """Only the fields sent are changed (the need must still be 待匹配)."""

    category_id: ObjectId | None = Field(None, description="需求类别 id（不填则按描述自动识别）")
    title: Text60 | None = None
    description: Text1000 | None = None
    address: Text200 | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    urgency: Urgency | None = None
    payment: Payment | None = Field(
        None, description="requester 时间币支付、pool 互助池支付、none 不计时间币"
    )
    minutes: int | None = Field(None, ge=0, le=MAX_INT, description="预计时长（分钟）")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    qualification_ids: list[ObjectId] | None = Field(None, description="所需证书类型 id")


class NeedIn(NeedPatch):
    requester_id: ObjectId | None = Field(
        None, description="工作人员代发：求助居民 id（居民本人发布时不填）"
    )
    org_id: ObjectId | None = Field(None, description="工作人员以组织名义发布：社区或网格 id")
    description: Text1000 = Field(description="需要什么帮助")
    address: Text200 = Field(description="服务地点")
    starts_at: dt.datetime
    ends_at: dt.datetime
    urgency: Urgency = Urgency.NORMAL
    payment: Payment = Payment.REQUESTER
    title: Text60 = ""
    qualification_ids: list[ObjectId] = Field([], description="所需证书类型 id")


class ReasonIn(Schema):
    reason: Text300 = ""


class NoteIn(Schema):
    note: Text300 = ""


class DoneIn(Schema):
    minutes: int | None = Field(None, ge=0, le=MAX_INT, description="实际服务时长（分钟，必填）")
    note: Text300 = ""


class ConfirmIn(Schema):
    rating: int | None = Field(None, ge=0, le=MAX_INT, description="评分 1–5")
    comment: Text200 = ""
    minutes: int | None = Field(
        None, ge=0, le=MAX_INT, description="工作人员调整的服务时长（分钟）"
    )
    consent: Text200 = Field("", description="工作人员代为确认并支付时：求助人如何同意")


class ApplyIn(Schema):
    note: Text200 = Field("", description="自荐留言")


class ReplyIn(Schema):
    reply: Text200 = ""


class InviteIn(Schema):
    volunteer_ids: list[ObjectId] = Field([], description="要邀请的志愿者 id")


class BroadcastIn(Schema):
    top: int | None = Field(None, ge=0, le=MAX_INT, description="发给排名前几位（1–50）")


class MatchQuery(Schema):
    limit: int = Field(10, ge=1, le=50, description="推荐人数（最多 50）")


class InvitationFilters(Schema):
    pending: bool = Field(False, description="true：只看待回复的邀请")


class MessageIn(Schema):
    body: Text1000 = ""


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def api_fields() -> Iterator[None]:
    """Inside the block, a service's field names (``category``) become the API's input names
    (``category_id``)."""
    try:
        yield
    except LedgerRefusal:
        raise
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {SERVICE_FIELDS.get(name, name): errors for name, errors in exc.error_dict.items()}
        ) from exc


def refusal(exc: LedgerRefusal) -> Status:
    field = RULE_FIELDS.get(exc.rule, "__all__")
    detail = [{"field": field, "message": message} for message in exc.messages]
    return Status(422, {"detail": detail, "rule": exc.rule})


def required(values: dict[str, Any], names: tuple[str, ...]) -> None:
    missing = {name: [_("此项为必填项")] for name in names if values.get(name) is None}
    if missing:
        raise ValidationError(missing)


def aware(value: dt.datetime) -> dt.datetime:
    """A time without an offset is local time (the deployment's time zone)."""
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _access(request: HttpRequest, need_id: int) -> NeedAccess:
    return selectors.need_access(user=request.user, scope=request.scope, need_id=need_id)


def _with_lists(qs: QuerySet[Need]) -> QuerySet[Need]:
    return qs.prefetch_related("extra_categories", "qualifications")


def _detail(request: HttpRequest, need_id: int) -> Need:
    """The need as the caller now sees it, with what they are to it."""
    access = _access(request, need_id)
    need = access.need
    person_id = person_id_of(request.user)
    need.me = access  # type: ignore[attr-defined]
    need.my_invitation = (  # type: ignore[attr-defined]
        Invitation.objects.filter(need=need, volunteer__person_id=person_id).first()
        if person_id is not None
        else None
    )
    staff = access.is_worker or access.can_view_scope
    need.events_out = list(selectors.need_events(need=need)) if staff else []  # type: ignore[attr-defined]
    return need


def _need_data(sent: dict[str, Any], base: dict[str, Any]) -> services.NeedInput:
    """Merge what was sent over ``base`` (the current need, or nothing for a new one)."""
    values = dict(base)
    errors: dict[str, list[str]] = {}
    for key, value in sent.items():
        if key in ("requester_id", "org_id"):
            continue
        if value is None and key not in NULLABLE:
            errors[key] = [_("不能为空")]
        elif key == "category_id":
            values["category"] = _category(value)
        elif key == "qualification_ids":
            values[key] = [q.pk for q in _qualifications(value)]
        elif key in ("starts_at", "ends_at"):
            values[key] = aware(value)
        else:
            values[key] = value
    if errors:
        raise ValidationError(errors)
    return services.NeedInput(**values)


def _category(category_id: int | None) -> NeedCategory | None:
    if category_id is None:
        return None
    message = _lazy("需求类别不存在或已停用：%(ids)s")
    return active_items(NeedCategory, [category_id], "category_id", message)[0]


def _qualifications(ids: list[int]) -> list[QualificationType]:
    message = _lazy("资格证书类型不存在或已停用：%(ids)s")
    return active_items(QualificationType, ids, "qualification_ids", message)


def _need_values(need: Need) -> dict[str, Any]:
    return {
        "description": need.description,
        "address": need.address,
        "starts_at": need.starts_at,
        "ends_at": need.ends_at,
        "category": need.category,
        "title": need.title,
        "urgency": need.urgency,
        "payment": need.payment,
        "minutes": need.minutes,
        "latitude": need.latitude,
        "longitude": need.longitude,
        "qualification_ids": list(need.qualifications.values_list("pk", flat=True)),
    }


def _poster(request: HttpRequest, payload: NeedIn) -> tuple[Person | None, Org | None]:
    """Who the need is for: the caller (a resident), a resident a worker posts for, or an
    org."""
    if payload.requester_id is not None and payload.org_id is not None:
        raise ValidationError({"org_id": _("代发居民的需求不用填写组织：需求归属居民所在社区。")})
    if payload.requester_id is not None:
        with missing_as_invalid("requester_id", _("居民不存在或不在您的管理范围内")):
            return person_get(scope=request.scope, person_id=payload.requester_id), None
    if payload.org_id is not None:
        with missing_as_invalid("org_id", _("请选择您有权发布需求的社区")):
            return None, org_get(scope=request.scope, org_id=payload.org_id)
    person = Person.objects.select_related("org").filter(user=request.user).first()
    if person is None:
        raise ValidationError(
            {
                "requester_id": _(
                    "您还没有居民登记信息，不能以本人名义求助；"
                    "工作人员代发请填写 requester_id 或 org_id。"
                )
            }
        )
    return person, None


def _requester_or_worker(access: NeedAccess, message: str) -> None:
    if not (access.is_worker or access.is_requester):
        raise PermissionDenied(message)


def my_volunteer(request: HttpRequest) -> Volunteer:
    """The caller's own volunteer record; 404 for a caller who is not a volunteer."""
    volunteer = selectors.volunteer_of(request.user)
    if volunteer is None:
        raise Http404
    return volunteer


def _my_invitation(request: HttpRequest, invitation_id: int) -> Invitation:
    volunteer = my_volunteer(request)
    invitation = (
        selectors.my_invitations(volunteer=volunteer)
        .select_related("volunteer__person")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise Http404
    return invitation


def _my_invitation_out(invitation_id: int) -> Invitation:
    return Invitation.objects.select_related("need__category", "need__org", "need__requester").get(
        pk=invitation_id
    )


def _need_invitation(access: NeedAccess, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.select_related("volunteer__person", "need")
        .filter(pk=invitation_id, need_id=access.need.pk)
        .first()
    )
    if invitation is None:
        raise Http404
    return invitation


def _invitations_out(access: NeedAccess, ids: list[int]) -> list[Invitation]:
    return list(selectors.need_invitations(need=access.need).filter(pk__in=ids))


# --- categories ---------------------------------------------------------------------------


@router.get("/categories", response={200: list[CategoryOut], **ERRORS}, summary="需求类别")
def list_categories(request: HttpRequest) -> Any:
    return list(NeedCategory.objects.filter(is_active=True).select_related("service_category"))


@router.post(
    "/classify",
    response={200: list[SuggestionOut], **ERRORS},
    summary="按描述推荐需求类别（中文分词）",
)
def classify(request: HttpRequest, payload: ClassifyIn) -> Any:
    return [
        {"category": s.category, "score": s.score, "keywords": list(s.keywords)}
        for s in suggest_categories(payload.text)
    ]


# --- the volunteer's invitations ----------------------------------------------------------
# Literal paths (/categories, /classify, /invitations…) come before /{need_id}.


@router.get(
    "/invitations",
    response={200: list[MyInvitationOut], **ERRORS},
    summary="我收到的邀请（志愿者）",
)
@paginate(Pagination)
def my_invitations(request: HttpRequest, filters: Query[InvitationFilters]) -> Any:
    return selectors.my_invitations(
        volunteer=my_volunteer(request), pending_only=filters.pending
    ).order_by("-created_at", "-pk")


@router.post(
    "/invitations/{invitation_id}/accept",
    response={200: NeedDetailOut, **ERRORS},
    summary="接受邀请（接单）",
)
def accept_invitation(request: HttpRequest, invitation_id: ObjectId) -> Any:
    invitation = _my_invitation(request, invitation_id)
    with api_fields():
        need = services.invitation_accept(actor=request.user, invitation=invitation)
    return _detail(request, need.pk)


@router.post(
    "/invitations/{invitation_id}/decline",
    response={200: MyInvitationOut, **ERRORS},
    summary="婉拒邀请",
)
def decline_invitation(request: HttpRequest, invitation_id: ObjectId, payload: ReplyIn) -> Any:
    invitation = _my_invitation(request, invitation_id)
    with api_fields():
        services.invitation_decline(actor=request.user, invitation=invitation, reply=payload.reply)
    return _my_invitation_out(invitation.pk)


# --- needs --------------------------------------------------------------------------------


@router.get("", response={200: list[NeedOut], **ERRORS}, summary="需求列表")
@paginate(Pagination)
def list_needs(request: HttpRequest, filters: Query[NeedFilterQuery]) -> Any:
    if filters.mine and filters.board:
        raise ValidationError({"board": _("mine 和 board 只能选择一个。")})
    if filters.mine:
        person_id = person_id_of(request.user)
        if person_id is None:
            raise Http404
        return _with_lists(selectors.my_needs(person_id=person_id))
    if filters.board:
        return _with_lists(selectors.board_needs(volunteer=my_volunteer(request)))
    return _with_lists(
        selectors.need_list(
            scope=request.scope,
            filters=NeedFilters(
                status=filters.status or "",
                category_id=filters.category_id,
                urgency=filters.urgency or "",
                org_id=filters.org_id,
                payment=filters.payment or "",
                text=filters.text,
                date_from=filters.date_from,
                date_to=filters.date_to,
                unmatched_only=filters.unmatched,
            ),
        )
    )


@router.post(
    "",
    response={201: NeedDetailOut, **ERRORS},
    summary="发布需求（居民本人；工作人员代发或以组织名义发布）",
)
def create_need(request: HttpRequest, payload: NeedIn) -> Any:
    requester, org = _poster(request, payload)
    data = _need_data(payload.dict(exclude_unset=True), {"title": "", "minutes": None})
    with api_fields():
        need = services.need_create(
            actor=request.user, scope=request.scope, data=data, requester=requester, org=org
        )
    return Status(201, _detail(request, need.pk))


@router.get("/{need_id}", response={200: NeedDetailOut, **ERRORS}, summary="需求详情")
def get_need(request: HttpRequest, need_id: ObjectId) -> Any:
    return _detail(request, need_id)


@router.patch(
    "/{need_id}",
    response={200: NeedDetailOut, **ERRORS},
    summary="修改需求（待匹配时，求助人或工作人员）",
)
def update_need(request: HttpRequest, need_id: ObjectId, payload: NeedPatch) -> Any:
    access = _access(request, need_id)
    data = _need_data(payload.dict(exclude_unset=True), _need_values(access.need))
    with api_fields():
        services.need_update(actor=request.user, access=access, data=data)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/cancel",
    response={200: NeedDetailOut, **ERRORS},
    summary="取消需求（服务开始前）",
)
def cancel_need(request: HttpRequest, need_id: ObjectId, payload: ReasonIn) -> Any:
    access = _access(request, need_id)
    with api_fields():
        services.need_cancel(actor=request.user, access=access, reason=payload.reason)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/start",
    response={200: NeedDetailOut, **ERRORS},
    summary="开始服务（承接志愿者）",
)
def start_need(request: HttpRequest, need_id: ObjectId) -> Any:
    access = _access(request, need_id)
    with api_fields():
        services.need_start(actor=request.user, access=access)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/done",
    response={200: NeedDetailOut, **ERRORS},
    summary="标记完成（承接志愿者，填写实际时长）",
)
def mark_done(request: HttpRequest, need_id: ObjectId, payload: DoneIn) -> Any:
    access = _access(request, need_id)
    required(payload.dict(), ("minutes",))
    with api_fields():
        services.need_mark_done(
            actor=request.user, access=access, minutes=payload.minutes, note=payload.note
        )
    return _detail(request, need_id)


@router.post(
    "/{need_id}/confirm",
    response={200: NeedDetailOut, **ERRORS, 422: RefusalOut},
    summary="确认完成并评价（生成服务记录，支付时间币）",
)
def confirm_need(request: HttpRequest, need_id: ObjectId, payload: ConfirmIn) -> Any:
    access = _access(request, need_id)
    data = services.Confirmation(
        rating=payload.rating,
        comment=payload.comment,
        minutes=payload.minutes,
        consent=payload.consent,
    )
    try:
        with api_fields():
            services.need_confirm(actor=request.user, access=access, data=data)
    except LedgerRefusal as exc:
        return refusal(exc)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/dispute",
    response={200: NeedDetailOut, **ERRORS},
    summary="提出异议（求助人不认可服务）",
)
def dispute_need(request: HttpRequest, need_id: ObjectId, payload: ReasonIn) -> Any:
    access = _access(request, need_id)
    with api_fields():
        services.need_dispute(actor=request.user, access=access, reason=payload.reason)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/dispute/return",
    response={200: NeedDetailOut, **ERRORS},
    summary="异议处理：退回志愿者继续服务（工作人员）",
)
def dispute_return(request: HttpRequest, need_id: ObjectId, payload: NoteIn) -> Any:
    access = _access(request, need_id)
    with api_fields():
        services.dispute_return(actor=request.user, access=access, note=payload.note)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/dispute/close",
    response={200: NeedDetailOut, **ERRORS},
    summary="异议处理：关闭需求，不记时长不支付（工作人员）",
)
def dispute_close(request: HttpRequest, need_id: ObjectId, payload: NoteIn) -> Any:
    access = _access(request, need_id)
    with api_fields():
        services.dispute_close(actor=request.user, access=access, note=payload.note)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/apply",
    response={201: MyInvitationOut, **ERRORS},
    summary="自荐承接（需求广场上的志愿者）",
)
def apply_need(request: HttpRequest, need_id: ObjectId, payload: ApplyIn) -> Any:
    access = _access(request, need_id)
    volunteer = selectors.volunteer_of(request.user)
    with api_fields():
        invitation = services.need_apply(
            actor=request.user, need=access.need, volunteer=volunteer, note=payload.note
        )
    return Status(201, _my_invitation_out(invitation.pk))


# --- matching and invitations -------------------------------------------------------------


@router.get(
    "/{need_id}/matches",
    response={200: list[MatchOut], **ERRORS},
    summary="推荐志愿者：排名、各项得分和理由（求助人或工作人员）",
)
def need_matches(request: HttpRequest, need_id: ObjectId, query: Query[MatchQuery]) -> Any:
    access = _access(request, need_id)
    _requester_or_worker(access, _("只有求助人或工作人员可以查看推荐的志愿者。"))
    ctx = matching.MatchContext.for_need(access.need)
    ranked = matching.rank(access.need, limit=query.limit, ctx=ctx)
    names = dict(
        Volunteer.objects.filter(pk__in=[c.volunteer_id for c in ranked]).values_list(
            "pk", "person__name"
        )
    )
    full = access.is_worker or access.can_view_scope
    return [
        {
            "volunteer_id": c.volunteer_id,
            "name": shown_name(names.get(c.volunteer_id, ""), full),
            "score": c.points,
            "parts": {name: round(value, 3) for name, value in c.parts.items()},
            "reasons": matching.explain(ctx, c),
            "distance_km": round(c.distance, 2) if c.distance is not None else None,
        }
        for c in ranked
    ]


@router.get(
    "/{need_id}/invitations",
    response={200: list[InvitationOut], **ERRORS},
    summary="需求的邀请和自荐（求助人或工作人员）",
)
@paginate(Pagination)
def need_invitations(request: HttpRequest, need_id: ObjectId) -> Any:
    access = _access(request, need_id)
    _requester_or_worker(access, _("只有求助人或工作人员可以查看邀请。"))
    return selectors.need_invitations(need=access.need)


@router.post(
    "/{need_id}/invitations",
    response={201: list[InvitationOut], **ERRORS},
    summary="邀请志愿者（工作人员可指定；求助人只能邀请推荐范围内的）",
)
def invite(request: HttpRequest, need_id: ObjectId, payload: InviteIn) -> Any:
    access = _access(request, need_id)
    with api_fields():
        created = services.need_invite(
            actor=request.user, access=access, volunteer_ids=payload.volunteer_ids
        )
    return Status(201, _invitations_out(access, [i.pk for i in created]))


@router.post(
    "/{need_id}/broadcast",
    response={201: list[InvitationOut], **ERRORS},
    summary="紧急广播：邀请排名前几位，先接先得（较急或紧急的需求）",
)
def broadcast(request: HttpRequest, need_id: ObjectId, payload: BroadcastIn) -> Any:
    access = _access(request, need_id)
    with api_fields():
        created = services.need_broadcast(actor=request.user, access=access, top=payload.top)
    return Status(201, _invitations_out(access, [i.pk for i in created]))


@router.post(
    "/{need_id}/applications/{invitation_id}/approve",
    response={200: NeedDetailOut, **ERRORS},
    summary="同意志愿者的自荐（求助人或工作人员）",
)
def approve_application(request: HttpRequest, need_id: ObjectId, invitation_id: ObjectId) -> Any:
    access = _access(request, need_id)
    invitation = _need_invitation(access, invitation_id)
    with api_fields():
        services.application_approve(actor=request.user, access=access, invitation=invitation)
    return _detail(request, need_id)


@router.post(
    "/{need_id}/applications/{invitation_id}/decline",
    response={200: InvitationOut, **ERRORS},
    summary="婉拒志愿者的自荐（求助人或工作人员）",
)
def decline_application(
    request: HttpRequest, need_id: ObjectId, invitation_id: ObjectId, payload: ReplyIn
) -> Any:
    access = _access(request, need_id)
    invitation = _need_invitation(access, invitation_id)
    _requester_or_worker(access, _("只有求助人或工作人员可以婉拒自荐。"))
    if invitation.kind != InvitationKind.APPLY:
        raise ValidationError({"invitation_id": _("该记录不是志愿者的自荐。")})
    with api_fields():
        services.invitation_decline(
            actor=request.user, invitation=invitation, reply=payload.reply, access=access
        )
    return _invitations_out(access, [invitation.pk])[0]


# --- the thread ---------------------------------------------------------------------------


@router.get(
    "/{need_id}/messages",
    response={200: list[MessageOut], **ERRORS},
    summary="留言（最早在前；求助人、承接志愿者和工作人员）",
)
@paginate(Pagination)
def list_messages(request: HttpRequest, need_id: ObjectId) -> Any:
    access = _access(request, need_id)
    if not access.in_thread:
        raise PermissionDenied(_("只有求助人、承接志愿者和工作人员可以查看留言。"))
    return selectors.need_messages(need=access.need)


@router.post(
    "/{need_id}/messages",
    response={201: MessageOut, **ERRORS},
    summary="留言（手机号会被隐藏）",
)
def post_message(request: HttpRequest, need_id: ObjectId, payload: MessageIn) -> Any:
    access = _access(request, need_id)
    with api_fields():
        message = services.message_post(actor=request.user, access=access, body=payload.body)
    return Status(201, message)
