"""Demo data for activities: a year of volunteer service in the demo city.

Registered as the seed step ``activities`` (after ``volunteers``). For every community, its
corps (总队), teams (服务队) and residents' committee get:

* weekly recurring activities (one per team at least, e.g. 每周六上午 助老服务), running
  since some time in the past year and recruiting now: their past shifts are written
  directly (the services refuse past dates), the coming weeks' shifts are made by
  ``services.recurring_shifts_extend`` exactly as the periodic job makes them;
* one-off activities over the past year (closed, a few cancelled, the latest still running)
  and in the coming four weeks (招募中, some reviewing sign-ups 报名后审核, one 待启动 draft
  per community);
* sign-ups with a waiting list where a shift was popular, about 85 % present (check-in and
  check-out by QR code, code or the organiser), the rest no-shows, a few withdrawals;
* service records from that attendance: confirmed for shifts older than a week, 待确认 for
  the last week's, none yet for the last three days (the organiser's to-do), plus records
  volunteers declared themselves (most confirmed, recent ones waiting, a few returned);
* certificates: a few issued through ``record_services.certificate_issue`` (so they verify)
  and a few applications waiting;
* ``Activity.beneficiary_count`` over the past year adding up to about
  ``BENEFICIARIES_PER_YEAR`` person-times per ``BASE_RESIDENTS`` residents (DOMAIN.md §4).

Volume follows the volunteers: about ``RECORDS_PER_VOLUNTEER`` attendance records a year per
registered volunteer (DESIGN.md §6: 200,000 volunteers, 5,000,000 records), so ``--scale``
multiplies them with the residents. One volunteer serves at most one shift a day, so no day
exceeds 24 hours. Communities are handled one at a time, day by day, and the sign-ups and
records are written in chunks of ``CHUNK`` rows (COPY on PostgreSQL, multi-row INSERT on
SQLite), so memory is bounded by the largest community, not by the city. Afterwards
``volunteer_minutes_refresh`` rolls the confirmed hours into every touched volunteer's
archive, in chunks. Rows are inserted without audit entries (the seed writes one
``demo.seed`` entry); only the certificates, applied for and issued through the services,
carry the services' own entries and notifications.

The demo logins get what their pages need: ``volunteer`` has a year of hours in team A,
upcoming sign-ups (one on a waiting list), a declared record waiting and an issued
certificate (issued by ``worker-a``); ``leader`` and ``worker-a`` find the last days' shifts
to confirm, declarations to check and a certificate application to handle.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from huzhu.activities import checkin
from huzhu.activities.models import (
    Activity,
    ActivityStatus,
    Attendance,
    AttendanceCorrection,
    Certificate,
    CheckMethod,
    RecordCorrection,
    RecordRating,
    RecordSource,
    RecordStatus,
    Recruitment,
    ServiceRecord,
    Shift,
    Signup,
    SignupMode,
    SignupStatus,
)
from huzhu.activities.record_services import RECORD_COLUMNS as SERVICE_RECORD_COLUMNS
from huzhu.activities.record_services import (
    CheckTimes,
    certificate_apply,
    certificate_issue,
    credited_minutes,
)
from huzhu.activities.services import recurring_shifts_extend
from huzhu.common.bulk import write_rows
from huzhu.common.calendar import WorkdayCalendar
from huzhu.demo import generator
from huzhu.demo.seed import BASE_RESIDENTS, SeedContext, Step, register_step
from huzhu.orgs.models import Org
from huzhu.orgs.scope import Scope
from huzhu.volunteers import demo_steps as volunteer_steps
from huzhu.volunteers.archive_services import volunteer_minutes_refresh
from huzhu.volunteers.demo_steps import historical_dates, insert_objects
from huzhu.volunteers.models import (
    ServedGroup,
    ServiceCategory,
    TeamMembership,
    Volunteer,
    VolunteerStatus,
)

User = get_user_model()

RECORDS_PER_VOLUNTEER = 24  # attendance records a year per registered volunteer
REALISED = 0.88  # share of a plan's places filled (one shift a day each, small pools)
BENEFICIARIES_PER_YEAR = 4000  # person-times served a year per BASE_RESIDENTS residents
DECLARED_PER_VOLUNTEER = 1.5  # self-declared records a year per active volunteer
DAYS_BACK = 365
AHEAD_DAYS = 27  # one-off activities recruit for shifts up to this many days ahead
UNRECORDED_DAYS = 3  # shifts that ended this recently have attendance, no records yet
PENDING_DAYS = 7  # … and up to this many days ago records waiting for confirmation
PRESENT = 0.85  # of confirmed sign-ups on a past shift; the rest did not come
RECURRING_SHARE = 0.6  # of the attendance records that come from weekly activities
FILL = (0.55, 1.35)  # demand for a past shift, as a share of its places
CONFIRM_SHARE = 0.2  # coming one-off shifts whose sign-ups the organiser reviews (待审核)
INACTIVE = 0.2  # registered volunteers who served nothing this year
MIN_RECURRING = 4  # places on a weekly shift: a team's series needs a few regulars
MAX_RECURRING = 30  # … and a large community runs more series instead of bigger ones
CHUNK = 5000  # sign-ups buffered before a write
REFRESH_CHUNK = 1000  # volunteers per hour roll-up
SYSTEM = Scope(user_id=0, is_superuser=True)
INSURER = "中国人民财产保险股份有限公司济南市分公司"

# Weekly activities by the team's service category: (weekday, start, end, title, content,
# people served, place). Weekday 0 is Monday.
RECURRING: dict[str, tuple[int, str, str, str, str, tuple[str, ...], str]] = {
    "关爱特殊群体": (
        5, "09:00", "11:30", "助老服务：独居老人探访",
        "两人一组上门探访独居、空巢和高龄老人，陪伴聊天、代购代办，检查水电燃气安全。",
        ("老年人",), "home",
    ),
    "环境保护": (
        6, "08:30", "10:30", "楼道清理与垃圾分类督导",
        "清理楼道杂物和小广告，在垃圾投放点指导居民分类投放。", ("城镇居民",), "estate",
    ),
    "文明风尚": (
        5, "15:00", "17:00", "文明劝导",
        "劝导不文明养犬、乱扔垃圾和占用消防通道，宣传移风易俗。", ("社会公众",), "square",
    ),
    "法律服务": (
        3, "14:00", "16:30", "法律咨询进社区",
        "律师和法律工作者志愿者坐班答疑，协助调解邻里纠纷。", ("城镇居民", "困难家庭"),
        "centre",
    ),
    "卫生健康": (
        1, "08:30", "11:00", "健康小屋：测血压血糖",
        "为辖区老人免费测量血压血糖，登记慢病随访信息，讲解用药常识。",
        ("老年人", "病患者"), "centre",
    ),
    "平安综治": (
        4, "19:00", "21:00", "平安巡逻",
        "夜间巡查小区出入口、电动车充电点和空置房屋，宣传防盗防诈骗。", ("城镇居民",),
        "estate",
    ),
    "文化艺术": (
        5, "14:30", "16:30", "书画班与文艺排练",
        "志愿者老师教授书法、绘画，组织合唱和广场舞排练。", ("老年人", "城镇居民"),
        "centre",
    ),
    "支教助学": (
        2, "16:30", "18:30", "四点半课堂",
        "放学后为双职工家庭和留守儿童提供作业辅导和托管。", ("儿童",), "centre",
    ),
    "社区服务": (
        6, "09:00", "11:00", "党员先锋岗便民服务",
        "党员志愿者在党群服务中心坐班，帮居民办理事项、代办代跑。",
        ("城镇居民", "老年人"), "centre",
    ),
}  # fmt: skip
WEEKDAYS = "一二三四五六日"

# One-off activities: (title, category, people served, hours, start, places from–to, place,
# risky).
ONE_OFFS: tuple[tuple[str, str, tuple[str, ...], float, str, int, int, str, bool], ...] = (
    ("便民服务日：义务理发、磨刀、小家电维修", "社区服务", ("城镇居民", "老年人"), 3, "09:00",
     8, 20, "square", False),
    ("社区邻里节", "社区服务", ("城镇居民",), 3, "09:00", 15, 40, "square", False),
    ("清理楼道杂物和小广告", "环境保护", ("城镇居民",), 2.5, "08:30", 10, 30, "estate", False),
    ("垃圾分类入户宣传", "环境保护", ("城镇居民",), 2, "09:00", 8, 20, "estate", False),
    ("绿地认养与补植", "环境保护", ("社会公众",), 3, "09:00", 15, 40, "square", False),
    ("社区义诊：量血压、测血糖、健康咨询", "卫生健康", ("老年人", "病患者"), 3, "08:30",
     6, 15, "centre", False),
    ("健康讲座：高血压与糖尿病防治", "卫生健康", ("老年人",), 2, "14:30", 4, 10, "centre",
     False),
    ("敬老饺子宴", "关爱特殊群体", ("老年人",), 4, "09:00", 15, 35, "care", False),
    ("为高龄失能老人上门助洁", "关爱特殊群体", ("老年人", "残障人士"), 3, "09:00", 6, 12,
     "home", False),
    ("关爱留守儿童游园会", "关爱特殊群体", ("儿童",), 3, "09:00", 10, 25, "square", False),
    ("防范电信网络诈骗宣传", "平安综治", ("老年人", "社会公众"), 2, "09:00", 6, 16, "square",
     False),
    ("消防安全隐患排查", "志愿消防", ("城镇居民",), 3, "14:00", 6, 15, "estate", False),
    ("文明养犬宣传劝导", "文明风尚", ("社会公众",), 2, "18:30", 6, 16, "estate", False),
    ("写春联、送福字", "文化艺术", ("城镇居民", "老年人"), 3, "09:00", 8, 20, "centre", False),
    ("社区文艺汇演", "文化艺术", ("城镇居民",), 3, "18:30", 15, 40, "square", False),
    ("假期托管班辅导", "支教助学", ("儿童",), 3, "08:30", 6, 15, "centre", False),
    ("民法典进社区宣讲", "法律服务", ("城镇居民",), 2, "14:30", 4, 10, "centre", False),
    ("学校门口护学岗", "交通引导", ("儿童",), 1.5, "07:00", 6, 12, "school", False),
    ("禁毒宣传进社区", "禁毒宣传", ("社会公众",), 2, "09:00", 6, 16, "square", False),
    ("全民健身日太极拳展示", "体育健身", ("城镇居民",), 2, "08:00", 10, 30, "square", False),
    ("科普大篷车进社区", "科技科普", ("儿童", "城镇居民"), 3, "09:00", 8, 20, "square", False),
    ("应急救护知识普及与演练", "应急救援", ("城镇居民",), 3, "09:00", 10, 25, "centre", True),
    ("汛期防汛值守", "应急救援", ("城镇居民",), 4, "19:00", 6, 12, "estate", True),
    ("泉城马拉松补给站服务", "大型活动", ("社会公众",), 5, "06:30", 20, 60, "race", True),
)  # fmt: skip
PLACES = {
    "centre": "{c}党群服务中心",
    "square": "{c}文化广场",
    "estate": "{c}辖区各小区",
    "home": "{c}辖区老人家中（党群服务中心集合）",
    "care": "{c}日间照料中心",
    "school": "{c}辖区小学校门口",
    "race": "泉城马拉松赛道{c}补给点",
}
DECLARED = (
    ("为楼上独居老人代购药品和蔬菜", "关爱特殊群体"),
    ("陪同邻居老人到医院复诊", "关爱特殊群体"),
    ("义务清扫单元楼道", "环境保护"),
    ("协助社区整理防汛物资", "应急救援"),
    ("帮助邻居老人修理水管和电路", "社区服务"),
    ("为小区居民义务理发", "社区服务"),
    ("协助网格员入户走访登记", "社区服务"),
    ("在小区门口劝导文明停车", "文明风尚"),
    ("为社区儿童辅导功课", "支教助学"),
)
EVALUATIONS = ("服务认真细致", "热情耐心，服务对象满意", "积极主动，守时守纪", "带头示范作用好")
WITHDRAW_NOTES = ("临时有事", "身体不适", "家中有事，无法参加")
CANCEL_REASONS = ("天气原因（暴雨预警）", "场地临时调整，活动延期")
REJECT_REASONS = ("服务时长与实际不符，请核实后重新申报", "该服务不属于志愿服务范围")
PURPOSES = ("升学综合素质评价", "单位评先评优", "入党材料", "申请星级志愿者", "个人留存")
METHODS = ((CheckMethod.QR, 70), (CheckMethod.CODE, 20), (CheckMethod.ORGANISER, 10))


# --- plans ----------------------------------------------------------------------------------


@dataclass
class _Pool:
    """Volunteers to draw from, weighted by how active each one is."""

    ids: list[int]
    cum: list[float]

    @classmethod
    def of(cls, ids: Iterable[int], weight: dict[int, float]) -> _Pool:
        chosen = [v for v in ids if weight.get(v, 0.0) > 0]
        return cls(chosen, list(accumulate(weight[v] for v in chosen)))


@dataclass
class _Town:
    """One community: its organisers, volunteers and what has been made for it."""

    org: Org
    corps: Org
    teams: list[tuple[Org, str]]  # (team, category name)
    reg_day: dict[int, dt.date]
    birth: dict[int, dt.date]
    weight: dict[int, float]
    pool: _Pool
    team_pools: dict[int, _Pool]
    members: set[int]  # volunteers serving on a team
    organiser: dict[int, int | None]  # org id → user id who records and confirms
    latitude: float
    longitude: float
    activities: list[Activity] = field(default_factory=list)
    recurring: list[Activity] = field(default_factory=list)
    past: dict[dt.date, list[Shift]] = field(default_factory=lambda: defaultdict(list))
    upcoming: list[Shift] = field(default_factory=list)
    minutes: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))
    # Who applies for a certificate, from which org: the demo volunteer first (always
    # issued), then those with the most confirmed hours; the last ``waiting`` still wait.
    applicants: list[tuple[int, int]] = field(default_factory=list)
    waiting: int = 0

    def release(self, demo: int | None) -> None:
        """Choose the certificate applicants, then keep nothing else: memory stays flat
        across communities."""
        active = len(self.pool.ids)
        issued, waiting = 1 + active // 500, 1 + active // 1000
        ranked = sorted(self.minutes.items(), key=lambda kv: (-kv[1], kv[0]))
        mine = [key for key, _m in ranked if key[0] == demo][:1]
        seen: set[int] = set()
        for volunteer, org_id in mine + [key for key, _m in ranked if key[0] != demo]:
            if len(self.applicants) >= len(mine) + issued + waiting:
                break
            if volunteer not in seen:
                seen.add(volunteer)
                self.applicants.append((volunteer, org_id))
        self.waiting = min(waiting, len(self.applicants) - len(mine))
        plans = (self.activities, self.recurring, self.upcoming, self.past, self.minutes)
        for held in (*plans, self.reg_day, self.birth, self.weight, self.team_pools, self.members):
            held.clear()
        self.pool = _Pool([], [])


@dataclass
class _State:
    ctx: SeedContext
    rng: random.Random
    categories: dict[str, int]
    served: dict[str, int]
    tz: Any
    now: dt.datetime
    calendar: WorkdayCalendar
    vendor: str
    demo: dict[str, int]  # "volunteer" / "leader" → volunteer id
    bar: Any = None
    touched: set[int] = field(default_factory=set)
    beneficiaries: dict[int, float] = field(default_factory=lambda: defaultdict(float))
    no_shows: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    demo_declared: bool = False
    signups: list[tuple[Shift, tuple]] = field(default_factory=list)
    records: list[tuple[int, tuple]] = field(default_factory=list)  # (signup index, row)
    loose_records: list[tuple] = field(default_factory=list)  # declared, no sign-up
    shifts: list[Shift] = field(default_factory=list)  # to insert before their sign-ups


def _time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _at(state: _State, day: dt.date, when: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, when, tzinfo=state.tz)


def _landline(rng: random.Random) -> str:
    return f"0531-8{rng.randrange(10**6, 10**7)}"


def _period(start: dt.time) -> str:
    if start.hour < 12:
        return "上午"
    return "下午" if start.hour < 18 else "晚"


def _is_holiday(calendar: WorkdayCalendar, day: dt.date) -> bool:
    """A statutory holiday on a weekday (the recurring shifts skip these)."""
    return day.weekday() < 5 and not calendar.is_workday(day)


# --- setting up a community -----------------------------------------------------------------


def _town(state: _State, community: Org) -> _Town | None:
    ctx, rng = state.ctx, state.rng
    corps = ctx.corps.get(community.pk)
    if corps is None:
        return None
    residence = [community.pk, *(g.pk for g in ctx.grids.get(community.pk, []))]
    rows = (
        Volunteer.objects.filter(org_id__in=residence, status=VolunteerStatus.REGISTERED)
        .order_by("pk")
        .values_list("pk", "registered_at", "person__birth_date")
    )
    reg_day, birth, weight = {}, {}, {}
    for pk, registered_at, born in rows:
        reg_day[pk] = timezone.localtime(registered_at).date()
        birth[pk] = born
        weight[pk] = 0.0 if rng.random() < INACTIVE else rng.lognormvariate(0, 0.7)
    for role, boost in (("volunteer", 2.5), ("leader", 2.0)):
        if state.demo.get(role) in weight:
            weight[state.demo[role]] = boost
    teams = [(t, volunteer_steps._team_category(t)) for t in ctx.teams.get(community.pk, [])]
    members: dict[int, list[int]] = defaultdict(list)
    for team_id, volunteer_id in (
        TeamMembership.objects.filter(team__in=[t for t, _c in teams], left_on__isnull=True)
        .order_by("pk")
        .values_list("team_id", "volunteer_id")
    ):
        members[team_id].append(volunteer_id)
    organiser: dict[int, int | None] = {}
    if community == ctx.named.get("community_a"):
        worker, leader = ctx.users.get("worker-a"), ctx.users.get("leader")
        for org in (community, corps, *(t for t, _c in teams)):
            organiser[org.pk] = worker.pk if worker else None
        team_a = ctx.named.get("team_a")
        if team_a is not None and leader is not None:
            organiser[team_a.pk] = leader.pk
    return _Town(
        org=community,
        corps=corps,
        teams=teams,
        reg_day=reg_day,
        birth=birth,
        weight=weight,
        pool=_Pool.of(reg_day, weight),
        team_pools={t.pk: _Pool.of(members[t.pk], weight) for t, _c in teams},
        members={v for ids in members.values() for v in ids},
        organiser=organiser,
        latitude=36.66 + rng.uniform(-0.03, 0.03),
        longitude=117.02 + rng.uniform(-0.06, 0.06),
    )


def _activity(
    state: _State,
    town: _Town,
    org: Org,
    *,
    title: str,
    category: str,
    description: str,
    place: str,
    served: Sequence[str],
    starts_on: dt.date,
    ends_on: dt.date,
    status: str,
    risky: bool = False,
) -> Activity:
    rng = state.rng
    activity = Activity(
        org=org,
        title=title[:100],
        category_id=state.categories[category],
        description=description,
        address=PLACES[place].format(c=town.org.name)[:200],
        latitude=round(town.latitude + rng.uniform(-0.004, 0.004), 6),
        longitude=round(town.longitude + rng.uniform(-0.004, 0.004), 6),
        starts_on=starts_on,
        ends_on=ends_on,
        min_age=18 if risky else 0,
        is_risky=risky,
        insurer=INSURER if risky else "",
        insurance_policy=f"PEAC{starts_on:%Y}3701{rng.randrange(10**8):08d}" if risky else "",
        recruitment=Recruitment.OPEN,
        status=status,
        contact_name=generator.full_name(rng, rng.choice("MF"), 1975),
        contact_phone=_landline(rng),
        checkin_radius_m=500 if place in ("centre", "square", "care") else None,
        created_by_id=town.organiser.get(org.pk),
        created_at=_at(state, starts_on - dt.timedelta(days=rng.randint(5, 20)), _time("10:00")),
    )
    activity.served_names = tuple(served)  # type: ignore[attr-defined]
    town.activities.append(activity)
    return activity


def _per_shift(capacity: float) -> float:
    """Attendance records a past shift of this many places yields on average."""
    return capacity * PRESENT * 0.87


def _plan_recurring(state: _State, town: _Town, target: float) -> None:
    """Weekly series: one per team at least, more (other days and times) in a large
    community; places sized so the series together yield about ``target`` records."""
    rng, today = state.rng, state.ctx.today
    specs = [(team, category) for team, category in town.teams] or [(town.corps, "社区服务")]
    weeks = 50
    # One series per team, fewer where a community has too few volunteers to staff them.
    staffed = min(len(specs), round(target / (weeks * _per_shift(MIN_RECURRING))))
    count = max(1, staffed, math.ceil(target / (weeks * _per_shift(MAX_RECURRING))))
    places = target / count / weeks / (PRESENT * 0.87)
    for n in range(count):
        team, category = specs[n % len(specs)]
        weekday, start, end, title, content, served, place = RECURRING.get(
            category, RECURRING["社区服务"]
        )
        group = n // len(specs)
        if group:  # another day (and from the third group on, another time of day)
            weekday = (weekday + group) % 7
            if group % 3 == 2:
                start, end = ("14:30", "16:30") if _time(start).hour < 12 else ("09:00", "11:00")
        begin, finish = _time(start), _time(end)
        label = f"每周{WEEKDAYS[weekday]}{_period(begin)} {title}"
        if group >= 7:
            label += f"（第{group // 7 + 1}组）"
        late = rng.random() < 0.2
        starts_on = today - dt.timedelta(
            days=rng.randint(60, 300) if late else DAYS_BACK - rng.randint(0, 30)
        )
        activity = _activity(
            state,
            town,
            team,
            title=label,
            category=category,
            description=content,
            place=place,
            served=served,
            starts_on=starts_on,
            ends_on=today + dt.timedelta(days=rng.randint(90, 270)),
            status=ActivityStatus.RECRUITING,
        )
        activity.recur_weekdays = 1 << weekday
        activity.recur_start, activity.recur_end = begin, finish
        capacity = round(places * rng.uniform(0.7, 1.3))
        activity.recur_capacity = max(2, min(MAX_RECURRING, capacity))
        if team != town.corps and rng.random() < 0.3:
            activity.recruitment = Recruitment.TEAM
        town.recurring.append(activity)


def _plan_one_offs(state: _State, town: _Town, target: float) -> int:
    """One-off activities over the past year until their expected attendance reaches
    ``target`` (at least a few); returns how many."""
    rng, today = state.rng, state.ctx.today
    expected, count = 0.0, 0
    limit = max(2, round(len(town.pool.ids) * 0.6))
    while expected < target or count < 4:
        first = today - dt.timedelta(days=rng.randint(1, DAYS_BACK))
        activity = _one_off(state, town, first, limit)
        planned = activity.planned  # type: ignore[attr-defined]
        expected += sum(_per_shift(capacity) for *_rest, capacity in planned)
        count += 1
    return count


def _plan_upcoming(state: _State, town: _Town, past_count: int) -> None:
    """One-off activities recruiting for the coming weeks, and one draft (待启动)."""
    rng, today = state.rng, state.ctx.today
    limit = max(2, round(len(town.pool.ids) * 0.6))
    for _n in range(max(3, round(past_count * AHEAD_DAYS / DAYS_BACK * 1.5))):
        _one_off(state, town, today + dt.timedelta(days=rng.randint(2, AHEAD_DAYS)), limit)
    title, category, served, _hours, _start, _low, _high, place, risky = rng.choice(ONE_OFFS)
    day = today + dt.timedelta(days=AHEAD_DAYS + 7)
    draft = _activity(
        state,
        town,
        town.corps,
        title=title,
        category=category,
        description=f"{town.org.name}{title}（筹备中）。",
        place=place,
        served=served,
        starts_on=day,
        ends_on=day,
        status=ActivityStatus.PENDING,
        risky=risky,
    )
    draft.planned = []  # type: ignore[attr-defined]


def _one_off(state: _State, town: _Town, first: dt.date, limit: int) -> Activity:
    rng, today = state.rng, state.ctx.today
    org, templates = _one_off_org(rng, town)
    title, category, served, hours, start, low, high, place, risky = rng.choice(templates)
    same_day = hours <= 3.5 and _time(start).hour < 11 and rng.random() < 0.5
    shifts = rng.choices((1, 2, 3), (60, 30, 10))[0] if not same_day else 2
    days = [first if same_day else first + dt.timedelta(days=i) for i in range(shifts)]
    past = first < today
    if past:
        days = [d for d in days if d < today]
        recent = (today - days[-1]).days <= PENDING_DAYS
        status = ActivityStatus.RUNNING if recent else ActivityStatus.CLOSED
        if rng.random() < 0.03:
            status = ActivityStatus.CANCELLED
    else:
        status = ActivityStatus.RECRUITING
    activity = _activity(
        state,
        town,
        org,
        title=title,
        category=category,
        description=f"{town.org.name}{title}。",
        place=place,
        served=served,
        starts_on=days[0],
        ends_on=days[-1],
        status=status,
        risky=risky,
    )
    capacity = max(1, min(rng.randint(low, high), limit))
    activity.planned = []  # type: ignore[attr-defined]
    for i, day in enumerate(days):
        begin = dt.time(14, 30) if same_day and i else _time(start)
        starts_at = _at(state, day, begin)
        ends_at = starts_at + dt.timedelta(minutes=int(hours * 60))
        name = "" if len(days) == 1 else f"第{i + 1}场"
        activity.planned.append((starts_at, ends_at, name, capacity))  # type: ignore[attr-defined]
    return activity


def _one_off_org(rng: random.Random, town: _Town) -> tuple[Org, Sequence[tuple]]:
    """The corps (most), a team (its own kind of work) or the residents' committee."""
    r = rng.random()
    if r < 0.3 and town.teams:
        team, category = rng.choice(town.teams)
        own = [t for t in ONE_OFFS if t[1] == category]
        if own:
            return team, own
    return (town.org if r > 0.9 else town.corps), ONE_OFFS


