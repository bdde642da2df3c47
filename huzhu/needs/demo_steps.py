"""Demo data for the needs exchange: offers, needs in every state, pairings with visit logs.

Registered as the seed step ``needs`` (after ``timebank``). The seed's ``orgs`` step gives
every community and grid a centre (around the real street offices of 济南); here:

* a share (``OFFER_SHARE``) of the registered adult volunteers publish an offer (供给): the
  need categories their skills fit (or everyday help: 跑腿, 陪伴 …), their availability, a
  place near their grid — written in bulk like the rest of the seed; the demo volunteer
  publishes hers through ``services.offer_save``, and the units of the area (驻区单位) theirs
  through the same service as a worker records them;
* the match profiles are built by ``profiles.profiles_refresh()``;
* about ``NEEDS_PER_BASE`` needs per ``BASE_RESIDENTS`` residents (so ``--scale`` multiplies
  them), over the last ``DAYS_BACK`` days and the coming ten, in every state: posted by
  elderly residents themselves, by workers for them (代发) and by communities (组织发布);
  matched through the ranking (``matching.rank``) and the real services — invitations
  (some declined), 紧急广播 for urgent ones, volunteers offering themselves (自荐) —
  started, marked done, confirmed and rated (so the service records, payments and events
  are real), a few cancelled, two 争议处理中, one dispute sent back and one closed;
* residents who pay in time credits get them from their street's guarantee fund
  (``guarantee_seed`` / ``guarantee_grant``: 保障基金资助); 公益 needs are paid from the
  community pool while it has credits, otherwise not paid at all;
* pairings (结对帮扶) of volunteers — party members flagged — with residents living alone
  (独居/孤寡), created through ``pairing_services.pairing_create``, with a visit log written
  in bulk; some pairs have gone quiet.

**People without a login.** The demo city has logins only for the demo accounts, but the
services act for a person only through their login (a volunteer accepts, offers themselves
and marks done as themselves). So the residents and volunteers who act here get a
transient login (no usable password) for the length of the step and act through the
services; at the end the logins are taken from their persons and switched off, so the
city's people keep exactly the demo logins, and what they did keeps their masked name as
the actor label (``NeedEvent.actor_label``). (Deleting the users there would cost a full
scan of the service records per user; the reset of the ``needs-logins`` step deletes them
once the records are gone.) Each service gets the ``NeedAccess`` the selectors would give
the one acting — built here, where who is who is known, instead of looked up per call.

**Dates.** The services refuse a need that starts in the past, and stamp every row with the
clock. So each need is run through the services now, with a window on the same weekday and
hours as the one of its story (so the ranking sees the same slots) but in the coming weeks;
every call is noted with the moment it happens in the story (``_Story``), and afterwards a
plain UPDATE moves the need, its events, invitations, messages, notifications, service
record, payment transfer and entries to those moments. The guarantee grants are dated
before the needs they pay for. Ledger entries keep their ids (statements list them by id),
so a payment backdated this way lists after the credits posted by the earlier steps.

The audit entries the services write are removed at the end: the seed writes one
``demo.seed`` entry for the whole city. ``ledger.verify()`` must be clean afterwards.

The demo logins: ``resident`` has posted needs herself — one done and rated, one waiting
for her confirmation, one open with a volunteer's offer (自荐) to approve — and is paired
with a helper (a party member where community A has one); ``volunteer`` has published an
offer, has a pending invitation, a need she accepted for the coming days (with messages)
and one she did, and a pair she visits; ``worker-a`` finds open needs (one posted by the
community itself), needs waiting for confirmation, a dispute, and pairs gone quiet.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connections, router
from django.db.models import Case, Count, Max, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from huzhu.activities.models import ServiceRecord
from huzhu.common.bulk import write_rows
from huzhu.common.identity import mask_name
from huzhu.common.models import AuditEntry, Notification
from huzhu.demo.seed import (
    BASE_RESIDENTS,
    DemoError,
    SeedContext,
    Step,
    _near,  # a place near a centre, as the seed places communities and grids
    register_step,
)
from huzhu.needs import matching, pairing_services, services
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    MatchProfile,
    Message,
    Need,
    NeedCategory,
    NeedEvent,
    Offer,
    Pairing,
    Payment,
    Urgency,
    Visit,
)
from huzhu.needs.profiles import profiles_refresh
from huzhu.needs.selectors import NeedAccess
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, ResidenceStatus, Tag
from huzhu.timebank import demo_steps as _timebank  # noqa: F401 (registers "timebank")
from huzhu.timebank import ledger
from huzhu.timebank import services as timebank
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer
from huzhu.volunteers.models import PoliticalStatus, Volunteer, VolunteerStatus

User = get_user_model()

SYSTEM = Scope(user_id=0, is_superuser=True)
OFFER_SHARE = 0.25  # of registered adult volunteers who publish an offer
NEEDS_PER_BASE = 30  # needs over the period per BASE_RESIDENTS residents
DAYS_BACK = 120  # the period the past needs fall in
DAYS_AHEAD = 10  # open and matched needs start within this many days
ELDERLY_AGE = 60
SELF_SHARE = 0.3  # of residents' needs posted by the resident (the rest 代发 by a worker)
ORG_SHARE = 0.08  # of needs posted by the community itself
PAIRED_SHARE = 0.5  # of residents living alone who are paired with a helper
PARTY_SHARE = 0.5  # of pairs whose helper is chosen among party members
QUIET_SHARE = 0.2  # of pairs not visited for longer than their cycle
GRANT_SPARE = 120  # minutes a funded requester keeps beyond what their needs cost
FUND_REASON = "街道助老服务保障基金"
GRANT_REASON = "高龄独居老人助老服务补贴"
LOGIN_PREFIX = "needs-demo-"  # transient logins (see the module docstring)
STORY_HOUR = dt.time(8, 0)  # "now" in the story: 08:00 of the seed's today, as activities
ADULT_AGE = 18
WEEKEND = (1 << 15) | (1 << 16) | (1 << 18) | (1 << 19)  # availability: 周六/周日 上午、下午
EVENINGS = sum(1 << (day * 3 + 2) for day in range(5))  # … and 周一至周五 晚上

# Fates of the apportioned needs and their weights.
FATES = (
    ("done", 60),
    ("cancelled", 8),
    ("awaiting", 6),
    ("in_service", 3),
    ("matched", 9),
    ("open", 14),
)

# (category, title, description, minutes, hour, urgency)
TEMPLATES: tuple[tuple[str, str, str, int, int, str], ...] = (
    ("助餐", "帮忙买菜做午饭", "老伴住院了，我一个人腿脚不方便，想请人帮忙买点菜，做顿午饭。",
     90, 10, Urgency.NORMAL),
    ("助餐", "送午饭上门", "社区长者食堂的午饭想请人帮忙送到家里，我住五楼没有电梯。", 30, 11,
     Urgency.NORMAL),
    ("跑腿代办", "帮忙去医院取药", "高血压的药吃完了，想请人帮忙去社区医院取药。", 60, 9,
     Urgency.SOON),
    ("跑腿代办", "代缴水电费", "不会用手机交费，想请人帮忙到营业厅缴一下水电费。", 45, 14,
     Urgency.NORMAL),
    ("跑腿代办", "取快递送上楼", "孩子给寄了东西，快递放在驿站，我拿不动，麻烦帮忙取一下。", 30,
     16, Urgency.NORMAL),
    ("助洁", "打扫卫生", "想请人帮忙擦擦窗户、拖拖地，家里就我一个人，弯不下腰。", 120, 9,
     Urgency.NORMAL),
    ("助洁", "整理房间", "屋里东西太多，想请人帮忙收拾整理一下，顺便把旧报纸拿下楼。", 120, 14,
     Urgency.NORMAL),
    ("助医陪诊", "陪同去医院复查", "要去省立医院复查，子女在外地，想请人陪我挂号、排队、取报告。",
     180, 8, Urgency.NORMAL),
    ("助医陪诊", "陪同看牙", "约了口腔医院看牙，自己去不放心，想请人陪同。", 150, 9,
     Urgency.NORMAL),
    ("助行出行", "推轮椅下楼晒太阳", "老伴坐轮椅，想请人帮忙推到楼下公园转一转，上下楼要搭把手。",
     60, 15, Urgency.NORMAL),
    ("陪伴关怀", "陪老人聊聊天", "一个人在家很孤单，希望有人来陪我说说话、读读报。", 60, 15,
     Urgency.NORMAL),
    ("家居维修", "厨房水管漏水", "厨房水管漏水了，地上都是水，想请懂水电的志愿者帮忙看看。", 90,
     10, Urgency.URGENT),
    ("家居维修", "换灯泡", "卫生间灯泡坏了，够不着，想请人帮忙换一下。", 30, 16,
     Urgency.NORMAL),
    ("家居维修", "电视没信号", "电视机没信号了，想请人帮忙看看怎么回事。", 60, 14,
     Urgency.NORMAL),
    ("理发", "上门理发", "行动不便出不了门，想请会理发的志愿者上门剪剪头发。", 30, 9,
     Urgency.NORMAL),
    ("智能手机教学", "教我用微信视频", "想学用微信和外地的孩子视频通话，想请人教教我。", 60, 15,
     Urgency.NORMAL),
    ("智能手机教学", "学用手机挂号", "想学会用手机在网上挂号、扫码付款。", 60, 10,
     Urgency.NORMAL),
    ("康复护理", "上门量血压", "血压不稳，想请人上门量一量血压，记一记。", 30, 9, Urgency.NORMAL),
    ("法律咨询", "咨询遗嘱怎么写", "想立个遗嘱，不知道怎么写才有效，想请律师志愿者给讲讲。", 60,
     14, Urgency.NORMAL),
    ("心理疏导", "心里憋闷想找人说说", "老伴去世后晚上总睡不着，心里憋闷，想找人说说话。", 60, 15,
     Urgency.NORMAL),
    ("学业辅导", "辅导孙子数学作业", "孙子上四年级，数学作业我辅导不了，想请志愿者帮忙。", 90, 17,
     Urgency.NORMAL),
)  # fmt: skip
TEMPLATE_WEIGHTS = (8, 5, 9, 4, 4, 6, 3, 6, 2, 3, 6, 3, 4, 2, 3, 4, 2, 3, 1, 1, 1)
# What communities post themselves: (category, title, description, minutes, hour)
ORG_TEMPLATES: tuple[tuple[str, str, str, int, int], ...] = (
    ("助餐", "长者食堂送餐", "社区长者食堂中午为高龄独居老人送餐上门，需要志愿者帮忙分装和送餐。",
     120, 10),
    ("陪伴关怀", "探望高龄独居老人", "社区组织走访辖区高龄独居老人，需要志愿者两人一组上门探望。",
     120, 9),
    ("助洁", "困难老人家庭大扫除", "为辖区困难老人家庭开展大扫除，需要志愿者帮忙擦窗、拖地。",
     180, 9),
    ("智能手机教学", "老年人智能手机课堂助教",
     "社区开设老年人智能手机培训班，需要志愿者一对一辅导老人使用手机。", 120, 14),
)  # fmt: skip

OFFER_TEXT = {
    "助餐": ("帮忙做饭、送餐", "会做家常菜，可以帮忙买菜做饭或把饭送到家。"),
    "跑腿代办": ("帮忙买菜、取药、取快递", "住得近，可以帮忙跑腿代办。"),
    "助洁": ("上门打扫卫生", "可以帮忙打扫、整理房间。"),
    "助浴": ("协助老人洗澡", "有护理经验，可以协助行动不便的老人洗澡。"),
    "助医陪诊": ("陪同就医", "可以陪同去医院挂号、排队、取药。"),
    "助行出行": ("推轮椅、陪同出行", "可以帮忙推轮椅、搀扶上下楼。"),
    "陪伴关怀": ("陪老人聊天、读报", "喜欢和老人聊天，可以定期上门陪伴。"),
    "家居维修": ("修水管、换灯泡、修小家电", "懂水电，家里的小修小补可以帮忙。"),
    "理发": ("上门理发", "会理发，可以为行动不便的老人上门理发。"),
    "法律咨询": ("法律咨询", "从事法律工作，可以解答遗嘱、赡养、合同等问题。"),
    "心理疏导": ("倾听与心理疏导", "学过心理咨询，可以陪伴倾听、疏导情绪。"),
    "学业辅导": ("辅导中小学生功课", "可以辅导小学、初中的作业。"),
    "智能手机教学": ("教老人用智能手机", "可以教老人用微信视频、手机挂号和扫码支付。"),
    "康复护理": ("量血压、换药等护理", "有护理经验，可以上门量血压、血糖。"),
    "其他帮助": ("力所能及的帮助", "有需要可以找我。"),
}
EVERYDAY = {"跑腿代办": 5, "陪伴关怀": 5, "助餐": 3, "助行出行": 2, "助洁": 2, "智能手机教学": 2}
# Units of the area and what they offer (by a word of their name).
UNIT_OFFERS = (
    ("医院", ("助医陪诊", "康复护理"), "医护志愿服务",
     "每月第一个周六上门为行动不便的老人量血压、换药。"),
    ("学", ("学业辅导",), "课业辅导", "教师志愿者周末为辖区中小学生辅导功课。"),
    ("派出所", ("法律咨询",), "防诈骗与法律咨询", "民警志愿者解答防诈骗和治安问题。"),
    ("银行", ("智能手机教学",), "教老人用手机支付", "网点员工教老人使用手机银行，识别诈骗。"),
    ("书店", ("陪伴关怀",), "读书读报", "志愿者为老人读书读报。"),
    ("图书馆", ("陪伴关怀", "学业辅导"), "读书陪伴", "馆员志愿者为老人读报、为孩子辅导阅读。"),
    ("公交", ("助行出行",), "助老出行", "为行动不便的老人提供出行协助。"),
    ("移动", ("智能手机教学",), "手机使用培训", "营业厅员工教老人使用智能手机。"),
    ("菜市场", ("助餐", "跑腿代办"), "送菜上门", "为高龄老人送菜上门。"),
)  # fmt: skip

VOLUNTEER_LINES = (
    "您好，我是来帮忙的志愿者，到时候准时过去。",
    "阿姨您好，我大概提前十分钟到楼下。",
    "我已经出发了，路上有点堵，晚到五分钟。",
    "东西已经买好了，马上送过去。",
    "有事给我打电话 13905316688。",  # typed by a volunteer; the thread hides the number
)
REQUESTER_LINES = ("好的，谢谢你！", "我在家等你，门铃坏了，到了敲门就行。", "辛苦了，路上慢点。")
WORKER_LINES = (
    "老人耳朵不太好，敲门声音大一点。",
    "已和老人电话确认了时间。",
    "老人家里养了只狗，不咬人，别害怕。",
)
DECLINE_REPLIES = ("这几天不在济南，抱歉。", "那个时间要上班，去不了。", "")
DONE_NOTES = ("已完成，老人很满意。", "顺便帮忙倒了垃圾。", "", "")
RATINGS = ((5, 60), (4, 28), (3, 8), (2, 3), (1, 1))
COMMENTS = {
    5: ("小伙子很热情，谢谢！", "非常满意，下次还找她。", "准时到，干活仔细。", ""),
    4: ("挺好的，谢谢。", "来得稍微晚了点，其他都好。", ""),
    3: ("还行。", ""),
    2: ("时间比说好的晚了很多。",),
    1: ("没怎么帮上忙。",),
}
CONSENTS = ("本人电话同意", "本人当面同意", "本人电话同意，由工作人员代为确认")
CANCEL_REASONS = ("老人身体不适，改天再约", "家属已经回来了，不需要了", "子女已经安排好了")
NOBODY_REASON = "附近暂无合适的志愿者，已转介社区合作家政服务"
MATCHED_CANCEL = ("老人临时住院，服务取消", "时间冲突，改期另约")
DISPUTES = (
    ("志愿者只待了半小时，不是两个小时", "已与志愿者核实，请补足服务并如实填写时长。"),
    ("药没有取回来", "经核实药房缺货，未实际完成服务，不计时长。"),
)
PAIR_PURPOSES = (
    "定期上门探望，帮助解决生活中的困难",
    "每周电话问候，每月上门走访，关注身体状况",
    "帮助代购代办，陪伴聊天，检查家中安全",
)
VISIT_DONE = (
    "上门探望，陪老人聊天",
    "帮忙打扫卫生、倒垃圾",
    "陪同到社区卫生服务站量血压",
    "帮忙买菜、买药",
    "检查家中水电燃气安全",
    "帮老人缴纳水电费",
    "读报，讲解社区新政策",
    "帮忙更换灯泡、修理门锁",
)
VISIT_CONCERNS = (
    "腿疼，下楼困难",
    "想办理高龄补贴",
    "希望社区组织免费体检",
    "子女很少回来，有些孤单",
    "冬天暖气不太热",
)


# --- the story of one need --------------------------------------------------------------------


@dataclass
class _Story:
    """When each service call of a need's run happens in the story: the real moment the call
    began, and the story's moment for it. A row the call wrote (stamped by the clock) is
    moved to the moment of the call it came from."""

    latest: dt.datetime  # nothing in the story happens after this
    tz: Any
    rng: random.Random
    deadline: dt.datetime | None = None  # what comes before the service happens before this
    marks: list[tuple[dt.datetime, dt.datetime]] = field(default_factory=list)

    @property
    def began(self) -> dt.datetime:
        return self.marks[0][0]

    @property
    def last(self) -> dt.datetime:
        return self.marks[-1][1]

    def at(self, when: dt.datetime, *, awake: bool = True) -> None:
        """The next call happens ``when`` — or, at night, the next morning (unless that is
        too late for the service, or ``awake`` is False: the service itself)."""
        if awake:
            local = timezone.localtime(when, self.tz)
            if local.hour >= 21 or local.hour < 7:
                day = local.date() + dt.timedelta(days=1 if local.hour >= 21 else 0)
                morning = dt.datetime.combine(day, dt.time(7, 30), tzinfo=self.tz)
                morning += dt.timedelta(minutes=self.rng.randint(0, 90))
                if self.deadline is None or morning < self.deadline:
                    when = morning
        when = min(when, self.latest).replace(microsecond=0)
        if self.marks and when < self.last:
            when = self.last
        self.marks.append((timezone.now(), when))

    def moved(self, stamp: dt.datetime | None) -> dt.datetime | None:
        if stamp is None or not self.marks or stamp < self.began:
            return stamp
        reals = [real for real, _story in self.marks]
        return self.marks[bisect.bisect_right(reals, stamp) - 1][1]


@dataclass
class _Plan:
    community: Org
    fate: str
    requester: Person | None
    channel: str  # "self", "worker" or "org"
    category: NeedCategory
    title: str
    description: str
    minutes: int
    actual: int
    urgency: str
    payment: str
    starts_at: dt.datetime  # in the story
    ends_at: dt.datetime
    posted_at: dt.datetime
    place: tuple[float, float]
    address: str
    mode: str = "invite"  # how it is matched: invite, broadcast, apply
    volunteer_id: int | None = None  # a fixed volunteer (the demo logins' needs)
    note: str = ""  # one of the demo logins' needs: its rating and first line are fixed


@dataclass
class _State:
    ctx: SeedContext
    rng: random.Random
    tz: Any
    now: dt.datetime  # in the story
    began: dt.datetime  # real clock at the start of the step
    categories: dict[str, NeedCategory]
    workers: dict[int, Any]  # community id → worker user
    residence: dict[int, int]  # org id → community id (communities and grids)
    street_of: dict[int, Org]  # community id → street
    places: dict[int, tuple[float, float]]  # org id → centre
    demo_volunteer: Volunteer | None = None
    demo_resident: Person | None = None
    logins: dict[int, Any] = field(default_factory=dict)  # person id → transient user
    labels: dict[int, str] = field(default_factory=dict)  # transient user id → label
    password: str = ""
    pools: dict[int, int] = field(default_factory=dict)  # community id → pool credits left
    scopes: dict[int, Scope] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # org id → name
    communities: dict[int, Org] = field(default_factory=dict)
    ranked: dict[int, list[Volunteer]] = field(default_factory=dict)  # the last need's


# --- helpers ----------------------------------------------------------------------------------


def _at(state: _State, day: dt.date, hour: float) -> dt.datetime:
    start = dt.datetime.combine(day, dt.time(), tzinfo=state.tz)
    return start + dt.timedelta(minutes=round(hour * 60))


def _daytime(state: _State, when: dt.datetime) -> dt.datetime:
    """The same moment if people are up (08:00–20:30), else the nearest such moment."""
    local = timezone.localtime(when, state.tz)
    if local.hour < 8:
        return _at(state, local.date(), 8 + state.rng.uniform(0, 1.5))
    if local.hour * 60 + local.minute > 20 * 60 + 30:
        return _at(state, local.date(), 19 + state.rng.uniform(0, 1.5))
    return when


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def _login(state: _State, person: Person) -> Any:
    """The person's login: their own, or a transient one for this step (module docstring)."""
    if person.user_id:
        return person.user
    user = state.logins.get(person.pk)
    if user is None:
        if not state.password:
            state.password = make_password(None)  # unusable: nobody signs in with it
        user = User.objects.create(
            username=f"{LOGIN_PREFIX}{person.pk}", first_name=person.name, password=state.password
        )
        person.user = user
        person.save(update_fields=["user"])
        state.logins[person.pk] = user
        state.labels[user.pk] = mask_name(person.name)
    return user


