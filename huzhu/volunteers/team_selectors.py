"""Reads on corps, teams, training and qualifications — always through a ``Scope``.

Every ``*_get`` answers 404 for an object outside the scope, exactly as for a missing one.
List reads take a constant number of queries, however many rows they return.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import (
    Course,
    Qualification,
    QualificationType,
    ServiceCategory,
    TeamMembership,
    TeamRole,
    TrainingAttendance,
    TrainingSession,
    Volunteer,
    VolunteerStatus,
)
from huzhu.volunteers.selectors import VolunteerFilters, visible_volunteers, volunteer_list
from huzhu.volunteers.training_services import COURSE_ORG_KINDS, LIVE_STATUSES, superseded

LEADER_ROLES = (TeamRole.LEADER, TeamRole.DEPUTY)
ROLE_ORDER = {TeamRole.LEADER: 0, TeamRole.DEPUTY: 1, TeamRole.MEMBER: 2}


# --- organisation: association → branch → corps → teams ---------------------------------


def _active_members() -> Q:
    return Q(memberships__left_on__isnull=True)


def _leaders() -> Prefetch:
    """Current leader and deputies of each team, as ``team.leaders`` (leader first)."""
    return Prefetch(
        "memberships",
        queryset=TeamMembership.objects.filter(left_on__isnull=True, role__in=LEADER_ROLES)
        .select_related("volunteer__person")
        .order_by("-role", "joined_on", "id"),
        to_attr="leaders",
    )


def teams_within(scope: Scope) -> QuerySet[Org]:
    """Teams visible to ``scope`` with ``member_count`` (current members) and ``leaders``."""
    return (
        Org.objects.within(scope, Perm.VOLUNTEER_VIEW)
        .filter(kind=OrgKind.TEAM)
        .select_related("parent", "parent__parent", "team_profile", "team_profile__category")
        .annotate(member_count=Count("memberships", filter=_active_members()))
        .prefetch_related(_leaders())
    )


def team_list(*, scope: Scope, search: str = "", corps: Org | None = None) -> QuerySet[Org]:
    qs = teams_within(scope)
    if search.strip():
        qs = qs.filter(name__contains=search.strip())
    if corps is not None:
        qs = qs.filter(parent=corps)
    return qs.order_by("path")


def team_get(*, scope: Scope, team_id: int) -> Org:
    return get_object_or_404(teams_within(scope), pk=team_id)


def corps_within(scope: Scope, perm: str = Perm.VOLUNTEER_VIEW) -> QuerySet[Org]:
    return (
        Org.objects.within(scope, perm)
        .filter(kind=OrgKind.CORPS)
        .select_related("parent", "affiliation", "affiliation__parent")
    )


def corps_get(*, scope: Scope, org_id: int, perm: str = Perm.VOLUNTEER_VIEW) -> Org:
    return get_object_or_404(corps_within(scope, perm), pk=org_id)


@dataclass
class CorpsRow:
    corps: Org
    teams: list[Org] = field(default_factory=list)


@dataclass
class Organisation:
    chain: list[Org]  # associations and branches in scope, each with ``corps_count``
    corps: list[CorpsRow]  # the page of corps, each with its teams
    own_teams: list[Org]  # teams visible without their corps (a team leader's)
    total_corps: int


def organisation(*, scope: Scope, corps_page: list[Org], total_corps: int) -> Organisation:
    """The volunteer chain for a page of corps: five queries, whatever the page size."""
    chain = list(
        Org.objects.within(scope, Perm.VOLUNTEER_VIEW)
        .filter(kind__in=(OrgKind.ASSOCIATION, OrgKind.BRANCH))
        .select_related("parent")
        .annotate(
            corps_count=Count("affiliates", filter=Q(affiliates__kind=OrgKind.CORPS)),
        )
        .order_by("path")
    )
    corps_ids = [c.pk for c in corps_page]
    visible_teams = teams_within(scope)
    teams = list(visible_teams.filter(parent_id__in=corps_ids).order_by("sort_order", "path"))
    own = list(visible_teams.exclude(parent__in=corps_within(scope).values("pk")).order_by("path"))
    rows = {c.pk: CorpsRow(corps=c) for c in corps_page}
    for team in teams:
        rows[team.parent_id].teams.append(team)
    return Organisation(
        chain=chain, corps=list(rows.values()), own_teams=own, total_corps=total_corps
    )


def corps_list(*, scope: Scope, search: str = "") -> QuerySet[Org]:
    qs = corps_within(scope)
    if search.strip():
        text = search.strip()
        qs = qs.filter(
            Q(name__contains=text)
            | Q(parent__name__contains=text)
            | Exists(
                Org.objects.filter(parent_id=OuterRef("pk"), kind=OrgKind.TEAM, name__contains=text)
            )
        )
    return qs.order_by("path")


def communities_without_corps(*, scope: Scope) -> QuerySet[Org]:
    """Communities where the user may set up the 志愿者总队 and none exists yet."""
    corps = Org.objects.filter(parent_id=OuterRef("pk"), kind=OrgKind.CORPS)
    return (
        Org.objects.within(scope, Perm.VOLUNTEER_MANAGE)
        .filter(kind=OrgKind.COMMUNITY, is_active=True)
        .exclude(Exists(corps))
        .order_by("path")
    )


def corps_choices(*, scope: Scope) -> QuerySet[Org]:
    """Corps under which the user may create teams."""
    return corps_within(scope, Perm.VOLUNTEER_MANAGE).filter(is_active=True).order_by("path")


def category_choices() -> QuerySet[ServiceCategory]:
    return ServiceCategory.objects.filter(is_active=True)


# --- team members -----------------------------------------------------------------------


@dataclass
class TeamMembers:
    current: list[TeamMembership]
    past: list[TeamMembership]

    @property
    def leaders(self) -> list[TeamMembership]:
        return [m for m in self.current if m.role in LEADER_ROLES]


def team_members(*, team: Org) -> TeamMembers:
    """Current members (leaders first) and past members of a team: one query."""
    rows = list(
        TeamMembership.objects.filter(team=team)
        .select_related("volunteer__person", "volunteer__org")
        .order_by("joined_on", "id")
    )
    current = sorted(
        (m for m in rows if m.left_on is None),
        key=lambda m: (ROLE_ORDER.get(m.role, 9), m.volunteer.number),
    )
    past = sorted(
        (m for m in rows if m.left_on is not None), key=lambda m: (m.left_on, m.pk), reverse=True
    )
    return TeamMembers(current=current, past=past)


def membership_get(*, scope: Scope, membership_id: int, team: Org | None = None) -> TeamMembership:
    """A membership of a team in the scope (and of ``team``, if given), else 404."""
    qs = TeamMembership.objects.within(scope, Perm.VOLUNTEER_VIEW).filter(team__kind=OrgKind.TEAM)
    if team is not None:
        qs = qs.filter(team=team)
    return get_object_or_404(
        qs.select_related("team", "volunteer__person", "volunteer__org"), pk=membership_id
    )


def _team_community_path(team: Org) -> str:
    """The community a team serves: team → corps → community in the tree."""
    parts = team.path.strip("/").split("/")
    return "/" + "/".join(parts[:-2]) + "/" if len(parts) > 2 else team.path


def member_candidates(*, scope: Scope, team: Org, search: str, limit: int = 20) -> list[Volunteer]:
    """Registered volunteers who may join ``team``, found by name, pinyin or number.

    Workers search the volunteers they can see. A team leader (whose grant is on the team,
    not the community) finds a volunteer of the team's community only by the exact 志愿者编号
    the volunteer gives them — the register is not open to browse."""
    text = (search or "").strip()[:50]
    if not text:
        return []
    current = TeamMembership.objects.filter(
        team=team, volunteer_id=OuterRef("pk"), left_on__isnull=True
    )
    if scope.can(Perm.VOLUNTEER_VIEW, team.parent.parent if team.parent else team):
        filters = VolunteerFilters(search=text, status=VolunteerStatus.REGISTERED)
        qs = volunteer_list(scope=scope, filters=filters)
    else:
        qs = Volunteer.objects.filter(
            status=VolunteerStatus.REGISTERED,
            number__iexact=text,
            org__path__startswith=_team_community_path(team),
        ).select_related("person", "org")
    return list(qs.exclude(Exists(current))[:limit])


def candidate_get(*, scope: Scope, team: Org, volunteer_id: int, number: str = "") -> Volunteer:
    """The volunteer to add to ``team``: visible to the user, or (for a team leader) named
    by its exact number within the team's community. 404 otherwise."""
    qs = Volunteer.objects.select_related("person", "org")
    found = qs.filter(pk__in=visible_volunteers(scope).values("pk"), pk=volunteer_id).first()
    if found is None and number and scope.can(Perm.TEAM_MANAGE, team):
        found = qs.filter(
            pk=volunteer_id,
            number__iexact=number.strip(),
            org__path__startswith=_team_community_path(team),
        ).first()
    if found is None:
        raise Http404
    return found


