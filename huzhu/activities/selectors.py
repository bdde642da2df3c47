"""Reads on activities, shifts, sign-ups, service records and certificates.

Two audiences: organisers (workers, team leaders) see what lies in their ``Scope``;
volunteers see activities open to them — every open activity, their teams' team-only ones,
and invitation-code ones — plus everything of their own. Anything else is "missing" (404).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Case, Count, Exists, Min, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import ExtractYear
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from huzhu.activities.models import (
    ACTIVE_SIGNUP,
    Activity,
    ActivityStatus,
    Certificate,
    CertificateStatus,
    RecordStatus,
    Recruitment,
    ServiceRecord,
    Shift,
    Signup,
    SignupStatus,
)
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.archive_selectors import format_hours
from huzhu.volunteers.models import TeamMembership, Volunteer, VolunteerStatus

BROWSABLE = (ActivityStatus.RECRUITING, ActivityStatus.RUNNING)


def volunteer_of(scope: Scope) -> Volunteer | None:
    """The signed-in person's volunteer record (any status), or None."""
    if scope.person_id is None:
        return None
    return (
        Volunteer.objects.select_related("person", "org").filter(person_id=scope.person_id).first()
    )


# --- organisers ------------------------------------------------------------------------------


def activities_managed(*, scope: Scope, perm: str = Perm.VIEW) -> QuerySet[Activity]:
    """Activities of orgs in the scope (``VIEW`` for reading, ``ACTIVITY_MANAGE`` to act)."""
    return Activity.objects.within(scope, perm).select_related("org", "category")


def activity_list(
    *,
    scope: Scope,
    status: str = "",
    search: str = "",
    category_id: int | None = None,
) -> QuerySet[Activity]:
    qs = activities_managed(scope=scope).annotate(
        shift_count=Count("shifts", filter=Q(shifts__is_cancelled=False), distinct=True),
        next_start=Min("shifts__starts_at", filter=Q(shifts__starts_at__gte=timezone.now())),
    )
    if status:
        qs = qs.filter(status=status)
    if search:
        qs = qs.filter(Q(title__icontains=search) | Q(address__icontains=search))
    if category_id:
        qs = qs.filter(category_id=category_id)
    return qs.order_by("-starts_on", "-id")


def activity_get_managed(*, scope: Scope, activity_id: int, perm: str = Perm.VIEW) -> Activity:
    return get_object_or_404(activities_managed(scope=scope, perm=perm), pk=activity_id)


def shift_get_managed(*, scope: Scope, shift_id: int, perm: str = Perm.VIEW) -> Shift:
    return get_object_or_404(
        Shift.objects.within(scope, perm).select_related("activity__org", "activity__category"),
        pk=shift_id,
    )


def signup_get_managed(*, scope: Scope, signup_id: int, perm: str = Perm.VIEW) -> Signup:
    return get_object_or_404(
        Signup.objects.within(scope, perm).select_related(
            "shift__activity__org", "volunteer__person"
        ),
        pk=signup_id,
    )


def shifts_of(*, activity: Activity) -> QuerySet[Shift]:
    return activity.shifts.annotate(
        waitlisted=Count("signups", filter=Q(signups__status=SignupStatus.WAITLISTED)),
        pending=Count("signups", filter=Q(signups__status=SignupStatus.PENDING)),
        present=Count("signups", filter=Q(signups__checked_in_at__isnull=False)),
    ).order_by("starts_at", "id")


def shift_board(*, shift: Shift) -> list[Signup]:
    """Everyone on the shift — confirmed, pending and waiting — with their attendance and
    record (one query, whatever the size of the shift)."""
    return list(
        Signup.objects.filter(shift=shift)
        .exclude(status__in=(SignupStatus.WITHDRAWN, SignupStatus.CANCELLED))
        .select_related("volunteer__person", "record")
        .order_by("status", "queued_at", "id")
    )


@dataclass
class BoardCounts:
    confirmed: int
    present: int
    checked_out: int
    waitlisted: int
    pending: int
    no_show: int