def _save_activities(state: _State, town: _Town) -> None:
    """Insert the activities and their people served; make the one-off shifts."""
    with historical_dates(Activity._meta.get_field("created_at")):
        Activity.objects.bulk_create(town.activities, batch_size=1000)
    Through = Activity.served_groups.through
    Through.objects.bulk_create(
        [
            Through(activity_id=a.pk, servedgroup_id=state.served[name])
            for a in town.activities
            for name in a.served_names  # type: ignore[attr-defined]
            if name in state.served
        ],
        batch_size=1000,
    )
    state.ctx.counts["activities"] += len(town.activities)
    state.ctx.counts["activities.recurring"] += len(town.recurring)
    today = state.ctx.today
    for activity in town.recurring:
        day = activity.starts_on
        while day < today:
            if activity.recur_weekdays & (1 << day.weekday()) and not _is_holiday(
                state.calendar, day
            ):
                shift = _new_shift(
                    activity,
                    _at(state, day, activity.recur_start),
                    _at(state, day, activity.recur_end),
                    "",
                    activity.recur_capacity or 1,
                )
                town.past[day].append(shift)
            day += dt.timedelta(days=1)
    for activity in town.activities:
        for starts_at, ends_at, name, capacity in getattr(activity, "planned", ()):
            shift = _new_shift(activity, starts_at, ends_at, name, capacity)
            if starts_at.date() < today:
                town.past[starts_at.date()].append(shift)
            else:
                if state.rng.random() < CONFIRM_SHARE:
                    shift.signup_mode = SignupMode.CONFIRM
                town.upcoming.append(shift)