# --- training ---------------------------------------------------------------------------


def _courses(scope: Scope) -> QuerySet[Course]:
    return Course.objects.within(scope, Perm.VOLUNTEER_VIEW).select_related(
        "org", "category", "grants_qualification"
    )


def course_list(
    *, scope: Scope, search: str = "", org: Org | None = None, active_only: bool = False
) -> QuerySet[Course]:
    qs = _courses(scope).annotate(session_count=Count("sessions", distinct=True))
    if search.strip():
        qs = qs.filter(name__contains=search.strip())
    if org is not None:
        qs = qs.filter(org__path__startswith=org.path)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs.order_by("-is_active", "name", "id")


def course_get(*, scope: Scope, course_id: int) -> Course:
    return get_object_or_404(_courses(scope), pk=course_id)


def course_org_choices(*, scope: Scope) -> QuerySet[Org]:
    """Communities, corps and teams where the user may run training."""
    return (
        Org.objects.within(scope, Perm.TEAM_MANAGE)
        .filter(kind__in=COURSE_ORG_KINDS, is_active=True)
        .order_by("path")
    )


def qualification_type_choices() -> QuerySet[QualificationType]:
    return QualificationType.objects.filter(is_active=True)


def _sessions(scope: Scope) -> QuerySet[TrainingSession]:
    return TrainingSession.objects.within(scope, Perm.VOLUNTEER_VIEW).select_related(
        "course", "course__org", "course__grants_qualification"
    )


