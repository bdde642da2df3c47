"""Writes on the volunteer register: registration, review, classification, teams.

Every function is atomic, validated and audited. Training, qualifications, stars, honours and
evaluations live in ``volunteers.archive_services``; Excel import in ``volunteers.importer``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common import crypto
from huzhu.common.audit import log_action
from huzhu.common.identity import mask_mobile, normalise_mobile, parse_id_number
from huzhu.common.services import counter_next
from huzhu.orgs.models import RESIDENCE_KINDS, Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Perm, Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.people.services import id_number_hash, person_build
from huzhu.volunteers.availability import FULL_MASK
from huzhu.volunteers.models import (
    PoliticalStatus,
    RegistrationSource,
    ServedGroup,
    ServiceCategory,
    Skill,
    TeamMembership,
    TeamProfile,
    TeamRole,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)

ADULT_AGE = 18
NUMBER_COUNTER = "volunteer_number"


@dataclass
class RegistrationResult:
    volunteer: Volunteer
    created: bool  # False: the person was already registered; ``volunteer`` is that record
    person_created: bool


@dataclass
class RegistrationInput:
    """What a registration form, an import row or an API call supplies."""

    name: str = ""
    id_number: str = ""
    phone: str = ""
    address: str = ""
    political_status: str = PoliticalStatus.MASSES
    skills: Iterable[Skill | str] = ()
    categories: Iterable[ServiceCategory] = ()
    served_groups: Iterable[ServedGroup] = ()
    availability: int = 0
    publish_name: bool = False
    guardian_name: str = ""
    guardian_phone: str = ""
    guardian_consent: bool = False
    historical_minutes: int = 0
    notes: str = ""


# --- helpers ----------------------------------------------------------------------------


def issue_numbers(count: int, today: dt.date | None = None) -> list[str]:
    """志愿者编号: V + year + 7-digit sequence, e.g. V20260000123; never reused."""
    year = (today or timezone.localdate()).year
    first = counter_next(NUMBER_COUNTER, count)
    return [f"V{year}{n:07d}" for n in range(first, first + count)]


def skills_from_names(names: Iterable[Skill | str]) -> list[Skill]:
    """Curated skills by name; unknown names become free tags (not curated)."""
    result: list[Skill] = []
    for item in names:
        if isinstance(item, Skill):
            result.append(item)
            continue
        name = (item or "").strip()[:30]
        if name:
            skill, _created = Skill.objects.get_or_create(name=name, defaults={"sort_order": 1000})
            result.append(skill)
    return result


def _require(scope: Scope, perm: str, org: Org) -> None:
    if not scope.can(perm, org):
        raise PermissionDenied(_("您没有管理该组织志愿者的权限"))


def _check_org(org: Org | None) -> Org:
    if org is None or org.kind not in RESIDENCE_KINDS or not org.is_active:
        raise ValidationError({"org": _("请选择所在社区或网格")})
    return org


def _validate_minor(data: RegistrationInput, birth_date: dt.date, today: dt.date) -> list[str]:
    age = (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )
    if age >= ADULT_AGE:
        return []
    errors = []
    if not data.guardian_consent:
        errors.append(_("未满18周岁须经监护人同意后方可注册"))
    if not data.guardian_name.strip():
        errors.append(_("未满18周岁须填写监护人姓名"))
    return errors


def _apply_profile(volunteer: Volunteer, data: RegistrationInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.political_status not in PoliticalStatus.values:
        errors["political_status"] = [_("未知的政治面貌")]
    volunteer.political_status = data.political_status
    if not 0 <= int(data.availability) <= FULL_MASK:
        errors["availability"] = [_("服务时间无效")]
    volunteer.availability = int(data.availability)
    volunteer.publish_name = bool(data.publish_name)
    if data.historical_minutes < 0:
        errors["historical_minutes"] = [_("历史服务时长不能为负数")]
    volunteer.notes = (data.notes or "").strip()
    volunteer.guardian_name = (data.guardian_name or "").strip()[:50]
    if data.guardian_phone.strip():
        try:
            phone = normalise_mobile(data.guardian_phone)
        except ValidationError as exc:
            errors["guardian_phone"] = exc.messages
        else:
            volunteer.guardian_phone_encrypted = crypto.encrypt(phone)
            volunteer.guardian_phone_masked = mask_mobile(phone)
    if data.guardian_consent and volunteer.guardian_consent_at is None:
        volunteer.guardian_consent_at = timezone.now()
    return errors


def _record_status(volunteer: Volunteer, old: str, new: str, actor: Any, reason: str) -> None:
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    VolunteerStatusChange.objects.create(
        volunteer=volunteer,
        from_status=old,
        to_status=new,
        reason=reason,
        actor=actor if is_user else None,
        actor_label=actor.get_username() if is_user else _("系统"),
    )


def _set_lists(volunteer: Volunteer, data: RegistrationInput) -> None:
    volunteer.skills.set(skills_from_names(data.skills))
    volunteer.categories.set(list(data.categories))
    volunteer.served_groups.set(list(data.served_groups))


# --- registration -----------------------------------------------------------------------


@transaction.atomic
def volunteer_register(
    *,
    actor: Any,
    scope: Scope,
    org: Org,
    data: RegistrationInput,
    source: str = RegistrationSource.WORKER,
    today: dt.date | None = None,
) -> RegistrationResult:
    """Register a volunteer. The person is found by ID number (or created); one person has
    one registration, so a second attempt returns the existing record (``created=False``).

    ``source=self``: the actor registers themself; the record waits for review (待审核) and
    the person is linked to the actor's login. Worker entry and import are reviewed by the
    worker who enters them, so they start as 已注册 with that worker as approver.
    """
    today = today or timezone.localdate()
    org = _check_org(org)
    if source != RegistrationSource.SELF:
        _require(scope, Perm.VOLUNTEER_MANAGE, org)
    try:
        citizen = parse_id_number(data.id_number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from exc
    person = Person.objects.filter(id_number_hash=id_number_hash(citizen.number)).first()
    if (
        source == RegistrationSource.SELF
        and getattr(actor, "is_authenticated", False)
        and person is not None
        and person.user_id is None
        and (data.name or "").strip() != person.name
    ):
        # Knowing someone's ID number must not be enough to claim their record (the login
        # would be linked to it below).
        raise ValidationError(
            {"name": _("姓名与该身份证号登记的姓名不一致，请到社区服务站核实身份")}
        )
    existing = Volunteer.objects.filter(person=person).first() if person else None
    if existing is not None:
        if source == RegistrationSource.SELF:
            _link_login(person, actor)
        return RegistrationResult(volunteer=existing, created=False, person_created=False)

    errors: dict[str, list[str]] = {}
    minor_errors = _validate_minor(data, citizen.birth_date, today)
    if minor_errors:
        errors["guardian_consent"] = minor_errors
    person_created = person is None
    if person_created:
        try:
            person = person_build(
                org=org,
                name=data.name,
                id_number=citizen.number,
                phone=data.phone,
                address=data.address,
            )
        except ValidationError as exc:
            errors.update(exc.message_dict)
    volunteer = Volunteer(org=org, source=source)
    errors.update(_apply_profile(volunteer, data))
    if errors:
        raise ValidationError(errors)
    if person_created:
        try:
            with transaction.atomic():
                person.save()
        except IntegrityError as exc:
            raise ValidationError({"id_number": _("该身份证号正在登记，请稍后重试")}) from exc
    if source == RegistrationSource.SELF:
        _link_login(person, actor)
    volunteer.person = person
    volunteer.number = issue_numbers(1, today)[0]
    volunteer.historical_minutes = volunteer.recorded_minutes = int(data.historical_minutes)
    if source == RegistrationSource.SELF:
        volunteer.status = VolunteerStatus.PENDING
    else:
        volunteer.status = VolunteerStatus.REGISTERED
        volunteer.approved_by = actor if getattr(actor, "is_authenticated", False) else None
        volunteer.approved_at = timezone.now()
    try:
        with transaction.atomic():
            volunteer.save()
    except IntegrityError:  # the same person registered concurrently: link to that record
        return RegistrationResult(
            volunteer=Volunteer.objects.get(person=person), created=False, person_created=False
        )
    _set_lists(volunteer, data)
    _record_status(volunteer, "", volunteer.status, actor, RegistrationSource(source).label)
    if volunteer.status == VolunteerStatus.REGISTERED:
        match_profiles_refresh(volunteer_ids=[volunteer.pk])
    log_action(
        actor,
        "volunteer.register",
        volunteer,
        {
            "number": volunteer.number,
            "name": person.name,
            "source": source,
            "status": volunteer.status,
            "id_number": person.id_number_masked,
        },
    )
    return RegistrationResult(volunteer=volunteer, created=True, person_created=person_created)


def _link_login(person: Person, actor: Any) -> None:
    if not getattr(actor, "is_authenticated", False):
        return
    if person.user_id is None and not Person.objects.filter(user=actor).exists():
        person.user = actor
        person.save(update_fields=["user", "updated_at"])
    elif person.user_id != actor.pk:
        raise ValidationError({"id_number": _("该身份证号已关联其他账号，请到社区服务站核实身份")})


# --- review and state -------------------------------------------------------------------

# (from states) → to state, and whether a reason is required
TRANSITIONS: dict[str, tuple[frozenset[str], bool]] = {
    VolunteerStatus.REGISTERED: (
        frozenset({VolunteerStatus.PENDING, VolunteerStatus.SUSPENDED}),
        False,
    ),
    VolunteerStatus.REJECTED: (frozenset({VolunteerStatus.PENDING}), True),
    VolunteerStatus.SUSPENDED: (frozenset({VolunteerStatus.REGISTERED}), True),
    VolunteerStatus.CANCELLED: (
        frozenset({VolunteerStatus.PENDING, VolunteerStatus.REGISTERED, VolunteerStatus.SUSPENDED}),
        True,
    ),
}


@transaction.atomic
def volunteer_set_status(
    *, actor: Any, scope: Scope, volunteer: Volunteer, status: str, reason: str = ""
) -> Volunteer:
    """approve (→ 已注册), reject, suspend (暂停), resume (→ 已注册), cancel (注销)."""
    _require(scope, Perm.VOLUNTEER_MANAGE, volunteer.org)
    volunteer = (
        Volunteer.objects.select_for_update().select_related("org", "person").get(pk=volunteer.pk)
    )
    if status not in TRANSITIONS:
        raise ValidationError({"status": _("未知的状态")})
    allowed_from, needs_reason = TRANSITIONS[status]
    reason = (reason or "").strip()[:200]
    if volunteer.status not in allowed_from:
        raise ValidationError(
            {
                "status": _("“%(old)s”状态的志愿者不能变更为“%(new)s”")
                % {"old": volunteer.get_status_display(), "new": VolunteerStatus(status).label}
            }
        )
    if needs_reason and not reason:
        raise ValidationError({"reason": _("请填写原因")})
    old = volunteer.status
    volunteer.status, volunteer.status_reason = status, reason
    if old == VolunteerStatus.PENDING and status == VolunteerStatus.REGISTERED:
        volunteer.approved_by = actor if getattr(actor, "is_authenticated", False) else None
        volunteer.approved_at = timezone.now()
    volunteer.save()
    _record_status(volunteer, old, status, actor, reason)
    log_action(actor, "volunteer.status", volunteer, {"from": old, "to": status, "reason": reason})
    match_profiles_refresh(volunteer_ids=[volunteer.pk])
    return volunteer


PROFILE_FIELDS = (
    "political_status",
    "skills",
    "categories",
    "served_groups",
    "availability",
    "publish_name",
    "notes",
    "org",
    "historical_minutes",
)


@transaction.atomic
def volunteer_update(
    *, actor: Any, scope: Scope, volunteer: Volunteer, **changes: Any
) -> Volunteer:
    """Change the classification and profile of a registration (not the person's identity,
    which people.services.person_update owns). A volunteer may edit their own profile."""
    own = scope.person_id is not None and scope.person_id == volunteer.person_id
    if not own:
        _require(scope, Perm.VOLUNTEER_MANAGE, volunteer.org)
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown or (
        own
        and not scope.can(Perm.VOLUNTEER_MANAGE, volunteer.org)
        and {"org", "historical_minutes"} & set(changes)
    ):
        raise ValidationError(
            _("不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown or changes))}
        )
    volunteer = Volunteer.objects.select_for_update().get(pk=volunteer.pk)
    before = _profile_snapshot(volunteer)
    data = RegistrationInput(
        political_status=changes.get("political_status", volunteer.political_status),
        availability=changes.get("availability", volunteer.availability),
        publish_name=changes.get("publish_name", volunteer.publish_name),
        notes=changes.get("notes", volunteer.notes),
        guardian_name=volunteer.guardian_name,
        historical_minutes=changes.get("historical_minutes", volunteer.historical_minutes),
    )
    errors = _apply_profile(volunteer, data)
    if "org" in changes:
        try:
            org = _check_org(changes["org"])
            _require(scope, Perm.VOLUNTEER_MANAGE, org)
            volunteer.org = org
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if "historical_minutes" in changes:
        delta = int(changes["historical_minutes"]) - volunteer.historical_minutes
        volunteer.historical_minutes += delta
        volunteer.recorded_minutes = max(0, volunteer.recorded_minutes + delta)
    volunteer.save()
    if "skills" in changes:
        volunteer.skills.set(skills_from_names(changes["skills"]))
    if "categories" in changes:
        volunteer.categories.set(list(changes["categories"]))
    if "served_groups" in changes:
        volunteer.served_groups.set(list(changes["served_groups"]))
    after = _profile_snapshot(volunteer)
    diff = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if diff:
        log_action(actor, "volunteer.update", volunteer, {"changes": diff})
    if MATCHING_FIELDS & set(diff):
        match_profiles_refresh(volunteer_ids=[volunteer.pk])
    return volunteer


# What matching reads of a registration (``huzhu.needs`` keeps a profile row per category).
MATCHING_FIELDS = frozenset({"skills", "categories", "availability", "org"})


def match_profiles_refresh(*, volunteer_ids: Iterable[int]) -> int:
    """Rebuild the matching profiles of these volunteers after a change to what matching
    reads (status, skills, categories, availability, org): one call for many (an import
    passes every id it wrote). Returns the profile rows written."""
    from huzhu.needs.profiles import profiles_refresh

    ids = sorted(set(volunteer_ids))
    return profiles_refresh(volunteer_ids=ids) if ids else 0


def _profile_snapshot(volunteer: Volunteer) -> dict[str, Any]:
    from huzhu.volunteers.availability import describe

    return {
        "political_status": volunteer.get_political_status_display(),
        "availability": describe(volunteer.availability),
        "publish_name": volunteer.publish_name,
        "notes": volunteer.notes,
        "org": volunteer.org.name,
        "historical_minutes": volunteer.historical_minutes,
        "skills": sorted(s.name for s in volunteer.skills.all()),
        "categories": sorted(c.name for c in volunteer.categories.all()),
        "served_groups": sorted(g.name for g in volunteer.served_groups.all()),
    }


# --- organisation: corps and teams ------------------------------------------------------


@transaction.atomic
def corps_ensure(*, actor: Any, scope: Scope, community: Org) -> Org:
    """The community's 志愿者总队, created if missing and affiliated to the district's 分会."""
    if community.kind != OrgKind.COMMUNITY:
        raise ValidationError({"org": _("志愿者总队只能设在社区")})
    _require(scope, Perm.VOLUNTEER_MANAGE, community)
    corps = Org.objects.filter(parent=community, kind=OrgKind.CORPS).first()
    if corps is not None:
        return corps
    from huzhu.orgs.services import org_create

    corps = org_create(
        actor=actor,
        scope=scope,
        parent=community,
        kind=OrgKind.CORPS,
        name=f"{community.name}志愿者总队",
    )
    branch = _district_branch(community)
    if branch is not None:
        Org.objects.filter(pk=corps.pk).update(affiliation=branch)
        corps.affiliation = branch
    return corps


def _district_branch(community: Org) -> Org | None:
    """The 分会 affiliated with the community's district, if the association chain exists."""
    ancestors = Org.objects.ancestors_of(community)
    district = next((o for o in ancestors if o.kind == OrgKind.DISTRICT), None)
    if district is None:
        return None
    return Org.objects.filter(kind=OrgKind.BRANCH, affiliation=district).first()