def _new_shift(
    activity: Activity, starts_at: dt.datetime, ends_at: dt.datetime, name: str, capacity: int
) -> Shift:
    shift = Shift(
        activity=activity,
        name=name,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        checkin_code=checkin.new_code(),
        qr_secret=checkin.new_secret(),
    )
    if activity.status == ActivityStatus.CANCELLED:
        shift.is_cancelled = True
    return shift


# --- who comes ------------------------------------------------------------------------------


def _pick(
    rng: random.Random, pool: _Pool, k: int, ok: Callable[[int], bool], taken: set[int]
) -> list[int]:
    """Up to ``k`` distinct volunteers by weight, each passing ``ok`` and not in ``taken``."""
    chosen: list[int] = []
    if not pool.ids or k <= 0:
        return chosen
    tries = 0
    while len(chosen) < k and tries < 4 * k + 8:
        for volunteer in rng.choices(pool.ids, cum_weights=pool.cum, k=k - len(chosen)):
            tries += 1
            if volunteer in taken or not ok(volunteer):
                continue
            taken.add(volunteer)
            chosen.append(volunteer)
    return chosen


def _candidates(
    state: _State, town: _Town, shift: Shift, k: int, busy: set[int], first: Sequence[int] = ()
) -> list[int]:
    """People signing up for ``shift`` in queue order (team members first for a team's
    activity), none busy that day, registered by then, old enough."""
    activity: Activity = shift.activity
    day = timezone.localtime(shift.starts_at, state.tz).date()
    min_age = activity.min_age

    def ok(volunteer: int) -> bool:
        if town.reg_day[volunteer] > day:
            return False
        if min_age:
            born = town.birth[volunteer]
            age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
            if age < min_age:
                return False
        return True

    taken = set(busy)
    chosen = [v for v in first if v not in taken and v in town.reg_day and ok(v)]
    taken.update(chosen)
    team_pool = town.team_pools.get(activity.org_id)
    if team_pool is not None:
        team_only = activity.recruitment == Recruitment.TEAM
        share = 1.0 if team_only else 0.75
        chosen += _pick(state.rng, team_pool, round((k - len(chosen)) * share), ok, taken)
        if team_only:
            return _queue(state.rng, chosen, first)
    chosen += _pick(state.rng, town.pool, k - len(chosen), ok, taken)
    return _queue(state.rng, chosen, first)


