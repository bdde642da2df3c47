"""Believable residents for the demo city: names, ages, households, addresses, ID numbers.

Everything here is pure: functions take a ``random.Random`` and return plain values, so
the same seed gives the same city. Nothing here touches the database; ``huzhu.demo.seed``
turns these values into rows through the people services.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from stdnum.cn import ric

# --- names --------------------------------------------------------------------------------

# Surname frequencies in percent (national census order, rounded); the long tail is cut.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12), ("李", 7.00), ("张", 6.74), ("刘", 5.10), ("陈", 4.61), ("杨", 3.22),
    ("黄", 2.45), ("赵", 2.19), ("吴", 2.00), ("周", 1.95), ("徐", 1.45), ("孙", 1.38),
    ("马", 1.29), ("朱", 1.28), ("胡", 1.16), ("郭", 1.13), ("何", 1.06), ("林", 1.02),
    ("高", 1.00), ("罗", 0.86), ("郑", 0.78), ("梁", 0.76), ("谢", 0.63), ("宋", 0.61),
    ("唐", 0.60), ("许", 0.58), ("韩", 0.57), ("邓", 0.55), ("冯", 0.54), ("曹", 0.53),
    ("彭", 0.52), ("曾", 0.51), ("肖", 0.48), ("田", 0.47), ("董", 0.45), ("潘", 0.43),
    ("袁", 0.42), ("蔡", 0.39), ("蒋", 0.38), ("余", 0.37), ("于", 0.37), ("杜", 0.36),
    ("叶", 0.35), ("程", 0.34), ("魏", 0.33), ("苏", 0.32), ("吕", 0.31), ("丁", 0.30),
    ("任", 0.30), ("卢", 0.29), ("姚", 0.28), ("沈", 0.28), ("钟", 0.27), ("姜", 0.27),
    ("崔", 0.26), ("谭", 0.25), ("陆", 0.25), ("范", 0.24), ("汪", 0.23), ("廖", 0.23),
    ("石", 0.22), ("金", 0.22), ("韦", 0.21), ("贾", 0.21), ("夏", 0.20), ("付", 0.20),
    ("方", 0.19), ("邹", 0.18), ("熊", 0.18), ("白", 0.18), ("孟", 0.18), ("秦", 0.17),
    ("邱", 0.17), ("侯", 0.17), ("江", 0.16), ("尹", 0.16), ("薛", 0.16), ("闫", 0.15),
    ("段", 0.15), ("雷", 0.15), ("龙", 0.14), ("黎", 0.14), ("史", 0.14), ("陶", 0.13),
    ("贺", 0.13), ("毛", 0.12), ("郝", 0.12), ("顾", 0.12), ("龚", 0.11), ("邵", 0.11),
    ("万", 0.11), ("武", 0.10), ("钱", 0.10), ("戴", 0.10), ("严", 0.09), ("孔", 0.09),
    ("常", 0.08), ("牛", 0.07), ("房", 0.06), ("鲁", 0.06), ("齐", 0.06), ("宫", 0.04),
    # 复姓: rare, slightly over-represented so a demo of a few thousand shows some.
    ("欧阳", 0.08), ("司马", 0.03), ("上官", 0.03), ("诸葛", 0.02), ("东方", 0.02),
    ("皇甫", 0.02), ("公孙", 0.01), ("慕容", 0.01), ("令狐", 0.01), ("尉迟", 0.005),
)  # fmt: skip
_SURNAME_VALUES = [s for s, _ in SURNAMES]
_SURNAME_CUM = list(itertools.accumulate(w for _, w in SURNAMES))


@dataclass(frozen=True)
class _Cohort:
    """Given names in fashion for people born up to ``until`` (a year)."""

    until: int
    single_share: float  # share of one-character given names
    male1: str
    female1: str
    male2: tuple[str, ...]
    female2: tuple[str, ...]


COHORTS: tuple[_Cohort, ...] = (
    _Cohort(
        1959,
        0.30,
        "军林明华强山海忠勇斌福贵",
        "兰英珍芳梅华琴霞秀凤",
        ("建国", "国庆", "建华", "志刚", "保国", "振华", "德明", "玉山", "永利", "长青",
         "广才", "金生", "文华", "福生", "立新", "卫东", "庆丰", "树林", "洪涛", "国强",
         "振东", "学文", "德胜", "德福", "启明", "宝山"),
        ("秀英", "桂英", "玉兰", "秀兰", "桂兰", "淑珍", "凤英", "玉珍", "秀珍", "玉梅",
         "桂芝", "淑英", "秀云", "翠兰", "凤兰", "素芬", "丽华", "美华", "金凤", "玉芳",
         "淑兰", "桂香", "素英", "桂荣"),
    ),
    _Cohort(
        1989,
        0.35,
        "伟磊勇军涛强鹏杰斌超刚辉波健明亮峰东海俊",
        "芳静敏丽艳娟霞燕红玲萍颖莉慧婷洁琳娜",
        ("建军", "海涛", "晓东", "志强", "卫国", "建伟", "永强", "晓明", "振宇", "立军",
         "国栋", "文斌", "红星", "志勇", "庆华", "春雷", "兆峰", "洪波", "晓峰", "伟东",
         "鹏飞", "宏伟", "海波", "文杰", "建新", "少华"),
        ("丽娟", "红梅", "晓燕", "艳红", "秀梅", "海燕", "丽华", "春燕", "晓丽", "小红",
         "淑华", "彩霞", "文静", "雪梅", "晓梅", "美玲", "玉洁", "晓红", "丽萍", "海霞",
         "玉婷", "金玲"),
    ),
    _Cohort(
        2009,
        0.20,
        "浩宇轩晨博鑫凯帅磊阳昊睿航旭哲豪琦彬楠",
        "婷雪琪悦萌瑶佳欣璐晴倩璇",
        ("浩然", "子轩", "宇航", "俊杰", "博文", "天宇", "明轩", "浩宇", "家豪", "思远",
         "子豪", "一鸣", "雨泽", "志豪", "晨阳", "嘉诚", "文轩", "泽宇", "皓轩", "梓豪"),
        ("欣怡", "梓涵", "诗涵", "思琪", "雨欣", "佳怡", "梦瑶", "雨涵", "静怡", "可欣",
         "梦琪", "子涵", "晓雪", "雅琪", "欣然", "思雨", "佳琪", "心怡", "雅婷", "诗雨"),
    ),
    _Cohort(
        9999,
        0.08,
        "宸睿轩泽航辰",
        "萱涵汐桐妍诺",
        ("沐宸", "一诺", "梓睿", "浩宇", "宇轩", "子墨", "奕辰", "俊熙", "皓宇", "锦程",
         "承泽", "睿泽", "博宇", "宸熙", "梓航", "亦辰", "若凡", "思源", "铭泽", "嘉树"),
        ("一诺", "梓涵", "欣怡", "若汐", "语桐", "可馨", "芷若", "雨桐", "诗琪", "依诺",
         "子萱", "思涵", "沐晴", "梓萱", "安琪", "心妍", "晨曦", "语汐", "婉清", "芊芊"),
    ),
)  # fmt: skip


def pick_surname(rng: random.Random) -> str:
    return rng.choices(_SURNAME_VALUES, cum_weights=_SURNAME_CUM)[0]


def given_name(rng: random.Random, gender: str, birth_year: int) -> str:
    cohort = next(c for c in COHORTS if birth_year <= c.until)
    male = gender == "M"
    if rng.random() < cohort.single_share:
        return rng.choice(cohort.male1 if male else cohort.female1)
    return rng.choice(cohort.male2 if male else cohort.female2)


def full_name(rng: random.Random, gender: str, birth_year: int, surname: str | None = None) -> str:
    return (surname or pick_surname(rng)) + given_name(rng, gender, birth_year)


# --- dates, ID numbers, phones ------------------------------------------------------------


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def birth_date_for_age(rng: random.Random, age: int, today: dt.date) -> dt.date:
    """A birth date on which someone is exactly ``age`` years old ``today``."""
    latest = years_before(today, age)
    earliest = years_before(today, age + 1) + dt.timedelta(days=1)
    return earliest + dt.timedelta(days=rng.randrange((latest - earliest).days + 1))


def id_number(rng: random.Random, area: str, birth: dt.date, gender: str) -> str:
    """A 公民身份号码 with the order code's parity matching ``gender`` and a GB 11643 check."""
    order = rng.randrange(0, 100) * 10 + rng.randrange(0, 5) * 2 + (1 if gender == "M" else 0)
    body = f"{area}{birth:%Y%m%d}{order:03d}"
    # calc_check_digit ignores the last character of its argument, so pad the 17-digit body.
    return body + ric.calc_check_digit(body + "0")


