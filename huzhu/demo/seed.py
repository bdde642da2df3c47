"""``seed_demo``: build a believable demo city, as a list of pluggable steps.

The seed runs ``STEPS`` in order inside one transaction (all or nothing). Each step gets the
shared ``SeedContext`` (the orgs, people and users made so far, a random generator of its
own, the options) and may leave things on it for later steps. A later feature adds its own
demo data by appending a step::

    from huzhu.demo.seed import Step, register_step

    def seed_activities(ctx):
        rng = ctx.rng("activities")   # its own stream: adding a step never changes others
        ...

    register_step(Step("activities", seed_activities, reset=delete_activities))

Any installed app may also keep its steps in a ``demo_steps.py`` module; those modules are
imported before seeding, so registering there is enough. ``reset`` hooks run in reverse order
before the built-in ones delete the demo city, so a step deletes whatever it made that would
otherwise block deleting people or orgs.

Personal numbers exist in plaintext only inside one batch of generated residents, on their
way into ``person_build`` (which encrypts and hashes them); nothing here prints or logs them.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import sys
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from tqdm import tqdm

from huzhu.common.audit import log_action
from huzhu.demo import generator
from huzhu.orgs.models import ALLOWED_CHILDREN, Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.people.models import Person, Tag
from huzhu.people.services import person_build

User = get_user_model()
logger = logging.getLogger(__name__)

DEFAULT_PASSWORD = "huzhu-demo"
DEFAULT_SEED = 20240501
BASE_RESIDENTS = 3000
DEFAULT_BATCH_SIZE = 1000
DEMO_CITY_CODE = "370100"
KM_PER_DEGREE = 111.32


class DemoError(Exception):
    """The demo cannot be seeded as asked; the message says what to do."""


# --- the city -----------------------------------------------------------------------------

# (name, 6-digit code, [(street, 3-digit street number, [communities])]). Names and codes
# follow 济南's real divisions closely enough to look familiar; they are demo data.
CITY_NAME = "济南市"
DISTRICTS: tuple[tuple[str, str, tuple[tuple[str, str, tuple[str, ...]], ...]], ...] = (
    (
        "历下区",
        "370102",
        (
            ("解放路街道", "001", ("历山路社区", "山大路社区", "青龙街社区")),
            ("千佛山街道", "002", ("千佛山社区", "佛山苑社区", "燕子山社区")),
            ("泉城路街道", "004", ("芙蓉街社区", "珍珠泉社区")),
        ),
    ),
    (
        "市中区",
        "370103",
        (
            ("大观园街道", "002", ("经二路社区", "大观园社区", "万紫巷社区")),
            ("舜玉路街道", "012", ("舜玉北区社区", "舜玉南区社区")),
            ("七里山街道", "009", ("七里山社区", "郎茂山社区")),
        ),
    ),
    (
        "槐荫区",
        "370104",
        (
            ("振兴街街道", "001", ("振兴街社区", "纬六路社区", "经七路社区")),
            ("青年公园街道", "007", ("青年公园社区", "西市场社区")),
        ),
    ),
)
# Community A and B: neighbours in the same street, where the worker accounts sit.
COMMUNITY_A = "历山路社区"
COMMUNITY_B = "山大路社区"

TEAM_KINDS = (
    "助老服务队",
    "环境保护服务队",
    "文明劝导服务队",
    "法律援助服务队",
    "医疗健康服务队",
    "平安巡逻服务队",
    "文化文艺服务队",
    "助学支教服务队",
    "党员先锋服务队",
)
UNITS = (
    "济南市第一实验小学",
    "山东省立医院社区卫生服务站",
    "历山路派出所",
    "齐鲁银行社区支行",
    "泉城路新华书店",
    "济南公交第三分公司",
    "山东大学附属中学",
    "中国移动泉城营业厅",
    "舜玉路菜市场",
    "槐荫区图书馆",
)
ORDINALS = "一二三四五六七八九十"

# Where the streets are (about the real 街道 offices, WGS-84): communities are placed around
# their street and grids around their community, so distances between them look real.
CITY_CENTRE = (36.662, 117.012)
STREET_CENTRES = {
    "解放路街道": (36.668, 117.040),
    "千佛山街道": (36.645, 117.034),
    "泉城路街道": (36.667, 117.019),
    "大观园街道": (36.656, 116.991),
    "舜玉路街道": (36.627, 116.998),
    "七里山街道": (36.637, 117.013),
    "振兴街街道": (36.662, 116.962),
    "青年公园街道": (36.664, 116.978),
}
COMMUNITY_SPREAD_KM = 0.9  # from the street's centre
GRID_SPREAD_KM = 0.35  # from the community's centre


# --- context and steps --------------------------------------------------------------------


@dataclass
class SeedContext:
    seed: int
    password: str
    scale: int
    base_residents: int
    batch_size: int
    progress: bool
    today: dt.date
    stdout: TextIO | None = None
    # Filled by the built-in steps, for the ones that come after.
    city: Org | None = None
    districts: list[Org] = field(default_factory=list)
    streets: list[Org] = field(default_factory=list)
    communities: list[Org] = field(default_factory=list)
    grids: dict[int, list[Org]] = field(default_factory=dict)  # community id → grids
    corps: dict[int, Org] = field(default_factory=dict)
    teams: dict[int, list[Org]] = field(default_factory=dict)
    party_branches: dict[int, Org] = field(default_factory=dict)
    association: Org | None = None
    estates: dict[int, list[generator.Estate]] = field(default_factory=dict)  # grid id → estates
    named: dict[str, Org] = field(default_factory=dict)  # "community_a", "street_ab", …
    people: dict[str, int] = field(default_factory=dict)  # marker → Person id
    users: dict[str, Any] = field(default_factory=dict)
    accounts: list[DemoAccount] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    @property
    def total_residents(self) -> int:
        return self.base_residents * self.scale

    def rng(self, name: str) -> random.Random:
        """A random stream of the step's own, so adding a step never changes the others."""
        return random.Random(f"{self.seed}:{name}")

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message + "\n")

    def bar(self, total: int, desc: str) -> tqdm:
        return tqdm(
            total=total,
            desc=desc,
            unit="人",
            disable=not self.progress,
            file=sys.stderr,
            leave=True,
        )


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[SeedContext], None]
    # Deletes what ``run`` made in the demo city ``ctx.city`` (runs in reverse step order).
    reset: Callable[[SeedContext], None] | None = None


