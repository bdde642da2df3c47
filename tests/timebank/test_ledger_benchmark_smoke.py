"""The ledger benchmark runs end to end on tiny data and ends with its RESULT lines.

It runs in a subprocess on a database of its own, as the real run does: a temporary SQLite
file, and with PostgreSQL also ``huzhu_bench_ledger`` on the test server. Timings are not
asserted, only that the run completes, checks the books and prints the lines in the format
of DESIGN.md §6."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from benchmarks import ledger as bench
from tests.benchmark_runs import run_benchmark

TINY = ["--quick", "--accounts", "20", "--transfers", "60", "--sizes", "5,10", "--repeat", "2"]
SINGLE_LINE = r"RESULT ledger single_ratio=\d+\.\d\d budget=0\.6 (ok|short)"
BATCH_LINE = r"RESULT ledger batch_entries_per_s=\d+\.\d budget=20000 (ok|short)"


def _run(tmp_path: Path, *extra: str) -> str:
    return run_benchmark("ledger", tmp_path, *TINY, *extra).stdout


def _check(out: str) -> None:
    lines = out.strip().splitlines()
    results = [line for line in lines if line.startswith("RESULT ")]
    assert len(results) == 2
    assert re.fullmatch(SINGLE_LINE, results[0]), results[0]
    assert re.fullmatch(BATCH_LINE, results[1]) and lines[-1] == results[1], lines[-1]
    assert "built 20 funded accounts" in out
    assert re.search(r"single transfers through ledger.post: 60 in \d+ ms", out)
    assert re.search(r"ratio service/raw = \d+\.\d\d", out)
    for size in (5, 10):
        assert re.search(
            rf"batch crediting of {size} records .*: median [\d.]+ ms over 2 runs", out
        )
    # 20 fundings, 100 warm-up and 2 × 60 single transfers, 3 × (5 + 10) earnings.
    assert "ledger verify: 21 accounts, 285 transfers, 570 entries — balanced" in out


def test_sqlite_run_prints_both_result_lines(tmp_path):
    _check(_run(tmp_path))
    assert not list(tmp_path.glob("huzhu_bench_ledger*/bench.sqlite3"))  # cleaned up


@pytest.mark.postgres_only
def test_postgres_run_prints_both_result_lines(tmp_path):
    parts = urlsplit(os.environ["DATABASE_URL"])
    server = urlunsplit(parts._replace(path="/postgres"))
    out = _run(tmp_path, "--database-url", server)
    assert out.startswith("# ledger on postgresql (huzhu_bench_ledger)")
    _check(out)


def test_argument_checks():
    args = bench.parse_args(["--quick"])
    assert (args.transfers, args.sizes, args.repeat, args.accounts) == (600, [200, 500], 3, 500)
    full = bench.parse_args([])
    assert (full.transfers, full.repeat) == (3000, 9)
    assert bench.parse_args(["--sizes", "800"]).accounts == 800
    for wrong in (["--sizes", "a,b"], ["--sizes", "0"], ["--accounts", "10", "--sizes", "20"]):
        with pytest.raises(SystemExit):
            bench.parse_args(wrong)