def _release_logins(state: _State) -> None:
    """The transient logins' actions keep the person's masked name; the logins are taken
    from their persons and switched off (and their notifications dropped). They are not
    deleted here: deleting a user makes the database look in every table that refers to
    users, row by row — a full scan of the service records for each one — so ``reset``
    deletes them once those tables are empty (the ``needs-logins`` step)."""
    ids = list(state.labels)
    if not ids:
        return
    events = list(NeedEvent.objects.filter(actor_id__in=ids).only("pk", "actor_id"))
    for event in events:
        event.actor_label = state.labels[event.actor_id]
    _set(NeedEvent, events, ("actor_label",))
    Notification.objects.filter(user_id__in=ids).delete()
    Person.objects.filter(user_id__in=ids).update(user=None)
    User.objects.filter(pk__in=ids).update(is_active=False)
    state.ctx.counts["needs.transient_logins"] = len(ids)


def _scope(state: _State, user: Any) -> Scope:
    if user is None:
        return SYSTEM
    scope = state.scopes.get(user.pk)
    if scope is None:
        scope = Scope.for_user(user)
        state.scopes[user.pk] = scope
    return scope


def _worker(state: _State, community: Org) -> tuple[Any, Any]:
    """(actor, user) of the community's worker: the demo login where there is one, else
    the community's office by name (acting with the seed's system scope)."""
    user = state.workers.get(community.pk)
    if user is not None:
        return user, user
    return f"{community.name}工作人员", None


