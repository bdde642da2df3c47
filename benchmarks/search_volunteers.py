"""Volunteer search among N volunteers (issue 3; DESIGN.md §6).

Budget: three filters among 1,000,000 volunteers on PostgreSQL, median ≤ 100 ms.

    .venv/bin/python -m benchmarks.search_volunteers [--quick] [--volunteers N]
        [--database-url postgres://postgres@127.0.0.1:5432/] [--keep] [--reuse] [--explain]

1. Builds its own database (``huzhu_bench_search_volunteers`` on the given PostgreSQL server,
   or a temporary SQLite file) and fills it: a city of ~N/1000 communities under streets and
   districts, N volunteers (each with a person) whose ages, skills, categories, people served,
   availability, hours and stars come from the demo generators
   (``huzhu.volunteers.demo_steps.profile_for``), and team memberships. Rows are streamed in
   COPY (PostgreSQL) or multi-row INSERT (SQLite) batches; ID and phone ciphertexts come from a
   small precomputed pool, since the benchmark measures search, not encryption. Then ANALYZE.
2. Measures ``volunteers.selectors.volunteer_list`` — the real selector, as a district admin —
   fetching the first page (50 rows) and the count, for two mixes of three filters with values
   varied on every repetition:
   A. street or community subtree + a skill + an availability slot;
   B. a service category + a minimum star + an age band.
3. Reference, in the same run: the same queries with index use switched off (PostgreSQL:
   ``enable_indexscan``/``bitmapscan``/``indexonlyscan`` off for the transaction, so every
   table is scanned in full), or on SQLite a full scan that scores every volunteer in Python.
   Prints the ratio reference / measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from benchmarks import common

TOPIC = "search_volunteers"
BUDGET_MS = 100
PAGE = 50
CHUNK = 20_000
PER_COMMUNITY = 1000  # volunteers per community: a district of 100 communities has 100,000


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = common.parser(TOPIC, "Volunteer search with three filters (median ms, budget 100)")
    p.add_argument(
        "--volunteers", type=int, default=None, help="default 1,000,000 (--quick 20,000)"
    )
    p.add_argument("--repeat", type=int, default=None, help="repetitions per mix (default 30)")
    p.add_argument("--seed", type=int, default=20240501)
    p.add_argument("--explain", action="store_true", help="print the query plans (PostgreSQL)")
    args = p.parse_args(argv)
    if args.volunteers is None:
        args.volunteers = 20_000 if args.quick else 1_000_000
    if args.repeat is None:
        args.repeat = 30
    if args.volunteers < 100:
        p.error("--volunteers must be at least 100")
    return args


# --- filling ------------------------------------------------------------------------------


def _copy(model: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Stream rows into ``model``'s table: COPY on PostgreSQL, multi-row INSERT on SQLite."""
    from django.db import connection

    from huzhu.volunteers.demo_steps import insert_rows

    meta = model._meta
    db_columns = [meta.get_field(c).column for c in columns]
    n = 0
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        sql = f"COPY {quote(meta.db_table)} ({', '.join(quote(c) for c in db_columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= 5000:
            insert_rows(model, columns, chunk)
            n += len(chunk)
            chunk = []
    insert_rows(model, columns, chunk)
    return n + len(chunk)


def _reset_sequences(models: Iterable[Any]) -> None:
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(sql)


