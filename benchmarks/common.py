"""Shared helpers for the benchmark scripts (DESIGN.md §6).

A benchmark builds a database of its own, fills it, measures, and ends with one line::

    RESULT <topic> <metric>=<value> budget=<value> ok|short

Typical use::

    from benchmarks import common

    parser = common.parser("search_volunteers", "Volunteer search among N volunteers")
    args = parser.parse_args()
    db = common.setup_database("search_volunteers", args.database_url, keep=args.keep)
    try:
        ...  # Django is set up and migrated from here on
        times = common.measure(run_once, repeat=30)
        common.result("search_volunteers", "median_ms", common.median(times), 100, ok=...)
    finally:
        db.cleanup()

``setup_database`` must run before anything imports Django models: it chooses the database
(a fresh PostgreSQL database ``huzhu_bench_<topic>`` on the server of ``--database-url``, or
a temporary SQLite file), then calls ``django.setup()`` and ``migrate``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

URL_ENV = "HUZHU_BENCH_DATABASE_URL"


def parser(topic: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes: --quick, --database-url, --keep, --reuse."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{topic}", description=description)
    p.add_argument("--quick", action="store_true", help="small data, under a minute")
    p.add_argument(
        "--database-url",
        default=os.environ.get(URL_ENV) or None,
        help="PostgreSQL server to run on, e.g. postgres://postgres@127.0.0.1:5432/ "
        f"(a database huzhu_bench_{topic} is created there); default: a temporary SQLite file "
        f"(or ${URL_ENV})",
    )
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="use the kept database as it is if it exists (skip filling when it is full)",
    )
    return p


@dataclass
class BenchDatabase:
    vendor: str  # "postgresql" or "sqlite"
    name: str  # database name or file path
    url: str
    existed: bool  # True when --reuse found the database already there
    keep: bool
    _admin_url: str = ""
    _tmpdir: str = ""

    def cleanup(self) -> None:
        from django.db import connections

        connections.close_all()
        if self.keep:
            print(f"# kept database {self.name}", file=sys.stderr)
            return
        if self.vendor == "postgresql":
            _pg_admin(self._admin_url, f'DROP DATABASE IF EXISTS "{self.name}"')
        elif self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)


def _pg_admin(admin_url: str, *statements: str) -> list:
    import psycopg

    results = []
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for sql in statements:
            cur = conn.execute(sql)
            results.append(cur.fetchall() if cur.description else None)
    return results


def setup_database(
    topic: str, database_url: str | None, *, keep: bool = False, reuse: bool = False
) -> BenchDatabase:
    """Create (or with ``reuse``, find) the benchmark's own database, point Django at it,
    set Django up and migrate. Call before importing any model."""
    name = f"huzhu_bench_{topic}"
    existed = False
    if database_url and database_url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(database_url)
        admin_db = parts.path.lstrip("/") or "postgres"
        admin_url = urlunsplit(parts._replace(path=f"/{admin_db}"))
        url = urlunsplit(parts._replace(path=f"/{name}"))
        rows = _pg_admin(admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")[0]
        existed = bool(rows)
        if existed and not reuse:
            _pg_admin(admin_url, f'DROP DATABASE "{name}"')
            existed = False
        if not existed:
            _pg_admin(admin_url, f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        db = BenchDatabase("postgresql", name, url, existed, keep or reuse, _admin_url=admin_url)
    elif database_url:
        raise SystemExit(f"unsupported --database-url (PostgreSQL only): {database_url}")
    else:
        if reuse or keep:
            tmpdir = os.path.join(tempfile.gettempdir(), name)
            os.makedirs(tmpdir, exist_ok=True)
        else:
            tmpdir = tempfile.mkdtemp(prefix=f"{name}-")
        path = os.path.join(tmpdir, "bench.sqlite3")
        existed = reuse and os.path.exists(path)
        if os.path.exists(path) and not existed:
            os.remove(path)
        url = f"sqlite:///{path}"
        db = BenchDatabase("sqlite", path, url, existed, keep or reuse, _tmpdir=tmpdir)
    os.environ["DATABASE_URL"] = db.url
    os.environ.pop("HUZHU_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huzhu.settings")
    os.environ.setdefault("HUZHU_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return db


# --- timing -------------------------------------------------------------------------------


def measure(fn: Callable[[int], object], repeat: int, warmup: int = 2) -> list[float]:
    """Milliseconds of ``fn(i)`` for i in range(repeat), after ``warmup`` untimed calls."""
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(repeat):
        started = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0–100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


class Stopwatch:
    """``with Stopwatch() as sw: …`` then ``sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._started


def say(message: str) -> None:
    """Progress and figures go to stdout, flushed (the RESULT line comes last)."""
    print(message, flush=True)


def result(topic: str, metric: str, value: float, budget: float, *, ok: bool) -> str:
    """Print and return the one RESULT line."""
    shown = f"{value:.1f}" if isinstance(value, float) else str(value)
    line = f"RESULT {topic} {metric}={shown} budget={budget:g} {'ok' if ok else 'short'}"
    print(line, flush=True)
    return line