def _as_worker(need: Need) -> NeedAccess:
    """What ``need_access`` gives a worker over the need's org (or the seed's system scope):
    built here, where who is who is known, rather than looked up for every call."""
    return NeedAccess(need=need, is_worker=True, can_view_scope=True)


def _as_requester(need: Need) -> NeedAccess:
    return NeedAccess(need=need, is_requester=True)


def _as_volunteer(need: Need) -> NeedAccess:
    return NeedAccess(need=need, is_volunteer=True)


# --- coordinates and offers -------------------------------------------------------------------


def _orgs(ctx: SeedContext) -> tuple[dict[int, int], dict[int, Org], dict[int, tuple]]:
    residence: dict[int, int] = {}
    street_of: dict[int, Org] = {}
    places: dict[int, tuple[float, float]] = {}
    streets = {s.pk: s for s in ctx.streets}
    for community in ctx.communities:
        residence[community.pk] = community.pk
        if community.parent_id in streets:
            street_of[community.pk] = streets[community.parent_id]
        for grid in ctx.grids.get(community.pk, []):
            residence[grid.pk] = community.pk
    rows = Org.objects.filter(pk__in=list(residence)).values_list("pk", "latitude", "longitude")
    for pk, lat, lng in rows:
        if lat is not None and lng is not None:
            places[pk] = (lat, lng)
    for org_id, community_id in residence.items():
        if org_id not in places and community_id in places:
            places[org_id] = places[community_id]
    return residence, street_of, places


def _offer_categories(
    rng: random.Random, skills: set[int], by_skill: dict[int, set[str]], age: int
) -> list[str]:
    chosen: list[str] = []
    for skill in sorted(skills):
        for name in sorted(by_skill.get(skill, ())):
            if name not in chosen:
                chosen.append(name)
    rng.shuffle(chosen)
    chosen = chosen[:2]
    everyday = dict(EVERYDAY)
    if age >= 45:
        everyday["智能手机教学"] = 1
    while len(chosen) < rng.choice((1, 2, 2, 3)):
        name = _weighted(rng, [(k, v) for k, v in everyday.items() if k not in chosen])
        chosen.append(name)
    return chosen


def _offers(state: _State) -> None:
    """A share of the registered adult volunteers publish an offer (bulk, like the rest of
    the seed); the demo volunteer and the units through ``offer_save``."""
    ctx, rng = state.ctx, state.rng
    adult_by = dt.date(ctx.today.year - ADULT_AGE, ctx.today.month, min(ctx.today.day, 28))
    volunteers = list(
        Volunteer.objects.filter(
            org_id__in=list(state.residence),
            status=VolunteerStatus.REGISTERED,
            person__birth_date__lte=adult_by,
        )
        .order_by("pk")
        .values_list("pk", "org_id", "availability", "person__birth_date")
    )
    demo = state.demo_volunteer
    chosen = [
        v for v in volunteers if rng.random() < OFFER_SHARE and (demo is None or v[0] != demo.pk)
    ]
    skills: dict[int, set[int]] = defaultdict(set)
    through = Volunteer.skills.through.objects.filter(volunteer_id__in=[v[0] for v in chosen])
    for volunteer_id, skill_id in through.values_list("volunteer_id", "skill_id"):
        skills[volunteer_id].add(skill_id)
    by_skill: dict[int, set[str]] = defaultdict(set)
    for name, skill_id in NeedCategory.skills.through.objects.values_list(
        "needcategory__name", "skill_id"
    ):
        by_skill[skill_id].add(name)
    rows, links = [], []
    for volunteer_id, org_id, availability, born in chosen:
        age = ctx.today.year - born.year
        names = _offer_categories(rng, skills[volunteer_id], by_skill, age)
        names = [n for n in names if n in state.categories]
        if not names:
            continue
        title = "、".join(OFFER_TEXT[n][0] for n in names[:2])
        mask = availability or rng.choice((WEEKEND, WEEKEND | EVENINGS, EVENINGS))
        lat, lng = _near(rng, state.places.get(org_id, (36.66, 117.02)), 0.4)
        made = _at(state, ctx.today - dt.timedelta(days=rng.randint(5, 300)), rng.uniform(8, 21))
        rows.append(
            (
                org_id,
                volunteer_id,
                title[:60],
                OFFER_TEXT[names[0]][1],
                mask,
                f"{_org_name(state, org_id)}及周边",
                lat,
                lng,
                rng.random() < 0.95,
                None,
                made,
                made,
            )
        )
        links.append([state.categories[n].pk for n in names])
    columns = (
        "org_id", "volunteer_id", "title", "description", "availability", "address",
        "latitude", "longitude", "is_active", "created_by_id", "created_at", "updated_at",
    )  # fmt: skip
    ids = write_rows(Offer, columns, rows, returning=True)
    through_rows = [
        (offer_id, category_id)
        for offer_id, category_ids in zip(ids, links, strict=True)
        for category_id in category_ids
    ]
    write_rows(Offer.categories.through, ("offer_id", "needcategory_id"), through_rows)
    ctx.counts["needs.offers"] += len(rows)
    if demo is not None:
        _demo_offer(state, demo)
    _unit_offers(state)


