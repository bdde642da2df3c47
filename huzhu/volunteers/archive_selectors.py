"""Reads for a volunteer's archive (档案) and the star board, always through a ``Scope``.

The archive is one fixed set of queries whatever the length of each section (a test counts
them). Hours are rolled up by year and by service category from the confirmed service
records of ``activities.ServiceRecord``, plus the imported historical hours, which have
neither year nor category and so show as a line of their own. The newest confirmed records
themselves (content, place, date, duration: Order 67 Art. 3–4) are listed too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import (
    Evaluation,
    Honour,
    Qualification,
    StarApplication,
    StarStatus,
    TeamMembership,
    TrainingAttendance,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.selectors import visible_volunteers, volunteer_get
from huzhu.volunteers.services import star_level_for, star_thresholds_minutes

if TYPE_CHECKING:  # activities imports this module: no runtime import the other way
    from huzhu.activities.models import ServiceRecord

OPEN_STATUSES = (StarStatus.APPLIED, StarStatus.PUBLICISING)
STAR_LABELS = (
    gettext_lazy("一星级"),
    gettext_lazy("二星级"),
    gettext_lazy("三星级"),
    gettext_lazy("四星级"),
    gettext_lazy("五星级"),
)


# --- formatting shared by services, pages and the PDF -------------------------------------


def star_label(level: int) -> str:
    """一星级 … 五星级 (one-star … five-star in English)."""
    if 1 <= level <= len(STAR_LABELS):
        return str(STAR_LABELS[level - 1])
    return _("%(n)s星级") % {"n": level}


def format_hours(minutes: int) -> str:
    """Minutes as hours with at most one decimal: 24750 → "412.5", 36000 → "600"."""
    text = f"{minutes / 60:.1f}"
    return text[:-2] if text.endswith(".0") else text


def cn_date(day: dt.date) -> str:
    return _("%(y)d年%(m)d月%(d)d日") % {"y": day.year, "m": day.month, "d": day.day}


def threshold_minutes(level: int) -> int | None:
    """Recorded minutes a level needs, or None when the deployment sets no such level."""
    thresholds = star_thresholds_minutes()
    return thresholds[level - 1] if 1 <= level <= len(thresholds) else None


def is_barred(volunteer: Volunteer, today: dt.date) -> bool:
    return volunteer.star_barred_until is not None and volunteer.star_barred_until >= today


# --- hours --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceMinutes:
    """Confirmed service minutes of one volunteer in one year and category."""

    year: int
    category: str
    minutes: int


@dataclass
class HoursRollup:
    by_year: list[tuple[int, int]]  # (year, minutes), newest first
    by_category: list[tuple[str, int]]  # (category, minutes), largest first
    service_minutes: int
    historical_minutes: int

    @property
    def total_minutes(self) -> int:
        return self.service_minutes + self.historical_minutes

    # Display forms (hours with at most one decimal) for the page and the PDF.
    @property
    def years(self) -> list[tuple[int, str]]:
        return [(year, format_hours(minutes)) for year, minutes in self.by_year]

    @property
    def categories(self) -> list[tuple[str, str]]:
        return [(name, format_hours(minutes)) for name, minutes in self.by_category]

    @property
    def historical_hours(self) -> str:
        return format_hours(self.historical_minutes)

    @property
    def total_hours(self) -> str:
        return format_hours(self.total_minutes)


def _confirmed_records() -> QuerySet:
    from huzhu.activities.models import RecordStatus, ServiceRecord

    return ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED)


def service_minute_rows(*, volunteer: Volunteer) -> list[ServiceMinutes]:
    """Service minutes grouped by year and category: one aggregate query over the
    volunteer's confirmed service records."""
    from django.db.models.functions import ExtractYear

    rows = (
        _confirmed_records()
        .filter(volunteer=volunteer)
        .annotate(year=ExtractYear("served_on"))
        .values("year", "category__name")
        .annotate(total=Sum("minutes"))
        .order_by()
    )
    return [
        ServiceMinutes(year=row["year"], category=row["category__name"], minutes=row["total"])
        for row in rows
    ]


def service_minutes_subquery() -> Subquery:
    """Confirmed service minutes of the volunteer in the outer query (for UPDATEs)."""
    return Subquery(
        _confirmed_records()
        .filter(volunteer_id=OuterRef("pk"))
        .values("volunteer_id")
        .annotate(total=Sum("minutes"))
        .values("total")[:1],
        output_field=IntegerField(),
    )


