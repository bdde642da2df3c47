"""Activities over the API, mounted at ``/activities``: the organiser's side (activities,
shifts, sign-ups, the live attendance board, attendance corrections, turning attendance into
service records) and the volunteer's side (browse, sign up, withdraw, check in and out from
the mini-program).

Conventions:

* Classification items are given by id: ``category_id``, ``served_group_ids``,
  ``required_skill_ids``, ``required_qualification_ids`` (the ids of
  ``GET /volunteers/classification``). An id that is unknown or switched off is a 422 on
  that field.
* An activity, shift or sign-up outside the caller's scope answers 404 ``未找到``, exactly
  like a missing one, before anything about the request body is checked; an id in a request
  body that the caller cannot see is a 422 on that field.
* The volunteer's routes (``/open…``, ``/me/…``) act for the caller's own volunteer record;
  a caller who is not a volunteer gets 404.
* No full ID or phone number is ever returned: the board shows masked names, the
  activity's contact phone is masked.

Every write goes through ``activities.services``; reads through ``activities.selectors``.
Service records and certificates are in ``huzhu.activities.api_records``.
"""

import dataclasses
import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from huzhu.activities import record_services, selectors, services
from huzhu.activities.models import (
    Activity,
    ActivityStatus,
    CheckMethod,
    Recruitment,
    Rounding,
    Shift,
    Signup,
    SignupMode,
)
from huzhu.api.helpers import active_items, by_sort_order, missing_as_invalid
from huzhu.api.pagination import Pagination
from huzhu.api.types import (
    MAX_INT,
    ErrorOut,
    NamedOut,
    ObjectId,
    Text20,
    Text50,
    Text100,
    Text200,
    Text2000,
    ValidationErrorOut,
    text,
)
from huzhu.common.identity import mask_name
from huzhu.orgs.models import Org
from huzhu.orgs.selectors import org_get
from huzhu.volunteers.models import (
    QualificationType,
    ServedGroup,
    ServiceCategory,
    Skill,
    Volunteer,
)
from huzhu.volunteers.selectors import volunteer_get

router = Router(tags=["志愿活动"])

ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ValidationErrorOut}

Text12 = text(12)
Text60 = text(60)
Direction = Literal["in", "out"]


# --- output -------------------------------------------------------------------------------


class _ActivityResolvers(Schema):
    """What the organiser's and the volunteer's views of an activity resolve alike (each
    resolver applies where its field is declared)."""

    @staticmethod
    def resolve_org_name(obj: Activity) -> str:
        return obj.org.name

    @staticmethod
    def resolve_status_label(obj: Activity) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_recruitment_label(obj: Activity) -> str:
        return str(obj.get_recruitment_display())

    @staticmethod
    def resolve_contact_phone_masked(obj: Activity) -> str:
        return obj.contact_phone_masked

    @staticmethod
    def resolve_served_groups(obj: Activity) -> list[ServedGroup]:
        return by_sort_order(obj.served_groups.all())

    @staticmethod
    def resolve_required_skills(obj: Activity) -> list[Skill]:
        return by_sort_order(obj.required_skills.all())

    @staticmethod
    def resolve_required_qualifications(obj: Activity) -> list[QualificationType]:
        return by_sort_order(obj.required_qualifications.all())


class ActivityOut(_ActivityResolvers):
    """An activity as its organisers see it."""

    id: int
    org_id: int
    org_name: str
    title: str
    category: NamedOut
    served_groups: list[NamedOut]
    description: str
    address: str
    latitude: float | None
    longitude: float | None
    starts_on: dt.date
    ends_on: dt.date
    required_skills: list[NamedOut]
    required_qualifications: list[NamedOut]
    min_age: int
    is_risky: bool
    insurer: str
    insurance_policy: str
    recruitment: str
    recruitment_label: str
    invite_code: str
    status: str
    status_label: str
    contact_name: str
    contact_phone_masked: str
    checkin_radius_m: int | None
    rounding_minutes: int
    rounding: str
    withdraw_hours_before: int
    beneficiary_count: int
    recur_weekdays: int = Field(description="每周重复的星期：位 0 = 周一 … 位 6 = 周日")
    recur_start: dt.time | None
    recur_end: dt.time | None
    recur_capacity: int | None
    recur_skip_holidays: bool
    credit_team: bool = Field(description="时间币记入服务队（团体时长）")
    shift_count: int = Field(description="未取消的班次数")
    next_start: dt.datetime | None = Field(description="下一个班次的开始时间")
    created_at: dt.datetime
    updated_at: dt.datetime