def shift_counts(*, shift: Shift) -> BoardCounts:
    row = Signup.objects.filter(shift=shift).aggregate(
        confirmed=Count("pk", filter=Q(status=SignupStatus.CONFIRMED)),
        present=Count("pk", filter=Q(checked_in_at__isnull=False)),
        checked_out=Count("pk", filter=Q(checked_out_at__isnull=False)),
        waitlisted=Count("pk", filter=Q(status=SignupStatus.WAITLISTED)),
        pending=Count("pk", filter=Q(status=SignupStatus.PENDING)),
        no_show=Count("pk", filter=Q(attendance="no_show")),
    )
    return BoardCounts(**row)


def records_pending(*, scope: Scope) -> QuerySet[ServiceRecord]:
    """Records waiting for the organiser's confirmation (declared or from attendance)."""
    return (
        ServiceRecord.objects.within(scope, Perm.ACTIVITY_MANAGE)
        .filter(status=RecordStatus.PENDING)
        .select_related("volunteer__person", "org", "category", "activity")
        .order_by("served_on", "id")
    )


def record_list(
    *, scope: Scope, status: str = "", volunteer_id: int | None = None
) -> QuerySet[ServiceRecord]:
    qs = ServiceRecord.objects.within(scope).select_related(
        "volunteer__person", "org", "category", "activity", "recorder", "confirmer"
    )
    if status:
        qs = qs.filter(status=status)
    if volunteer_id:
        qs = qs.filter(volunteer_id=volunteer_id)
    return qs.order_by("-served_on", "-id")


def record_get_managed(*, scope: Scope, record_id: int, perm: str = Perm.VIEW) -> ServiceRecord:
    return get_object_or_404(
        ServiceRecord.objects.within(scope, perm).select_related(
            "volunteer__person", "org", "category", "activity"
        ),
        pk=record_id,
    )


def certificates_to_issue(*, scope: Scope) -> QuerySet[Certificate]:
    return (
        Certificate.objects.within(scope, Perm.RECORD_CERTIFY)
        .filter(status=CertificateStatus.APPLIED)
        .select_related("volunteer__person", "org")
        .order_by("applied_at", "id")
    )


def certificate_list(*, scope: Scope, status: str = "") -> QuerySet[Certificate]:
    qs = Certificate.objects.within(scope).select_related("volunteer__person", "org")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-applied_at", "-id")


def certificate_get_managed(
    *, scope: Scope, certificate_id: int, perm: str = Perm.VIEW
) -> Certificate:
    return get_object_or_404(
        Certificate.objects.within(scope, perm).select_related("volunteer__person", "org"),
        pk=certificate_id,
    )


# --- volunteers ------------------------------------------------------------------------------


def _open_to(volunteer: Volunteer) -> Q:
    """Activities a volunteer may see: open ones, team-only ones of a team they serve on (or
    an org above it), and invitation-code ones (the code is checked at sign-up)."""
    team_paths = list(
        TeamMembership.objects.filter(volunteer=volunteer, left_on__isnull=True).values_list(
            "team__path", flat=True
        )
    )
    team_q = Q(pk__in=[])
    for path in team_paths:
        # the activity's org is the team itself or an ancestor of it
        prefixes = [path[: i + 1] for i, ch in enumerate(path) if ch == "/" and i > 0]
        team_q |= Q(org__path__in=prefixes)
    return Q(recruitment__in=(Recruitment.OPEN, Recruitment.CODE)) | (
        Q(recruitment=Recruitment.TEAM) & team_q
    )


def activities_open(
    *,
    volunteer: Volunteer,
    search: str = "",
    category_id: int | None = None,
    day_from: dt.date | None = None,
) -> QuerySet[Activity]:
    """The volunteer's browse list: activities recruiting or running, with shifts ahead."""
    now = timezone.now()
    qs = (
        Activity.objects.filter(status__in=BROWSABLE)
        .filter(_open_to(volunteer))
        .select_related("org", "category")
        .annotate(
            next_start=Min(
                "shifts__starts_at",
                filter=Q(shifts__starts_at__gt=now, shifts__is_cancelled=False),
            )
        )
        .filter(next_start__isnull=False)
    )
    if search:
        qs = qs.filter(
            Q(title__icontains=search)
            | Q(address__icontains=search)
            | Q(description__icontains=search)
        )
    if category_id:
        qs = qs.filter(category_id=category_id)
    if day_from:
        qs = qs.filter(ends_on__gte=day_from)
    # The volunteer's own community first, then everything else, each soonest first.
    home = _home_path(volunteer)
    qs = qs.annotate(
        elsewhere=Case(When(org__path__startswith=home, then=Value(0)), default=Value(1))
    )
    return qs.order_by("elsewhere", "next_start", "id")


