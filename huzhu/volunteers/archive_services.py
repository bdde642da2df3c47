"""Writes on a volunteer's archive: stars, honours, evaluations and the hour roll-up.

The star rule (DOMAIN.md §4): recorded hours reach the configurable threshold of a level
(``HUZHU_STAR_THRESHOLDS_HOURS``); the volunteer or a worker applies; a worker publicises the
application for ``HUZHU_STAR_PUBLICITY_WORKDAYS`` working days; once that period has passed a
worker grants (or rejects) it. Falsified hours bar the volunteer from applying for
``HUZHU_STAR_BAR_MONTHS`` months. Every function is atomic, validated and audited.
"""

from __future__ import annotations

import calendar as month_calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.calendar import add_working_days
from huzhu.common.services import notify
from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Perm, Role
from huzhu.orgs.scope import Scope
from huzhu.volunteers.archive_selectors import (
    OPEN_STATUSES,
    cn_date,
    evaluation_orgs,
    format_hours,
    is_barred,
    service_minutes_subquery,
    star_label,
    threshold_minutes,
)
from huzhu.volunteers.models import (
    Evaluation,
    EvaluationGrade,
    Honour,
    HonourLevel,
    StarApplication,
    StarStatus,
    Volunteer,
    VolunteerStatus,
)
from huzhu.volunteers.services import star_thresholds_minutes

PUBLICITY_ENDED_KIND = "star.publicity_ended"


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later; the 31st becomes the month's last day where needed."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = month_calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


# --- permission helpers -------------------------------------------------------------------


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _is_own(scope: Scope, volunteer: Volunteer) -> bool:
    return scope.person_id is not None and scope.person_id == volunteer.person_id


def _require_manage(scope: Scope, volunteer: Volunteer) -> None:
    if not scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org):
        raise PermissionDenied(_("您没有管理该志愿者的权限"))


def _require_own_or_manage(scope: Scope, volunteer: Volunteer) -> None:
    if not (_is_own(scope, volunteer) or scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org)):
        raise PermissionDenied(_("只有志愿者本人或社区工作者可以办理"))


def _lock_volunteer(volunteer: Volunteer) -> Volunteer:
    return (
        Volunteer.objects.select_for_update().select_related("person", "org").get(pk=volunteer.pk)
    )


def _lock_application(application: StarApplication) -> StarApplication:
    """Lock the volunteer first, then the application: every star service takes the locks
    in this order, so two workers acting at once queue instead of deadlocking."""
    volunteer = _lock_volunteer(application.volunteer)
    locked = StarApplication.objects.select_for_update().get(pk=application.pk)
    locked.volunteer = volunteer
    return locked


# --- stars --------------------------------------------------------------------------------


def star_check_eligible(volunteer: Volunteer, level: int, today: dt.date) -> None:
    """Raise ValidationError naming the rule and the numbers when ``volunteer`` may not
    apply for ``level`` today."""
    if volunteer.status != VolunteerStatus.REGISTERED:
        raise ValidationError(_("只有已注册的志愿者可以申请星级认定"))
    if is_barred(volunteer, today):
        raise ValidationError(
            _("该志愿者因服务时长记录不实，%(date)s前不得申请星级认定")
            % {"date": cn_date(volunteer.star_barred_until)}
        )
    needed = threshold_minutes(level)
    if needed is None:
        raise ValidationError(
            _("可申请的星级为一星级至%(max)s") % {"max": star_label(len(star_thresholds_minutes()))}
        )
    if level <= volunteer.star_level:
        raise ValidationError(
            _("已认定为%(current)s志愿者，只能申请更高星级")
            % {"current": star_label(volunteer.star_level)}
        )
    if volunteer.recorded_minutes < needed:
        raise ValidationError(
            _("申请%(level)s需累计服务满%(needed)s小时，目前为%(hours)s小时")
            % {
                "level": star_label(level),
                "needed": format_hours(needed),
                "hours": format_hours(volunteer.recorded_minutes),
            }
        )