class _ShiftResolvers(Schema):
    @staticmethod
    def resolve_signup_mode_label(obj: Shift) -> str:
        return str(obj.get_signup_mode_display())


class ShiftBaseOut(_ShiftResolvers):
    id: int
    activity_id: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    confirmed_count: int
    places_left: int
    signup_mode: str
    signup_mode_label: str
    checkin_code: str = Field(description="六位签到码（告知现场志愿者）")
    checkin_opens_minutes: int
    checkout_closes_minutes: int
    is_cancelled: bool
    records_created_at: dt.datetime | None


class ShiftOut(ShiftBaseOut):
    waitlisted: int
    pending: int
    present: int = Field(description="已签到人数")


class _SignupResolvers(Schema):
    @staticmethod
    def resolve_status_label(obj: Signup) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_attendance_label(obj: Signup) -> str:
        return str(obj.get_attendance_display())


class BoardSignupOut(_SignupResolvers):
    """One person on the attendance board: masked name only."""

    id: int
    volunteer_id: int
    name_masked: str
    status: str
    status_label: str
    attendance: str
    attendance_label: str
    checked_in_at: dt.datetime | None
    checked_out_at: dt.datetime | None
    check_in_method: str
    check_out_method: str
    check_in_distance_m: int | None
    queued_at: dt.datetime
    note: str
    record_id: int | None
    record_status: str | None
    record_minutes: int | None

    @staticmethod
    def resolve_name_masked(obj: Signup) -> str:
        return mask_name(obj.volunteer.person.name)

    @staticmethod
    def resolve_record_id(obj: Signup) -> int | None:
        record = _record_of(obj)
        return record.pk if record else None

    @staticmethod
    def resolve_record_status(obj: Signup) -> str | None:
        record = _record_of(obj)
        return record.status if record else None

    @staticmethod
    def resolve_record_minutes(obj: Signup) -> int | None:
        record = _record_of(obj)
        return record.minutes if record else None


class BoardCountsOut(Schema):
    confirmed: int
    present: int
    checked_out: int
    waitlisted: int
    pending: int
    no_show: int


class BoardOut(Schema):
    shift: ShiftBaseOut
    counts: BoardCountsOut
    signups: list[BoardSignupOut]


class SkippedOut(Schema):
    name: str
    reason: str


class ShiftRecordsOut(Schema):
    created: int
    confirmed: int
    skipped: list[SkippedOut]


class SignupStateOut(_SignupResolvers):
    """The caller's own sign-up on a shift, with its attendance."""

    id: int
    status: str
    status_label: str
    attendance: str
    attendance_label: str
    checked_in_at: dt.datetime | None
    checked_out_at: dt.datetime | None


class MySignupOut(SignupStateOut):
    shift_id: int
    shift_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    activity_id: int
    activity_title: str
    org_name: str
    address: str
    queued_at: dt.datetime
    note: str

    @staticmethod
    def resolve_shift_name(obj: Signup) -> str:
        return obj.shift.name

    @staticmethod
    def resolve_starts_at(obj: Signup) -> dt.datetime:
        return obj.shift.starts_at

    @staticmethod
    def resolve_ends_at(obj: Signup) -> dt.datetime:
        return obj.shift.ends_at

    @staticmethod
    def resolve_activity_id(obj: Signup) -> int:
        return obj.shift.activity_id

    @staticmethod
    def resolve_activity_title(obj: Signup) -> str:
        return obj.shift.activity.title

    @staticmethod
    def resolve_org_name(obj: Signup) -> str:
        return obj.shift.activity.org.name

    @staticmethod
    def resolve_address(obj: Signup) -> str:
        return obj.shift.activity.address