STEPS: list[Step] = []


def register_step(step: Step, *, after: str | None = None) -> None:
    """Add ``step`` at the end (or right after the step named ``after``); re-registering
    a name replaces the earlier step in place."""
    for i, existing in enumerate(STEPS):
        if existing.name == step.name:
            STEPS[i] = step
            return
    if after is None:
        STEPS.append(step)
        return
    index = next((i for i, s in enumerate(STEPS) if s.name == after), None)
    if index is None:
        raise ValueError(f"no demo step named {after!r}")
    STEPS.insert(index + 1, step)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str  # display label
    org: str
    display_name: str


@dataclass
class SeedResult:
    created: bool
    password: str
    accounts: list[DemoAccount]
    counts: dict[str, int] = field(default_factory=dict)
    residents: int = 0
    seconds: float = 0.0
    city_id: int | None = None


# --- orgs ---------------------------------------------------------------------------------


@dataclass
class _OrgSpec:
    kind: str
    name: str
    parent: _OrgSpec | None = None
    code: str | None = None
    address: str = ""
    service_phone: str = ""
    supervision_phone: str = ""
    sort_order: int = 0
    org: Org | None = None
    depth: int = 0
    latitude: float | None = None
    longitude: float | None = None


def _landline(rng: random.Random) -> str:
    return f"0531-8{rng.randrange(10**6, 10**7)}"