def _home_path(volunteer: Volunteer) -> str:
    """The path of the volunteer's community (their org, or its parent for a grid)."""
    path = volunteer.org.path
    if volunteer.org.kind == OrgKind.GRID:
        path = path.rsplit("/", 2)[0] + "/"
    return path


def activity_get_for_volunteer(*, volunteer: Volunteer, activity_id: int) -> Activity:
    """An activity the volunteer may see: open to them, or one they have signed up for."""
    mine = Signup.objects.filter(volunteer=volunteer, shift__activity_id=OuterRef("pk"))
    qs = Activity.objects.select_related("org", "category").filter(
        Q(status__in=BROWSABLE, pk=activity_id) & _open_to(volunteer)
        | Q(pk=activity_id) & Q(Exists(mine))
    )
    return get_object_or_404(qs, pk=activity_id)


def activity_get_visible(*, scope: Scope, activity_id: int) -> Activity:
    """For pages both audiences use: managed (in scope) or open to the volunteer."""
    found = activities_managed(scope=scope).filter(pk=activity_id).first()
    if found is not None:
        return found
    volunteer = volunteer_of(scope)
    if volunteer is None or volunteer.status != VolunteerStatus.REGISTERED:
        raise Http404
    return activity_get_for_volunteer(volunteer=volunteer, activity_id=activity_id)


def shifts_for_volunteer(*, activity: Activity, volunteer: Volunteer | None) -> list[Shift]:
    """Upcoming shifts with places left and the volunteer's own sign-up on each."""
    now = timezone.now()
    shifts = list(
        activity.shifts.filter(is_cancelled=False, ends_at__gt=now)
        .annotate(waitlisted=Count("signups", filter=Q(signups__status=SignupStatus.WAITLISTED)))
        .order_by("starts_at", "id")
    )
    mine: dict[int, Signup] = {}
    if volunteer is not None:
        mine = {
            s.shift_id: s
            for s in Signup.objects.filter(volunteer=volunteer, shift__in=[s.pk for s in shifts])
        }
    for shift in shifts:
        shift.my_signup = mine.get(shift.pk)  # type: ignore[attr-defined]
    return shifts


def my_signups(*, volunteer: Volunteer, upcoming: bool = True) -> QuerySet[Signup]:
    now = timezone.now()
    qs = Signup.objects.filter(volunteer=volunteer).select_related(
        "shift__activity__org", "shift__activity__category"
    )
    if upcoming:
        qs = qs.filter(status__in=ACTIVE_SIGNUP, shift__ends_at__gt=now - dt.timedelta(hours=3))
        return qs.order_by("shift__starts_at", "id")
    return qs.order_by("-shift__starts_at", "-id")


def my_signup_get(*, volunteer: Volunteer, signup_id: int) -> Signup:
    return get_object_or_404(
        Signup.objects.filter(volunteer=volunteer).select_related("shift__activity"),
        pk=signup_id,
    )


def ical_signups(*, volunteer: Volunteer) -> QuerySet[Signup]:
    """Shifts for the volunteer's calendar feed: confirmed or waiting, from 90 days back."""
    since = timezone.now() - dt.timedelta(days=90)
    return (
        Signup.objects.filter(
            volunteer=volunteer,
            status__in=(SignupStatus.CONFIRMED, SignupStatus.PENDING, SignupStatus.WAITLISTED),
            shift__starts_at__gte=since,
        )
        .select_related("shift__activity__org")
        .order_by("shift__starts_at")
    )


@dataclass
class MyHours:
    total_minutes: int
    historical_minutes: int
    pending_minutes: int
    by_year: list[tuple[int, str]]
    by_category: list[tuple[str, str]]
    by_year_category: dict[int, list[tuple[str, str]]]

    @property
    def total_hours(self) -> str:
        return format_hours(self.total_minutes + self.historical_minutes)

    @property
    def service_hours(self) -> str:
        return format_hours(self.total_minutes)

    @property
    def historical_hours(self) -> str:
        return format_hours(self.historical_minutes)

    @property
    def pending_hours(self) -> str:
        return format_hours(self.pending_minutes)


