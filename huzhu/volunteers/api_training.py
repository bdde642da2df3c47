"""Service teams, training and qualifications over the API.

Mounted under ``/volunteers``: ``/teams…``, ``/training/…`` and
``/{volunteer_id}/qualifications``. Handlers parse input, call one selector or service and
return schemas; the rules live in ``volunteers.services`` (teams) and
``volunteers.training_services`` (training, qualifications). A team, course, session,
membership or volunteer outside the caller's scope answers 404 ``未找到``, exactly like a
missing one; an id in a request body that the caller cannot see is a 422 on that field.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    ErrorOut,
    ObjectId,
    Text20,
    Text50,
    Text100,
    Text200,
    Text2000,
    ValidationErrorOut,
    text,
)
from huzhu.orgs.models import Org
from huzhu.orgs.selectors import org_get
from huzhu.volunteers import services as team_services
from huzhu.volunteers import team_selectors as selectors
from huzhu.volunteers import training_services
from huzhu.volunteers.models import (
    Course,
    Qualification,
    QualificationType,
    ServiceCategory,
    TeamMembership,
    TeamRole,
    TrainingAttendance,
    TrainingSession,
)
from huzhu.volunteers.selectors import volunteer_get

router = Router(tags=["服务队与培训"])

Text60 = text(60)

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}
MAX_SHEET_ROWS = 2000

# Services name model fields; the API's inputs name ids.
_ALIASES = {
    "volunteer": "volunteer_id",
    "kind": "kind_id",
    "course": "course_id",
    "category": "category_id",
    "grants_qualification": "grants_qualification_id",
    "membership": "membership_id",
    "team": "team_id",
}


def _renamed(exc: ValidationError) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError({_ALIASES.get(k, k): v for k, v in exc.message_dict.items()})


class _Aliased:
    """``with _Aliased():`` — re-raise a service's ValidationError with the API's names."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if isinstance(exc, ValidationError):
            raise _renamed(exc) from exc
        return False


# --- output -------------------------------------------------------------------------------


class _MembershipOut(Schema):
    """What every view of a team membership shows about the member."""

    volunteer_id: int
    name: str
    role: str
    role_label: str

    @staticmethod
    def resolve_name(obj: TeamMembership) -> str:
        return obj.volunteer.person.name

    @staticmethod
    def resolve_role_label(obj: TeamMembership) -> str:
        return str(obj.get_role_display())


class TeamLeaderOut(_MembershipOut):
    membership_id: int

    @staticmethod
    def resolve_membership_id(obj: TeamMembership) -> int:
        return obj.pk


class ServiceTeamOut(Schema):
    id: int
    name: str
    is_active: bool
    corps_id: int | None
    corps_name: str
    community_id: int | None
    community_name: str
    category_id: int | None
    category_name: str
    description: str
    member_count: int
    leaders: list[TeamLeaderOut]

    @staticmethod
    def resolve_corps_id(obj: Org) -> int | None:
        return obj.parent_id

    @staticmethod
    def resolve_corps_name(obj: Org) -> str:
        return obj.parent.name if obj.parent else ""

    @staticmethod
    def resolve_community_id(obj: Org) -> int | None:
        return obj.parent.parent_id if obj.parent else None

    @staticmethod
    def resolve_community_name(obj: Org) -> str:
        return obj.parent.parent.name if obj.parent and obj.parent.parent else ""

    @staticmethod
    def resolve_category_id(obj: Org) -> int | None:
        profile = getattr(obj, "team_profile", None)
        return profile.category_id if profile else None

    @staticmethod
    def resolve_category_name(obj: Org) -> str:
        profile = getattr(obj, "team_profile", None)
        return profile.category.name if profile and profile.category else ""

    @staticmethod
    def resolve_description(obj: Org) -> str:
        profile = getattr(obj, "team_profile", None)
        return profile.description if profile else ""


class TeamMemberOut(_MembershipOut):
    id: int
    team_id: int
    volunteer_number: str
    joined_on: dt.date
    left_on: dt.date | None

    @staticmethod
    def resolve_volunteer_number(obj: TeamMembership) -> str:
        return obj.volunteer.number


class CourseOut(Schema):
    id: int
    org_id: int
    org_name: str
    name: str
    category_id: int | None
    category_name: str
    minutes: int
    grants_qualification_id: int | None
    grants_qualification_name: str
    description: str
    is_active: bool

    @staticmethod
    def resolve_org_name(obj: Course) -> str:
        return obj.org.name

    @staticmethod
    def resolve_category_name(obj: Course) -> str:
        return obj.category.name if obj.category else ""

    @staticmethod
    def resolve_grants_qualification_name(obj: Course) -> str:
        return obj.grants_qualification.name if obj.grants_qualification else ""


