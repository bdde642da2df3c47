"""Writes on service records (志愿服务记录) and certificates (志愿服务证明).

Records come from attendance (the time between check-in and check-out inside the shift,
rounded by the activity's rule — travel is never inside it) or are entered for work done
outside activities: declared by the volunteer and confirmed by the organiser, or entered by
the organiser. 待确认 → 已确认 (→ 更正, with the old values kept). No volunteer is credited
more than 24 hours on one day. Confirming a whole shift is one transaction with bulk
statements, whatever its size; the volunteers' recorded hours (archive, stars) are refreshed
in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.activities import notifications
from huzhu.activities.models import (
    MINUTES_PER_DAY,
    Activity,
    Certificate,
    CertificateStatus,
    RecordCorrection,
    RecordSource,
    RecordStatus,
    Rounding,
    ServiceRecord,
    Shift,
    Signup,
    SignupStatus,
)
from huzhu.activities.services import require
from huzhu.common.audit import log_action
from huzhu.common.bulk import write_rows
from huzhu.common.identity import mask_name
from huzhu.common.services import counter_next
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.timebank import services as timebank_services
from huzhu.volunteers.archive_selectors import format_hours
from huzhu.volunteers.archive_services import volunteer_minutes_refresh
from huzhu.volunteers.models import ServiceCategory, Volunteer

COUNTED = (RecordStatus.PENDING, RecordStatus.CONFIRMED)
CERTIFICATE_COUNTER = "certificate_number"


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def round_minutes(minutes: float, unit: int, mode: str) -> int:
    """Apply an activity's rounding rule (unit in minutes; down, nearest or up)."""
    if minutes <= 0:
        return 0
    units = minutes / unit
    if mode == Rounding.UP:
        whole = math.ceil(units - 1e-9)
    elif mode == Rounding.NEAREST:
        whole = math.floor(units + 0.5)
    else:
        whole = math.floor(units + 1e-9)
    return int(whole * unit)