def _org_name(state: _State, org_id: int) -> str:
    if not state.names:
        state.names.update(
            Org.objects.filter(pk__in=list(state.residence)).values_list("pk", "name")
        )
    return state.names.get(org_id, "")


def _demo_offer(state: _State, volunteer: Volunteer) -> None:
    user = volunteer.person.user
    place = _near(state.rng, state.places.get(volunteer.org_id, (36.66, 117.02)), 0.2)
    offer = services.offer_save(
        actor=user,
        volunteer=volunteer,
        data=services.OfferInput(
            title="周末帮忙买菜、陪老人聊天",
            category_ids=[state.categories[n].pk for n in ("跑腿代办", "陪伴关怀")],
            description="周末有空，可以帮邻居老人跑腿代购、陪着说说话。",
            availability=volunteer.availability or WEEKEND,
            address=f"{_org_name(state, volunteer.org_id)}及周边",
            latitude=place[0],
            longitude=place[1],
        ),
    )
    _date_offer(state, offer, 40)
    state.ctx.counts["needs.offers"] += 1


def _unit_offers(state: _State) -> None:
    assert state.ctx.city is not None
    units = Org.objects.filter(kind=OrgKind.UNIT, path__startswith=state.ctx.city.path).order_by(
        "pk"
    )
    for unit in units:
        spec = next((u for u in UNIT_OFFERS if u[0] in unit.name), None)
        if spec is None:
            continue
        _word, names, title, description = spec
        community = state.communities.get(unit.parent_id or 0)
        if community is None:
            continue
        actor, user = _worker(state, community)
        community_id = community.pk
        place = state.places.get(community_id)
        offer = services.offer_save(
            actor=actor,
            org=unit,
            scope=_scope(state, user),
            data=services.OfferInput(
                title=title,
                category_ids=[state.categories[n].pk for n in names if n in state.categories],
                description=description,
                availability=WEEKEND,
                address=unit.address or unit.name,
                latitude=place[0] if place else None,
                longitude=place[1] if place else None,
            ),
        )
        _date_offer(state, offer, 90)
        state.ctx.counts["needs.unit_offers"] += 1


def _date_offer(state: _State, offer: Offer, days: int) -> None:
    """An offer published through the service some days before the seed's today."""
    when = _at(state, state.ctx.today - dt.timedelta(days=days), 10)
    Offer.objects.filter(pk=offer.pk).update(created_at=when, updated_at=when)


# --- planning the needs -----------------------------------------------------------------------


@dataclass
class _Elder:
    pk: int
    org_id: int
    community_id: int
    age: int
    tags: set[str]

    @property
    def weight(self) -> float:
        if self.tags & {"独居老人", "孤寡老人", "失能半失能"}:
            return 3.0
        if self.tags & {"空巢老人", "高龄老人"}:
            return 2.0
        return 1.0

    @property
    def poor(self) -> bool:
        return bool(self.tags & {"特困供养", "低保", "孤寡老人"})


def _elders(state: _State) -> dict[int, list[_Elder]]:
    """The residents aged 60 and over of each community, with their tags."""
    ctx = state.ctx
    cutoff = dt.date(ctx.today.year - ELDERLY_AGE, ctx.today.month, min(ctx.today.day, 28))
    rows = (
        Person.objects.filter(
            org_id__in=list(state.residence),
            birth_date__lte=cutoff,
            status=ResidenceStatus.ACTIVE,
        )
        .order_by("pk")
        .values_list("pk", "org_id", "birth_date")
    )
    elders = {
        pk: _Elder(pk, org_id, state.residence[org_id], ctx.today.year - born.year, set())
        for pk, org_id, born in rows
    }
    names = dict(Tag.objects.values_list("pk", "name"))
    links = Person.tags.through.objects.filter(person__in=list(elders)) if elders else []
    for person_id, tag_id in links.values_list("person_id", "tag_id") if elders else []:
        elders[person_id].tags.add(names[tag_id])
    by_community: dict[int, list[_Elder]] = defaultdict(list)
    for elder in elders.values():
        by_community[elder.community_id].append(elder)
    return by_community


def _apportion(total: int, weights: dict[int, float]) -> dict[int, int]:
    """Integers in proportion to ``weights`` adding up to ``total`` (largest remainder)."""
    mass = sum(weights.values())
    if total <= 0 or mass <= 0:
        return {k: 0 for k in weights}
    shares = {k: total * w / mass for k, w in weights.items()}
    result = {k: int(v) for k, v in shares.items()}
    for key in sorted(shares, key=lambda k: (result[k] - shares[k], k))[
        : total - sum(result.values())
    ]:
        result[key] += 1
    return result