class TrainingSessionOut(Schema):
    id: int
    course_id: int
    course_name: str
    org_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    trainer: str

    @staticmethod
    def resolve_course_name(obj: TrainingSession) -> str:
        return obj.course.name

    @staticmethod
    def resolve_org_id(obj: TrainingSession) -> int:
        return obj.course.org_id


class AttendanceOut(Schema):
    volunteer_id: int
    volunteer_number: str
    name: str
    attended: bool
    passed: bool
    minutes: int

    @staticmethod
    def resolve_volunteer_number(obj: TrainingAttendance) -> str:
        return obj.volunteer.number

    @staticmethod
    def resolve_name(obj: TrainingAttendance) -> str:
        return obj.volunteer.person.name


class AttendanceResultOut(Schema):
    created: int
    updated: int
    unchanged: int
    qualifications_created: list[int]
    qualifications_renewed: list[int]


class VolunteerQualificationOut(Schema):
    id: int
    volunteer_id: int
    kind_id: int
    kind_name: str
    certificate_no: str
    issuer: str
    issued_on: dt.date
    expires_on: dt.date | None
    reminded_on: dt.date | None

    @staticmethod
    def resolve_kind_name(obj: Qualification) -> str:
        return obj.kind.name


# --- input --------------------------------------------------------------------------------


class ServiceTeamFilters(Schema):
    q: Text50 = Field("", description="服务队名称包含")
    corps_id: ObjectId | None = Field(None, description="只列出此志愿者总队下的服务队")


class TeamMemberIn(Schema):
    volunteer_id: ObjectId | None = Field(None, description="必填")
    role: TeamRole = Field(TeamRole.MEMBER, description="member / deputy / leader")
    number: Text20 = Field(
        "", description="志愿者编号；服务队长凭志愿者提供的完整编号添加本社区的志愿者时必填"
    )


class TeamMemberPatch(Schema):
    role: TeamRole | None = Field(None, description="必填：member / deputy / leader")


class MemberFilters(Schema):
    include_past: bool = Field(False, description="同时列出已退出的队员")


class CourseFilters(Schema):
    q: Text50 = Field("", description="课程名称包含")
    org_id: ObjectId | None = Field(None, description="只列出此组织（含下级）的课程")


class CourseIn(Schema):
    org_id: ObjectId = Field(description="主办组织：社区、志愿者总队或服务队")
    name: Text100
    minutes: int = Field(120, ge=0, le=2**31 - 1, description="学时（分钟）")
    category_id: ObjectId | None = None
    grants_qualification_id: ObjectId | None = Field(
        None, description="考核合格后取得的资格证书类型"
    )
    description: Text2000 = ""


class SessionFilters(Schema):
    course_id: ObjectId | None = None
    upcoming: bool = Field(False, description="只列出尚未结束的场次（按开始时间升序）")


class TrainingSessionIn(Schema):
    course_id: ObjectId
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: Text200 = ""
    trainer: Text100 = ""


class AttendanceRowIn(Schema):
    volunteer_id: ObjectId
    attended: bool = True
    passed: bool = True
    minutes: int | None = Field(None, ge=0, le=2**31 - 1, description="留空按课程学时")


class AttendanceSheetIn(Schema):
    rows: list[AttendanceRowIn] | None = Field(
        None, max_length=MAX_SHEET_ROWS, description="必填：每位志愿者一行"
    )


class VolunteerQualificationIn(Schema):
    kind_id: ObjectId | None = Field(None, description="必填")
    certificate_no: Text60 = ""
    issuer: Text100 = ""
    issued_on: dt.date | None = Field(None, description="必填")
    expires_on: dt.date | None = Field(None, description="留空按证书类型的有效期计算")


# --- helpers ------------------------------------------------------------------------------


def _required(payload: Schema, *names: str) -> None:
    """Body fields an object route needs: checked after the object was found, so that a
    caller who cannot see the object learns only that it is missing (404)."""
    missing = {name: _("此项为必填项") for name in names if getattr(payload, name) is None}
    if missing:
        raise ValidationError(missing)


def _one(qs: Any, pk: int | None, field: str, message: str) -> Any:
    if pk is None:
        return None
    found = qs.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: message})
    return found


# --- teams --------------------------------------------------------------------------------


