"""The benchmarks run on main: each one, on a small size, exits 0 and prints its figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench"


def test_overhead_benchmark_runs_on_the_flagship() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH / "overhead.py"), "--records", "300"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "synthloom CPU per record" in result.stdout