def service_minutes_totals(*, volunteer_ids: Sequence[int]) -> dict[int, int]:
    """Confirmed service minutes per volunteer (only volunteers that have any)."""
    rows = (
        _confirmed_records()
        .filter(volunteer_id__in=volunteer_ids)
        .values("volunteer_id")
        .annotate(total=Sum("minutes"))
        .order_by()
    )
    return {row["volunteer_id"]: row["total"] for row in rows}


def hours_rollup(*, volunteer: Volunteer) -> HoursRollup:
    by_year: dict[int, int] = defaultdict(int)
    by_category: dict[str, int] = defaultdict(int)
    total = 0
    for row in service_minute_rows(volunteer=volunteer):
        by_year[row.year] += row.minutes
        by_category[row.category] += row.minutes
        total += row.minutes
    return HoursRollup(
        by_year=sorted(by_year.items(), reverse=True),
        by_category=sorted(by_category.items(), key=lambda item: (-item[1], item[0])),
        service_minutes=total,
        historical_minutes=volunteer.historical_minutes,
    )


# --- stars --------------------------------------------------------------------------------


@dataclass
class StarSummary:
    level: int  # granted
    eligible_level: int  # by recorded hours
    recorded_minutes: int
    next_level: int | None  # the level above the granted one, if the deployment sets it
    next_threshold_minutes: int | None
    barred_until: dt.date | None
    barred: bool
    open_application: StarApplication | None
    applicable_levels: list[int] = field(default_factory=list)

    @property
    def minutes_to_next(self) -> int | None:
        if self.next_threshold_minutes is None:
            return None
        return max(0, self.next_threshold_minutes - self.recorded_minutes)

    @property
    def level_label(self) -> str:
        return star_label(self.level) if self.level else _("未认定")

    @property
    def eligible_label(self) -> str:
        return star_label(self.eligible_level) if self.eligible_level else _("未达到")

    @property
    def next_label(self) -> str:
        return star_label(self.next_level) if self.next_level else ""

    @property
    def recorded_hours(self) -> str:
        return format_hours(self.recorded_minutes)

    @property
    def next_threshold_hours(self) -> str:
        return format_hours(self.next_threshold_minutes or 0)

    @property
    def hours_to_next(self) -> str:
        return format_hours(self.minutes_to_next or 0)

    @property
    def applicable(self) -> list[tuple[int, str]]:
        return [(level, star_label(level)) for level in self.applicable_levels]


def star_summary(
    *, volunteer: Volunteer, applications: Sequence[StarApplication], today: dt.date
) -> StarSummary:
    """Where the volunteer stands; ``applications`` are theirs (already loaded)."""
    eligible = star_level_for(volunteer.recorded_minutes)
    open_application = next((a for a in applications if a.status in OPEN_STATUSES), None)
    barred = is_barred(volunteer, today)
    next_level = volunteer.star_level + 1
    next_threshold = threshold_minutes(next_level)
    applicable: list[int] = []
    if volunteer.status == VolunteerStatus.REGISTERED and not barred and open_application is None:
        applicable = list(range(volunteer.star_level + 1, eligible + 1))
    return StarSummary(
        level=volunteer.star_level,
        eligible_level=eligible,
        recorded_minutes=volunteer.recorded_minutes,
        next_level=next_level if next_threshold is not None else None,
        next_threshold_minutes=next_threshold,
        barred_until=volunteer.star_barred_until,
        barred=barred,
        open_application=open_application,
        applicable_levels=applicable,
    )


def with_display(applications: Sequence[StarApplication]) -> list[StarApplication]:
    """Attach the display forms the pages show (level label, hours at application)."""
    for application in applications:
        application.level_label = star_label(application.level)
        application.hours_at_application = format_hours(application.minutes_at_application)
    return list(applications)


def star_applications_of(*, volunteer: Volunteer) -> list[StarApplication]:
    return with_display(
        StarApplication.objects.filter(volunteer=volunteer)
        .select_related("applied_by", "decided_by")
        .order_by("-applied_at", "-id")
    )


def _next_threshold_case() -> Case:
    """The recorded minutes the level above ``star_level`` needs (NULL at the top)."""
    whens = [When(star_level=i, then=Value(t)) for i, t in enumerate(star_thresholds_minutes())]
    return Case(*whens, default=Value(None), output_field=IntegerField())


def _eligible_level_case() -> Case:
    thresholds = star_thresholds_minutes()
    whens = [
        When(recorded_minutes__gte=t, then=Value(level))
        for level, t in reversed(list(enumerate(thresholds, start=1)))
    ]
    return Case(*whens, default=Value(0), output_field=IntegerField())