def _window(
    state: _State, fate: str, hour: int, minutes: int
) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(starts_at, ends_at, posted_at) in the story for a need of this fate."""
    rng, today = state.rng, state.ctx.today
    if fate in ("done", "cancelled"):
        day = today - dt.timedelta(days=rng.randint(4, DAYS_BACK))
    elif fate == "awaiting":
        day = today - dt.timedelta(days=rng.randint(1, 3))
    elif fate == "in_service":
        day, hour = today, 7
    elif fate == "disputed":
        day = today - dt.timedelta(days=rng.randint(3, 8))
    elif fate in ("dispute_returned", "dispute_closed"):
        day = today - dt.timedelta(days=rng.randint(15, 40))
    else:  # matched, open: the coming days
        day = today + dt.timedelta(days=rng.randint(1, DAYS_AHEAD))
    starts = _at(state, day, hour)
    length = max(120, math.ceil((minutes + 60) / 60) * 60)
    ends = starts + dt.timedelta(minutes=length)
    if _ahead(fate):
        posted = state.now - dt.timedelta(hours=rng.uniform(12, 72))
    else:
        posted = starts - dt.timedelta(hours=rng.uniform(20, 120))
    return starts, ends, posted


def _ahead(fate: str) -> bool:
    """The need starts in the coming days (posted lately)."""
    return fate == "matched" or fate.startswith("open")


def _payment(state: _State, fate: str, elder: _Elder | None, minutes: int, community: Org) -> str:
    """Who pays: the resident in credits, or 公益 — from the pool while it has the credits
    for every pool-paid need that is done or may still be confirmed."""
    rng = state.rng
    wanted = (
        Payment.POOL
        if elder is None or elder.poor
        else _weighted(rng, ((Payment.REQUESTER, 75), (Payment.POOL, 15), (Payment.NONE, 10)))
    )
    if wanted == Payment.POOL and fate != "cancelled":
        left = state.pools.get(community.pk, 0)
        if left < minutes:
            return Payment.NONE
        state.pools[community.pk] = left - minutes
    return wanted


def _plan(
    state: _State,
    community: Org,
    fate: str,
    elder: _Elder | None,
    persons: dict[int, Person],
    *,
    template: tuple | None = None,
    channel: str | None = None,
    payment: str | None = None,
    day_offset: int | None = None,
    note: str = "",
    volunteer_id: int | None = None,
) -> _Plan:
    rng = state.rng
    if elder is None:
        category, title, description, minutes, hour = template or rng.choice(ORG_TEMPLATES)
        urgency = Urgency.NORMAL
        channel = "org"
    else:
        category, title, description, minutes, hour, urgency = (
            template or rng.choices(TEMPLATES, TEMPLATE_WEIGHTS)[0]
        )
        if channel is None:
            channel = "self" if rng.random() < SELF_SHARE and elder.age < 85 else "worker"
    starts, ends, posted = _window(state, fate, hour, minutes)
    if day_offset is not None:
        delta = _at(state, state.ctx.today + dt.timedelta(days=day_offset), hour) - starts
        starts, ends, posted = starts + delta, ends + delta, posted + delta
        if day_offset > 0:
            posted = state.now - dt.timedelta(hours=rng.uniform(12, 40))
    if urgency == Urgency.URGENT and not _ahead(fate):
        posted = starts - dt.timedelta(hours=rng.uniform(2, 5))
    elif urgency != Urgency.NORMAL and _ahead(fate) and day_offset is None:
        # What is urgent (or 较急) and still waiting is for tomorrow (or the next days).
        days = 1 if urgency == Urgency.URGENT else rng.randint(1, 3)
        delta = _at(state, state.ctx.today + dt.timedelta(days=days), hour) - starts
        starts, ends = starts + delta, ends + delta
        posted = state.now - dt.timedelta(hours=rng.uniform(2, 16))
    actual = max(15, round(minutes * rng.uniform(0.8, 1.4) / 15) * 15)
    person = persons.get(elder.pk) if elder is not None else None
    if person is not None:
        place = _near(rng, state.places.get(person.org_id, (36.66, 117.02)), 0.25)
        address = person.address or _org_name(state, person.org_id)
    else:
        place = _near(rng, state.places.get(community.pk, (36.66, 117.02)), 0.1)
        address = f"{community.name}党群服务中心"
    return _Plan(
        community=community,
        fate=fate,
        requester=person,
        channel=channel,
        category=state.categories[category],
        title=title,
        description=description,
        minutes=minutes,
        actual=actual,
        urgency=urgency,
        payment=payment or _payment(state, fate, elder, actual, community),
        starts_at=starts,
        ends_at=ends,
        posted_at=min(_daytime(state, posted), state.now, starts),
        place=place,
        address=address,
        mode=_weighted(rng, (("invite", 55), ("apply", 45)))
        if urgency == Urgency.NORMAL
        else "broadcast",
        volunteer_id=volunteer_id,
        note=note,
    )


def _plans(state: _State) -> list[_Plan]:
    """Every need of the city: the apportioned ones, then the fixed ones of the demo logins
    and the disputes (in communities A and B)."""
    ctx, rng = state.ctx, state.rng
    elders = _elders(state)
    demo_resident = state.demo_resident.pk if state.demo_resident else None
    total = round(NEEDS_PER_BASE * ctx.total_residents / BASE_RESIDENTS)
    counts = _apportion(total, {c.pk: len(elders.get(c.pk, [])) for c in ctx.communities})
    chosen: list[tuple[Org, str, _Elder | None]] = []
    for community in ctx.communities:
        pool = [e for e in elders.get(community.pk, []) if e.pk != demo_resident]
        for _n in range(counts.get(community.pk, 0)):
            fate = _weighted(rng, FATES)
            if not pool or rng.random() < ORG_SHARE:
                chosen.append((community, fate, None))
            else:
                chosen.append((community, fate, rng.choices(pool, [e.weight for e in pool])[0]))
    fixed = _fixed(state, elders)
    wanted = {e.pk for _c, _f, e in chosen if e} | {e.pk for _c, _f, e, _kw in fixed if e}
    persons = Person.objects.select_related("user", "org").in_bulk(list(wanted))
    plans = [_plan(state, c, f, e, persons) for c, f, e in chosen]
    plans += [_plan(state, c, f, e, persons, **kw) for c, f, e, kw in fixed]
    plans.sort(key=lambda p: (p.posted_at, p.starts_at))
    return plans


def _fixed(state: _State, elders: dict[int, list[_Elder]]) -> list[tuple]:
    """The needs the demo logins find, the disputes (in communities A and B) and one need in
    service this morning: every state whatever the number of residents."""
    named = state.ctx.named
    a, b = named.get("community_a"), named.get("community_b")
    fixed: list[tuple] = []
    resident = state.demo_resident
    by_template = {t[1]: t for t in TEMPLATES}
    if a is not None and resident is not None:
        me = next((e for e in elders.get(a.pk, []) if e.pk == resident.pk), None)
        if me is not None:
            own = {"channel": "self", "payment": Payment.REQUESTER}
            fixed += [
                (a, "done", me, {**own, "template": by_template["帮忙去医院取药"],
                                 "day_offset": -18, "note": "resident_done"}),
                (a, "awaiting", me, {**own, "template": by_template["打扫卫生"],
                                     "day_offset": -1, "note": "resident_awaiting"}),
                (a, "open_applied", me, {**own, "template": by_template["代缴水电费"],
                                         "day_offset": 3, "note": "resident_open"}),
            ]  # fmt: skip
        # Community A asks for help itself, for its canteen's deliveries next week.
        fixed.append((a, "open_invited", None, {"template": ORG_TEMPLATES[0], "day_offset": 5}))
    volunteer = state.demo_volunteer
    errand, hospital = by_template["帮忙去医院取药"], by_template["陪同去医院复查"]
    for community, fates in (
        (a, (("disputed", errand), ("dispute_returned", errand), ("in_service", hospital))),
        (b, (("disputed", errand), ("dispute_closed", errand))),
    ):
        if community is None:
            continue
        pool = [e for e in elders.get(community.pk, []) if resident is None or e.pk != resident.pk]
        if not pool:
            continue
        for fate, template in fates:
            fixed.append(
                (community, fate, state.rng.choice(pool),
                 {"channel": "worker", "template": template, "payment": Payment.REQUESTER,
                  "note": f"{fate}_{community.pk}"})
            )  # fmt: skip
        if community is a and volunteer is not None:
            for fate, offset, title in (
                ("done", -9, "陪老人聊聊天"),
                ("matched", 2, "帮忙买菜做午饭"),
                ("open_invited", 4, "取快递送上楼"),
            ):
                fixed.append(
                    (a, fate, state.rng.choice(pool),
                     {"channel": "worker", "template": by_template[title],
                      "day_offset": offset, "note": f"volunteer_{fate}",
                      "volunteer_id": volunteer.pk, "payment": Payment.NONE})
                )  # fmt: skip
    return fixed


# --- credits for those who pay ----------------------------------------------------------------


def _date_transfer(transfer_id: int, when: dt.datetime) -> None:
    Transfer.objects.filter(pk=transfer_id).update(created_at=when)
    Entry.objects.filter(transfer_id=transfer_id).update(created_at=when)


def _fund(state: _State, plans: list[_Plan]) -> None:
    """Residents who pay in credits get what their needs cost (and a little more) from their
    street's guarantee fund, which the street seeds first (保障基金) — before the period."""
    ctx, rng = state.ctx, state.rng
    wanted: dict[int, int] = defaultdict(int)
    persons: dict[int, Person] = {}
    for plan in plans:
        if plan.payment == Payment.REQUESTER and plan.requester is not None:
            wanted[plan.requester.pk] += max(plan.minutes, plan.actual)
            persons[plan.requester.pk] = plan.requester
    balances = dict(
        Account.objects.filter(person_id__in=list(wanted), kind=AccountKind.PERSON).values_list(
            "person_id", "balance"
        )
    )
    by_fund: dict[int, list[tuple[Person, int]]] = defaultdict(list)
    funds: dict[int, Org] = {}
    for person_id in sorted(wanted):
        lack = wanted[person_id] + GRANT_SPARE - balances.get(person_id, 0)
        if lack <= 0:
            continue
        person = persons[person_id]
        community_id = state.residence[person.org_id]
        fund = state.street_of.get(community_id) or state.communities[community_id]
        funds[fund.pk] = fund
        by_fund[fund.pk].append((person, math.ceil(lack / 60) * 60))
    seeded = _at(state, ctx.today - dt.timedelta(days=DAYS_BACK + 30), 10)
    for fund_id, grants in by_fund.items():
        fund = funds[fund_id]
        total = sum(m for _p, m in grants)
        seed = timebank.guarantee_seed(
            actor=None, scope=SYSTEM, org=fund, minutes=total, reason=FUND_REASON
        )
        _date_transfer(seed.pk, seeded)
        for person, minutes in grants:
            grant = timebank.guarantee_grant(
                actor=None, scope=SYSTEM, org=fund, person=person, minutes=minutes,
                reason=GRANT_REASON,
            )  # fmt: skip
            days = rng.randint(DAYS_BACK + 5, DAYS_BACK + 25)
            _date_transfer(grant.pk, _at(state, ctx.today - dt.timedelta(days=days), 10))
            ctx.counts["needs.grants"] += 1


# --- running a need through the services ------------------------------------------------------


WEEK = dt.timedelta(days=7)


def _real_window(plan: _Plan) -> tuple[dt.datetime, dt.datetime]:
    """The story's window moved on by whole weeks into the coming days: the services accept
    it, and the ranking sees the same weekday and hours."""
    weeks = max(0, math.ceil((timezone.now() + dt.timedelta(days=1) - plan.starts_at) / WEEK))
    return plan.starts_at + weeks * WEEK, plan.ends_at + weeks * WEEK


def _post(state: _State, plan: _Plan, story: _Story) -> Need:
    starts, ends = _real_window(plan)
    data = services.NeedInput(
        description=plan.description,
        address=plan.address,
        starts_at=starts,
        ends_at=ends,
        category=plan.category,
        title=plan.title,
        urgency=plan.urgency,
        payment=plan.payment,
        minutes=plan.minutes,
        latitude=plan.place[0],
        longitude=plan.place[1],
    )
    story.at(plan.posted_at)
    if plan.channel == "self":
        user = _login(state, plan.requester)  # type: ignore[arg-type]
        return services.need_create(
            actor=user, scope=Scope(user_id=user.pk), data=data, requester=plan.requester
        )
    actor, user = _worker(state, plan.community)
    return services.need_create(
        actor=actor,
        scope=_scope(state, user),
        data=data,
        requester=plan.requester,
        org=None if plan.requester is not None else plan.community,
    )


@dataclass
class _Parties:
    """Who acts on one need: the one who asks (the resident posting themselves, or the
    worker) and the worker, as (actor, user)."""

    poster: tuple[Any, Any]
    worker: tuple[Any, Any]

    @property
    def by_resident(self) -> bool:
        return self.poster is not self.worker

    def access(self, need: Need, *, worker: bool = False) -> NeedAccess:
        return _as_worker(need) if worker or not self.by_resident else _as_requester(need)


def _candidates(state: _State, plan: _Plan, need: Need) -> list[Volunteer]:
    """The ranking's best volunteers for the need (the demo volunteer only where the plan
    names her), ranked once per need."""
    if need.pk in state.ranked:
        return state.ranked[need.pk]
    excluded = {state.demo_volunteer.pk} if state.demo_volunteer else set()
    ranked = [
        c.volunteer_id for c in matching.rank(need, limit=8) if c.volunteer_id not in excluded
    ]
    found = Volunteer.objects.select_related("person__user").in_bulk(ranked)
    state.ranked = {need.pk: [found[pk] for pk in ranked if pk in found]}
    return state.ranked[need.pk]