@transaction.atomic
def star_apply(
    *,
    actor: Any,
    scope: Scope,
    volunteer: Volunteer,
    level: int,
    today: dt.date | None = None,
) -> StarApplication:
    """Apply for a star: by the volunteer themself or by a worker on their behalf."""
    today = today or timezone.localdate()
    _require_own_or_manage(scope, volunteer)
    volunteer = _lock_volunteer(volunteer)
    try:
        level = int(level)
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("请选择申请的星级")) from exc
    open_application = (
        StarApplication.objects.filter(volunteer=volunteer, status__in=OPEN_STATUSES)
        .order_by("-id")
        .first()
    )
    if open_application is not None:
        raise ValidationError(
            _("已有一份%(level)s申请正在办理（%(status)s），请等待认定结果或先撤回")
            % {
                "level": star_label(open_application.level),
                "status": open_application.get_status_display(),
            }
        )
    star_check_eligible(volunteer, level, today)
    try:
        with transaction.atomic():
            application = StarApplication.objects.create(
                volunteer=volunteer,
                level=level,
                minutes_at_application=volunteer.recorded_minutes,
                applied_by=actor if _is_user(actor) else None,
            )
    except IntegrityError as exc:  # another application was opened at the same moment
        raise ValidationError(_("已有一份星级申请正在办理，请等待认定结果或先撤回")) from exc
    log_action(
        actor,
        "star.apply",
        application,
        {
            "volunteer": volunteer.number,
            "level": level,
            "hours": format_hours(volunteer.recorded_minutes),
            "own": _is_own(scope, volunteer),
        },
    )
    return application


@transaction.atomic
def star_start_publicity(
    *,
    actor: Any,
    scope: Scope,
    application: StarApplication,
    today: dt.date | None = None,
) -> StarApplication:
    """Publicise an application for N working days (today not counted)."""
    today = today or timezone.localdate()
    _require_manage(scope, application.volunteer)
    application = _lock_application(application)
    if application.status != StarStatus.APPLIED:
        raise ValidationError(
            _("只有“已申请”的星级申请可以开始公示，该申请为“%(status)s”")
            % {"status": application.get_status_display()}
        )
    result = add_working_days(today, settings.HUZHU_STAR_PUBLICITY_WORKDAYS)
    application.status = StarStatus.PUBLICISING
    application.publicity_starts_on = today
    application.publicity_ends_on = result.day
    application.calendar_warning = result.warning[:200]
    application.save(
        update_fields=["status", "publicity_starts_on", "publicity_ends_on", "calendar_warning"]
    )
    log_action(
        actor,
        "star.publicity",
        application,
        {
            "volunteer": application.volunteer.number,
            "level": application.level,
            "starts_on": today.isoformat(),
            "ends_on": result.day.isoformat(),
            "workdays": settings.HUZHU_STAR_PUBLICITY_WORKDAYS,
            "calendar_warning": result.warning,
        },
    )
    return application


@transaction.atomic
def star_grant(
    *,
    actor: Any,
    scope: Scope,
    application: StarApplication,
    today: dt.date | None = None,
) -> StarApplication:
    """Grant the star once the publicity period has passed."""
    today = today or timezone.localdate()
    _require_manage(scope, application.volunteer)
    application = _lock_application(application)
    volunteer = application.volunteer
    if application.status != StarStatus.PUBLICISING:
        raise ValidationError(
            _("只有公示期满的申请可以认定，该申请为“%(status)s”")
            % {"status": application.get_status_display()}
        )
    if today <= application.publicity_ends_on:
        raise ValidationError(
            _("公示期至%(date)s，期满后方可认定") % {"date": cn_date(application.publicity_ends_on)}
        )
    if is_barred(volunteer, today):
        raise ValidationError(
            _("该志愿者因服务时长记录不实，%(date)s前不得认定星级")
            % {"date": cn_date(volunteer.star_barred_until)}
        )
    needed = threshold_minutes(application.level) or 0
    if volunteer.recorded_minutes < needed:
        raise ValidationError(
            _("认定%(level)s需累计服务满%(needed)s小时，目前为%(hours)s小时")
            % {
                "level": star_label(application.level),
                "needed": format_hours(needed),
                "hours": format_hours(volunteer.recorded_minutes),
            }
        )
    old = volunteer.star_level
    volunteer.star_level = max(old, application.level)
    volunteer.save(update_fields=["star_level", "updated_at"])
    application.status = StarStatus.GRANTED
    application.decided_by = actor if _is_user(actor) else None
    application.decided_at = timezone.now()
    application.save(update_fields=["status", "decided_by", "decided_at"])
    log_action(
        actor,
        "star.grant",
        application,
        {"volunteer": volunteer.number, "from": old, "to": volunteer.star_level},
    )
    return application


