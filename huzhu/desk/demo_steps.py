"""Demo data for the service desk (一站式服务、接诉即办、文明评议).

Registered as the seed step ``desk`` (after ``needs``). For every community of the demo city:

* a patrol team (巡查队) that the civic reports of each of its grids go to
  (``catalogue_services.patrol_team_set``): one of its service teams — the 文明劝导, else the
  平安巡逻, else the 环境保护 team, else its first (the seed gives every corps two to four
  teams, each with its volunteers' team profile, so no team is added); the patrol team of
  community A has a second team leader, the demo login ``patrol`` (same password), which the
  step's summary line names (the seed's table of logins is the fixed ``ACCOUNTS``);
* its published contacts (``board_services.contact_add``): a grid worker (网格员) per grid and
  the community police officer, with made-up work numbers (0531-8xxxxxxx), and the service and
  supervision phones where the seed left them empty (``community_phones_set``);
* about ``TICKETS_PER_BASE`` tickets per ``BASE_RESIDENTS`` residents (so ``--scale``
  multiplies them) over the last year, from every channel — walk-ins and calls entered at the
  desk (sometimes for a registered resident), residents' own reports from the web, the phone
  and the API, and Open311 posts of a street's mini-program (an application key issued with
  ``key_services.appkey_issue``) — in every state, run through the real services: answered
  on the spot, accepted, assigned to the patrol team (civic reports) or the grid, acknowledged
  or returned once, extended, resolved, rated by the resident (or by the worker on a
  follow-up call), sent back when the resident is dissatisfied, closed without a rating,
  linked as repeated reports, withdrawn; the open ones are recent, some are overdue and the
  daily escalation job (``tickets_escalate``) is replayed over the past weeks, so they stand
  escalated to the street or the district. Some civic reports carry a generated photo
  (cleaned like any upload; most are checked and published by the worker);
* notices in every column of its board (好人好事, 典型事迹 with the volunteer's consent,
  不文明行为 naming places only, 社区公告) — most published, some waiting for moderation,
  one rejected, one taken down — and suggestions (献良策) with replies in every status, a few
  still unanswered, through ``board_services``.

**Who acts.** The desk of community A is ``worker-a``'s and of B ``worker-b``'s; the desks of
the other communities, their teams and grids, and the residents who report from their phones
act through inactive logins made for this step (``desk-demo-…``, no usable password); what
they did is labelled with the org's name or the resident's masked name, the residents' logins
are taken from them at the end, and the ``desk-logins`` step (after ``needs-logins``) deletes
the logins on reset, once the tickets are gone. Each service gets the ``TicketAccess`` the
selectors would give the one acting, built here where who is who is known. Notifications
are muted (``notifications.muted``): a year of history must not flood the demo logins.

**Dates.** Every service stamps rows with the clock. Each ticket's story is run through the
services one call after the other, each call noted with the moment it happens in the story
(``_Clock``); a plain UPDATE then moves the ticket's times, events and photos to those
moments, and whether it closed on time is worked out again from the story's dates. Deadlines
are the services' own: the date of acceptance (and of a 退回重办) is passed as ``today``. At
the end tickets and suggestions are numbered again in the order of the story, by its years
(``GD2025…`` for a ticket of 2025), and the audit entries the services wrote are removed (the
seed writes one ``demo.seed`` entry for the whole city).

The demo logins find: ``resident`` — three matters of her own, one closed and rated, one
resolved and waiting for her rating, one in progress, and a suggestion that was adopted;
``worker-a`` — reports to accept, one returned to her, one waiting for her decision on an
extension, results waiting for the follow-up call, overdue matters escalated to the street;
``patrol`` — reports assigned to the team to acknowledge and some in progress; ``supervisor``
(the district) — escalated matters on the overdue board.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Count, Max
from django.utils import timezone
from PIL import Image, ImageDraw

from huzhu.common.calendar import WorkdayCalendar, add_working_days
from huzhu.common.identity import mask_name
from huzhu.common.models import AuditEntry
from huzhu.common.models import Counter as Sequence
from huzhu.demo import generator
from huzhu.demo.seed import (
    BASE_RESIDENTS,
    DemoError,
    SeedContext,
    Step,
    _near,  # a place near a centre, as the seed places communities and grids
    register_step,
)
from huzhu.desk import board_services, catalogue_services, key_services, notifications
from huzhu.desk import services as desk
from huzhu.desk.models import (
    OPEN_TICKET_STATUSES,
    AppKey,
    Channel,
    CloseReason,
    MatterType,
    Notice,
    NoticeKind,
    PatrolTeam,
    PhotoKind,
    PublicContact,
    Suggestion,
    SuggestionStatus,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.desk.selectors import TicketAccess
from huzhu.needs import demo_steps as _needs  # noqa: F401 (registers "needs", "needs-logins")
from huzhu.orgs import services as org_services
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.volunteers.models import Volunteer, VolunteerStatus

User = get_user_model()

SYSTEM = Scope(user_id=0, is_superuser=True)
TICKETS_PER_BASE = 200  # tickets over the year per BASE_RESIDENTS residents
MIN_TICKETS = 40
DAYS_BACK = 365
MAX_PHOTOS = 24  # generated photos in all, whatever the scale
LOGIN_PREFIX = "desk-demo-"
PATROL_LOGIN = ("patrol", "马建军")
PATROL_KINDS = ("文明劝导服务队", "平安巡逻服务队", "环境保护服务队")
APP_NAME = "泉城随手拍小程序"

# Fates of a ticket: the ones that end closed happen over the year, the open ones lately.
CLOSED_FATES = (
    ("closed", 64),
    ("answered", 26),
    ("late", 7),
    ("reopened_closed", 5),
    ("returned_closed", 5),
    ("extension_closed", 5),
    ("unrated", 4),
    ("duplicate", 7),
    ("withdrawn", 3),
)
OPEN_FATES = (
    ("registered", 5),
    ("accepted", 2),
    ("assigned", 4),
    ("returned", 2),
    ("in_progress", 7),
    ("extension_pending", 2),
    ("resolved", 5),
    ("overdue", 6),
    ("reopened", 2),
)
# Days ago a ticket of each open fate was registered (at most, at least).
RECENT = {
    "registered": (1, 0),
    "accepted": (2, 0),
    "assigned": (2, 0),
    "returned": (3, 1),
    "in_progress": (5, 1),
    "extension_pending": (6, 2),
    "resolved": (8, 2),
    "overdue": (24, 9),
    "reopened": (14, 6),
}
SELF_FATES = {"withdrawn"}
# Matters answered on the spot (consultations come most often).
ANSWERED_CODES = (
    "consult-policy",
    "affair-certificate",
    "affair-elderly-allowance",
    "consult-policy",
    "complaint-property",
)  # only a resident who sent it can take it back
CIVIC_SHARE = 0.62  # of tickets that are civic reports (文明评议)

# How civic reports and other matters come in: (channel, weight).
CIVIC_CHANNELS = (
    (Channel.MOBILE, 46),
    (Channel.WEB, 8),
    (Channel.PHONE, 16),
    (Channel.WALK_IN, 10),
    (Channel.OPEN311, 14),
    (Channel.API, 6),
)
OTHER_CHANNELS = (
    (Channel.WALK_IN, 44),
    (Channel.PHONE, 34),
    (Channel.MOBILE, 12),
    (Channel.WEB, 10),
)
SELF_CHANNELS = (Channel.MOBILE, Channel.WEB, Channel.API)

# code → (description, place) templates; {estate}, {b} (building), {u} (unit) are filled in.
CIVIC_TEXTS: dict[str, tuple[tuple[str, str], ...]] = {
    "civic-litter": (
        ("巷子里堆了好几袋生活垃圾，好几天没人清运，天热有异味。", "{estate}西侧背街小巷"),
        ("绿化带里有人倒了装修垃圾，碎砖头和编织袋堆了一片。", "{estate}{b}号楼东侧绿化带"),
        ("垃圾桶满了溢出来，周围都是垃圾袋，野猫翻得到处都是。", "{estate}北门垃圾投放点"),
    ),
    "civic-structure": (
        ("一楼住户在院子里私自搭了彩钢板棚子，占用了公共绿地。", "{estate}{b}号楼一楼南侧"),
        ("有人在楼顶加盖房子，这几天一直在施工，担心楼顶承重。", "{estate}{b}号楼楼顶"),
    ),
    "civic-stairwell": (
        ("楼道里堆满了旧家具和纸箱，还停着电动车，挡住了消防通道。", "{estate}{b}号楼{u}单元楼道"),
        ("楼梯拐角堆了很多杂物，晚上看不清，老人容易绊倒。", "{estate}{b}号楼{u}单元"),
    ),
    "civic-flyposting": (
        ("单元门和墙上贴满了开锁、办证的小广告，撕了又贴。", "{estate}{b}号楼{u}单元门口"),
        ("宣传栏和电线杆上被人喷涂了小广告。", "{estate}南门公交站旁"),
    ),
    "civic-pets": (
        ("草坪上经常有狗粪便没人清理，孩子们没法在那里玩。", "{estate}中心花园"),
        ("早上遛狗的人很多，楼前绿地到处是狗粪便。", "{estate}{b}号楼前绿地"),
    ),
    "civic-fireworks": (
        ("昨晚十一点多楼下还有人放鞭炮，老人孩子都被吵醒了。", "{estate}{b}号楼楼下"),
        ("小广场上有人燃放烟花，火星落到了晾晒的衣服上。", "{estate}小广场"),
    ),
    "civic-stalls": (
        ("每天早上有流动摊贩占道卖菜，车辆和行人都过不去。", "{estate}东门路口"),
        ("晚上烧烤摊占了人行道，油烟很大，还堵路。", "{estate}门口人行道"),
    ),
    "civic-height": (
        ("楼上有人往下扔垃圾袋，差点砸到楼下的人。", "{estate}{b}号楼南侧"),
        ("经常有烟头和果皮从楼上扔下来，停在楼下的车也被砸过。", "{estate}{b}号楼{u}单元楼下"),
    ),
    "civic-water": (
        ("沿街饭店把污水直接倒进路边雨水井，臭味很大。", "{estate}沿街商铺后"),
        ("有住户把洗拖把的脏水倒在楼门口，地面结冰很滑。", "{estate}{b}号楼门口"),
    ),
}
CIVIC_RESULTS = {
    "civic-litter": "已联系环卫所清运垃圾，在巷口增设了垃圾桶，网格员每天巡查。",
    "civic-structure": "经现场核实已下达整改通知书，违建已由业主自行拆除。",
    "civic-stairwell": "已组织物业和志愿者清理楼道杂物，张贴了消防通道禁止堆物提示。",
    "civic-flyposting": "巡查队已清除小广告，相关号码已报城管部门处理。",
    "civic-pets": "已在草坪设置文明养犬提示牌，巡查队早晚劝导遛狗居民及时清理。",
    "civic-fireworks": "已联系派出所加强夜间巡逻，并入户宣传禁放规定。",
    "civic-stalls": "已联合城管劝离占道摊贩，引导其到便民市场经营。",
    "civic-height": "已在楼道张贴禁止高空抛物告示，物业加装了监控，并入户走访宣传。",
    "civic-water": "已约谈商户，责令按规定处理污水，巡查队持续跟踪。",
}
# code → (descriptions, answer on the spot, result when handled)
MATTER_TEXTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "affair-certificate": (
        ("想开一份居住证明，孩子上学报名要用。", "需要开一份社区证明，办理银行业务用。"),
        "材料齐全，已当场开具证明。",
        "证明已开具，居民已到社区领取。",
    ),
    "affair-elderly-allowance": (
        ("家里老人满80岁了，想申请高龄津贴。", "母亲今年刚满八十，高龄津贴怎么申请？"),
        "已告知所需材料并当场受理申请，审核结果电话通知。",
        "申请材料已审核通过并报街道，津贴按月发放到社保卡。",
    ),
    "affair-disability": (
        ("想给家里的残疾人办理残疾证，需要去哪里鉴定？",),
        "已告知鉴定医院和所需材料，材料备齐后到社区提交。",
        "已协助完成鉴定预约和材料提交，残疾证已办理。",
    ),
    "consult-policy": (
        ("想问问老旧小区加装电梯有没有补贴。", "今年城乡居民医保什么时候缴费？",
         "社区长者食堂怎么报名？老人吃饭有没有补贴？"),
        "已详细解答相关政策，并发放了政策明白纸。",
        "已联系街道相关科室核实政策，电话答复居民。",
    ),
    "help-difficulty": (
        ("老伴生病住院，家里经济上很困难，想申请临时救助。",
         "独自照顾瘫痪在床的母亲，忙不过来，希望社区帮帮忙。"),
        "已告知临时救助申请条件和材料。",
        "已协助申请临时救助，并安排志愿者定期上门探望。",
    ),
    "complaint-property": (
        ("电梯经常坏，物业修了好几次还是不行，老人上下楼很困难。",
         "楼上漏水渗到我家天花板，找物业一直没人来处理。"),
        "已当场联系物业经理，物业承诺今日上门处理。",
        "已约谈物业公司，电梯已更换部件恢复运行，物业承诺加强维保。",
    ),
    "complaint-neighbour": (
        ("楼上邻居晚上经常很吵，影响休息，沟通过没用。",
         "邻居把杂物堆在我家门口，说了也不挪。"),
        "已当场讲解相关规定，建议先由楼长协调。",
        "社区调解员已上门调解，双方达成谅解。",
    ),
}  # fmt: skip
RETURN_REASONS = (
    "该点位属物业管理区域，不在本队巡查范围，请转物业公司处理。",
    "事项需要专业部门处理，建议重新派单。",
)
EXTENSION_REASONS = ("需协调物业和城管联合处理，时间较长。", "需等待维修配件到货。")
PROGRESS_NOTES = ("已到现场查看，正在联系相关单位处理。", "已与当事人沟通，约定整改时间。")
RATING_COMMENTS = {
    5: ("处理得很及时，谢谢！", "非常满意，网格员很负责。", ""),
    4: ("处理得不错。", "基本解决了，谢谢。", ""),
    3: ("还可以，希望以后多巡查。", ""),
}
DISSATISFIED = ("小广告又贴上了，没有根本解决。", "问题还在，希望再看看。", "处理不彻底。")
ON_BEHALF = "电话回访，居民表示满意。"
UNRATED_NOTE = "三次电话回访未接通，按办结处理。"
WITHDRAW_REASON = "问题已自行解决，不需要处理了。"

GOOD_DEEDS = (
    ("拾金不昧暖人心", "一位居民在小区门口捡到一个钱包，内有现金和证件，第一时间交到社区服务站，"
     "失主已领回。"),
    ("雪后主动扫雪", "大雪过后，几位楼长天不亮就拿着扫帚铲子清扫小区主干道，方便大家出行。"),
    ("邻里互助送老人就医", "独居老人夜里突发不适，邻居发现后及时拨打120并陪同就医。"),
    ("义务修理小家电", "退休电工每月在社区服务站义务为居民修理小家电，深受欢迎。"),
)  # fmt: skip
UNCIVIL = (
    ("楼道堆物屡劝不改", "{estate}{b}号楼{u}单元", "该单元楼道长期堆放杂物，存在消防隐患，"
     "经多次劝导仍未清理，请相关住户尽快清理。"),
    ("遛狗不牵绳、不清理粪便", "{estate}中心花园", "早晚时段有居民遛狗不牵绳、不清理粪便，"
     "请文明养犬。"),
    ("车辆占用消防通道", "{estate}北门消防通道", "夜间常有车辆停放在消防通道上，请车主自觉挪车。"),
)  # fmt: skip
NOTICES = (
    ("关于开展楼道堆物集中清理的通知", "为消除消防隐患，社区将于本月下旬组织楼道堆物集中清理，"
     "请居民提前清理个人物品。"),
    ("免费健康体检通知", "社区卫生服务站将为辖区65岁以上老人提供免费健康体检，请携带身份证到"
     "社区服务站预约。"),
    ("文明养犬倡议书", "请养犬居民出门牵绳、及时清理粪便、按时免疫，共建文明和谐社区。"),
)  # fmt: skip
EXEMPLARY = ("十年如一日的助老志愿者", "坚持每周上门看望辖区独居老人，帮助买菜、取药、打扫卫生，"
             "被居民亲切地称为“贴心人”。")  # fmt: skip
SUGGESTIONS = (
    ("建议增设电动车充电桩", "小区电动车越来越多，有人从楼上拉电线充电很危险，建议在小区内增设"
     "集中充电桩。"),
    ("建议在中心花园加装座椅", "老人在花园散步没有地方休息，建议加装几组座椅。"),
    ("建议开设老年人智能手机课", "很多老人不会用手机挂号、付款，建议社区定期开课教一教。"),
    ("建议规范快递柜周边停车", "快递柜旁经常停满车，取快递不方便，建议划定临时停车位。"),
)  # fmt: skip
REPLIES = {
    SuggestionStatus.ADOPTED: "感谢您的建议！已纳入社区年度民生实事项目，预计下季度完成。",
    SuggestionStatus.PARTLY: "感谢您的建议！已先在试点区域落实，其他区域将视情况推进。",
    SuggestionStatus.REPLIED: "感谢您的建议！已转交物业公司研究，后续进展将在公示栏公布。",
    SuggestionStatus.NOT_ADOPTED: "感谢您的建议！经与物业和业主代表商议，因场地所限暂不实施。",
}


# --- the story of one ticket -------------------------------------------------------------------


@dataclass
class _Clock:
    """When each service call of one story happens: the real moment the call began and the
    story's moment for it. A row the call wrote (stamped by the clock) moves to the story's
    moment of the call it came from."""

    latest: dt.datetime  # nothing in the story happens after this
    marks: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)

    def at(self, when: dt.datetime) -> dt.date:
        """The next call happens ``when`` (never before the one before); its story date."""
        when = min(when, self.latest).replace(microsecond=0)
        if self.marks and when < self.marks[-1][1]:
            when = self.marks[-1][1]
        self.marks.append((timezone.now(), when))
        return timezone.localdate(when)

    @property
    def last(self) -> dt.datetime:
        return self.marks[-1][1]

    def moved(self, stamp: dt.datetime | None) -> dt.datetime | None:
        if stamp is None or not self.marks or stamp < self.marks[0][0]:
            return stamp
        reals = [real for real, _story in self.marks]
        return self.marks[bisect.bisect_right(reals, stamp) - 1][1]


@dataclass
class _Plan:
    community: Org
    grid: Org
    matter: MatterType
    channel: str
    fate: str
    created: dt.datetime  # in the story
    description: str
    address: str
    reporter: Person | None = None  # a registered resident (self-sent, or entered for them)
    contact: tuple[str, str] = ("", "")  # name and phone given instead
    photo: bool = False
    rating: tuple[int, str] | None = None  # fixed for the demo logins' tickets
    original: _Plan | None = None  # a repeated report: the first one
    ticket_id: int | None = None

    @property
    def self_sent(self) -> bool:
        return self.channel in SELF_CHANNELS and self.reporter is not None


@dataclass
class _State:
    ctx: SeedContext
    rng: random.Random
    tz: Any
    latest: dt.datetime  # the story's now
    matters: dict[str, MatterType]
    desk_users: dict[int, Any]  # community id → who works its desk
    patrols: dict[int, Org]  # community id → patrol team
    handlers: dict[int, Any] = field(default_factory=dict)  # team/grid id → who acts for it
    logins: dict[int, Any] = field(default_factory=dict)  # person id → transient login
    labels: dict[int, str] = field(default_factory=dict)  # transient user id → label
    password: str = ""
    people: dict[int, list[int]] = field(default_factory=dict)  # community id → person ids
    grid_of: dict[int, Org] = field(default_factory=dict)  # grid id → grid
    app_key: AppKey | None = None
    photos_left: int = MAX_PHOTOS
    photos: int = 0
    counts: Counter = field(default_factory=Counter)


def _office_hours(state: _State, when: dt.datetime) -> dt.datetime:
    """The same moment if the desk is open (08:30–18:00), else the next opening time."""
    local = timezone.localtime(when, state.tz)
    opening = dt.datetime.combine(local.date(), dt.time(8, 30), tzinfo=state.tz)
    if local < opening:
        return opening + dt.timedelta(minutes=state.rng.randint(0, 40))
    if local.hour >= 18:
        return opening + dt.timedelta(days=1, minutes=state.rng.randint(0, 40))
    return when


def _later(state: _State, when: dt.datetime, low: int, high: int) -> dt.datetime:
    """``low``–``high`` minutes after ``when``, in office hours."""
    return _office_hours(state, when + dt.timedelta(minutes=state.rng.randint(low, high)))


def _on_working_day(state: _State, day: dt.date, after: dt.datetime) -> dt.datetime:
    """A moment in office hours of ``day``, not before ``after``."""
    moment = dt.datetime.combine(day, dt.time(9), tzinfo=state.tz)
    moment += dt.timedelta(minutes=state.rng.randint(0, 8 * 60))
    return max(moment, after + dt.timedelta(minutes=state.rng.randint(30, 120)))


def _transient(state: _State, username: str, label: str) -> Any:
    if not state.password:
        state.password = make_password(None)  # unusable: nobody signs in with it
    user = User.objects.create(
        username=username, first_name=label[:150], password=state.password, is_active=False
    )
    state.labels[user.pk] = label
    return user


def _login(state: _State, person: Person) -> Any:
    """The person's login: their own (the demo logins), or a transient one."""
    if person.user_id:
        return person.user
    user = state.logins.get(person.pk)
    if user is None:
        user = _transient(state, f"{LOGIN_PREFIX}{person.pk}", mask_name(person.name))
        person.user = user
        Person.objects.filter(pk=person.pk).update(user=user)
        state.logins[person.pk] = user
    return user


