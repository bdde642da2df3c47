"""Sign-up, withdrawal and confirmation under real concurrency (PostgreSQL only).

Threads, each with a database connection of its own, are released together by a barrier.
The server's ``max_connections`` (often 100, shared with other clients) bounds how many can
be open at once, so at most ``MAX_THREADS`` threads take the calls from a shared queue;
with as many threads as calls each call has its own connection. SQLite lets one writer in
at a time, so these tests are skipped there."""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from huzhu.activities.models import Attendance, RecordStatus, ServiceRecord, Shift, Signup
from huzhu.activities.models import SignupStatus as S
from huzhu.activities.record_services import shift_confirm
from huzhu.activities.services import (
    signup_create,
    signup_withdraw,
)
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.people.services import person_build
from huzhu.volunteers.models import Volunteer, VolunteerStatus
from tests.activities.factories import attend, first_shift, make_activity
from tests.factories import UserFactory, grant, make_id_number, make_phone

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

MAX_THREADS = 50
MARGIN = 20  # server connections left for everyone else


def _volunteers(org: Any, count: int, prefix: str) -> list[Volunteer]:
    """Registered volunteers, made in bulk (the services are tested elsewhere)."""
    persons = Person.objects.bulk_create(
        [
            person_build(
                org=org, name=f"{prefix}{n}", id_number=make_id_number(), phone=make_phone()
            )
            for n in range(count)
        ]
    )
    rows = Volunteer.objects.bulk_create(
        [
            Volunteer(
                person=p, number=f"T{prefix}{n:05d}", org=org, status=VolunteerStatus.REGISTERED
            )
            for n, p in enumerate(persons)
        ]
    )
    return list(
        Volunteer.objects.filter(pk__in=[v.pk for v in rows])
        .select_related("person")
        .order_by("pk")
    )


def _threads(calls: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        limit = int(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM pg_stat_activity")
        used = int(cursor.fetchone()[0])
    return max(2, min(calls, MAX_THREADS, limit - used - MARGIN))


def _all_at_once(calls: Sequence[Callable[[], Any]], threads: int | None = None) -> tuple:
    """Run ``calls`` from ``threads`` threads released together; (results, errors)."""
    threads = threads or _threads(len(calls))
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for call in calls:
        todo.put(call)
    barrier = threading.Barrier(threads)
    results: list[Any] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        from django.db import connection as own

        try:
            own.ensure_connection()
            barrier.wait(timeout=60)
            while True:
                try:
                    call = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    result = call()
                    with lock:
                        results.append(result)
                except Exception as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            own.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not any(w.is_alive() for w in workers)
    return results, errors


def _signup(volunteer: Volunteer, shift_id: int) -> Callable[[], Signup]:
    return lambda: signup_create(actor=None, volunteer=volunteer, shift_id=shift_id)


def test_two_hundred_sign_ups_for_fifty_places(city):
    shift = first_shift(make_activity(city.community_a, capacity=50))
    people = _volunteers(city.grid_a, 200, "抢")
    results, errors = _all_at_once([_signup(v, shift.pk) for v in people])
    assert errors == []
    assert Counter(s.status for s in results) == {S.CONFIRMED: 50, S.WAITLISTED: 150}
    shift.refresh_from_db()
    rows = Signup.objects.filter(shift=shift)
    assert rows.count() == 200  # none lost
    assert rows.filter(status=S.CONFIRMED).count() == shift.confirmed_count == 50
    assert rows.filter(status=S.WAITLISTED).count() == 150
    assert set(rows.values_list("volunteer_id", flat=True)) == {v.pk for v in people}


def test_withdrawals_and_sign_ups_at_once_keep_the_count_and_the_queue(city):
    shift = first_shift(make_activity(city.community_a, capacity=50))
    confirmed = _volunteers(city.grid_a, 50, "甲")
    waiting = _volunteers(city.grid_a, 10, "乙")
    newcomers = _volunteers(city.grid_a, 20, "丙")
    start = timezone.now() - dt.timedelta(hours=1)
    for n, volunteer in enumerate([*confirmed, *waiting]):
        signup_create(
            actor=None,
            volunteer=volunteer,
            shift_id=shift.pk,
            now=start + dt.timedelta(seconds=n),
        )
    first = {s.volunteer_id: s for s in Signup.objects.filter(shift=shift)}
    assert Counter(s.status for s in first.values()) == {S.CONFIRMED: 50, S.WAITLISTED: 10}

    leaving = [first[v.pk] for v in confirmed[:20]]
    calls = [lambda s=s: signup_withdraw(actor=None, signup=s) for s in leaving]
    calls += [_signup(v, shift.pk) for v in newcomers]
    results, errors = _all_at_once(calls)
    assert errors == [] and len(results) == 40

    shift.refresh_from_db()
    rows = {s.volunteer_id: s for s in Signup.objects.filter(shift=shift)}
    status = Counter(s.status for s in rows.values())
    assert status == {S.CONFIRMED: 50, S.WITHDRAWN: 20, S.WAITLISTED: 10}
    assert shift.confirmed_count == status[S.CONFIRMED] <= shift.capacity
    # The waiting list moved up in queue order: the ten who queued before the rush all got
    # places, and whoever still waits queued after every one of them.
    assert all(rows[v.pk].status == S.CONFIRMED for v in waiting)
    still = [s for s in rows.values() if s.status == S.WAITLISTED]
    assert {s.volunteer_id for s in still} <= {v.pk for v in newcomers}
    last_early = max((rows[v.pk].queued_at, rows[v.pk].pk) for v in waiting)
    assert all((s.queued_at, s.pk) > last_early for s in still)


def test_two_organisers_confirming_one_shift_make_each_record_once(city):
    activity = make_activity(city.community_a, capacity=20)
    shift = first_shift(activity)
    people = _volunteers(city.grid_a, 20, "丁")
    for volunteer in people:
        signup_create(actor=None, volunteer=volunteer, shift_id=shift.pk)
        attend(
            volunteer,
            shift,
            shift.starts_at + dt.timedelta(minutes=1),
            shift.starts_at + dt.timedelta(hours=2, minutes=5),
        )
    second = UserFactory(username="worker-a2")
    grant(second, city.community_a, Role.WORKER)
    organisers = [(u, Scope.for_user(u)) for u in (city.worker_a, second)]
    calls = [
        lambda u=u, scope=scope: shift_confirm(actor=u, scope=scope, shift=shift)
        for u, scope in organisers
    ]
    results, errors = _all_at_once(calls, threads=2)
    assert errors == []
    assert sorted((r.created, r.confirmed) for r in results) == [(0, 0), (20, 20)]
    records = ServiceRecord.objects.filter(shift=shift)
    assert records.count() == 20
    assert records.values("signup_id").distinct().count() == 20
    assert set(records.values_list("status", "minutes").distinct()) == {
        (RecordStatus.CONFIRMED, 120)
    }
    assert Signup.objects.filter(shift=shift, attendance=Attendance.PRESENT).count() == 20
    for volunteer in Volunteer.objects.filter(pk__in=[v.pk for v in people]):
        assert volunteer.recorded_minutes == volunteer.historical_minutes + 120
    assert Shift.objects.get(pk=shift.pk).records_created_at is not None