@router.get("/teams", response=list[ServiceTeamOut], summary="服务队列表")
@paginate(Pagination)
def list_teams(request: HttpRequest, filters: Query[ServiceTeamFilters]) -> Any:
    scope = request.scope
    corps = None
    if filters.corps_id is not None:
        corps = selectors.corps_get(scope=scope, org_id=filters.corps_id)
    return selectors.team_list(scope=scope, search=filters.q, corps=corps)


@router.get("/teams/{team_id}", response={200: ServiceTeamOut, **ERRORS}, summary="服务队详情")
def get_team(request: HttpRequest, team_id: ObjectId) -> Any:
    return selectors.team_get(scope=request.scope, team_id=team_id)


@router.get("/teams/{team_id}/members", response=list[TeamMemberOut], summary="服务队队员")
@paginate(Pagination)
def list_team_members(
    request: HttpRequest, team_id: ObjectId, filters: Query[MemberFilters]
) -> Any:
    team = selectors.team_get(scope=request.scope, team_id=team_id)
    members = selectors.team_members(team=team)
    return members.current + (members.past if filters.include_past else [])


@router.post(
    "/teams/{team_id}/members", response={201: TeamMemberOut, **ERRORS}, summary="添加队员"
)
def add_team_member(request: HttpRequest, team_id: ObjectId, payload: TeamMemberIn) -> Any:
    scope = request.scope
    team = selectors.team_get(scope=scope, team_id=team_id)
    _required(payload, "volunteer_id")
    try:
        volunteer = selectors.candidate_get(
            scope=scope, team=team, volunteer_id=payload.volunteer_id, number=payload.number
        )
    except Http404 as exc:
        raise ValidationError({"volunteer_id": _("未找到该志愿者")}) from exc
    with _Aliased():
        membership = team_services.team_member_add(
            actor=request.user, scope=scope, team=team, volunteer=volunteer, role=payload.role
        )
    return Status(201, selectors.membership_get(scope=scope, membership_id=membership.pk))


@router.patch(
    "/teams/members/{membership_id}",
    response={200: TeamMemberOut, **ERRORS},
    summary="任免队长、副队长",
)
def set_team_member_role(
    request: HttpRequest, membership_id: ObjectId, payload: TeamMemberPatch
) -> Any:
    scope = request.scope
    membership = selectors.membership_get(scope=scope, membership_id=membership_id)
    _required(payload, "role")
    with _Aliased():
        team_services.team_member_set_role(
            actor=request.user, scope=scope, membership=membership, role=payload.role
        )
    return selectors.membership_get(scope=scope, membership_id=membership.pk)


@router.delete(
    "/teams/members/{membership_id}",
    response={204: None, **ERRORS},
    summary="队员退出服务队",
)
def remove_team_member(request: HttpRequest, membership_id: ObjectId) -> Any:
    scope = request.scope
    membership = selectors.membership_get(scope=scope, membership_id=membership_id)
    with _Aliased():
        team_services.team_member_remove(actor=request.user, scope=scope, membership=membership)
    return Status(204, None)


# --- training -----------------------------------------------------------------------------


@router.get("/training/courses", response=list[CourseOut], summary="培训课程列表")
@paginate(Pagination)
def list_courses(request: HttpRequest, filters: Query[CourseFilters]) -> Any:
    scope = request.scope
    org = None
    if filters.org_id is not None:
        org = org_get(scope=scope, org_id=filters.org_id)
    return selectors.course_list(scope=scope, search=filters.q, org=org)


@router.get(
    "/training/courses/{course_id}", response={200: CourseOut, **ERRORS}, summary="培训课程详情"
)
def get_course(request: HttpRequest, course_id: ObjectId) -> Any:
    return selectors.course_get(scope=request.scope, course_id=course_id)


@router.post("/training/courses", response={201: CourseOut, **ERRORS}, summary="新建培训课程")
def create_course(request: HttpRequest, payload: CourseIn) -> Any:
    scope = request.scope
    org = _one(
        selectors.course_org_choices(scope=scope),
        payload.org_id,
        "org_id",
        _("主办组织：请选择您可管理培训的社区、志愿者总队或服务队"),
    )
    category = _one(
        ServiceCategory.objects.all(), payload.category_id, "category_id", _("服务类别不存在")
    )
    kind = _one(
        QualificationType.objects.all(),
        payload.grants_qualification_id,
        "grants_qualification_id",
        _("资格证书类型不存在"),
    )
    with _Aliased():
        course = training_services.course_create(
            actor=request.user,
            scope=scope,
            org=org,
            name=payload.name,
            minutes=payload.minutes,
            category=category,
            grants_qualification=kind,
            description=payload.description,
        )
    return Status(201, selectors.course_get(scope=scope, course_id=course.pk))