def _handler(state: _State, team: Org) -> Any:
    """Who acts for the team (or grid) a ticket is assigned to."""
    user = state.handlers.get(team.pk)
    if user is None:
        user = _transient(state, f"{LOGIN_PREFIX}org-{team.pk}", team.name)
        state.handlers[team.pk] = user
    return user


def _as_manager(ticket: Ticket) -> TicketAccess:
    return TicketAccess(ticket=ticket, is_manager=True, can_view=True)


def _as_handler(ticket: Ticket) -> TicketAccess:
    return TicketAccess(ticket=ticket, is_handler=True)


def _as_reporter(ticket: Ticket) -> TicketAccess:
    return TicketAccess(ticket=ticket, is_reporter=True)


# --- photos -------------------------------------------------------------------------------------

PALETTES = {
    "report": ((200, 60, 50), (230, 200, 60), (70, 110, 190), (240, 240, 235), (90, 70, 50)),
    "result": ((110, 160, 90), (140, 180, 110), (200, 200, 190)),
}


def _photo(state: _State, name: str, kind: str = "report") -> SimpleUploadedFile | None:
    """A generated snapshot (a wall or a lane with clutter, or the same place tidy)."""
    if state.photos_left <= 0:
        return None
    state.photos_left -= 1
    rng = state.rng
    width, height = 800, 600
    image = Image.new("RGB", (width, height), (rng.randint(150, 185),) * 3)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.62), width, height), fill=(125, 118, 105))
    for _ in range(rng.randint(5, 12) if kind == "report" else rng.randint(1, 3)):
        x, y = rng.randint(0, width - 160), rng.randint(40, height - 140)
        box = (x, y, x + rng.randint(50, 160), y + rng.randint(40, 120))
        colour = rng.choice(PALETTES[kind])
        if rng.random() < 0.6:
            draw.rectangle(box, fill=colour, outline=(60, 60, 60))
        else:
            draw.ellipse(box, fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=78)
    state.photos += 1
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