class OpenActivityOut(_ActivityResolvers):
    """An activity as a volunteer browsing sees it (no invitation code)."""

    id: int
    title: str
    org_name: str
    category: NamedOut
    description: str
    address: str
    latitude: float | None
    longitude: float | None
    starts_on: dt.date
    ends_on: dt.date
    status: str
    status_label: str
    recruitment: str
    recruitment_label: str
    min_age: int
    is_risky: bool
    contact_name: str
    contact_phone_masked: str
    next_start: dt.datetime | None = None


class OpenShiftOut(_ShiftResolvers):
    id: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    places_left: int
    waitlisted: int
    signup_mode: str
    signup_mode_label: str
    my_signup: SignupStateOut | None = Field(description="我在该班次的报名（未报名为 null）")


class OpenActivityDetailOut(OpenActivityOut):
    served_groups: list[NamedOut]
    required_skills: list[NamedOut]
    required_qualifications: list[NamedOut]
    withdraw_hours_before: int
    shifts: list[OpenShiftOut] = Field(description="未结束的班次")

    @staticmethod
    def resolve_shifts(obj: Activity) -> list[Shift]:
        return obj.open_shifts  # set by get_open


# --- input --------------------------------------------------------------------------------


class ActivityFilters(Schema):
    status: ActivityStatus | None = Field(None, description="状态")
    category_id: ObjectId | None = Field(None, description="服务类别 id")
    search: Text50 = Field("", description="活动名称或地点包含")


class ActivityPatch(Schema):
    """Only the fields sent are changed; the id lists replace the whole list."""

    title: Text100 | None = None
    category_id: ObjectId | None = Field(None, description="服务类别 id")
    address: Text200 | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    description: Text2000 | None = None
    served_group_ids: list[ObjectId] | None = Field(None, description="服务对象 id")
    latitude: float | None = Field(None, ge=-90, le=90, description="纬度")
    longitude: float | None = Field(None, ge=-180, le=180, description="经度")
    required_skill_ids: list[ObjectId] | None = Field(None, description="所需技能 id")
    required_qualification_ids: list[ObjectId] | None = Field(
        None, description="所需资格证书类型 id"
    )
    min_age: int | None = Field(None, ge=0, le=150, description="最低年龄（有风险的活动至少 18）")
    is_risky: bool | None = Field(None, description="有风险：须填承保机构和保单号")
    insurer: Text100 | None = None
    insurance_policy: Text60 | None = None
    recruitment: Recruitment | None = None
    invite_code: Text12 | None = None
    contact_name: Text50 | None = None
    contact_phone: Text20 | None = Field(None, description="联系电话（输出时只显示掩码）")
    checkin_radius_m: int | None = Field(None, ge=1, le=100_000, description="签到距离限制（米）")
    rounding_minutes: int | None = Field(None, ge=0, le=1440)
    rounding: Rounding | None = None
    withdraw_hours_before: int | None = Field(None, ge=0, le=720)
    recur_weekdays: int | None = Field(None, ge=0, le=127, description="位 0 = 周一 … 位 6 = 周日")
    recur_start: dt.time | None = None
    recur_end: dt.time | None = None
    recur_capacity: int | None = Field(None, ge=1, le=100_000)
    recur_skip_holidays: bool | None = None
    credit_team: bool | None = Field(None, description="时间币记入服务队（仅服务队的活动）")


class ActivityIn(ActivityPatch):
    org_id: ObjectId = Field(description="发布活动的组织（社区、服务队等）")
    title: Text100
    category_id: ObjectId = Field(description="服务类别 id")
    address: Text200
    starts_on: dt.date
    ends_on: dt.date


class StatusIn(Schema):
    status: ActivityStatus | None = Field(
        None, description="recruiting（发布）、running（开始）、closed（结项）、cancelled（取消）"
    )
    reason: Text200 = Field("", description="原因（取消时必填）")