def _may_apply(state: _State, volunteer: Volunteer, need: Need) -> bool:
    """The need is on the volunteer's board (their street)."""
    community_id = state.residence.get(volunteer.org_id)
    root = state.street_of.get(community_id) or state.communities.get(community_id)  # type: ignore[arg-type]
    return root is not None and need.org.path.startswith(root.path)


def _offer_help(
    state: _State, plan: _Plan, need: Need, story: _Story, when: dt.datetime
) -> Invitation | None:
    """A nearby volunteer offers themselves from the board (自荐)."""
    volunteer = next(
        (v for v in _candidates(state, plan, need) if _may_apply(state, v, need)), None
    )
    if volunteer is None:
        return None
    story.at(when)
    return services.need_apply(
        actor=_login(state, volunteer.person),
        need=need,
        volunteer=volunteer,
        note=state.rng.choice(("我就住在隔壁楼，可以帮忙。", "这个时间我有空。", "")),
    )


def _invite(
    state: _State, plan: _Plan, need: Need, story: _Story, parties: _Parties, when: dt.datetime
) -> list[Invitation]:
    """The worker (or the resident) invites the best-ranked volunteers — an urgent need is
    broadcast to the top three."""
    ranked = _candidates(state, plan, need)
    ids = [v.pk for v in ranked[: 3 if plan.mode == "broadcast" else state.rng.randint(1, 3)]]
    if plan.volunteer_id is not None:
        ids = [plan.volunteer_id, *ids[:1]]
    if not ids:
        return []
    story.at(when)
    kind = InvitationKind.BROADCAST if plan.mode == "broadcast" else InvitationKind.INVITE
    by_resident = parties.by_resident and state.rng.random() < 0.5
    actor = parties.poster[0] if by_resident else parties.worker[0]
    access = parties.access(need, worker=not by_resident)
    created = services.need_invite(actor=actor, access=access, volunteer_ids=ids, kind=kind)
    return list(
        Invitation.objects.filter(pk__in=[i.pk for i in created])
        .select_related("volunteer__person__user", "need")
        .order_by("pk")
    )


def _match(
    state: _State, plan: _Plan, need: Need, story: _Story, parties: _Parties, *, take: bool
) -> Volunteer | None:
    """Find the volunteer: invitations (one may decline) or an offer from the board; with
    ``take`` the need is matched, otherwise the invitations or offer stay waiting."""
    rng = state.rng
    lead = (plan.starts_at - plan.posted_at).total_seconds() / 3600
    first = plan.posted_at + dt.timedelta(hours=min(lead / 4, rng.uniform(0.3, 3)))
    then = first + dt.timedelta(hours=min(lead / 4, rng.uniform(0.5, 6)))
    if plan.mode == "apply" and plan.volunteer_id is None:
        offer = _offer_help(state, plan, need, story, first)
        if offer is not None:
            if take:
                story.at(then)
                services.application_approve(
                    actor=parties.poster[0], access=parties.access(need), invitation=offer
                )
            return offer.volunteer
    invitations = _invite(state, plan, need, story, parties, first)
    if not invitations:
        return None
    chosen = invitations[0]
    if plan.volunteer_id is None and len(invitations) > 1 and rng.random() < 0.35:
        story.at(first + (then - first) / 2)
        services.invitation_decline(
            actor=_login(state, chosen.volunteer.person),
            invitation=chosen,
            reply=rng.choice(DECLINE_REPLIES),
        )
        chosen = invitations[1]
    if take:
        story.at(then)
        services.invitation_accept(actor=_login(state, chosen.volunteer.person), invitation=chosen)
    return chosen.volunteer


def _talk(
    state: _State, plan: _Plan, need: Need, story: _Story, parties: _Parties, volunteer: Volunteer
) -> None:
    """A few messages in the thread, soon after the match."""
    rng = state.rng
    user = _login(state, volunteer.person)
    story.at(story.last + dt.timedelta(minutes=rng.randint(10, 60)))
    # The demo volunteer types her number, which the thread hides.
    line = VOLUNTEER_LINES[-1] if plan.note == "volunteer_matched" else rng.choice(VOLUNTEER_LINES)
    services.message_post(actor=user, access=_as_volunteer(need), body=line)
    story.at(story.last + dt.timedelta(minutes=rng.randint(20, 90)))
    if plan.channel == "self":
        services.message_post(
            actor=parties.poster[0],
            access=parties.access(need),
            body=rng.choice(REQUESTER_LINES),
        )
    else:
        actor = parties.worker[0]
        services.message_post(actor=actor, access=_as_worker(need), body=rng.choice(WORKER_LINES))
    state.ctx.counts["needs.threads"] += 1


def _serve(
    state: _State, plan: _Plan, need: Need, story: _Story, volunteer: Volunteer, minutes: int, *,
    start: bool, at: dt.datetime,
) -> None:  # fmt: skip
    user = _login(state, volunteer.person)
    if start:
        story.at(at + dt.timedelta(minutes=state.rng.randint(0, 10)), awake=False)
        services.need_start(actor=user, access=_as_volunteer(need))
    story.at(at + dt.timedelta(minutes=minutes + state.rng.randint(5, 30)), awake=False)
    services.need_mark_done(
        actor=user,
        access=_as_volunteer(need),
        minutes=minutes,
        note=state.rng.choice(DONE_NOTES),
    )


def _confirm(state: _State, plan: _Plan, need: Need, story: _Story, parties: _Parties) -> None:
    rng = state.rng
    rating = _weighted(rng, RATINGS) if not plan.note else 5
    comment = rng.choice(COMMENTS[rating]) if not plan.note else COMMENTS[5][2]
    if plan.channel == "self" and rng.random() < 0.8:
        story.at(story.last + dt.timedelta(hours=rng.uniform(0.5, 8)))
        services.need_confirm(
            actor=parties.poster[0],
            access=parties.access(need),
            data=services.Confirmation(rating=rating, comment=comment),
        )
        return
    story.at(_next_office_hour(state, story.last))
    consent = rng.choice(CONSENTS) if plan.payment == Payment.REQUESTER else ""
    services.need_confirm(
        actor=parties.worker[0],
        access=parties.access(need, worker=True),
        data=services.Confirmation(rating=rating, comment=comment, consent=consent),
    )


def _next_office_hour(state: _State, after: dt.datetime) -> dt.datetime:
    local = timezone.localtime(after, state.tz)
    day = local.date() + dt.timedelta(days=1 if local.hour >= 16 else 0)
    return max(after + dt.timedelta(minutes=30), _at(state, day, state.rng.uniform(9, 16.5)))


def _run(state: _State, plan: _Plan, story: _Story) -> Need:
    """One need, through the services, as its fate says."""
    rng, fate = state.rng, plan.fate
    need = _post(state, plan, story)
    story.deadline = plan.starts_at - dt.timedelta(minutes=15)
    poster_user = _login(state, plan.requester) if plan.channel == "self" else None
    worker = _worker(state, plan.community)
    parties = _Parties(poster=(poster_user, poster_user) if poster_user else worker, worker=worker)
    if fate == "cancelled" and rng.random() < 0.6:
        story.at(plan.posted_at + dt.timedelta(hours=rng.uniform(3, 30)))
        services.need_cancel(
            actor=parties.poster[0],
            access=parties.access(need),
            reason=rng.choice(CANCEL_REASONS),
        )
        return need
    if fate == "open":
        fate = _weighted(rng, (("open_invited", 45), ("open_applied", 25), ("open_quiet", 30)))
    if fate == "open_quiet":
        return need
    if fate == "open_applied":
        plan.mode = "apply"
    elif fate == "open_invited" and plan.mode == "apply":
        plan.mode = "invite"
    take = not fate.startswith("open")
    volunteer = _match(state, plan, need, story, parties, take=take)
    if volunteer is None or not take:
        if volunteer is None and not _ahead(fate) and fate != "in_service":
            story.at(plan.posted_at + dt.timedelta(days=1))
            services.need_cancel(actor=worker[0], access=_as_worker(need), reason=NOBODY_REASON)
            state.ctx.counts["needs.nobody_near"] += 1
        return need
    if rng.random() < 0.5 or plan.volunteer_id is not None:
        # The thread names both sides: the need as it is now, with its volunteer.
        need = Need.objects.select_related("org", "requester", "volunteer__person").get(pk=need.pk)
        _talk(state, plan, need, story, parties, volunteer)
    if fate == "cancelled":
        story.at(story.last + (plan.starts_at - story.last) / 2)
        services.need_cancel(
            actor=parties.poster[0],
            access=parties.access(need),
            reason=rng.choice(MATCHED_CANCEL),
        )
        return need
    if fate == "matched":
        return need
    story.deadline = None  # the service has begun: what follows may wait for the morning
    start = fate == "in_service" or rng.random() < 0.6
    if fate == "in_service":
        story.at(plan.starts_at + dt.timedelta(minutes=5), awake=False)
        user = _login(state, volunteer.person)
        services.need_start(actor=user, access=_as_volunteer(need))
        return need
    _serve(state, plan, need, story, volunteer, plan.actual, start=start, at=plan.starts_at)
    if fate == "awaiting":
        return need
    if fate in ("disputed", "dispute_returned", "dispute_closed"):
        return _dispute(state, plan, need, story, parties, volunteer)
    _confirm(state, plan, need, story, parties)
    return need


