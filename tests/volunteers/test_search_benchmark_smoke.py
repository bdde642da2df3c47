"""The volunteer-search benchmark runs end to end on tiny data and prints its RESULT line.

It always runs on a temporary SQLite file in a subprocess (its own database, as the real
run builds one), so it never touches a PostgreSQL benchmark database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from benchmarks import common

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_prints_result_and_ratio(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "HUZHU_DATABASE_URL", common.URL_ENV)
    }
    env.update(HUZHU_VAR_DIR=str(tmp_path), TMPDIR=str(tmp_path))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.search_volunteers",
            "--quick",
            "--volunteers",
            "400",
            "--repeat",
            "4",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(
        r"RESULT search_volunteers median_ms=\d+\.\d budget=100 (ok|short)", lines[-1]
    ), lines[-1]
    text = proc.stdout
    assert "filled 400 volunteers" in text
    assert re.search(r"mix A \(subtree \+ skill \+ slot\): median [\d.]+ ms, p95 [\d.]+ ms", text)
    assert re.search(r"mix B \(category \+ min star \+ age band\): median", text)
    assert re.search(r"ratio reference/measured = [\d.]+x", text)
    assert not list(tmp_path.glob("huzhu_bench_*/bench.sqlite3"))  # cleaned up


def test_common_helpers(capsys):
    values = [float(v) for v in range(1, 101)]
    assert common.median(values) == 50.5
    assert common.percentile(values, 95) == 95.0
    assert common.percentile([3.0], 95) == 3.0
    line = common.result("search_volunteers", "median_ms", 12.345, 100, ok=True)
    assert line == "RESULT search_volunteers median_ms=12.3 budget=100 ok"
    assert capsys.readouterr().out == line + "\n"
    assert common.result("x", "n", 7, 5, ok=False) == "RESULT x n=7 budget=5 short"
