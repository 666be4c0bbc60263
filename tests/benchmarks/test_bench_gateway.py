"""The gateway benchmark still runs end to end, at a tiny size, and prints sane figures.

It imports test helpers and drives a real server, so it rots silently when either
changes; this runs it as its users do (``python -m benchmarks.bench_gateway``).
"""

from __future__ import annotations

import math
import re

from tests.benchmarks.support import run_benchmark

ROW = re.compile(
    r"^  (?P<label>\S.*?)\s+(?P<mib_s>[\d.]+)\s+(?P<raw>[\d.]+)\s+(?P<ratio>[\d.]+)x"
    r"\s+(?P<cpu>[\d.]+|-)$"
)
ARGS = ["--size-mib", "4", "--repeat", "1", "--spark-files", "0"]
EXPECTED = {
    "raw disk write + fsync",
    "raw disk read (cold)",
    "raw disk read (warm)",
    "s3 put_object",
    "s3 get_object (cold)",
    "s3 get_object (warm)",
    "s3 upload_file (multipart)",
    "s3 download_file (ranged) (cold)",
    "s3 download_file (ranged) (warm)",
    "webhdfs CREATE",
    "webhdfs OPEN (cold)",
    "webhdfs OPEN (warm)",
    "s3 PUT, curl (presigned)",
    "s3 GET, curl (presigned) (cold)",
    "s3 GET, curl (presigned) (warm)",
    "s3 multipart, curl x2 (64 MiB parts)",
    "webhdfs CREATE, curl",
    "webhdfs OPEN, curl (cold)",
    "webhdfs OPEN, curl (warm)",
}


def test_bench_gateway_prints_every_measure_with_consistent_figures() -> None:
    output = run_benchmark("bench_gateway", ARGS)
    lines = output.splitlines()
    assert lines[0].startswith("object size: 4 MiB, median of 1; load average ")
    rows = {m["label"]: m for line in lines if (m := ROW.match(line))}
    assert set(rows) == EXPECTED, output
    for label, row in rows.items():
        mib_s, raw, ratio = float(row["mib_s"]), float(row["raw"]), float(row["ratio"])
        assert math.isfinite(mib_s), label
        assert mib_s > 0, label
        assert math.isclose(ratio, mib_s / raw, abs_tol=0.01), label
        if label.startswith("raw disk"):
            assert row["cpu"] == "-", label
            assert ratio == 1.0, label
        else:
            # CPU time is counted in clock ticks: 4 MiB may round to 0, never to a minute.
            assert 0 <= float(row["cpu"]) < 60, label
    # Each measure is compared with raw-disk runs made side by side with its own runs
    # (a baseline of its own, not the raw row's), each of the right kind and cache state.
    for label, row in rows.items():
        assert math.isfinite(float(row["raw"])), label
        assert float(row["raw"]) > 0, label
    raw_figures = {rows[label]["raw"] for label in rows if not label.startswith("raw disk")}
    assert len(raw_figures) > 1, output
