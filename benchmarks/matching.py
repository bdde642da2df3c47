"""Matching a need against N volunteers (issue 6; DESIGN.md §6).

Budgets: the top 10 candidates for a need among 1,000,000 volunteers on PostgreSQL in
≤ 50 ms median, and ≥ 20 × faster than scoring every volunteer (measured in the same run).

    .venv/bin/python -m benchmarks.matching [--quick] [--volunteers N] [--needs 30]
        [--repeat 3] [--reference 5] [--database-url postgres://postgres@127.0.0.1:5432/]
        [--keep] [--reuse] [--explain]

1. Builds its own database (``huzhu_bench_matching`` on the given PostgreSQL server, or a
   temporary SQLite file) with the volunteer search benchmark's filler
   (``benchmarks.search_volunteers.fill``: persons, volunteers with the demo's skills,
   categories and availability, ~1,000 per community). Communities are laid on a square
   lattice ``SPACING_KM`` apart — a community of about 1 km² and 1,000 volunteers, a dense
   Chinese city — and their grids within 0.35 km of the centre. ``OFFER_SHARE`` of the
   volunteers publish an offer (the categories their skills fit, or everyday help, near
   their grid), written in bulk. Then the real ``profiles.profiles_refresh()`` builds the
   match profiles (timed), and ANALYZE.
2. Posts ``--needs`` needs through ``services.need_create`` (as a community, 公益), at
   varied places (a grid's centre, within a few hundred metres) and categories (the demo's
   descriptions, so the classifier adds its extra categories), in the coming week.
3. Measures ``matching.rank(need, limit=10)`` — ``--repeat`` rounds over the needs, after a
   warm-up round — and reports the median and p95, with the time split into building the
   context, the candidate query and scoring in Python.
4. Reference, in the same run: ``matching.rank_full_scan(need)`` (every profile row scored)
   for ``--reference`` of the needs, once each; each must give the same top 10 (volunteers
   and scores) as ``rank``. The speed-up is the median of the reference over the median of
   ``rank``.

Ends with ``RESULT matching top10_median_ms=<x> budget=50 ok|short`` and
``RESULT matching speedup=<x> budget=20 ok|short``. ``--explain`` (PostgreSQL) prints the
plan of the candidate query of one need, with buffers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks import common
from benchmarks import search_volunteers as filler

TOPIC = "matching"
BUDGET_MS = 50
SPEEDUP_BUDGET = 20
SEED = 20240501
SPACING_KM = 1.0  # between neighbouring communities' centres
GRID_SPREAD_KM = 0.35
OFFER_SHARE = 0.2
CHUNK = 20_000
KM_PER_DEGREE = 111.32
CENTRE = (36.66, 117.02)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = common.parser(TOPIC, "Top 10 candidates for a need (median ms, budget 50; speed-up 20)")
    p.add_argument(
        "--volunteers", type=int, default=None, help="default 1,000,000 (--quick 20,000)"
    )
    p.add_argument("--needs", type=int, default=30, help="needs to rank (default 30)")
    p.add_argument("--repeat", type=int, default=3, help="rounds over the needs (default 3)")
    p.add_argument(
        "--reference", type=int, default=None, help="needs scored by full scan (default 5)"
    )
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--explain", action="store_true", help="print the candidate query's plan")
    args = p.parse_args(argv)
    if args.volunteers is None:
        args.volunteers = 20_000 if args.quick else 1_000_000
    if args.reference is None:
        args.reference = 5
    if args.volunteers < 100:
        p.error("--volunteers must be at least 100")
    if args.needs < 1 or args.repeat < 1 or args.reference < 1:
        p.error("--needs, --repeat and --reference must be at least 1")
    args.reference = min(args.reference, args.needs)
    return args


# --- places and offers --------------------------------------------------------------------


def _offset(centre: tuple[float, float], north_km: float, east_km: float) -> tuple[float, float]:
    lat = centre[0] + north_km / KM_PER_DEGREE
    lng = centre[1] + east_km / (KM_PER_DEGREE * math.cos(math.radians(centre[0])))
    return round(lat, 6), round(lng, 6)


def place_orgs(rng: random.Random) -> dict[int, tuple[float, float]]:
    """Communities on a square lattice around the city centre, grids near their community.
    Returns org id → centre for communities and grids."""
    from huzhu.orgs.models import Org, OrgKind

    communities = list(Org.objects.filter(kind=OrgKind.COMMUNITY).order_by("pk"))
    side = math.ceil(math.sqrt(len(communities)))
    half = (side - 1) * SPACING_KM / 2
    places: dict[int, tuple[float, float]] = {}
    for i, community in enumerate(communities):
        row, column = divmod(i, side)
        places[community.pk] = _offset(CENTRE, row * SPACING_KM - half, column * SPACING_KM - half)
    grids = list(Org.objects.filter(kind=OrgKind.GRID).order_by("pk"))
    for grid in grids:
        distance, bearing = GRID_SPREAD_KM * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        places[grid.pk] = _offset(
            places[grid.parent_id], distance * math.cos(bearing), distance * math.sin(bearing)
        )
    orgs = [*communities, *grids]
    for org in orgs:
        org.latitude, org.longitude = places[org.pk]
    Org.objects.bulk_update(orgs, ["latitude", "longitude"], batch_size=5000)
    return places


def add_offers(rng: random.Random, places: dict[int, tuple[float, float]]) -> int:
    """``OFFER_SHARE`` of the registered volunteers publish an offer (as the demo's do)."""
    from django.utils import timezone

    from huzhu.common.bulk import write_rows
    from huzhu.needs.demo_steps import EVERYDAY, OFFER_TEXT, _offer_categories
    from huzhu.needs.models import NeedCategory, Offer
    from huzhu.volunteers.models import Volunteer, VolunteerStatus

    today = timezone.localdate()
    now = timezone.now()
    categories = dict(NeedCategory.objects.filter(is_active=True).values_list("name", "pk"))
    by_skill: dict[int, set[str]] = {}
    for name, skill_id in NeedCategory.skills.through.objects.values_list(
        "needcategory__name", "skill_id"
    ):
        by_skill.setdefault(skill_id, set()).add(name)
    assert set(EVERYDAY) <= set(categories)
    registered = Volunteer.objects.filter(status=VolunteerStatus.REGISTERED).order_by("pk")
    last, written = 0, 0
    columns = (
        "org_id", "volunteer_id", "title", "description", "availability", "address",
        "latitude", "longitude", "is_active", "created_by_id", "created_at", "updated_at",
    )  # fmt: skip
    while True:
        rows = list(
            registered.filter(pk__gt=last).values_list(
                "pk", "org_id", "availability", "person__birth_date"
            )[:CHUNK]
        )
        if not rows:
            return written
        last = rows[-1][0]
        chosen = [r for r in rows if rng.random() < OFFER_SHARE]
        skills: dict[int, set[int]] = {}
        through = Volunteer.skills.through.objects.filter(volunteer_id__in=[r[0] for r in chosen])
        for volunteer_id, skill_id in through.values_list("volunteer_id", "skill_id"):
            skills.setdefault(volunteer_id, set()).add(skill_id)
        offers, links = [], []
        for volunteer_id, org_id, availability, born in chosen:
            names = _offer_categories(
                rng, skills.get(volunteer_id, set()), by_skill, today.year - born.year
            )
            distance, bearing = 0.4 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            lat, lng = _offset(
                places[org_id], distance * math.cos(bearing), distance * math.sin(bearing)
            )
            offers.append(
                (
                    org_id, volunteer_id, OFFER_TEXT[names[0]][0], OFFER_TEXT[names[0]][1],
                    availability or 0b11011 << 15, "", lat, lng, True, None, now, now,
                )
            )  # fmt: skip
            links.append([categories[n] for n in names])
        ids = write_rows(Offer, columns, offers, returning=True)
        write_rows(
            Offer.categories.through,
            ("offer_id", "needcategory_id"),
            [(pk, c) for pk, cs in zip(ids, links, strict=True) for c in cs],
        )
        written += len(offers)


def build(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection, transaction

    from huzhu.needs.models import MatchProfile
    from huzhu.needs.profiles import profiles_refresh

    rng = random.Random(args.seed + 7)
    filler.fill(args.volunteers, args.seed)
    with common.Stopwatch() as sw, transaction.atomic():
        places = place_orgs(rng)
        offers = add_offers(rng, places)
    common.say(
        f"placed {len(places):,} communities and grids ({SPACING_KM:g} km apart), "
        f"{offers:,} offers in {sw.seconds:.1f} s"
    )
    with common.Stopwatch() as sw:
        rows = profiles_refresh()
    common.say(
        f"profiles_refresh(): {rows:,} match profile rows in {sw.seconds:.1f} s "
        f"({rows / max(sw.seconds, 1e-9):,.0f} rows/s)"
    )
    with common.Stopwatch() as analyze, connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    common.say(f"ANALYZE {analyze.seconds:.1f} s")
    return {"profiles": MatchProfile.objects.count(), "offers": offers}


# --- needs ---------------------------------------------------------------------------------


def post_needs(n: int, seed: int) -> list[Any]:
    """``n`` needs through the real service, at varied places, categories and times."""
    from django.utils import timezone

    from huzhu.needs import services
    from huzhu.needs.demo_steps import ORG_TEMPLATES, TEMPLATES
    from huzhu.needs.models import NeedCategory, Payment
    from huzhu.orgs.models import Org, OrgKind
    from huzhu.orgs.scope import Scope

    rng = random.Random(seed + 3)
    system = Scope(user_id=0, is_superuser=True)
    categories = {c.name: c for c in NeedCategory.objects.filter(is_active=True)}
    grids = list(Org.objects.filter(kind=OrgKind.GRID).order_by("pk"))
    templates = [t[:5] for t in TEMPLATES] + list(ORG_TEMPLATES)
    needs = []
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    for i in range(n):
        category, title, description, minutes, hour = templates[i % len(templates)]
        grid = rng.choice(grids)
        distance, bearing = 0.3 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        lat, lng = _offset(
            (grid.latitude, grid.longitude),
            distance * math.cos(bearing),
            distance * math.sin(bearing),
        )
        day = tomorrow + dt.timedelta(days=rng.randint(0, 6))
        starts = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
        needs.append(
            services.need_create(
                actor=None,
                scope=system,
                org=grid,
                data=services.NeedInput(
                    description=description,
                    address=f"{grid.name}",
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=2),
                    category=categories[category],
                    title=title,
                    payment=Payment.NONE,
                    minutes=minutes,
                    latitude=lat,
                    longitude=lng,
                ),
            )
        )
    return needs


# --- measuring -----------------------------------------------------------------------------


def split(need: Any) -> tuple[float, float, float, int]:
    """Milliseconds of the three parts of ``rank``: context, candidate query, scoring; and
    how many profile rows the query returned."""
    from huzhu.needs import matching

    started = time.perf_counter()
    ctx = matching.MatchContext.for_need(need)
    built = time.perf_counter()
    rows = matching.candidate_rows(ctx)
    fetched = time.perf_counter()
    matching._qualified(ctx, matching._best(ctx, rows), 10)
    scored = time.perf_counter()
    return (
        (built - started) * 1000,
        (fetched - built) * 1000,
        (scored - fetched) * 1000,
        len(rows),
    )


def explain(need: Any) -> str:
    """The plan of the candidate query ``rank`` runs for ``need`` (PostgreSQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from huzhu.needs import matching

    ctx = matching.MatchContext.for_need(need)
    with CaptureQueriesContext(connection) as captured:
        matching.candidate_rows(ctx)
    sql = captured.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def same(a: list[Any], b: list[Any]) -> bool:
    return [(c.volunteer_id, round(c.score, 9)) for c in a] == [
        (c.volunteer_id, round(c.score, 9)) for c in b
    ]


def main(argv: Sequence[str] | None = None) -> list[str]:
    args = parse_args(argv)
    db = common.setup_database(TOPIC, args.database_url, keep=args.keep, reuse=args.reuse)
    try:
        from django.db import connection

        from huzhu.needs import matching
        from huzhu.needs.models import MatchProfile, Need
        from huzhu.volunteers.models import Volunteer

        common.say(
            f"# {TOPIC}: {args.volunteers:,} volunteers on {connection.vendor} ({db.name}), "
            f"{args.needs} needs × {args.repeat} rounds, {args.reference} by full scan"
        )
        have = Volunteer.objects.count() if db.existed else 0
        if have == args.volunteers and MatchProfile.objects.exists():
            common.say(f"reusing the database with {have:,} volunteers")
            Need.objects.all().delete()
        else:
            if have:
                raise SystemExit(f"{db.name} holds {have:,} volunteers; drop it or omit --reuse")
            build(args)
        profiles = MatchProfile.objects.count()
        common.say(f"{profiles:,} match profile rows for {args.volunteers:,} volunteers")
        with common.Stopwatch() as sw:
            needs = post_needs(args.needs, args.seed)
        common.say(f"posted {len(needs)} needs through need_create in {sw.seconds:.1f} s")

        ranked: dict[int, list[Any]] = {}

        def run(i: int) -> None:
            need = needs[i % len(needs)]
            ranked[need.pk] = matching.rank(need, limit=10)

        for i in range(len(needs)):  # warm-up round (and the answers to check)
            run(i)
        times = common.measure(run, repeat=len(needs) * args.repeat, warmup=0)
        median, p95 = common.median(times), common.percentile(times, 95)
        parts = [split(need) for need in needs]
        rows = sorted(p[3] for p in parts)
        common.say(
            f"rank(limit=10): median {median:.1f} ms, p95 {p95:.1f} ms over {len(times)} "
            f"rankings — context {common.median([p[0] for p in parts]):.1f} ms + candidate "
            f"query {common.median([p[1] for p in parts]):.1f} ms + scoring in Python "
            f"{common.median([p[2] for p in parts]):.1f} ms; candidate rows median "
            f"{rows[len(rows) // 2]:,}, max {rows[-1]:,} of {profiles:,}"
        )
        found = sorted(len(r) for r in ranked.values())
        common.say(f"candidates returned per need: min {found[0]}, max {found[-1]}")

        picks = sorted(random.Random(args.seed + 5).sample(range(len(needs)), args.reference))
        reference = []
        for i in picks:
            need = needs[i]
            with common.Stopwatch() as sw:
                full = matching.rank_full_scan(need, limit=10)
            reference.append(sw.seconds * 1000)
            if not same(full, ranked[need.pk]):
                raise SystemExit(
                    f"full scan disagrees on need {need.number}: "
                    f"{[c.volunteer_id for c in full]} != "
                    f"{[c.volunteer_id for c in ranked[need.pk]]}"
                )
        full_median = common.median(reference)
        speedup = full_median / median if median else float("inf")
        common.say(
            f"reference rank_full_scan: median {full_median:.1f} ms over {len(reference)} "
            f"needs, same top 10 for each; speed-up full scan / rank = {speedup:.1f}x"
        )
        if args.explain and connection.vendor == "postgresql":
            slowest = max(range(len(needs)), key=lambda i: parts[i][1])
            common.say(f"--- plan of the candidate query, need {needs[slowest].number}")
            common.say(explain(needs[slowest]))
        return [
            common.result(TOPIC, "top10_median_ms", median, BUDGET_MS, ok=median <= BUDGET_MS),
            common.result(TOPIC, "speedup", speedup, SPEEDUP_BUDGET, ok=speedup >= SPEEDUP_BUDGET),
        ]
    finally:
        db.cleanup()


if __name__ == "__main__":
    main()
    sys.exit(0)