@transaction.atomic
def star_reject(
    *, actor: Any, scope: Scope, application: StarApplication, reason: str
) -> StarApplication:
    _require_manage(scope, application.volunteer)
    reason = (reason or "").strip()[:200]
    if not reason:
        raise ValidationError({"reason": _("请填写不予认定的原因")})
    application = _lock_application(application)
    _require_open(application)
    application.status = StarStatus.REJECTED
    application.decided_by = actor if _is_user(actor) else None
    application.decided_at = timezone.now()
    application.decision_reason = reason
    application.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    log_action(
        actor,
        "star.reject",
        application,
        {"volunteer": application.volunteer.number, "level": application.level, "reason": reason},
    )
    return application


@transaction.atomic
def star_withdraw(
    *, actor: Any, scope: Scope, application: StarApplication, reason: str = ""
) -> StarApplication:
    """The volunteer (or a worker for them) withdraws an open application."""
    _require_own_or_manage(scope, application.volunteer)
    reason = (reason or "").strip()[:200]
    application = _lock_application(application)
    _require_open(application)
    application.status = StarStatus.WITHDRAWN
    application.decided_by = actor if _is_user(actor) else None
    application.decided_at = timezone.now()
    application.decision_reason = reason
    application.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    log_action(
        actor,
        "star.withdraw",
        application,
        {"volunteer": application.volunteer.number, "level": application.level, "reason": reason},
    )
    return application


def _require_open(application: StarApplication) -> None:
    if application.status not in OPEN_STATUSES:
        raise ValidationError(
            _("该申请已办结（%(status)s）") % {"status": application.get_status_display()}
        )


@transaction.atomic
def star_bar(
    *,
    actor: Any,
    scope: Scope,
    volunteer: Volunteer,
    reason: str,
    today: dt.date | None = None,
) -> Volunteer:
    """Record falsified hours: the volunteer may not apply for a star for
    ``HUZHU_STAR_BAR_MONTHS`` months; an open application is closed as not granted."""
    today = today or timezone.localdate()
    _require_manage(scope, volunteer)
    reason = (reason or "").strip()[:200]
    if not reason:
        raise ValidationError({"reason": _("请填写服务时长不实的情况")})
    volunteer = _lock_volunteer(volunteer)
    until = add_months(today, settings.HUZHU_STAR_BAR_MONTHS)
    old = volunteer.star_barred_until
    volunteer.star_barred_until = max(until, old) if old else until
    volunteer.save(update_fields=["star_barred_until", "updated_at"])
    closed = []
    for application in StarApplication.objects.select_for_update().filter(
        volunteer=volunteer, status__in=OPEN_STATUSES
    ):
        application.status = StarStatus.REJECTED
        application.decided_by = actor if _is_user(actor) else None
        application.decided_at = timezone.now()
        application.decision_reason = (_("服务时长记录不实：%(r)s") % {"r": reason})[:200]
        application.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        closed.append(application.pk)
    log_action(
        actor,
        "star.bar",
        volunteer,
        {
            "until": volunteer.star_barred_until.isoformat(),
            "months": settings.HUZHU_STAR_BAR_MONTHS,
            "reason": reason,
            "closed_applications": closed,
        },
    )
    return volunteer