class BeneficiariesIn(Schema):
    count: int | None = Field(None, ge=0, le=MAX_INT, description="服务对象人次")


class ShiftIn(Schema):
    """New shift: ``starts_at``, ``ends_at`` and ``capacity`` are required. In a PATCH only
    the fields sent are changed."""

    name: Text50 | None = None
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    capacity: int | None = Field(None, ge=0, le=MAX_INT)
    signup_mode: SignupMode | None = None
    checkin_opens_minutes: int | None = Field(None, ge=0, le=1440)
    checkout_closes_minutes: int | None = Field(None, ge=0, le=1440)


class ReasonIn(Schema):
    reason: Text200 = ""


class AddSignupIn(Schema):
    volunteer_id: ObjectId | None = Field(None, description="志愿者 id（必填）")
    note: Text200 = ""


class DecideIn(Schema):
    approve: bool | None = Field(None, description="true 通过，false 不通过（必填）")
    reason: Text200 = ""


class AttendanceIn(Schema):
    direction: Direction | None = Field(None, description="in 代签到，out 代签退（必填）")


class CorrectIn(Schema):
    """The new times; null (or absent) means none. Clearing both marks the person absent."""

    checked_in_at: dt.datetime | None = None
    checked_out_at: dt.datetime | None = None
    reason: Text200 = ""


class OpenFilters(Schema):
    search: Text50 = Field("", description="活动名称、地点或内容包含")
    category_id: ObjectId | None = Field(None, description="服务类别 id")
    day_from: dt.date | None = Field(None, description="只列出此日及以后仍在进行的活动")


class MySignupIn(Schema):
    shift_id: ObjectId
    invite_code: Text12 = Field("", description="凭邀请码招募的活动须填写")
    note: Text200 = ""


class MySignupFilters(Schema):
    upcoming: bool = Field(True, description="true：进行中和即将开始的有效报名；false：全部")


class CheckInIn(Schema):
    """The mini-program's check-in: the QR ``token`` scanned from the organiser's screen, or
    the six-digit ``code``; the position when the activity limits the distance."""

    shift_id: ObjectId
    direction: Direction = Field(description="in 签到，out 签退")
    token: Text100 = Field("", description="二维码中的签到令牌")
    code: Text20 = Field("", description="六位签到码")
    latitude: float | None = Field(None, ge=-90, le=90, description="当前位置纬度")
    longitude: float | None = Field(None, ge=-180, le=180, description="当前位置经度")


# --- helpers ------------------------------------------------------------------------------

ACTIVITY_REQUIRED = ("title", "category", "address", "starts_on", "ends_on")
NULLABLE = frozenset(
    {"latitude", "longitude", "checkin_radius_m", "recur_start", "recur_end", "recur_capacity"}
)
ID_LISTS: dict[str, tuple[str, type[Model], Any]] = {
    "served_group_ids": ("served_groups", ServedGroup, _lazy("服务对象不存在或已停用：%(ids)s")),
    "required_skill_ids": ("required_skills", Skill, _lazy("技能不存在或已停用：%(ids)s")),
    "required_qualification_ids": (
        "required_qualifications",
        QualificationType,
        _lazy("资格证书类型不存在或已停用：%(ids)s"),
    ),
}


def _required() -> str:
    return _("此项为必填项")


def _not_empty() -> str:
    return _("不能为空")


