"""The matching benchmark runs end to end on tiny data and ends with its RESULT lines.

It runs in a subprocess on a database of its own, as the real run does: a temporary SQLite
file, and with PostgreSQL also ``huzhu_bench_matching`` on the test server. Timings are not
asserted, only that the run completes, that ``rank`` and the full scan gave the same top 10
for every need compared (the script stops otherwise) and the lines follow DESIGN.md §6."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from benchmarks import matching as bench
from tests.benchmark_runs import run_benchmark

TINY = ["--quick", "--volunteers", "300", "--needs", "6", "--repeat", "2", "--reference", "3"]
MEDIAN_LINE = r"RESULT matching top10_median_ms=\d+\.\d budget=50 (ok|short)"
SPEEDUP_LINE = r"RESULT matching speedup=\d+\.\d budget=20 (ok|short)"


def _run(tmp_path: Path, *extra: str) -> str:
    return run_benchmark("matching", tmp_path, *TINY, *extra).stdout


def _check(out: str) -> None:
    lines = out.strip().splitlines()
    results = [line for line in lines if line.startswith("RESULT ")]
    assert len(results) == 2
    assert re.fullmatch(MEDIAN_LINE, results[0]), results[0]
    assert re.fullmatch(SPEEDUP_LINE, results[1]) and lines[-1] == results[1], lines[-1]
    assert "filled 300 volunteers" in out
    assert re.search(r"placed \d+ communities and grids \(1 km apart\), \d+ offers", out)
    assert re.search(r"profiles_refresh\(\): [\d,]+ match profile rows in [\d.]+ s", out)
    assert "posted 6 needs through need_create" in out
    assert re.search(
        r"rank\(limit=10\): median [\d.]+ ms, p95 [\d.]+ ms over 12 rankings — context [\d.]+ ms"
        r" \+ candidate query [\d.]+ ms \+ scoring in Python [\d.]+ ms",
        out,
    )
    # The script stops unless the full scan gave the same top 10 for every need compared.
    assert re.search(
        r"reference rank_full_scan: median [\d.]+ ms over 3 needs, same top 10 for each; "
        r"speed-up full scan / rank = [\d.]+x",
        out,
    )
    assert re.search(r"candidates returned per need: min \d+, max 10", out)


def test_sqlite_run_prints_both_result_lines(tmp_path):
    _check(_run(tmp_path))
    assert not list(tmp_path.glob("huzhu_bench_matching*/bench.sqlite3"))  # cleaned up


@pytest.mark.postgres_only
def test_postgres_run_prints_both_result_lines(tmp_path):
    parts = urlsplit(os.environ["DATABASE_URL"])
    server = urlunsplit(parts._replace(path="/postgres"))
    out = _run(tmp_path, "--database-url", server, "--explain")
    assert out.startswith("# matching: 300 volunteers on postgresql (huzhu_bench_matching)")
    _check(out)
    assert "--- plan of the candidate query" in out and "Execution Time" in out


def test_argument_checks():
    quick = bench.parse_args(["--quick"])
    assert (quick.volunteers, quick.needs, quick.repeat, quick.reference) == (20_000, 30, 3, 5)
    assert bench.parse_args([]).volunteers == 1_000_000
    assert bench.parse_args(["--needs", "2"]).reference == 2
    for wrong in (["--volunteers", "50"], ["--needs", "0"], ["--repeat", "0"]):
        with pytest.raises(SystemExit):
            bench.parse_args(wrong)
