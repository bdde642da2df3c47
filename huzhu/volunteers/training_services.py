"""Writes on training and qualifications: courses, sessions, attendance, certificates and the
expiry reminders. Every function is atomic, validated and audited, like ``services``.

* A course belongs to a community, a corps or a team; whoever may manage training there
  (``team.manage``: workers of the community, the team's leaders) runs its sessions.
* ``attendance_record`` saves a whole sheet in one call, idempotently: a (session, volunteer)
  pair has one row, and recording it again updates that row. A passed course that grants a
  qualification creates the certificate, or renews the volunteer's certificate of that type
  in place (new issue date and expiry, reminder cleared).
* Qualifications belong to the register: ``volunteer.manage`` adds, edits and removes them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.services import notify
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import (
    Course,
    Qualification,
    QualificationType,
    ServiceCategory,
    TrainingAttendance,
    TrainingSession,
    Volunteer,
    VolunteerStatus,
)

COURSE_ORG_KINDS = frozenset({OrgKind.COMMUNITY, OrgKind.CORPS, OrgKind.TEAM})
MAX_MINUTES = 100 * 60  # one course or one attendance row: at most 100 hours
# Registrations whose certificates still matter (reminders, the expiring list).
LIVE_STATUSES = (VolunteerStatus.PENDING, VolunteerStatus.REGISTERED, VolunteerStatus.SUSPENDED)
REMINDER_KIND = "qualification.expiring"


# --- helpers ----------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months; the 31st becomes the month's last day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def expiry_for(kind: QualificationType, issued_on: dt.date) -> dt.date | None:
    """Expiry of a certificate of ``kind`` issued on ``issued_on`` (None: never expires)."""
    if not kind.validity_months:
        return None
    return add_months(issued_on, kind.validity_months)


def remind_days(kind: QualificationType) -> int:
    """How many days before expiry to remind: the type's own setting, else the site's."""
    return kind.remind_days_before or settings.HUZHU_QUALIFICATION_REMIND_DAYS


def session_date(session: TrainingSession) -> dt.date:
    return timezone.localtime(session.starts_at).date()


def _date_label(day: dt.date) -> str:
    return formats.date_format(day, "Y年n月j日")


def _require_training(scope: Scope, org: Org) -> None:
    if not scope.can(Perm.TEAM_MANAGE, org):
        raise PermissionDenied(_("您没有管理该组织培训的权限"))


def _require_register(scope: Scope, volunteer: Volunteer) -> None:
    if not scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
        raise PermissionDenied(_("您没有管理该志愿者资格证书的权限"))


def _text(value: str | None, limit: int, field_name: str, label: str, errors: dict) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        errors[field_name] = [_("%(label)s不能超过%(n)s个字符") % {"label": label, "n": limit}]
    return text


# --- courses and sessions ---------------------------------------------------------------

COURSE_FIELDS = (
    "org",
    "name",
    "category",
    "minutes",
    "grants_qualification",
    "description",
    "is_active",
)


def _clean_course(course: Course, scope: Scope) -> None:
    errors: dict[str, list[str]] = {}
    org = course.org if course.org_id else None
    if org is None or org.kind not in COURSE_ORG_KINDS or not org.is_active:
        errors["org"] = [_("主办组织：请选择社区、志愿者总队或服务队")]
    elif not scope.can(Perm.TEAM_MANAGE, org):
        raise PermissionDenied(_("您没有管理该组织培训的权限"))
    course.name = _text(course.name, 100, "name", _("课程名称"), errors)
    if not course.name and "name" not in errors:
        errors["name"] = [_("课程名称不能为空")]
    try:
        minutes = int(course.minutes)
    except (TypeError, ValueError):
        minutes = -1
    if not 1 <= minutes <= MAX_MINUTES:
        errors["minutes"] = [_("学时（分钟）应在1到%(max)s之间") % {"max": MAX_MINUTES}]
    else:
        course.minutes = minutes
    course.description = (course.description or "").strip()
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def course_create(
    *,
    actor: Any,
    scope: Scope,
    org: Org,
    name: str,
    minutes: int = 120,
    category: ServiceCategory | None = None,
    grants_qualification: QualificationType | None = None,
    description: str = "",
) -> Course:
    course = Course(
        org=org,
        name=name,
        minutes=minutes,
        category=category,
        grants_qualification=grants_qualification,
        description=description,
    )
    _clean_course(course, scope)
    course.save()
    log_action(
        actor,
        "training.course_create",
        course,
        {
            "name": course.name,
            "org": org.name,
            "minutes": course.minutes,
            "qualification": grants_qualification.name if grants_qualification else None,
        },
    )
    return course


@transaction.atomic
def course_update(*, actor: Any, scope: Scope, course: Course, **changes: Any) -> Course:
    unknown = set(changes) - set(COURSE_FIELDS)
    if unknown:
        raise ValidationError(_("不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    _require_training(scope, course.org)
    course = Course.objects.select_for_update().select_related("org").get(pk=course.pk)
    before = {name: _course_value(course, name) for name in COURSE_FIELDS}
    for name, value in changes.items():
        setattr(course, name, value)
    _clean_course(course, scope)
    after = {name: _course_value(course, name) for name in COURSE_FIELDS}
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if diff:
        course.save()
        log_action(actor, "training.course_update", course, {"changes": diff})
    return course


def _course_value(course: Course, name: str) -> Any:
    value = getattr(course, name)
    if isinstance(value, Org | ServiceCategory | QualificationType):
        return value.name
    return value


def _clean_session(session: TrainingSession) -> None:
    errors: dict[str, list[str]] = {}
    if session.starts_at is None:
        errors["starts_at"] = [_("请填写开始时间")]
    if session.ends_at is None:
        errors["ends_at"] = [_("请填写结束时间")]
    if session.starts_at and session.ends_at:
        if session.ends_at <= session.starts_at:
            errors["ends_at"] = [_("结束时间必须晚于开始时间")]
        elif session.ends_at - session.starts_at > dt.timedelta(days=31):
            errors["ends_at"] = [_("结束时间：一个培训场次不能超过31天")]
    session.place = _text(session.place, 200, "place", _("地点"), errors)
    session.trainer = _text(session.trainer, 100, "trainer", _("授课人"), errors)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def session_create(
    *,
    actor: Any,
    scope: Scope,
    course: Course,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    place: str = "",
    trainer: str = "",
) -> TrainingSession:
    _require_training(scope, course.org)
    if not course.is_active:
        raise ValidationError({"course": _("该课程已停用，不能再安排培训")})
    session = TrainingSession(
        course=course, starts_at=starts_at, ends_at=ends_at, place=place, trainer=trainer
    )
    _clean_session(session)
    session.save()
    log_action(
        actor,
        "training.session_create",
        session,
        {
            "course": course.name,
            "starts_at": timezone.localtime(session.starts_at).isoformat(timespec="minutes"),
            "place": session.place,
        },
    )
    return session


SESSION_FIELDS = ("starts_at", "ends_at", "place", "trainer")


@transaction.atomic
def session_update(
    *, actor: Any, scope: Scope, session: TrainingSession, **changes: Any
) -> TrainingSession:
    unknown = set(changes) - set(SESSION_FIELDS)
    if unknown:
        raise ValidationError(_("不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    _require_training(scope, session.course.org)
    session = (
        TrainingSession.objects.select_for_update().select_related("course__org").get(pk=session.pk)
    )
    before = {name: str(getattr(session, name)) for name in SESSION_FIELDS}
    for name, value in changes.items():
        setattr(session, name, value)
    _clean_session(session)
    after = {name: str(getattr(session, name)) for name in SESSION_FIELDS}
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if diff:
        session.save()
        log_action(actor, "training.session_update", session, {"changes": diff})
    return session


# --- attendance -------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceRow:
    volunteer: Volunteer
    attended: bool = True
    passed: bool = True
    minutes: int | None = None  # None: the course's minutes when attended


@dataclass
class AttendanceResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    qualifications_created: list[Qualification] = field(default_factory=list)
    qualifications_renewed: list[Qualification] = field(default_factory=list)


def _rows(rows: Iterable[AttendanceRow | Sequence[Any]]) -> list[AttendanceRow]:
    result = []
    for row in rows:
        if not isinstance(row, AttendanceRow):
            row = AttendanceRow(*row)
        result.append(row)
    return result


@transaction.atomic
def attendance_record(
    *,
    actor: Any,
    scope: Scope,
    session: TrainingSession,
    rows: Iterable[AttendanceRow | Sequence[Any]],
    now: dt.datetime | None = None,
) -> AttendanceResult:
    """Record a session's attendance sheet: ``rows`` of (volunteer, attended, passed,
    minutes). A constant number of queries, however many rows."""
    course = session.course
    _require_training(scope, course.org)
    if session.starts_at > (now or timezone.now()):
        raise ValidationError({"session": _("培训尚未开始，不能登记出勤")})
    rows = _rows(rows)
    errors: list[str] = []
    seen: set[int] = set()
    for row in rows:
        if row.volunteer.pk in seen:
            errors.append(_("%(v)s：重复出现") % {"v": row.volunteer.number})
        seen.add(row.volunteer.pk)
        if row.minutes is not None and not 0 <= int(row.minutes) <= MAX_MINUTES:
            errors.append(
                _("%(v)s：学时（分钟）应在0到%(max)s之间")
                % {"v": row.volunteer.number, "max": MAX_MINUTES}
            )
    if errors:
        raise ValidationError({"rows": errors})

    existing = {
        a.volunteer_id: a
        for a in TrainingAttendance.objects.select_for_update().filter(
            session=session, volunteer_id__in=seen
        )
    }
    result = AttendanceResult()
    new_rows: list[TrainingAttendance] = []
    changed: list[TrainingAttendance] = []
    passed: list[Volunteer] = []
    for row in rows:
        attended = bool(row.attended)
        is_passed = attended and bool(row.passed)
        if not attended:
            minutes = 0
        elif row.minutes is None:
            minutes = course.minutes
        else:
            minutes = int(row.minutes)
        if is_passed:
            passed.append(row.volunteer)
        record = existing.get(row.volunteer.pk)
        if record is None:
            new_rows.append(
                TrainingAttendance(
                    session=session,
                    volunteer=row.volunteer,
                    attended=attended,
                    passed=is_passed,
                    minutes=minutes,
                )
            )
        elif (record.attended, record.passed, record.minutes) != (attended, is_passed, minutes):
            record.attended, record.passed, record.minutes = attended, is_passed, minutes
            changed.append(record)
        else:
            result.unchanged += 1
    TrainingAttendance.objects.bulk_create(new_rows)
    TrainingAttendance.objects.bulk_update(changed, ["attended", "passed", "minutes"])
    result.created, result.updated = len(new_rows), len(changed)
    if course.grants_qualification_id and passed:
        _grant_qualifications(session, course, passed, result)
    log_action(
        actor,
        "training.attendance",
        session,
        {
            "course": course.name,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "attended": sum(1 for r in rows if r.attended),
            "qualifications_created": [q.pk for q in result.qualifications_created],
            "qualifications_renewed": [q.pk for q in result.qualifications_renewed],
        },
    )
    return result


def _grant_qualifications(
    session: TrainingSession, course: Course, volunteers: list[Volunteer], result: AttendanceResult
) -> None:
    """Create or renew the course's qualification for volunteers who passed (bulk)."""
    kind = course.grants_qualification
    issued_on = session_date(session)
    expires_on = expiry_for(kind, issued_on)
    latest: dict[int, Qualification] = {}
    for q in (
        Qualification.objects.select_for_update()
        .filter(kind=kind, volunteer__in=volunteers)
        .order_by("issued_on", "id")
    ):
        latest[q.volunteer_id] = q  # ascending, so the last one wins
    issuer = course.org.name[:100]
    new: list[Qualification] = []
    renewed: list[Qualification] = []
    for volunteer in volunteers:
        current = latest.get(volunteer.pk)
        if current is None:
            new.append(
                Qualification(
                    volunteer=volunteer,
                    kind=kind,
                    issuer=issuer,
                    issued_on=issued_on,
                    expires_on=expires_on,
                )
            )
        elif _later(expires_on, current.expires_on) and issued_on >= current.issued_on:
            current.issued_on, current.expires_on = issued_on, expires_on
            current.issuer, current.reminded_on = issuer, None
            renewed.append(current)
    result.qualifications_created = Qualification.objects.bulk_create(new)
    Qualification.objects.bulk_update(renewed, ["issued_on", "expires_on", "issuer", "reminded_on"])
    result.qualifications_renewed = renewed


