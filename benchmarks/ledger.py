"""The time-bank ledger: single transfers against raw SQL, and batch crediting (DESIGN.md §6).

Budgets: single transfers through ``ledger.post`` reach ≥ 0.6 × the throughput of the same
transaction written in raw SQL, measured in the same run from one client; crediting a whole
activity with ``ledger.post_batch`` writes ≥ 20,000 entries/s.

    .venv/bin/python -m benchmarks.ledger [--quick] [--database-url URL] [--accounts N]
        [--transfers N] [--sizes 200,500] [--repeat N] [--keep]

1. Builds its own database (``huzhu_bench_ledger`` on the PostgreSQL server of
   ``--database-url``, or a temporary SQLite file): a community with a grid, ``--accounts``
   volunteers (real-name persons, made with the demo generators) with time-bank accounts
   funded from the community's issuance account, and an activity whose confirmed service
   records the batches credit.
2. Single transfers: ``--transfers`` transfers of 10–120 minutes between random accounts,
   one transaction each, through ``ledger.post`` (idempotency key, locks in id order, limits
   checked under the locks, entries with running balances, balances updated). Reference in
   the same run, interleaved in blocks of 50: the same transaction in hand-written SQL from
   the same connection — lock the two accounts ``FOR UPDATE`` in id order, check the
   balance, insert the transfer and its two entries, update the two balances, commit.
   Reported: both throughputs and their ratio service/raw.
3. Batch crediting: for each size of ``--sizes`` (200 and 500), ``--repeat`` runs of
   ``ledger.post_batch`` crediting that many fresh confirmed records (one per volunteer, as a
   shift's confirmation does: one transfer and two entries each) — median entries/s. The
   result is the lowest median of the sizes.

Ends with ``RESULT ledger single_ratio=<x> budget=0.6 ok|short`` and
``RESULT ledger batch_entries_per_s=<n> budget=20000 ok|short``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from benchmarks import common

TOPIC = "ledger"
RATIO_BUDGET = 0.6
BATCH_BUDGET = 20_000  # entries per second
SEED = 20240501
BLOCK = 50  # transfers per interleaved block of the single-transfer comparison
FUNDS = 1_000_000  # minutes each account starts with: no single transfer is refused


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = common.parser(TOPIC, "Ledger: single transfers against raw SQL; batch crediting")
    p.add_argument("--accounts", type=int, default=None, help="person accounts (default 500)")
    p.add_argument(
        "--transfers", type=int, default=None, help="single transfers (default 3000; quick 600)"
    )
    p.add_argument("--sizes", default="200,500", help="batch sizes, comma-separated (200,500)")
    p.add_argument("--repeat", type=int, default=None, help="batch runs (default 9; quick 3)")
    args = p.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes takes whole numbers separated by commas, e.g. 200,500")
    if args.repeat is None:
        args.repeat = 3 if args.quick else 9
    if args.transfers is None:
        args.transfers = 600 if args.quick else 3000
    if args.accounts is None:
        args.accounts = max([500, *args.sizes])
    if not args.sizes or min(args.sizes) < 1 or args.repeat < 1 or args.transfers < 1:
        p.error("--sizes, --repeat and --transfers must be at least 1")
    if args.accounts < max(2, *args.sizes):
        p.error("--accounts must be at least 2 and at least the largest batch size")
    return args


# --- data -----------------------------------------------------------------------------------


@dataclass
class Bench:
    community: Any
    activity: Any
    issuance_id: int
    volunteer_ids: list[int]
    account_ids: list[int]  # the volunteers' accounts, in the same order
    days: int = 0  # each batch run's records are served on a day of their own
    minutes: dict[int, int] = field(default_factory=dict)


def build(accounts: int, seed: int = SEED) -> Bench:
    """A community with a grid and ``accounts`` registered volunteers (persons made with the
    demo generators), each with a funded time-bank account, and an activity to credit."""
    from django.db import transaction
    from django.utils import timezone

    from huzhu.activities.models import Activity, ActivityStatus
    from huzhu.demo import generator
    from huzhu.demo.seed import _create_orgs, _OrgSpec
    from huzhu.orgs.models import OrgKind
    from huzhu.people.models import Person
    from huzhu.people.services import person_build
    from huzhu.timebank import ledger
    from huzhu.timebank.models import Account, AccountKind
    from huzhu.timebank.services import org_account
    from huzhu.volunteers.models import ServiceCategory, Volunteer, VolunteerStatus

    rng = random.Random(seed)
    today = timezone.localdate()
    with transaction.atomic():
        city = _OrgSpec(OrgKind.CITY, "基准市", code="990100")
        district = _OrgSpec(OrgKind.DISTRICT, "基准区", city, code="990101", depth=1)
        street = _OrgSpec(OrgKind.STREET, "基准街道", district, depth=2)
        community = _OrgSpec(OrgKind.COMMUNITY, "基准社区", street, depth=3)
        grid = _OrgSpec(OrgKind.GRID, "基准社区第一网格", community, depth=4)
        _create_orgs([city, district, street, community, grid])
        seen: set[str] = set()
        persons = []
        for _ in range(accounts):
            gender = rng.choice("MF")
            birth = generator.birth_date_for_age(rng, rng.randint(20, 70), today)
            while True:
                id_number = generator.id_number(rng, "370102", birth, gender)
                if id_number not in seen:
                    seen.add(id_number)
                    break
            persons.append(
                person_build(
                    org=grid.org,
                    name=generator.full_name(rng, gender, birth.year),
                    id_number=id_number,
                    phone=generator.mobile(rng),
                )
            )
        Person.objects.bulk_create(persons, batch_size=1000)
        volunteers = Volunteer.objects.bulk_create(
            [
                Volunteer(
                    person=p, number=f"L{i:09d}", org=grid.org, status=VolunteerStatus.REGISTERED
                )
                for i, p in enumerate(persons)
            ],
            batch_size=1000,
        )
        rows = Account.objects.bulk_create(
            [Account(kind=AccountKind.PERSON, person=p, org=community.org) for p in persons],
            batch_size=1000,
        )
        issuance = org_account(community.org, AccountKind.ISSUANCE)
        ledger.post_batch(
            kind="earn",
            items=[ledger.BatchItem(issuance.pk, a.pk, FUNDS, f"bench:fund:{a.pk}") for a in rows],
        )
        activity = Activity.objects.create(
            org=community.org,
            title="时间银行基准活动",
            category=ServiceCategory.objects.get(name="社区服务"),
            address="基准社区党群服务中心",
            starts_on=today - dt.timedelta(days=365),
            ends_on=today,
            status=ActivityStatus.CLOSED,
        )
    return Bench(
        community=community.org,
        activity=activity,
        issuance_id=issuance.pk,
        volunteer_ids=[v.pk for v in volunteers],
        account_ids=[a.pk for a in rows],
    )


# --- single transfers -----------------------------------------------------------------------


def pairs(bench: Bench, count: int, seed: int) -> list[tuple[int, int, int]]:
    """(source, target, minutes) of ``count`` random transfers between person accounts."""
    rng = random.Random(seed)
    return [(*rng.sample(bench.account_ids, 2), rng.randrange(10, 121, 5)) for _ in range(count)]


def service_transfer(source: int, target: int, minutes: int, key: str) -> None:
    from huzhu.timebank import ledger

    ledger.post(
        kind="family",
        legs=[ledger.Leg(source, -minutes), ledger.Leg(target, minutes)],
        idempotency_key=key,
        memo="转赠家人",
    )


def raw_transfer(source: int, target: int, minutes: int, key: str) -> None:
    """The same transaction in hand-written SQL: lock both accounts in id order, check the
    balance, insert the transfer and its two entries, update both balances, commit."""
    from django.db import connection, transaction
    from django.utils import timezone

    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, balance, credit_limit, is_active FROM timebank_account "
            f"WHERE id IN (%s, %s) ORDER BY id{lock}",
            [source, target],
        )
        rows = {pk: (balance, limit, active) for pk, balance, limit, active in cursor.fetchall()}
        balance, limit, active = rows[source]
        if not (active and rows[target][2]) or balance - minutes < -limit:
            raise SystemExit("raw reference: a transfer would be refused (funds too small)")
        cursor.execute(
            "INSERT INTO timebank_transfer (kind, idempotency_key, memo, on_behalf, consent, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            ["family", key, "转赠家人", False, "", stamp],
        )
        transfer_id = cursor.fetchone()[0]
        after_source, after_target = balance - minutes, rows[target][0] + minutes
        cursor.execute(
            "INSERT INTO timebank_entry (transfer_id, account_id, amount, balance_after, "
            "created_at) VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s)",
            [
                *(transfer_id, source, -minutes, after_source, stamp),
                *(transfer_id, target, minutes, after_target, stamp),
            ],
        )
        cursor.execute(
            "UPDATE timebank_account SET balance = %s WHERE id = %s", [after_source, source]
        )
        cursor.execute(
            "UPDATE timebank_account SET balance = %s WHERE id = %s", [after_target, target]
        )


def single_runs(bench: Bench, count: int) -> dict[str, float]:
    """Seconds for ``count`` transfers each way, interleaved in blocks after a warm-up."""
    work = pairs(bench, 2 * count + 2 * BLOCK, SEED + 1)
    warm, service_work, raw_work = (
        work[: 2 * BLOCK],
        work[2 * BLOCK : 2 * BLOCK + count],
        work[2 * BLOCK + count :],
    )
    for n, (source, target, minutes) in enumerate(warm):
        call = service_transfer if n % 2 else raw_transfer
        call(source, target, minutes, f"bench:warm:{n}")
    totals = {"service": 0.0, "raw": 0.0}
    for start in range(0, count, BLOCK):
        for name, call, chunk in (
            ("service", service_transfer, service_work[start : start + BLOCK]),
            ("raw", raw_transfer, raw_work[start : start + BLOCK]),
        ):
            started = time.perf_counter()
            for n, (source, target, minutes) in enumerate(chunk):
                call(source, target, minutes, f"bench:{name}:{start + n}")
            totals[name] += time.perf_counter() - started
    return totals


# --- batch crediting ------------------------------------------------------------------------


def confirmed_records(bench: Bench, size: int) -> list[tuple[int, int, int]]:
    """``size`` fresh confirmed records of the activity, one per volunteer, served on a day
    of their own; (record id, account id, minutes). Written in bulk, untimed."""
    from django.utils import timezone

    from huzhu.activities.models import RecordSource, RecordStatus, ServiceRecord

    bench.days += 1
    day = timezone.localdate() - dt.timedelta(days=bench.days)
    rng = random.Random(SEED + bench.days)
    now = timezone.now()
    minutes = [rng.choice((180, 180, 180, 180, 165, 150, 120)) for _ in range(size)]
    records = ServiceRecord.objects.bulk_create(
        [
            ServiceRecord(
                volunteer_id=volunteer_id,
                org=bench.community,
                activity=bench.activity,
                category_id=bench.activity.category_id,
                served_on=day,
                place="基准社区党群服务中心",
                content="时间银行基准活动",
                minutes=m,
                source=RecordSource.ENTERED,
                status=RecordStatus.CONFIRMED,
                confirmed_at=now,
            )
            for volunteer_id, m in zip(bench.volunteer_ids[:size], minutes, strict=True)
        ],
        batch_size=1000,
    )
    return [
        (r.pk, account_id, r.minutes)
        for r, account_id in zip(records, bench.account_ids[:size], strict=True)
    ]


def credit_batch(bench: Bench, records: list[tuple[int, int, int]]) -> tuple[float, int]:
    """``ledger.post_batch`` of the records' earnings; (seconds, transfers posted)."""
    from huzhu.timebank import ledger
    from huzhu.timebank.services import earn_key

    items = [
        ledger.BatchItem(
            debit_account_id=bench.issuance_id,
            credit_account_id=account_id,
            minutes=minutes,
            idempotency_key=earn_key(record_id, minutes),
            memo="服务入账",
            record_id=record_id,
        )
        for record_id, account_id, minutes in records
    ]
    started = time.perf_counter()
    posted = ledger.post_batch(kind="earn", items=items)
    return time.perf_counter() - started, posted


