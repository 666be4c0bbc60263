"""Run every benchmark in turn (``make bench``), or those named on the command line."""

from __future__ import annotations

import subprocess
import sys

ALL = ("bench_core", "bench_tree", "bench_api", "bench_gateway", "bench_replicas")


def main(names: list[str]) -> int:
    for name in names or ALL:
        if name not in ALL:
            print(f"unknown benchmark {name!r}; one of: {', '.join(ALL)}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        # One process per benchmark, so caches and memory figures never leak between them.
        done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False)
        if done.returncode != 0:
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