def _record_of(signup: Signup) -> Any:
    try:
        return signup.record
    except ObjectDoesNotExist:
        return None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """A time without an offset is local time (the deployment's time zone)."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value)


def _require(values: dict[str, Any], names: tuple[str, ...]) -> None:
    missing = {name: [_required()] for name in names if values.get(name) is None}
    if missing:
        raise ValidationError(missing)


def active_category(category_id: int) -> ServiceCategory:
    """The service category of ``category_id``, or a 422 on ``category_id``."""
    message = _("服务类别不存在或已停用：%(ids)s")
    return active_items(ServiceCategory, [category_id], "category_id", message)[0]


def _activity_values(activity: Activity) -> dict[str, Any]:
    values = {name: getattr(activity, name) for name in services.SCALAR_FIELDS}
    for attr, _model, _message in ID_LISTS.values():
        values[attr] = list(getattr(activity, attr).all())
    return values


def _activity_data(sent: dict[str, Any], base: dict[str, Any]) -> services.ActivityInput:
    """Merge what was sent over ``base`` (the current activity, or nothing for a new one)."""
    values = dict(base)
    errors: dict[str, list[str]] = {}
    for key, value in sent.items():
        if key == "org_id":
            continue
        if value is None and key not in NULLABLE:
            errors[key] = [_not_empty()]
        elif key == "category_id":
            values["category"] = active_category(value)
        elif key in ID_LISTS:
            attr, model, message = ID_LISTS[key]
            values[attr] = active_items(model, value, key, message)
        else:
            values[key] = value
    for name in ACTIVITY_REQUIRED:
        if name not in values:
            errors.setdefault("category_id" if name == "category" else name, [_required()])
    if errors:
        raise ValidationError(errors)
    return services.ActivityInput(**values)


def _with_lists(qs: QuerySet[Activity]) -> QuerySet[Activity]:
    return qs.prefetch_related("served_groups", "required_skills", "required_qualifications")


def _activity_out(request: HttpRequest, activity_id: int) -> Activity:
    """The activity with its counts and lists (404 outside the scope)."""
    qs = _with_lists(selectors.activity_list(scope=request.scope))
    return get_object_or_404(qs, pk=activity_id)


def _organiser_org(request: HttpRequest, org_id: int) -> Org:
    with missing_as_invalid("org_id", _("请选择您有权发布活动的组织")):
        return org_get(scope=request.scope, org_id=org_id)


def visible_volunteer(request: HttpRequest, volunteer_id: int) -> Volunteer:
    """A volunteer in the caller's scope, named in a request body; else a 422."""
    with missing_as_invalid("volunteer_id", _("志愿者不存在或不在您的管理范围内")):
        return volunteer_get(scope=request.scope, volunteer_id=volunteer_id)


def _activity(request: HttpRequest, activity_id: int) -> Activity:
    return selectors.activity_get_managed(scope=request.scope, activity_id=activity_id)


def _shift(request: HttpRequest, shift_id: int) -> Shift:
    return selectors.shift_get_managed(scope=request.scope, shift_id=shift_id)


def _signup(request: HttpRequest, signup_id: int) -> Signup:
    return selectors.signup_get_managed(scope=request.scope, signup_id=signup_id)


def _shift_out(shift: Shift) -> Shift:
    return selectors.shifts_of(activity=shift.activity).get(pk=shift.pk)


def _board_signup(signup_id: int) -> Signup:
    return Signup.objects.select_related("volunteer__person", "record").get(pk=signup_id)


def _shift_data(sent: dict[str, Any], shift: Shift | None) -> services.ShiftInput:
    errors = {k: [_not_empty()] for k, v in sent.items() if v is None and shift is not None}
    if errors:
        raise ValidationError(errors)
    values = {k: v for k, v in sent.items() if v is not None}
    if shift is not None:
        for field in dataclasses.fields(services.ShiftInput):
            values.setdefault(field.name, getattr(shift, field.name))
    _require(values, ("starts_at", "ends_at", "capacity"))
    values["starts_at"] = _aware(values["starts_at"])
    values["ends_at"] = _aware(values["ends_at"])
    return services.ShiftInput(**values)


def records_result(result: Any) -> dict[str, Any]:
    return {
        "created": result.created,
        "confirmed": result.confirmed,
        "skipped": [{"name": name, "reason": str(reason)} for name, reason in result.skipped],
    }


def my_volunteer(request: HttpRequest) -> Volunteer:
    """The caller's own volunteer record; 404 for a caller who is not a volunteer."""
    volunteer = selectors.volunteer_of(request.scope)
    if volunteer is None:
        raise Http404
    return volunteer


def _my_signups() -> QuerySet[Signup]:
    return Signup.objects.select_related("shift__activity__org")