def batch_runs(bench: Bench, size: int, repeat: int) -> list[float]:
    """Seconds of ``repeat`` batches of ``size`` (after one untimed warm-up)."""
    times = []
    for i in range(repeat + 1):
        seconds, posted = credit_batch(bench, confirmed_records(bench, size))
        if posted != size:
            raise SystemExit(f"post_batch posted {posted} transfers, expected {size}")
        if i:
            times.append(seconds)
    return times


# --- the run --------------------------------------------------------------------------------


def check_books() -> None:
    from huzhu.timebank import ledger

    check = ledger.verify()
    if not check.ok:
        raise SystemExit(f"ledger verify failed: {check}")
    common.say(
        f"ledger verify: {check.accounts} accounts, {check.transfers} transfers, "
        f"{check.entries} entries — balanced"
    )


def run_single(args: argparse.Namespace, bench: Bench) -> str:
    totals = single_runs(bench, args.transfers)
    service = args.transfers / totals["service"]
    raw = args.transfers / totals["raw"]
    ratio = service / raw
    common.say(
        f"single transfers through ledger.post: {args.transfers} in "
        f"{totals['service'] * 1000:.0f} ms, {service:,.0f} transfers/s"
    )
    common.say(
        f"reference: the same transaction in raw SQL (lock two accounts, insert transfer and "
        f"two entries, update two balances, commit): {args.transfers} in "
        f"{totals['raw'] * 1000:.0f} ms, {raw:,.0f} transfers/s; "
        f"ratio service/raw = {ratio:.2f}"
    )
    # Two decimals (a plain float would be shown with one).
    shown = Decimal(f"{ratio:.2f}")
    return common.result(TOPIC, "single_ratio", shown, RATIO_BUDGET, ok=ratio >= RATIO_BUDGET)


