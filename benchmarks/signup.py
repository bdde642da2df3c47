"""Shift sign-up under contention and batch confirmation of a shift (DESIGN.md §6).

Budgets: 200 concurrent sign-ups for 50 places give exactly 50 accepted and none lost; a
whole shift's records are confirmed at ≥ 20,000 records/s (500 records in ≤ 25 ms).

    .venv/bin/python -m benchmarks.signup [--quick] [--database-url URL] [--signups N]
        [--capacity N] [--connections N] [--size N] [--repeat N] [--keep]

1. Builds its own database (``huzhu_bench_signup`` on the PostgreSQL server of
   ``--database-url``, or a temporary SQLite file) and fills it with the demo generators: a
   community with a grid and a team, a worker, and volunteers (each with a real-name person
   and a login, so every notification is written).
2. Contention (PostgreSQL only): ``--signups`` volunteers (200) sign up through
   ``services.signup_create`` for one shift of ``--capacity`` places (50). Threads, each with
   a database connection of its own, are released together by a barrier and take the
   sign-ups from a shared queue, as a pool of web workers serves requests that arrive at
   once: ``--connections`` of them (50; never more than the server's free slots less a
   margin, since ``max_connections`` is often 100); ``--connections 200`` on a server that
   allows it gives every sign-up its own. Checked: exactly ``capacity`` confirmed, the rest
   waitlisted, none lost or failed, ``Shift.confirmed_count`` equal to the confirmed rows.
   Reference in the same run: the same sign-ups one after another from one connection, on
   a fresh shift.
   With SQLite (one writer at a time) this part is skipped with a note.
3. Batch confirmation: a shift of ``--size`` (500) people who checked in and out is
   confirmed with ``record_services.shift_confirm`` — one transaction that creates the
   records, checks the 24-hour day limit, rolls the hours into the volunteers' archives,
   writes the notifications and the audit entry — median of ``--repeat`` runs, a fresh
   shift each run. Reference in the same run: the raw SQL a hand-written version needs for
   the same result (read the attendance, one multi-row INSERT of the records, one UPDATE of
   the volunteers' hours, one of the shift) in one transaction, median of as many runs.

Ends with ``RESULT signup accepted=<n> budget=<capacity> ok|short`` (PostgreSQL) and
``RESULT signup confirm_records_per_s=<n> budget=20000 ok|short``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import queue
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks import common

TOPIC = "signup"
CONFIRM_BUDGET = 20_000  # records per second
SEED = 20240501
CONNECTIONS = 50  # default: a pool of 50 web workers serving 200 requests that arrive at once
CONNECTION_MARGIN = 20  # server slots always left free for everyone else


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = common.parser(TOPIC, "Sign-up under contention; batch confirmation of a shift")
    p.add_argument("--signups", type=int, default=200, help="concurrent sign-ups (200)")
    p.add_argument("--capacity", type=int, default=50, help="places on the shift (50)")
    p.add_argument(
        "--connections",
        type=int,
        default=None,
        help=f"database connections taking the sign-ups (default {CONNECTIONS}; one per "
        "sign-up when given as many; never more than the server's free slots)",
    )
    p.add_argument("--size", type=int, default=500, help="people on the confirmed shift (500)")
    p.add_argument("--repeat", type=int, default=None, help="confirm runs (default 9; quick 3)")
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 9
    if args.signups < 2 or not 1 <= args.capacity <= args.signups:
        p.error("need --signups ≥ 2 and 1 ≤ --capacity ≤ --signups")
    if args.size < 1 or args.repeat < 1:
        p.error("--size and --repeat must be at least 1")
    return args


# --- data -----------------------------------------------------------------------------------


@dataclass
class Bench:
    """What the measurements work on."""

    worker: Any
    scope: Any
    community: Any
    grid: Any
    volunteers: list[Any] = field(default_factory=list)
    day: int = 0  # shifts of the confirm runs take one day each, going back in time


def build(volunteers: int, seed: int = SEED) -> Bench:
    """A community with a grid, a corps and a team, a worker, and ``volunteers`` registered
    volunteers made with the demo generators, each with a login."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from huzhu.demo import generator
    from huzhu.demo.seed import _create_orgs, _OrgSpec
    from huzhu.orgs.models import OrgKind, RoleGrant
    from huzhu.orgs.roles import Role
    from huzhu.orgs.scope import Scope
    from huzhu.people.models import Person
    from huzhu.people.services import person_build
    from huzhu.volunteers.models import Volunteer, VolunteerStatus

    User = get_user_model()
    rng = random.Random(seed)
    today = timezone.localdate()
    with transaction.atomic():
        city = _OrgSpec(OrgKind.CITY, "基准市", code="990100")
        district = _OrgSpec(OrgKind.DISTRICT, "基准区", city, code="990101", depth=1)
        street = _OrgSpec(OrgKind.STREET, "基准街道", district, depth=2)
        community = _OrgSpec(OrgKind.COMMUNITY, "基准社区", street, depth=3)
        grid = _OrgSpec(OrgKind.GRID, "基准社区第一网格", community, depth=4)
        corps = _OrgSpec(OrgKind.CORPS, "基准社区志愿者总队", community, depth=4)
        team = _OrgSpec(OrgKind.TEAM, "基准社区助老服务队", corps, depth=5)
        _create_orgs([city, district, street, community, grid, corps, team])
        worker = User.objects.create(username="bench-worker", password="!")
        RoleGrant.objects.create(user=worker, org=community.org, role=Role.WORKER)
        users = User.objects.bulk_create(
            [User(username=f"bench-v{i:06d}", password="!") for i in range(volunteers)],
            batch_size=1000,
        )
        seen: set[str] = set()
        persons = []
        for user in users:
            gender = rng.choice("MF")
            birth = generator.birth_date_for_age(rng, rng.randint(20, 70), today)
            while True:
                id_number = generator.id_number(rng, "370102", birth, gender)
                if id_number not in seen:
                    seen.add(id_number)
                    break
            person = person_build(
                org=grid.org,
                name=generator.full_name(rng, gender, birth.year),
                id_number=id_number,
                phone=generator.mobile(rng),
            )
            person.user = user
            persons.append(person)
        Person.objects.bulk_create(persons, batch_size=1000)
        rows = Volunteer.objects.bulk_create(
            [
                Volunteer(
                    person=p,
                    number=f"B{i:09d}",
                    org=grid.org,
                    status=VolunteerStatus.REGISTERED,
                    availability=1,
                )
                for i, p in enumerate(persons)
            ],
            batch_size=1000,
        )
    chosen = Volunteer.objects.filter(pk__in=[v.pk for v in rows]).select_related("person")
    return Bench(
        worker=worker,
        scope=Scope.for_user(worker),
        community=community.org,
        grid=grid.org,
        volunteers=list(chosen.order_by("pk")),
    )