# --- setting up the communities -----------------------------------------------------------------


def _patrol_team_of(teams: list[Org]) -> Org:
    """The service team best suited to patrol (文明劝导 before 平安巡逻 before 环境保护), else
    the first."""
    for kind in PATROL_KINDS:
        for team in teams:
            if team.name.endswith(kind):
                return team
    return teams[0]


def _patrol_teams(state: _State) -> None:
    """Each community's patrol team is one of its service teams; it serves every grid."""
    ctx = state.ctx
    for community in ctx.communities:
        teams = ctx.teams.get(community.pk)
        if not teams:
            continue
        team = _patrol_team_of(teams)
        state.patrols[community.pk] = team
        for grid in ctx.grids.get(community.pk, []):
            catalogue_services.patrol_team_set(actor=None, scope=SYSTEM, grid=grid, team=team)
    state.counts["patrol_teams"] = len(state.patrols)


def _patrol_login(state: _State) -> None:
    """The demo login ``patrol``: a leader of community A's patrol team."""
    ctx = state.ctx
    username, name = PATROL_LOGIN
    team = state.patrols.get(ctx.named["community_a"].pk)
    if team is None:
        return
    if User.objects.filter(username=username).exists():
        raise DemoError(f"演示账号已存在：{username}。请加 --reset 删除旧的演示数据后重新生成。")
    user = User.objects.create(
        username=username, first_name=name, password=make_password(ctx.password)
    )
    org_services.role_grant_create(
        actor=None, scope=SYSTEM, org=team, user=user, role=Role.TEAM_LEADER
    )
    ctx.users[username] = user
    leader = ctx.users.get("leader")
    if leader is not None:  # the seed's team leader answers for her own team …
        state.handlers[ctx.named["team_a"].pk] = leader
    state.handlers[team.pk] = user  # … and ``patrol`` for the patrol team


