"""The core benchmark still runs end to end, at a tiny scale, and prints every figure.

It drives the catalog in-process, so it rots silently when the core changes; this runs
it as its users do (``python -m benchmarks.bench_core``).
"""

from __future__ import annotations

import re

from tests.benchmarks.support import run_benchmark

ARGS = ["--scale", "0.003", "--repeats", "3", "--cache-mib", "2"]
NUMBER = r"[\d,]+(?:\.\d+)?"
ROW = re.compile(
    rf"^(?P<label>\S.*?)\s+(?P<big>{NUMBER}) ms\s+(?P<small>{NUMBER}) ms"
    rf"\s+ratio\s+(?P<ratio>{NUMBER})\s+cpu\s+(?P<big_cpu>{NUMBER}) ms"
    rf"\s+(?P<small_cpu>{NUMBER}) ms\s+ratio\s+"
    rf"(?P<cpu_ratio>{NUMBER})\s+\((?P<bound>[^)]*)\)$"
)
EXPECTED_ROWS = {
    "branch creation",
    "commit 100 changes, one new partition",
    "commit 100 changes, scattered",
    "merge run branch with 100 changes",
}


def _float(text: str) -> float:
    return float(text.replace(",", ""))


def test_bench_core_prints_every_measure_with_consistent_figures() -> None:
    out = run_benchmark("bench_core", ARGS)
    assert re.search(
        r"^stores: \S+; big lake 3,000 objects, small lake 1,000; median of 3; "
        r"load average [\d.]+ [\d.]+ [\d.]+$",
        out,
        re.MULTILINE,
    ), out
    build = re.search(
        rf"bulk build of the 3,000-object commit: ({NUMBER}) s, cpu ({NUMBER}) s "
        rf"\(({NUMBER}) entries/s\); peak RSS (\d+) MiB",
        out,
    )
    assert build, out
    assert int(build[4]) > 0
    assert re.search(r"^node cache after the build: \d+ MiB \(bounded at 2 MiB\)", out, re.M), out
    rows = {m["label"]: m for line in out.splitlines() if (m := ROW.match(line))}
    assert set(rows) == EXPECTED_ROWS, out
    for label, row in rows.items():
        big, small = _float(row["big"]), _float(row["small"])
        assert big > 0, label
        assert small > 0, label
        # The ratio is of the unrounded medians: within the rounding of the printed ones.
        low, high = (big - 0.005) / (small + 0.005), (big + 0.005) / (small - 0.005)
        assert low - 0.01 <= _float(row["ratio"]) <= high + 0.01, label
        big_cpu, small_cpu = _float(row["big_cpu"]), _float(row["small_cpu"])
        assert 0 <= big_cpu < 60_000, label
        assert 0 <= small_cpu < 60_000, label
        assert row["bound"].startswith("<="), label
    # What each commit wrote, on each lake: a scattered commit rewrites more nodes and
    # bytes than a partition, and on the big lake at least as many as on the small one.
    work = re.findall(
        rf"^  written per commit \(median\)\s+3,000 objects: ({NUMBER}) nodes, ({NUMBER}) KiB; "
        rf"1,000 objects: ({NUMBER}) nodes, ({NUMBER}) KiB$",
        out,
        re.M,
    )
    assert len(work) == 2, out
    (partition, scattered) = [[_float(x) for x in row] for row in work]
    assert all(x > 0 for x in partition + scattered), work
    assert scattered[0] > partition[0], work
    assert scattered[2] > partition[2], work
    assert scattered[0] >= scattered[2], work
    listing = re.search(
        rf"^page of 1,000 at a random offset \(big\)\s+({NUMBER}) ms\s+cpu ({NUMBER}) ms", out, re.M
    )
    assert listing, out
    assert _float(listing[1]) > 0
    bulk = re.search(
        rf"^commit of 1,000 staged changes: ({NUMBER}) s, cpu ({NUMBER}) s = ({NUMBER}) entries/s",
        out,
        re.M,
    )
    assert bulk, out
    assert _float(bulk[3]) > 0
    assert re.search(r"^load average after: [\d.]+ [\d.]+ [\d.]+$", out, re.M), out