def new_activity(bench: Bench, title: str, starts_on: dt.date, ends_on: dt.date) -> Any:
    from huzhu.activities.services import ActivityInput, activity_create
    from huzhu.volunteers.models import ServiceCategory

    data = ActivityInput(
        title=title,
        category=ServiceCategory.objects.get(name="社区服务"),
        address="基准社区党群服务中心",
        starts_on=starts_on,
        ends_on=ends_on,
    )
    return activity_create(actor=bench.worker, scope=bench.scope, org=bench.community, data=data)


def new_shift(bench: Bench, activity: Any, starts_at: dt.datetime, capacity: int) -> Any:
    from huzhu.activities.services import ShiftInput, shift_add

    data = ShiftInput(
        starts_at=starts_at, ends_at=starts_at + dt.timedelta(hours=3), capacity=capacity
    )
    return shift_add(actor=bench.worker, scope=bench.scope, activity=activity, data=data)


def _at(day: dt.date, hour: int) -> dt.datetime:
    from django.utils import timezone

    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=timezone.get_current_timezone())


# --- contention -----------------------------------------------------------------------------


@dataclass
class Contention:
    signups: int
    capacity: int
    connections: int
    seconds: float
    statuses: Counter
    errors: list[str]
    rows: int
    confirmed_rows: int
    confirmed_count: int

    @property
    def accepted(self) -> int:
        return self.statuses.get("confirmed", 0)

    @property
    def ok(self) -> bool:
        return (
            self.accepted == self.capacity
            and self.statuses.get("waitlisted", 0) == self.signups - self.capacity
            and not self.errors
            and self.rows == self.signups
            and self.confirmed_rows == self.confirmed_count == self.capacity
        )