def _org_specs(rng: random.Random) -> list[_OrgSpec]:
    specs: list[_OrgSpec] = []

    def add(kind: str, name: str, parent: _OrgSpec | None = None, **kw: Any) -> _OrgSpec:
        if parent is not None and kind not in ALLOWED_CHILDREN[parent.kind]:
            raise DemoError(f"{parent.kind} 下不能设立 {kind}")  # a bug in the data above
        spec = _OrgSpec(kind, name, parent, depth=parent.depth + 1 if parent else 0, **kw)
        specs.append(spec)
        return spec

    city = add(OrgKind.CITY, CITY_NAME, code=DEMO_CITY_CODE, address="济南市历下区龙鼎大道1号")
    association = add(
        OrgKind.ASSOCIATION, f"{CITY_NAME}社区志愿者协会", city, service_phone=_landline(rng)
    )
    units = iter(UNITS)
    for d_order, (d_name, d_code, streets) in enumerate(DISTRICTS, 1):
        district = add(OrgKind.DISTRICT, d_name, city, code=d_code, sort_order=d_order)
        add(OrgKind.BRANCH, f"{d_name}社区志愿者分会", association, sort_order=d_order)
        for s_order, (s_name, s_no, communities) in enumerate(streets, 1):
            street = add(
                OrgKind.STREET,
                s_name,
                district,
                code=f"{d_code}{s_no}000",
                address=f"{d_name}{s_name.removesuffix('街道')}路{rng.randint(1, 200)}号",
                service_phone=_landline(rng),
                sort_order=s_order,
            )
            for c_order, c_name in enumerate(communities, 1):
                community = add(
                    OrgKind.COMMUNITY,
                    c_name,
                    street,
                    code=f"{d_code}{s_no}{c_order:03d}",
                    address=f"{d_name}{s_name}{c_name.removesuffix('社区')}{rng.randint(1, 99)}号",
                    service_phone=_landline(rng),
                    supervision_phone=_landline(rng),
                    sort_order=c_order,
                )
                for g in range(rng.randint(3, 6)):
                    add(OrgKind.GRID, f"{c_name}第{ORDINALS[g]}网格", community, sort_order=g + 1)
                corps = add(OrgKind.CORPS, f"{c_name}志愿者总队", community)
                for t_order, team in enumerate(rng.sample(TEAM_KINDS, rng.randint(2, 4)), 1):
                    add(OrgKind.TEAM, f"{c_name}{team}", corps, sort_order=t_order)
                branch = add(OrgKind.PARTY_BRANCH, f"{c_name}党支部", community)
                for p in range(rng.randint(2, 3)):
                    add(OrgKind.PARTY_GROUP, f"第{ORDINALS[p]}党小组", branch, sort_order=p + 1)
                if rng.random() < 0.5:
                    unit = next(units, None)
                    if unit:
                        add(OrgKind.UNIT, unit, community)
    return specs


def _create_orgs(specs: list[_OrgSpec]) -> None:
    """Bulk insert level by level; paths are ``<parent path><id>/`` like ``org_create``."""
    for depth in range(max(s.depth for s in specs) + 1):
        level = [s for s in specs if s.depth == depth]
        for spec in level:
            parent = spec.parent.org if spec.parent else None
            spec.org = Org(
                parent=parent,
                kind=spec.kind,
                name=spec.name,
                division_code=spec.code,
                address=spec.address,
                service_phone=spec.service_phone,
                supervision_phone=spec.supervision_phone,
                sort_order=spec.sort_order,
                latitude=spec.latitude,
                longitude=spec.longitude,
                path=f"/new-{uuid.uuid4().hex}/",
                depth=depth,
            )
        orgs = Org.objects.bulk_create([s.org for s in level])
        for spec, org in zip(level, orgs, strict=True):
            spec.org = org
            org.path = f"{org.parent.path if org.parent else '/'}{org.pk}/"
        Org.objects.bulk_update(orgs, ["path"])


def _near(rng: random.Random, centre: tuple[float, float], km: float) -> tuple[float, float]:
    """A place up to ``km`` from ``centre``, uniform over the disc, rounded to ~0.1 m."""
    distance, bearing = km * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    d_lat = distance * math.cos(bearing) / KM_PER_DEGREE
    d_lng = distance * math.sin(bearing) / (KM_PER_DEGREE * math.cos(math.radians(centre[0])))
    return round(centre[0] + d_lat, 6), round(centre[1] + d_lng, 6)