MOBILE_PREFIXES = (
    "134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
    "182", "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133",
    "153", "180", "181", "189", "177", "199", "166", "198", "176", "173",
)  # fmt: skip


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def phone_share(age: int) -> float:
    """Chance that a person of ``age`` has a mobile number on the register."""
    if age < 12:
        return 0.0
    if age < 18:
        return 0.8
    if age < 60:
        return 0.99
    if age < 70:
        return 0.95
    if age < 80:
        return 0.9
    return 0.7


# Area codes for people registered elsewhere (流动人口): other Shandong cities and provinces.
MIGRANT_AREAS = (
    "370181", "370124", "371302", "370911", "370702", "371402", "371502", "370302",
    "410102", "130102", "340104", "320302", "210102",
)  # fmt: skip


# --- places -------------------------------------------------------------------------------

ESTATE_STEMS = (
    "和平", "幸福", "阳光", "翠园", "金鼎", "舜华", "明湖", "泉景", "燕山", "文化", "友谊",
    "东方", "锦绣", "华龙", "山水", "佛山", "绿景", "银座", "盛世", "历山", "青年", "南苑",
    "馨苑", "玉函", "鲁能", "名士", "丁香", "凤凰", "紫荆", "荷花", "齐鲁", "百花", "泉城",
    "龙奥", "汇泉", "望岳", "新华", "建设", "工人", "电力", "交通", "邮电", "铁路", "纺织",
)  # fmt: skip
ESTATE_SUFFIXES = ("小区", "小区", "小区", "花园", "家园", "苑", "新村", "宿舍", "公寓")


