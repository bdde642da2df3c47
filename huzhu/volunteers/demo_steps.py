"""Demo data for the volunteer register: the association chain, team profiles, volunteers with
skills, availability and historical hours, stars, training and qualifications, honours.

Registered as the seed step ``volunteers`` (after ``accounts``). Volunteers are drawn from the
residents the seed has made — about ``DEFAULT_VOLUNTEER_RATIO`` of adults, skewed to ages 40–70
(the people who actually turn out in a Chinese community) and to party members — so
``--scale`` multiplies them with the residents. ``SeedContext.volunteer_ratio`` (when the seed
has it, from ``seed-demo --volunteer-ratio``) changes the share.

The residents are read and the volunteers written in batches of ``--batch-size`` residents,
keyed by id, so memory stays flat at any scale. Everything is bulk-inserted and nothing here
writes audit entries: the seed writes one ``demo.seed`` entry for the whole city.

The demo logins get what their pages need: ``volunteer`` is a registered volunteer of
community A with hours, a star and a first-aid certificate about to expire; ``leader`` is
linked to a resident of community A who leads team A; community A has self-registrations
waiting for ``worker-a`` to review.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Count
from django.utils import timezone

from huzhu.common import crypto
from huzhu.common.bulk import insert_rows
from huzhu.common.identity import mask_mobile
from huzhu.common.services import counter_next
from huzhu.demo import generator
from huzhu.demo.seed import DemoAccount, SeedContext, Step, register_step
from huzhu.orgs.models import Org, OrgKind
from huzhu.people.models import Person
from huzhu.volunteers.availability import SLOTS
from huzhu.volunteers.models import (
    Course,
    Evaluation,
    EvaluationGrade,
    Honour,
    HonourLevel,
    PoliticalStatus,
    Qualification,
    QualificationType,
    RegistrationSource,
    ServedGroup,
    ServiceCategory,
    Skill,
    StarApplication,
    StarStatus,
    TeamMembership,
    TeamProfile,
    TeamRole,
    TrainingAttendance,
    TrainingSession,
    Volunteer,
    VolunteerStatus,
    VolunteerStatusChange,
)
from huzhu.volunteers.services import NUMBER_COUNTER, star_level_for

User = get_user_model()

DEFAULT_VOLUNTEER_RATIO = 0.35  # of adult residents: a model community (national bar: 13 %)
MIN_AGE = 14  # younger residents never register; 14–17 only with a guardian's consent
ADULT_AGE = 18

# Relative chance of registering by age: the 40–70 year-olds carry community volunteering.
AGE_WEIGHTS: tuple[tuple[int, float], ...] = (
    (18, 0.15),  # 14–17: students, with a guardian
    (25, 0.55),
    (40, 0.7),
    (50, 1.3),
    (71, 1.7),
    (80, 0.8),
    (200, 0.15),
)

# Curated skills and how common they are among volunteers (names from the migration).
SKILL_WEIGHTS = {
    "医疗": 3, "护理": 4, "法律": 2, "心理": 3, "维修": 6, "水电": 5, "驾驶": 7, "教育": 6,
    "文艺": 8, "计算机": 5, "外语": 2, "手语": 1, "摄影": 4, "烹饪": 6, "理发": 3, "急救": 3,
    "财会": 3, "书法": 4,
}  # fmt: skip
YOUNG_SKILLS = {"计算机", "外语", "摄影"}
OLDER_SKILLS = {"书法", "理发", "烹饪", "维修"}
FREE_TAGS = (
    "剪纸", "太极拳", "广场舞", "编织", "修自行车", "缝纫", "茶艺", "象棋", "葫芦丝", "京剧",
    "面点", "园艺",
)  # fmt: skip
CATEGORY_WEIGHTS = {
    "社区服务": 10, "关爱特殊群体": 6, "文明风尚": 5, "环境保护": 5, "平安综治": 5,
    "卫生健康": 3, "法律服务": 1, "文化艺术": 3, "支教助学": 3, "科技科普": 2, "交通引导": 2,
    "应急救援": 1, "体育健身": 2, "疫情防控": 2, "禁毒宣传": 1, "大型活动": 2, "扶贫减贫": 1,
    "志愿消防": 1, "旅游服务": 1,
}  # fmt: skip
# A skill makes a category likelier.
SKILL_CATEGORIES = {
    "医疗": "卫生健康", "护理": "卫生健康", "急救": "应急救援", "心理": "关爱特殊群体",
    "法律": "法律服务", "文艺": "文化艺术", "书法": "文化艺术", "摄影": "文化艺术",
    "教育": "支教助学", "外语": "支教助学", "计算机": "科技科普", "驾驶": "交通引导",
}  # fmt: skip
SERVED_WEIGHTS = {
    "老年人": 10, "儿童": 5, "城镇居民": 6, "残障人士": 3, "困难家庭": 3, "社会公众": 4,
    "病患者": 2, "优抚对象": 1, "妇女": 2,
}  # fmt: skip
# The seed's team kinds (huzhu.demo.seed.TEAM_KINDS) and their service category.
TEAM_CATEGORIES = {
    "助老服务队": "关爱特殊群体",
    "环境保护服务队": "环境保护",
    "文明劝导服务队": "文明风尚",
    "法律援助服务队": "法律服务",
    "医疗健康服务队": "卫生健康",
    "平安巡逻服务队": "平安综治",
    "文化文艺服务队": "文化艺术",
    "助学支教服务队": "支教助学",
    "党员先锋服务队": "社区服务",
}
TEAM_DESCRIPTIONS = {
    "关爱特殊群体": "为辖区独居、空巢、高龄老人提供上门探访、代购代办和陪伴服务。",
    "环境保护": "开展楼道清理、垃圾分类宣传和绿地认养。",
    "文明风尚": "开展文明劝导、移风易俗宣传和不文明行为劝导。",
    "法律服务": "提供法律咨询、矛盾调解和普法宣传。",
    "卫生健康": "开展健康讲座、义诊和慢病随访协助。",
    "平安综治": "开展治安巡逻、防诈骗宣传和重点时段值守。",
    "文化艺术": "组织文艺演出、书画培训和社区文化活动。",
    "支教助学": "为辖区中小学生提供课业辅导和假期托管。",
    "社区服务": "党员带头，承担急难险重任务和社区日常服务。",
}
QUALIFICATION_FOR_SKILL = {
    "医疗": ("执业医师", "山东省卫生健康委员会", 0.25),
    "护理": ("护士执业证书", "山东省卫生健康委员会", 0.35),
    "驾驶": ("机动车驾驶证", "济南市公安局交通警察支队", 0.6),
    "法律": ("律师执业证", "山东省司法厅", 0.2),
    "心理": ("心理咨询师", "山东省人力资源和社会保障厅", 0.3),
    "水电": ("电工证", "济南市应急管理局", 0.4),
}
FIRST_AID = "急救证"
HONOUR_TITLES = {
    HonourLevel.COMMUNITY: ("优秀志愿者", "最美志愿者", "热心公益奖"),
    HonourLevel.STREET: ("优秀志愿者", "志愿服务先进个人"),
    HonourLevel.DISTRICT: ("优秀志愿者", "最美志愿者", "学雷锋志愿服务先进个人"),
    HonourLevel.CITY: ("优秀志愿者", "泉城好人"),
    HonourLevel.PROVINCE: ("山东省优秀志愿者",),
}
SUSPEND_REASONS = ("长期未参加活动，联系不上", "本人申请暂停（外出务工）", "身体原因暂停服务")
CANCEL_REASONS = ("本人申请注销", "已迁出本社区", "本人申请注销（工作调动）")


# --- pure: what one volunteer looks like -------------------------------------------------


@dataclass
class Lists:
    """Ids of the classification lists, by name."""

    skills: dict[str, int]
    free_tags: dict[str, int]
    categories: dict[str, int]
    served: dict[str, int]
    qualifications: dict[str, QualificationType]

    @classmethod
    def load(cls) -> Lists:
        free = {}
        for name in FREE_TAGS:
            skill, _ = Skill.objects.get_or_create(name=name, defaults={"sort_order": 1000})
            free[name] = skill.pk
        return cls(
            skills=dict(Skill.objects.filter(is_curated=True).values_list("name", "id")),
            free_tags=free,
            categories=dict(ServiceCategory.objects.values_list("name", "id")),
            served=dict(ServedGroup.objects.values_list("name", "id")),
            qualifications={q.name: q for q in QualificationType.objects.all()},
        )


@dataclass
class Profile:
    """One volunteer's classification and history, before it becomes rows."""

    political_status: str
    skills: list[str]  # curated names
    free_tags: list[str]
    categories: list[str]
    served: list[str]
    availability: int
    historical_minutes: int
    publish_name: bool
    star_level: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _weighted_sample(rng: random.Random, weights: dict[str, float], k: int) -> list[str]:
    """``k`` distinct names, drawn by weight."""
    pool = dict(weights)
    chosen: list[str] = []
    while pool and len(chosen) < k:
        names = list(pool)
        pick = rng.choices(names, cum_weights=list(accumulate(pool[n] for n in names)))[0]
        chosen.append(pick)
        del pool[pick]
    return chosen