def _place(specs: list[_OrgSpec], rng: random.Random) -> None:
    """Give every community and grid a centre: around its street's office (a street not in
    ``STREET_CENTRES`` lies somewhere in the city), grids around their community."""
    streets: dict[int, tuple[float, float]] = {}
    for spec in specs:
        parent = spec.parent
        if spec.kind == OrgKind.COMMUNITY and parent is not None:
            if id(parent) not in streets:
                streets[id(parent)] = STREET_CENTRES.get(parent.name) or _near(
                    rng, CITY_CENTRE, 4.0
                )
            spec.latitude, spec.longitude = _near(rng, streets[id(parent)], COMMUNITY_SPREAD_KM)
        elif spec.kind == OrgKind.GRID and parent is not None and parent.latitude is not None:
            centre = (parent.latitude, parent.longitude)
            spec.latitude, spec.longitude = _near(rng, centre, GRID_SPREAD_KM)  # type: ignore[arg-type]


def seed_orgs(ctx: SeedContext) -> None:
    specs = _org_specs(ctx.rng("orgs"))
    _place(specs, ctx.rng("places"))  # its own stream: the tree itself stays as it was
    codes = [s.code for s in specs if s.code]
    clash = Org.objects.filter(division_code__in=codes).values_list("name", flat=True)[:3]
    if clash:
        raise DemoError(
            "区划代码与已有组织冲突（" + "、".join(clash) + "），无法生成演示城市；"
            "请在空数据库中生成，或先删除这些组织。"
        )
    _create_orgs(specs)
    for spec in specs:
        org = spec.org
        assert org is not None
        ctx.counts[f"org.{org.kind}"] += 1
        parent_id = org.parent_id
        match org.kind:
            case OrgKind.CITY:
                ctx.city = org
            case OrgKind.DISTRICT:
                ctx.districts.append(org)
            case OrgKind.STREET:
                ctx.streets.append(org)
            case OrgKind.COMMUNITY:
                ctx.communities.append(org)
            case OrgKind.GRID:
                ctx.grids.setdefault(parent_id, []).append(org)
            case OrgKind.CORPS:
                ctx.corps[parent_id] = org
            case OrgKind.PARTY_BRANCH:
                ctx.party_branches[parent_id] = org
            case OrgKind.ASSOCIATION:
                ctx.association = org
    corps_ids = {corps.pk: community_id for community_id, corps in ctx.corps.items()}
    for spec in specs:
        if spec.kind == OrgKind.TEAM and spec.org is not None:
            ctx.teams.setdefault(corps_ids[spec.org.parent_id], []).append(spec.org)
    a = next(c for c in ctx.communities if c.name == COMMUNITY_A)
    b = next(c for c in ctx.communities if c.name == COMMUNITY_B)
    street = next(s for s in ctx.streets if s.pk == a.parent_id)
    ctx.named.update(
        city=ctx.city,
        district_ab=next(d for d in ctx.districts if d.pk == street.parent_id),
        street_ab=street,
        community_a=a,
        community_b=b,
        team_a=ctx.teams[a.pk][0],
        party_branch_a=ctx.party_branches[a.pk],
    )
    ctx.say(f"组织：{len(specs)} 个（{len(ctx.communities)} 个社区）")


def reset_orgs(ctx: SeedContext) -> None:
    city = ctx.city
    assert city is not None
    tree = Org.objects.filter(path__startswith=city.path)
    for depth in sorted(set(tree.values_list("depth", flat=True)), reverse=True):
        Org.objects.filter(path__startswith=city.path, depth=depth).delete()


# --- residents ----------------------------------------------------------------------------


@dataclass
class _Resident:
    org: Org  # the grid
    address: str
    member: generator.Member


def _district_of(ctx: SeedContext, community: Org) -> Org:
    street = next(s for s in ctx.streets if s.pk == community.parent_id)
    return next(d for d in ctx.districts if d.pk == street.parent_id)