def my_hours(*, volunteer: Volunteer) -> MyHours:
    """Totals by year, by category and by year × category (two aggregate queries)."""
    rows = (
        ServiceRecord.objects.filter(volunteer=volunteer, status=RecordStatus.CONFIRMED)
        .annotate(year=ExtractYear("served_on"))
        .values("year", "category__name")
        .annotate(total=Sum("minutes"))
        .order_by()
    )
    by_year: dict[int, int] = defaultdict(int)
    by_category: dict[str, int] = defaultdict(int)
    grid: dict[int, list[tuple[str, int]]] = defaultdict(list)
    total = 0
    for row in rows:
        by_year[row["year"]] += row["total"]
        by_category[row["category__name"]] += row["total"]
        grid[row["year"]].append((row["category__name"], row["total"]))
        total += row["total"]
    pending = (
        ServiceRecord.objects.filter(volunteer=volunteer, status=RecordStatus.PENDING).aggregate(
            total=Sum("minutes")
        )["total"]
        or 0
    )
    return MyHours(
        total_minutes=total,
        historical_minutes=volunteer.historical_minutes,
        pending_minutes=pending,
        by_year=[(y, format_hours(m)) for y, m in sorted(by_year.items(), reverse=True)],
        by_category=[
            (c, format_hours(m)) for c, m in sorted(by_category.items(), key=lambda kv: -kv[1])
        ],
        by_year_category={
            y: [(c, format_hours(m)) for c, m in sorted(cells, key=lambda kv: -kv[1])]
            for y, cells in grid.items()
        },
    )


def my_records(*, volunteer: Volunteer, year: int | None = None) -> QuerySet[ServiceRecord]:
    qs = ServiceRecord.objects.filter(volunteer=volunteer).select_related(
        "org", "category", "activity"
    )
    if year:
        qs = qs.filter(served_on__year=year)
    return qs.order_by("-served_on", "-id")


def my_certificates(*, volunteer: Volunteer) -> QuerySet[Certificate]:
    return Certificate.objects.filter(volunteer=volunteer).select_related("org")


def my_certificate_get(*, volunteer: Volunteer, certificate_id: int) -> Certificate:
    return get_object_or_404(
        Certificate.objects.filter(volunteer=volunteer).select_related("org", "volunteer"),
        pk=certificate_id,
    )


# --- public verification -----------------------------------------------------------------------


@dataclass
class VerifiedCertificate:
    """What the public verification page may show: nothing that identifies the person
    beyond a masked name."""

    number: str
    status: str
    status_label: str
    name_masked: str
    org_name: str
    issued_on: dt.date
    period_from: dt.date
    period_to: dt.date
    total_hours: str
    record_count: int
    revoked_on: dt.date | None
    reason: str


def certificate_verify(*, number: str, code: str) -> VerifiedCertificate | None:
    """A certificate matching both its number and verification code, issued or revoked."""
    number = number.strip().upper()
    code = code.strip().upper()
    if not number or not code:
        return None
    certificate = (
        Certificate.objects.filter(
            number=number, status__in=(CertificateStatus.ISSUED, CertificateStatus.REVOKED)
        )
        .select_related("org")
        .first()
    )
    if certificate is None or certificate.snapshot.get("verify_code") != code:
        return None
    revoked = certificate.status == CertificateStatus.REVOKED
    return VerifiedCertificate(
        number=certificate.number or "",
        status=certificate.status,
        status_label=certificate.get_status_display(),
        name_masked=certificate.snapshot.get("name_masked", ""),
        org_name=certificate.snapshot.get("org_name", certificate.org.name),
        issued_on=timezone.localtime(certificate.issued_at).date(),
        period_from=certificate.period_from,
        period_to=certificate.period_to,
        total_hours=certificate.total_hours,
        record_count=certificate.record_count,
        revoked_on=timezone.localtime(certificate.revoked_at).date() if revoked else None,
        reason=certificate.decision_reason if revoked else "",
    )