def political_status_for(rng: random.Random, age: int) -> str:
    r = rng.random()
    if age < 28:
        if r < 0.45:
            return PoliticalStatus.CYL_MEMBER
        if r < 0.50:
            return PoliticalStatus.CPC_MEMBER if age >= 18 else PoliticalStatus.CYL_MEMBER
        if r < 0.52 and age >= 18:
            return PoliticalStatus.CPC_PROBATIONARY
        return PoliticalStatus.MASSES
    party = 0.30 if age >= 40 else 0.22  # volunteers are party members far above the average
    if r < party:
        return PoliticalStatus.CPC_MEMBER
    if r < party + 0.01:
        return PoliticalStatus.CPC_PROBATIONARY
    if r < party + 0.02:
        return PoliticalStatus.DEMOCRATIC_PARTY
    return PoliticalStatus.MASSES


def availability_for(rng: random.Random, age: int) -> int:
    """Retired people give weekday daytimes; working people evenings and weekends."""
    mask = 0
    for bit, code in enumerate(SLOTS):
        day, period = code.split("_")
        weekend = day in ("sat", "sun")
        if age >= 60:
            chance = {"am": 0.55, "pm": 0.45, "eve": 0.12}[period] * (0.6 if weekend else 1)
        elif age < ADULT_AGE:
            chance = {"am": 0.5, "pm": 0.5, "eve": 0.0}[period] if weekend else 0.0
        else:
            chance = (
                {"am": 0.5, "pm": 0.5, "eve": 0.2}
                if weekend
                else {"am": 0.04, "pm": 0.04, "eve": 0.3}
            )[period]
        if rng.random() < chance:
            mask |= 1 << bit
    return mask or 1 << SLOTS.index("sat_am")