def _shift_for_volunteer(volunteer: Volunteer, shift_id: int) -> Shift:
    """A shift of an activity the volunteer may see, else a 422 on ``shift_id``."""
    shift = Shift.objects.filter(pk=shift_id).only("pk", "activity_id").first()
    with missing_as_invalid("shift_id", _("班次不存在或未向您开放")):
        if shift is None:
            raise Http404
        selectors.activity_get_for_volunteer(volunteer=volunteer, activity_id=shift.activity_id)
    return shift


# --- organiser: activities ----------------------------------------------------------------
# Literal paths (/open, /me/…, /shifts/…, /signups/…) come before /{activity_id}.


@router.get("", response=list[ActivityOut], summary="活动列表（管理范围内）")
@paginate(Pagination)
def list_activities(request: HttpRequest, filters: Query[ActivityFilters]) -> Any:
    return _with_lists(
        selectors.activity_list(
            scope=request.scope,
            status=filters.status or "",
            search=filters.search.strip(),
            category_id=filters.category_id,
        )
    )


@router.post("", response={201: ActivityOut, **ERRORS}, summary="发布活动（创建，待启动）")
def create_activity(request: HttpRequest, payload: ActivityIn) -> Any:
    org = _organiser_org(request, payload.org_id)
    data = _activity_data(payload.dict(exclude_unset=True), {})
    activity = services.activity_create(actor=request.user, scope=request.scope, org=org, data=data)
    return Status(201, _activity_out(request, activity.pk))


# --- volunteer: browse, sign up, check in ---------------------------------------------------


@router.get("/open", response={200: list[OpenActivityOut], **ERRORS}, summary="可报名的活动")
@paginate(Pagination)
def list_open(request: HttpRequest, filters: Query[OpenFilters]) -> Any:
    return selectors.activities_open(
        volunteer=my_volunteer(request),
        search=filters.search.strip(),
        category_id=filters.category_id,
        day_from=filters.day_from,
    )


@router.get(
    "/open/{activity_id}",
    response={200: OpenActivityDetailOut, **ERRORS},
    summary="活动详情：班次、剩余名额和我的报名",
)
def get_open(request: HttpRequest, activity_id: ObjectId) -> Any:
    volunteer = my_volunteer(request)
    activity = selectors.activity_get_for_volunteer(volunteer=volunteer, activity_id=activity_id)
    activity.open_shifts = selectors.shifts_for_volunteer(activity=activity, volunteer=volunteer)
    activity.next_start = next(
        (s.starts_at for s in activity.open_shifts if s.starts_at > timezone.now()), None
    )
    return activity


@router.post(
    "/me/signups",
    response={201: MySignupOut, **ERRORS},
    summary="报名班次（已报名、待审核或候补）",
)
def my_signup_create(request: HttpRequest, payload: MySignupIn) -> Any:
    volunteer = my_volunteer(request)
    shift = _shift_for_volunteer(volunteer, payload.shift_id)
    signup = services.signup_create(
        actor=request.user,
        volunteer=volunteer,
        shift_id=shift.pk,
        invite_code=payload.invite_code,
        note=payload.note,
    )
    return Status(201, _my_signups().get(pk=signup.pk))


@router.get("/me/signups", response={200: list[MySignupOut], **ERRORS}, summary="我的报名")
@paginate(Pagination)
def my_signup_list(request: HttpRequest, filters: Query[MySignupFilters]) -> Any:
    return selectors.my_signups(volunteer=my_volunteer(request), upcoming=filters.upcoming)


@router.post(
    "/me/signups/{signup_id}/withdraw",
    response={200: MySignupOut, **ERRORS},
    summary="取消我的报名",
)
def my_signup_withdraw(request: HttpRequest, signup_id: ObjectId, payload: ReasonIn) -> Any:
    signup = selectors.my_signup_get(volunteer=my_volunteer(request), signup_id=signup_id)
    services.signup_withdraw(actor=request.user, signup=signup, reason=payload.reason)
    return _my_signups().get(pk=signup.pk)