def session_list(
    *,
    scope: Scope,
    course: Course | None = None,
    upcoming: bool = False,
    now: dt.datetime | None = None,
) -> QuerySet[TrainingSession]:
    qs = _sessions(scope).annotate(
        attended_count=Count("attendances", filter=Q(attendances__attended=True))
    )
    if course is not None:
        qs = qs.filter(course=course)
    if upcoming:
        return qs.filter(ends_at__gte=now or timezone.now()).order_by("starts_at", "id")
    return qs.order_by("-starts_at", "-id")


def session_get(*, scope: Scope, session_id: int) -> TrainingSession:
    return get_object_or_404(_sessions(scope), pk=session_id)


@dataclass
class SheetRow:
    volunteer: Volunteer
    attendance: TrainingAttendance | None

    @property
    def attended(self) -> bool:
        return self.attendance.attended if self.attendance else False

    @property
    def passed(self) -> bool:
        return self.attendance.passed if self.attendance else False


def sheet_volunteers(*, session: TrainingSession) -> QuerySet[Volunteer]:
    """Who belongs on the attendance sheet: the team's members for a team course, the
    registered volunteers of the community (with the corps' team members) otherwise — plus
    anyone already recorded for this session."""
    org = session.course.org
    recorded = TrainingAttendance.objects.filter(session=session, volunteer_id=OuterRef("pk"))
    if org.kind == OrgKind.TEAM:
        members = TeamMembership.objects.filter(
            team=org, volunteer_id=OuterRef("pk"), left_on__isnull=True
        )
        condition = Exists(members)
    else:
        community_path = org.parent.path if org.kind == OrgKind.CORPS else org.path
        members = TeamMembership.objects.filter(
            team__path__startswith=org.path, volunteer_id=OuterRef("pk"), left_on__isnull=True
        )
        condition = Q(org__path__startswith=community_path) | Exists(members)
    return Volunteer.objects.filter(
        (condition & Q(status=VolunteerStatus.REGISTERED)) | Exists(recorded)
    )


