"""The ledger under real concurrency (PostgreSQL only).

Eight worker threads, each with a database connection of its own, are released together by
a barrier and post 500 random transfers each among 50 person accounts with a credit limit of
0 and small starting balances, so that many transfers must be refused. Afterwards: no
balance is below its limit (nor was one ever: every entry's running balance is checked, in
order, account by account), the sums are conserved, ``ledger.verify()`` is clean, and every
transfer either posted or was refused with ``LedgerRefusal`` — the CHECK constraint never
had to stop one. SQLite lets one writer in at a time, so this test is skipped there."""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.db.models import Sum

from huzhu.people.models import Person
from huzhu.people.services import person_build
from huzhu.timebank import ledger
from huzhu.timebank.ledger import BatchItem, LedgerRefusal, Leg
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer
from huzhu.timebank.services import org_account
from tests.factories import make_id_number, make_phone

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

WORKERS = 8
TRANSFERS = 500  # per worker
ACCOUNTS = 50
SEED = 20240501


def _person_accounts(org: Any, count: int) -> list[int]:
    """Person accounts with a credit limit of 0, made in bulk (not what is tested here)."""
    persons = Person.objects.bulk_create(
        [
            person_build(org=org, name=f"账户{n}", id_number=make_id_number(), phone=make_phone())
            for n in range(count)
        ]
    )
    community = org.parent
    accounts = Account.objects.bulk_create(
        [Account(kind=AccountKind.PERSON, person=p, org=community, credit_limit=0) for p in persons]
    )
    return [a.pk for a in accounts]


def _fund(issuance_id: int, ids: list[int], rng: random.Random) -> int:
    """Starting balances of 30 minutes to 3 hours from the issuance account; the total."""
    items = [BatchItem(issuance_id, pk, rng.randrange(30, 181, 10), f"start:{pk}") for pk in ids]
    assert ledger.post_batch(kind="earn", items=items) == len(items)
    return sum(item.minutes for item in items)


def _worker(number: int, ids: list[int], barrier: threading.Barrier, tally: dict[str, Any]) -> None:
    from django.db import connection as own

    rng = random.Random(SEED + number)
    posted, refused, errors = 0, Counter(), []
    try:
        own.ensure_connection()
        barrier.wait(timeout=60)
        for _ in range(TRANSFERS):
            source, target = rng.sample(ids, 2)
            minutes = rng.randrange(10, 121, 10)
            try:
                ledger.post(kind="family", legs=[Leg(source, -minutes), Leg(target, minutes)])
                posted += 1
            except LedgerRefusal as refusal:
                refused[refusal.rule] += 1
            except Exception as exc:  # the CHECK constraint or anything else unexpected
                errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        own.close()
        with tally["lock"]:
            tally["posted"] += posted
            tally["refused"].update(refused)
            tally["errors"].extend(errors)


def _running_balances_never_below(limit: int, ids: list[int]) -> None:
    """Each account's entries, in id order, add up step by step to their running balance,
    which never went below the limit (so no moment had a balance below it)."""
    running: dict[int, int] = defaultdict(int)
    rows = Entry.objects.filter(account_id__in=ids).order_by("account_id", "id")
    for account_id, amount, after in rows.values_list("account_id", "amount", "balance_after"):
        running[account_id] += amount
        assert after == running[account_id], account_id
        assert after >= -limit, account_id


def test_eight_workers_never_overdraw_and_lose_nothing(city):
    rng = random.Random(SEED)
    ids = _person_accounts(city.grid_a, ACCOUNTS)
    issuance = org_account(city.community_a, AccountKind.ISSUANCE)
    issued = _fund(issuance.pk, ids, rng)

    tally: dict[str, Any] = {
        "lock": threading.Lock(),
        "posted": 0,
        "refused": Counter(),
        "errors": [],
    }
    barrier = threading.Barrier(WORKERS)
    threads = [
        threading.Thread(target=_worker, args=(n, ids, barrier, tally)) for n in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    assert tally["errors"] == []  # no CheckViolation, deadlock or other unhandled error
    refused = sum(tally["refused"].values())
    assert set(tally["refused"]) == {"balance.insufficient"}
    assert tally["posted"] + refused == WORKERS * TRANSFERS
    assert tally["posted"] > 0 and refused > 0  # the limits were really in play
    assert Transfer.objects.filter(kind="family").count() == tally["posted"]
    assert Entry.objects.filter(transfer__kind="family").count() == 2 * tally["posted"]

    accounts = Account.objects.filter(pk__in=ids)
    assert not accounts.filter(balance__lt=0).exists()
    assert accounts.aggregate(s=Sum("balance"))["s"] == issued  # conserved
    issuance.refresh_from_db()
    assert issuance.balance == -issued
    _running_balances_never_below(0, ids)
    check = ledger.verify()
    assert check.ok, (check.mismatched, check.unbalanced, check.total)
    assert check.transfers == ACCOUNTS + tally["posted"]