def _contacts(state: _State) -> None:
    """Grid workers and the community police officer, with made-up work numbers; the service
    and supervision phones where the seed left them empty."""
    rng = state.rng

    def landline() -> str:
        return f"0531-8{rng.randrange(10**6, 10**7)}"

    def name() -> str:
        return generator.full_name(rng, rng.choice("MF"), rng.randint(1970, 1995))

    for community in state.ctx.communities:
        grids = state.ctx.grids.get(community.pk, [])
        for order, grid in enumerate(grids, 1):
            board_services.contact_add(
                actor=None,
                scope=SYSTEM,
                data=board_services.ContactInput(
                    org_id=grid.pk, name=name(), phone=landline(), role="网格员", sort_order=order
                ),
            )
        board_services.contact_add(
            actor=None,
            scope=SYSTEM,
            data=board_services.ContactInput(
                org_id=community.pk, name=name(), phone=landline(), role="社区民警"
            ),
        )
        if not (community.service_phone and community.supervision_phone):
            board_services.community_phones_set(
                actor=None,
                scope=SYSTEM,
                org=community,
                service_phone=community.service_phone or landline(),
                supervision_phone=community.supervision_phone or landline(),
            )
    state.counts["contacts"] = PublicContact.objects.filter(
        org__path__startswith=state.ctx.city.path  # type: ignore[union-attr]
    ).count()


# --- planning the tickets -----------------------------------------------------------------------


def _people(state: _State) -> dict[int, int]:
    """Who lives where (person ids per community), and the communities' sizes."""
    ctx = state.ctx
    community_of = {}
    for community in ctx.communities:
        for grid in ctx.grids.get(community.pk, []):
            community_of[grid.pk] = community.pk
            state.grid_of[grid.pk] = grid
    # The demo logins' people report only what ``_fixed`` gives them.
    rows = Person.objects.filter(org_id__in=list(community_of)).exclude(
        pk__in=[pk for key, pk in ctx.people.items() if key in ("resident", "volunteer")]
    )
    for pk, org_id in rows.order_by("pk").values_list("pk", "org_id").iterator(chunk_size=5000):
        state.people.setdefault(community_of[org_id], []).append(pk)
    return {c.pk: len(state.people.get(c.pk, [])) for c in ctx.communities}


def _place(state: _State, grid: Org, template: str) -> str:
    estates = state.ctx.estates.get(grid.pk) or [None]
    estate = state.rng.choice(estates)
    return template.format(
        estate=estate.name if estate else grid.name,
        b=state.rng.randint(1, estate.buildings if estate else 12),
        u=state.rng.randint(1, estate.units if estate else 3),
    )


def _when(state: _State, fate: str) -> dt.datetime:
    """When a ticket of ``fate`` was registered: lately for the open ones, else in the year."""
    today = timezone.localdate(state.latest)
    if fate in RECENT:
        most, least = RECENT[fate]
        day = today - dt.timedelta(days=state.rng.randint(least, most))
    else:
        day = today - dt.timedelta(days=state.rng.randint(30, DAYS_BACK))
    hour = state.rng.choice((8, 9, 9, 10, 10, 11, 14, 15, 15, 16, 17, 19, 20, 21))
    moment = dt.datetime.combine(day, dt.time(hour), tzinfo=state.tz)
    moment += dt.timedelta(minutes=state.rng.randint(0, 59))
    return min(moment, state.latest - dt.timedelta(minutes=state.rng.randint(20, 120)))


def _plan(
    state: _State,
    community: Org,
    fate: str,
    *,
    code: str | None = None,
    channel: str | None = None,
    grid: Org | None = None,
    reporter: Person | None = None,
    created: dt.datetime | None = None,
) -> _Plan:
    rng = state.rng
    if code is None:
        if fate == "answered":
            code = rng.choice(ANSWERED_CODES)
        elif rng.random() < CIVIC_SHARE or fate in ("overdue", "duplicate"):
            code = rng.choice(sorted(CIVIC_TEXTS))
        else:
            code = rng.choice(sorted(MATTER_TEXTS))
    matter = state.matters[code]
    if channel is None:
        channels = CIVIC_CHANNELS if matter.is_civic else OTHER_CHANNELS
        if fate in SELF_FATES:
            channels = tuple(c for c in channels if c[0] in SELF_CHANNELS)
        channel = rng.choices([c for c, _w in channels], [w for _c, w in channels])[0]
    people = state.people.get(community.pk)
    wanted = channel in SELF_CHANNELS or rng.random() < 0.35
    if reporter is None and channel != Channel.OPEN311 and people and wanted:
        reporter = Person.objects.select_related("org", "user").get(pk=rng.choice(people))
    if channel in SELF_CHANNELS and reporter is None:
        channel = Channel.PHONE  # nobody to send it themselves: they called
    if fate in SELF_FATES and channel not in SELF_CHANNELS:
        fate = "closed"
    if grid is None:
        grid = reporter.org if reporter is not None and reporter.org.kind == OrgKind.GRID else None
        grid = grid or rng.choice(state.ctx.grids[community.pk])
    if matter.is_civic:
        description, template = rng.choice(CIVIC_TEXTS[code])
        address = _place(state, grid, template)
    else:
        description = rng.choice(MATTER_TEXTS[code][0])
        address = reporter.address if reporter is not None and reporter.address else ""
    contact = ("", "")
    if reporter is None:
        surname = generator.pick_surname(rng)
        contact = (surname + rng.choice(("先生", "女士", "大爷", "阿姨")), generator.mobile(rng))
    return _Plan(
        community=community,
        grid=grid,
        matter=matter,
        channel=channel,
        fate=fate,
        created=created or _when(state, fate),
        description=description,
        address=address,
        reporter=reporter if channel != Channel.OPEN311 else None,
        contact=contact,
        photo=matter.is_civic
        and channel in (Channel.MOBILE, Channel.OPEN311, Channel.WEB)
        and rng.random() < 0.5,
    )