def credited_minutes(shift: Shift, activity: Activity, signup: Signup | CheckTimes) -> int:
    """Minutes between check-in and check-out that fall inside the shift, rounded.
    Arriving early, staying late and travel are not service time; rounding up never credits
    more than the shift lasts."""
    if signup.checked_in_at is None or signup.checked_out_at is None:
        return 0
    start = max(signup.checked_in_at, shift.starts_at)
    end = min(signup.checked_out_at, shift.ends_at)
    seconds = (end - start).total_seconds()
    shift_minutes = int((shift.ends_at - shift.starts_at).total_seconds() // 60)
    return min(
        round_minutes(seconds / 60, activity.rounding_minutes, activity.rounding),
        shift_minutes,
        MINUTES_PER_DAY,
    )


# --- the daily ceiling ---------------------------------------------------------------------


def _check_day_limits(
    additions: dict[tuple[int, dt.date], int], exclude_ids: list[int] | None = None
) -> None:
    """Refuse when any volunteer would be credited more than 24 hours on one day (one
    aggregate query for the whole batch); the message names each volunteer and day."""
    if not additions:
        return
    volunteer_ids = {v for v, _ in additions}
    days = {d for _, d in additions}
    existing = (
        ServiceRecord.objects.filter(
            volunteer_id__in=volunteer_ids, served_on__in=days, status__in=COUNTED
        )
        .exclude(pk__in=exclude_ids or [])
        .values("volunteer_id", "served_on")
        .annotate(total=Sum("minutes"))
    )
    totals = {(row["volunteer_id"], row["served_on"]): row["total"] for row in existing}
    over = [
        (key, totals.get(key, 0) + minutes)
        for key, minutes in additions.items()
        if totals.get(key, 0) + minutes > MINUTES_PER_DAY
    ]
    if not over:
        return
    names = dict(
        Volunteer.objects.filter(pk__in={v for (v, _), _ in over}).values_list("pk", "person__name")
    )
    lines = [
        _("%(name)s 在 %(date)s 的服务时长合计 %(hours).1f 小时，超过一天 24 小时。")
        % {"name": names.get(v, v), "date": d, "hours": total / 60}
        for (v, d), total in over
    ]
    raise ValidationError(lines)


# --- records from attendance ---------------------------------------------------------------


@dataclass
class ShiftRecordsResult:
    created: int = 0
    confirmed: int = 0
    # (volunteer name, why no record): checked in but not out, or no credited time.
    skipped: list[tuple[str, str]] = field(default_factory=list)


class CheckTimes(NamedTuple):
    """The two times of a sign-up that ``credited_minutes`` reads."""

    checked_in_at: dt.datetime | None
    checked_out_at: dt.datetime | None


class Credited(NamedTuple):
    """A service credited from attendance, as plain values (what the notification and the
    roll-up read; a ``ServiceRecord`` has the same attributes)."""

    volunteer_id: int
    signup_id: int
    served_on: dt.date
    content: str
    minutes: int

    @property
    def hours(self) -> str:
        return format_hours(self.minutes)


RECORD_COLUMNS = (
    "volunteer_id",
    "org_id",
    "activity_id",
    "shift_id",
    "signup_id",
    "category_id",
    "served_on",
    "place",
    "content",
    "minutes",
    "evaluation",
    "source",
    "status",
    "recorder_id",
    "confirmer_id",
    "confirmed_at",
    "reject_reason",
    "created_at",
    "updated_at",
)


def _attendance_credits(shift: Shift) -> tuple[list[Credited], list[tuple[str, str]]]:
    """What each sign-up of the shift that has no record yet earns, and who earns nothing
    (with why). Plain values, not model instances: a 500-person shift would otherwise build
    1,500 objects (sign-up, volunteer, person) just to read two times and a name."""
    activity = shift.activity
    signups = (
        Signup.objects.filter(
            shift=shift, status=SignupStatus.CONFIRMED, checked_in_at__isnull=False
        )
        .filter(record__isnull=True)
        .values_list(
            "pk", "volunteer_id", "checked_in_at", "checked_out_at", "volunteer__person__name"
        )
    )
    served_on = timezone.localtime(shift.starts_at).date()
    content = (f"{activity.title} {shift.name}".strip())[:300]
    credits, skipped = [], []
    for signup_id, volunteer_id, checked_in_at, checked_out_at, name in signups:
        if checked_out_at is None:
            skipped.append((name, _("已签到未签退，请先更正签退时间")))
            continue
        times = CheckTimes(checked_in_at, checked_out_at)
        minutes = credited_minutes(shift, activity, times)
        if minutes <= 0:
            skipped.append((name, _("班次内的服务时长不足一个取整单位")))
            continue
        credits.append(Credited(volunteer_id, signup_id, served_on, content, minutes))
    return credits, skipped


def _write_attendance_records(
    actor: Any, shift: Shift, credits: list[Credited], status: str, now: dt.datetime
) -> None:
    """Insert the records of ``credits`` in one bulk statement (COPY on PostgreSQL)."""
    activity = shift.activity
    user_id = actor.pk if _is_user(actor) else None
    confirmed = status == RecordStatus.CONFIRMED
    place = activity.address[:200]
    write_rows(
        ServiceRecord,
        RECORD_COLUMNS,
        [
            (
                credit.volunteer_id,
                activity.org_id,
                activity.pk,
                shift.pk,
                credit.signup_id,
                activity.category_id,
                credit.served_on,
                place,
                credit.content,
                credit.minutes,
                "",
                RecordSource.ATTENDANCE,
                status,
                user_id,
                user_id if confirmed else None,
                now if confirmed else None,
                "",
                now,
                now,
            )
            for credit in credits
        ],
    )


def _credit_attendance(
    actor: Any, shift: Shift, status: str, now: dt.datetime
) -> tuple[Shift, list[Credited], list[tuple[str, str]]]:
    """Inside a transaction: lock the shift, then write a record of ``status`` for each
    sign-up that earned time and has none yet (refused past the daily ceiling). Returns the
    locked shift, the records written and who was skipped (with why)."""
    shift = Shift.objects.select_for_update().select_related("activity").get(pk=shift.pk)
    records, skipped = _attendance_credits(shift)
    _check_day_limits(_additions(records))
    _write_attendance_records(actor, shift, records, status, now)
    return shift, records, skipped


def shift_records_create(*, actor: Any, scope: Scope, shift: Shift) -> ShiftRecordsResult:
    """Turn the shift's attendance into records 待确认 (idempotent: one record per sign-up)."""
    require(scope, Perm.ACTIVITY_MANAGE, shift.activity.org)
    now = timezone.now()
    with transaction.atomic():
        shift, records, skipped = _credit_attendance(actor, shift, RecordStatus.PENDING, now)
        shift.records_created_at = now
        shift.save(update_fields=["records_created_at"])
        log_action(actor, "records.create_from_attendance", shift, {"created": len(records)})
    return ShiftRecordsResult(created=len(records), skipped=skipped)


def shift_confirm(*, actor: Any, scope: Scope, shift: Shift) -> ShiftRecordsResult:
    """Batch confirmation of a whole shift in one transaction: records not yet created from
    attendance are created confirmed, pending ones are confirmed, hours roll up into the
    volunteers' archives, and each volunteer is told."""
    require(scope, Perm.ACTIVITY_MANAGE, shift.activity.org)
    now = timezone.now()
    with transaction.atomic():
        shift, records, skipped = _credit_attendance(actor, shift, RecordStatus.CONFIRMED, now)
        pending = ServiceRecord.objects.filter(shift=shift, status=RecordStatus.PENDING)
        confirmed_ids = list(pending.values_list("pk", flat=True))
        pending.update(
            status=RecordStatus.CONFIRMED,
            confirmer=actor if _is_user(actor) else None,
            confirmed_at=now,
            updated_at=now,
        )
        if shift.records_created_at is None:
            shift.records_created_at = now
            shift.save(update_fields=["records_created_at"])
        done: list[Credited | ServiceRecord] = [
            *ServiceRecord.objects.filter(pk__in=confirmed_ids),
            *records,
        ]
        _after_confirm(done, actor=actor, shift=shift)
        log_action(
            actor,
            "records.confirm_shift",
            shift,
            {"created": len(records), "confirmed": len(done), "skipped": len(skipped)},
        )
    return ShiftRecordsResult(created=len(records), confirmed=len(done), skipped=skipped)


def _additions(
    records: Sequence[Credited | ServiceRecord],
) -> dict[tuple[int, dt.date], int]:
    additions: dict[tuple[int, dt.date], int] = defaultdict(int)
    for record in records:
        additions[(record.volunteer_id, record.served_on)] += record.minutes
    return additions


def _after_confirm(
    records: Sequence[Credited | ServiceRecord], *, actor: Any = None, shift: Shift | None = None
) -> None:
    """Hours roll up (archive, stars), the time bank credits them, and the volunteers hear
    about it. (Records written in bulk have no ids here: a shift's are found by the shift.)"""
    if not records:
        return
    record_ids = [r.pk for r in records if isinstance(r, ServiceRecord)]
    if shift is not None:
        record_ids = list(
            ServiceRecord.objects.filter(shift=shift, status=RecordStatus.CONFIRMED).values_list(
                "pk", flat=True
            )
        )
    timebank_services.credit_records(record_ids=record_ids, actor=actor)
    volunteer_ids = sorted({record.volunteer_id for record in records})
    volunteer_minutes_refresh(volunteer_ids=volunteer_ids)
    users = dict(
        Volunteer.objects.filter(pk__in=volunteer_ids).values_list("pk", "person__user_id")
    )
    notifications.hours_confirmed(records=records, users=users)


# --- records entered or declared -----------------------------------------------------------


@dataclass
class RecordInput:
    served_on: dt.date
    minutes: int
    content: str
    place: str
    category: ServiceCategory
    activity: Activity | None = None
    rating: int | None = None
    evaluation: str = ""


def _validate_record(data: RecordInput, today: dt.date) -> None:
    errors: dict[str, list[str]] = {}
    if data.served_on > today:
        errors["served_on"] = [_("服务日期不能晚于今天。")]
    if data.served_on < today - dt.timedelta(days=366 * 3):
        errors["served_on"] = [_("只能登记三年以内的服务。")]
    if not 1 <= data.minutes <= MINUTES_PER_DAY:
        errors["minutes"] = [_("服务时长应在 1 分钟到 24 小时之间。")]
    if not data.content.strip():
        errors["content"] = [_("请填写服务内容。")]
    if not data.place.strip():
        errors["place"] = [_("请填写服务地点。")]
    if errors:
        raise ValidationError(errors)


def _new_record(
    actor: Any, volunteer: Volunteer, org: Org, data: RecordInput, source: str
) -> ServiceRecord:
    return ServiceRecord(
        volunteer=volunteer,
        org=org,
        activity=data.activity,
        category=data.category,
        served_on=data.served_on,
        place=data.place.strip()[:200],
        content=data.content.strip()[:300],
        minutes=data.minutes,
        rating=data.rating,
        evaluation=data.evaluation.strip()[:200],
        source=source,
        recorder=actor if _is_user(actor) else None,
    )


def record_declare(
    *, actor: Any, volunteer: Volunteer, org: Org, data: RecordInput
) -> ServiceRecord:
    """A volunteer declares work done outside activities (本人申报); it waits, 待确认, for the
    org that organised the work (their community, corps or one of their teams)."""
    _validate_record(data, timezone.localdate())
    if org.pk not in {o.pk for o in declarable_orgs(volunteer)}:
        raise ValidationError({"org": [_("请选择您所在的社区、总队或服务队作为确认单位。")]})
    with transaction.atomic():
        _check_day_limits({(volunteer.pk, data.served_on): data.minutes})
        record = _new_record(actor, volunteer, org, data, RecordSource.DECLARED)
        record.save()
        log_action(actor, "record.declare", record, {"minutes": record.minutes})
    return record


def declarable_orgs(volunteer: Volunteer) -> list[Org]:
    """Where a volunteer can declare hours: their community and the teams they serve on,
    with each team's corps."""
    from huzhu.volunteers.models import TeamMembership

    orgs = {volunteer.org.pk: volunteer.org}
    community = volunteer.org
    if community.kind == "grid" and community.parent_id:
        community = Org.objects.get(pk=community.parent_id)
        orgs[community.pk] = community
    teams = Org.objects.filter(
        pk__in=TeamMembership.objects.filter(volunteer=volunteer, left_on__isnull=True).values(
            "team_id"
        )
    ).select_related("parent")
    for team in teams:
        orgs[team.pk] = team
        if team.parent is not None:
            orgs[team.parent.pk] = team.parent
    return sorted(orgs.values(), key=lambda o: o.path)


def record_enter(
    *,
    actor: Any,
    scope: Scope,
    volunteer: Volunteer,
    org: Org,
    data: RecordInput,
    confirm: bool = False,
) -> ServiceRecord:
    """The organiser enters a record (组织录入), confirmed at once when asked."""
    require(scope, Perm.ACTIVITY_MANAGE, org)
    _validate_record(data, timezone.localdate())
    with transaction.atomic():
        _check_day_limits({(volunteer.pk, data.served_on): data.minutes})
        record = _new_record(actor, volunteer, org, data, RecordSource.ENTERED)
        if confirm:
            record.status = RecordStatus.CONFIRMED
            record.confirmer = actor if _is_user(actor) else None
            record.confirmed_at = timezone.now()
        record.save()
        log_action(actor, "record.enter", record, {"minutes": record.minutes, "confirm": confirm})
        if confirm:
            _after_confirm([record], actor=actor)
    return record


def record_from_need(
    *, actor: Any, volunteer: Volunteer, org: Org, data: RecordInput
) -> ServiceRecord:
    """A completed need becomes a confirmed service record of the need's community (which
    certifies it). The time bank is not credited from issuance: the need's requester or the
    community pool pays the volunteer instead, linked to this record."""
    _validate_record(data, timezone.localdate())
    with transaction.atomic():
        _check_day_limits({(volunteer.pk, data.served_on): data.minutes})
        record = _new_record(actor, volunteer, org, data, RecordSource.NEED)
        record.status = RecordStatus.CONFIRMED
        record.confirmer = actor if _is_user(actor) else None
        record.confirmed_at = timezone.now()
        record.save()
        log_action(actor, "record.from_need", record, {"minutes": record.minutes})
        _after_confirm([record], actor=actor)
    return record


def records_confirm(*, actor: Any, scope: Scope, record_ids: list[int]) -> int:
    """Confirm chosen records 待确认 within the actor's scope (one UPDATE)."""
    now = timezone.now()
    with transaction.atomic():
        qs = ServiceRecord.objects.within(scope, Perm.ACTIVITY_MANAGE).filter(
            pk__in=record_ids, status=RecordStatus.PENDING
        )
        ids = list(qs.select_for_update().values_list("pk", flat=True))
        if len(ids) != len(set(record_ids)):
            raise ValidationError(_("部分记录不存在、不是待确认状态或不在您的管理范围内。"))
        ServiceRecord.objects.filter(pk__in=ids).update(
            status=RecordStatus.CONFIRMED,
            confirmer=actor if _is_user(actor) else None,
            confirmed_at=now,
            updated_at=now,
        )
        records = list(ServiceRecord.objects.filter(pk__in=ids))
        _after_confirm(records, actor=actor)
        for record in records:
            log_action(actor, "record.confirm", record, {"minutes": record.minutes})
    return len(ids)


def record_reject(*, actor: Any, scope: Scope, record: ServiceRecord, reason: str) -> ServiceRecord:
    require(scope, Perm.ACTIVITY_MANAGE, record.org)
    if not reason.strip():
        raise ValidationError({"reason": [_("请说明退回原因。")]})
    with transaction.atomic():
        record = ServiceRecord.objects.select_for_update().get(pk=record.pk)
        if record.status != RecordStatus.PENDING:
            raise ValidationError(_("只能退回待确认的记录。"))
        record.status = RecordStatus.REJECTED
        record.reject_reason = reason.strip()[:200]
        record.save(update_fields=["status", "reject_reason", "updated_at"])
        log_action(actor, "record.reject", record, {"reason": reason})
    return record


def record_revoke(*, actor: Any, scope: Scope, record: ServiceRecord, reason: str) -> ServiceRecord:
    """撤销 a confirmed record (e.g. hours found to be false): its hours leave the archive and
    stars, and its time-bank credit is reversed — refused, with nothing changed, if the
    volunteer has already spent those credits."""
    require(scope, Perm.ACTIVITY_MANAGE, record.org)
    if not reason.strip():
        raise ValidationError({"reason": [_("请说明撤销原因。")]})
    with transaction.atomic():
        record = ServiceRecord.objects.select_for_update().get(pk=record.pk)
        if record.status != RecordStatus.CONFIRMED:
            raise ValidationError(_("只能撤销已确认的记录。"))
        record.status = RecordStatus.REVOKED
        record.reject_reason = reason.strip()[:200]
        record.save(update_fields=["status", "reject_reason", "updated_at"])
        volunteer_minutes_refresh(volunteer_ids=[record.volunteer_id])
        timebank_services.record_revoked(record=record, actor=actor)
        log_action(actor, "record.revoke", record, {"reason": reason, "minutes": record.minutes})
    return record


CORRECTABLE = ("served_on", "minutes", "content", "place", "rating", "evaluation")


def record_correct(
    *, actor: Any, scope: Scope, record: ServiceRecord, reason: str, **changes: Any
) -> ServiceRecord:
    """更正 a confirmed record: the old values and the reason are kept, hours roll up again
    (the time bank posts the difference when it exists)."""
    require(scope, Perm.ACTIVITY_MANAGE, record.org)
    if not reason.strip():
        raise ValidationError({"reason": [_("请填写更正原因。")]})
    unknown = set(changes) - set(CORRECTABLE)
    if unknown:
        raise ValidationError(_("不能更正这些字段：%(f)s") % {"f": "、".join(sorted(unknown))})
    with transaction.atomic():
        record = ServiceRecord.objects.select_for_update().get(pk=record.pk)
        if record.status != RecordStatus.CONFIRMED:
            raise ValidationError(_("只能更正已确认的记录；待确认的记录可直接退回或确认。"))
        old = {name: getattr(record, name) for name in CORRECTABLE}
        for name, value in changes.items():
            setattr(record, name, value)
        _validate_record(
            RecordInput(
                served_on=record.served_on,
                minutes=record.minutes,
                content=record.content,
                place=record.place,
                category=record.category,
            ),
            timezone.localdate(),
        )
        changed = {k: v for k, v in old.items() if getattr(record, k) != v}
        if not changed:
            raise ValidationError(_("没有需要更正的内容。"))
        _check_day_limits({(record.volunteer_id, record.served_on): record.minutes}, [record.pk])
        record.save()
        RecordCorrection.objects.create(
            record=record,
            old_minutes=old["minutes"],
            new_minutes=record.minutes,
            old_values={k: str(v) for k, v in changed.items()},
            reason=reason.strip()[:200],
            actor=actor if _is_user(actor) else None,
        )
        volunteer_minutes_refresh(volunteer_ids=[record.volunteer_id])
        timebank_services.record_corrected(record=record, old_minutes=old["minutes"], actor=actor)
        log_action(
            actor,
            "record.correct",
            record,
            {"reason": reason, "changed": {k: str(v) for k, v in changed.items()}},
        )
    return record


def record_evaluate(
    *, actor: Any, scope: Scope, record: ServiceRecord, rating: int | None, evaluation: str
) -> ServiceRecord:
    """The organiser's evaluation of one service (评价), any time after it is recorded."""
    require(scope, Perm.ACTIVITY_MANAGE, record.org)
    if rating is not None and rating not in (1, 3, 4, 5):
        raise ValidationError({"rating": [_("评价等级无效。")]})
    record.rating = rating
    record.evaluation = evaluation.strip()[:200]
    record.save(update_fields=["rating", "evaluation", "updated_at"])
    log_action(actor, "record.evaluate", record, {"rating": rating})
    return record


# --- certificates ---------------------------------------------------------------------------


def certified_records(certificate: Certificate) -> QuerySet[ServiceRecord]:
    """The confirmed records a certificate covers: the volunteer's, recorded by its org or
    an org under it, within its period; by date."""
    return ServiceRecord.objects.filter(
        volunteer_id=certificate.volunteer_id,
        status=RecordStatus.CONFIRMED,
        org__path__startswith=certificate.org.path,
        served_on__gte=certificate.period_from,
        served_on__lte=certificate.period_to,
    ).order_by("served_on", "id")


def _certified_records(certificate: Certificate) -> QuerySet[ServiceRecord]:
    return certified_records(certificate).select_related("category", "activity")


def certificate_orgs(volunteer: Volunteer) -> list[Org]:
    """The orgs that recorded confirmed service of this volunteer (who may certify it)."""
    ids = (
        ServiceRecord.objects.filter(volunteer=volunteer, status=RecordStatus.CONFIRMED)
        .values_list("org_id", flat=True)
        .distinct()
    )
    return list(Org.objects.filter(pk__in=ids).order_by("path"))


def certificate_apply(
    *,
    actor: Any,
    volunteer: Volunteer,
    org: Org,
    period_from: dt.date,
    period_to: dt.date,
    purpose: str = "",
) -> Certificate:
    """申请: a volunteer asks the recording org for a certificate over a period."""
    today = timezone.localdate()
    errors: dict[str, list[str]] = {}
    if period_to < period_from:
        errors["period_to"] = [_("结束日期不能早于开始日期。")]
    if period_to > today:
        errors["period_to"] = [_("结束日期不能晚于今天。")]
    if errors:
        raise ValidationError(errors)
    if org.pk not in {o.pk for o in certificate_orgs(volunteer)}:
        raise ValidationError({"org": [_("该单位没有记录过您的已确认服务，不能由其出具证明。")]})
    probe = Certificate(volunteer=volunteer, org=org, period_from=period_from, period_to=period_to)
    if not _certified_records(probe).exists():
        raise ValidationError(_("该期间内没有该单位确认的服务记录。"))
    with transaction.atomic():
        if Certificate.objects.filter(
            volunteer=volunteer, org=org, status=CertificateStatus.APPLIED
        ).exists():
            raise ValidationError(_("您向该单位的证明申请尚在办理中，请等待开具。"))
        certificate = Certificate.objects.create(
            volunteer=volunteer,
            org=org,
            period_from=period_from,
            period_to=period_to,
            purpose=purpose.strip()[:100],
            applied_by=actor if _is_user(actor) else None,
        )
        log_action(actor, "certificate.apply", certificate, {"org": org.name})
    return certificate


def _snapshot(certificate: Certificate, records: list[ServiceRecord]) -> dict[str, Any]:
    volunteer = certificate.volunteer
    person = volunteer.person
    by_category: dict[str, int] = defaultdict(int)
    for record in records:
        by_category[record.category.name] += record.minutes
    return {
        "name": person.name,
        "name_masked": mask_name(person.name),
        "id_masked": person.id_number_masked,
        "volunteer_number": volunteer.number,
        "org_name": certificate.org.name,
        "records": [
            {
                "date": record.served_on.isoformat(),
                "content": record.content,
                "place": record.place,
                "category": record.category.name,
                "minutes": record.minutes,
                "hours": record.hours,
            }
            for record in records
        ],
        "categories": sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0])),
    }