def _resident_stream(
    ctx: SeedContext, gen: generator.HouseholdGenerator, rng: random.Random
) -> Iterator[_Resident]:
    """Households streamed one by one until ``total_residents`` people are out."""
    used: set[str] = set()
    places = []  # (community, grid, address prefix, district code)
    for community in ctx.communities:
        district = _district_of(ctx, community)
        street = next(s for s in ctx.streets if s.pk == community.parent_id)
        for grid in ctx.grids[community.pk]:
            ctx.estates[grid.pk] = generator.estates(rng, rng.randint(1, 2), used)
            places.append(
                (community, grid, f"{district.name}{street.name}", district.division_code)
            )
    weights = {c.pk: rng.uniform(0.6, 1.4) for c in ctx.communities}
    cum_weights = list(accumulate(weights[p[0].pk] / len(ctx.grids[p[0].pk]) for p in places))
    a_first_grid = next(p for p in places if p[0] == ctx.named["community_a"])

    def household(place: tuple, kind: str | None = None) -> list[_Resident]:
        _community, grid, prefix, area = place
        address = rng.choice(ctx.estates[grid.pk]).address(rng, prefix)
        return [_Resident(grid, address, m) for m in gen.household(area, kind)]

    # The demo resident (an elderly person living alone) and the demo volunteer (a young
    # mother) live in community A, so their accounts have a home of their own.
    fixed = household(a_first_grid, "single_elderly")
    fixed[0].member.marker = "resident"
    family = household(a_first_grid, "young_family")
    family[1].member.marker = "volunteer"
    remaining = ctx.total_residents
    for resident in [*fixed, *family]:
        if remaining <= 0:
            return
        remaining -= 1
        yield resident
    while remaining > 0:
        for resident in household(rng.choices(places, cum_weights=cum_weights)[0]):
            if remaining <= 0:
                return
            remaining -= 1
            yield resident


def _build(resident: _Resident) -> Person:
    m = resident.member
    return person_build(
        org=resident.org,
        name=m.name,
        id_number=m.id_number,
        phone=m.phone,
        address=resident.address,
    )


def _save_batch(
    ctx: SeedContext,
    gen: generator.HouseholdGenerator,
    batch: list[_Resident],
    tag_ids: dict[str, int],
) -> None:
    """Validate and encrypt a batch, redraw clashing ID numbers, insert rows and tags."""
    persons = [_build(r) for r in batch]
    while True:
        seen: set[str] = set()
        clashes = []
        for i, person in enumerate(persons):
            if person.id_number_hash in seen:
                clashes.append(i)
            seen.add(person.id_number_hash)
        taken = set(
            Person.objects.filter(id_number_hash__in=seen).values_list("id_number_hash", flat=True)
        )
        clashes += [
            i for i, p in enumerate(persons) if p.id_number_hash in taken and i not in clashes
        ]
        if not clashes:
            break
        for i in clashes:
            gen.new_id_number(batch[i].member)
            persons[i] = _build(batch[i])
    Person.objects.bulk_create(persons)
    Through = Person.tags.through
    links = []
    for resident, person in zip(batch, persons, strict=True):
        if resident.member.marker:
            ctx.people[resident.member.marker] = person.pk
        for tag in sorted(resident.member.tags):
            if tag in tag_ids:
                links.append(Through(person_id=person.pk, tag_id=tag_ids[tag]))
                ctx.counts[f"tag.{tag}"] += 1
    Through.objects.bulk_create(links)
    ctx.counts["residents"] += len(persons)
    ctx.counts["phones"] += sum(1 for p in persons if p.phone_hash)
    ctx.counts["aged_60_plus"] += sum(1 for r in batch if r.member.age >= 60)


def seed_residents(ctx: SeedContext) -> None:
    rng = ctx.rng("residents")
    gen = generator.HouseholdGenerator(rng, ctx.today)
    tag_ids = dict(Tag.objects.values_list("name", "id"))
    batch: list[_Resident] = []
    with ctx.bar(ctx.total_residents, "居民") as bar:
        for resident in _resident_stream(ctx, gen, rng):
            batch.append(resident)
            if len(batch) >= ctx.batch_size:
                _save_batch(ctx, gen, batch, tag_ids)
                bar.update(len(batch))
                batch = []
        if batch:
            _save_batch(ctx, gen, batch, tag_ids)
            bar.update(len(batch))
    ctx.say(
        f"居民：{ctx.counts['residents']} 人，其中60岁以上 {ctx.counts['aged_60_plus']} 人，"
        f"登记手机号 {ctx.counts['phones']} 人"
    )