def _fixed(state: _State) -> list[_Plan]:
    """The tickets the demo logins find (module docstring)."""
    ctx = state.ctx
    a = ctx.named["community_a"]
    b = ctx.named["community_b"]
    plans: list[_Plan] = []
    resident_id = ctx.people.get("resident")
    if resident_id and ctx.users.get("resident") is not None:
        her = Person.objects.select_related("org", "user").get(pk=resident_id)
        today = timezone.localdate(state.latest)
        for code, channel, fate, days_ago, rating in (
            ("civic-stairwell", Channel.MOBILE, "closed", 96, (5, "楼道清理得很干净，谢谢！")),
            ("civic-flyposting", Channel.MOBILE, "resolved", 5, None),
            ("complaint-property", Channel.WEB, "in_progress", 2, None),
        ):
            created = dt.datetime.combine(
                today - dt.timedelta(days=days_ago), dt.time(9, 20), tzinfo=state.tz
            )
            plan = _plan(state, a, fate, code=code, channel=channel, reporter=her, created=created)
            plan.photo = plan.matter.is_civic
            plan.rating = rating
            plans.append(plan)
    for fate, channel in (
        ("registered", Channel.MOBILE),
        ("registered", Channel.OPEN311),
        ("registered", Channel.WEB),
        ("accepted", Channel.PHONE),
        ("assigned", Channel.API),
        ("assigned", Channel.WALK_IN),
        ("returned", None),
        ("in_progress", None),
        ("extension_pending", None),
        ("resolved", None),
        ("reopened", None),
    ):
        code = state.rng.choice(sorted(CIVIC_TEXTS)) if fate in ("registered", "assigned") else None
        plans.append(_plan(state, a, fate, code=code, channel=channel))
    # Two overdue reports: one working day past its deadline (the street's), five (the
    # district's). civic-fireworks is due two working days after acceptance.
    last = _workdays_back(timezone.localdate(state.latest), 0)
    for overdue_by in (1, 5):
        accepted_on = _workdays_back(last, overdue_by + 2)
        created = dt.datetime.combine(accepted_on, dt.time(9, 10), tzinfo=state.tz)
        plans.append(_plan(state, a, "overdue", code="civic-fireworks", created=created))
    plans.extend(_plan(state, b, fate) for fate in ("registered", "overdue", "resolved"))
    return plans


def _workdays_back(day: dt.date, count: int) -> dt.date:
    """The working day ``count`` working days before ``day`` (``day`` itself, or the last
    working day before it, for 0)."""
    calendar = WorkdayCalendar()
    while not calendar.is_workday(day):
        day -= dt.timedelta(days=1)
    for _ in range(count):
        day -= dt.timedelta(days=1)
        while not calendar.is_workday(day):
            day -= dt.timedelta(days=1)
    return day


def _plans(state: _State) -> list[_Plan]:
    ctx = state.ctx
    sizes = _people(state)
    total = max(MIN_TICKETS, round(TICKETS_PER_BASE * ctx.total_residents / BASE_RESIDENTS))
    plans = _fixed(state)
    communities = [c for c in ctx.communities if ctx.grids.get(c.pk)]
    weights = [max(sizes.get(c.pk, 0), 1) for c in communities]
    fates = (*CLOSED_FATES, *OPEN_FATES)
    # Every closed fate at least once, then as the weights fall.
    chosen = [fate for fate, _w in CLOSED_FATES if fate != "duplicate"]
    while len(plans) + len(chosen) < total:
        chosen.append(state.rng.choices([f for f, _w in fates], [w for _f, w in fates])[0])
    originals: list[_Plan] = []
    duplicates = 0
    for fate in chosen:
        if fate == "duplicate":
            duplicates += 1
            continue
        community = state.rng.choices(communities, weights)[0]
        plan = _plan(state, community, fate)
        plans.append(plan)
        if plan.matter.is_civic and fate not in ("withdrawn", "registered"):
            originals.append(plan)
    for _ in range(max(duplicates, 1)):
        if originals:
            plans.append(_repeat(state, state.rng.choice(originals)))
    plans.sort(key=lambda p: (p.created, id(p)))
    return plans


def _repeat(state: _State, original: _Plan) -> _Plan:
    """Someone else reports the same thing a little later (重复反映)."""
    created = original.created + dt.timedelta(minutes=state.rng.randint(90, 36 * 60))
    plan = _plan(
        state,
        original.community,
        "duplicate",
        code=original.matter.code,
        grid=original.grid,
        created=min(created, state.latest - dt.timedelta(minutes=30)),
    )
    plan.address = original.address
    plan.original = original
    return plan


# --- running a ticket's story -------------------------------------------------------------------


def _create(state: _State, plan: _Plan, clock: _Clock) -> Ticket:
    worker = state.desk_users[plan.community.pk]
    photos = []
    if plan.photo:
        photo = _photo(state, f"IMG_{plan.created:%Y%m%d_%H%M%S}.jpg")
        photos = [photo] if photo is not None else []
    point = None
    if plan.matter.is_civic and plan.grid.latitude is not None:
        point = _near(state.rng, (plan.grid.latitude, plan.grid.longitude), 0.25)
    staff = plan.channel in (Channel.WALK_IN, Channel.PHONE)
    data = desk.TicketInput(
        matter_type_id=plan.matter.pk,
        description=plan.description,
        channel=plan.channel,
        org_id=plan.grid.pk,
        address=plan.address,
        latitude=point[0] if point else None,
        longitude=point[1] if point else None,
        reporter_id=plan.reporter.pk if staff and plan.reporter is not None else None,
        contact_name=plan.contact[0],
        contact_phone=plan.contact[1],
        photos=photos,
    )
    if staff:
        actor, scope, app_key = worker, SYSTEM, None
    elif plan.channel == Channel.OPEN311:
        actor, scope, app_key = state.app_key, Scope.anonymous(), state.app_key
    else:
        assert plan.reporter is not None
        actor = _login(state, plan.reporter)
        scope = Scope(user_id=actor.pk, person_id=plan.reporter.pk)
        app_key = None
    clock.at(plan.created)
    return desk.ticket_create(
        actor=actor, scope=scope, data=data, app_key=app_key, limit_rate=False
    )


def _team(state: _State, ticket: Ticket, plan: _Plan, again: bool = False) -> Org:
    """Civic reports go to the grid's patrol team, other matters to the grid; a returned
    ticket goes to the grid (civic) or to a service team of the community."""
    if ticket.matter_type.is_civic:
        team = desk.default_team(ticket)
        if team is not None and not again:
            return team
        return plan.grid
    if again:
        teams = state.ctx.teams.get(plan.community.pk) or [plan.grid]
        return state.rng.choice(teams)
    return plan.grid


def _rate(state: _State, plan: _Plan, ticket: Ticket, clock: _Clock, when: dt.datetime) -> Ticket:
    """The follow-up (回访) that closes the ticket: the resident rates it, or the worker
    records what they said on the phone, or closes it unrated."""
    rng = state.rng
    worker = state.desk_users[plan.community.pk]
    clock.at(when)
    if plan.fate == "unrated":
        return desk.ticket_close_unrated(
            actor=worker, access=_as_manager(ticket), note=UNRATED_NOTE
        )
    rating, comment = plan.rating or (0, "")
    if not rating:
        rating = rng.choices((5, 4, 3), (62, 30, 8))[0]
        comment = rng.choice(RATING_COMMENTS[rating])
    if plan.self_sent and (plan.rating or rng.random() < 0.75):
        user = _login(state, plan.reporter)  # type: ignore[arg-type]
        data = desk.FollowUp(satisfied=True, rating=rating, comment=comment)
        return desk.ticket_follow_up(actor=user, access=_as_reporter(ticket), data=data)
    data = desk.FollowUp(satisfied=True, rating=rating, comment=ON_BEHALF, on_behalf=True)
    return desk.ticket_follow_up(actor=worker, access=_as_manager(ticket), data=data)