def star_publicity_ended_notify(*, today: dt.date) -> str:
    """Tell the community's workers and admins about each application whose publicity period
    has ended and that awaits a decision. Idempotent: one notification per user and
    application, however often it runs (the periodic job "volunteers.star_publicity_ended")."""
    applications = list(
        StarApplication.objects.filter(status=StarStatus.PUBLICISING, publicity_ends_on__lt=today)
        .select_related("volunteer__person", "volunteer__org")
        .order_by("publicity_ends_on", "id")
    )
    if not applications:
        return _("没有公示期满待认定的星级申请")
    org_ids = {pk for a in applications for pk in a.volunteer.org.ancestor_ids}
    kinds = dict(Org.objects.filter(pk__in=org_ids).values_list("pk", "kind"))
    users_by_org: dict[int, list[Any]] = defaultdict(list)
    for grant in (
        RoleGrant.objects.filter(
            org_id__in=org_ids,
            org__is_active=True,
            role__in=(Role.WORKER, Role.ADMIN),
            user__is_active=True,
        )
        .select_related("user")
        .order_by("user_id")
    ):
        users_by_org[grant.org_id].append(grant.user)
    url = reverse("volunteers:stars")
    sent = 0
    for application in applications:
        volunteer = application.volunteer
        title = _("星级公示期满待认定：%(name)s（%(level)s）") % {
            "name": volunteer.person.name,
            "level": star_label(application.level),
        }
        body = _("%(number)s的%(level)s申请公示期%(start)s至%(end)s已满，请作出认定决定。") % {
            "number": volunteer.number,
            "level": star_label(application.level),
            "start": cn_date(application.publicity_starts_on),
            "end": cn_date(application.publicity_ends_on),
        }
        for user in _community_staff(volunteer.org.ancestor_ids, kinds, users_by_org):
            note = notify(
                user=user,
                kind=PUBLICITY_ENDED_KIND,
                title=title,
                body=body,
                url=url,
                dedupe_key=f"{PUBLICITY_ENDED_KIND}:{application.pk}",
            )
            sent += note is not None
    return _("%(apps)d份星级申请公示期满待认定，新发提醒%(sent)d条") % {
        "apps": len(applications),
        "sent": sent,
    }


def _community_staff(
    path_ids: list[int], kinds: dict[int, str], users_by_org: dict[int, list[Any]]
) -> list[Any]:
    """Workers and admins granted on the volunteer's community (or a grid under it). When
    nobody is, the nearest level above that has any, so no decision waits unseen."""
    start = len(path_ids) - 1
    for index, org_id in enumerate(path_ids):
        if kinds.get(org_id) == OrgKind.COMMUNITY:
            start = index
    levels = [path_ids[start:]] + [[org_id] for org_id in reversed(path_ids[:start])]
    for level in levels:
        seen: dict[int, Any] = {}
        for org_id in level:
            for user in users_by_org.get(org_id, ()):
                seen.setdefault(user.pk, user)
        if seen:
            return list(seen.values())
    return []


# --- honours and evaluations --------------------------------------------------------------


@transaction.atomic
def honour_add(
    *,
    actor: Any,
    scope: Scope,
    volunteer: Volunteer,
    title: str,
    level: str,
    awarded_by: str,
    awarded_on: dt.date | None,
    today: dt.date | None = None,
) -> Honour:
    today = today or timezone.localdate()
    _require_manage(scope, volunteer)
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    awarded_by = (awarded_by or "").strip()
    if not title:
        errors["title"] = [_("请填写荣誉名称")]
    elif len(title) > 100:
        errors["title"] = [_("荣誉名称不能超过100个字")]
    if level not in HonourLevel.values:
        errors["level"] = [_("请选择荣誉级别")]
    if not awarded_by:
        errors["awarded_by"] = [_("请填写授予单位")]
    elif len(awarded_by) > 100:
        errors["awarded_by"] = [_("授予单位不能超过100个字")]
    if awarded_on is None:
        errors["awarded_on"] = [_("请填写授予日期")]
    elif awarded_on > today:
        errors["awarded_on"] = [_("授予日期不能晚于今天")]
    if errors:
        raise ValidationError(errors)
    honour = Honour.objects.create(
        volunteer=volunteer,
        title=title,
        level=level,
        awarded_by=awarded_by,
        awarded_on=awarded_on,
    )
    log_action(
        actor,
        "honour.add",
        honour,
        {
            "volunteer": volunteer.number,
            "title": title,
            "level": level,
            "awarded_by": awarded_by,
            "awarded_on": awarded_on.isoformat(),
        },
    )
    return honour