def certificate_issue(*, actor: Any, scope: Scope, certificate: Certificate) -> Certificate:
    """受理 → 开具, free of charge: the content is frozen, a number and a verification code
    are given, and the volunteer is told."""
    require_certify(scope, certificate.org)
    with transaction.atomic():
        certificate = (
            Certificate.objects.select_for_update()
            .select_related("volunteer__person", "org")
            .get(pk=certificate.pk)
        )
        if certificate.status != CertificateStatus.APPLIED:
            raise ValidationError(_("该证明不是待开具状态。"))
        records = list(_certified_records(certificate))
        if not records:
            raise ValidationError(_("该期间内没有该单位确认的服务记录，不能开具。"))
        now = timezone.now()
        serial = counter_next(CERTIFICATE_COUNTER)
        certificate.number = f"ZYZM{timezone.localtime(now):%Y}{serial:08d}"
        certificate.snapshot = _snapshot(certificate, records)
        certificate.snapshot["verify_code"] = new_verify_code()
        certificate.total_minutes = sum(r.minutes for r in records)
        certificate.record_count = len(records)
        certificate.status = CertificateStatus.ISSUED
        certificate.issued_at = now
        certificate.issued_by = actor if _is_user(actor) else None
        certificate.save()
        log_action(
            actor,
            "certificate.issue",
            certificate,
            {"number": certificate.number, "minutes": certificate.total_minutes},
        )
        notifications.certificate_decided(certificate=certificate)
    return certificate