def _result(plan: _Plan) -> str:
    if plan.matter.is_civic:
        return CIVIC_RESULTS[plan.matter.code]
    return MATTER_TEXTS[plan.matter.code][2]


def _resolve_day(state: _State, ticket: Ticket, start: dt.date, late: bool) -> dt.date:
    """A working day for the result: before the deadline, or a few days after it."""
    due = ticket.due_date or start
    if late:
        return add_working_days(due, state.rng.randint(1, 3)).day
    span = max(0, (due - start).days)
    day = start + dt.timedelta(days=state.rng.randint(0, span))
    return min(day, due)


def _run(state: _State, plan: _Plan) -> Ticket:
    """Run the ticket's story through the services; returns it as it ends."""
    rng, fate = state.rng, plan.fate
    clock = _Clock(latest=state.latest)
    worker = state.desk_users[plan.community.pk]
    ticket = _create(state, plan, clock)
    plan.ticket_id = ticket.pk
    t = plan.created
    if fate == "registered":
        return _restamp(ticket, clock)
    if fate == "withdrawn":
        clock.at(t + dt.timedelta(minutes=rng.randint(20, 300)))
        user = _login(state, plan.reporter)  # type: ignore[arg-type]
        desk.ticket_withdraw(actor=user, access=_as_reporter(ticket), reason=WITHDRAW_REASON)
        return _restamp(ticket, clock)
    if fate == "answered":
        clock.at(t + dt.timedelta(minutes=rng.randint(5, 40)))
        answer = MATTER_TEXTS[plan.matter.code][1]
        desk.ticket_answer(actor=worker, access=_as_manager(ticket), answer=answer)
        return _restamp(ticket, clock)
    if fate == "duplicate" and plan.original is not None and plan.original.ticket_id:
        clock.at(_later(state, t, 20, 180))
        desk.ticket_link(
            actor=worker, access=_as_manager(ticket), original=Ticket(pk=plan.original.ticket_id)
        )
        return _restamp(ticket, clock)
    t = _later(state, t, 10, 150)
    ticket = desk.ticket_accept(actor=worker, access=_as_manager(ticket), today=clock.at(t))
    if fate == "accepted":
        return _restamp(ticket, clock)
    team = _team(state, ticket, plan)
    t = _later(state, t, 10, 90)
    clock.at(t)
    ticket = desk.ticket_assign(actor=worker, access=_as_manager(ticket), team=team)
    if fate == "assigned":
        return _restamp(ticket, clock)
    if fate in ("returned", "returned_closed"):
        t = _later(state, t, 60, 600)
        clock.at(t)
        reason = rng.choice(RETURN_REASONS)
        ticket = desk.ticket_return(
            actor=_handler(state, team), access=_as_handler(ticket), reason=reason
        )
        if fate == "returned":
            return _restamp(ticket, clock)
        team = _team(state, ticket, plan, again=True)
        t = _later(state, t, 30, 240)
        clock.at(t)
        ticket = desk.ticket_assign(actor=worker, access=_as_manager(ticket), team=team)
    handler = _handler(state, team)
    t = _later(state, t, 30, 20 * 60)
    clock.at(t)
    ticket = desk.ticket_acknowledge(actor=handler, access=_as_handler(ticket))
    _publish_photos(ticket, worker)
    if rng.random() < 0.35 or fate in ("in_progress", "overdue"):
        t = _later(state, t, 60, 26 * 60)
        clock.at(t)
        ticket = desk.ticket_note(
            actor=handler, access=_as_handler(ticket), note=rng.choice(PROGRESS_NOTES), public=True
        )
    if fate in ("in_progress", "overdue"):
        return _restamp(ticket, clock)
    if fate in ("extension_pending", "extension_closed"):
        t = _later(state, t, 60, 24 * 60)
        clock.at(t)
        ticket = desk.ticket_extension_request(
            actor=handler,
            access=_as_handler(ticket),
            days=rng.randint(2, 5),
            reason=rng.choice(EXTENSION_REASONS),
        )
        if fate == "extension_pending":
            return _restamp(ticket, clock)
        t = _later(state, t, 30, 240)
        clock.at(t)
        ticket = desk.ticket_extension_decide(
            actor=worker, access=_as_manager(ticket), approve=True, note="同意延期"
        )
    day = _resolve_day(state, ticket, timezone.localdate(t), late=fate == "late")
    t = _on_working_day(state, day, t)
    ticket = _resolve(state, plan, ticket, handler, clock, t)
    if fate == "resolved":
        return _restamp(ticket, clock)
    if fate in ("reopened", "reopened_closed"):
        t = _later(state, t, 18 * 60, 40 * 60)
        reporter_rates = plan.self_sent
        actor = _login(state, plan.reporter) if reporter_rates else worker  # type: ignore[arg-type]
        data = desk.FollowUp(
            satisfied=False,
            rating=rng.randint(1, 2),
            comment=rng.choice(DISSATISFIED),
            on_behalf=not reporter_rates,
        )
        access = _as_reporter(ticket) if reporter_rates else _as_manager(ticket)
        ticket = desk.ticket_follow_up(actor=actor, access=access, data=data, today=clock.at(t))
        if fate == "reopened":
            return _restamp(ticket, clock)
        day = _resolve_day(state, ticket, timezone.localdate(t), late=False)
        t = _on_working_day(state, day, t)
        ticket = _resolve(state, plan, ticket, handler, clock, t)
    t = _later(state, t, 12 * 60, 60 * 60)
    ticket = _rate(state, plan, ticket, clock, t)
    return _restamp(ticket, clock)


def _resolve(
    state: _State, plan: _Plan, ticket: Ticket, handler: Any, clock: _Clock, when: dt.datetime
) -> Ticket:
    photos = []
    if plan.photo and state.rng.random() < 0.4:
        photo = _photo(state, f"result_{plan.ticket_id}.jpg", kind="result")
        photos = [photo] if photo is not None else []
    clock.at(when)
    return desk.ticket_resolve(
        actor=handler, access=_as_handler(ticket), result=_result(plan), photos=photos
    )


def _publish_photos(ticket: Ticket, worker: Any) -> None:
    """The worker has looked at the report photos (no faces, no plates) and publishes them."""
    for photo in TicketPhoto.objects.filter(ticket_id=ticket.pk, kind=PhotoKind.REPORT):
        desk.photo_publish(actor=worker, access=_as_manager(ticket), photo=photo, public=True)


TIMES = ("created_at", "accepted_at", "assigned_at", "acknowledged_at", "resolved_at", "closed_at")


def _restamp(ticket: Ticket, clock: _Clock) -> Ticket:
    """Date the ticket and what its story wrote as the story says; work out again whether
    it closed on time (the services compared the story's deadline with today)."""
    row = Ticket.objects.only("status", "close_reason", "due_date", *TIMES).get(pk=ticket.pk)
    values: dict[str, Any] = {name: clock.moved(getattr(row, name)) for name in TIMES}
    if row.status == TicketStatus.CLOSED and row.close_reason != CloseReason.DUPLICATE:
        done = values["resolved_at"] or values["closed_at"]
        values["closed_on_time"] = row.due_date is None or timezone.localdate(done) <= row.due_date
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=clock.last, **values)
    for model in (TicketEvent, TicketPhoto):
        groups: dict[dt.datetime, list[int]] = {}
        for pk, stamp in model.objects.filter(ticket_id=ticket.pk).values_list("pk", "created_at"):
            groups.setdefault(clock.moved(stamp), []).append(pk)
        for moment, ids in groups.items():
            model.objects.filter(pk__in=ids).update(created_at=moment)
    return ticket