@router.post(
    "/me/checkin",
    response={200: MySignupOut, **ERRORS},
    summary="签到 / 签退（小程序：扫码令牌或签到码）",
)
def my_checkin(request: HttpRequest, payload: CheckInIn) -> Any:
    volunteer = my_volunteer(request)
    shift = _shift_for_volunteer(volunteer, payload.shift_id)
    credential = services.Credential(
        method=CheckMethod.API,
        token=payload.token.strip(),
        code=payload.code,
        latitude=payload.latitude,
        longitude=payload.longitude,
    )
    action = services.check_in if payload.direction == "in" else services.check_out
    signup = action(
        actor=request.user, volunteer_id=volunteer.pk, shift_id=shift.pk, credential=credential
    )
    return _my_signups().get(pk=signup.pk)


# --- organiser: shifts, sign-ups, attendance ----------------------------------------------


@router.patch("/shifts/{shift_id}", response={200: ShiftOut, **ERRORS}, summary="修改班次")
def update_shift(request: HttpRequest, shift_id: ObjectId, payload: ShiftIn) -> Any:
    shift = _shift(request, shift_id)
    data = _shift_data(payload.dict(exclude_unset=True), shift)
    services.shift_update(actor=request.user, scope=request.scope, shift=shift, data=data)
    return _shift_out(shift)


@router.post(
    "/shifts/{shift_id}/cancel",
    response={200: ShiftOut, **ERRORS},
    summary="取消班次（通知已报名者）",
)
def cancel_shift(request: HttpRequest, shift_id: ObjectId, payload: ReasonIn) -> Any:
    shift = _shift(request, shift_id)
    services.shift_cancel(
        actor=request.user, scope=request.scope, shift=shift, reason=payload.reason
    )
    return _shift_out(shift)


@router.get(
    "/shifts/{shift_id}/signups",
    response={200: BoardOut, **ERRORS},
    summary="班次看板：报名、出勤、签到签退时间（姓名脱敏）",
)
def shift_board(request: HttpRequest, shift_id: ObjectId) -> Any:
    shift = _shift(request, shift_id)
    return {
        "shift": shift,
        "counts": selectors.shift_counts(shift=shift),
        "signups": selectors.shift_board(shift=shift),
    }


@router.post(
    "/shifts/{shift_id}/signups",
    response={201: BoardSignupOut, **ERRORS},
    summary="组织者为志愿者报名",
)
def add_signup(request: HttpRequest, shift_id: ObjectId, payload: AddSignupIn) -> Any:
    shift = _shift(request, shift_id)
    _require(payload.dict(), ("volunteer_id",))
    volunteer = visible_volunteer(request, payload.volunteer_id)
    signup = services.signup_create(
        actor=request.user,
        volunteer=volunteer,
        shift_id=shift.pk,
        note=payload.note,
        scope=request.scope,
    )
    return Status(201, _board_signup(signup.pk))


@router.post(
    "/shifts/{shift_id}/confirm",
    response={200: ShiftRecordsOut, **ERRORS},
    summary="整班确认服务时长（生成并确认记录）",
)
def confirm_shift(request: HttpRequest, shift_id: ObjectId) -> Any:
    shift = _shift(request, shift_id)
    result = record_services.shift_confirm(actor=request.user, scope=request.scope, shift=shift)
    return records_result(result)


@router.post(
    "/shifts/{shift_id}/records",
    response={200: ShiftRecordsOut, **ERRORS},
    summary="由签到生成待确认的服务记录",
)
def create_shift_records(request: HttpRequest, shift_id: ObjectId) -> Any:
    shift = _shift(request, shift_id)
    result = record_services.shift_records_create(
        actor=request.user, scope=request.scope, shift=shift
    )
    return records_result(result)


@router.post(
    "/signups/{signup_id}/decide",
    response={200: BoardSignupOut, **ERRORS},
    summary="审核报名：通过或不通过",
)
def decide_signup(request: HttpRequest, signup_id: ObjectId, payload: DecideIn) -> Any:
    signup = _signup(request, signup_id)
    _require(payload.dict(), ("approve",))
    services.signup_decide(
        actor=request.user,
        scope=request.scope,
        signup=signup,
        approve=bool(payload.approve),
        reason=payload.reason,
    )
    return _board_signup(signup.pk)