def _queue(rng: random.Random, chosen: list[int], first: Sequence[int]) -> list[int]:
    """Sign-up order: ``first`` at the front, the others shuffled."""
    rest = [v for v in chosen if v not in first]
    rng.shuffle(rest)
    return [v for v in first if v in chosen] + rest


def _method(rng: random.Random) -> str:
    return rng.choices([m for m, _w in METHODS], [w for _m, w in METHODS])[0]


# --- the past year, day by day --------------------------------------------------------------


def _past_day(state: _State, town: _Town, day: dt.date) -> None:
    rng, today = state.rng, state.ctx.today
    busy: set[int] = set()
    no_show_window = today - dt.timedelta(days=settings.HUZHU_NO_SHOW_WINDOW_DAYS)
    no_show_cap = max(settings.HUZHU_NO_SHOW_LIMIT - 1, 0)
    reliable = set(state.demo.values())
    for shift in sorted(town.past.get(day, ()), key=lambda s: (s.starts_at, s.activity.pk)):
        demand = max(1, round(shift.capacity * rng.uniform(*FILL)))
        people = _candidates(state, town, shift, demand, busy)
        busy.update(people)
        age = (today - day).days
        ended = shift.ends_at + dt.timedelta(hours=rng.uniform(2, 30))
        if age > UNRECORDED_DAYS and not shift.is_cancelled:
            shift.records_created_at = min(ended, state.now)
        shift.reminded_at = shift.starts_at - dt.timedelta(days=1)
        state.shifts.append(shift)
        # A place given up goes to the waiting list in queue order, as the service does.
        withdrawn = {v for v in people if v not in reliable and rng.random() < 0.03}
        rank = 0
        for volunteer in people:
            queued = shift.starts_at - dt.timedelta(
                days=rng.randint(1, 12), minutes=rng.randrange(600)
            )
            if shift.is_cancelled:
                _signup(state, shift, volunteer, SignupStatus.CANCELLED, queued, queued)
                continue
            if volunteer in withdrawn:
                changed = min(queued + dt.timedelta(days=rng.randint(0, 1)), shift.starts_at)
                note = rng.choice(WITHDRAW_NOTES)
                _signup(state, shift, volunteer, SignupStatus.WITHDRAWN, queued, changed, note=note)
                continue
            rank += 1
            if rank > shift.capacity:
                _signup(state, shift, volunteer, SignupStatus.WAITLISTED, queued, queued)
                continue
            shift.confirmed_count += 1
            comes = rng.random() < PRESENT or volunteer in reliable
            if not comes and day >= no_show_window:
                comes = state.no_shows[volunteer] >= no_show_cap
                if not comes:
                    state.no_shows[volunteer] += 1
            if not comes:
                _signup(
                    state,
                    shift,
                    volunteer,
                    SignupStatus.CONFIRMED,
                    queued,
                    shift.ends_at + dt.timedelta(hours=2),
                    attendance=Attendance.NO_SHOW,
                )
                continue
            _attended(state, town, shift, volunteer, queued, age)
    _declared(state, town, day, busy)
    if len(state.signups) >= CHUNK:
        _flush(state)