VERIFY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_verify_code() -> str:
    return "".join(secrets.choice(VERIFY_ALPHABET) for _ in range(8))


def require_certify(scope: Scope, org: Org) -> None:
    if not scope.can(Perm.RECORD_CERTIFY, org):
        raise PermissionDenied(_("没有为该单位开具志愿服务证明的权限。"))


def _certificate_decide(
    *,
    actor: Any,
    scope: Scope,
    certificate: Certificate,
    reason: str,
    no_reason: str,
    from_status: str,
    wrong_status: str,
    to_status: str,
    action: str,
    stamp: str | None = None,
) -> Certificate:
    """A decision that needs a reason: move the certificate ``from_status`` → ``to_status``
    (``stamp``, if given, is the time field set to now), log ``action`` and tell the
    volunteer. ``no_reason`` and ``wrong_status`` are the refusals' messages."""
    require_certify(scope, certificate.org)
    if not reason.strip():
        raise ValidationError({"reason": [no_reason]})
    with transaction.atomic():
        certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if certificate.status != from_status:
            raise ValidationError(wrong_status)
        certificate.status = to_status
        certificate.decision_reason = reason.strip()[:200]
        fields = ["status", "decision_reason"]
        if stamp is not None:
            setattr(certificate, stamp, timezone.now())
            fields.append(stamp)
        certificate.save(update_fields=fields)
        log_action(actor, action, certificate, {"reason": reason})
        notifications.certificate_decided(certificate=certificate)
    return certificate