@dataclass(frozen=True)
class Estate:
    """A residential compound (小区) with its building layout."""

    name: str
    buildings: int
    units: int
    floors: int
    rooms: int

    def address(self, rng: random.Random, prefix: str) -> str:
        building = rng.randint(1, self.buildings)
        unit = rng.randint(1, self.units)
        floor = rng.randint(1, self.floors)
        room = rng.randint(1, self.rooms)
        return f"{prefix}{self.name}{building}号楼{unit}单元{floor}{room:02d}室"


def estates(rng: random.Random, count: int, used: set[str]) -> list[Estate]:
    """``count`` estates with names not in ``used`` (which is updated)."""
    result = []
    while len(result) < count:
        name = rng.choice(ESTATE_STEMS) + rng.choice(ESTATE_SUFFIXES)
        if name in used:
            continue
        used.add(name)
        high_rise = rng.random() < 0.4
        result.append(
            Estate(
                name=name,
                buildings=rng.randint(6, 30),
                units=rng.randint(2, 4),
                floors=rng.choice((11, 18, 26, 33)) if high_rise else rng.choice((5, 6, 7)),
                rooms=rng.randint(2, 4) if high_rise else 2,
            )
        )
    return result


# --- households ---------------------------------------------------------------------------


@dataclass
class Member:
    """One generated resident, before validation and encryption."""

    name: str
    gender: str
    birth_date: dt.date
    age: int
    id_number: str
    phone: str
    tags: set[str] = field(default_factory=set)
    marker: str = ""  # lets the seed find a specific person (the demo resident, volunteer)


# Household shapes and their weights; together they give ~2.6 people per household and
# about a quarter aged 60+, like an ageing urban community.
HOUSEHOLD_KINDS: tuple[tuple[str, float], ...] = (
    ("single_elderly", 7),
    ("elderly_couple", 12),
    ("single_young", 8),
    ("young_family", 21),
    ("middle_family", 23),
    ("three_generations", 13),
    ("middle_couple", 10),
    ("skip_generation", 2),
    ("single_middle", 3),
)
_KIND_VALUES = [k for k, _ in HOUSEHOLD_KINDS]
_KIND_CUM = list(itertools.accumulate(w for _, w in HOUSEHOLD_KINDS))