@router.get("/training/sessions", response=list[TrainingSessionOut], summary="培训场次列表")
@paginate(Pagination)
def list_sessions(request: HttpRequest, filters: Query[SessionFilters]) -> Any:
    scope = request.scope
    course = None
    if filters.course_id is not None:
        course = selectors.course_get(scope=scope, course_id=filters.course_id)
    return selectors.session_list(scope=scope, course=course, upcoming=filters.upcoming)


@router.get(
    "/training/sessions/{session_id}",
    response={200: TrainingSessionOut, **ERRORS},
    summary="培训场次详情",
)
def get_session(request: HttpRequest, session_id: ObjectId) -> Any:
    return selectors.session_get(scope=request.scope, session_id=session_id)


@router.post(
    "/training/sessions", response={201: TrainingSessionOut, **ERRORS}, summary="安排培训场次"
)
def create_session(request: HttpRequest, payload: TrainingSessionIn) -> Any:
    scope = request.scope
    try:
        course = selectors.course_get(scope=scope, course_id=payload.course_id)
    except Http404 as exc:
        raise ValidationError({"course_id": _("培训课程不存在")}) from exc
    with _Aliased():
        session = training_services.session_create(
            actor=request.user,
            scope=scope,
            course=course,
            starts_at=payload.starts_at,
            ends_at=payload.ends_at,
            place=payload.place,
            trainer=payload.trainer,
        )
    return Status(201, selectors.session_get(scope=scope, session_id=session.pk))


@router.get(
    "/training/sessions/{session_id}/attendance",
    response=list[AttendanceOut],
    summary="培训出勤记录",
)
@paginate(Pagination)
def list_attendance(request: HttpRequest, session_id: ObjectId) -> Any:
    session = selectors.session_get(scope=request.scope, session_id=session_id)
    return selectors.attendance_list(session=session)


@router.post(
    "/training/sessions/{session_id}/attendance",
    response={200: AttendanceResultOut, **ERRORS},
    summary="登记培训出勤（可重复提交，按志愿者更新）",
)
def record_attendance(
    request: HttpRequest, session_id: ObjectId, payload: AttendanceSheetIn
) -> Any:
    scope = request.scope
    session = selectors.session_get(scope=scope, session_id=session_id)
    _required(payload, "rows")
    ids = [row.volunteer_id for row in payload.rows]
    volunteers = selectors.sheet_volunteers_by_id(session=session, ids=ids)
    missing = sorted({i for i in ids if i not in volunteers})
    if missing:
        raise ValidationError(
            {
                "volunteer_id": _("这些志愿者不在本场培训的签到范围内：%(ids)s")
                % {"ids": ", ".join(map(str, missing))}
            }
        )
    rows = [
        training_services.AttendanceRow(
            volunteer=volunteers[row.volunteer_id],
            attended=row.attended,
            passed=row.passed,
            minutes=row.minutes,
        )
        for row in payload.rows
    ]
    with _Aliased():
        result = training_services.attendance_record(
            actor=request.user, scope=scope, session=session, rows=rows
        )
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "qualifications_created": [q.pk for q in result.qualifications_created],
        "qualifications_renewed": [q.pk for q in result.qualifications_renewed],
    }


# --- qualifications -----------------------------------------------------------------------


@router.get(
    "/{volunteer_id}/qualifications",
    response=list[VolunteerQualificationOut],
    summary="志愿者的资格证书",
)
@paginate(Pagination)
def list_qualifications(request: HttpRequest, volunteer_id: ObjectId) -> Any:
    volunteer = volunteer_get(scope=request.scope, volunteer_id=volunteer_id)
    return selectors.qualification_list(volunteer=volunteer)


@router.post(
    "/{volunteer_id}/qualifications",
    response={201: VolunteerQualificationOut, **ERRORS},
    summary="登记资格证书",
)
def add_qualification(
    request: HttpRequest, volunteer_id: ObjectId, payload: VolunteerQualificationIn
) -> Any:
    scope = request.scope
    volunteer = volunteer_get(scope=scope, volunteer_id=volunteer_id)
    _required(payload, "kind_id", "issued_on")
    kind = _one(QualificationType.objects.all(), payload.kind_id, "kind_id", _("证书类型不存在"))
    with _Aliased():
        qualification = training_services.qualification_add(
            actor=request.user,
            scope=scope,
            volunteer=volunteer,
            kind=kind,
            certificate_no=payload.certificate_no,
            issuer=payload.issuer,
            issued_on=payload.issued_on,
            expires_on=payload.expires_on,
        )
    return Status(201, qualification)