def reset_residents(ctx: SeedContext) -> None:
    assert ctx.city is not None
    people = Person.objects.filter(org__path__startswith=ctx.city.path).order_by("pk")
    while ids := list(people.values_list("pk", flat=True)[:DEFAULT_BATCH_SIZE]):
        # In chunks, so a --scale 50 city is not loaded into memory to be deleted.
        Person.tags.through.objects.filter(person_id__in=ids).delete()
        Person.objects.filter(pk__in=ids).delete()


# --- accounts -----------------------------------------------------------------------------

# (username, role or None, org key in ctx.named, display name or None = the linked person's,
#  marker of the linked Person)
ACCOUNTS: tuple[tuple[str, str | None, str, str | None, str], ...] = (
    ("city-admin", Role.ADMIN, "city", "孙立明", ""),
    ("street-admin", Role.ADMIN, "street_ab", "赵红梅", ""),
    ("worker-a", Role.WORKER, "community_a", "王芳", ""),
    ("worker-b", Role.WORKER, "community_b", "李静", ""),
    ("leader", Role.TEAM_LEADER, "team_a", "刘志强", ""),
    ("volunteer", None, "community_a", None, "volunteer"),
    ("resident", None, "community_a", None, "resident"),
    ("party-worker", Role.PARTY_WORKER, "party_branch_a", "陈建华", ""),
    ("supervisor", Role.SUPERVISOR, "district_ab", "杨国庆", ""),
)
DEMO_USERNAMES = tuple(a[0] for a in ACCOUNTS)
_PLAIN_ROLES = {"volunteer": "志愿者", "resident": "居民"}


def seed_accounts(ctx: SeedContext) -> None:
    taken = list(
        User.objects.filter(username__in=DEMO_USERNAMES).values_list("username", flat=True)
    )
    if taken:
        raise DemoError(
            f"演示账号已存在：{'、'.join(taken)}。请加 --reset 删除旧的演示数据后重新生成。"
        )
    # One hash for every demo login: they share one password by design, and hashing it once
    # instead of nine times saves seconds on every seed.
    encoded = make_password(ctx.password)
    for username, role, org_key, display_name, marker in ACCOUNTS:
        org = ctx.named[org_key]
        person_id = ctx.people.get(marker) if marker else None
        if marker and person_id is None:
            raise DemoError(f"演示账号 {username} 需要至少几名居民，请增大 --residents")
        person = Person.objects.get(pk=person_id) if person_id else None
        name = display_name or (person.name if person else "")
        user = User.objects.create(username=username, first_name=name, password=encoded)
        ctx.users[username] = user
        if role:
            RoleGrant.objects.create(user=user, org=org, role=role)
        if person is not None:
            Person.objects.filter(pk=person.pk).update(user=user)
            org = person.org.parent or org  # the community the grid belongs to
        label = Role(role).label if role else _PLAIN_ROLES[username]
        ctx.accounts.append(DemoAccount(username, str(label), org.name, name))
    ctx.counts["accounts"] = len(ACCOUNTS)


def reset_accounts(ctx: SeedContext) -> None:
    User.objects.filter(username__in=DEMO_USERNAMES).delete()


register_step(Step("orgs", seed_orgs, reset_orgs))
register_step(Step("residents", seed_residents, reset_residents))
register_step(Step("accounts", seed_accounts, reset_accounts))


# --- entry points -------------------------------------------------------------------------


def demo_city() -> Org | None:
    return Org.objects.filter(kind=OrgKind.CITY, division_code=DEMO_CITY_CODE).first()


def existing_accounts() -> list[DemoAccount]:
    """The demo logins as they are in the database now."""
    users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES)}
    result = []
    for username, *_rest in ACCOUNTS:
        user = users.get(username)
        if user is None:
            continue
        grant = RoleGrant.objects.filter(user=user).select_related("org").first()
        person = Person.objects.filter(user=user).select_related("org__parent").first()
        if grant is not None:
            label, org_name = str(grant.get_role_display()), grant.org.name
        else:
            label = _PLAIN_ROLES.get(username, "")
            org = person.org if person else None
            if org is not None and org.kind == OrgKind.GRID and org.parent is not None:
                org = org.parent
            org_name = org.name if org else ""
        result.append(DemoAccount(username, label, org_name, user.first_name))
    return result