def attendance_sheet(*, session: TrainingSession) -> list[SheetRow]:
    """The sheet's rows: two queries, however many volunteers."""
    volunteers = sheet_volunteers(session=session).select_related("person").order_by("number")
    records = {a.volunteer_id: a for a in TrainingAttendance.objects.filter(session=session)}
    return [SheetRow(volunteer=v, attendance=records.get(v.pk)) for v in volunteers]


def attendance_list(*, session: TrainingSession) -> QuerySet[TrainingAttendance]:
    return (
        TrainingAttendance.objects.filter(session=session)
        .select_related("volunteer__person")
        .order_by("volunteer__number")
    )


def sheet_volunteers_by_id(*, session: TrainingSession, ids: list[int]) -> dict[int, Volunteer]:
    """The volunteers with these ids who may be on the session's sheet (one query)."""
    qs = sheet_volunteers(session=session).filter(pk__in=ids).select_related("person")
    return {v.pk: v for v in qs}


# --- qualifications ---------------------------------------------------------------------


def qualifications_within(scope: Scope) -> QuerySet[Qualification]:
    """Certificates of volunteers visible to ``scope``."""
    return Qualification.objects.filter(
        volunteer__in=visible_volunteers(scope).values("pk")
    ).select_related("kind")


def qualification_list(*, volunteer: Volunteer) -> QuerySet[Qualification]:
    """A volunteer's certificates (the volunteer has been resolved through the scope)."""
    return (
        Qualification.objects.filter(volunteer=volunteer)
        .select_related("kind")
        .order_by("kind__sort_order", "kind_id", "-issued_on", "-id")
    )


def qualification_get(*, scope: Scope, qualification_id: int) -> Qualification:
    """A certificate of a volunteer visible to ``scope``, else 404."""
    return get_object_or_404(
        qualifications_within(scope).select_related("volunteer__person", "volunteer__org"),
        pk=qualification_id,
    )


def remind_window_days() -> int:
    return settings.HUZHU_QUALIFICATION_REMIND_DAYS


def volunteer_trainings(*, volunteer: Volunteer) -> QuerySet[TrainingAttendance]:
    return (
        TrainingAttendance.objects.filter(volunteer=volunteer)
        .select_related("session__course")
        .order_by("-session__starts_at", "-id")
    )


def qualifications_expiring(
    *,
    scope: Scope,
    today: dt.date | None = None,
    days: int | None = None,
    kind: QualificationType | None = None,
    expired: bool | None = None,
) -> QuerySet[Qualification]:
    """Certificates in scope that expire within ``days`` (default the site setting) or have
    expired, soonest first. ``expired``: True only expired, False only still valid."""
    today = today or timezone.localdate()
    days = settings.HUZHU_QUALIFICATION_REMIND_DAYS if days is None else days
    qs = (
        Qualification.objects.filter(
            volunteer__in=visible_volunteers(scope).values("pk"),
            volunteer__status__in=LIVE_STATUSES,
            expires_on__isnull=False,
            expires_on__lte=today + dt.timedelta(days=days),
        )
        .exclude(superseded())
        .select_related("kind", "volunteer__person", "volunteer__org")
        .order_by("expires_on", "id")
    )
    if kind is not None:
        qs = qs.filter(kind=kind)
    if expired is True:
        qs = qs.filter(expires_on__lt=today)
    elif expired is False:
        qs = qs.filter(expires_on__gte=today)
    return qs


def team_memberships_of(*, volunteer: Volunteer) -> QuerySet[TeamMembership]:
    """The teams of a volunteer (already resolved through the scope), current first."""
    return (
        TeamMembership.objects.filter(volunteer=volunteer)
        .select_related("team")
        .order_by(F("left_on").desc(nulls_first=True), "-joined_on", "-id")
    )