@transaction.atomic
def team_create(
    *,
    actor: Any,
    scope: Scope,
    corps: Org,
    name: str,
    category: ServiceCategory | None = None,
    description: str = "",
) -> Org:
    from huzhu.orgs.services import org_create

    if corps.kind != OrgKind.CORPS:
        raise ValidationError({"parent": _("服务队只能设在志愿者总队下")})
    _require(scope, Perm.VOLUNTEER_MANAGE, corps)
    team = org_create(actor=actor, scope=scope, parent=corps, kind=OrgKind.TEAM, name=name)
    TeamProfile.objects.create(org=team, category=category, description=description.strip())
    return team


@transaction.atomic
def team_member_add(
    *,
    actor: Any,
    scope: Scope,
    team: Org,
    volunteer: Volunteer,
    role: str = TeamRole.MEMBER,
    joined_on: dt.date | None = None,
) -> TeamMembership:
    if team.kind != OrgKind.TEAM:
        raise ValidationError({"team": _("请选择服务队")})
    if not (scope.can(Perm.TEAM_MANAGE, team) or scope.can(Perm.VOLUNTEER_MANAGE, team)):
        raise PermissionDenied(_("您没有管理该服务队的权限"))
    if role not in TeamRole.values:
        raise ValidationError({"role": _("未知的职务")})
    if role != TeamRole.MEMBER and not scope.can(Perm.VOLUNTEER_MANAGE, team):
        raise PermissionDenied(_("只有社区工作者可以任免队长"))
    if volunteer.status != VolunteerStatus.REGISTERED:
        raise ValidationError({"volunteer": _("只有已注册的志愿者可以加入服务队")})
    if TeamMembership.objects.filter(team=team, volunteer=volunteer, left_on__isnull=True).exists():
        raise ValidationError(
            {"volunteer": _("%(name)s 已是该服务队成员") % {"name": volunteer.person.name}}
        )
    membership = TeamMembership.objects.create(
        team=team, volunteer=volunteer, role=role, joined_on=joined_on or timezone.localdate()
    )
    _sync_leader_grant(actor, team, volunteer, role)
    log_action(
        actor,
        "team.member_add",
        membership,
        {"team": team.name, "volunteer": volunteer.number, "role": role},
    )
    return membership


