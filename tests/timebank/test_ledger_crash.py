"""A process killed in the middle of posting leaves no partial transfer.

A child process sets Django up against the test database and posts a batch of earnings with
``ledger.post_batch``, then kills itself with SIGKILL (no clean-up of any kind runs):

* ``mid_batch``: from a database execute hook, right after the first balance UPDATE of the
  batch — the transfers and all their entries are written, one balance is updated, the
  others not yet, and ``post_batch``'s own transaction is still open;
* ``before_commit``: the batch and a few single transfers inside one ``transaction.atomic()``,
  killed before the block exits.

The child prints what it had written before dying; the parent then finds none of it: no
transfer or entry of the batch, every balance as before, ``ledger.verify()`` clean. A control
run of the same child that is not killed shows that its writes do reach the same database.
On PostgreSQL the child connects to the test database; on SQLite, whose test database lives
in memory, to a file copy of it (and a second child reads the file afterwards)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from huzhu.people.models import Person
from huzhu.people.services import person_build
from huzhu.timebank import ledger
from huzhu.timebank.models import Account, AccountKind, Entry, Transfer
from huzhu.timebank.services import org_account
from tests.factories import make_id_number, make_phone

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 150  # two earnings each: a batch of 300 transfers, 600 entries

CHILD = r"""
import json, os, signal, sys
import django
django.setup()
from django.db import connection, transaction
from huzhu.timebank import ledger
from huzhu.timebank.ledger import BatchItem, Leg
from huzhu.timebank.models import Account, Entry, Transfer

mode, prefix = sys.argv[1], sys.argv[2]
issuance, ids = json.loads(sys.argv[3])
items = [
    BatchItem(issuance, pk, 30 + 10 * (n % 7) + round_, f"{prefix}:{pk}:{round_}")
    for n, pk in enumerate(ids)
    for round_ in (0, 1)
]


def written():
    # What this process's open transaction holds right now.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM timebank_transfer WHERE idempotency_key LIKE %s", [prefix + ":%"]
        )
        transfers = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM timebank_entry e JOIN timebank_transfer t "
            "ON t.id = e.transfer_id WHERE t.idempotency_key LIKE %s",
            [prefix + ":%"],
        )
        entries = cursor.fetchone()[0]
    return transfers, entries


def die():
    transfers, entries = written()
    print(f"WRITTEN transfers={transfers} entries={entries}", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def after_first_balance_update(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if sql.startswith('UPDATE "timebank_account"'):
        die()
    return result


if mode == "control":
    print(f"POSTED {ledger.post_batch(kind='earn', items=items)}", flush=True)
elif mode == "mid_batch":
    with connection.execute_wrapper(after_first_balance_update):
        ledger.post_batch(kind="earn", items=items)
elif mode == "before_commit":
    with transaction.atomic():
        ledger.post_batch(kind="earn", items=items)
        for n, (a, b) in enumerate(zip(ids, ids[1:])):
            ledger.post(
                kind="family", legs=[Leg(a, -10), Leg(b, 10)], idempotency_key=f"{prefix}:f{n}"
            )
        die()
print("NOT KILLED", flush=True)
"""

INSPECT = r"""
import json, sys
import django
django.setup()
from huzhu.timebank import ledger
from huzhu.timebank.models import Account, Entry, Transfer

prefix = sys.argv[1]
check = ledger.verify()
print(json.dumps({
    "transfers": Transfer.objects.filter(idempotency_key__startswith=prefix + ":").count(),
    "entries": Entry.objects.filter(transfer__idempotency_key__startswith=prefix + ":").count(),
    "balances": sorted(Account.objects.values_list("pk", "balance")),
    "ok": check.ok,
}))
"""


def _accounts(city) -> tuple[int, list[int]]:
    persons = Person.objects.bulk_create(
        [
            person_build(
                org=city.grid_a, name=f"居民{n}", id_number=make_id_number(), phone=make_phone()
            )
            for n in range(PEOPLE)
        ]
    )
    accounts = Account.objects.bulk_create(
        [Account(kind=AccountKind.PERSON, person=p, org=city.community_a) for p in persons]
    )
    return org_account(city.community_a, AccountKind.ISSUANCE).pk, [a.pk for a in accounts]


def _database_url(tmp_path: Path) -> str:
    """A URL of the test database for the children (a file copy of it on SQLite)."""
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings["USER"] or ""
        password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
        host = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        return f"postgres://{user}{password}@{host}/{settings['NAME']}"
    connection.ensure_connection()
    if not connection.is_in_memory_db():
        return f"sqlite:///{settings['NAME']}"
    path = tmp_path / "crash.sqlite3"
    target = sqlite3.connect(path)
    with target:
        connection.connection.backup(target)
    target.close()
    return f"sqlite:///{path}"


def _child(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HUZHU_DATABASE_URL")}
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="huzhu.settings",
        HUZHU_VAR_DIR=str(tmp_path),
        HUZHU_LOG_LEVEL="WARNING",
    )
    return subprocess.run(
        [sys.executable, "-c", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _inspect(url: str, tmp_path: Path, prefix: str) -> dict[str, Any]:
    proc = _child(url, tmp_path, INSPECT, prefix)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("mode", "transfers"),
    [("mid_batch", 2 * PEOPLE), ("before_commit", 2 * PEOPLE + PEOPLE - 1)],
)
def test_a_killed_process_leaves_no_partial_transfer(city, tmp_path, mode, transfers):
    issuance, ids = _accounts(city)
    url = _database_url(tmp_path)
    payload = json.dumps([issuance, ids])

    control = _child(url, tmp_path, CHILD, "control", "control", payload)
    assert control.returncode == 0, control.stderr[-3000:]
    assert f"POSTED {2 * PEOPLE}" in control.stdout
    before = _inspect(url, tmp_path, "control")
    assert (before["transfers"], before["entries"], before["ok"]) == (2 * PEOPLE, 4 * PEOPLE, True)

    crashed = _child(url, tmp_path, CHILD, mode, "crash", payload)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr[-3000:]
    assert "NOT KILLED" not in crashed.stdout
    # Everything was written inside the open transaction when the process died …
    assert f"WRITTEN transfers={transfers} entries={2 * transfers}" in crashed.stdout

    # … and none of it is there now: no transfer, no entry, no balance moved.
    after = _inspect(url, tmp_path, "crash")
    assert (after["transfers"], after["entries"], after["ok"]) == (0, 0, True)
    assert after["balances"] == before["balances"]
    if connection.vendor == "postgresql":  # the same, seen from the test's own connection
        assert not Transfer.objects.filter(idempotency_key__startswith="crash:").exists()
        assert not Entry.objects.filter(transfer__idempotency_key__startswith="crash:").exists()
        assert sorted(Account.objects.values_list("pk", "balance")) == [
            tuple(row) for row in before["balances"]
        ]
        assert ledger.verify().ok