@router.post(
    "/signups/{signup_id}/attendance",
    response={200: BoardSignupOut, **ERRORS},
    summary="组织者代签到 / 代签退",
)
def organiser_attendance(request: HttpRequest, signup_id: ObjectId, payload: AttendanceIn) -> Any:
    signup = _signup(request, signup_id)
    _require(payload.dict(), ("direction",))
    action = services.check_in if payload.direction == "in" else services.check_out
    action(
        actor=request.user,
        volunteer_id=signup.volunteer_id,
        shift_id=signup.shift_id,
        credential=services.Credential(method=CheckMethod.ORGANISER),
        scope=request.scope,
    )
    return _board_signup(signup.pk)


@router.post(
    "/signups/{signup_id}/correct",
    response={200: BoardSignupOut, **ERRORS},
    summary="更正签到签退时间（保留原时间和原因）",
)
def correct_attendance(request: HttpRequest, signup_id: ObjectId, payload: CorrectIn) -> Any:
    signup = _signup(request, signup_id)
    services.attendance_correct(
        actor=request.user,
        scope=request.scope,
        signup=signup,
        checked_in_at=_aware(payload.checked_in_at),
        checked_out_at=_aware(payload.checked_out_at),
        reason=payload.reason,
    )
    return _board_signup(signup.pk)


# --- organiser: one activity --------------------------------------------------------------


@router.get("/{activity_id}", response={200: ActivityOut, **ERRORS}, summary="活动详情")
def get_activity(request: HttpRequest, activity_id: ObjectId) -> Any:
    return _activity_out(request, activity_id)


@router.patch("/{activity_id}", response={200: ActivityOut, **ERRORS}, summary="修改活动")
def update_activity(request: HttpRequest, activity_id: ObjectId, payload: ActivityPatch) -> Any:
    activity = _activity(request, activity_id)
    data = _activity_data(payload.dict(exclude_unset=True), _activity_values(activity))
    services.activity_update(actor=request.user, scope=request.scope, activity=activity, data=data)
    return _activity_out(request, activity.pk)


@router.post(
    "/{activity_id}/status",
    response={200: ActivityOut, **ERRORS},
    summary="发布、开始、结项或取消活动",
)
def set_status(request: HttpRequest, activity_id: ObjectId, payload: StatusIn) -> Any:
    activity = _activity(request, activity_id)  # 404 first: nothing about others' activities
    _require(payload.dict(), ("status",))
    services.activity_set_status(
        actor=request.user,
        scope=request.scope,
        activity=activity,
        status=payload.status,
        reason=payload.reason,
    )
    return _activity_out(request, activity.pk)


@router.post(
    "/{activity_id}/beneficiaries",
    response={200: ActivityOut, **ERRORS},
    summary="登记服务对象人次",
)
def set_beneficiaries(request: HttpRequest, activity_id: ObjectId, payload: BeneficiariesIn) -> Any:
    activity = _activity(request, activity_id)
    _require(payload.dict(), ("count",))
    services.activity_record_beneficiaries(
        actor=request.user, scope=request.scope, activity=activity, count=payload.count
    )
    return _activity_out(request, activity.pk)


@router.get("/{activity_id}/shifts", response={200: list[ShiftOut], **ERRORS}, summary="活动的班次")
@paginate(Pagination)
def list_shifts(request: HttpRequest, activity_id: ObjectId) -> Any:
    return selectors.shifts_of(activity=_activity(request, activity_id))


@router.post("/{activity_id}/shifts", response={201: ShiftOut, **ERRORS}, summary="添加班次")
def create_shift(request: HttpRequest, activity_id: ObjectId, payload: ShiftIn) -> Any:
    activity = _activity(request, activity_id)
    data = _shift_data(payload.dict(exclude_unset=True), None)
    shift = services.shift_add(
        actor=request.user, scope=request.scope, activity=activity, data=data
    )
    return Status(201, _shift_out(shift))
