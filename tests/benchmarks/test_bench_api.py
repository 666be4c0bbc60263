"""The REST API benchmark still runs end to end, at a tiny size, and prints sane figures.

It drives a real server and a load generator in a second process, both built from test
helpers, so it rots silently when either changes; this runs its ``main`` as
``python -m benchmarks.bench_api`` does, for half a second per measure and 4 MiB.
"""

from __future__ import annotations

import math
import re

import pytest

from benchmarks import bench_api
from tests.benchmarks.support import ROOT

SMALL = re.compile(
    r"^(?P<name>stat|get)\s+4 KiB x2 clients:\s+(?P<rps>[\d.]+) req/s\s+"
    r"p50 (?P<p50>[\d.]+) ms\s+p99 (?P<p99>[\d.]+) ms\s+"
    r"server CPU (?P<cpu>\d+) us/request \(load avg [\d.]+\)$"
)
LARGE = re.compile(
    r"^4 MiB: cp (?P<cp>[\d.]+) MiB/s, upload (?P<up>[\d.]+) MiB/s \((?P<up_ratio>[\d.]+)x cp, "
    r"server CPU [\d.]+ ms/MiB\), download (?P<down>[\d.]+) MiB/s \((?P<down_ratio>[\d.]+)x cp, "
    r"server CPU [\d.]+ ms/MiB\), server peak RSS (?P<rss>\d+) MiB \(load avg [\d.]+\)$"
)


def test_bench_api_prints_stat_get_and_large_object_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)  # the load generator runs as ``python -m benchmarks.bench_api``
    bench_api.main(["--seconds", "0.5", "--clients", "2", "--size-mib", "4"])
    lines = capsys.readouterr().out.splitlines()
    small = {m["name"]: m for line in lines if (m := SMALL.match(line))}
    assert set(small) == {"stat", "get"}, lines
    for name, row in small.items():
        assert float(row["rps"]) > 0, name
        assert 0 < float(row["p50"]) <= float(row["p99"]), name
        assert int(row["cpu"]) > 0, name
    large = [m for line in lines if (m := LARGE.match(line))]
    assert len(large) == 1, lines
    row = large[0]
    for field in ("cp", "up", "down"):
        assert 0 < float(row[field]) < math.inf, field
    # The ratios printed are the figures printed, divided.
    assert math.isclose(float(row["up_ratio"]), float(row["up"]) / float(row["cp"]), abs_tol=0.01)
    assert float(row["rss"]) > 0
    # Nothing is left behind in the working directory.
    assert not list(ROOT.glob("bench-api-*"))