def _attended(
    state: _State, town: _Town, shift: Shift, volunteer: int, queued: dt.datetime, age: int
) -> None:
    rng, activity = state.rng, shift.activity
    checked_in = shift.starts_at - dt.timedelta(minutes=rng.randint(0, 25))
    if rng.random() < 0.03:  # left early
        out = shift.ends_at - dt.timedelta(minutes=rng.randint(30, 90))
        out = max(out, checked_in + dt.timedelta(minutes=10))
    else:
        out = shift.ends_at + dt.timedelta(minutes=rng.randint(-15, 20))
    forgot = rng.random() < 0.01 and volunteer not in state.demo.values()
    in_method = _method(rng)
    distance = rng.randint(3, 180) if in_method != CheckMethod.ORGANISER else None
    index = _signup(
        state,
        shift,
        volunteer,
        SignupStatus.CONFIRMED,
        queued,
        out,
        attendance=Attendance.PRESENT,
        checked_in=checked_in,
        checked_out=None if forgot else out,
        methods=(in_method, "" if forgot else _method(rng)),
        distance=distance if activity.latitude is not None else None,
    )
    minutes = 0 if forgot else credited_minutes(shift, activity, CheckTimes(checked_in, out))
    state.beneficiaries[activity.pk] += 1
    if age <= UNRECORDED_DAYS or minutes <= 0:
        return
    confirmed = age > PENDING_DAYS
    user = town.organiser.get(activity.org_id)
    made = shift.records_created_at or state.now
    confirmed_at = min(made + dt.timedelta(hours=rng.uniform(0, 48)), state.now)
    rating, evaluation = None, ""
    if confirmed and rng.random() < 0.35:
        rating = rng.choices(
            (RecordRating.EXCELLENT, RecordRating.GOOD, RecordRating.PASS), (50, 40, 10)
        )[0]
        if rating == RecordRating.EXCELLENT:
            evaluation = rng.choice(EVALUATIONS)
    served_on = timezone.localtime(shift.starts_at, state.tz).date()
    state.records.append(
        (
            index,
            (
                volunteer,
                activity.org_id,
                activity.pk,
                None,  # shift id, known after the insert
                None,  # sign-up id
                activity.category_id,
                served_on,
                activity.address[:200],
                (f"{activity.title} {shift.name}".strip())[:300],
                minutes,
                evaluation,
                RecordSource.ATTENDANCE,
                RecordStatus.CONFIRMED if confirmed else RecordStatus.PENDING,
                user,
                user if confirmed else None,
                confirmed_at if confirmed else None,
                "",
                made,
                confirmed_at if confirmed else made,
                rating,
            ),
        )
    )
    if confirmed:
        town.minutes[(volunteer, activity.org_id)] += minutes
        state.touched.add(volunteer)


