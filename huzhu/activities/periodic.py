"""Periodic jobs of the activities app, run by ``huzhu runperiodic`` (common.periodic).

Every job is idempotent: a second run right after the first changes nothing and sends
nothing. Reminders and no-shows depend on the time of day, so they read the clock; the
date-based jobs use the ``today`` they are given (``--date`` re-runs a missed day).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.activities import notifications, services
from huzhu.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    Shift,
    Signup,
    SignupStatus,
)
from huzhu.common.audit import log_action
from huzhu.common.models import AuditEntry
from huzhu.common.periodic import periodic_job

NO_SHOW_LOOKBACK = dt.timedelta(days=14)
# The longest check-out window a shift can have (``checkout_closes_minutes`` is a small int).
LONGEST_CHECKOUT_WINDOW = dt.timedelta(minutes=32767)
RECURRING_STATUSES = (ActivityStatus.PENDING, ActivityStatus.RECRUITING, ActivityStatus.RUNNING)


# --- shift reminders -----------------------------------------------------------------------


def shifts_to_remind(now: dt.datetime) -> list[Shift]:
    """Shifts of open activities starting within the reminder window, not yet reminded."""
    return list(
        Shift.objects.filter(
            starts_at__gt=now,
            starts_at__lte=now + dt.timedelta(hours=settings.HUZHU_SHIFT_REMINDER_HOURS),
            reminded_at__isnull=True,
            is_cancelled=False,
            activity__status__in=services.SIGNUP_OPEN,
        ).order_by("starts_at", "id")
    )


def shift_reminders_send(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Remind everyone confirmed on a shift starting soon; each shift once (``reminded_at``,
    and the notification's dedupe key if two runs overlap). Returns (shifts, sign-ups)."""
    now = now or timezone.now()
    with transaction.atomic():
        shifts = shifts_to_remind(now)
        signups = list(
            Signup.objects.filter(shift__in=shifts, status=SignupStatus.CONFIRMED)
            .select_related("volunteer__person__user", "shift__activity")
            .order_by("shift__starts_at", "queued_at", "id")
        )
        for signup in signups:
            notifications.shift_reminder(signup=signup)
        Shift.objects.filter(pk__in=[s.pk for s in shifts]).update(reminded_at=now)
    return len(shifts), len(signups)


@periodic_job("activities.shift_reminders")
def shift_reminders(today: dt.date) -> str:
    """Tell confirmed volunteers about their shift before it starts."""
    shifts, signups = shift_reminders_send()
    return _("班次提醒：%(shifts)d 个班次，提醒 %(signups)d 人次") % {
        "shifts": shifts,
        "signups": signups,
    }


# --- no-shows ------------------------------------------------------------------------------


def shifts_closing_with_absentees(now: dt.datetime) -> list[Shift]:
    """Shifts whose check-out window closed in the last 14 days and that still have someone
    confirmed who never checked in and is not yet marked."""
    candidates = (
        Shift.objects.filter(
            is_cancelled=False,
            ends_at__lte=now,
            ends_at__gt=now - NO_SHOW_LOOKBACK - LONGEST_CHECKOUT_WINDOW,
            signups__status=SignupStatus.CONFIRMED,
            signups__checked_in_at__isnull=True,
            signups__attendance=Attendance.NONE,
        )
        .distinct()
        .order_by("ends_at", "id")
    )
    shifts = []
    for shift in candidates:
        closes = shift.ends_at + dt.timedelta(minutes=shift.checkout_closes_minutes)
        if now - NO_SHOW_LOOKBACK < closes < now:
            shifts.append(shift)
    return shifts


def no_shows_mark(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Mark absentees 缺席 on every shift that just closed. Returns (shifts, people)."""
    now = now or timezone.now()
    shifts = shifts_closing_with_absentees(now)
    marked = 0
    for shift in shifts:
        with transaction.atomic():
            marked += services.shift_mark_no_shows(actor=None, shift=shift, now=now)
    return len(shifts), marked


@periodic_job("activities.no_shows")
def no_shows(today: dt.date) -> str:
    """After a shift's check-out window closes, the confirmed who never came are 缺席."""
    shifts, marked = no_shows_mark()
    return _("缺席标记：%(shifts)d 个班次，%(marked)d 人") % {"shifts": shifts, "marked": marked}


# --- recurring shifts ----------------------------------------------------------------------


def recurring_shifts_extend_all(*, today: dt.date) -> tuple[int, int]:
    """Create the coming shifts of every recurring activity still in use. Returns
    (activities, shifts created)."""
    activities = list(
        Activity.objects.filter(recur_weekdays__gt=0, status__in=RECURRING_STATUSES).order_by("id")
    )
    created = 0
    for activity in activities:
        with transaction.atomic():
            created += services.recurring_shifts_extend(activity=activity, today=today)
    return len(activities), created


@periodic_job("activities.recurring_shifts")
def recurring_shifts(today: dt.date) -> str:
    """Keep the shifts of recurring activities scheduled up to the horizon."""
    activities, created = recurring_shifts_extend_all(today=today)
    return _("重复班次：%(activities)d 个活动，新建 %(created)d 个班次") % {
        "activities": activities,
        "created": created,
    }


# --- activity status -----------------------------------------------------------------------


def activities_start_due(*, today: dt.date) -> int:
    """招募中 → 进行中 for activities whose first day has come (结项 stays the organiser's
    decision). An activity the organiser moved back to 招募中 (恢复招募) is left alone. One
    UPDATE and one audit entry naming the activities; returns how many."""
    with transaction.atomic():
        resumed = AuditEntry.objects.filter(
            verb="activity.status",
            target_type=ContentType.objects.get_for_model(Activity),
            data__from=ActivityStatus.RUNNING,
            data__to=ActivityStatus.RECRUITING,
        ).values_list("target_id", flat=True)
        due = Activity.objects.filter(
            status=ActivityStatus.RECRUITING, starts_on__lte=today
        ).exclude(pk__in=[int(pk) for pk in resumed])
        ids = list(due.select_for_update().order_by("id").values_list("pk", flat=True))
        if not ids:
            return 0
        count = Activity.objects.filter(pk__in=ids).update(
            status=ActivityStatus.RUNNING, updated_at=timezone.now()
        )
        log_action(None, "activity.auto_start", None, {"count": count, "activities": ids})
    return count


@periodic_job("activities.status")
def activity_status(today: dt.date) -> str:
    """Activities that have started are shown as 进行中."""
    started = activities_start_due(today=today)
    return _("活动状态：%(count)d 个活动转为进行中") % {"count": started}
