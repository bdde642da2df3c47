"""Notice boards, suggestions, public contacts and the public page of a community over the API
(mounted under ``/desk``).

Who sees what — the same rules as the pages (``desk.board_selectors``):

* a notice answers 404 ``未找到`` to anyone who is not staff over its community, not the
  account that submitted it, and — unless it is published — everyone else; who submitted it,
  who moderated it and the volunteer's consent record only to staff;
* a suggestion: staff over its community and its author; the author's name only to them;
* contacts: workers with ``desk.manage`` over the community;
* ``GET /desk/public/communities/{org_id}`` needs no login: published notices, public
  suggestions with replies (an author who chose so appears masked, ``张**``), the phones and
  contacts, and the year's civic report counts — never a submitter's name;
* a step the caller may not take is 403 with the service's message, a rule refused is 422
  naming the field, a flood of posts is 429.

Every write goes through ``desk.board_services``; reads through ``desk.board_selectors``.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.helpers import user_name
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    ObjectId,
    Text30,
    Text50,
    Text100,
    Text200,
    Text2000,
    ValidationErrorOut,
    text,
)
from huzhu.common.identity import mask_name
from huzhu.desk import board_selectors as selectors
from huzhu.desk import board_services as services
from huzhu.desk.models import (
    Notice,
    NoticeKind,
    NoticeStatus,
    PublicContact,
    Suggestion,
    SuggestionStatus,
)
from huzhu.orgs.roles import Perm

router = Router(tags=["desk"])

Text60 = text(60)
Text3000 = text(3000)

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
CREATE_ERRORS = {**ERRORS, 429: ErrorOut}
# Services name model fields; the API's inputs name ids ("org" → "org_id" is global).
SERVICE_FIELDS = {"volunteer": "volunteer_id"}
ReplyStatus = Literal["replied", "adopted", "partly", "not_adopted"]


@contextmanager
def api_fields() -> Iterator[None]:
    """Inside the block, a service's field names become the API's input names."""
    try:
        yield
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise ValidationError(
            {SERVICE_FIELDS.get(name, name): errors for name, errors in exc.error_dict.items()}
        ) from exc


def _request(context: Any) -> HttpRequest:
    return context["request"]


def _is_staff(org: Any, context: Any) -> bool:
    return _request(context).scope.can(Perm.VIEW, org)  # type: ignore[attr-defined]


def _user_id(context: Any) -> int | None:
    user = _request(context).user
    return user.pk if user.is_authenticated else None


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


# --- output -------------------------------------------------------------------------------


class NoticeOut(Schema):
    id: int
    org_id: int
    org_name: str
    kind: str
    kind_label: str
    title: str
    body: str
    place: str
    status: str
    status_label: str
    volunteer_id: int | None
    volunteer_name: str | None = Field(description="典型事迹署名的志愿者（已取得本人同意）")
    consent_at: dt.datetime | None = Field(description="同意署名时间（仅工作人员）")
    consent_note: str | None = Field(description="同意方式（仅工作人员）")
    mine: bool = Field(description="我投的稿")
    submitted_by: str | None = Field(description="投稿账号（仅工作人员）")
    moderated_by: str | None = Field(description="审核人（仅工作人员）")
    moderated_at: dt.datetime | None
    moderation_note: str | None = Field(description="审核意见（工作人员和投稿人）")
    published_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_org_name(obj: Notice) -> str:
        return obj.org.name

    @staticmethod
    def resolve_kind_label(obj: Notice) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj: Notice) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_volunteer_name(obj: Notice) -> str | None:
        return obj.volunteer.person.name if obj.volunteer_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_consent_at(obj: Notice, context: Any) -> dt.datetime | None:
        return obj.consent_at if _is_staff(obj.org, context) else None

    @staticmethod
    def resolve_consent_note(obj: Notice, context: Any) -> str | None:
        return obj.consent_note if _is_staff(obj.org, context) else None

    @staticmethod
    def resolve_mine(obj: Notice, context: Any) -> bool:
        return obj.submitted_by_id is not None and obj.submitted_by_id == _user_id(context)

    @staticmethod
    def resolve_submitted_by(obj: Notice, context: Any) -> str | None:
        return user_name(obj.submitted_by) if _is_staff(obj.org, context) else None

    @staticmethod
    def resolve_moderated_by(obj: Notice, context: Any) -> str | None:
        return user_name(obj.moderated_by) if _is_staff(obj.org, context) else None

    @staticmethod
    def resolve_moderation_note(obj: Notice, context: Any) -> str | None:
        mine = obj.submitted_by_id is not None and obj.submitted_by_id == _user_id(context)
        return obj.moderation_note if mine or _is_staff(obj.org, context) else None


class SuggestionOut(Schema):
    id: int
    number: str
    org_id: int
    org_name: str
    title: str
    body: str
    status: str
    status_label: str
    is_public: bool = Field(description="建议人同意公开建议和答复")
    author_public: bool = Field(description="公开时显示建议人脱敏姓名")
    author_name: str | None = Field(description="建议人（工作人员和本人）")
    mine: bool
    reply: str
    replied_by: str | None = Field(description="答复人（仅工作人员）")
    replied_at: dt.datetime | None
    created_at: dt.datetime

    @staticmethod
    def resolve_org_name(obj: Suggestion) -> str:
        return obj.org.name

    @staticmethod
    def resolve_status_label(obj: Suggestion) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_mine(obj: Suggestion, context: Any) -> bool:
        return obj.submitted_by_id is not None and obj.submitted_by_id == _user_id(context)

    @staticmethod
    def resolve_author_name(obj: Suggestion, context: Any) -> str | None:
        if obj.author_id is None:
            return None
        mine = obj.submitted_by_id is not None and obj.submitted_by_id == _user_id(context)
        return obj.author.name if mine or _is_staff(obj.org, context) else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_replied_by(obj: Suggestion, context: Any) -> str | None:
        return user_name(obj.replied_by) if _is_staff(obj.org, context) else None


class ContactOut(Schema):
    id: int
    org_id: int
    org_name: str
    role: str
    name: str
    phone: str
    sort_order: int

    @staticmethod
    def resolve_org_name(obj: PublicContact) -> str:
        return obj.org.name


class CommunityPhonesOut(Schema):
    id: int
    name: str
    service_phone: str
    supervision_phone: str


class PublicContactOut(Schema):
    org_name: str
    role: str
    name: str
    phone: str

    @staticmethod
    def resolve_org_name(obj: PublicContact) -> str:
        return obj.org.name


class PublicNoticeOut(Schema):
    id: int
    title: str
    body: str
    place: str
    volunteer_name: str | None = Field(description="典型事迹署名的志愿者（已取得本人同意）")
    published_at: dt.datetime | None

    @staticmethod
    def resolve_volunteer_name(obj: Notice) -> str | None:
        return obj.volunteer.person.name if obj.volunteer_id else None  # type: ignore[union-attr]


class PublicColumnOut(Schema):
    kind: str
    label: str
    notices: list[PublicNoticeOut] = Field(description="最近发布的 10 条")


class PublicSuggestionOut(Schema):
    number: str
    title: str
    body: str
    status: str
    status_label: str
    reply: str
    replied_at: dt.datetime | None
    author_name: str | None = Field(description="建议人同意时为脱敏姓名（张**），否则为 null")

    @staticmethod
    def resolve_status_label(obj: Suggestion) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_author_name(obj: Suggestion) -> str | None:
        if not obj.author_public or obj.author_id is None:
            return None
        return mask_name(obj.author.name)  # type: ignore[union-attr]


class PublicCommunityOut(Schema):
    id: int
    name: str
    service_phone: str
    supervision_phone: str
    contacts: list[PublicContactOut] = Field(description="社区和各网格公开的联系人")
    columns: list[PublicColumnOut] = Field(description="公示栏各栏目")
    suggestions: list[PublicSuggestionOut] = Field(description="公开的建议及答复")
    year: int
    reports_this_year: int = Field(description="本年文明评议反映件数（不含并案）")
    reports_closed: int = Field(description="其中已办结")
    reports_url: str = Field(description="本社区文明评议办理公示的网页")


# --- input --------------------------------------------------------------------------------


class NoticeFilterQuery(Schema):
    mine: bool = Field(False, description="true：我投的稿")
    kind: NoticeKind | None = Field(None, description="栏目")
    status: NoticeStatus | None = Field(None, description="状态")
    org_id: ObjectId | None = Field(None, description="社区 id")


class NoticeIn(Schema):
    kind: NoticeKind = Field(
        description="good_deed 好人好事、uncivil 不文明行为（居民可投）；"
        "exemplary 典型事迹、notice 社区公告（工作人员）"
    )
    title: Text60
    body: Text3000
    place: Text100 = Field("", description="地点（不文明行为必填）")
    org_id: ObjectId | None = Field(None, description="社区 id（居民不填：本人所在社区）")
    volunteer_id: ObjectId | None = Field(None, description="典型事迹署名的志愿者 id")
    consent_note: Text100 = Field("", description="志愿者同意署名的方式，如“本人书面同意”")
    consent_at: dt.datetime | None = Field(None, description="同意时间（默认现在）")


# Bodies of routes on one object have no required fields, so that a caller who may not see
# the object gets the same 404 as for a missing id before the body is judged.
class ModerateIn(Schema):
    action: Literal["publish", "reject"] | None = Field(
        None, description="publish 发布、reject 不予发布（必填）"
    )
    note: Text200 = Field("", description="审核意见（不予发布时必填）")


class NoteIn(Schema):
    note: Text200 = ""


class SuggestionFilterQuery(Schema):
    mine: bool = Field(False, description="true：我的建议")
    status: SuggestionStatus | None = None
    org_id: ObjectId | None = Field(None, description="社区 id")
    q: Text50 = Field("", description="编号、标题或内容包含")


class SuggestionIn(Schema):
    title: Text60
    body: Text3000
    is_public: bool = Field(False, description="同意公开建议和答复")
    author_public: bool = Field(False, description="公开时显示脱敏姓名")


class ReplyIn(Schema):
    status: ReplyStatus | None = Field(
        None, description="replied 已答复、adopted 已采纳、partly 部分采纳、not_adopted 暂不采纳"
    )
    reply: Text2000 = Field("", description="答复内容（必填）")


class ContactFilterQuery(Schema):
    org_id: ObjectId | None = Field(None, description="社区 id（含其网格）")


class ContactIn(Schema):
    org_id: ObjectId = Field(description="社区或网格 id")
    role: Text30 = "网格员"
    name: Text30
    phone: Text30
    sort_order: int = Field(0, ge=-1000, le=1000)


class PhonesIn(Schema):
    service_phone: Text30 = ""
    supervision_phone: Text30 = ""


# --- notices ------------------------------------------------------------------------------


def _notice(request: HttpRequest, notice_id: int) -> selectors.NoticeAccess:
    return selectors.notice_access(user=request.user, scope=request.scope, notice_id=notice_id)


def _notice_out(notice_id: int) -> Notice:
    return selectors.notice_base().get(pk=notice_id)


@router.get("/notices", response={200: list[NoticeOut], **ERRORS}, summary="公示栏内容列表")
@paginate(Pagination)
def list_notices(request: HttpRequest, filters: Query[NoticeFilterQuery]) -> Any:
    if filters.mine:
        notices = selectors.my_notices(user=request.user)
        if filters.kind:
            notices = notices.filter(kind=filters.kind)
        if filters.status:
            notices = notices.filter(status=filters.status)
        return notices
    return selectors.notice_list(
        scope=request.scope,
        kind=filters.kind or "",
        status=filters.status or "",
        org_id=filters.org_id,
    )


@router.post(
    "/notices",
    response={201: NoticeOut, **CREATE_ERRORS},
    summary="投稿（居民：好人好事、不文明行为；工作人员：全部栏目），待审核",
)
def create_notice(request: HttpRequest, payload: NoticeIn) -> Any:
    data = services.NoticeInput(
        kind=payload.kind,
        title=payload.title,
        body=payload.body,
        place=payload.place,
        org_id=payload.org_id,
        volunteer_id=payload.volunteer_id,
        consent_note=payload.consent_note,
        consent_at=payload.consent_at,
    )
    with api_fields():
        notice = services.notice_submit(actor=request.user, scope=request.scope, data=data)
    return Status(201, _notice_out(notice.pk))


@router.get("/notices/{notice_id}", response={200: NoticeOut, **ERRORS}, summary="公示内容详情")
def get_notice(request: HttpRequest, notice_id: ObjectId) -> Any:
    return _notice(request, notice_id).notice


@router.post(
    "/notices/{notice_id}/moderate",
    response={200: NoticeOut, **ERRORS},
    summary="审核：发布或不予发布（工作人员）",
)
def moderate_notice(request: HttpRequest, notice_id: ObjectId, payload: ModerateIn) -> Any:
    access = _notice(request, notice_id)
    if payload.action is None:
        raise ValidationError({"action": _("此项为必填项")})
    services.notice_moderate(
        actor=request.user,
        scope=request.scope,
        notice=access.notice,
        publish=payload.action == "publish",
        note=payload.note,
    )
    return _notice_out(notice_id)


@router.post(
    "/notices/{notice_id}/withdraw",
    response={200: NoticeOut, **ERRORS},
    summary="从公示栏撤下（工作人员）",
)
def withdraw_notice(request: HttpRequest, notice_id: ObjectId, payload: NoteIn) -> Any:
    access = _notice(request, notice_id)
    services.notice_withdraw(
        actor=request.user, scope=request.scope, notice=access.notice, note=payload.note
    )
    return _notice_out(notice_id)


# --- suggestions --------------------------------------------------------------------------


def _suggestion(request: HttpRequest, suggestion_id: int) -> selectors.SuggestionAccess:
    return selectors.suggestion_access(
        user=request.user, scope=request.scope, suggestion_id=suggestion_id
    )


def _suggestion_out(suggestion_id: int) -> Suggestion:
    return selectors.suggestion_base().get(pk=suggestion_id)


@router.get(
    "/suggestions",
    response={200: list[SuggestionOut], **ERRORS},
    summary="建议列表（工作人员；mine=true：我的建议）",
)
@paginate(Pagination)
def list_suggestions(request: HttpRequest, filters: Query[SuggestionFilterQuery]) -> Any:
    if filters.mine:
        suggestions = selectors.my_suggestions(user=request.user)
        return suggestions.filter(status=filters.status) if filters.status else suggestions
    return selectors.suggestion_list(
        scope=request.scope,
        status=filters.status or "",
        org_id=filters.org_id,
        query=filters.q.strip(),
    )


@router.post(
    "/suggestions",
    response={201: SuggestionOut, **CREATE_ERRORS},
    summary="献良策（登记的居民）",
)
def create_suggestion(request: HttpRequest, payload: SuggestionIn) -> Any:
    data = services.SuggestionInput(
        title=payload.title,
        body=payload.body,
        is_public=payload.is_public,
        author_public=payload.author_public,
    )
    suggestion = services.suggestion_submit(
        actor=request.user, data=data, client_address=_client_address(request)
    )
    return Status(201, _suggestion_out(suggestion.pk))


@router.get(
    "/suggestions/{suggestion_id}", response={200: SuggestionOut, **ERRORS}, summary="建议详情"
)
def get_suggestion(request: HttpRequest, suggestion_id: ObjectId) -> Any:
    return _suggestion(request, suggestion_id).suggestion


@router.post(
    "/suggestions/{suggestion_id}/reply",
    response={200: SuggestionOut, **ERRORS},
    summary="答复建议（工作人员）",
)
def reply_suggestion(request: HttpRequest, suggestion_id: ObjectId, payload: ReplyIn) -> Any:
    access = _suggestion(request, suggestion_id)
    services.suggestion_reply(
        actor=request.user,
        scope=request.scope,
        suggestion=access.suggestion,
        status=payload.status or "",
        reply=payload.reply,
    )
    return _suggestion_out(suggestion_id)


# --- contacts and phones ------------------------------------------------------------------


@router.get(
    "/contacts", response={200: list[ContactOut], **ERRORS}, summary="公开联系人（工作人员）"
)
@paginate(Pagination)
def list_contacts(request: HttpRequest, filters: Query[ContactFilterQuery]) -> Any:
    community = None
    if filters.org_id is not None:
        community = selectors.community_get(
            scope=request.scope, org_id=filters.org_id, perm=Perm.DESK_MANAGE
        )
    return selectors.contact_list(scope=request.scope, community=community)


@router.post(
    "/contacts", response={201: ContactOut, **ERRORS}, summary="添加公开联系人（工作人员）"
)
def create_contact(request: HttpRequest, payload: ContactIn) -> Any:
    data = services.ContactInput(
        org_id=payload.org_id,
        role=payload.role,
        name=payload.name,
        phone=payload.phone,
        sort_order=payload.sort_order,
    )
    contact = services.contact_add(actor=request.user, scope=request.scope, data=data)
    return Status(201, contact)


@router.delete(
    "/contacts/{contact_id}",
    response={204: None, **ERRORS},
    summary="删除公开联系人（工作人员）",
)
def delete_contact(request: HttpRequest, contact_id: ObjectId) -> Any:
    contact = selectors.contact_get(scope=request.scope, contact_id=contact_id)
    services.contact_delete(actor=request.user, scope=request.scope, contact=contact)
    return Status(204, None)


@router.post(
    "/communities/{org_id}/phones",
    response={200: CommunityPhonesOut, **ERRORS},
    summary="设置社区服务电话和监督电话（工作人员）",
)
def set_phones(request: HttpRequest, org_id: ObjectId, payload: PhonesIn) -> Any:
    org = selectors.community_get(scope=request.scope, org_id=org_id)
    return services.community_phones_set(
        actor=request.user,
        scope=request.scope,
        org=org,
        service_phone=payload.service_phone,
        supervision_phone=payload.supervision_phone,
    )


# --- the public page ----------------------------------------------------------------------


@router.get(
    "/public/communities/{org_id}",
    response={200: PublicCommunityOut, 404: ErrorOut, 422: ValidationErrorOut},
    auth=None,
    summary="社区公开信息：电话、联系人、公示栏、公开建议、文明评议办理情况（无需登录）",
)
def public_community(request: HttpRequest, org_id: ObjectId) -> Any:
    page = selectors.public_community(org_id=org_id)
    org = page.org
    return {
        "id": org.pk,
        "name": org.name,
        "service_phone": org.service_phone,
        "supervision_phone": org.supervision_phone,
        "contacts": page.contacts,
        "columns": [{"kind": c.kind, "label": c.label, "notices": c.notices} for c in page.columns],
        "suggestions": page.suggestions,
        "year": page.year,
        "reports_this_year": page.reports_this_year,
        "reports_closed": page.reports_closed,
        "reports_url": f"{reverse('desk:public_reports')}?org={org.pk}",
    }