def historical_minutes_for(rng: random.Random, age: int) -> int:
    """Log-normal hours (median ≈ 35 h, long tail): a spread of star eligibility."""
    if rng.random() < 0.08:
        return 0
    mu = math.log(35) + (0.35 if 50 <= age <= 75 else 0.0) - (0.8 if age < ADULT_AGE else 0.0)
    hours = min(5000.0, math.exp(rng.gauss(mu, 1.15)))
    return int(hours * 2) * 30  # whole half hours


def profile_for(rng: random.Random, age: int) -> Profile:
    skill_weights = {
        name: w
        * (1.8 if (name in YOUNG_SKILLS and age < 40) else 1)
        * (1.6 if (name in OLDER_SKILLS and age >= 55) else 1)
        for name, w in SKILL_WEIGHTS.items()
    }
    skills = _weighted_sample(rng, skill_weights, rng.choices((0, 1, 2, 3), (25, 45, 25, 5))[0])
    free = [rng.choice(FREE_TAGS)] if rng.random() < 0.12 else []
    category_weights = dict(CATEGORY_WEIGHTS)
    for skill in skills:
        if skill in SKILL_CATEGORIES:
            category_weights[SKILL_CATEGORIES[skill]] += 12
    categories = _weighted_sample(rng, category_weights, rng.choices((1, 2, 3), (45, 40, 15))[0])
    served_weights = dict(SERVED_WEIGHTS)
    if "卫生健康" in categories:
        served_weights["病患者"] += 6
    if "支教助学" in categories:
        served_weights["儿童"] += 10
    served = _weighted_sample(rng, served_weights, rng.choices((1, 2), (60, 40))[0])
    return Profile(
        political_status=political_status_for(rng, age),
        skills=skills,
        free_tags=free,
        categories=categories,
        served=served,
        availability=availability_for(rng, age),
        historical_minutes=historical_minutes_for(rng, age),
        publish_name=rng.random() < 0.7,
    )


def star_granted(rng: random.Random, minutes: int) -> int:
    """Most eligible volunteers hold the star their hours allow; some have not applied yet
    and some hold the one below."""
    eligible = star_level_for(minutes)
    if eligible == 0 or rng.random() < 0.3:
        return 0
    return eligible - 1 if rng.random() < 0.2 else eligible


def registration_chances(age_counts: dict[int, int], ratio: float) -> dict[int, float]:
    """Chance of registering at each age so that about ``ratio`` × adults register."""
    adults = sum(n for age, n in age_counts.items() if age >= ADULT_AGE)
    expected = sum(n * _age_weight(age) for age, n in age_counts.items() if age >= MIN_AGE)
    factor = ratio * adults / expected if expected else 0.0
    return {age: min(0.95, factor * _age_weight(age)) for age in range(MIN_AGE, 130)}


def _age_weight(age: int) -> float:
    return next(w for upper, w in AGE_WEIGHTS if age < upper)


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        with contextlib.suppress(ValueError):
            return dt.date(year, month, d)
    raise AssertionError("unreachable")


