"""The import benchmark runs end to end on tiny data and ends with its RESULT line."""

from __future__ import annotations

import re

from benchmarks import import_volunteers


def test_benchmark_quick_run_prints_the_result_line(capsys):
    line = import_volunteers.main(["--quick", "--rows", "120"])
    out = capsys.readouterr().out
    assert out.rstrip("\n").split("\n")[-1] == line
    assert re.fullmatch(r"RESULT import_volunteers rows_per_s=\d+\.\d budget=2000 (ok|short)", line)
    assert "import     120 rows" in out
    assert "imported 1" in out  # the children really imported rows
    assert "reference: raw openpyxl read of the large file" in out
    assert re.search(r"memory is (flat|NOT flat)", out)