@transaction.atomic
def team_member_set_role(
    *, actor: Any, scope: Scope, membership: TeamMembership, role: str
) -> TeamMembership:
    team = membership.team
    if not scope.can(Perm.VOLUNTEER_MANAGE, team):
        raise PermissionDenied(_("只有社区工作者可以任免队长"))
    if role not in TeamRole.values:
        raise ValidationError({"role": _("未知的职务")})
    if membership.left_on is not None:
        raise ValidationError({"membership": _("该队员已退出服务队")})
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _sync_leader_grant(actor, team, membership.volunteer, role)
    log_action(actor, "team.member_role", membership, {"team": team.name, "from": old, "to": role})
    return membership


@transaction.atomic
def team_member_remove(
    *, actor: Any, scope: Scope, membership: TeamMembership, left_on: dt.date | None = None
) -> None:
    team = membership.team
    if not (scope.can(Perm.TEAM_MANAGE, team) or scope.can(Perm.VOLUNTEER_MANAGE, team)):
        raise PermissionDenied(_("您没有管理该服务队的权限"))
    if membership.left_on is not None:
        raise ValidationError({"membership": _("该队员已退出服务队")})
    if membership.role != TeamRole.MEMBER and not scope.can(Perm.VOLUNTEER_MANAGE, team):
        raise PermissionDenied(_("只有社区工作者可以任免队长"))
    membership.left_on = left_on or timezone.localdate()
    membership.save(update_fields=["left_on"])
    _sync_leader_grant(actor, team, membership.volunteer, TeamRole.MEMBER)
    log_action(actor, "team.member_remove", membership, {"team": team.name})


def _sync_leader_grant(actor: Any, team: Org, volunteer: Volunteer, role: str) -> None:
    """A leader or deputy with a login gets the team_leader role on the team; losing the
    post takes it away."""
    user = volunteer.person.user
    if user is None:
        return
    if role in (TeamRole.LEADER, TeamRole.DEPUTY):
        RoleGrant.objects.get_or_create(
            user=user,
            org=team,
            role=Role.TEAM_LEADER,
            defaults={"granted_by": actor if getattr(actor, "is_authenticated", False) else None},
        )
    else:
        RoleGrant.objects.filter(user=user, org=team, role=Role.TEAM_LEADER).delete()


# --- hours and stars --------------------------------------------------------------------


def star_thresholds_minutes() -> tuple[int, ...]:
    """Recorded hours for one to five stars (DOMAIN.md §4, configurable)."""
    return tuple(int(h) * 60 for h in settings.HUZHU_STAR_THRESHOLDS_HOURS)


def star_level_for(minutes: int) -> int:
    return sum(1 for threshold in star_thresholds_minutes() if minutes >= threshold)