def reset_demo(*, stdout: TextIO | None = None) -> bool:
    """Delete the demo city with everything in it and the demo users; False if none."""
    city = demo_city()
    ctx = SeedContext(
        seed=DEFAULT_SEED,
        password="",
        scale=1,
        base_residents=0,
        batch_size=DEFAULT_BATCH_SIZE,
        progress=False,
        today=timezone.localdate(),
        stdout=stdout,
        city=city,
    )
    with transaction.atomic():
        for step in reversed(STEPS):
            if step.reset is None or (city is None and step.name != "accounts"):
                continue
            step.reset(ctx)
    if city is not None:
        ctx.say(f"已删除演示城市“{city.name}”及其全部数据")
    return city is not None


def _load_plugin_steps() -> None:
    autodiscover_modules("demo_steps")


def seed_demo(
    *,
    password: str = DEFAULT_PASSWORD,
    scale: int = 1,
    residents: int | None = None,
    seed: int = DEFAULT_SEED,
    progress: bool = True,
    stdout: TextIO | None = None,
    reset: bool = False,
    if_empty: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    today: dt.date | None = None,
) -> SeedResult:
    """Build the demo city; see the module docstring. Raises ``DemoError`` (with a message
    for the person at the terminal) when a city exists and neither ``reset`` nor
    ``if_empty`` says what to do, and ``ValidationError`` for a password that is too weak."""
    if scale < 1:
        raise DemoError("--scale 必须是不小于1的整数")
    if residents is not None and residents < 1:
        raise DemoError("--residents 必须是不小于1的整数")
    if batch_size < 1:
        raise DemoError("--batch-size 必须是不小于1的整数")
    started = time.perf_counter()
    existing = Org.objects.filter(kind=OrgKind.CITY).order_by("pk").first()
    if existing is not None and not reset:
        if if_empty:
            return SeedResult(
                created=False,
                password=password,
                accounts=existing_accounts(),
                city_id=existing.pk,
            )
        raise DemoError(
            f"数据库中已有城市“{existing.name}”，未生成演示数据。"
            "重新生成请加 --reset（会删除演示城市及其全部数据和演示账号）；"
            "只查看演示账号请加 --if-empty。"
        )
    validate_password(password)
    _load_plugin_steps()
    if reset:
        reset_demo(stdout=stdout)
    ctx = SeedContext(
        seed=seed,
        password=password,
        scale=scale,
        base_residents=BASE_RESIDENTS if residents is None else residents,
        batch_size=batch_size,
        progress=progress,
        today=today or timezone.localdate(),
        stdout=stdout,
    )
    with transaction.atomic():
        for step in STEPS:
            step.run(ctx)
        counts = {k: v for k, v in sorted(ctx.counts.items())}
        log_action(
            None,
            "demo.seed",
            ctx.city,
            {
                "seed": seed,
                "scale": scale,
                "residents": ctx.counts["residents"],
                "counts": counts,
                "accounts": [a.username for a in ctx.accounts],
                "steps": [s.name for s in STEPS],
            },
        )
    seconds = time.perf_counter() - started
    logger.info(
        "demo.seed: %d orgs, %d residents, %d accounts in %.1f s (seed %d, scale %d)",
        sum(v for k, v in counts.items() if k.startswith("org.")),
        ctx.counts["residents"],
        len(ctx.accounts),
        seconds,
        seed,
        scale,
    )
    return SeedResult(
        created=True,
        password=password,
        accounts=ctx.accounts,
        counts=counts,
        residents=ctx.counts["residents"],
        seconds=seconds,
        city_id=ctx.city.pk if ctx.city else None,
    )


# --- output -------------------------------------------------------------------------------


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def logins_table(accounts: list[DemoAccount], password: str) -> str:
    header = ("用户名", "角色", "组织", "姓名")
    rows = [header, *((a.username, a.role, a.org, a.display_name) for a in accounts)]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"所有演示账号的密码：{password}")
    return "\n".join(lines)