def free_connections() -> int:
    """Connections the server can still accept, keeping a margin for everyone else."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        limit = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM pg_stat_activity")
        used = int(cursor.fetchone()[0])
    return max(1, limit - used - CONNECTION_MARGIN)


def open_shift(bench: Bench, capacity: int, day_offset: int) -> Any:
    """A published activity with one shift ``day_offset`` days ahead."""
    from django.utils import timezone

    from huzhu.activities.services import activity_set_status

    day = timezone.localdate() + dt.timedelta(days=day_offset)
    activity = new_activity(bench, f"报名压力测试{day_offset}", day, day)
    shift = new_shift(bench, activity, _at(day, 9), capacity)
    activity_set_status(
        actor=bench.worker, scope=bench.scope, activity=activity, status="recruiting"
    )
    return shift


def contend(shift_id: int, volunteers: Sequence[Any], connections: int) -> Contention:
    """All sign-ups at once: ``connections`` threads, each with its own connection, wait at
    a barrier, then take sign-ups from a shared queue until it is empty."""
    from django.db import connection as main_connection

    from huzhu.activities.models import Shift, Signup, SignupStatus
    from huzhu.activities.services import signup_create

    todo: queue.SimpleQueue = queue.SimpleQueue()
    for volunteer in volunteers:
        todo.put(volunteer)
    barrier = threading.Barrier(connections + 1)
    statuses: Counter = Counter()
    errors: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        from django.db import connection

        try:
            connection.ensure_connection()
            barrier.wait()
            while True:
                try:
                    volunteer = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    signup = signup_create(actor=None, volunteer=volunteer, shift_id=shift_id)
                    with lock:
                        statuses[signup.status] += 1
                except Exception as exc:  # counted as lost: the check below fails
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
        except threading.BrokenBarrierError:
            with lock:
                errors.append("barrier broken")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait(timeout=120)
    except threading.BrokenBarrierError:
        errors.append("not every connection could be opened")
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    main_connection.close()  # a fresh connection sees every thread's commits
    shift = Shift.objects.get(pk=shift_id)
    rows = Signup.objects.filter(shift_id=shift_id)
    return Contention(
        signups=len(volunteers),
        capacity=shift.capacity,
        connections=connections,
        seconds=seconds,
        statuses=statuses,
        errors=errors,
        rows=rows.count(),
        confirmed_rows=rows.filter(status=SignupStatus.CONFIRMED).count(),
        confirmed_count=shift.confirmed_count,
    )


def one_by_one(shift_id: int, volunteers: Sequence[Any]) -> float:
    """The reference: the same sign-ups one after another from one connection."""
    from huzhu.activities.services import signup_create

    started = time.perf_counter()
    for volunteer in volunteers:
        signup_create(actor=None, volunteer=volunteer, shift_id=shift_id)
    return time.perf_counter() - started


# --- batch confirmation ---------------------------------------------------------------------


def attended_shift(bench: Bench, activity: Any, size: int) -> Any:
    """A past shift of ``size`` places, everyone checked in a little early and out a
    little late (written directly: the check-in services refuse past times)."""
    from django.db import transaction

    from huzhu.activities.models import Attendance, CheckMethod, Shift, Signup, SignupStatus

    bench.day += 1
    day = activity.ends_on - dt.timedelta(days=bench.day)
    shift = new_shift(bench, activity, _at(day, 9), size)
    with transaction.atomic():
        Signup.objects.bulk_create(
            [
                Signup(
                    shift=shift,
                    volunteer=volunteer,
                    status=SignupStatus.CONFIRMED,
                    queued_at=shift.starts_at - dt.timedelta(days=2),
                    attendance=Attendance.PRESENT,
                    checked_in_at=shift.starts_at - dt.timedelta(minutes=10),
                    checked_out_at=shift.ends_at + dt.timedelta(minutes=5),
                    check_in_method=CheckMethod.QR,
                    check_out_method=CheckMethod.QR,
                )
                for volunteer in bench.volunteers[:size]
            ],
            batch_size=1000,
        )
        Shift.objects.filter(pk=shift.pk).update(confirmed_count=size)
    shift.refresh_from_db()
    return shift


def confirm(bench: Bench, shift: Any) -> tuple[float, int]:
    """``shift_confirm`` as the organiser calls it; (seconds, records confirmed)."""
    from huzhu.activities.record_services import shift_confirm

    started = time.perf_counter()
    result = shift_confirm(actor=bench.worker, scope=bench.scope, shift=shift)
    return time.perf_counter() - started, result.confirmed


RAW_COLUMNS = (
    "volunteer_id", "signup_id", "minutes", "org_id", "activity_id", "shift_id", "category_id",
    "served_on", "place", "content", "evaluation", "source", "status", "recorder_id",
    "confirmer_id", "confirmed_at", "reject_reason", "created_at", "updated_at",
)  # fmt: skip


def raw_confirm(bench: Bench, shift: Any) -> tuple[float, int]:
    """The reference: the same records and hours in hand-written SQL, one transaction —
    read the attendance, insert the records, add the hours, mark the shift. PostgreSQL gets
    the fastest form (column arrays through UNNEST, as Django's own bulk insert uses);
    SQLite one multi-row VALUES list."""
    from django.db import connection, transaction
    from django.utils import timezone

    from huzhu.activities.record_services import round_minutes

    activity = shift.activity
    ops = connection.ops
    on_postgres = connection.vendor == "postgresql"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        stamp = ops.adapt_datetimefield_value(timezone.now())
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        cursor.execute(f"SELECT id FROM activities_shift WHERE id = %s{lock}", [shift.pk])
        cursor.execute(
            "SELECT s.id, s.volunteer_id, s.checked_in_at, s.checked_out_at "
            "FROM activities_signup s LEFT JOIN activities_servicerecord r ON r.signup_id = s.id "
            "WHERE s.shift_id = %s AND s.status = 'confirmed' AND s.checked_in_at IS NOT NULL "
            "AND s.checked_out_at IS NOT NULL AND r.id IS NULL",
            [shift.pk],
        )
        volunteers, signups, minutes = [], [], []
        for signup_id, volunteer_id, checked_in, checked_out in cursor.fetchall():
            if checked_in.tzinfo is None:  # SQLite keeps UTC without a zone
                checked_in = checked_in.replace(tzinfo=dt.UTC)
                checked_out = checked_out.replace(tzinfo=dt.UTC)
            seconds = (
                min(checked_out, shift.ends_at) - max(checked_in, shift.starts_at)
            ).total_seconds()
            volunteers.append(volunteer_id)
            signups.append(signup_id)
            minutes.append(
                round_minutes(seconds / 60, activity.rounding_minutes, activity.rounding)
            )
        same = [
            activity.org_id, activity.pk, shift.pk, activity.category_id,
            ops.adapt_datefield_value(timezone.localtime(shift.starts_at).date()),
            activity.address, f"{activity.title} {shift.name}".strip(), "", "attendance",
            "confirmed", bench.worker.pk, bench.worker.pk, stamp, "", stamp, stamp,
        ]  # fmt: skip
        columns = ", ".join(RAW_COLUMNS)
        marks = ", ".join(["%s"] * len(same))
        if on_postgres:
            cursor.execute(
                f"INSERT INTO activities_servicerecord ({columns}) SELECT t.v, t.s, t.m, {marks} "
                "FROM UNNEST(%s::bigint[], %s::bigint[], %s::integer[]) AS t(v, s, m)",
                [*same, volunteers, signups, minutes],
            )
            cursor.execute(
                "UPDATE volunteers_volunteer SET recorded_minutes = recorded_minutes + t.m "
                "FROM UNNEST(%s::bigint[], %s::integer[]) AS t(id, m) "
                "WHERE volunteers_volunteer.id = t.id",
                [volunteers, minutes],
            )
        else:
            one = f"(%s, %s, %s, {marks})"
            cursor.execute(
                f"INSERT INTO activities_servicerecord ({columns}) VALUES "
                + ", ".join([one] * len(signups)),
                [
                    x
                    for row in zip(volunteers, signups, minutes, strict=True)
                    for x in (*row, *same)
                ],
            )
            pairs = ", ".join(["(%s, %s)"] * len(volunteers))
            cursor.execute(
                f"WITH t(id, m) AS (VALUES {pairs}) UPDATE volunteers_volunteer "
                "SET recorded_minutes = recorded_minutes + "
                "(SELECT m FROM t WHERE t.id = volunteers_volunteer.id) "
                "WHERE id IN (SELECT id FROM t)",
                [x for pair in zip(volunteers, minutes, strict=True) for x in pair],
            )
        cursor.execute(
            "UPDATE activities_shift SET records_created_at = %s WHERE id = %s", [stamp, shift.pk]
        )
    return time.perf_counter() - started, len(signups)


def confirm_runs(bench: Bench, size: int, repeat: int) -> dict[str, Any]:
    """Median seconds of ``shift_confirm`` and of the raw SQL, a fresh shift each run
    (interleaved, after one untimed warm-up of each)."""
    from django.utils import timezone

    today = timezone.localdate()
    activity = new_activity(
        bench, "批量确认基准", today - dt.timedelta(days=4 * repeat + 10), today - dt.timedelta(1)
    )
    service, raw = [], []
    for i in range(repeat + 1):
        seconds, done = confirm(bench, attended_shift(bench, activity, size))
        if done != size:
            raise SystemExit(f"shift_confirm confirmed {done} records, expected {size}")
        if i:
            service.append(seconds)
        seconds, done = raw_confirm(bench, attended_shift(bench, activity, size))
        if done != size:
            raise SystemExit(f"raw reference wrote {done} records, expected {size}")
        if i:
            raw.append(seconds)
    return {"service": common.median(service), "raw": common.median(raw), "all": service}


# --- the run --------------------------------------------------------------------------------


def run_contention(args: argparse.Namespace, bench: Bench) -> str:
    available = free_connections()
    wanted = args.connections or min(args.signups, CONNECTIONS)
    connections = max(1, min(wanted, args.signups, available))
    people = bench.volunteers[: args.signups]
    result = contend(open_shift(bench, args.capacity, 30).pk, people, connections)
    reference = one_by_one(open_shift(bench, args.capacity, 31).pk, people)
    rate = result.signups / result.seconds
    common.say(
        f"contention: {result.signups} sign-ups for {result.capacity} places from "
        f"{connections} connections released together"
        + (
            f" (each takes sign-ups in turn; the server has {available} free connections)"
            if connections < args.signups
            else " (one sign-up each)"
        )
        + f": {result.seconds * 1000:.0f} ms, {rate:,.0f} sign-ups/s"
    )
    common.say(
        f"  confirmed {result.accepted}, waitlisted {result.statuses.get('waitlisted', 0)}, "
        f"errors {len(result.errors)}, rows {result.rows}, "
        f"Shift.confirmed_count {result.confirmed_count} — "
        + ("exactly as many accepted as places, none lost" if result.ok else "WRONG")
    )
    for error in result.errors[:5]:
        common.say(f"  error: {error}")
    common.say(
        f"reference: the same {len(people)} sign-ups one after another from one connection: "
        f"{reference * 1000:.0f} ms, {len(people) / reference:,.0f} sign-ups/s; "
        f"ratio concurrent/serial throughput = {reference / result.seconds:.2f}"
    )
    return common.result(TOPIC, "accepted", result.accepted, args.capacity, ok=result.ok)


def run_confirm(args: argparse.Namespace, bench: Bench) -> str:
    runs = confirm_runs(bench, args.size, args.repeat)
    service, raw = runs["service"], runs["raw"]
    rate = args.size / service
    common.say(
        f"batch confirmation of a {args.size}-person shift (shift_confirm, one transaction): "
        f"median {service * 1000:.1f} ms over {args.repeat} runs "
        f"(min {min(runs['all']) * 1000:.1f}, max {max(runs['all']) * 1000:.1f}), "
        f"{rate:,.0f} records/s"
    )
    common.say(
        f"reference: the same records and hours as raw SQL (INSERT + UPDATE, one "
        f"transaction): median {raw * 1000:.1f} ms, {args.size / raw:,.0f} records/s; "
        f"ratio service/raw = {service / raw:.2f}"
    )
    return common.result(
        TOPIC, "confirm_records_per_s", float(round(rate, 1)), CONFIRM_BUDGET,
        ok=rate >= CONFIRM_BUDGET,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> list[str]:
    args = parse_args(argv)
    db = common.setup_database(TOPIC, args.database_url, keep=args.keep)
    try:
        from django.db import connection

        on_postgres = connection.vendor == "postgresql"
        common.say(f"# {TOPIC} on {connection.vendor} ({db.name})")
        with common.Stopwatch() as sw:
            bench = build(max(args.signups, args.size))
        common.say(f"built {len(bench.volunteers):,} volunteers in {sw.seconds:.1f} s")
        lines = []
        if on_postgres:
            lines.append(run_contention(args, bench))
        else:
            common.say(
                "note: the contention part needs PostgreSQL (SQLite lets one writer in at a "
                "time, so there is no row lock to contend for); run with --database-url"
            )
        lines.append(run_confirm(args, bench))
        return lines
    finally:
        db.cleanup()


if __name__ == "__main__":
    main()
    sys.exit(0)
