"""Running a benchmark as its users do, for the smoke tests of ``tests/benchmarks``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(module: str, args: list[str]) -> str:
    """``python -m benchmarks.<module> <args>`` from the repository root: its output,
    once it exited 0 (its error output is the failure message otherwise)."""
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
