"""The sign-up benchmark runs end to end on tiny data and ends with its RESULT lines.

It runs in a subprocess on a database of its own, as the real run does: a temporary SQLite
file (the confirmation part only), and with PostgreSQL also ``huzhu_bench_signup`` on the
test server (both parts). Timings are not asserted, only that the run completes, checks
what it must and prints the lines in the format of DESIGN.md §6."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from benchmarks import signup
from tests.benchmark_runs import run_benchmark

TINY = ["--quick", "--signups", "12", "--capacity", "4", "--connections", "6", "--size", "20"]
CONFIRM_LINE = r"RESULT signup confirm_records_per_s=\d+\.\d budget=20000 (ok|short)"


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_benchmark("signup", tmp_path, *TINY, "--repeat", "2", *extra)


def test_sqlite_run_confirms_and_skips_the_contention_part(tmp_path):
    out = _run(tmp_path).stdout
    lines = out.strip().splitlines()
    assert re.fullmatch(CONFIRM_LINE, lines[-1]), lines[-1]
    assert not any(line.startswith("RESULT signup accepted") for line in lines)
    assert "note: the contention part needs PostgreSQL" in out
    assert "built 20 volunteers" in out
    assert re.search(
        r"batch confirmation of a 20-person shift .*: median [\d.]+ ms over 2 runs", out
    )
    assert re.search(r"ratio service/raw = [\d.]+", out)
    assert not list(tmp_path.glob("huzhu_bench_signup*/bench.sqlite3"))  # cleaned up


@pytest.mark.postgres_only
def test_postgres_run_prints_both_result_lines(tmp_path):
    parts = urlsplit(os.environ["DATABASE_URL"])
    server = urlunsplit(parts._replace(path="/postgres"))
    out = _run(tmp_path, "--database-url", server).stdout
    lines = out.strip().splitlines()
    results = [line for line in lines if line.startswith("RESULT ")]
    assert results[0] == "RESULT signup accepted=4 budget=4 ok"
    assert re.fullmatch(CONFIRM_LINE, results[1]) and lines[-1] == results[1]
    assert re.search(
        r"contention: 12 sign-ups for 4 places from 6 connections released together", out
    )
    assert "confirmed 4, waitlisted 8, errors 0, rows 12, Shift.confirmed_count 4" in out
    assert re.search(r"ratio concurrent/serial throughput = [\d.]+", out)


def test_argument_checks():
    args = signup.parse_args(["--quick"])
    assert (args.signups, args.capacity, args.size, args.repeat) == (200, 50, 500, 3)
    assert signup.parse_args([]).repeat == 9
    with pytest.raises(SystemExit):
        signup.parse_args(["--capacity", "300"])