@transaction.atomic
def honour_remove(*, actor: Any, scope: Scope, honour: Honour) -> None:
    volunteer = honour.volunteer
    _require_manage(scope, volunteer)
    log_action(
        actor,
        "honour.remove",
        volunteer,
        {
            "title": honour.title,
            "level": honour.level,
            "awarded_by": honour.awarded_by,
            "awarded_on": honour.awarded_on.isoformat(),
        },
    )
    honour.delete()


@transaction.atomic
def evaluation_add(
    *,
    actor: Any,
    scope: Scope,
    volunteer: Volunteer,
    year: int,
    grade: str,
    comment: str = "",
    org: Org | None = None,
    today: dt.date | None = None,
) -> Evaluation:
    """The yearly evaluation (年度评价) of a volunteer by one org: once per year per org."""
    today = today or timezone.localdate()
    _require_manage(scope, volunteer)
    allowed = evaluation_orgs(scope=scope, volunteer=volunteer)
    if org is None:  # by default the community evaluates (a grid is part of it)
        org = next((o for o in allowed if o.kind == OrgKind.COMMUNITY), volunteer.org)
    errors: dict[str, list[str]] = {}
    if org.pk not in {o.pk for o in allowed}:
        errors["org"] = [_("请选择志愿者所在的社区或服务队")]
    try:
        year = int(year)
    except (TypeError, ValueError):
        errors["year"] = [_("请填写年度")]
    else:
        if not 2000 <= year <= today.year:
            errors["year"] = [_("年度应在2000年至%(y)d年之间") % {"y": today.year}]
    if grade not in EvaluationGrade.values:
        errors["grade"] = [_("请选择评价等级")]
    comment = (comment or "").strip()
    if errors:
        raise ValidationError(errors)
    duplicate = ValidationError(
        {
            "year": [
                _("%(org)s已作出%(year)d年度评价，每个组织每年只评价一次")
                % {"org": org.name, "year": year}
            ]
        }
    )
    if Evaluation.objects.filter(volunteer=volunteer, year=year, org=org).exists():
        raise duplicate
    try:
        with transaction.atomic():
            evaluation = Evaluation.objects.create(
                volunteer=volunteer,
                year=year,
                grade=grade,
                comment=comment,
                org=org,
                evaluator=actor if _is_user(actor) else None,
            )
    except IntegrityError as exc:
        raise duplicate from exc
    log_action(
        actor,
        "evaluation.add",
        evaluation,
        {"volunteer": volunteer.number, "year": year, "grade": grade, "org": org.name},
    )
    return evaluation


@transaction.atomic
def evaluation_remove(*, actor: Any, scope: Scope, evaluation: Evaluation) -> None:
    volunteer = evaluation.volunteer
    _require_manage(scope, volunteer)
    if not scope.can(Perm.VOLUNTEER_MANAGE, evaluation.org):
        raise PermissionDenied(_("只能撤销本组织作出的评价"))
    log_action(
        actor,
        "evaluation.remove",
        volunteer,
        {"year": evaluation.year, "grade": evaluation.grade, "org": evaluation.org.name},
    )
    evaluation.delete()


# --- hours and printing -------------------------------------------------------------------


@transaction.atomic
def volunteer_minutes_refresh(*, volunteer_ids: Sequence[int]) -> int:
    """Recompute ``Volunteer.recorded_minutes`` = imported historical minutes + confirmed
    service minutes, for the given volunteers, in one UPDATE. Returns the rows updated."""
    return Volunteer.objects.filter(pk__in=list(volunteer_ids)).update(
        recorded_minutes=F("historical_minutes") + Coalesce(service_minutes_subquery(), 0)
    )


def archive_printed(*, actor: Any, volunteer: Volunteer, fmt: str = "pdf") -> None:
    """An archive left the system on paper or as a file: audited like an export."""
    log_action(
        actor,
        "volunteer.archive_print",
        volunteer,
        {"number": volunteer.number, "format": fmt},
    )