def star_eligible_list(*, scope: Scope, today: dt.date | None = None) -> QuerySet[Volunteer]:
    """Registered volunteers the scope manages whose recorded hours reach the next level,
    who are not barred and have no open application — all in SQL."""
    today = today or timezone.localdate()
    reaches_next = Q(pk__in=[])
    for level, t in enumerate(star_thresholds_minutes()):
        reaches_next |= Q(star_level=level, recorded_minutes__gte=t)
    open_application = StarApplication.objects.filter(
        volunteer_id=OuterRef("pk"), status__in=OPEN_STATUSES
    )
    return (
        Volunteer.objects.filter(scope.q("org__path", Perm.VOLUNTEER_MANAGE))
        .filter(reaches_next, status=VolunteerStatus.REGISTERED)
        .filter(Q(star_barred_until__isnull=True) | Q(star_barred_until__lt=today))
        .filter(~Exists(open_application))
        .annotate(next_threshold=_next_threshold_case(), eligible_level=_eligible_level_case())
        .select_related("person", "org")
        .order_by("-eligible_level", "-recorded_minutes", "number")
    )


def star_open_applications(*, scope: Scope) -> QuerySet[StarApplication]:
    """Open applications in the scope, oldest first: 已申请 and 公示中."""
    return (
        StarApplication.objects.filter(scope.q("volunteer__org__path", Perm.VOLUNTEER_MANAGE))
        .filter(status__in=OPEN_STATUSES)
        .select_related("volunteer__person", "volunteer__org", "applied_by")
        .order_by("applied_at", "id")
    )


def star_publicity_list(*, scope: Scope) -> QuerySet[StarApplication]:
    """The publicity list (公示名单): applications being publicised, by end date."""
    return (
        StarApplication.objects.filter(scope.q("volunteer__org__path", Perm.VOLUNTEER_VIEW))
        .filter(status=StarStatus.PUBLICISING)
        .select_related("volunteer__person", "volunteer__org")
        .order_by("publicity_ends_on", "id")
    )


def _visible(scope: Scope, qs: QuerySet, volunteer_field: str = "volunteer") -> QuerySet:
    """Rows of volunteers visible to the scope, or of the user's own registration."""
    condition = Q(**{f"{volunteer_field}__in": visible_volunteers(scope).values("pk")})
    if scope.person_id is not None:
        condition |= Q(**{f"{volunteer_field}__person_id": scope.person_id})
    return qs.filter(condition)


def star_application_get(*, scope: Scope, application_id: int) -> StarApplication:
    qs = StarApplication.objects.select_related("volunteer__person", "volunteer__org")
    return get_object_or_404(_visible(scope, qs), pk=application_id)


def honour_get(*, scope: Scope, honour_id: int) -> Honour:
    qs = Honour.objects.select_related("volunteer__person", "volunteer__org")
    return get_object_or_404(_visible(scope, qs), pk=honour_id)


def evaluation_get(*, scope: Scope, evaluation_id: int) -> Evaluation:
    qs = Evaluation.objects.select_related("volunteer__person", "volunteer__org", "org")
    return get_object_or_404(_visible(scope, qs), pk=evaluation_id)


def evaluation_orgs(*, scope: Scope, volunteer: Volunteer) -> list[Org]:
    """Orgs that may evaluate ``volunteer`` and that the scope manages: the volunteer's
    community chain (nearest first) and the teams they serve or served in."""
    ids = list(reversed(volunteer.org.ancestor_ids))
    team_ids = list(
        TeamMembership.objects.filter(volunteer=volunteer).values_list("team_id", flat=True)
    )
    orgs = {o.pk: o for o in Org.objects.filter(pk__in=[*ids, *team_ids], is_active=True)}
    ordered = [orgs[i] for i in ids if i in orgs]
    ordered += sorted((o for pk, o in orgs.items() if pk not in ids), key=lambda o: o.path)
    return [o for o in ordered if scope.can(Perm.VOLUNTEER_MANAGE, o)]


# --- the archive --------------------------------------------------------------------------


@dataclass
class Archive:
    volunteer: Volunteer
    today: dt.date
    age: int
    skills: list[str]
    categories: list[str]
    served_groups: list[str]
    status_changes: list[VolunteerStatusChange]
    current_teams: list[TeamMembership]
    past_teams: list[TeamMembership]
    training: list[TrainingAttendance]
    training_hours: str
    qualifications: list[Qualification]
    hours: HoursRollup
    honours: list[Honour]
    star: StarSummary
    star_applications: list[StarApplication]
    evaluations: list[Evaluation]
    # The newest confirmed service records (at most ARCHIVE_RECORDS_SHOWN) and how many
    # confirmed records there are in all.
    service_records: list[ServiceRecord]
    service_record_count: int

    @property
    def service_records_truncated(self) -> bool:
        return self.service_record_count > len(self.service_records)