def certificate_reject(
    *, actor: Any, scope: Scope, certificate: Certificate, reason: str
) -> Certificate:
    return _certificate_decide(
        actor=actor,
        scope=scope,
        certificate=certificate,
        reason=reason,
        no_reason=_("请说明不予开具的原因。"),
        from_status=CertificateStatus.APPLIED,
        wrong_status=_("该证明不是待开具状态。"),
        to_status=CertificateStatus.REJECTED,
        action="certificate.reject",
    )


def certificate_revoke(
    *, actor: Any, scope: Scope, certificate: Certificate, reason: str
) -> Certificate:
    """撤销: the verification page shows the revocation from now on."""
    return _certificate_decide(
        actor=actor,
        scope=scope,
        certificate=certificate,
        reason=reason,
        no_reason=_("请说明撤销原因。"),
        from_status=CertificateStatus.ISSUED,
        wrong_status=_("只能撤销已开具的证明。"),
        to_status=CertificateStatus.REVOKED,
        action="certificate.revoke",
        stamp="revoked_at",
    )


def certificate_download_logged(*, actor: Any, certificate: Certificate) -> None:
    if certificate.status not in (CertificateStatus.ISSUED, CertificateStatus.REVOKED):
        raise PermissionDenied(_("证明尚未开具。"))
    log_action(actor, "certificate.download", certificate, {"number": certificate.number})