def _later(new: dt.date | None, old: dt.date | None) -> bool:
    """Does an expiry of ``new`` outlast ``old``? None means it never expires."""
    if old is None:
        return False
    return new is None or new > old


# --- qualifications ---------------------------------------------------------------------

QUALIFICATION_FIELDS = ("kind", "certificate_no", "issuer", "issued_on", "expires_on")


def _clean_qualification(
    qualification: Qualification, today: dt.date, recompute_expiry: bool
) -> None:
    errors: dict[str, list[str]] = {}
    kind = qualification.kind if qualification.kind_id else None
    if kind is None:
        errors["kind"] = [_("证书类型：请选择证书类型")]
    qualification.certificate_no = _text(
        qualification.certificate_no, 60, "certificate_no", _("证书编号"), errors
    )
    qualification.issuer = _text(qualification.issuer, 100, "issuer", _("发证机构"), errors)
    issued_on = qualification.issued_on
    if issued_on is None:
        errors["issued_on"] = [_("发证日期：请填写发证日期")]
    elif issued_on > today:
        errors["issued_on"] = [_("发证日期不能晚于今天")]
    if recompute_expiry and qualification.expires_on is None and kind and issued_on:
        qualification.expires_on = expiry_for(kind, issued_on)
    if issued_on and qualification.expires_on and qualification.expires_on < issued_on:
        errors["expires_on"] = [
            _("有效期至不能早于发证日期（%(d)s）") % {"d": _date_label(issued_on)}
        ]
    if kind and qualification.certificate_no and "certificate_no" not in errors:
        clash = Qualification.objects.filter(
            volunteer_id=qualification.volunteer_id,
            kind=kind,
            certificate_no=qualification.certificate_no,
        ).exclude(pk=qualification.pk)
        if clash.exists():
            errors["certificate_no"] = [
                _("证书编号 %(no)s 已登记") % {"no": qualification.certificate_no}
            ]
    if errors:
        raise ValidationError(errors)


