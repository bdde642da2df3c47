"""Writes on activities, shifts, sign-ups and attendance.

Every function is atomic, validated and audited; a refusal raises ``ValidationError`` with a
Chinese message and changes nothing. Capacity is enforced under the shift's row lock
(``select_for_update``): one transaction per sign-up locks exactly one shift row, so
concurrent sign-ups queue on it and never overfill it. Service records and certificates live
in ``activities.record_services``.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.activities import checkin, notifications
from huzhu.activities.models import (
    ACTIVE_SIGNUP,
    Activity,
    ActivityStatus,
    Attendance,
    AttendanceCorrection,
    CheckMethod,
    Recruitment,
    ServiceRecord,
    Shift,
    Signup,
    SignupMode,
    SignupStatus,
)
from huzhu.common.audit import log_action
from huzhu.common.calendar import WorkdayCalendar
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import (
    Qualification,
    QualificationType,
    ServedGroup,
    ServiceCategory,
    Skill,
    TeamMembership,
    Volunteer,
    VolunteerStatus,
)

ADULT_AGE = 18
ORGANISER_KINDS = frozenset(
    {
        OrgKind.COMMUNITY,
        OrgKind.STREET,
        OrgKind.DISTRICT,
        OrgKind.CITY,
        OrgKind.ASSOCIATION,
        OrgKind.BRANCH,
        OrgKind.CORPS,
        OrgKind.TEAM,
        OrgKind.PARTY_BRANCH,
        OrgKind.PARTY_COMMITTEE,
        OrgKind.UNIT,
    }
)
# Which status an activity may move to from which (publish, start, close, cancel).
TRANSITIONS: dict[str, frozenset[str]] = {
    ActivityStatus.PENDING: frozenset({ActivityStatus.RECRUITING, ActivityStatus.CANCELLED}),
    ActivityStatus.RECRUITING: frozenset(
        {ActivityStatus.RUNNING, ActivityStatus.CLOSED, ActivityStatus.CANCELLED}
    ),
    ActivityStatus.RUNNING: frozenset(
        {ActivityStatus.RECRUITING, ActivityStatus.CLOSED, ActivityStatus.CANCELLED}
    ),
    ActivityStatus.CLOSED: frozenset(),
    ActivityStatus.CANCELLED: frozenset(),
}
SIGNUP_OPEN = frozenset({ActivityStatus.RECRUITING, ActivityStatus.RUNNING})


def require(scope: Scope, perm: str, org: Org) -> None:
    if not scope.can(perm, org):
        raise PermissionDenied(_("没有在该组织发布和管理活动的权限。"))


# --- activities ---------------------------------------------------------------------------


@dataclass
class ActivityInput:
    """What the activity form or the API supplies."""

    title: str
    category: ServiceCategory
    address: str
    starts_on: dt.date
    ends_on: dt.date
    description: str = ""
    served_groups: list[ServedGroup] = field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    required_skills: list[Skill] = field(default_factory=list)
    required_qualifications: list[QualificationType] = field(default_factory=list)
    min_age: int = 0
    is_risky: bool = False
    insurer: str = ""
    insurance_policy: str = ""
    recruitment: str = Recruitment.OPEN
    invite_code: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    checkin_radius_m: int | None = None
    rounding_minutes: int = 15
    rounding: str = "down"
    withdraw_hours_before: int = 2
    recur_weekdays: int = 0
    recur_start: dt.time | None = None
    recur_end: dt.time | None = None
    recur_capacity: int | None = None
    recur_skip_holidays: bool = True
    credit_team: bool = False


SCALAR_FIELDS = (
    "title",
    "category",
    "address",
    "starts_on",
    "ends_on",
    "description",
    "latitude",
    "longitude",
    "min_age",
    "is_risky",
    "insurer",
    "insurance_policy",
    "recruitment",
    "invite_code",
    "contact_name",
    "contact_phone",
    "checkin_radius_m",
    "rounding_minutes",
    "rounding",
    "withdraw_hours_before",
    "recur_weekdays",
    "recur_start",
    "recur_end",
    "recur_capacity",
    "recur_skip_holidays",
    "credit_team",
)


def _validate_activity(data: ActivityInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not data.title.strip():
        add("title", _("请填写活动名称。"))
    if not data.address.strip():
        add("address", _("请填写活动地点。"))
    if data.ends_on < data.starts_on:
        add("ends_on", _("结束日期不能早于开始日期。"))
    if data.is_risky and not (data.insurer.strip() and data.insurance_policy.strip()):
        add("insurance_policy", _("有风险的活动须先购买意外保险：请填写承保机构和保单号。"))
    if data.recruitment == Recruitment.CODE and not data.invite_code.strip():
        add("invite_code", _("凭邀请码招募时请设置邀请码。"))
    if (data.latitude is None) != (data.longitude is None):
        add("latitude", _("经纬度须同时填写。"))
    if data.checkin_radius_m and data.latitude is None:
        add("checkin_radius_m", _("设置签到距离限制前请填写活动地点的经纬度。"))
    if data.rounding_minutes < 1 or data.rounding_minutes > 60:
        add("rounding_minutes", _("时长取整单位应在 1 到 60 分钟之间。"))
    if data.recur_weekdays:
        if data.recur_start is None or data.recur_end is None or data.recur_end <= data.recur_start:
            add("recur_end", _("重复班次须填写开始和结束时间，且结束晚于开始。"))
        if not data.recur_capacity:
            add("recur_capacity", _("请填写重复班次的名额。"))
    return errors


def _apply_activity(activity: Activity, data: ActivityInput) -> None:
    for name in SCALAR_FIELDS:
        setattr(activity, name, getattr(data, name))
    activity.title = activity.title.strip()
    if activity.is_risky and activity.min_age < ADULT_AGE:
        activity.min_age = ADULT_AGE  # minors may not join risky activities (条例, PIPL)


def _set_lists(activity: Activity, data: ActivityInput) -> None:
    activity.served_groups.set(data.served_groups)
    activity.required_skills.set(data.required_skills)
    activity.required_qualifications.set(data.required_qualifications)


def activity_create(*, actor: Any, scope: Scope, org: Org, data: ActivityInput) -> Activity:
    require(scope, Perm.ACTIVITY_MANAGE, org)
    if org.kind not in ORGANISER_KINDS:
        raise ValidationError({"org": [_("该组织不能发布志愿活动。")]})
    _check_team_credit(org, data)
    errors = _validate_activity(data)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        activity = Activity(org=org, created_by=actor if _is_user(actor) else None)
        _apply_activity(activity, data)
        activity.save()
        _set_lists(activity, data)
        log_action(actor, "activity.create", activity, {"title": activity.title})
        if activity.is_recurring:
            recurring_shifts_extend(activity=activity, today=timezone.localdate())
    return activity


def activity_update(
    *, actor: Any, scope: Scope, activity: Activity, data: ActivityInput
) -> Activity:
    require(scope, Perm.ACTIVITY_MANAGE, activity.org)
    if activity.status in (ActivityStatus.CLOSED, ActivityStatus.CANCELLED):
        raise ValidationError(_("已结项或已取消的活动不能修改。"))
    errors = _validate_activity(data)
    if errors:
        raise ValidationError(errors)
    _check_team_credit(activity.org, data)
    _check_shifts_within(activity, data)
    with transaction.atomic():
        before = {name: str(getattr(activity, name)) for name in SCALAR_FIELDS}
        _apply_activity(activity, data)
        activity.save()
        _set_lists(activity, data)
        after = {name: str(getattr(activity, name)) for name in SCALAR_FIELDS}
        changed = {k: [before[k], after[k]] for k in SCALAR_FIELDS if before[k] != after[k]}
        log_action(actor, "activity.update", activity, {"changed": changed})
        if activity.is_recurring:
            recurring_shifts_extend(activity=activity, today=timezone.localdate())
    return activity


def _check_team_credit(org: Org, data: ActivityInput) -> None:
    if data.credit_team and org.kind != OrgKind.TEAM:
        raise ValidationError({"credit_team": [_("只有服务队组织的活动才能把时间币记入团队。")]})


def _check_shifts_within(activity: Activity, data: ActivityInput) -> None:
    """Changing the dates may not strand shifts outside them."""
    outside = [
        timezone.localtime(start).date()
        for start in activity.shifts.filter(is_cancelled=False).values_list("starts_at", flat=True)
        if not data.starts_on <= timezone.localtime(start).date() <= data.ends_on
    ]
    if outside:
        raise ValidationError(
            {
                "starts_on": [
                    _("已有 %(date)s 的班次在新的活动日期之外，请先调整或取消这些班次。")
                    % {"date": "、".join(str(d) for d in sorted(set(outside))[:3])}
                ]
            }
        )


def activity_set_status(
    *, actor: Any, scope: Scope, activity: Activity, status: str, reason: str = ""
) -> Activity:
    """发布 (→ 招募中), 开始 (→ 进行中), 结项, 取消. Cancelling cancels every shift that has
    not started yet (shifts already served keep their attendance) and tells everyone signed
    up."""
    require(scope, Perm.ACTIVITY_MANAGE, activity.org)
    if status not in ActivityStatus.values:
        raise ValidationError({"status": [_("未知的活动状态。")]})
    if status not in TRANSITIONS.get(activity.status, frozenset()):
        raise ValidationError(
            _("活动当前为“%(old)s”，不能改为“%(new)s”。")
            % {"old": activity.get_status_display(), "new": ActivityStatus(status).label}
        )
    if status == ActivityStatus.RECRUITING and not activity.shifts.filter(is_cancelled=False):
        raise ValidationError(_("请先添加至少一个班次再发布活动。"))
    if status == ActivityStatus.CANCELLED and not reason.strip():
        raise ValidationError({"reason": [_("取消活动请说明原因，报名的志愿者会收到通知。")]})
    with transaction.atomic():
        old = activity.status
        activity.status = status
        activity.save(update_fields=["status", "updated_at"])
        if status in (ActivityStatus.CANCELLED, ActivityStatus.CLOSED):
            # Shifts not yet begun go with the activity; those served keep their attendance.
            upcoming = activity.shifts.filter(is_cancelled=False, starts_at__gt=timezone.now())
            for shift in upcoming:
                _cancel_shift(actor, shift, reason or _("活动已结项"))
        log_action(
            actor, "activity.status", activity, {"from": old, "to": status, "reason": reason}
        )
    return activity


def activity_record_beneficiaries(
    *, actor: Any, scope: Scope, activity: Activity, count: int
) -> Activity:
    """服务对象人次 served by the activity (recorded by the organiser)."""
    require(scope, Perm.ACTIVITY_MANAGE, activity.org)
    if count < 0 or count > 1_000_000:
        raise ValidationError({"count": [_("服务对象人次应为 0 到 1000000 之间的整数。")]})
    old = activity.beneficiary_count
    activity.beneficiary_count = count
    activity.save(update_fields=["beneficiary_count", "updated_at"])
    log_action(actor, "activity.beneficiaries", activity, {"from": old, "to": count})
    return activity


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


# --- shifts -------------------------------------------------------------------------------


@dataclass
class ShiftInput:
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    name: str = ""
    signup_mode: str = SignupMode.INSTANT
    checkin_opens_minutes: int = 30
    checkout_closes_minutes: int = 120


def _validate_shift(activity: Activity, data: ShiftInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.ends_at <= data.starts_at:
        errors["ends_at"] = [_("班次结束时间须晚于开始时间。")]
    elif data.ends_at - data.starts_at > dt.timedelta(hours=24):
        errors["ends_at"] = [_("一个班次不能超过 24 小时。")]
    if data.capacity < 1 or data.capacity > 100_000:
        errors["capacity"] = [_("名额应为 1 到 100000 之间的整数。")]
    local_day = timezone.localtime(data.starts_at).date()
    if not activity.starts_on <= local_day <= activity.ends_on:
        errors["starts_at"] = [
            _("班次日期须在活动日期 %(start)s 至 %(end)s 之间。")
            % {"start": activity.starts_on, "end": activity.ends_on}
        ]
    return errors


def shift_add(*, actor: Any, scope: Scope, activity: Activity, data: ShiftInput) -> Shift:
    require(scope, Perm.ACTIVITY_MANAGE, activity.org)
    if activity.status in (ActivityStatus.CLOSED, ActivityStatus.CANCELLED):
        raise ValidationError(_("已结项或已取消的活动不能添加班次。"))
    errors = _validate_shift(activity, data)
    if errors:
        raise ValidationError(errors)
    if activity.shifts.filter(starts_at=data.starts_at).exists():
        raise ValidationError({"starts_at": [_("该活动在这个时间已有班次。")]})
    with transaction.atomic():
        shift = Shift.objects.create(
            activity=activity,
            name=data.name.strip(),
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            capacity=data.capacity,
            signup_mode=data.signup_mode,
            checkin_opens_minutes=data.checkin_opens_minutes,
            checkout_closes_minutes=data.checkout_closes_minutes,
            checkin_code=checkin.new_code(),
            qr_secret=checkin.new_secret(),
        )
        log_action(actor, "shift.create", shift, {"capacity": shift.capacity})
    return shift


def shift_update(*, actor: Any, scope: Scope, shift: Shift, data: ShiftInput) -> Shift:
    """Change times or capacity. More places promote the waiting list; fewer places than
    people already confirmed is refused."""
    require(scope, Perm.ACTIVITY_MANAGE, shift.activity.org)
    if shift.activity.status in (ActivityStatus.CLOSED, ActivityStatus.CANCELLED):
        raise ValidationError(_("已结项或已取消的活动不能修改班次。"))
    errors = _validate_shift(shift.activity, data)
    if errors:
        raise ValidationError(errors)
    if shift.activity.shifts.filter(starts_at=data.starts_at).exclude(pk=shift.pk).exists():
        raise ValidationError({"starts_at": [_("该活动在这个时间已有班次。")]})
    with transaction.atomic():
        locked = Shift.objects.select_for_update().get(pk=shift.pk)
        if locked.is_cancelled:
            raise ValidationError(_("该班次已取消。"))
        if data.capacity < locked.confirmed_count:
            raise ValidationError(
                {
                    "capacity": [
                        _("已有 %(n)d 人报名成功，名额不能少于该人数。")
                        % {"n": locked.confirmed_count}
                    ]
                }
            )
        old = {"capacity": locked.capacity, "starts_at": str(locked.starts_at)}
        locked.name = data.name.strip()
        locked.starts_at, locked.ends_at = data.starts_at, data.ends_at
        locked.capacity = data.capacity
        locked.signup_mode = data.signup_mode
        locked.checkin_opens_minutes = data.checkin_opens_minutes
        locked.checkout_closes_minutes = data.checkout_closes_minutes
        locked.save()
        promoted = _promote_waitlist(locked)
        log_action(
            actor,
            "shift.update",
            locked,
            {"old": old, "capacity": locked.capacity, "promoted": len(promoted)},
        )
    return locked


def shift_cancel(*, actor: Any, scope: Scope, shift: Shift, reason: str) -> Shift:
    require(scope, Perm.ACTIVITY_MANAGE, shift.activity.org)
    if not reason.strip():
        raise ValidationError({"reason": [_("取消班次请说明原因，报名的志愿者会收到通知。")]})
    with transaction.atomic():
        locked = Shift.objects.select_for_update().select_related("activity").get(pk=shift.pk)
        if locked.is_cancelled:
            raise ValidationError(_("该班次已取消。"))
        _cancel_shift(actor, locked, reason)
    return locked


def _cancel_shift(actor: Any, shift: Shift, reason: str) -> None:
    signups = list(
        Signup.objects.filter(shift=shift, status__in=ACTIVE_SIGNUP).select_related(
            "volunteer__person__user"
        )
    )
    Signup.objects.filter(pk__in=[s.pk for s in signups]).update(
        status=SignupStatus.CANCELLED, status_changed_at=timezone.now()
    )
    shift.is_cancelled = True
    shift.confirmed_count = 0
    shift.save(update_fields=["is_cancelled", "confirmed_count"])
    for signup in signups:
        notifications.shift_cancelled(signup=signup, shift=shift, reason=reason)
    log_action(actor, "shift.cancel", shift, {"reason": reason, "signups": len(signups)})


def recurring_shifts_extend(
    *, activity: Activity, today: dt.date, horizon_days: int | None = None
) -> int:
    """Create the shifts of a recurring activity from today up to the horizon (or its end
    date): one per chosen weekday, skipping statutory holidays when asked. Idempotent: a
    shift already there (same start) is left alone. Returns how many were created."""
    if not activity.is_recurring or activity.status in (
        ActivityStatus.CLOSED,
        ActivityStatus.CANCELLED,
    ):
        return 0
    horizon = horizon_days if horizon_days is not None else settings.HUZHU_RECURRING_HORIZON_DAYS
    first = max(activity.starts_on, today)
    last = min(activity.ends_on, today + dt.timedelta(days=horizon))
    calendar = WorkdayCalendar()
    existing = set(activity.shifts.values_list("starts_at", flat=True))
    tz = timezone.get_current_timezone()
    created = []
    day = first
    while day <= last:
        if activity.recur_weekdays & (1 << day.weekday()) and not (
            activity.recur_skip_holidays and _is_holiday(calendar, day)
        ):
            starts = dt.datetime.combine(day, activity.recur_start, tzinfo=tz)
            ends = dt.datetime.combine(day, activity.recur_end, tzinfo=tz)
            if starts not in existing:
                created.append(
                    Shift(
                        activity=activity,
                        starts_at=starts,
                        ends_at=ends,
                        capacity=activity.recur_capacity or 1,
                        checkin_code=checkin.new_code(),
                        qr_secret=checkin.new_secret(),
                    )
                )
        day += dt.timedelta(days=1)
    Shift.objects.bulk_create(created, ignore_conflicts=True)
    return len(created)


def _is_holiday(calendar: WorkdayCalendar, day: dt.date) -> bool:
    """A statutory holiday (a day off that is not an ordinary weekend)."""
    return day.weekday() < 5 and not calendar.is_workday(day)


# --- sign-up ------------------------------------------------------------------------------


def _volunteer_ready(volunteer: Volunteer) -> None:
    if volunteer.status != VolunteerStatus.REGISTERED:
        raise ValidationError(
            _("您的志愿者注册状态为“%(status)s”，审核通过后才能报名活动。")
            % {"status": volunteer.get_status_display()}
        )


def no_show_blocked_until(volunteer: Volunteer, today: dt.date) -> dt.date | None:
    """The day until which repeated no-shows bar sign-up, or None."""
    limit = settings.HUZHU_NO_SHOW_LIMIT
    if limit <= 0:
        return None
    since = today - dt.timedelta(days=settings.HUZHU_NO_SHOW_WINDOW_DAYS)
    starts = list(
        Signup.objects.filter(
            volunteer=volunteer, attendance=Attendance.NO_SHOW, shift__starts_at__date__gte=since
        )
        .order_by("-shift__starts_at")
        .values_list("shift__starts_at", flat=True)[:limit]
    )
    if len(starts) < limit:
        return None
    until = timezone.localtime(starts[0]).date() + dt.timedelta(
        days=settings.HUZHU_NO_SHOW_BLOCK_DAYS
    )
    return until if until >= today else None


def _check_eligible(
    volunteer: Volunteer, shift: Shift, invite_code: str, now: dt.datetime, by_organiser: bool
) -> None:
    activity = shift.activity
    _volunteer_ready(volunteer)
    if activity.status not in SIGNUP_OPEN:
        raise ValidationError(
            _("活动“%(title)s”当前为“%(status)s”，不接受报名。")
            % {"title": activity.title, "status": activity.get_status_display()}
        )
    if shift.is_cancelled:
        raise ValidationError(_("该班次已取消。"))
    if shift.starts_at <= now:
        raise ValidationError(_("该班次已开始，报名已截止。"))
    day = timezone.localtime(shift.starts_at).date()
    age = volunteer.person.age_on(day)
    if activity.is_risky and age < ADULT_AGE:
        raise ValidationError(_("未成年人不能参加有风险的活动（《志愿服务条例》）。"))
    if age < activity.min_age:
        raise ValidationError(
            _("该活动要求年满 %(min)d 周岁，您在活动当天为 %(age)d 周岁。")
            % {"min": activity.min_age, "age": age}
        )
    _check_requirements(volunteer, activity, day)
    if not by_organiser:
        _check_recruitment(volunteer, activity, invite_code)
        until = no_show_blocked_until(volunteer, timezone.localtime(now).date())
        if until is not None:
            raise ValidationError(
                _("您近期多次报名后缺席，%(date)s 前不能报名新的班次。") % {"date": until}
            )


def _check_requirements(volunteer: Volunteer, activity: Activity, day: dt.date) -> None:
    required_skills = {s.pk: s.name for s in activity.required_skills.all()}
    if required_skills:
        have = set(volunteer.skills.filter(pk__in=required_skills).values_list("pk", flat=True))
        missing = [name for pk, name in required_skills.items() if pk not in have]
        if missing:
            raise ValidationError(
                _("该活动需要以下技能：%(names)s。") % {"names": "、".join(missing)}
            )
    required = {q.pk: q.name for q in activity.required_qualifications.all()}
    if required:
        valid = set(
            Qualification.objects.filter(volunteer=volunteer, kind_id__in=required)
            .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=day))
            .values_list("kind_id", flat=True)
        )
        missing = [name for pk, name in required.items() if pk not in valid]
        if missing:
            raise ValidationError(
                _("该活动需要有效的资质证书：%(names)s。") % {"names": "、".join(missing)}
            )


def _check_recruitment(volunteer: Volunteer, activity: Activity, invite_code: str) -> None:
    if activity.recruitment == Recruitment.TEAM:
        if not team_member_of(volunteer, activity.org):
            raise ValidationError(_("该活动仅限“%(org)s”的队员报名。") % {"org": activity.org.name})
    elif activity.recruitment == Recruitment.CODE and not hmac.compare_digest(
        invite_code.strip().upper(), activity.invite_code.upper()
    ):
        raise ValidationError({"invite_code": [_("邀请码不正确。")]})


def team_member_of(volunteer: Volunteer, org: Org) -> bool:
    """An active member of a team at or under ``org``."""
    return TeamMembership.objects.filter(
        volunteer=volunteer, left_on__isnull=True, team__path__startswith=org.path
    ).exists()


def _check_clash(volunteer: Volunteer, shift: Shift) -> None:
    clash = (
        Signup.objects.filter(
            volunteer=volunteer,
            status__in=ACTIVE_SIGNUP,
            shift__is_cancelled=False,
            shift__starts_at__lt=shift.ends_at,
            shift__ends_at__gt=shift.starts_at,
        )
        .exclude(shift=shift)
        .select_related("shift__activity")
        .first()
    )
    if clash is not None:
        other = clash.shift
        raise ValidationError(
            _("与您已报名的“%(title)s”（%(start)s–%(end)s）时间冲突。")
            % {
                "title": other.activity.title,
                "start": timezone.localtime(other.starts_at).strftime("%m-%d %H:%M"),
                "end": timezone.localtime(other.ends_at).strftime("%H:%M"),
            }
        )


def signup_create(
    *,
    actor: Any,
    volunteer: Volunteer,
    shift_id: int,
    invite_code: str = "",
    note: str = "",
    scope: Scope | None = None,
    now: dt.datetime | None = None,
) -> Signup:
    """Sign a volunteer up for a shift: 已报名 while places last (or 待审核 when the shift
    asks for confirmation), else 候补 on the waiting list. With an organiser's ``scope``
    (ACTIVITY_MANAGE) the recruitment mode, the no-show bar and confirmation are skipped."""
    now = now or timezone.now()
    with transaction.atomic():
        shift = Shift.objects.select_for_update().select_related("activity__org").get(pk=shift_id)
        by_organiser = scope is not None and scope.can(Perm.ACTIVITY_MANAGE, shift.activity.org)
        if scope is not None and not by_organiser:
            raise PermissionDenied(_("没有为他人报名该活动的权限。"))
        _check_eligible(volunteer, shift, invite_code, now, by_organiser)
        signup = Signup.objects.filter(shift=shift, volunteer=volunteer).first()
        if signup is not None and signup.status in ACTIVE_SIGNUP:
            raise ValidationError(
                _("您已报名该班次（%(status)s）。") % {"status": signup.get_status_display()}
            )
        _check_clash(volunteer, shift)
        if shift.signup_mode == SignupMode.CONFIRM and not by_organiser:
            status = SignupStatus.PENDING
        elif shift.confirmed_count < shift.capacity:
            status = SignupStatus.CONFIRMED
            shift.confirmed_count += 1
            shift.save(update_fields=["confirmed_count"])
        else:
            status = SignupStatus.WAITLISTED
        if signup is None:
            signup = Signup(shift=shift, volunteer=volunteer)
        signup.status = status
        signup.queued_at = now
        signup.note = note[:200]
        signup.attendance = Attendance.NONE
        signup.save()
        log_action(actor, "signup.create", signup, {"status": status})
        notifications.signup_received(signup=signup)
    return signup


def signup_decide(
    *, actor: Any, scope: Scope, signup: Signup, approve: bool, reason: str = ""
) -> Signup:
    """The organiser approves or declines a request (待审核). An approval beyond the places
    left goes to the waiting list."""
    require(scope, Perm.ACTIVITY_MANAGE, signup.shift.activity.org)
    with transaction.atomic():
        shift = Shift.objects.select_for_update().get(pk=signup.shift_id)
        signup = Signup.objects.select_related("volunteer__person__user", "shift__activity").get(
            pk=signup.pk
        )
        if signup.status != SignupStatus.PENDING:
            raise ValidationError(_("该报名不是待审核状态。"))
        if approve and shift.confirmed_count < shift.capacity:
            signup.status = SignupStatus.CONFIRMED
            shift.confirmed_count += 1
            shift.save(update_fields=["confirmed_count"])
        elif approve:
            signup.status = SignupStatus.WAITLISTED
        else:
            signup.status = SignupStatus.REJECTED
            signup.note = reason[:200]
        signup.save()
        log_action(actor, "signup.decide", signup, {"status": signup.status, "reason": reason})
        notifications.signup_decided(signup=signup)
    return signup


def signup_withdraw(
    *,
    actor: Any,
    signup: Signup,
    scope: Scope | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Signup:
    """A volunteer withdraws (before the activity's deadline), or the organiser removes
    someone (``scope`` with ACTIVITY_MANAGE, any time before the shift ends). A freed place
    goes to the first person on the waiting list at once."""
    now = now or timezone.now()
    with transaction.atomic():
        shift = (
            Shift.objects.select_for_update()
            .select_related("activity__org")
            .get(pk=signup.shift_id)
        )
        by_organiser = scope is not None and scope.can(Perm.ACTIVITY_MANAGE, shift.activity.org)
        if scope is not None and not by_organiser:
            raise PermissionDenied(_("没有管理该活动报名的权限。"))
        signup = Signup.objects.select_for_update().get(pk=signup.pk)
        if signup.status not in ACTIVE_SIGNUP:
            raise ValidationError(_("该报名已不在有效状态，无需取消。"))
        if signup.checked_in_at is not None:
            raise ValidationError(_("已签到，不能取消报名。"))
        deadline = shift.starts_at - dt.timedelta(hours=shift.activity.withdraw_hours_before)
        if by_organiser and now > shift.ends_at:
            raise ValidationError(_("班次已结束，不能再取消报名。"))
        if not by_organiser and now > deadline:
            raise ValidationError(
                _("已过取消截止时间（%(time)s），请联系活动组织者。")
                % {"time": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")}
            )
        was_confirmed = signup.status == SignupStatus.CONFIRMED
        signup.status = SignupStatus.WITHDRAWN
        signup.note = reason[:200]
        signup.save()
        promoted: list[Signup] = []
        if was_confirmed:
            shift.confirmed_count -= 1
            shift.save(update_fields=["confirmed_count"])
            promoted = _promote_waitlist(shift)
        log_action(
            actor,
            "signup.withdraw",
            signup,
            {"reason": reason, "by_organiser": by_organiser, "promoted": len(promoted)},
        )
    return signup


def _promote_waitlist(shift: Shift) -> list[Signup]:
    """Fill free places from the waiting list, earliest first (caller holds the lock)."""
    free = shift.capacity - shift.confirmed_count
    if free <= 0:
        return []
    promoted = list(
        Signup.objects.filter(shift=shift, status=SignupStatus.WAITLISTED)
        .select_related("volunteer__person__user", "shift__activity")
        .order_by("queued_at", "id")[:free]
    )
    if not promoted:
        return []
    Signup.objects.filter(pk__in=[s.pk for s in promoted]).update(
        status=SignupStatus.CONFIRMED, status_changed_at=timezone.now()
    )
    shift.confirmed_count += len(promoted)
    shift.save(update_fields=["confirmed_count"])
    for signup in promoted:
        signup.status = SignupStatus.CONFIRMED
        notifications.waitlist_promoted(signup=signup)
    return promoted


# --- attendance ---------------------------------------------------------------------------


@dataclass
class Credential:
    """How a check-in or check-out proves presence."""

    method: str  # CheckMethod
    token: str = ""  # the QR token
    code: str = ""  # the per-shift numeric code
    latitude: float | None = None
    longitude: float | None = None


def _verify_credential(shift: Shift, credential: Credential, now: dt.datetime) -> int | None:
    """Check the QR token or the code, and the distance; returns the distance in metres."""
    if credential.method in (CheckMethod.QR, CheckMethod.API) and credential.token:
        if not checkin.qr_token_valid(
            secret=shift.qr_secret, shift_id=shift.pk, token=credential.token, at=now
        ):
            raise ValidationError(_("二维码已过期，请扫描组织者屏幕上最新的二维码。"))
    elif credential.method in (CheckMethod.CODE, CheckMethod.API):
        if not credential.code or not hmac.compare_digest(
            credential.code.strip(), shift.checkin_code
        ):
            raise ValidationError({"code": [_("签到码不正确。")]})
    else:
        raise ValidationError(_("请扫描二维码或输入签到码。"))
    return _check_distance(shift.activity, credential)


def _check_distance(activity: Activity, credential: Credential) -> int | None:
    if activity.latitude is None or activity.longitude is None:
        return None
    if credential.latitude is None or credential.longitude is None:
        if activity.checkin_radius_m:
            raise ValidationError(_("该活动要求在现场签到，请允许获取位置后重试。"))
        return None
    distance = checkin.distance_m(
        float(activity.latitude),
        float(activity.longitude),
        float(credential.latitude),
        float(credential.longitude),
    )
    if activity.checkin_radius_m and distance > activity.checkin_radius_m:
        raise ValidationError(
            _("您距活动地点约 %(d)d 米，超出 %(r)d 米的签到范围。")
            % {"d": distance, "r": activity.checkin_radius_m}
        )
    return distance


def _attendance_signup(volunteer_id: int, shift: Shift) -> Signup:
    signup = (
        Signup.objects.select_for_update()
        .filter(shift=shift, volunteer_id=volunteer_id, status=SignupStatus.CONFIRMED)
        .first()
    )
    if signup is None:
        raise ValidationError(_("您没有报名成功该班次，不能签到。"))
    return signup


def _locked_shift(shift_id: int) -> Shift:
    return Shift.objects.select_for_update().select_related("activity__org").get(pk=shift_id)


def check_in(
    *,
    actor: Any,
    volunteer_id: int,
    shift_id: int,
    credential: Credential,
    scope: Scope | None = None,
    now: dt.datetime | None = None,
) -> Signup:
    """签到. Open from ``checkin_opens_minutes`` before the start until the shift ends. The
    organiser (``CheckMethod.ORGANISER`` with a scope) checks in people without phones."""
    now = now or timezone.now()
    with transaction.atomic():
        shift = _locked_shift(shift_id)
        distance = _authorise(shift, credential, scope, now)
        opens = shift.starts_at - dt.timedelta(minutes=shift.checkin_opens_minutes)
        if now < opens:
            raise ValidationError(
                _("签到尚未开始：%(time)s 起可以签到。")
                % {"time": timezone.localtime(opens).strftime("%m-%d %H:%M")}
            )
        if now > shift.ends_at:
            raise ValidationError(_("班次已结束，不能再签到；如有遗漏请联系组织者更正。"))
        signup = _attendance_signup(volunteer_id, shift)
        if signup.checked_in_at is not None:
            raise ValidationError(
                _("您已于 %(time)s 签到，请勿重复签到。")
                % {"time": timezone.localtime(signup.checked_in_at).strftime("%H:%M")}
            )
        signup.checked_in_at = now
        signup.check_in_method = credential.method
        signup.check_in_distance_m = distance
        signup.attendance = Attendance.PRESENT
        signup.save()
        log_action(actor, "attendance.check_in", signup, {"method": credential.method})
    return signup


def check_out(
    *,
    actor: Any,
    volunteer_id: int,
    shift_id: int,
    credential: Credential,
    scope: Scope | None = None,
    now: dt.datetime | None = None,
) -> Signup:
    """签退, until ``checkout_closes_minutes`` after the shift ends."""
    now = now or timezone.now()
    with transaction.atomic():
        shift = _locked_shift(shift_id)
        _authorise(shift, credential, scope, now)
        closes = shift.ends_at + dt.timedelta(minutes=shift.checkout_closes_minutes)
        if now > closes:
            raise ValidationError(_("已过签退时间，请联系组织者更正签退时间。"))
        signup = _attendance_signup(volunteer_id, shift)
        if signup.checked_in_at is None:
            raise ValidationError(_("尚未签到，不能签退。"))
        if signup.checked_out_at is not None:
            raise ValidationError(_("您已签退，请勿重复签退。"))
        signup.checked_out_at = max(now, signup.checked_in_at)
        signup.check_out_method = credential.method
        signup.save()
        log_action(actor, "attendance.check_out", signup, {"method": credential.method})
    return signup


def _authorise(
    shift: Shift, credential: Credential, scope: Scope | None, now: dt.datetime
) -> int | None:
    if shift.is_cancelled:
        raise ValidationError(_("该班次已取消。"))
    if credential.method == CheckMethod.ORGANISER:
        if scope is None or not scope.can(Perm.ACTIVITY_MANAGE, shift.activity.org):
            raise PermissionDenied(_("没有为他人签到的权限。"))
        return None
    return _verify_credential(shift, credential, now)


def attendance_correct(
    *,
    actor: Any,
    scope: Scope,
    signup: Signup,
    checked_in_at: dt.datetime | None,
    checked_out_at: dt.datetime | None,
    reason: str,
) -> Signup:
    """The organiser corrects check-in/out times (forgotten check-out, no phone, …); the
    old times and the reason are kept. Clearing both resets the attendance to 未签到 (the
    no-show job marks the person absent once the check-out window has closed)."""
    shift = signup.shift
    require(scope, Perm.ACTIVITY_MANAGE, shift.activity.org)
    if not reason.strip():
        raise ValidationError({"reason": [_("请填写更正原因。")]})
    if checked_out_at is not None and checked_in_at is None:
        raise ValidationError({"checked_in_at": [_("有签退时间时必须有签到时间。")]})
    if checked_in_at and checked_out_at and checked_out_at < checked_in_at:
        raise ValidationError({"checked_out_at": [_("签退时间不能早于签到时间。")]})
    day_start = shift.starts_at - dt.timedelta(hours=12)
    day_end = shift.ends_at + dt.timedelta(hours=12)
    for name, value in (("checked_in_at", checked_in_at), ("checked_out_at", checked_out_at)):
        if value is not None and not day_start <= value <= day_end:
            raise ValidationError({name: [_("时间须在班次前后 12 小时之内。")]})
    with transaction.atomic():
        signup = Signup.objects.select_for_update().get(pk=signup.pk)
        if signup.status != SignupStatus.CONFIRMED:
            raise ValidationError(_("只能更正报名成功者的签到时间。"))
        if ServiceRecord.objects.filter(signup=signup).exists():
            raise ValidationError(_("该签到已生成服务记录，请更正服务记录的时长。"))
        AttendanceCorrection.objects.create(
            signup=signup,
            old_in=signup.checked_in_at,
            old_out=signup.checked_out_at,
            new_in=checked_in_at,
            new_out=checked_out_at,
            reason=reason.strip()[:200],
            actor=actor if _is_user(actor) else None,
        )
        signup.checked_in_at = checked_in_at
        signup.checked_out_at = checked_out_at
        if checked_in_at is not None and not signup.check_in_method:
            signup.check_in_method = CheckMethod.ORGANISER
        if checked_out_at is not None and not signup.check_out_method:
            signup.check_out_method = CheckMethod.ORGANISER
        signup.attendance = Attendance.PRESENT if checked_in_at else Attendance.NONE
        signup.save()
        log_action(actor, "attendance.correct", signup, {"reason": reason})
    return signup


def shift_mark_no_shows(*, actor: Any, shift: Shift, now: dt.datetime | None = None) -> int:
    """After the check-out window closes, confirmed people who never checked in are marked
    缺席 (the no-show consequence counts these). Idempotent."""
    now = now or timezone.now()
    if now <= shift.ends_at + dt.timedelta(minutes=shift.checkout_closes_minutes):
        return 0
    marked = Signup.objects.filter(
        shift=shift,
        status=SignupStatus.CONFIRMED,
        checked_in_at__isnull=True,
        attendance=Attendance.NONE,
    ).update(attendance=Attendance.NO_SHOW, status_changed_at=now)
    if marked:
        log_action(actor, "attendance.no_show", shift, {"count": marked})
    return marked