def _signup(
    state: _State,
    shift: Shift,
    volunteer: int,
    status: str,
    queued: dt.datetime,
    changed: dt.datetime,
    *,
    note: str = "",
    attendance: str = Attendance.NONE,
    checked_in: dt.datetime | None = None,
    checked_out: dt.datetime | None = None,
    methods: tuple[str, str] = ("", ""),
    distance: int | None = None,
) -> int:
    state.signups.append(
        (
            shift,
            (
                volunteer,
                status,
                queued,
                changed,
                note,
                attendance,
                checked_in,
                checked_out,
                methods[0],
                methods[1],
                distance,
            ),
        )
    )
    return len(state.signups) - 1


def _declared(state: _State, town: _Town, day: dt.date, busy: set[int]) -> None:
    """Work volunteers did outside activities and declared themselves (本人申报)."""
    rng, today = state.rng, state.ctx.today
    expected = len(town.pool.ids) * DECLARED_PER_VOLUNTEER / DAYS_BACK
    count = int(expected) + (rng.random() < expected - int(expected))
    demo = state.demo.get("volunteer")
    people = _pick(rng, town.pool, count, lambda v: town.reg_day[v] <= day, set(busy))
    recent = (today - day).days <= 6
    if demo in town.reg_day and recent and demo not in busy and not state.demo_declared:
        people = [demo]  # the demo volunteer's declaration, waiting for worker-a
        state.demo_declared = True
    for volunteer in people:
        busy.add(volunteer)
        content, category = rng.choice(DECLARED)
        # Declared to the community, or to the corps by someone who serves on a team.
        org = town.corps if volunteer in town.members and rng.random() < 0.6 else town.org
        minutes = rng.choice((60, 90, 120, 120, 150, 180, 240))
        made = _at(state, day, dt.time(20, 0)) + dt.timedelta(days=rng.randint(0, 3))
        made = min(made, state.now)
        age = (today - day).days
        status = RecordStatus.PENDING
        if age > 30:
            status = rng.choices(
                (RecordStatus.CONFIRMED, RecordStatus.REJECTED, RecordStatus.PENDING), (88, 4, 8)
            )[0]
        user = town.organiser.get(org.pk)
        confirmed = status == RecordStatus.CONFIRMED
        decided = min(made + dt.timedelta(days=rng.randint(1, 10)), state.now)
        state.loose_records.append(
            (
                volunteer,
                org.pk,
                None,
                None,
                None,
                state.categories[category],
                day,
                f"{town.org.name}辖区",
                content,
                minutes,
                "",
                RecordSource.DECLARED,
                status,
                None,
                user if confirmed else None,
                decided if confirmed else None,
                rng.choice(REJECT_REASONS) if status == RecordStatus.REJECTED else "",
                made,
                decided if status != RecordStatus.PENDING else made,
                None,  # rating
            )
        )
        if confirmed:
            town.minutes[(volunteer, org.pk)] += minutes
            state.touched.add(volunteer)


# --- writing --------------------------------------------------------------------------------