def _qualification_data(q: Qualification) -> dict[str, Any]:
    return {
        "kind": q.kind.name if q.kind_id else None,
        "certificate_no": q.certificate_no,
        "issuer": q.issuer,
        "issued_on": q.issued_on.isoformat() if q.issued_on else None,
        "expires_on": q.expires_on.isoformat() if q.expires_on else None,
    }


@transaction.atomic
def qualification_add(
    *,
    actor: Any,
    scope: Scope,
    volunteer: Volunteer,
    kind: QualificationType | None,
    issued_on: dt.date | None,
    expires_on: dt.date | None = None,
    certificate_no: str = "",
    issuer: str = "",
    today: dt.date | None = None,
) -> Qualification:
    """Add a certificate. A blank ``expires_on`` is computed from the type's validity."""
    _require_register(scope, volunteer)
    qualification = Qualification(
        volunteer=volunteer,
        kind=kind,
        certificate_no=certificate_no,
        issuer=issuer,
        issued_on=issued_on,
        expires_on=expires_on,
    )
    _clean_qualification(qualification, today or timezone.localdate(), recompute_expiry=True)
    qualification.save()
    log_action(actor, "qualification.add", qualification, _qualification_data(qualification))
    return qualification


@transaction.atomic
def qualification_update(
    *,
    actor: Any,
    scope: Scope,
    qualification: Qualification,
    today: dt.date | None = None,
    **changes: Any,
) -> Qualification:
    """Change a certificate. Setting ``expires_on`` to blank computes it again from the
    type's validity; a new expiry date clears the reminder, so the next one is sent."""
    unknown = set(changes) - set(QUALIFICATION_FIELDS)
    if unknown:
        raise ValidationError(_("不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    _require_register(scope, qualification.volunteer)
    qualification = (
        Qualification.objects.select_for_update()
        .select_related("kind", "volunteer__org")
        .get(pk=qualification.pk)
    )
    before = _qualification_data(qualification)
    old_expiry = qualification.expires_on
    for name, value in changes.items():
        setattr(qualification, name, value)
    _clean_qualification(
        qualification, today or timezone.localdate(), recompute_expiry="expires_on" in changes
    )
    if qualification.expires_on != old_expiry:
        qualification.reminded_on = None
    after = _qualification_data(qualification)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if diff:
        qualification.save()
        log_action(actor, "qualification.update", qualification, {"changes": diff})
    return qualification


@transaction.atomic
def qualification_remove(*, actor: Any, scope: Scope, qualification: Qualification) -> None:
    _require_register(scope, qualification.volunteer)
    log_action(actor, "qualification.remove", qualification, _qualification_data(qualification))
    qualification.delete()


# --- reminders (periodic) ---------------------------------------------------------------


def reminder_key(qualification: Qualification) -> str:
    expires = qualification.expires_on.isoformat() if qualification.expires_on else "never"
    return f"qualification:{qualification.pk}:{expires}"


def superseded() -> Exists:
    """A certificate is superseded when the volunteer holds another of the same type that
    lasts longer (or never expires): it is neither reminded of nor listed as expiring."""
    return Exists(
        Qualification.objects.filter(
            volunteer_id=OuterRef("volunteer_id"), kind_id=OuterRef("kind_id")
        ).filter(Q(expires_on__isnull=True) | Q(expires_on__gt=OuterRef("expires_on")))
    )


def qualification_reminders(*, today: dt.date | None = None) -> tuple[int, int]:
    """Remind each volunteer whose certificate expires within its type's reminder window
    (or the site's, ``HUZHU_QUALIFICATION_REMIND_DAYS``). Returns (sent, without login).

    Idempotent: a reminded certificate carries ``reminded_on`` and the notification's dedupe
    key names the certificate and its expiry date, so a second run sends nothing; renewing the
    certificate (a new expiry date) makes it due again. A volunteer without a login is left
    unmarked, so linking a login later still brings the reminder."""
    today = today or timezone.localdate()
    sent = without_login = 0
    for kind in QualificationType.objects.all():
        due = (
            Qualification.objects.filter(
                kind=kind,
                reminded_on__isnull=True,
                expires_on__gte=today,
                expires_on__lte=today + dt.timedelta(days=remind_days(kind)),
                volunteer__status__in=LIVE_STATUSES,
            )
            .exclude(superseded())
            .select_related("volunteer__person__user")
            .order_by("expires_on", "id")
        )
        for qualification in due.iterator(chunk_size=500):
            user = qualification.volunteer.person.user
            if user is None:
                without_login += 1
                continue
            with transaction.atomic():
                note = notify(
                    user=user,
                    kind=REMINDER_KIND,
                    title=_("您的%(kind)s将于%(date)s到期")
                    % {"kind": kind.name, "date": _date_label(qualification.expires_on)},
                    body=_("请及时参加复训或办理换证，以免影响志愿服务。证书编号：%(no)s")
                    % {"no": qualification.certificate_no or "—"},
                    url=reverse(
                        "volunteers:qualifications",
                        kwargs={"volunteer_id": qualification.volunteer_id},
                    ),
                    dedupe_key=reminder_key(qualification),
                )
                Qualification.objects.filter(pk=qualification.pk).update(reminded_on=today)
            sent += note is not None
    return sent, without_login