def _dispute(
    state: _State, plan: _Plan, need: Need, story: _Story, parties: _Parties, volunteer: Volunteer
) -> Need:
    """The requester (through the worker) disputes; a worker sends it back to the volunteer,
    closes it, or has not decided yet."""
    reason, answer = DISPUTES[0] if plan.fate != "dispute_closed" else DISPUTES[1]
    worker_actor = parties.worker[0]
    story.at(_next_office_hour(state, story.last))
    services.need_dispute(actor=parties.poster[0], access=parties.access(need), reason=reason)
    if plan.fate == "disputed":
        return need
    story.at(_next_office_hour(state, story.last))
    access = _as_worker(need)
    if plan.fate == "dispute_closed":
        services.dispute_close(actor=worker_actor, access=access, note=answer)
        return need
    services.dispute_return(actor=worker_actor, access=access, note=answer)
    again = plan.starts_at + dt.timedelta(days=3)
    _serve(state, plan, need, story, volunteer, plan.actual, start=False, at=max(again, story.last))
    story.at(_next_office_hour(state, story.last))
    services.need_confirm(
        actor=worker_actor,
        access=_as_worker(need),
        data=services.Confirmation(
            rating=4, comment="补充服务后老人满意。", consent="本人电话同意"
        ),
    )
    return need


# --- moving a need's rows to the moments of its story ----------------------------------------


def _move(story: _Story, rows: Iterable[Any], fields: Sequence[str]) -> list[Any]:
    changed = []
    for row in rows:
        before = [getattr(row, f) for f in fields]
        for name, value in zip(fields, before, strict=True):
            setattr(row, name, story.moved(value))
        if [getattr(row, f) for f in fields] != before:
            changed.append(row)
    return changed


def _set(model: Any, rows: list[Any], fields: Sequence[str], chunk: int = 300) -> None:
    """Plain UPDATEs (one per ``chunk`` rows) giving each row its own values of ``fields``
    — ``bulk_update`` without its savepoint, which costs two more queries a call."""
    casted = connections[router.db_for_write(model)].features.requires_casted_case_in_updates
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        values = {}
        for name in fields:
            out = model._meta.get_field(name)
            whens = [When(pk=r.pk, then=Value(getattr(r, name), output_field=out)) for r in part]
            case = Case(*whens, output_field=out)
            values[name] = Cast(case, output_field=out) if casted else case
        model.objects.filter(pk__in=[row.pk for row in part]).update(**values)


def _restamp(state: _State, need: Need, story: _Story, plan: _Plan) -> None:
    """Date the need and what its run wrote as the story says (module docstring)."""
    times = ("created_at", "matched_at", "started_at", "done_at", "closed_at")
    need = Need.objects.only("status", "record_id", "transfer_id", *times).get(pk=need.pk)
    _move(story, [need], times)
    Need.objects.filter(pk=need.pk).update(
        starts_at=plan.starts_at,
        ends_at=plan.ends_at,
        updated_at=story.last,
        **{name: getattr(need, name) for name in times},
    )
    for model, fields in (
        (NeedEvent, ("created_at",)),
        (Message, ("created_at",)),
        (Invitation, ("created_at", "responded_at")),
    ):
        rows = model.objects.filter(need_id=need.pk).only("pk", *fields)
        _set(model, _move(story, rows, fields), fields)
    notes = _move(
        story,
        Notification.objects.filter(created_at__gte=story.began).only("pk", "created_at"),
        ("created_at",),
    )
    for note in notes:
        note.read_at = note.created_at if need.is_closed else None
    _set(Notification, notes, ("created_at", "read_at"))
    closed = need.closed_at or story.last
    if need.record_id:
        ServiceRecord.objects.filter(pk=need.record_id).update(
            served_on=timezone.localtime(need.done_at or plan.starts_at, state.tz).date(),
            created_at=closed,
            updated_at=closed,
            confirmed_at=closed,
        )
    if need.transfer_id:
        _date_transfer(need.transfer_id, closed)


# --- pairings ---------------------------------------------------------------------------------


@dataclass
class _Pair:
    helper: int  # person id
    resident: int
    community: Org
    party: bool
    cycle: int
    quiet: bool
    days_back: int
    last_visit: int | None = None  # days before today of the last visit, when fixed
    mine: bool = False  # the demo volunteer's


def _alone(state: _State) -> dict[int, list[int]]:
    """Residents living alone (独居/孤寡) of each community, by person id."""
    tags = Tag.objects.filter(name__in=("独居老人", "孤寡老人")).values_list("pk", flat=True)
    rows = (
        Person.tags.through.objects.filter(
            tag_id__in=list(tags),
            person__org_id__in=list(state.residence),
            person__status=ResidenceStatus.ACTIVE,
        )
        .order_by("person_id")
        .values_list("person_id", "person__org_id")
        .distinct()
    )
    alone: dict[int, list[int]] = defaultdict(list)
    for person_id, org_id in rows:
        if person_id not in alone[state.residence[org_id]]:
            alone[state.residence[org_id]].append(person_id)
    return alone


def _helpers(state: _State) -> dict[int, list[tuple[int, bool]]]:
    """Registered adult volunteers of each community: (person id, party member)."""
    ctx = state.ctx
    adult_by = dt.date(ctx.today.year - ADULT_AGE, ctx.today.month, min(ctx.today.day, 28))
    party = (PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY)
    rows = (
        Volunteer.objects.filter(
            org_id__in=list(state.residence),
            status=VolunteerStatus.REGISTERED,
            person__birth_date__lte=adult_by,
            person__status=ResidenceStatus.ACTIVE,
        )
        .order_by("pk")
        .values_list("person_id", "org_id", "political_status")
    )
    helpers: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for person_id, org_id, status in rows:
        helpers[state.residence[org_id]].append((person_id, status in party))
    return helpers


def _cycle(rng: random.Random) -> tuple[int, int]:
    cycle = _weighted(rng, ((7, 10), (14, 25), (30, 65)))
    return cycle, rng.randint(cycle * 2, min(400, cycle * 15))


def _pairs(state: _State) -> list[_Pair]:
    rng = state.rng
    alone, helpers = _alone(state), _helpers(state)
    resident = state.demo_resident.pk if state.demo_resident else None
    mine = state.demo_volunteer.person_id if state.demo_volunteer else None
    pairs: list[_Pair] = []
    a = state.ctx.named.get("community_a")
    for community in state.ctx.communities:
        pool = [h for h in helpers.get(community.pk, []) if h[0] != mine]
        taken: dict[int, int] = defaultdict(int)
        fixed = []
        if community == a and resident is not None and resident in alone.get(a.pk, []):
            others = [h for h in pool if h[0] != resident]
            party = [h for h in others if h[1]] or others
            if party:
                fixed.append(_Pair(party[0][0], resident, a, party[0][1], 14, False, 200, 5))
                taken[party[0][0]] += 1
        if community == a and mine is not None:
            others = [p for p in alone.get(a.pk, []) if p != resident]
            if others:
                fixed.append(_Pair(mine, others[0], a, False, 30, False, 150, 12, mine=True))
        pairs += fixed
        done = {p.resident for p in fixed}
        quiet_in_a = False
        for person_id in alone.get(community.pk, []):
            if person_id in done or rng.random() >= PAIRED_SHARE:
                continue
            free = [h for h in pool if taken[h[0]] < 2 and h[0] != person_id]
            party = [h for h in free if h[1]]
            choice = party if party and rng.random() < PARTY_SHARE else free
            if not choice:
                continue
            helper = rng.choice(choice)
            taken[helper[0]] += 1
            cycle, days_back = _cycle(rng)
            quiet = rng.random() < QUIET_SHARE or (community == a and not quiet_in_a)
            quiet_in_a = quiet_in_a or (community == a and quiet)
            pairs.append(_Pair(helper[0], person_id, community, helper[1], cycle, quiet, days_back))
    if pairs and not any(p.quiet for p in pairs if p.last_visit is None):
        loose = [p for p in pairs if p.last_visit is None]  # not the demo logins' pairs
        if loose:
            loose[0].quiet = True  # the workers' list of pairs gone quiet is never empty
    return pairs


def _visit_days(rng: random.Random, pair: _Pair, started: dt.date, today: dt.date) -> list[dt.date]:
    """Visits about once a cycle since the pair started; a quiet pair stopped a while ago."""
    if pair.last_visit is not None:
        end = today - dt.timedelta(days=pair.last_visit)
    elif pair.quiet:
        end = today - dt.timedelta(days=pair.cycle + rng.randint(5, 40))
    else:
        end = today - dt.timedelta(days=rng.randint(1, max(1, pair.cycle - 2)))
    days, day = [], started + dt.timedelta(days=max(1, round(pair.cycle * rng.uniform(0.3, 0.9))))
    while day < end:
        days.append(day)
        day += dt.timedelta(days=max(1, round(pair.cycle * rng.uniform(0.6, 1.0))))
    if pair.last_visit is not None or (days and not pair.quiet):
        days.append(end)
    return sorted(set(d for d in days if started <= d <= today))