SIGNUP_COLUMNS = (
    "shift_id",
    "volunteer_id",
    "status",
    "queued_at",
    "status_changed_at",
    "note",
    "attendance",
    "checked_in_at",
    "checked_out_at",
    "check_in_method",
    "check_out_method",
    "check_in_distance_m",
)
# The service's columns (attendance records), then the rating that some demo records carry.
RECORD_COLUMNS = (*SERVICE_RECORD_COLUMNS, "rating")


def _flush(state: _State) -> None:
    """Write the shifts planned so far, then their sign-ups, then the records."""
    if state.shifts:
        insert_objects(state.shifts)
        state.ctx.counts["shifts"] += len(state.shifts)
        state.shifts = []
    rows = [(shift.pk, *row) for shift, row in state.signups]
    ids = write_rows(Signup, SIGNUP_COLUMNS, rows, returning=True)
    records = [
        (*row[:3], state.signups[index][0].pk, ids[index], *row[5:]) for index, row in state.records
    ]
    records += state.loose_records
    write_rows(ServiceRecord, RECORD_COLUMNS, records)
    state.ctx.counts["signups"] += len(rows)
    state.ctx.counts["service_records"] += len(records)
    for record in records:
        state.ctx.counts[f"service_records.{record[13]}"] += 1
    state.bar.update(len(records))
    state.signups, state.records, state.loose_records = [], [], []


# --- the coming weeks -----------------------------------------------------------------------


def _upcoming(state: _State, town: _Town) -> None:
    """Sign-ups for the shifts from today on: recurring ones from the periodic job's own
    function, one-offs planned above. The demo volunteer is on two and waiting for a
    third."""
    rng, today = state.rng, state.ctx.today
    for activity in town.recurring:
        recurring_shifts_extend(activity=activity, today=today)
    made = list(
        Shift.objects.filter(
            activity__in=town.recurring, starts_at__gte=_at(state, today, dt.time())
        )
        .select_related("activity")
        .order_by("starts_at", "pk")
    )
    fresh = list(town.upcoming)
    by_activity = {a.pk: a for a in town.activities}
    for shift in made:
        shift.activity = by_activity[shift.activity_id]
    shifts = sorted(made + fresh, key=lambda s: (s.starts_at, s.activity.pk))
    plan = _demo_plan(state, town, shifts)
    busy: dict[dt.date, set[int]] = defaultdict(set)
    for key, (first, last) in plan.items():  # her day is kept for her planned shift
        busy[key[1]].update((*first, *last))
    for shift in shifts:
        day = timezone.localtime(shift.starts_at, state.tz).date()
        if shift.activity.status == ActivityStatus.PENDING:
            continue
        first, last = plan.get((id(shift), day), ((), ()))
        full = rng.random() < 0.15 or bool(last)
        share = rng.uniform(1.05, 1.3) if full else rng.uniform(0.15, 0.85)
        demand = max(len(first) + len(last), round(shift.capacity * share))
        free = busy[day] - set(first)  # ``last`` stays busy: she joins at the end only
        people = _candidates(state, town, shift, demand - len(last), free, first)
        if last and people and shift.pk is None:
            shift.capacity = min(shift.capacity, len(people))  # full: she waits
        people += list(last)
        busy[day].update(people)
        shift.confirmed_count = 0
        # Where the organiser reviews sign-ups, the latest still wait for the review.
        reviewing = shift.signup_mode == SignupMode.CONFIRM and not (first or last)
        reviewed = len(people) - (max(1, round(len(people) * 0.4)) if reviewing else 0)
        for rank, volunteer in enumerate(people):
            queued = min(
                state.now - dt.timedelta(days=rng.randint(0, 10), minutes=rng.randrange(600)),
                shift.starts_at - dt.timedelta(hours=1),
            )
            if rank >= reviewed:
                _signup(state, shift, volunteer, SignupStatus.PENDING, queued, queued)
            elif rank < shift.capacity:
                shift.confirmed_count += 1
                _signup(state, shift, volunteer, SignupStatus.CONFIRMED, queued, queued)
            else:
                _signup(state, shift, volunteer, SignupStatus.WAITLISTED, queued, queued)
    state.shifts.extend(fresh)
    _flush(state)
    Shift.objects.bulk_update(made, ["confirmed_count"], batch_size=1000)
    state.ctx.counts["shifts"] += len(made)


def _demo_plan(
    state: _State, town: _Town, shifts: list[Shift]
) -> dict[tuple[int, dt.date], tuple[tuple[int, ...], tuple[int, ...]]]:
    """Where the demo volunteer is signed up: the next shift of her team's weekly activity
    and a community activity on another day; on the waiting list of a third."""
    volunteer = state.demo.get("volunteer")
    if volunteer not in town.reg_day:
        return {}
    tomorrow = _at(state, state.ctx.today + dt.timedelta(days=1), dt.time())
    team_a = state.ctx.named.get("team_a")
    ahead = [
        s
        for s in shifts
        if s.starts_at >= tomorrow and s.activity.status == ActivityStatus.RECRUITING
    ]
    plan: dict[tuple[int, dt.date], tuple[tuple[int, ...], tuple[int, ...]]] = {}
    days: set[dt.date] = set()

    def take(candidates: Iterable[Shift], waiting: bool = False) -> None:
        for shift in candidates:
            day = timezone.localtime(shift.starts_at, state.tz).date()
            if day in days:
                continue
            days.add(day)
            plan[(id(shift), day)] = ((), (volunteer,)) if waiting else ((volunteer,), ())
            return

    take(s for s in ahead if team_a is not None and s.activity.org_id == team_a.pk)
    take(s for s in ahead if s.activity.org_id in (town.corps.pk, town.org.pk))
    take((s for s in ahead if s.pk is None and not s.activity.is_risky), waiting=True)
    return plan


# --- certificates ---------------------------------------------------------------------------


def _certificates(state: _State, town: _Town) -> None:
    """A few certificates issued (through the services, so they verify) and a few
    applications waiting. The demo volunteer holds one for her team's service."""
    ctx, today = state.ctx, state.ctx.today
    period_from, period_to = today - dt.timedelta(days=DAYS_BACK), today - dt.timedelta(days=1)
    worker = ctx.users.get("worker-a") if town.org == ctx.named.get("community_a") else None
    scope = Scope.for_user(worker) if worker is not None else SYSTEM
    ids = [v for v, _o in town.applicants]
    volunteers = Volunteer.objects.select_related("person__user").in_bulk(ids)
    orgs = Org.objects.in_bulk([o for _v, o in town.applicants])
    for n, (volunteer_id, org_id) in enumerate(town.applicants):
        volunteer = volunteers[volunteer_id]
        certificate = certificate_apply(
            actor=getattr(volunteer.person, "user", None),
            volunteer=volunteer,
            org=orgs[org_id],
            period_from=period_from,
            period_to=period_to,
            purpose=state.rng.choice(PURPOSES),
        )
        ctx.counts["certificates"] += 1
        if n < len(town.applicants) - town.waiting:
            certificate_issue(actor=worker, scope=scope, certificate=certificate)
            ctx.counts["certificates.issued"] += 1


