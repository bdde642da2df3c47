"""Service desk tickets over the API (mounted under ``/desk`` by ``huzhu.desk.api``): register,
list, read, every step of the workflow, and the public board of civic reports.

Who sees what — the same rules as the pages (``selectors.ticket_access``):

* a ticket answers 404 ``未找到`` to anyone who is not its reporter, its first receiver, staff
  over its community (``desk.manage`` to act, ``view`` to read) or the team it is assigned to
  — the same answer as for a missing id, given before the body is looked at;
* who reported it (``reporter_id``, ``reporter_name``, ``contact_name``,
  ``contact_phone_masked``) only to the reporter, the first receiver and managers
  (``sees_reporter``); everyone else gets ``null``. Phones are always masked;
* a step the caller may not take is 403 with the service's message; a step refused by a rule
  (wrong status, too late to return, too many extension days …) is 422 naming the field;
* a flood of reports from one address, phone or person is 429 with the service's message;
* the public board (``GET /desk/public/reports``) needs no login and never carries anything
  about the reporter.

Every write goes through ``desk.services``; reads through ``desk.selectors``.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.helpers import missing_as_invalid, user_name
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    NamedOut,
    ObjectId,
    Text20,
    Text30,
    Text50,
    Text200,
    Text2000,
    ValidationErrorOut,
    text,
)
from huzhu.desk import selectors, services
from huzhu.desk.models import (
    OPEN_TICKET_STATUSES,
    Channel,
    CloseReason,
    EscalationLevel,
    MatterKind,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.desk.selectors import TicketAccess
from huzhu.orgs.models import Org
from huzhu.people.selectors import person_get

router = Router()  # tagged "desk" where huzhu.desk.api mounts it

Text60 = text(60)
Text300 = text(300)
Text500 = text(500)

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
CREATE_ERRORS = {**ERRORS, 429: ErrorOut}

# Services name model fields; the API's inputs name ids ("org" → "org_id" is global).
SERVICE_FIELDS = {
    "matter_type": "matter_type_id",
    "grid": "grid_id",
    "reporter": "reporter_id",
    "team": "team_id",
}
API_CHANNELS = Literal["api", "walk_in", "phone"]
# A ticket's status, or "open" for every status still being worked on.
STATUS_FILTER = Literal[("open", *TicketStatus.values)]  # type: ignore[valid-type]


# --- who is looking ------------------------------------------------------------------------


def _access_of(ticket: Ticket, context: Any) -> TicketAccess:
    """What the caller is to ``ticket``, computed once per object (no queries: the ticket's
    relations are selected and the scope is in memory)."""
    access = getattr(ticket, "_api_access", None)
    if access is None:
        request = context["request"]
        access = selectors.access_for(user=request.user, scope=request.scope, ticket=ticket)
        ticket._api_access = access  # type: ignore[attr-defined]
    return access


def _today() -> dt.date:
    return services.today_local()


# --- output -------------------------------------------------------------------------------


class MatterBriefOut(Schema):
    id: int
    code: str = Field(description="事项编码（即 Open311 service_code）")
    name: str
    kind: str
    kind_label: str

    @staticmethod
    def resolve_kind_label(obj: Any) -> str:
        return str(MatterKind(obj.kind).label)


class PhotoOut(Schema):
    id: int
    kind: str = Field(description="report 反映照片、result 处理结果照片")
    url: str
    width: int
    height: int
    is_public: bool = Field(description="已审核公开（公示栏可见）")

    @staticmethod
    def resolve_url(obj: TicketPhoto) -> str:
        return reverse("desk:photo", kwargs={"photo_id": obj.pk})


class TicketRefOut(Schema):
    id: int
    number: str


class TicketOut(Schema):
    """A ticket as a list shows it."""

    id: int
    number: str = Field(description="工单编号")
    org_id: int
    org_name: str
    grid: NamedOut | None
    matter_type: MatterBriefOut
    channel: str
    channel_label: str
    title: str
    description: str
    address: str
    latitude: float | None
    longitude: float | None
    status: str
    status_label: str
    team: NamedOut | None = Field(description="承办队伍")
    receiver_name: str | None = Field(description="首问负责人")
    due_date: dt.date | None = Field(description="办理期限（受理后按工作日计算）")
    is_overdue: bool
    escalation_level: int = Field(description="0 未督办、1 街道督办、2 区级督办")
    escalation_label: str
    reporter_public: bool = Field(description="反映人愿意公开姓名")
    reporter_id: int | None = Field(
        description="反映人（居民 id）：仅反映人、首问负责人和工作人员可见"
    )
    reporter_name: str | None = Field(description="反映人姓名：同上")
    contact_name: str | None = Field(description="联系人：同上")
    contact_phone_masked: str | None = Field(
        description="联系电话（脱敏）：登记时留的电话，否则反映人登记的手机号；同上"
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_org_name(obj: Ticket) -> str:
        return obj.org.name

    @staticmethod
    def resolve_channel_label(obj: Ticket) -> str:
        return str(obj.get_channel_display())

    @staticmethod
    def resolve_status_label(obj: Ticket) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_receiver_name(obj: Ticket) -> str | None:
        return user_name(obj.receiver)

    @staticmethod
    def resolve_is_overdue(obj: Ticket) -> bool:
        return (
            obj.status in OPEN_TICKET_STATUSES
            and obj.due_date is not None
            and obj.due_date < _today()
        )

    @staticmethod
    def resolve_escalation_label(obj: Ticket) -> str:
        return str(EscalationLevel(obj.escalation_level).label)

    @staticmethod
    def resolve_reporter_id(obj: Ticket, context: Any) -> int | None:
        return obj.reporter_id if _access_of(obj, context).sees_reporter else None

    @staticmethod
    def resolve_reporter_name(obj: Ticket, context: Any) -> str | None:
        if obj.reporter is None or not _access_of(obj, context).sees_reporter:
            return None
        return obj.reporter.name

    @staticmethod
    def resolve_contact_name(obj: Ticket, context: Any) -> str | None:
        return obj.contact_name if _access_of(obj, context).sees_reporter else None

    @staticmethod
    def resolve_contact_phone_masked(obj: Ticket, context: Any) -> str | None:
        if not _access_of(obj, context).sees_reporter:
            return None
        if obj.contact_phone_masked:
            return obj.contact_phone_masked
        return obj.reporter.phone_masked if obj.reporter is not None else ""


class AccessOut(Schema):
    is_reporter: bool = Field(description="我是反映人")
    is_receiver: bool = Field(description="我是首问负责人")
    is_manager: bool = Field(description="服务台权限（受理、派单、回访、审批延期）")
    is_handler: bool = Field(description="我所在的承办队伍（签收、回退、办理、反馈）")
    can_view: bool = Field(description="可查看（督查等）")
    may_manage: bool
    sees_reporter: bool


class EventOut(Schema):
    verb: str
    from_status: str
    to_status: str
    actor_label: str
    note: str
    is_public: bool = Field(description="公开的进展（Open311 status_notes）")
    created_at: dt.datetime


class TicketDetailOut(TicketOut):
    materials: list[str] = Field(description="一次性告知：需携带的材料和注意事项")
    deadline_days: int = Field(description="事项办理时限（工作日）")
    accepted_at: dt.datetime | None
    assigned_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None
    extension_days: int = Field(description="已批准延期（工作日）")
    extension_requested_days: int = Field(description="待审批的延期（工作日）")
    extension_reason: str
    return_count: int
    reopen_count: int
    result: str
    rating: int | None
    rating_comment: str
    close_reason: str
    close_reason_label: str
    closed_on_time: bool | None
    duplicate_of: TicketRefOut | None = Field(description="并入的工单")
    me: AccessOut = Field(description="我与此工单的关系")
    events: list[EventOut] = Field(description="处理记录（反映人只见公开的）")
    photos: list[PhotoOut]

    @staticmethod
    def resolve_materials(obj: Ticket) -> list[str]:
        return obj.matter_type.material_list

    @staticmethod
    def resolve_deadline_days(obj: Ticket) -> int:
        return obj.matter_type.deadline_days

    @staticmethod
    def resolve_close_reason_label(obj: Ticket) -> str:
        return str(CloseReason(obj.close_reason).label) if obj.close_reason else ""

    @staticmethod
    def resolve_me(obj: Ticket, context: Any) -> TicketAccess:
        return _access_of(obj, context)

    @staticmethod
    def resolve_events(obj: Ticket) -> list[TicketEvent]:
        return obj.events_out  # type: ignore[attr-defined]  # set by _detail

    @staticmethod
    def resolve_photos(obj: Ticket) -> list[TicketPhoto]:
        return obj.photos_out  # type: ignore[attr-defined]  # set by _detail


class PublicReportOut(Schema):
    """A report on the public board: where, what, and how far it has got — never who."""

    id: int
    number: str
    org_id: int
    org_name: str
    grid_name: str | None
    matter_type: MatterBriefOut
    title: str
    description: str
    address: str
    latitude: float | None
    longitude: float | None
    status: str
    status_label: str
    result: str
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    photos: list[PhotoOut] = Field(description="审核后公开的照片")

    @staticmethod
    def resolve_org_name(obj: Ticket) -> str:
        return obj.org.name

    @staticmethod
    def resolve_grid_name(obj: Ticket) -> str | None:
        return obj.grid.name if obj.grid is not None else None

    @staticmethod
    def resolve_status_label(obj: Ticket) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_photos(obj: Ticket) -> list[TicketPhoto]:
        return obj.public_photos  # type: ignore[attr-defined]


# --- input --------------------------------------------------------------------------------


class TicketFilterQuery(Schema):
    status: STATUS_FILTER | None = Field(None, description="状态；open：所有未办结的")
    channel: Channel | None = None
    matter_type_id: ObjectId | None = Field(None, description="事项 id")
    grid_id: ObjectId | None = Field(None, description="网格 id")
    overdue: bool = Field(False, description="true：只看已超期未办结的")
    mine: bool = Field(False, description="true：我首问负责的")
    team: bool = Field(False, description="true：派给我所在承办队伍的")
    q: Text50 = Field("", description="编号、标题或地点包含")


class PublicFilterQuery(Schema):
    org_id: ObjectId | None = Field(None, description="社区或街道（含下级）")
    status: Literal["open", "closed"] | None = Field(None, description="open 办理中、closed 已办结")


class TicketIn(Schema):
    matter_type_id: ObjectId = Field(description="事项 id（所属社区事项清单中的）")
    description: Text2000 = Field(description="反映的内容")
    title: Text60 = Field("", description="标题（不填则取内容开头）")
    org_id: ObjectId | None = Field(
        None, description="社区或网格 id（不填：反映人所在社区，或按坐标找最近的社区）"
    )
    grid_id: ObjectId | None = Field(None, description="网格 id（不填则按坐标找最近的网格）")
    address: Text200 = Field("", description="地点（文明评议须填写地点或坐标）")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    reporter_id: ObjectId | None = Field(None, description="工作人员代登记：反映居民 id")
    contact_name: Text50 = Field("", description="联系人")
    contact_phone: Text30 = Field("", description="联系电话（手机或固话，存储加密，显示脱敏）")
    reporter_public: bool = Field(False, description="愿意在公示栏公开姓名")
    channel: API_CHANNELS = Field(
        "api", description="api（默认）；工作人员登记来访 walk_in、来电 phone"
    )


class NoteIn(Schema):
    note: Text300 = ""


class AnswerIn(Schema):
    answer: Text2000 = Field("", description="当场答复的内容")


class AssignIn(Schema):
    team_id: ObjectId | None = Field(
        None, description="承办队伍 id（不填：网格巡查队或事项默认的承办队伍）"
    )
    note: Text300 = ""


class ReasonIn(Schema):
    reason: Text300 = ""


class ProgressIn(Schema):
    note: Text500 = Field("", description="办理进展")
    public: bool = Field(False, description="true：公开（Open311 status_notes）")


class ExtensionIn(Schema):
    days: int = Field(0, description="申请延期的工作日数（合计不超过 10）", ge=0, le=60)
    reason: Text300 = ""


class ExtensionDecisionIn(Schema):
    approve: bool | None = Field(None, description="必填：true 批准、false 不批准")
    note: Text300 = ""


class ResultIn(Schema):
    result: Text2000 = Field("", description="办理结果")


class FollowUpIn(Schema):
    satisfied: bool | None = Field(
        None, description="必填：true 满意（办结）、false 不满意（退回重办）"
    )
    rating: int | None = Field(None, ge=0, le=100, description="满意度 1–5")
    comment: Text300 = Field("", description="评价；不满意时必填原因")
    on_behalf: bool = Field(False, description="工作人员代为记录居民的回访意见（电话回访）")


class LinkIn(Schema):
    original: ObjectId | Text20 | None = Field(
        None, description="必填：原工单的 id 或编号（如 GD2026000001）"
    )
    note: Text300 = ""


class RevealOut(Schema):
    contact_phone: str = Field(description="完整联系电话")


class PhotoPublishIn(Schema):
    public: bool | None = Field(None, description="必填：true 公开、false 撤下")


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def api_fields() -> Iterator[None]:
    """Inside the block, a service's field names (``matter_type``) become the API's input
    names (``matter_type_id``)."""
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {SERVICE_FIELDS.get(name, name): errors for name, errors in exc.error_dict.items()}
        ) from exc


def _required(value: object, field: str, message: str) -> None:
    """A body field every caller must send, checked once the ticket is known to be theirs
    (so a stranger's empty body still gets 404)."""
    if value is None:
        raise ValidationError({field: [message]})


def _access(request: HttpRequest, ticket_id: int) -> TicketAccess:
    return selectors.ticket_access(user=request.user, scope=request.scope, ticket_id=ticket_id)


def _detail(request: HttpRequest, ticket_id: int, acted: bool = False) -> Ticket:
    """The ticket as the caller now sees it: what they are to it, its history and photos.

    After a step the caller took (``acted``) the ticket is shown even if the step took it out
    of their sight (a team that returned it, a receiver who closed it): they have just seen
    it, and the answer says what became of it."""
    if acted:
        ticket = selectors.ticket_base().get(pk=ticket_id)
        access = selectors.access_for(user=request.user, scope=request.scope, ticket=ticket)
    else:
        access = _access(request, ticket_id)
    ticket = access.ticket
    ticket._api_access = access  # type: ignore[attr-defined]
    events = TicketEvent.objects.filter(ticket=ticket)
    if not access.is_staff:
        events = events.filter(is_public=True)
    ticket.events_out = list(events)  # type: ignore[attr-defined]
    ticket.photos_out = list(TicketPhoto.objects.filter(ticket=ticket))  # type: ignore[attr-defined]
    return ticket


def _reporter_id(request: HttpRequest, reporter_id: int | None) -> int | None:
    """A resident named in the body must be one the caller may see: otherwise a 422 on
    ``reporter_id``, the same for missing and not yours."""
    if reporter_id is None:
        return None
    with missing_as_invalid("reporter_id", _("居民不存在或不在您的管理范围内")):
        return person_get(scope=request.scope, person_id=reporter_id).pk


def _team(team_id: int | None) -> Org | None:
    if team_id is None:
        return None
    team = Org.objects.filter(pk=team_id, is_active=True).first()
    if team is None:
        raise ValidationError({"team_id": [_("承办队伍须属于本社区。")]})
    return team


def _original(request: HttpRequest, value: int | str) -> Ticket:
    """The ticket named by id or number, if the caller may see it (else 422 on ``original``)."""
    with missing_as_invalid("original", _("原工单不存在或无权查看。")):
        if isinstance(value, int):
            ticket_id = value
        else:
            ticket_id = (
                Ticket.objects.filter(number=value.strip().upper())
                .values_list("pk", flat=True)
                .first()
            )
            if ticket_id is None:
                raise Http404
        return _access(request, ticket_id).ticket


def _with_photos(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    public = TicketPhoto.objects.filter(is_public=True).order_by("created_at", "id")
    return tickets.prefetch_related(Prefetch("photos", queryset=public, to_attr="public_photos"))


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


# --- lists --------------------------------------------------------------------------------
# Literal paths (/tickets/overdue, /tickets/mine) come before /tickets/{ticket_id}.


@router.get("/tickets", response={200: list[TicketOut], **ERRORS}, summary="工单列表（工作人员）")
@paginate(Pagination)
def list_tickets(request: HttpRequest, filters: Query[TicketFilterQuery]) -> Any:
    return selectors.ticket_list(
        scope=request.scope,
        user=request.user,
        status=filters.status or "",
        channel=filters.channel or "",
        matter_type_id=filters.matter_type_id,
        grid_id=filters.grid_id,
        overdue_on=_today() if filters.overdue else None,
        mine=filters.mine,
        team_only=filters.team,
        query=filters.q.strip(),
    )


@router.get(
    "/tickets/overdue",
    response={200: list[TicketOut], **ERRORS},
    summary="超期工单（督办：督办级别高的、期限早的在前）",
)
@paginate(Pagination)
def list_overdue(request: HttpRequest) -> Any:
    return selectors.overdue_list(scope=request.scope, today=_today())


@router.get(
    "/tickets/mine",
    response={200: list[TicketOut], **ERRORS},
    summary="我反映的事项（居民）",
)
@paginate(Pagination)
def list_mine(request: HttpRequest) -> Any:
    return selectors.my_tickets(user=request.user)


@router.get(
    "/public/reports",
    response={200: list[PublicReportOut], 422: ValidationErrorOut},
    auth=None,
    summary="公示栏：公开事项的办理情况（无需登录，不含反映人）",
)
@paginate(Pagination)
def public_reports(request: HttpRequest, filters: Query[PublicFilterQuery]) -> Any:
    org = None
    if filters.org_id is not None:
        org = Org.objects.filter(pk=filters.org_id, is_active=True).first()
        if org is None:
            raise ValidationError({"org_id": _("组织不存在。")})
    tickets = selectors.public_tickets(org=org)
    if filters.status == "open":
        tickets = tickets.exclude(status=TicketStatus.CLOSED)
    elif filters.status == "closed":
        tickets = tickets.filter(status=TicketStatus.CLOSED)
    return _with_photos(tickets)


# --- one ticket ---------------------------------------------------------------------------


@router.post(
    "/tickets",
    response={201: TicketDetailOut, **CREATE_ERRORS},
    summary="登记事项（居民反映；工作人员登记来访、来电或代登记）",
)
def create_ticket(request: HttpRequest, payload: TicketIn) -> Any:
    data = services.TicketInput(
        matter_type_id=payload.matter_type_id,
        description=payload.description,
        channel=payload.channel,
        title=payload.title,
        org_id=payload.org_id,
        grid_id=payload.grid_id,
        address=payload.address,
        latitude=payload.latitude,
        longitude=payload.longitude,
        reporter_id=_reporter_id(request, payload.reporter_id),
        contact_name=payload.contact_name,
        contact_phone=payload.contact_phone,
        reporter_public=payload.reporter_public,
    )
    with api_fields():
        ticket = services.ticket_create(
            actor=request.user,
            scope=request.scope,
            data=data,
            client_address=_client_address(request),
        )
    return Status(201, _detail(request, ticket.pk, acted=True))


@router.get("/tickets/{ticket_id}", response={200: TicketDetailOut, **ERRORS}, summary="工单详情")
def get_ticket(request: HttpRequest, ticket_id: ObjectId) -> Any:
    return _detail(request, ticket_id)


@router.get(
    "/tickets/{ticket_id}/similar",
    response={200: list[TicketOut], **ERRORS},
    summary="可能重复的工单（同一事项、同一网格、30 天内未办结的；供并案）",
)
def similar_tickets(request: HttpRequest, ticket_id: ObjectId) -> Any:
    access = _access(request, ticket_id)
    if not access.may_manage:
        raise PermissionDenied(_("没有并案的权限。"))
    return selectors.similar_open_tickets(access.ticket)


@router.post(
    "/tickets/{ticket_id}/reveal",
    response={200: RevealOut, **ERRORS},
    summary="查看完整联系电话（记入操作记录）",
)
def reveal_contact(request: HttpRequest, response: HttpResponse, ticket_id: ObjectId) -> Any:
    access = _access(request, ticket_id)
    response["Cache-Control"] = "no-store"
    phone = services.ticket_contact_reveal(actor=request.user, scope=request.scope, access=access)
    return {"contact_phone": phone}


@router.post(
    "/tickets/{ticket_id}/accept",
    response={200: TicketDetailOut, **ERRORS},
    summary="受理（成为首问负责人，开始计时）",
)
def accept_ticket(request: HttpRequest, ticket_id: ObjectId, payload: NoteIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_accept(actor=request.user, access=access, note=payload.note)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/answer",
    response={200: TicketDetailOut, **ERRORS},
    summary="当场答复并办结",
)
def answer_ticket(request: HttpRequest, ticket_id: ObjectId, payload: AnswerIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_answer(actor=request.user, access=access, answer=payload.answer)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/assign",
    response={200: TicketDetailOut, **ERRORS},
    summary="派单给本社区的承办队伍",
)
def assign_ticket(request: HttpRequest, ticket_id: ObjectId, payload: AssignIn) -> Any:
    access = _access(request, ticket_id)
    team = _team(payload.team_id)
    with api_fields():
        services.ticket_assign(actor=request.user, access=access, team=team, note=payload.note)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/acknowledge",
    response={200: TicketDetailOut, **ERRORS},
    summary="签收（承办队伍）",
)
def acknowledge_ticket(request: HttpRequest, ticket_id: ObjectId) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_acknowledge(actor=request.user, access=access)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/return",
    response={200: TicketDetailOut, **ERRORS},
    summary="回退（承办队伍，派单后 2 个工作日内，须说明理由）",
)
def return_ticket(request: HttpRequest, ticket_id: ObjectId, payload: ReasonIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_return(actor=request.user, access=access, reason=payload.reason)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/notes",
    response={200: TicketDetailOut, **ERRORS},
    summary="填写办理进展（公开的进展即 Open311 status_notes）",
)
def note_ticket(request: HttpRequest, ticket_id: ObjectId, payload: ProgressIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_note(
            actor=request.user, access=access, note=payload.note, public=payload.public
        )
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/extension",
    response={200: TicketDetailOut, **ERRORS},
    summary="申请延期（承办队伍）",
)
def request_extension(request: HttpRequest, ticket_id: ObjectId, payload: ExtensionIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_extension_request(
            actor=request.user, access=access, days=payload.days, reason=payload.reason
        )
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/extension/decide",
    response={200: TicketDetailOut, **ERRORS},
    summary="审批延期（首问负责人或工作人员）",
)
def decide_extension(
    request: HttpRequest, ticket_id: ObjectId, payload: ExtensionDecisionIn
) -> Any:
    access = _access(request, ticket_id)
    _required(payload.approve, "approve", _("请选择批准或不批准。"))
    with api_fields():
        services.ticket_extension_decide(
            actor=request.user, access=access, approve=bool(payload.approve), note=payload.note
        )
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/resolve",
    response={200: TicketDetailOut, **ERRORS},
    summary="反馈办理结果（承办队伍）",
)
def resolve_ticket(request: HttpRequest, ticket_id: ObjectId, payload: ResultIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_resolve(actor=request.user, access=access, result=payload.result)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/follow-up",
    response={200: TicketDetailOut, **ERRORS},
    summary="回访评价：满意则办结，不满意则退回重办",
)
def follow_up_ticket(request: HttpRequest, ticket_id: ObjectId, payload: FollowUpIn) -> Any:
    access = _access(request, ticket_id)
    _required(payload.satisfied, "satisfied", _("请选择满意或不满意。"))
    data = services.FollowUp(
        satisfied=bool(payload.satisfied),
        rating=payload.rating,
        comment=payload.comment,
        on_behalf=payload.on_behalf,
    )
    with api_fields():
        services.ticket_follow_up(actor=request.user, access=access, data=data)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/close",
    response={200: TicketDetailOut, **ERRORS},
    summary="未能回访时办结（须说明原因）",
)
def close_ticket(request: HttpRequest, ticket_id: ObjectId, payload: NoteIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_close_unrated(actor=request.user, access=access, note=payload.note)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/link",
    response={200: TicketDetailOut, **ERRORS},
    summary="重复反映，并入原工单并办结",
)
def link_ticket(request: HttpRequest, ticket_id: ObjectId, payload: LinkIn) -> Any:
    access = _access(request, ticket_id)
    _required(payload.original, "original", _("请填写原工单的 id 或编号。"))
    original = _original(request, payload.original)  # type: ignore[arg-type]
    with api_fields():
        services.ticket_link(
            actor=request.user, access=access, original=original, note=payload.note
        )
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/withdraw",
    response={200: TicketDetailOut, **ERRORS},
    summary="撤回（反映人，派单之前）",
)
def withdraw_ticket(request: HttpRequest, ticket_id: ObjectId, payload: ReasonIn) -> Any:
    access = _access(request, ticket_id)
    with api_fields():
        services.ticket_withdraw(actor=request.user, access=access, reason=payload.reason)
    return _detail(request, ticket_id, acted=True)


@router.post(
    "/tickets/{ticket_id}/photos/{photo_id}/publish",
    response={200: TicketDetailOut, **ERRORS},
    summary="审核反映照片：公开或撤下（无人脸、车牌后再公开）",
)
def publish_photo(
    request: HttpRequest, ticket_id: ObjectId, photo_id: ObjectId, payload: PhotoPublishIn
) -> Any:
    access = _access(request, ticket_id)
    photo = TicketPhoto.objects.filter(pk=photo_id, ticket_id=access.ticket.pk).first()
    if photo is None:
        raise Http404
    _required(payload.public, "public", _("请选择公开或撤下。"))
    with api_fields():
        services.photo_publish(
            actor=request.user, access=access, photo=photo, public=bool(payload.public)
        )
    return _detail(request, ticket_id, acted=True)