class HouseholdGenerator:
    """Households of related people sharing an address, with plausible tags."""

    def __init__(self, rng: random.Random, today: dt.date) -> None:
        self.rng = rng
        self.today = today

    # People ------------------------------------------------------------------------------

    def person(
        self,
        area: str,
        age: int,
        gender: str,
        surname: str | None = None,
        marker: str = "",
    ) -> Member:
        rng = self.rng
        birth = birth_date_for_age(rng, age, self.today)
        return Member(
            name=full_name(rng, gender, birth.year, surname),
            gender=gender,
            birth_date=birth,
            age=age,
            id_number=id_number(rng, area, birth, gender),
            phone=mobile(rng) if rng.random() < phone_share(age) else "",
            marker=marker,
        )

    def new_id_number(self, member: Member) -> None:
        """Draw another order code (same area, birth date and gender) after a clash."""
        member.id_number = id_number(
            self.rng, member.id_number[:6], member.birth_date, member.gender
        )

    def _couple(self, area: str, low: int, high: int) -> tuple[Member, Member]:
        rng = self.rng
        wife_age = rng.randint(low, high)
        husband_age = max(low, min(high + 5, wife_age + round(rng.gauss(2, 3))))
        husband = self.person(area, husband_age, "M")
        wife = self.person(area, wife_age, "F")
        return husband, wife

    def _child(self, area: str, father: Member, mother: Member, low: int, high: int) -> Member:
        rng = self.rng
        youngest_parent = min(father.age, mother.age)
        high = min(high, youngest_parent - 20)
        low = min(low, high)
        surname = _surname_of(father) if rng.random() < 0.92 else _surname_of(mother)
        return self.person(area, max(0, rng.randint(low, high)), rng.choice("MF"), surname)

    # Households --------------------------------------------------------------------------

    def household(self, district_area: str, kind: str | None = None) -> list[Member]:
        rng = self.rng
        kind = kind or rng.choices(_KIND_VALUES, cum_weights=_KIND_CUM)[0]
        migrant = kind in ("single_young", "young_family") and rng.random() < 0.22
        area = rng.choice(MIGRANT_AREAS) if migrant else district_area
        members: list[Member]
        if kind == "single_elderly":
            members = [self.person(area, _elderly_age(rng), "F" if rng.random() < 0.65 else "M")]
            members[0].tags.add("独居老人")
            if members[0].age >= 70 and rng.random() < 0.15:
                members[0].tags.add("孤寡老人")
                if rng.random() < 0.3:
                    members[0].tags.add("特困供养")
        elif kind == "elderly_couple":
            members = list(self._couple(area, 60, 86))
            for m in members:
                m.tags.add("空巢老人")
        elif kind == "single_young":
            members = [self.person(area, rng.randint(20, 40), rng.choice("MF"))]
        elif kind == "single_middle":
            members = [self.person(area, rng.randint(35, 59), rng.choice("MF"))]
        elif kind == "young_family":
            father, mother = self._couple(area, 25, 42)
            members = [father, mother]
            for _ in range(rng.choices((0, 1, 2), weights=(3, 6, 2))[0]):
                members.append(self._child(area, father, mother, 0, 16))
        elif kind == "middle_family":
            father, mother = self._couple(area, 40, 58)
            members = [father, mother, self._child(area, father, mother, 10, 30)]
        elif kind == "middle_couple":
            members = list(self._couple(area, 50, 66))
        elif kind == "three_generations":
            father, mother = self._couple(area, 32, 50)
            members = [father, mother, self._child(area, father, mother, 0, 18)]
            grandfather_age = max(60, father.age + rng.randint(22, 32))
            if rng.random() < 0.6 and grandfather_age <= 95:
                members.append(self.person(area, grandfather_age, "M", _surname_of(father)))
            grandmother_age = max(60, min(98, father.age + rng.randint(20, 30)))
            members.append(self.person(area, grandmother_age, "F"))
        elif kind == "skip_generation":
            grandmother = self.person(area, rng.randint(58, 75), "F")
            grandfather = self.person(area, min(95, grandmother.age + rng.randint(0, 4)), "M")
            child = self.person(
                area, rng.randint(6, 15), rng.choice("MF"), _surname_of(grandfather)
            )
            child.tags.add("留守儿童")
            members = [grandfather, grandmother, child]
        else:  # pragma: no cover - the list above is exhaustive
            raise ValueError(kind)
        self._tag(members, kind, migrant)
        return members

    def _tag(self, members: Sequence[Member], kind: str, migrant: bool) -> None:
        rng = self.rng
        poor = rng.random() < (0.05 if kind in ("single_elderly", "skip_generation") else 0.02)
        renting = migrant or (kind in ("single_young", "young_family") and rng.random() < 0.2)
        for m in members:
            if migrant:
                m.tags.add("流动人口")
            if renting and m.age >= 18:
                m.tags.add("租户")
            if poor:
                m.tags.add("低保")
            if m.age >= 80:
                m.tags.add("高龄老人")
            if m.age >= 70 and rng.random() < (0.15 if m.age >= 80 else 0.05):
                m.tags.add("失能半失能")
            if rng.random() < (0.08 if m.age >= 60 else 0.03):
                m.tags.add("残疾")
            if 35 <= m.age < 60 and rng.random() < 0.03:
                m.tags.add("下岗失业")
            if m.age >= 40 and rng.random() < (0.04 if m.age >= 60 else 0.012):
                m.tags.add("重病患者")
            if m.age >= 45 and rng.random() < (0.04 if m.gender == "M" else 0.01):
                m.tags.add("优抚对象")


def _elderly_age(rng: random.Random) -> int:
    """60–98, thinning out with age."""
    return min(98, 60 + int(rng.expovariate(1 / 11)))


def _surname_of(member: Member) -> str:
    for surname in _COMPOUND:
        if member.name.startswith(surname):
            return surname
    return member.name[0]


_COMPOUND = tuple(s for s in _SURNAME_VALUES if len(s) == 2)