# --- the step -------------------------------------------------------------------------------


def _demo_volunteers(ctx: SeedContext) -> dict[str, int]:
    people = {role: ctx.people.get(role) for role in ("volunteer", "leader")}
    found = dict(
        Volunteer.objects.filter(person_id__in=[p for p in people.values() if p]).values_list(
            "person_id", "pk"
        )
    )
    return {role: found[p] for role, p in people.items() if p in found}


def _apportion(total: int, weights: dict[int, float]) -> dict[int, int]:
    """Integers in proportion to ``weights`` that add up to ``total`` (largest remainder)."""
    mass = sum(weights.values())
    if not weights or mass <= 0:
        return {}
    shares = {k: total * w / mass for k, w in weights.items()}
    result = {k: int(v) for k, v in shares.items()}
    left = total - sum(result.values())
    for key in sorted(shares, key=lambda k: (result[k] - shares[k], k))[:left]:
        result[key] += 1
    return result


def _beneficiaries(state: _State) -> None:
    """服务对象人次 of the past year's activities, adding up to the city's figure."""
    ctx = state.ctx
    target = round(BENEFICIARIES_PER_YEAR * ctx.total_residents / BASE_RESIDENTS)
    counts = sorted(_apportion(target, state.beneficiaries).items())
    for start in range(0, len(counts), REFRESH_CHUNK):
        chunk = [
            Activity(pk=pk, beneficiary_count=n) for pk, n in counts[start : start + REFRESH_CHUNK]
        ]
        Activity.objects.bulk_update(chunk, ["beneficiary_count"])
    ctx.counts["beneficiaries"] = sum(n for _pk, n in counts)


def _refresh_hours(state: _State) -> None:
    touched = sorted(state.touched)
    for start in range(0, len(touched), REFRESH_CHUNK):
        volunteer_minutes_refresh(volunteer_ids=touched[start : start + REFRESH_CHUNK])
    state.ctx.counts["volunteers_with_hours"] = len(touched)


def _analyze(state: _State) -> None:
    """Fresh planner statistics after a large fill (PostgreSQL allows ANALYZE inside the
    seed's transaction), so the roll-up and the certificates use the indexes."""
    if state.vendor != "postgresql" or state.ctx.counts["service_records"] < 100_000:
        return
    connection = connections[router.db_for_write(ServiceRecord)]
    with connection.cursor() as cursor:
        for model in (Activity, Shift, Signup, ServiceRecord):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def seed_activities(ctx: SeedContext) -> None:
    assert ctx.city is not None
    rng = ctx.rng("activities")
    state = _State(
        ctx=ctx,
        rng=rng,
        categories=dict(ServiceCategory.objects.values_list("name", "id")),
        served=dict(ServedGroup.objects.values_list("name", "id")),
        tz=timezone.get_current_timezone(),
        # The demo's "now" is 08:00 of its day, or the real time when seeding earlier than
        # that: nothing the demo records may lie in the future.
        now=min(
            dt.datetime.combine(ctx.today, dt.time(8, 0), tzinfo=timezone.get_current_timezone()),
            timezone.now(),
        ),
        calendar=WorkdayCalendar(),
        vendor=connections[router.db_for_write(ServiceRecord)].vendor,
        demo=_demo_volunteers(ctx),
    )
    registered = Volunteer.objects.filter(
        org__path__startswith=ctx.city.path, status=VolunteerStatus.REGISTERED
    ).count()
    towns = []
    with tqdm(
        total=int(registered * RECORDS_PER_VOLUNTEER * (1 - INACTIVE)),
        desc="服务记录",
        unit="条",
        disable=not ctx.progress,
        file=sys.stderr,
        leave=True,
    ) as bar:
        state.bar = bar
        for community in ctx.communities:
            town = _town(state, community)
            if town is None:
                continue
            target = len(town.reg_day) * RECORDS_PER_VOLUNTEER / REALISED
            _plan_recurring(state, town, target * RECURRING_SHARE)
            past = _plan_one_offs(state, town, target * (1 - RECURRING_SHARE))
            _plan_upcoming(state, town, past)
            _save_activities(state, town)
            day = ctx.today - dt.timedelta(days=DAYS_BACK)
            while day < ctx.today:
                _past_day(state, town, day)
                day += dt.timedelta(days=1)
            _flush(state)
            _upcoming(state, town)
            town.release(state.demo.get("volunteer"))
            towns.append(town)
    _analyze(state)
    _refresh_hours(state)
    for town in towns:
        _certificates(state, town)
    _beneficiaries(state)
    c = ctx.counts
    ctx.say(
        f"活动：{c['activities']} 个（每周重复 {c['activities.recurring']}），"
        f"班次 {c['shifts']}，报名 {c['signups']} 人次；服务记录 {c['service_records']} 条"
        f"（已确认 {c['service_records.confirmed']}，待确认 {c['service_records.pending']}），"
        f"服务对象 {c['beneficiaries']} 人次；志愿服务证明 {c['certificates']} 份"
        f"（已开具 {c['certificates.issued']}）"
    )


def reset_activities(ctx: SeedContext) -> None:
    """Delete the demo city's activities, sign-ups, records and certificates, in chunks."""
    assert ctx.city is not None
    path = ctx.city.path
    inside = Q(org__path__startswith=path) | Q(volunteer__org__path__startswith=path)
    for model, scope in (
        (Certificate, inside),
        (ServiceRecord, inside),
        (Signup, Q(shift__activity__org__path__startswith=path)),
        (Shift, Q(activity__org__path__startswith=path)),
        (Activity, Q(org__path__startswith=path)),
    ):
        rows = model.objects.filter(scope).order_by("pk")
        while ids := list(rows.values_list("pk", flat=True)[:CHUNK]):
            if model is ServiceRecord:
                RecordCorrection.objects.filter(record_id__in=ids).delete()
            if model is Signup:
                AttendanceCorrection.objects.filter(signup_id__in=ids).delete()
            if model is Activity:
                for relation in ("served_groups", "required_skills", "required_qualifications"):
                    getattr(Activity, relation).through.objects.filter(activity_id__in=ids).delete()
            model.objects.filter(pk__in=ids).delete()


register_step(Step("activities", seed_activities, reset_activities), after="volunteers")