def _escalations(state: _State) -> None:
    """Replay the daily escalation job over the weeks the open overdue tickets were due."""
    city = state.ctx.city
    assert city is not None
    today = timezone.localdate(state.latest)
    dues = Ticket.objects.filter(
        org__path__startswith=city.path, status__in=OPEN_TICKET_STATUSES, due_date__lt=today
    ).values_list("due_date", flat=True)
    first = min(dues, default=None)
    if first is None:
        return
    clock = _Clock(latest=state.latest)
    day = max(first + dt.timedelta(days=1), today - dt.timedelta(days=60))
    while day <= today:
        clock.at(dt.datetime.combine(day, dt.time(7), tzinfo=state.tz))
        state.counts["escalations"] += desk.tickets_escalate(today=day)
        day += dt.timedelta(days=1)
    escalated = Ticket.objects.filter(escalated_at__gte=clock.marks[0][0])
    for pk, stamp in escalated.values_list("pk", "escalated_at"):
        Ticket.objects.filter(pk=pk).update(escalated_at=clock.moved(stamp))
    events = TicketEvent.objects.filter(verb="escalate", created_at__gte=clock.marks[0][0])
    for pk, stamp in events.values_list("pk", "created_at"):
        TicketEvent.objects.filter(pk=pk).update(created_at=clock.moved(stamp))


# --- boards and suggestions ---------------------------------------------------------------------


def _days_ago(state: _State, low: int, high: int) -> dt.datetime:
    day = timezone.localdate(state.latest) - dt.timedelta(days=state.rng.randint(low, high))
    moment = dt.datetime.combine(day, dt.time(9), tzinfo=state.tz)
    return min(moment + dt.timedelta(minutes=state.rng.randint(0, 9 * 60)), state.latest)


def _resident_login(state: _State, community: Org) -> tuple[Any, Person] | None:
    ids = state.people.get(community.pk)
    if not ids:
        return None
    person = Person.objects.select_related("org", "user").get(pk=state.rng.choice(ids))
    return _login(state, person), person


def _office(state: _State, community: Org) -> Any:
    return _handler(state, community)