ARCHIVE_RECORDS_SHOWN = 50


def archive_service_records(
    *, volunteer: Volunteer, limit: int = ARCHIVE_RECORDS_SHOWN
) -> tuple[list[ServiceRecord], int]:
    """The volunteer's newest ``limit`` confirmed service records (by service date) and the
    number of confirmed records in all: two queries, whatever the number of records."""
    confirmed = _confirmed_records().filter(volunteer=volunteer)
    shown = list(
        confirmed.select_related("org", "category", "activity").order_by("-served_on", "-id")[
            :limit
        ]
    )
    return shown, confirmed.count()


QUALIFICATION_STATES = {
    "expired": gettext_lazy("已过期"),
    "expiring": gettext_lazy("即将到期"),
    "valid": gettext_lazy("有效"),
    "permanent": gettext_lazy("长期有效"),
}


def qualification_state(qualification: Qualification, today: dt.date) -> str:
    """expired / expiring (within the type's reminder days) / valid / permanent."""
    if qualification.expires_on is None:
        return "permanent"
    if qualification.expires_on < today:
        return "expired"
    remind = dt.timedelta(days=qualification.kind.remind_days_before)
    if qualification.expires_on <= today + remind:
        return "expiring"
    return "valid"


def volunteer_archive(*, scope: Scope, volunteer_id: int, today: dt.date | None = None) -> Archive:
    """Everything the archive shows, for a worker in scope or the volunteer themself
    (else 404). A fixed number of queries, however long each section is."""
    today = today or timezone.localdate()
    volunteer = volunteer_get(scope=scope, volunteer_id=volunteer_id)
    memberships = list(
        TeamMembership.objects.filter(volunteer=volunteer)
        .select_related("team__parent")
        .order_by("-joined_on", "-id")
    )
    training = list(
        TrainingAttendance.objects.filter(volunteer=volunteer)
        .select_related("session__course")
        .order_by("-session__starts_at", "-id")
    )
    for attendance in training:
        attendance.hours = format_hours(attendance.minutes)
    qualifications = list(
        Qualification.objects.filter(volunteer=volunteer)
        .select_related("kind")
        .order_by("-issued_on", "-id")
    )
    for qualification in qualifications:
        qualification.state = qualification_state(qualification, today)
        qualification.state_label = str(QUALIFICATION_STATES[qualification.state])
    applications = star_applications_of(volunteer=volunteer)
    service_records, service_record_count = archive_service_records(volunteer=volunteer)
    return Archive(
        volunteer=volunteer,
        today=today,
        age=volunteer.person.age_on(today),
        skills=[s.name for s in volunteer.skills.order_by("sort_order", "id")],
        categories=[c.name for c in volunteer.categories.order_by("sort_order", "id")],
        served_groups=[g.name for g in volunteer.served_groups.order_by("sort_order", "id")],
        status_changes=list(
            VolunteerStatusChange.objects.filter(volunteer=volunteer).order_by("created_at", "id")
        ),
        current_teams=[m for m in memberships if m.left_on is None],
        past_teams=[m for m in memberships if m.left_on is not None],
        training=training,
        training_hours=format_hours(sum(a.minutes for a in training if a.attended)),
        qualifications=qualifications,
        hours=hours_rollup(volunteer=volunteer),
        honours=list(Honour.objects.filter(volunteer=volunteer).order_by("-awarded_on", "-id")),
        star=star_summary(volunteer=volunteer, applications=applications, today=today),
        star_applications=applications,
        evaluations=list(
            Evaluation.objects.filter(volunteer=volunteer)
            .select_related("org", "evaluator")
            .order_by("-year", "-id")
        ),
        service_records=service_records,
        service_record_count=service_record_count,
    )


@dataclass
class StarStatusPage:
    volunteer: Volunteer
    summary: StarSummary
    applications: list[StarApplication]


def volunteer_star_status(
    *, scope: Scope, volunteer_id: int, today: dt.date | None = None
) -> StarStatusPage:
    """A volunteer's star standing and application history (own or in scope, else 404)."""
    today = today or timezone.localdate()
    volunteer = volunteer_get(scope=scope, volunteer_id=volunteer_id)
    applications = star_applications_of(volunteer=volunteer)
    return StarStatusPage(
        volunteer=volunteer,
        summary=star_summary(volunteer=volunteer, applications=applications, today=today),
        applications=applications,
    )


def star_thresholds_table() -> list[tuple[int, str, int]]:
    """(level, label, hours) for every level the deployment sets."""
    return [
        (level, star_label(level), minutes // 60)
        for level, minutes in enumerate(star_thresholds_minutes(), start=1)
    ]