def age_on(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# --- the seed step ------------------------------------------------------------------------


@contextlib.contextmanager
def historical_dates(*fields: models.DateTimeField) -> Iterator[None]:
    """Let bulk inserts keep the past dates they are given instead of ``auto_now_add``."""
    saved = [(f, f.auto_now_add) for f in fields]
    try:
        for f, _ in saved:
            f.auto_now_add = False
        yield
    finally:
        for f, value in saved:
            f.auto_now_add = value


def _dated_fields() -> list[models.DateTimeField]:
    return [
        Volunteer._meta.get_field("registered_at"),
        VolunteerStatusChange._meta.get_field("created_at"),
        StarApplication._meta.get_field("applied_at"),
        Qualification._meta.get_field("created_at"),
        Evaluation._meta.get_field("created_at"),
    ]


@dataclass
class _Community:
    org: Org
    district: Org
    street: Org
    teams: list[tuple[Org, str]]  # (team, category name)
    sessions: dict[str, list[TrainingSession]]  # course key → sessions
    leaders: set[int] = field(default_factory=set)  # team ids that have a leader
    deputies: set[int] = field(default_factory=set)


@dataclass
class _State:
    ctx: SeedContext
    rng: random.Random
    lists: Lists
    communities: dict[int, _Community]  # by community id
    community_of: dict[int, int]  # residence org id → community id
    chances: dict[int, float]
    fixed: dict[int, str]  # person id → "volunteer" | "leader" | "pending"
    tz: Any
    cert_seq: int = 0


def _affiliate(ctx: SeedContext) -> None:
    """分会 → district, 总队 → its district's 分会 (DOMAIN.md §2), where the org step left
    them unset."""
    branches = list(Org.objects.filter(kind=OrgKind.BRANCH, parent=ctx.association))
    by_district: dict[int, Org] = {}
    for district in ctx.districts:
        branch = next((b for b in branches if b.affiliation_id == district.pk), None) or next(
            (b for b in branches if b.name.startswith(district.name)), None
        )
        if branch is None:
            continue
        if branch.affiliation_id is None:
            Org.objects.filter(pk=branch.pk).update(affiliation=district)
        by_district[district.pk] = branch
    for community in ctx.communities:
        corps = ctx.corps.get(community.pk)
        branch = by_district.get(_district_of(ctx, community).pk)
        if corps is not None and branch is not None and corps.affiliation_id is None:
            Org.objects.filter(pk=corps.pk).update(affiliation=branch)
            corps.affiliation = branch


def _district_of(ctx: SeedContext, community: Org) -> Org:
    street = next(s for s in ctx.streets if s.pk == community.parent_id)
    return next(d for d in ctx.districts if d.pk == street.parent_id)


def _new_org(parent: Org, kind: str, name: str, sort_order: int = 0) -> Org:
    org = Org.objects.create(
        parent=parent,
        kind=kind,
        name=name,
        path=f"{parent.path}new-{name}/",
        depth=parent.depth + 1,
        sort_order=sort_order,
    )
    org.path = f"{parent.path}{org.pk}/"
    Org.objects.filter(pk=org.pk).update(path=org.path)
    return org


def _ensure_corps_and_teams(ctx: SeedContext, rng: random.Random) -> None:
    """The org step normally makes a 总队 and 2–4 服务队 per community; make them if not."""
    kinds = list(TEAM_CATEGORIES)
    for community in ctx.communities:
        if community.pk not in ctx.corps:
            ctx.corps[community.pk] = _new_org(
                community, OrgKind.CORPS, f"{community.name}志愿者总队"
            )
            ctx.counts[f"org.{OrgKind.CORPS}"] += 1
        if not ctx.teams.get(community.pk):
            corps = ctx.corps[community.pk]
            ctx.teams[community.pk] = [
                _new_org(corps, OrgKind.TEAM, f"{community.name}{kind}", order)
                for order, kind in enumerate(rng.sample(kinds, rng.randint(2, 4)), 1)
            ]
            ctx.counts[f"org.{OrgKind.TEAM}"] += len(ctx.teams[community.pk])


def _team_category(team: Org) -> str:
    return next((c for kind, c in TEAM_CATEGORIES.items() if team.name.endswith(kind)), "社区服务")


def _team_profiles(ctx: SeedContext, lists: Lists) -> None:
    have = set(
        TeamProfile.objects.filter(
            org__in=[t for ts in ctx.teams.values() for t in ts]
        ).values_list("org_id", flat=True)
    )
    profiles = []
    for teams in ctx.teams.values():
        for team in teams:
            if team.pk in have:
                continue
            category = _team_category(team)
            profiles.append(
                TeamProfile(
                    org=team,
                    category_id=lists.categories.get(category),
                    description=TEAM_DESCRIPTIONS.get(category, ""),
                    is_recruiting=True,
                )
            )
    TeamProfile.objects.bulk_create(profiles)
    ctx.counts["team_profiles"] += len(profiles)


COURSES = (
    # key, name, minutes, qualification, category
    ("basic", "志愿服务通识培训", 120, None, "社区服务"),
    ("first_aid", "应急救护培训（红十字救护员）", 960, FIRST_AID, "应急救援"),
    ("elderly", "助老服务技能培训", 180, None, "关爱特殊群体"),
)


def _training(ctx: SeedContext, state_lists: Lists, rng: random.Random) -> dict[int, dict]:
    """Courses and past sessions for each community's corps. One first-aid session in each
    community lies just under the certificate's validity ago, so some certificates are
    about to expire."""
    tz = timezone.get_current_timezone()
    today = ctx.today
    courses = []
    for community in ctx.communities:
        corps = ctx.corps[community.pk]
        for key, name, minutes, qualification, category in COURSES:
            course = Course(
                org=corps,
                name=name,
                category_id=state_lists.categories.get(category),
                minutes=minutes,
                grants_qualification=state_lists.qualifications.get(qualification)
                if qualification
                else None,
                description=f"{community.name}志愿者{name}",
            )
            course.key = key  # type: ignore[attr-defined]
            course.community_id = community.pk  # type: ignore[attr-defined]
            courses.append(course)
    keys = [(c.key, c.community_id) for c in courses]  # type: ignore[attr-defined]
    courses = Course.objects.bulk_create(courses)
    first_aid = state_lists.qualifications.get(FIRST_AID)
    validity = (first_aid.validity_months if first_aid else None) or 36
    sessions = []
    meta = []
    for course, (key, community_id) in zip(courses, keys, strict=True):
        community = next(c for c in ctx.communities if c.pk == community_id)
        days_ago = sorted(rng.sample(range(20, 900), 3 if key == "basic" else 2))
        if key == "first_aid":
            expiring = add_months(today, -validity) + dt.timedelta(days=rng.randint(8, 25))
            days_ago[0] = (today - expiring).days
        for n, ago in enumerate(days_ago):
            day = today - dt.timedelta(days=ago)
            start = dt.datetime.combine(day, dt.time(9 if n % 2 == 0 else 14, 0), tzinfo=tz)
            hours = max(2, course.minutes // 60) if key != "first_aid" else 8
            sessions.append(
                TrainingSession(
                    course=course,
                    starts_at=start,
                    ends_at=start + dt.timedelta(hours=min(hours, 8)),
                    place=f"{community.name}党群服务中心",
                    trainer=rng.choice(("王老师", "李医生", "张律师", "红十字会讲师", "赵社工")),
                )
            )
            meta.append((community_id, key))
    sessions = TrainingSession.objects.bulk_create(sessions)
    result: dict[int, dict[str, list[TrainingSession]]] = {}
    for session, (community_id, key) in zip(sessions, meta, strict=True):
        result.setdefault(community_id, {}).setdefault(key, []).append(session)
    ctx.counts["courses"] += len(courses)
    ctx.counts["training_sessions"] += len(sessions)
    return result


def _fixed_people(ctx: SeedContext) -> dict[int, str]:
    """The demo volunteer, a resident of community A for ``leader``, and a few
    self-registrations in community A waiting for review."""
    fixed: dict[int, str] = {}
    community_a = ctx.named["community_a"]
    volunteer_pid = ctx.people.get("volunteer")
    if volunteer_pid:
        fixed[volunteer_pid] = "volunteer"
    taken = set(ctx.people.values())
    residence = [community_a.pk, *(g.pk for g in ctx.grids.get(community_a.pk, []))]
    adults = Person.objects.filter(
        org_id__in=residence,
        user__isnull=True,
        birth_date__lte=generator.years_before(ctx.today, 30),
        birth_date__gt=generator.years_before(ctx.today, 66),
    ).order_by("pk")
    leader_user = ctx.users.get("leader")
    leader_pid = ctx.people.get("leader")
    if leader_pid is None and leader_user is not None:
        person = adults.exclude(pk__in=taken).first()
        if person is not None:
            Person.objects.filter(pk=person.pk).update(user=leader_user)
            User.objects.filter(pk=leader_user.pk).update(first_name=person.name)
            ctx.accounts[:] = [
                DemoAccount(a.username, a.role, a.org, person.name) if a.username == "leader" else a
                for a in ctx.accounts
            ]
            leader_pid = person.pk
            ctx.people["leader"] = person.pk
    if leader_pid:
        fixed[leader_pid] = "leader"
        taken.add(leader_pid)
    for person_id in adults.exclude(pk__in=taken).values_list("pk", flat=True)[:3]:
        fixed[person_id] = "pending"
    return fixed


def _age_counts(ctx: SeedContext, residence_ids: list[int]) -> dict[int, int]:
    rows = (
        Person.objects.filter(org_id__in=residence_ids)
        .values("birth_date__year")
        .annotate(n=Count("id"))
    )
    return {ctx.today.year - r["birth_date__year"]: r["n"] for r in rows}


def seed_volunteers(ctx: SeedContext) -> None:
    rng = ctx.rng("volunteers")
    assert ctx.city is not None
    ratio = getattr(ctx, "volunteer_ratio", None) or DEFAULT_VOLUNTEER_RATIO
    lists = Lists.load()
    _affiliate(ctx)
    _ensure_corps_and_teams(ctx, rng)
    _team_profiles(ctx, lists)
    sessions = _training(ctx, lists, rng)
    communities = {}
    community_of = {}
    for community in ctx.communities:
        street = next(s for s in ctx.streets if s.pk == community.parent_id)
        communities[community.pk] = _Community(
            org=community,
            district=_district_of(ctx, community),
            street=street,
            teams=[(t, _team_category(t)) for t in ctx.teams.get(community.pk, [])],
            sessions=sessions.get(community.pk, {}),
        )
        community_of[community.pk] = community.pk
        for grid in ctx.grids.get(community.pk, []):
            community_of[grid.pk] = community.pk
    residence_ids = sorted(community_of)
    state = _State(
        ctx=ctx,
        rng=rng,
        lists=lists,
        communities=communities,
        community_of=community_of,
        chances=registration_chances(_age_counts(ctx, residence_ids), ratio),
        fixed=_fixed_people(ctx),
        tz=timezone.get_current_timezone(),
    )
    # The leader of team A is the ``leader`` login's person, whoever comes first.
    team_a = ctx.named.get("team_a")
    if team_a is not None and "leader" in state.fixed.values():
        communities[ctx.named["community_a"].pk].leaders.add(team_a.pk)
    residents = Person.objects.filter(org_id__in=residence_ids).order_by("pk")
    total = residents.count()
    last = 0
    with historical_dates(*_dated_fields()), ctx.bar(total, "志愿者") as bar:
        while True:
            batch = list(
                residents.filter(pk__gt=last).values_list("pk", "org_id", "birth_date")[
                    : ctx.batch_size
                ]
            )
            if not batch:
                break
            last = batch[-1][0]
            _save_batch(state, batch)
            bar.update(len(batch))
            bar.set_postfix(志愿者=ctx.counts["volunteers"], refresh=False)
    ctx.say(
        f"志愿者：{ctx.counts['volunteers']} 人（已注册 {ctx.counts['volunteers.registered']}，"
        f"待审核 {ctx.counts['volunteers.pending']}），服务队成员 {ctx.counts['team_members']}，"
        f"培训 {ctx.counts['training_attendances']} 人次，证书 {ctx.counts['qualifications']} 本"
    )


def _status(rng: random.Random, role: str | None) -> str:
    if role in ("volunteer", "leader"):
        return VolunteerStatus.REGISTERED
    if role == "pending":
        return VolunteerStatus.PENDING
    r = rng.random()
    if r < 0.02:
        return VolunteerStatus.PENDING
    if r < 0.03:
        return VolunteerStatus.SUSPENDED
    if r < 0.045:
        return VolunteerStatus.CANCELLED
    return VolunteerStatus.REGISTERED


def _source(rng: random.Random, status: str, role: str | None) -> str:
    if status == VolunteerStatus.PENDING or role == "volunteer":
        return RegistrationSource.SELF
    return rng.choices(
        (RegistrationSource.SELF, RegistrationSource.WORKER, RegistrationSource.IMPORT),
        (35, 45, 20),
    )[0]


def _at(state: _State, day: dt.date, rng: random.Random) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(rng.randint(8, 19), rng.randrange(60)), tzinfo=state.tz)


# Rows made by the hundred thousand go in as plain tuples (``insert_rows``): building a model
# instance for each costs more than inserting it.
RAW_COLUMNS: dict[str, tuple[type[models.Model], tuple[str, ...]]] = {
    "skills": (Volunteer.skills.through, ("volunteer_id", "skill_id")),
    "categories": (Volunteer.categories.through, ("volunteer_id", "servicecategory_id")),
    "served_groups": (Volunteer.served_groups.through, ("volunteer_id", "servedgroup_id")),
    "changes": (
        VolunteerStatusChange,
        ("volunteer_id", "from_status", "to_status", "reason", "actor_label", "created_at"),
    ),
    "members": (TeamMembership, ("team_id", "volunteer_id", "role", "joined_on")),
    "attendances": (
        TrainingAttendance,
        ("session_id", "volunteer_id", "attended", "minutes", "passed"),
    ),
}


def insert_objects(objs: Sequence[models.Model]) -> None:
    """``bulk_create`` for plain rows, several times cheaper per row: values are taken as
    they are (after ``pre_save``, so ``auto_now`` fields are filled) and pks are set."""
    if not objs:
        return
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    rows = [tuple(f.pre_save(obj, True) for f in fields) for obj in objs]
    ids = insert_rows(model, [f.attname for f in fields], rows, returning=True)
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False


@dataclass
class _Rows:
    volunteers: list[Volunteer] = field(default_factory=list)
    profiles: list[Profile] = field(default_factory=list)
    raw: dict[str, list[tuple]] = field(default_factory=dict)
    other: dict[type, list[Any]] = field(default_factory=dict)

    def add(self, obj: Any) -> None:
        self.other.setdefault(type(obj), []).append(obj)

    def tuple(self, kind: str, *values: Any) -> None:
        self.raw.setdefault(kind, []).append(values)


def _save_batch(state: _State, batch: Sequence[tuple[int, int, dt.date]]) -> None:
    ctx, rng, today = state.ctx, state.rng, state.ctx.today
    chosen = []
    for person_id, org_id, birth in batch:
        role = state.fixed.get(person_id)
        age = age_on(birth, today)
        if role is None and (age < MIN_AGE or rng.random() >= state.chances.get(age, 0.0)):
            continue
        chosen.append((person_id, org_id, birth, age, role))
    if not chosen:
        return
    first = counter_next(NUMBER_COUNTER, len(chosen))
    rows = _Rows()
    for seq, (person_id, org_id, _birth, age, role) in enumerate(chosen, first):
        profile = profile_for(rng, age)
        status = _status(rng, role)
        if role == "volunteer":  # the demo volunteer: a star, and hours towards the next
            profile.historical_minutes = 128 * 60
        profile.star_level = star_granted(rng, profile.historical_minutes)
        if role == "volunteer":
            profile.star_level = 1
        if status == VolunteerStatus.PENDING:
            profile.star_level = 0
            registered = today - dt.timedelta(days=rng.randint(1, 20))
        elif role in ("volunteer", "leader"):  # long enough ago for the training shown
            registered = today - dt.timedelta(days=rng.randint(4 * 365, 6 * 365))
        else:
            registered = today - dt.timedelta(days=rng.randint(30, 8 * 365))
        registered_at = _at(state, registered, rng)
        source = _source(rng, status, role)
        volunteer = Volunteer(
            person_id=person_id,
            number=f"V{registered.year}{seq:07d}",
            org_id=org_id,
            status=status,
            source=source,
            political_status=profile.political_status,
            availability=profile.availability,
            publish_name=profile.publish_name,
            historical_minutes=profile.historical_minutes,
            recorded_minutes=profile.historical_minutes,
            star_level=profile.star_level,
            registered_at=registered_at,
        )
        if status != VolunteerStatus.PENDING:
            approved = registered_at + dt.timedelta(
                days=rng.randint(1, 7) if source == RegistrationSource.SELF else 0
            )
            volunteer.approved_at = min(approved, timezone.now())
        if status == VolunteerStatus.SUSPENDED:
            volunteer.status_reason = rng.choice(SUSPEND_REASONS)
        elif status == VolunteerStatus.CANCELLED:
            volunteer.status_reason = rng.choice(CANCEL_REASONS)
        if age < ADULT_AGE:
            _guardian(volunteer, rng, registered_at)
        volunteer.demo_role = role  # type: ignore[attr-defined]
        volunteer.age = age  # type: ignore[attr-defined]
        rows.volunteers.append(volunteer)
        rows.profiles.append(profile)
    insert_objects(rows.volunteers)
    for volunteer, profile in zip(rows.volunteers, rows.profiles, strict=True):
        _related_rows(state, rows, volunteer, profile)
    for kind, (model, columns) in RAW_COLUMNS.items():
        raw = rows.raw.get(kind, [])
        insert_rows(model, columns, raw)
        ctx.counts[_COUNT_NAMES.get(kind, f"volunteer_{kind}")] += len(raw)
    for model in (
        Qualification,
        StarApplication,
        Honour,
        Evaluation,
    ):
        objs = rows.other.get(model, [])
        model.objects.bulk_create(objs)
        ctx.counts[_COUNT_NAMES[model]] += len(objs)
    ctx.counts["volunteers"] += len(rows.volunteers)
    for volunteer in rows.volunteers:
        ctx.counts[f"volunteers.{volunteer.status}"] += 1


_COUNT_NAMES: dict[Any, str] = {
    "changes": "volunteer_status_changes",
    "members": "team_members",
    "attendances": "training_attendances",
    Qualification: "qualifications",
    StarApplication: "star_applications",
    Honour: "honours",
    Evaluation: "evaluations",
}


def _guardian(volunteer: Volunteer, rng: random.Random, when: dt.datetime) -> None:
    phone = generator.mobile(rng)
    volunteer.guardian_name = generator.full_name(rng, rng.choice("MF"), 1980)
    volunteer.guardian_phone_encrypted = crypto.encrypt(phone)
    volunteer.guardian_phone_masked = mask_mobile(phone)
    volunteer.guardian_consent_at = when


def _related_rows(state: _State, rows: _Rows, volunteer: Volunteer, profile: Profile) -> None:
    rng, lists, today = state.rng, state.lists, state.ctx.today
    skill_ids = [lists.skills[s] for s in profile.skills if s in lists.skills]
    skill_ids += [lists.free_tags[s] for s in profile.free_tags]
    category_ids = [lists.categories[c] for c in profile.categories if c in lists.categories]
    served_ids = [lists.served[g] for g in profile.served if g in lists.served]
    for relation, ids in (
        ("skills", skill_ids),
        ("categories", category_ids),
        ("served_groups", served_ids),
    ):
        for i in ids:
            rows.tuple(relation, volunteer.pk, i)
    registered_at = volunteer.registered_at
    status = volunteer.status
    role = volunteer.demo_role  # type: ignore[attr-defined]
    # Registration history.
    if volunteer.source == RegistrationSource.SELF:
        _change(rows, volunteer, "", VolunteerStatus.PENDING, "本人注册", registered_at)
        if status != VolunteerStatus.PENDING:
            approved = volunteer.approved_at
            _change(
                rows, volunteer, VolunteerStatus.PENDING, VolunteerStatus.REGISTERED, "", approved
            )
    else:
        label = str(RegistrationSource(volunteer.source).label)
        _change(rows, volunteer, "", VolunteerStatus.REGISTERED, label, registered_at)
    if status in (VolunteerStatus.SUSPENDED, VolunteerStatus.CANCELLED):
        when = _at(state, today - dt.timedelta(days=rng.randint(1, 300)), rng)
        when = max(when, volunteer.approved_at)
        _change(rows, volunteer, VolunteerStatus.REGISTERED, status, volunteer.status_reason, when)
    if status != VolunteerStatus.REGISTERED:
        return
    community = state.communities[state.community_of[volunteer.org_id]]
    registered = registered_at.date()
    _teams(state, rows, volunteer, profile, community, registered, role)
    _training_rows(state, rows, volunteer, profile, community, registered, role)
    _stars_and_honours(state, rows, volunteer, profile, community, registered)


def _change(
    rows: _Rows, volunteer: Volunteer, old: str, new: str, reason: str, when: dt.datetime | None
) -> None:
    rows.tuple("changes", volunteer.pk, old, new, reason, "系统", when)


def _teams(
    state: _State,
    rows: _Rows,
    volunteer: Volunteer,
    profile: Profile,
    community: _Community,
    registered: dt.date,
    role: str | None,
) -> None:
    rng, today = state.rng, state.ctx.today
    if not community.teams:
        return
    joined = registered + dt.timedelta(days=rng.randint(0, max(0, (today - registered).days)))
    team_a = state.ctx.named.get("team_a")
    if role == "leader" and team_a is not None:
        rows.tuple("members", team_a.pk, volunteer.pk, TeamRole.LEADER, registered)
        return
    r = rng.random()
    count = 0 if r < 0.2 else (2 if r > 0.85 and len(community.teams) > 1 else 1)
    if role == "volunteer":
        count = max(count, 1)
    matching = [t for t, c in community.teams if c in profile.categories]
    party = [t for t, c in community.teams if t.name.endswith("党员先锋服务队")]
    picks: list[Org] = []
    if party and profile.political_status == PoliticalStatus.CPC_MEMBER and rng.random() < 0.5:
        picks.append(party[0])
    if role == "volunteer" and team_a is not None:
        picks.insert(0, team_a)
    pool = matching + [t for t, _ in community.teams]
    while len(picks) < count:
        team = rng.choice(matching) if matching and rng.random() < 0.7 else rng.choice(pool)
        if team not in picks:
            picks.append(team)
        elif len(set(pool)) <= len(picks):
            break
    age = volunteer.age  # type: ignore[attr-defined]
    for team in picks[: max(count, 1)] if picks else ():
        member_role = TeamRole.MEMBER
        if role is None and 30 <= age <= 68:
            if team.pk not in community.leaders:
                member_role = TeamRole.LEADER
                community.leaders.add(team.pk)
            elif team.pk not in community.deputies:
                member_role = TeamRole.DEPUTY
                community.deputies.add(team.pk)
        rows.tuple("members", team.pk, volunteer.pk, member_role, joined)


def _training_rows(
    state: _State,
    rows: _Rows,
    volunteer: Volunteer,
    profile: Profile,
    community: _Community,
    registered: dt.date,
    role: str | None,
) -> None:
    rng, lists, today = state.rng, state.lists, state.ctx.today
    attended: set[int] = set()

    def attend(key: str, session: TrainingSession | None = None) -> TrainingSession | None:
        options = [s for s in community.sessions.get(key, []) if s.starts_at.date() >= registered]
        if session is None:
            if not options:
                return None
            session = rng.choice(options)
        if session.pk in attended:
            return None
        attended.add(session.pk)
        passed = role == "volunteer" or rng.random() < 0.92
        rows.tuple("attendances", session.pk, volunteer.pk, True, session.course.minutes, passed)
        return session if passed else None

    if rng.random() < 0.45:
        attend("basic")
    if "关爱特殊群体" in profile.categories and rng.random() < 0.4:
        attend("elderly")
    first_aid = lists.qualifications.get(FIRST_AID)
    sessions = community.sessions.get("first_aid", [])
    session = None
    if role == "volunteer" and sessions:  # her certificate is about to expire
        session = attend("first_aid", min(sessions, key=lambda s: s.starts_at))
    elif "急救" in profile.skills or rng.random() < 0.1:
        session = attend("first_aid")
    if session is not None and first_aid is not None:
        issued = session.starts_at.date()
        rows.add(_qualification(state, volunteer, first_aid, "济南市红十字会", issued))
    for skill in profile.skills:
        if skill not in QUALIFICATION_FOR_SKILL:
            continue
        name, issuer, chance = QUALIFICATION_FOR_SKILL[skill]
        kind = lists.qualifications.get(name)
        if kind is None or rng.random() >= chance:
            continue
        issued = today - dt.timedelta(days=rng.randint(60, 12 * 365))
        if kind.validity_months:  # keep most valid: renewed some time ago
            while add_months(issued, kind.validity_months) < today - dt.timedelta(days=60):
                issued = add_months(issued, kind.validity_months)
        rows.add(_qualification(state, volunteer, kind, issuer, issued))


def _qualification(
    state: _State, volunteer: Volunteer, kind: QualificationType, issuer: str, issued: dt.date
) -> Qualification:
    state.cert_seq += 1
    return Qualification(
        volunteer_id=volunteer.pk,
        kind=kind,
        certificate_no=f"Z{issued.year}{volunteer.pk % 1000:03d}{state.cert_seq % 100000:05d}",
        issuer=issuer,
        issued_on=issued,
        expires_on=add_months(issued, kind.validity_months) if kind.validity_months else None,
        created_at=_at(state, issued, state.rng),
    )


def _stars_and_honours(
    state: _State,
    rows: _Rows,
    volunteer: Volunteer,
    profile: Profile,
    community: _Community,
    registered: dt.date,
) -> None:
    rng, today = state.rng, state.ctx.today
    minutes = profile.historical_minutes
    if profile.star_level:
        decided = today - dt.timedelta(days=rng.randint(30, 700))
        decided = max(decided, registered + dt.timedelta(days=30))
        start = decided - dt.timedelta(days=9)
        rows.add(
            StarApplication(
                volunteer_id=volunteer.pk,
                level=profile.star_level,
                status=StarStatus.GRANTED,
                minutes_at_application=minutes,
                applied_at=_at(state, start - dt.timedelta(days=3), rng),
                publicity_starts_on=start,
                publicity_ends_on=start + dt.timedelta(days=7),
                decided_at=_at(state, decided, rng),
                decision_reason="公示期满无异议",
            )
        )
    elif star_level_for(minutes) and rng.random() < 0.25:  # applied, now in publicity
        start = today - dt.timedelta(days=rng.randint(0, 4))
        rows.add(
            StarApplication(
                volunteer_id=volunteer.pk,
                level=star_level_for(minutes),
                status=StarStatus.PUBLICISING,
                minutes_at_application=minutes,
                applied_at=_at(state, start - dt.timedelta(days=2), rng),
                publicity_starts_on=start,
                publicity_ends_on=start + dt.timedelta(days=7),
            )
        )
    hours = minutes / 60
    if hours >= 150 and rng.random() < min(0.5, hours / 2000):
        level = rng.choices(
            (
                HonourLevel.COMMUNITY,
                HonourLevel.STREET,
                HonourLevel.DISTRICT,
                HonourLevel.CITY,
                HonourLevel.PROVINCE,
            ),
            (40, 30, 18, 9, 3) if hours >= 600 else (60, 30, 10, 0, 0),
        )[0]
        awarded_by = {
            HonourLevel.COMMUNITY: f"{community.org.name}居民委员会",
            HonourLevel.STREET: f"{community.street.name}办事处",
            HonourLevel.DISTRICT: f"{community.district.name}社区志愿者分会",
            HonourLevel.CITY: "济南市社区志愿者协会",
            HonourLevel.PROVINCE: "山东省志愿服务联合会",
        }[level]
        awarded = today - dt.timedelta(days=rng.randint(20, max(21, (today - registered).days)))
        rows.add(
            Honour(
                volunteer_id=volunteer.pk,
                title=rng.choice(HONOUR_TITLES[level]),
                level=level,
                awarded_by=awarded_by,
                awarded_on=awarded,
            )
        )
    if registered.year < today.year and rng.random() < 0.3:
        rows.add(
            Evaluation(
                volunteer_id=volunteer.pk,
                year=today.year - 1,
                grade=rng.choices(
                    (
                        EvaluationGrade.EXCELLENT,
                        EvaluationGrade.GOOD,
                        EvaluationGrade.PASS,
                        EvaluationGrade.FAIL,
                    ),
                    (20 if hours >= 100 else 8, 45, 33, 2),
                )[0],
                comment="",
                org=community.org,
                created_at=_at(state, dt.date(today.year, 1, 10), rng),
            )
        )


def reset_volunteers(ctx: SeedContext) -> None:
    """Delete the demo city's volunteers and everything hanging on them, in chunks."""
    assert ctx.city is not None
    path = ctx.city.path
    volunteers = Volunteer.objects.filter(org__path__startswith=path).order_by("pk")
    while ids := list(volunteers.values_list("pk", flat=True)[:1000]):
        for model in (
            TrainingAttendance,
            Qualification,
            Honour,
            Evaluation,
            StarApplication,
            VolunteerStatusChange,
            TeamMembership,
        ):
            model.objects.filter(volunteer_id__in=ids).delete()
        for relation in ("skills", "categories", "served_groups"):
            getattr(Volunteer, relation).through.objects.filter(volunteer_id__in=ids).delete()
        Volunteer.objects.filter(pk__in=ids).delete()
    TrainingSession.objects.filter(course__org__path__startswith=path).delete()
    Course.objects.filter(org__path__startswith=path).delete()
    TeamProfile.objects.filter(org__path__startswith=path).delete()


register_step(Step("volunteers", seed_volunteers, reset_volunteers), after="accounts")
