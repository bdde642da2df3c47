"""What the home page shows about activities: an organiser's to-dos and a volunteer's next
shifts and hours. A fixed number of queries each."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, Sum
from django.utils import timezone

from huzhu.activities.models import (
    ACTIVE_SIGNUP,
    CertificateStatus,
    RecordStatus,
    ServiceRecord,
    Shift,
    Signup,
    SignupStatus,
)
from huzhu.activities.selectors import volunteer_of
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.archive_selectors import format_hours
from huzhu.volunteers.models import VolunteerStatus

TODAY_SHIFTS_SHOWN = 6
NEXT_SHIFTS_SHOWN = 3


@dataclass
class OrganiserTodo:
    records_pending: int
    signups_pending: int
    certificates_waiting: int | None  # None: the user does not issue certificates
    today_shifts: list[Shift]
    today_shift_count: int


def organiser_todo(*, scope: Scope, today: dt.date | None = None) -> OrganiserTodo | None:
    if not scope.can(Perm.ACTIVITY_MANAGE):
        return None
    from huzhu.activities.models import Certificate

    today = today or timezone.localdate()
    records = ServiceRecord.objects.within(scope, Perm.ACTIVITY_MANAGE).filter(
        status=RecordStatus.PENDING
    )
    signups = Signup.objects.within(scope, Perm.ACTIVITY_MANAGE).filter(
        status=SignupStatus.PENDING, shift__starts_at__gte=timezone.now()
    )
    certificates = None
    if scope.can(Perm.RECORD_CERTIFY):
        certificates = (
            Certificate.objects.within(scope, Perm.RECORD_CERTIFY)
            .filter(status=CertificateStatus.APPLIED)
            .count()
        )
    shifts = (
        Shift.objects.within(scope, Perm.ACTIVITY_MANAGE)
        .filter(starts_at__date=today, is_cancelled=False)
        .select_related("activity")
        .annotate(present=Count("signups", filter=Q(signups__checked_in_at__isnull=False)))
        .order_by("starts_at", "id")
    )
    shown = list(shifts[:TODAY_SHIFTS_SHOWN])
    return OrganiserTodo(
        records_pending=records.count(),
        signups_pending=signups.count(),
        certificates_waiting=certificates,
        today_shifts=shown,
        today_shift_count=len(shown) if len(shown) < TODAY_SHIFTS_SHOWN else shifts.count(),
    )


@dataclass
class VolunteerHome:
    next_signups: list[Signup]
    confirmed_hours: str
    pending_hours: str
    star_level: int
    balance_hours: str | None  # time-bank balance, None before the account exists


def volunteer_home(*, scope: Scope) -> VolunteerHome | None:
    volunteer = volunteer_of(scope)
    if volunteer is None or volunteer.status != VolunteerStatus.REGISTERED:
        return None
    upcoming = (
        Signup.objects.filter(
            volunteer=volunteer,
            status__in=ACTIVE_SIGNUP,
            shift__ends_at__gt=timezone.now(),
            shift__is_cancelled=False,
        )
        .select_related("shift__activity")
        .order_by("shift__starts_at", "id")[:NEXT_SHIFTS_SHOWN]
    )
    pending = (
        ServiceRecord.objects.filter(volunteer=volunteer, status=RecordStatus.PENDING).aggregate(
            total=Sum("minutes")
        )["total"]
        or 0
    )
    from huzhu.timebank.models import Account

    balance = (
        Account.objects.filter(person_id=volunteer.person_id).values_list("balance", flat=True)
    ).first()
    return VolunteerHome(
        balance_hours=format_hours(balance) if balance is not None else None,
        next_signups=list(upcoming),
        confirmed_hours=format_hours(volunteer.recorded_minutes),
        pending_hours=format_hours(pending),
        star_level=volunteer.star_level,
    )