def run_batch(args: argparse.Namespace, bench: Bench) -> float:
    """The lowest median rate (entries/s) of the batch sizes."""
    rates = []
    for size in args.sizes:
        times = batch_runs(bench, size, args.repeat)
        median = common.median(times)
        rate = 2 * size / median
        rates.append(rate)
        common.say(
            f"batch crediting of {size} records (ledger.post_batch, one transaction): median "
            f"{median * 1000:.1f} ms over {args.repeat} runs (min {min(times) * 1000:.1f}, "
            f"max {max(times) * 1000:.1f}), {rate:,.0f} entries/s"
        )
    return min(rates)


def main(argv: Sequence[str] | None = None) -> list[str]:
    args = parse_args(argv)
    db = common.setup_database(TOPIC, args.database_url, keep=args.keep)
    try:
        from django.db import connection

        common.say(f"# {TOPIC} on {connection.vendor} ({db.name})")
        with common.Stopwatch() as sw:
            bench = build(args.accounts)
        common.say(f"built {len(bench.account_ids):,} funded accounts in {sw.seconds:.1f} s")
        lines = [run_single(args, bench)]
        rate = run_batch(args, bench)
        check_books()
        ok = rate >= BATCH_BUDGET
        shown = float(round(rate, 1))
        lines.append(common.result(TOPIC, "batch_entries_per_s", shown, BATCH_BUDGET, ok=ok))
        return lines
    finally:
        db.cleanup()


if __name__ == "__main__":
    main()
    sys.exit(0)