def _pairings(state: _State, requested: dict[int, list[tuple[int, dt.datetime, str]]]) -> None:
    """Pairs made through ``pairing_create``; their visit logs written in bulk (a visit that
    raised a need the worker then posted points to it)."""
    ctx, rng = state.ctx, state.rng
    today = min(ctx.today, timezone.localdate())  # the service refuses dates after today
    pairs = _pairs(state)
    people = Person.objects.select_related("org", "user").in_bulk(
        {p.helper for p in pairs} | {p.resident for p in pairs}
    )
    visits: list[tuple] = []
    last: list[Pairing] = []
    for pair in pairs:
        actor, user = _worker(state, pair.community)
        started = today - dt.timedelta(days=pair.days_back)
        pairing = pairing_services.pairing_create(
            actor=actor,
            scope=_scope(state, user),
            data=pairing_services.PairingInput(
                helper=people[pair.helper],
                resident=people[pair.resident],
                purpose=rng.choice(PAIR_PURPOSES),
                started_on=started,
                visit_every_days=pair.cycle,
                helper_is_party_member=pair.party,
            ),
        )
        Pairing.objects.filter(pk=pairing.pk).update(created_at=_at(state, started, 10))
        recorder = people[pair.helper].user_id if pair.mine else getattr(user, "pk", None)
        days = _visit_days(rng, pair, started, today)
        for day in days:
            concerns = rng.choice(VISIT_CONCERNS) if rng.random() < 0.25 else ""
            visits.append(
                (pairing.pk, day, rng.choice((30, 45, 60, 90)), rng.choice(VISIT_DONE), concerns,
                 None, recorder, _at(state, day, rng.uniform(15, 20)))
            )  # fmt: skip
        for need_id, posted, title in requested.get(pair.resident, []):
            day = timezone.localtime(posted, state.tz).date() - dt.timedelta(days=rng.randint(1, 3))
            if started <= day <= today and (not days or day <= days[-1]):
                visits.append(
                    (pairing.pk, day, 45, "上门探望，了解近况", f"希望有人帮忙：{title}", need_id,
                     recorder, _at(state, day, 16))
                )  # fmt: skip
                break
        if days:
            pairing.last_visit_on = days[-1]
            last.append(pairing)
        ctx.counts["needs.pairings"] += 1
        ctx.counts["needs.pairings.party"] += int(pairing.helper_is_party_member)
        gone = (ctx.today - (days[-1] if days else started)).days
        ctx.counts["needs.pairings.quiet"] += int(gone > pair.cycle)
    columns = (
        "pairing_id", "visited_on", "minutes", "done", "concerns", "need_id", "recorded_by_id",
        "created_at",
    )  # fmt: skip
    write_rows(Visit, columns, visits)
    Pairing.objects.bulk_update(last, ["last_visit_on"], batch_size=500)
    ctx.counts["needs.visits"] += len(visits)


# --- the step ---------------------------------------------------------------------------------


def _new_state(ctx: SeedContext) -> _State:
    tz = timezone.get_current_timezone()
    residence, street_of, places = _orgs(ctx)
    workers = {}
    for username, key in (("worker-a", "community_a"), ("worker-b", "community_b")):
        user, community = ctx.users.get(username), ctx.named.get(key)
        if user is not None and community is not None:
            workers[community.pk] = user
    people = {role: ctx.people.get(role) for role in ("volunteer", "resident")}
    volunteer = (
        Volunteer.objects.select_related("person__user", "org")
        .filter(person_id=people["volunteer"], status=VolunteerStatus.REGISTERED)
        .first()
        if people["volunteer"]
        else None
    )
    resident = (
        Person.objects.select_related("user", "org").filter(pk=people["resident"]).first()
        if people["resident"]
        else None
    )
    pools = dict(
        Account.objects.filter(
            kind=AccountKind.POOL, org_id__in=[c.pk for c in ctx.communities]
        ).values_list("org_id", "balance")
    )
    return _State(
        ctx=ctx,
        rng=ctx.rng("needs"),
        tz=tz,
        now=dt.datetime.combine(ctx.today, STORY_HOUR, tzinfo=tz),
        began=timezone.now(),
        categories={c.name: c for c in NeedCategory.objects.filter(is_active=True)},
        workers=workers,
        residence=residence,
        street_of=street_of,
        places=places,
        demo_volunteer=volunteer if volunteer and volunteer.person.user_id else None,
        demo_resident=resident if resident and resident.user_id else None,
        pools=pools,
        communities={c.pk: c for c in ctx.communities},
    )


def seed_needs(ctx: SeedContext) -> None:
    assert ctx.city is not None
    audit_from = AuditEntry.objects.aggregate(m=Max("pk"))["m"] or 0
    state = _new_state(ctx)
    _offers(state)
    profiles_refresh()
    plans = _plans(state)
    _fund(state, plans)
    requested: dict[int, list[tuple[int, dt.datetime, str]]] = defaultdict(list)
    for plan in plans:
        story = _Story(
            latest=min(state.now, state.began - dt.timedelta(seconds=1)),
            tz=state.tz,
            rng=state.rng,
        )
        need = _run(state, plan, story)
        _restamp(state, need, story, plan)
        if plan.requester is not None and plan.channel == "worker":
            requested[plan.requester.pk].append((need.pk, plan.posted_at, plan.title))
    _pairings(state, requested)
    # Load and ratings as the story left them (a record moved back in time no longer counts
    # as recent work) for everyone who took a need.
    served = Need.objects.filter(org__path__startswith=ctx.city.path, volunteer__isnull=False)
    profiles_refresh(volunteer_ids=list(served.values_list("volunteer_id", flat=True).distinct()))
    ctx.counts["needs.profiles"] = MatchProfile.objects.count()
    _release_logins(state)
    AuditEntry.objects.filter(pk__gt=audit_from).delete()  # the seed writes one entry
    _count(state)
    check = ledger.verify()
    if not check.ok:
        raise DemoError(f"时间银行账本核对未通过：{check.mismatched[:3]} {check.unbalanced[:3]}")
    c = ctx.counts
    ctx.say(
        f"需求对接：服务供给 {c['needs.offers']} 条（驻区单位 {c['needs.unit_offers']}），"
        f"需求 {c['needs']} 个（已完成 {c['needs.done']}，待匹配 {c['needs.open']}，"
        f"争议处理中 {c['needs.disputed']}），保障基金资助 {c['needs.grants']} 人；"
        f"结对帮扶 {c['needs.pairings']} 对（党员结对 {c['needs.pairings.party']}，"
        f"超期未走访 {c['needs.pairings.quiet']}），走访记录 {c['needs.visits']} 条"
    )


def _count(state: _State) -> None:
    assert state.ctx.city is not None
    needs = Need.objects.filter(org__path__startswith=state.ctx.city.path)
    state.ctx.counts["needs"] = needs.count()
    for status, n in needs.values_list("status").annotate(n=Count("pk")).order_by():
        state.ctx.counts[f"needs.{status}"] = n
    state.ctx.counts["needs.invitations"] = Invitation.objects.filter(need__in=needs).count()
    state.ctx.counts["needs.messages"] = Message.objects.filter(need__in=needs).count()


def _delete_in_chunks(queryset: Any, before: Callable[[list[int]], None] | None = None) -> None:
    rows = queryset.order_by("pk")
    while ids := list(rows.values_list("pk", flat=True)[:5000]):
        if before is not None:
            before(ids)
        queryset.model.objects.filter(pk__in=ids).delete()


def reset_needs(ctx: SeedContext) -> None:
    """Delete the demo city's needs, offers, profiles and pairings (their users' transient
    logins never outlive the step)."""
    assert ctx.city is not None
    path = ctx.city.path
    _delete_in_chunks(Visit.objects.filter(pairing__org__path__startswith=path))
    _delete_in_chunks(Pairing.objects.filter(org__path__startswith=path))
    needs = Need.objects.filter(org__path__startswith=path)
    for model in (Message, NeedEvent, Invitation):
        _delete_in_chunks(model.objects.filter(need__in=needs))

    def links(ids: list[int]) -> None:
        Need.extra_categories.through.objects.filter(need_id__in=ids).delete()
        Need.qualifications.through.objects.filter(need_id__in=ids).delete()
        Visit.objects.filter(need_id__in=ids).update(need=None)

    _delete_in_chunks(needs, links)
    _delete_in_chunks(
        Offer.objects.filter(org__path__startswith=path),
        lambda ids: Offer.categories.through.objects.filter(offer_id__in=ids).delete(),
    )
    _delete_in_chunks(MatchProfile.objects.filter(community__path__startswith=path))


def reset_logins(ctx: SeedContext) -> None:
    """The transient logins of the ``needs`` step, once nothing large refers to them."""
    User.objects.filter(username__startswith=LOGIN_PREFIX).delete()


def _no_logins(ctx: SeedContext) -> None:
    """Nothing to seed: the step is here for its ``reset``, which runs after the resets of
    the activities and the time bank (steps reset in reverse order)."""


register_step(Step("needs", seed_needs, reset_needs), after="timebank")
register_step(Step("needs-logins", _no_logins, reset_logins), after="accounts")
