"""Workers and residents at the same moment (PostgreSQL only): each thread has its own
database connection and a barrier releases them together. Two workers accepting the same
ticket: one acceptance, one event, the other told in Chinese. Ten residents reporting at
once: ten tickets with ten different numbers in sequence. SQLite lets one writer in at a
time, so these tests are skipped there."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from huzhu.desk.models import Ticket, TicketEvent, TicketStatus
from huzhu.desk.services import ticket_accept
from huzhu.orgs.roles import Role
from tests.desk.factories import access, report
from tests.factories import UserFactory, grant
from tests.needs.factories import make_resident

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def _race(calls: list[Callable[[], Any]]) -> dict[str, list[Any]]:
    """Run every call at once, each in a thread with its own connection."""
    barrier = threading.Barrier(len(calls))
    tally: dict[str, list[Any]] = {"won": [], "refused": [], "errors": []}
    lock = threading.Lock()

    def run(call: Callable[[], Any]) -> None:
        from django.db import connection

        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            outcome, value = "won", call()
        except ValidationError as refusal:
            outcome, value = "refused", refusal.messages
        except Exception as exc:  # anything else is a failure of the test
            outcome, value = "errors", f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            tally[outcome].append(value)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return tally


def test_two_workers_accepting_at_once_accept_once(city):
    colleague = UserFactory(username="colleague-a")
    grant(colleague, city.community_a, Role.WORKER)
    resident = make_resident(city.grid_a, "李阿姨", username="li")
    workers = [city.worker_a, colleague]
    for round_ in range(3):  # a few races, so the threads really meet at the lock
        ticket = report(resident.user, city.grid_a, description=f"楼道小广告（第{round_}次）")
        accesses = [access(worker, ticket) for worker in workers]
        tally = _race(
            [
                lambda w=worker, a=found: ticket_accept(actor=w, access=a).receiver_id
                for worker, found in zip(workers, accesses, strict=True)
            ]
        )
        assert tally["errors"] == []
        assert len(tally["won"]) == 1
        assert tally["refused"] == [[f"工单 {ticket.number} 当前为“已受理”，不能受理。"]]
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.ACCEPTED
        assert ticket.receiver_id == tally["won"][0]
        assert TicketEvent.objects.filter(ticket=ticket, verb="accept").count() == 1


def test_ten_reports_at_once_get_ten_numbers(city):
    residents = [make_resident(city.grid_a, f"居民{n}", username=f"r{n}") for n in range(10)]
    tally = _race(
        [
            lambda r=resident: report(r.user, city.grid_a, description="路口占道经营").number
            for resident in residents
        ]
    )
    assert tally["errors"] == [] and tally["refused"] == []
    numbers = sorted(tally["won"])
    assert len(set(numbers)) == 10
    suffixes = sorted(int(number[-6:]) for number in numbers)
    assert suffixes == list(range(1, 11))
    assert sorted(Ticket.objects.values_list("number", flat=True)) == numbers