def _notices(state: _State) -> None:
    """Every column of each community's board: most published, some waiting, one rejected,
    one taken down."""
    rng = state.rng
    for index, community in enumerate(state.ctx.communities):
        office, worker = _office(state, community), state.desk_users[community.pk]
        grid = rng.choice(state.ctx.grids[community.pk])
        posts: list[tuple[Any, Scope, board_services.NoticeInput, str]] = []
        title, body = rng.choice(NOTICES)
        posts.append((office, SYSTEM, _notice(NoticeKind.NOTICE, title, body, community), "pub"))
        resident = _resident_login(state, community)
        if resident is not None:
            user, person = resident
            scope = Scope(user_id=user.pk, person_id=person.pk)
            for kind, fate in ((NoticeKind.GOOD_DEED, "pub"), (NoticeKind.UNCIVIL, "pending")):
                if kind == NoticeKind.GOOD_DEED:
                    title, body = rng.choice(GOOD_DEEDS)
                    place = ""
                else:
                    title, place, body = rng.choice(UNCIVIL)
                    place = _place(state, grid, place)
                data = _notice(kind, title, body, community, place)
                posts.append((user, scope, data, fate if index % 3 else "rejected"))
        title, place, body = rng.choice(UNCIVIL)
        data = _notice(NoticeKind.UNCIVIL, title, body, community, _place(state, grid, place))
        posts.append((office, SYSTEM, data, "pub"))
        title, body = rng.choice(GOOD_DEEDS)
        data = _notice(NoticeKind.GOOD_DEED, title, body, community)
        posts.append((office, SYSTEM, data, "pending"))
        volunteer = (
            Volunteer.objects.select_related("person")
            .filter(org__path__startswith=community.path, status=VolunteerStatus.REGISTERED)
            .order_by("pk")
            .first()
        )
        if volunteer is not None:
            title = f"{volunteer.person.name}：{EXEMPLARY[0]}"
            data = _notice(NoticeKind.EXEMPLARY, title, EXEMPLARY[1], community)
            data.volunteer_id = volunteer.pk
            data.consent_note = "本人书面同意"
            posts.append((office, SYSTEM, data, "pub"))
        if index % 4 == 0:
            title, body = NOTICES[(index // 4) % len(NOTICES)]
            data = _notice(NoticeKind.NOTICE, title, body, community)
            posts.append((office, SYSTEM, data, "withdrawn"))
        for actor, scope, data, fate in posts:
            _post(state, actor, scope, data, fate, worker)


def _notice(
    kind: str, title: str, body: str, community: Org, place: str = ""
) -> board_services.NoticeInput:
    return board_services.NoticeInput(
        kind=kind, title=title, body=body, org_id=community.pk, place=place
    )


def _post(
    state: _State,
    actor: Any,
    scope: Scope,
    data: board_services.NoticeInput,
    fate: str,
    worker: Any,
) -> None:
    try:
        notice = board_services.notice_submit(actor=actor, scope=scope, data=data)
    except Exception as exc:  # e.g. a made-up place that happens to hold a resident's name
        if getattr(exc, "code", None) == "rate_limited" or not hasattr(exc, "message_dict"):
            raise
        state.counts["notices.skipped"] += 1
        return
    created = _days_ago(state, 3, 200) if fate != "pending" else _days_ago(state, 0, 3)
    moderated = created + dt.timedelta(hours=state.rng.randint(2, 40))
    if fate in ("pub", "withdrawn"):
        notice = board_services.notice_moderate(
            actor=worker, scope=SYSTEM, notice=notice, publish=True
        )
    elif fate == "rejected":
        notice = board_services.notice_moderate(
            actor=worker,
            scope=SYSTEM,
            notice=notice,
            publish=False,
            note="内容涉及具体住户，请修改后再投稿。",
        )
    if fate == "withdrawn":
        notice = board_services.notice_withdraw(
            actor=worker, scope=SYSTEM, notice=notice, note="活动已结束"
        )
    moderated = min(moderated, state.latest)
    Notice.objects.filter(pk=notice.pk).update(
        created_at=created,
        consent_at=created if notice.consent_at else None,
        moderated_at=moderated if notice.moderated_at else None,
        published_at=moderated if notice.published_at else None,
    )


def _suggestions(state: _State) -> None:
    """Suggestions from residents, with replies in every status and a few unanswered; the
    demo resident's was adopted."""
    rng = state.rng
    statuses = [*REPLIES, SuggestionStatus.RECEIVED]
    resident_id = state.ctx.people.get("resident")
    for index, community in enumerate(state.ctx.communities):
        worker = state.desk_users[community.pk]
        for number in range(rng.randint(1, 3)):
            author = _resident_login(state, community)
            if index == 0 and number == 0 and resident_id:
                her = Person.objects.select_related("org", "user").get(pk=resident_id)
                author = (her.user, her) if her.user_id else author
            if author is None:
                continue
            user, person = author
            title, body = rng.choice(SUGGESTIONS)
            suggestion = board_services.suggestion_submit(
                actor=user,
                data=board_services.SuggestionInput(
                    title=title,
                    body=body,
                    is_public=rng.random() < 0.7,
                    author_public=rng.random() < 0.3,
                ),
            )
            status = statuses[(index + number) % len(statuses)]
            if person.pk == resident_id:
                status = SuggestionStatus.ADOPTED
            created = _days_ago(state, 5, 300)
            replied = None
            if status != SuggestionStatus.RECEIVED:
                suggestion = board_services.suggestion_reply(
                    actor=worker,
                    scope=SYSTEM,
                    suggestion=suggestion,
                    status=status,
                    reply=REPLIES[status],
                )
                replied = min(created + dt.timedelta(days=rng.randint(1, 10)), state.latest)
            else:
                created = _days_ago(state, 0, 4)
            Suggestion.objects.filter(pk=suggestion.pk).update(
                created_at=created, replied_at=replied
            )


# --- numbering and the end ----------------------------------------------------------------------


def _renumber(state: _State, model: Any, prefix: str, counters: dict[str, int]) -> None:
    """Number the city's rows again by their story year and order (``GD2025000001`` …),
    continuing each year's sequence from where it stood before the step."""
    city = state.ctx.city
    assert city is not None
    rows = list(
        model.objects.filter(org__path__startswith=city.path)
        .order_by("created_at", "pk")
        .only("pk", "number", "created_at")
    )
    if not rows:
        return
    name = "desk.ticket" if prefix == "GD" else "desk.suggestion"
    taken: Counter = Counter()
    renamed: dict[str, str] = {}
    for row in rows:
        year = timezone.localtime(row.created_at, state.tz).year
        taken[year] += 1
        new = f"{prefix}{year}{counters.get(f'{name}.{year}', 0) + taken[year]:06d}"
        renamed[row.number] = new
        row.number = f"T{row.pk}"  # out of the way first: the numbers are unique
    model.objects.bulk_update(rows, ["number"], batch_size=500)
    for row, new in zip(rows, renamed.values(), strict=True):
        row.number = new
    model.objects.bulk_update(rows, ["number"], batch_size=500)
    if model is Ticket:
        _rename_mentions(city, renamed)
    for year, count in taken.items():
        Sequence.objects.update_or_create(
            name=f"{name}.{year}", defaults={"value": counters.get(f"{name}.{year}", 0) + count}
        )


def _rename_mentions(city: Org, renamed: dict[str, str]) -> None:
    """A linked report's result and link note name the original by its number."""
    numbers = re.compile(r"GD\d{10}")

    def swap(text: str) -> str:
        return numbers.sub(lambda m: renamed.get(m.group(), m.group()), text)

    tickets = Ticket.objects.filter(org__path__startswith=city.path)
    for pk, result in tickets.filter(result__contains="GD").values_list("pk", "result"):
        Ticket.objects.filter(pk=pk).update(result=swap(result))
    events = TicketEvent.objects.filter(ticket__in=tickets, note__contains="GD")
    for pk, note in events.values_list("pk", "note"):
        TicketEvent.objects.filter(pk=pk).update(note=swap(note))


def _release(state: _State) -> None:
    """What the transient logins did keeps their label; the residents' logins are taken from
    them (deleted by the ``desk-logins`` reset)."""
    for user_id, label in state.labels.items():
        TicketEvent.objects.filter(actor_id=user_id).update(actor_label=label)
    Person.objects.filter(user_id__in=[u.pk for u in state.logins.values()]).update(user=None)
    state.counts["transient_logins"] = len(state.labels)


def _new_state(ctx: SeedContext) -> _State:
    tz = timezone.get_current_timezone()
    now = timezone.now() - dt.timedelta(seconds=1)
    end_of_today = dt.datetime.combine(ctx.today, dt.time(18, 30), tzinfo=tz)
    state = _State(
        ctx=ctx,
        rng=ctx.rng("desk"),
        tz=tz,
        latest=min(now, end_of_today),
        matters={m.code: m for m in MatterType.objects.filter(org__isnull=True, is_active=True)},
        desk_users={},
        patrols={},
    )
    missing = (set(CIVIC_TEXTS) | set(MATTER_TEXTS)) - set(state.matters)
    if missing:
        raise DemoError(f"事项清单缺少默认事项：{'、'.join(sorted(missing))}（请先运行 migrate）")
    named = {ctx.named["community_a"].pk: "worker-a", ctx.named["community_b"].pk: "worker-b"}
    for community in ctx.communities:
        user = ctx.users.get(named.get(community.pk, ""))
        if user is None:
            user = _transient(state, f"{LOGIN_PREFIX}org-{community.pk}", f"{community.name}服务站")
            state.handlers[community.pk] = user
        state.desk_users[community.pk] = user
    return state


def seed_desk(ctx: SeedContext) -> None:
    assert ctx.city is not None
    audit_from = AuditEntry.objects.aggregate(m=Max("pk"))["m"] or 0
    counters = dict(Sequence.objects.filter(name__startswith="desk.").values_list("name", "value"))
    state = _new_state(ctx)
    with notifications.muted():
        _patrol_teams(state)
        _patrol_login(state)
        _contacts(state)
        street = ctx.named["street_ab"]
        state.app_key, _raw = key_services.appkey_issue(
            actor=None, scope=SYSTEM, org=street, name=APP_NAME
        )
        for plan in _plans(state):
            _run(state, plan)
        _escalations(state)
        _notices(state)
        _suggestions(state)
    _renumber(state, Ticket, "GD", counters)
    _renumber(state, Suggestion, "JY", counters)
    _release(state)
    AuditEntry.objects.filter(pk__gt=audit_from).delete()  # the seed writes one entry
    _count(state)


def _count(state: _State) -> None:
    ctx = state.ctx
    assert ctx.city is not None
    path = ctx.city.path
    tickets = Ticket.objects.filter(org__path__startswith=path)
    c = ctx.counts
    c["desk.tickets"] = tickets.count()
    for status, n in tickets.values_list("status").annotate(n=Count("pk")).order_by():
        c[f"desk.tickets.{status}"] = n
    c["desk.tickets.escalated"] = tickets.filter(escalation_level__gt=0).count()
    c["desk.photos"] = TicketPhoto.objects.filter(ticket__in=tickets).count()
    c["desk.notices"] = Notice.objects.filter(org__path__startswith=path).count()
    c["desk.suggestions"] = Suggestion.objects.filter(org__path__startswith=path).count()
    c["desk.contacts"] = state.counts["contacts"]
    c["desk.patrol_teams"] = state.counts["patrol_teams"]
    ctx.say(
        f"服务台：工单 {c['desk.tickets']} 件（办结 {c['desk.tickets.closed']}，"
        f"待受理 {c['desk.tickets.registered']}，督办 {c['desk.tickets.escalated']}），"
        f"照片 {c['desk.photos']} 张；巡查队 {c['desk.patrol_teams']} 支，"
        f"公开联系人 {c['desk.contacts']} 位；公示 {c['desk.notices']} 条，"
        f"建议 {c['desk.suggestions']} 条"
    )
    if "patrol" in ctx.users:
        username, name = PATROL_LOGIN
        team = state.patrols[ctx.named["community_a"].pk]
        ctx.say(f"巡查队长登录：{username}（{name}，{team.name}），密码同其他演示账号")


def _delete_photos(photos: Any) -> None:
    for name in photos.values_list("image", flat=True):
        if name:
            default_storage.delete(name)
    photos.delete()


def reset_desk(ctx: SeedContext) -> None:
    """Delete the demo city's tickets (and their photo files), boards, suggestions, contacts,
    patrol teams and application keys (the orgs go with the city)."""
    assert ctx.city is not None
    path = ctx.city.path
    tickets = Ticket.objects.filter(org__path__startswith=path)
    _delete_photos(TicketPhoto.objects.filter(ticket__in=tickets))
    TicketEvent.objects.filter(ticket__in=tickets).delete()
    tickets.filter(duplicate_of__isnull=False).update(duplicate_of=None)
    tickets.delete()
    Notice.objects.filter(org__path__startswith=path).delete()
    Suggestion.objects.filter(org__path__startswith=path).delete()
    PublicContact.objects.filter(org__path__startswith=path).delete()
    PatrolTeam.objects.filter(grid__path__startswith=path).delete()
    AppKey.objects.filter(org__path__startswith=path).delete()


def reset_logins(ctx: SeedContext) -> None:
    """The step's logins (and ``patrol``), once the tickets that name them are gone."""
    User.objects.filter(username__startswith=LOGIN_PREFIX).delete()
    User.objects.filter(username=PATROL_LOGIN[0]).delete()


def _no_logins(ctx: SeedContext) -> None:
    """Nothing to seed: the step is here for its ``reset`` (after the later steps' resets)."""


register_step(Step("desk", seed_desk, reset_desk), after="needs")
register_step(Step("desk-logins", _no_logins, reset_logins), after="needs-logins")
