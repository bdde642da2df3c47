"""Running a benchmark script end to end from a smoke test: in a subprocess, on a database
of its own (the test's DATABASE_URL is not passed on), with files under ``tmp_path``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks import common

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(topic: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "HUZHU_DATABASE_URL", common.URL_ENV)
    }
    env.update(HUZHU_VAR_DIR=str(tmp_path), TMPDIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{topic}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc
