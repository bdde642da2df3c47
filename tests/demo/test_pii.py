"""No plaintext ID number or phone anywhere after ``seed-demo``: database, logs or output.

On SQLite the real command runs in a subprocess against a database file, and the test greps
the bytes of that file (and its -wal/-shm), the log file, stdout and stderr. The second test
runs in-process on whatever database the suite uses (PostgreSQL included) and greps the text
of every column of every table, the captured logs (with SQL logging on) and the output.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.demo.seed import seed_demo
from huzhu.people.models import Person

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))

DUMP = """
import json
from huzhu.people.models import Person
rows = [
    [p.id_number, p.phone, p.id_number_masked, p.phone_masked]
    for p in Person.objects.order_by("pk")
]
print(json.dumps(rows))
"""


def _huzhu(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "huzhu.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )


def _assert_absent(plain: list[str], where: str, blob: bytes) -> None:
    leaked = [value for value in plain if value.encode() in blob]
    # Report only masked forms, so a failing test does not print the numbers either.
    assert not leaked, f"{len(leaked)} plaintext numbers in {where}, e.g. {leaked[0][-4:]}"


@pytest.mark.skipif(ON_POSTGRES, reason="greps a SQLite database file")
def test_no_plaintext_personal_numbers_in_sqlite_file_logs_or_output(tmp_path):
    log_file = tmp_path / "huzhu.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HUZHU_DATABASE_URL")}
    env.update(
        HUZHU_VAR_DIR=str(tmp_path),
        HUZHU_LOG_FILE=str(log_file),
        HUZHU_LOG_LEVEL="DEBUG",
        HUZHU_DEBUG="1",  # with pii_settings: every SQL statement and its parameters logged
        DJANGO_SETTINGS_MODULE="tests.demo.pii_settings",
    )
    migrate = _huzhu(["migrate", "--noinput"], env)
    assert migrate.returncode == 0, migrate.stderr.decode()[-2000:]
    seed = _huzhu(["seed-demo", "--residents", "200"], env)
    assert seed.returncode == 0, seed.stderr.decode()[-2000:]
    assert "worker-a" in seed.stdout.decode()

    dump_env = {k: v for k, v in env.items() if k != "HUZHU_LOG_FILE"}
    dump = _huzhu(["shell", "-c", DUMP], dump_env)
    assert dump.returncode == 0, dump.stderr.decode()[-2000:]
    rows = json.loads(dump.stdout.decode().strip().splitlines()[-1])
    ids = [r[0] for r in rows]
    phones = [r[1] for r in rows if r[1]]
    assert len(ids) >= 200 and len(set(ids)) == len(ids)
    assert len(phones) >= 100

    database = tmp_path / "huzhu.sqlite3"
    files = [database, *(Path(f"{database}{s}") for s in ("-wal", "-shm", "-journal"))]
    db_bytes = b"".join(p.read_bytes() for p in files if p.exists())
    assert len(db_bytes) > 100_000
    # The check is not vacuous: the masked forms (with the visible suffix) are in the file.
    for _id, _phone, id_masked, phone_masked in rows:
        assert id_masked.encode() in db_bytes
        if phone_masked:
            assert phone_masked.encode() in db_bytes
    log_bytes = log_file.read_bytes()
    assert b"INSERT" in log_bytes  # SQL logging was on, so the log saw every statement
    assert b"demo.seed" in log_bytes

    plain = ids + phones
    _assert_absent(plain, "the database file", db_bytes)
    _assert_absent(plain, "the log file", log_bytes)
    for name, proc in (("migrate", migrate), ("seed-demo", seed)):
        _assert_absent(plain, f"{name} stdout", proc.stdout)
        _assert_absent(plain, f"{name} stderr", proc.stderr)


@pytest.mark.django_db
def test_no_plaintext_personal_numbers_in_any_table_text(settings_password_hasher, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    out = io.StringIO()
    with CaptureQueriesContext(connection):  # forces SQL logging at DEBUG
        seed_demo(password="demo-pass-123", residents=200, progress=True, stdout=out)
    people = list(Person.objects.all())
    ids = [p.id_number for p in people]
    phones = [p.phone for p in people if p.phone]
    assert len(ids) >= 200 and len(phones) >= 100

    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    text = "\n".join(chunks)
    for p in people:
        assert p.id_number_masked in text
    captured = capsys.readouterr()
    plain = ids + phones
    _assert_absent(plain, "the tables", text.encode())
    _assert_absent(plain, "the logs", caplog.text.encode())
    assert "INSERT" in caplog.text and "demo.seed" in caplog.text
    _assert_absent(plain, "stdout", (out.getvalue() + captured.out).encode())
    _assert_absent(plain, "stderr", captured.err.encode())


@pytest.fixture
def settings_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