def build_orgs(n_volunteers: int) -> dict[str, Any]:
    """city → districts → streets → communities → 3 grids, a corps and 2 teams each."""
    from huzhu.demo.seed import _create_orgs, _OrgSpec
    from huzhu.orgs.models import Org, OrgKind

    communities = max(4, n_volunteers // PER_COMMUNITY)
    streets = max(2, communities // 10)
    districts = max(2, streets // 10)
    specs: list[_OrgSpec] = []

    def add(kind: str, name: str, parent: _OrgSpec | None = None, **kw: Any) -> _OrgSpec:
        spec = _OrgSpec(kind, name, parent, depth=parent.depth + 1 if parent else 0, **kw)
        specs.append(spec)
        return spec

    city = add(OrgKind.CITY, "基准市", code="990100")
    district_specs = [
        add(OrgKind.DISTRICT, f"第{d + 1}区", city, code=f"99{d + 1:04d}") for d in range(districts)
    ]
    street_specs = [
        add(OrgKind.STREET, f"第{s + 1}街道", district_specs[s % districts]) for s in range(streets)
    ]
    community_specs, grid_specs, team_specs = [], [], []
    for c in range(communities):
        community = add(OrgKind.COMMUNITY, f"第{c + 1}社区", street_specs[c % streets])
        community_specs.append(community)
        grid_specs.append(
            [add(OrgKind.GRID, f"第{c + 1}社区第{g + 1}网格", community) for g in range(3)]
        )
        corps = add(OrgKind.CORPS, f"第{c + 1}社区志愿者总队", community)
        team_specs.append(
            [add(OrgKind.TEAM, f"第{c + 1}社区第{t + 1}服务队", corps) for t in range(2)]
        )
    _create_orgs(specs)
    return {
        "city": city.org,
        "districts": [s.org for s in district_specs],
        "streets": [s.org for s in street_specs],
        "communities": [s.org for s in community_specs],
        "grids": [[g.org.pk for g in gs] for gs in grid_specs],
        "teams": [[t.org.pk for t in ts] for ts in team_specs],
        "count": Org.objects.count(),
    }


def _age_pool(rng: random.Random, size: int) -> list[tuple[int, Any]]:
    """(age, demo profile) pairs drawn like the demo's volunteers, reused row after row."""
    from huzhu.volunteers.demo_steps import _age_weight, profile_for, star_granted

    ages = list(range(16, 86))
    weights = [_age_weight(a) * (1.0 if a < 70 else 0.6) for a in ages]
    pool = []
    for age in rng.choices(ages, weights, k=size):
        profile = profile_for(rng, age)
        profile.star_level = star_granted(rng, profile.historical_minutes)
        pool.append((age, profile))
    return pool


def fill(n: int, seed: int) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.utils import timezone

    from huzhu.common import crypto
    from huzhu.demo import generator
    from huzhu.people.models import Person
    from huzhu.people.services import name_pinyin
    from huzhu.volunteers.demo_steps import Lists
    from huzhu.volunteers.models import TeamMembership, Volunteer, VolunteerStatus

    rng = random.Random(seed)
    today = timezone.localdate()
    now = timezone.now()
    with common.Stopwatch() as sw, transaction.atomic():
        orgs = build_orgs(n)
        lists = Lists.load()
        pool = _age_pool(rng, min(n, 50_000))
        id_ciphers = [crypto.encrypt(f"99010019800101{i:04d}") for i in range(64)]
        phone_ciphers = [crypto.encrypt(f"139{i:08d}") for i in range(64)]
        pinyin: dict[str, tuple[str, str]] = {}
        n_comm = len(orgs["communities"])
        statuses = [
            (VolunteerStatus.REGISTERED, 95),
            (VolunteerStatus.PENDING, 2),
            (VolunteerStatus.SUSPENDED, 1),
            (VolunteerStatus.CANCELLED, 2),
        ]
        status_values = [s for s, _ in statuses]
        status_weights = [w for _, w in statuses]

        def person_rows(chunk: list[tuple[int, int, int, str]]) -> Iterator[tuple]:
            for pk, _c, k, _s in chunk:
                age, _profile = pool[k]
                gender = "M" if pk % 2 else "F"
                birth = today - dt.timedelta(days=age * 365 + 30 + pk % 300)
                name = generator.full_name(rng, gender, birth.year)
                if name not in pinyin:
                    pinyin[name] = name_pinyin(name)
                initials, full = pinyin[name]
                digest = hashlib.sha256(f"bench:{pk}".encode()).hexdigest()
                yield (
                    pk,
                    orgs["grids"][_c][pk % 3],
                    name,
                    initials,
                    full,
                    id_ciphers[pk % 64],
                    digest,
                    f"9901**********{pk % 10000:04d}",
                    gender,
                    birth,
                    phone_ciphers[pk % 64],
                    digest[::-1],
                    f"139****{pk % 10000:04d}",
                    "",
                    "active",
                    "",
                    now,
                    now,
                )

        def volunteer_rows(chunk: list[tuple[int, int, int, str]]) -> Iterator[tuple]:
            for pk, c, k, status in chunk:
                _age, p = pool[k]
                yield (
                    pk,
                    pk,
                    f"V2026{pk:07d}",
                    orgs["grids"][c][pk % 3],
                    status,
                    "",
                    "worker",
                    p.political_status,
                    p.availability,
                    p.publish_name,
                    "",
                    "",
                    "",
                    p.historical_minutes,
                    p.historical_minutes,
                    p.star_level if status == VolunteerStatus.REGISTERED else 0,
                    "",
                    now,
                    now,
                )

        def link_rows(chunk: list[tuple[int, int, int, str]], attr: str, ids: dict) -> Iterator:
            for pk, _c, k, _s in chunk:
                profile = pool[k][1]
                names = getattr(profile, attr)
                if attr == "skills":
                    names = [*names, *profile.free_tags]
                    for name in names:
                        yield (pk, ids.get(name) or lists.free_tags[name])
                else:
                    for name in names:
                        yield (pk, ids[name])

        def member_rows(chunk: list[tuple[int, int, int, str]]) -> Iterator[tuple]:
            for pk, c, _k, status in chunk:
                if status == VolunteerStatus.REGISTERED and pk % 2 == 0:
                    yield (orgs["teams"][c][pk % 4 // 2], pk, "member", today)

        person_cols = (
            "id", "org_id", "name", "name_initials", "name_pinyin", "id_number_encrypted",
            "id_number_hash", "id_number_masked", "gender", "birth_date", "phone_encrypted",
            "phone_hash", "phone_masked", "address", "status", "notes", "created_at",
            "updated_at",
        )  # fmt: skip
        volunteer_cols = (
            "id", "person_id", "number", "org_id", "status", "status_reason", "source",
            "political_status", "availability", "publish_name", "guardian_name",
            "guardian_phone_encrypted", "guardian_phone_masked", "historical_minutes",
            "recorded_minutes", "star_level", "notes", "registered_at", "updated_at",
        )  # fmt: skip
        Skills = Volunteer.skills.through
        Categories = Volunteer.categories.through
        Served = Volunteer.served_groups.through
        counts = {"persons": 0, "volunteers": 0, "links": 0, "members": 0}
        for start in range(1, n + 1, CHUNK):
            plan = [
                (
                    pk,
                    rng.randrange(n_comm),
                    rng.randrange(len(pool)),
                    rng.choices(status_values, status_weights)[0],
                )
                for pk in range(start, min(n, start + CHUNK - 1) + 1)
            ]
            counts["persons"] += _copy(Person, person_cols, person_rows(plan))
            counts["volunteers"] += _copy(Volunteer, volunteer_cols, volunteer_rows(plan))
            counts["links"] += _copy(
                Skills, ("volunteer_id", "skill_id"), link_rows(plan, "skills", lists.skills)
            )
            counts["links"] += _copy(
                Categories,
                ("volunteer_id", "servicecategory_id"),
                link_rows(plan, "categories", lists.categories),
            )
            counts["links"] += _copy(
                Served, ("volunteer_id", "servedgroup_id"), link_rows(plan, "served", lists.served)
            )
            counts["members"] += _copy(
                TeamMembership, ("team_id", "volunteer_id", "role", "joined_on"), member_rows(plan)
            )
            if start // CHUNK % 10 == 0:
                print(f"# filled {counts['volunteers']:,} volunteers", file=sys.stderr, flush=True)
        _reset_sequences([Person, Volunteer, Skills, Categories, Served, TeamMembership])
    with common.Stopwatch() as analyze, connection.cursor() as cursor:
        # A settled table, as autovacuum leaves it: statistics and the visibility map.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    counts["orgs"] = orgs["count"]
    common.say(
        f"filled {counts['volunteers']:,} volunteers, {counts['links']:,} classification links, "
        f"{counts['members']:,} team memberships, {orgs['count']:,} orgs "
        f"in {sw.seconds:.1f} s ({counts['volunteers'] / sw.seconds:,.0f} volunteers/s); "
        f"VACUUM ANALYZE {analyze.seconds:.1f} s"
    )
    return counts


# --- measuring ----------------------------------------------------------------------------


def district_admin_scope() -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model

    from huzhu.orgs.models import Org, OrgKind, RoleGrant
    from huzhu.orgs.roles import Role
    from huzhu.orgs.scope import Scope

    district = Org.objects.filter(kind=OrgKind.DISTRICT).order_by("path").first()
    user, _ = get_user_model().objects.get_or_create(username="bench-district-admin")
    RoleGrant.objects.get_or_create(user=user, org=district, role=Role.ADMIN)
    return Scope.for_user(user), district


def filter_mixes(district: Any, repeat: int, seed: int) -> list[tuple[str, Any]]:
    """(mix, VolunteerFilters) with values varied on every repetition."""
    from huzhu.orgs.models import Org, OrgKind
    from huzhu.volunteers.demo_steps import SKILL_WEIGHTS
    from huzhu.volunteers.models import ServiceCategory, Skill
    from huzhu.volunteers.selectors import VolunteerFilters

    rng = random.Random(seed + 1)
    inside = Org.objects.filter(path__startswith=district.path)
    streets = list(inside.filter(kind=OrgKind.STREET).order_by("path"))
    communities = list(inside.filter(kind=OrgKind.COMMUNITY).order_by("path"))
    skills = dict(Skill.objects.filter(is_curated=True).values_list("name", "id"))
    skill_names = [s for s in SKILL_WEIGHTS if s in skills]
    slots = ["sat_am", "sat_pm", "sun_am", "sun_pm", "mon_eve", "wed_eve", "tue_am", "thu_pm"]
    categories = list(ServiceCategory.objects.values_list("id", flat=True))
    bands = [(40, 60), (50, 70), (30, 50), (60, 75), (18, 35)]
    mixes = []
    for i in range(repeat):
        org = rng.choice(streets) if i % 2 == 0 else rng.choice(communities)
        skill = skills[rng.choices(skill_names, [SKILL_WEIGHTS[s] for s in skill_names])[0]]
        mixes.append(("A", VolunteerFilters(org=org, skill_ids=[skill], slots=[rng.choice(slots)])))
    for _ in range(repeat):
        low, high = rng.choice(bands)
        mixes.append(
            (
                "B",
                VolunteerFilters(
                    category_ids=[rng.choice(categories)],
                    min_star=rng.choice((1, 1, 2)),
                    min_age=low,
                    max_age=high,
                ),
            )
        )
    return mixes


SPLIT: dict[str, list[float]] = {"page": [], "count": []}


def run_query(scope: Any, filters: Any) -> tuple[list[int], int]:
    """The first page (50 rows, with person and org) and the count, as the list API does."""
    import time

    from huzhu.volunteers.selectors import volunteer_list

    started = time.perf_counter()
    qs = volunteer_list(scope=scope, filters=filters)
    page = [v.pk for v in qs[:PAGE]]
    middle = time.perf_counter()
    count = qs.count()
    SPLIT["page"].append((middle - started) * 1000)
    SPLIT["count"].append((time.perf_counter() - middle) * 1000)
    return page, count


def without_indexes(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` with PostgreSQL's index scans switched off for one transaction."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        return fn()


def python_scan(scope: Any, filters: Any) -> tuple[list[int], int]:
    """The same search as a full scan in Python: read every volunteer the scope may see and
    score each one against the filters."""
    from django.utils import timezone

    from huzhu.volunteers.availability import to_mask
    from huzhu.volunteers.models import Volunteer
    from huzhu.volunteers.selectors import _years_before, visible_volunteers

    today = timezone.localdate()
    mask = to_mask(filters.slots)
    skills, categories = set(filters.skill_ids), set(filters.category_ids)
    has_skill: dict[int, bool] = {}
    has_category: dict[int, bool] = {}
    if skills:
        for vid, sid in Volunteer.skills.through.objects.values_list("volunteer_id", "skill_id"):
            has_skill[vid] = has_skill.get(vid, False) or sid in skills
    if categories:
        rows = Volunteer.categories.through.objects.values_list(
            "volunteer_id", "servicecategory_id"
        )
        for vid, cid in rows:
            has_category[vid] = has_category.get(vid, False) or cid in categories
    oldest = _years_before(today, filters.max_age + 1) if filters.max_age is not None else None
    youngest = _years_before(today, filters.min_age) if filters.min_age is not None else None
    hits = []
    for pk, number, path, availability, star, birth in visible_volunteers(scope).values_list(
        "pk", "number", "org__path", "availability", "star_level", "person__birth_date"
    ):
        if filters.org is not None and not path.startswith(filters.org.path):
            continue
        if skills and not has_skill.get(pk):
            continue
        if categories and not has_category.get(pk):
            continue
        if mask and availability & mask != mask:
            continue
        if filters.min_star and star < filters.min_star:
            continue
        if youngest is not None and birth > youngest:
            continue
        if oldest is not None and birth <= oldest:
            continue
        hits.append((number, pk))
    hits.sort()
    return [pk for _n, pk in hits[:PAGE]], len(hits)


def explain(scope: Any, filters: Any) -> str:
    from huzhu.volunteers.selectors import volunteer_list

    qs = volunteer_list(scope=scope, filters=filters)
    return qs[:PAGE].explain(analyze=True, buffers=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    db = common.setup_database(TOPIC, args.database_url, keep=args.keep, reuse=args.reuse)
    try:
        from django.db import connection

        from huzhu.volunteers.models import Volunteer

        on_postgres = connection.vendor == "postgresql"
        common.say(
            f"# {TOPIC}: {args.volunteers:,} volunteers on {connection.vendor} ({db.name}), "
            f"{args.repeat} repetitions per mix"
        )
        have = Volunteer.objects.count() if db.existed else 0
        if have == args.volunteers:
            common.say(f"reusing the database with {have:,} volunteers")
        else:
            if have:
                raise SystemExit(f"{db.name} holds {have:,} volunteers; drop it or omit --reuse")
            fill(args.volunteers, args.seed)
        scope, district = district_admin_scope()
        mixes = filter_mixes(district, args.repeat, args.seed)
        visible = Volunteer.objects.filter(org__path__startswith=district.path).count()
        common.say(f"scope: admin of {district.name} ({visible:,} volunteers visible)")

        results: dict[int, tuple[list[int], int]] = {}

        def measured(i: int) -> None:
            results[i] = run_query(scope, mixes[i][1])

        for i in range(min(3, len(mixes))):  # warm the caches
            run_query(scope, mixes[i][1])
        SPLIT["page"].clear()
        SPLIT["count"].clear()
        times = common.measure(measured, repeat=len(mixes), warmup=0)
        split = {k: list(v) for k, v in SPLIT.items()}
        by_mix = {m: [t for t, (mm, _f) in zip(times, mixes, strict=True) if mm == m] for m in "AB"}
        for mix, label in (
            ("A", "subtree + skill + slot"),
            ("B", "category + min star + age band"),
        ):
            ms = by_mix[mix]
            found = [results[i][1] for i, (m, _f) in enumerate(mixes) if m == mix]
            page = [t for t, (m, _f) in zip(split["page"], mixes, strict=True) if m == mix]
            count = [t for t, (m, _f) in zip(split["count"], mixes, strict=True) if m == mix]
            common.say(
                f"mix {mix} ({label}): median {common.median(ms):.1f} ms, "
                f"p95 {common.percentile(ms, 95):.1f} ms "
                f"(page {common.median(page):.1f} + count {common.median(count):.1f}), "
                f"matches median {sorted(found)[len(found) // 2]:,}"
            )
        median = common.median(times)
        p95 = common.percentile(times, 95)
        common.say(f"all: median {median:.1f} ms, p95 {p95:.1f} ms over {len(times)} queries")

        # Reference: a spread of the same queries without index use.
        reference_n = min(len(mixes), 10 if args.volunteers > 100_000 else len(mixes))
        picks = sorted(random.Random(args.seed + 2).sample(range(len(mixes)), reference_n))
        ref_times = []
        for i in picks:
            _mix, filters = mixes[i]
            with common.Stopwatch() as sw:
                if on_postgres:
                    answer = without_indexes(lambda f=filters: run_query(scope, f))
                else:
                    answer = python_scan(scope, filters)
            ref_times.append(sw.seconds * 1000)
            if answer != results[i]:
                raise SystemExit(f"reference disagrees on query {i}: {answer} != {results[i]}")
        reference = common.median(ref_times)
        kind = "same SQL, index scans off" if on_postgres else "full scan scored in Python"
        ratio = reference / median if median else float("inf")
        common.say(
            f"reference ({kind}): median {reference:.1f} ms over {len(ref_times)} queries; "
            f"ratio reference/measured = {ratio:.1f}x"
        )
        if args.explain and on_postgres:
            for mix in "AB":
                filters = next(f for m, f in mixes if m == mix)
                common.say(f"--- plan, mix {mix}\n{explain(scope, filters)}")
        common.result(TOPIC, "median_ms", median, BUDGET_MS, ok=median <= BUDGET_MS)
        return 0
    finally:
        db.cleanup()


if __name__ == "__main__":
    sys.exit(main())
