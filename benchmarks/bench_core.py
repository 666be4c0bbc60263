"""Benchmarks of the versioning core: costs must follow the change, not the lake.

Run ``.venv/bin/python -m benchmarks.bench_core`` (``--small`` for a quick check at
1/100 scale, ``--scale 0.005 --repeats 3`` for a smoke test, ``--cache-mib 64`` for a
node cache far smaller than the 1M tree, so that most leaves are read cold).
In-process, on SQLite + local disk (the embedded default), falling back to memory
stores if those are absent.
Prints medians and the ratios the spec bounds, all measured in this one run, each with
the median CPU time of the process next to the wall time (the machine may be shared:
wall time includes waiting for a core, CPU time does not; it counts every thread of
the process, background ones included), and the load average before and after:

- branch creation at 1,000,000 objects vs 1,000 (ratio <= 1.2, p50 < 5 ms);
- commit of 100 changes on 1M vs 1K: one new partition (<= 1.5, p50 < 50 ms) and
  scattered across the keyspace (<= 3);
- merge of a run branch with 100 changes into 1M vs 1K main (<= 1.5);
- committing 100,000 staged changes (>= 50,000 entries/s);
- a page of 1,000 at a random offset of a 1M commit (p50 < 20 ms);
- peak RSS while building the 1M-object commit.

The 1M repository is set up with the bulk import path (``Graveler.import_items``:
one streaming ``Tree.build``), which is also what ``import_from`` uses.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.entries import encode_entry
from lakever_server.catalog.models import Entry
from lakever_server.graveler.commits import CommitRequest
from lakever_server.graveler.graveler import Graveler
from lakever_server.graveler.tree import DEFAULT_CACHE_BYTES, NodeCache

REPEATS = 21


def _stores(root: Path) -> tuple[Any, Any, str, str]:
    try:
        from lakever_server.storage.block.local import LocalBlockStore
        from lakever_server.storage.kv.sqlite import SQLiteKV
    except ImportError:
        from lakever_server.storage.block.memory import MemoryBlockStore
        from lakever_server.storage.kv.memory import MemoryKV

        return MemoryKV(), MemoryBlockStore(), "mem://bench", "memory"
    kv = SQLiteKV(root / "meta.db")
    return kv, LocalBlockStore(root / "blocks"), "local://bench", "sqlite+local"


def _key(i: int) -> str:
    """Object ``i`` of a lake laid out as 1,000-object partitions."""
    return f"events/date={i // 1000:05d}/part-{i % 1000:04d}.parquet"


def _entry(path: str, tag: str = "0") -> bytes:
    return encode_entry(
        Entry(
            path=path,
            physical_address=f"local://bench/data/{tag}-{abs(hash(path)) % 10**12:012d}",
            checksum=f"{abs(hash((path, tag))) % 16**32:032x}",
            size_bytes=1024,
            mtime=1_700_000_000,
        )
    )


Timing = tuple[float, float]
"""``(wall seconds, process CPU seconds)`` of one measured action."""


def _timed(action: Callable[[], object]) -> Timing:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def _ms(timings: list[Timing]) -> tuple[float, float]:
    """Median wall and median CPU time, in ms."""
    return (
        statistics.median(t[0] for t in timings) * 1000,
        statistics.median(t[1] for t in timings) * 1000,
    )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Lake:
    """One repository of ``size`` committed objects."""

    def __init__(self, catalog: Catalog, namespace: str, name: str, size: int) -> None:
        self.catalog, self.name, self.size = catalog, name, size
        self.graveler = catalog.graveler
        catalog.create_repository(name, f"{namespace}/{name}")

        def items() -> Iterator[tuple[bytes, bytes]]:
            for i in range(size):
                path = _key(i)
                yield path.encode(), _entry(path)

        self.graveler.import_items(
            name, "main", items, CommitRequest("bench", f"{size} objects", {})
        )
        self.runs = 0
        self.tree = self.graveler.tree_for(f"{namespace}/{name}")
        self.work: list[tuple[int, int]] = []
        """``(nodes, pack bytes)`` written by each measured commit since the last reset."""

    def written(self) -> tuple[int, int]:
        """Tree nodes and pack bytes written so far in this lake's namespace."""
        return self.tree.nodes_written, getattr(self.tree.store, "bytes_written", 0)

    def stage(self, branch: str, paths: list[str], tag: str) -> None:
        self.graveler.set_many(
            self.name, branch, [(p.encode(), _entry(p, tag)) for p in sorted(paths)]
        )

    def partition_paths(self, tag: str, rng: random.Random) -> list[str]:
        """100 files of one new partition, inserted at a random place in the keyspace."""
        date = rng.randrange(max(1, self.size // 1000))
        return [f"events/date={date:05d}-{tag}/part-{k:04d}.parquet" for k in range(100)]

    def scattered_paths(self, rng: random.Random) -> list[str]:
        return [_key(i) for i in rng.sample(range(self.size), 100)]


def interleaved(
    big: Lake, small: Lake, once: Callable[[Lake, int], Timing], repeats: int = REPEATS
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Median (wall, CPU) ms of ``once`` on each lake, alternating so both see one load."""
    big_times, small_times = [], []
    for i in range(repeats):
        big_times.append(once(big, i))
        small_times.append(once(small, i))
    return _ms(big_times), _ms(small_times)


def branch_once(lake: Lake, i: int) -> Timing:
    return _timed(lambda: lake.catalog.create_branch(lake.name, f"b-{i}", "main"))


def commit_once(lake: Lake, i: int, scattered: bool, rng: random.Random) -> Timing:
    tag = f"{'s' if scattered else 'p'}{i}"
    paths = lake.scattered_paths(rng) if scattered else lake.partition_paths(tag, rng)
    lake.stage("main", paths, tag)
    nodes, size = lake.written()
    timing = _timed(lambda: lake.catalog.commit(lake.name, "main", tag, "bench"))
    after = lake.written()
    lake.work.append((after[0] - nodes, after[1] - size))
    return timing


def merge_once(lake: Lake, i: int, rng: random.Random) -> Timing:
    run = f"run-{i}"
    lake.catalog.create_branch(lake.name, run, "main")
    lake.stage(run, lake.partition_paths(f"m{i}", rng), f"m{i}")
    lake.catalog.commit(lake.name, run, "run output", "dag")
    return _timed(lambda: lake.catalog.merge(lake.name, run, "main", "dag"))


def bench_listing(lake: Lake, rng: random.Random, pages: int) -> list[Timing]:
    head = lake.catalog.get_commit(lake.name, "main").id
    times = []
    for _ in range(pages):
        after = _key(rng.randrange(lake.size - 2000))

        def page(after: str = after) -> None:
            result = lake.catalog.list_entries(lake.name, head, after=after, amount=1000)
            assert len(result.results) == 1000

        times.append(_timed(page))
    return times


def bench_bulk_commit(catalog: Catalog, namespace: str, changes: int) -> Timing:
    name = "bulk-commit"
    catalog.create_repository(name, f"{namespace}/{name}")
    for start in range(0, changes, 10_000):
        paths = [_key(i) for i in range(start, min(changes, start + 10_000))]
        catalog.graveler.set_many(name, "main", [(p.encode(), _entry(p)) for p in paths])
    return _timed(lambda: catalog.commit(name, "main", "bulk", "bench"))


def _work(big: Lake, small: Lake) -> None:
    """What the commits just measured wrote, median per commit, on each lake."""
    parts = []
    for lake in (big, small):
        nodes = statistics.median(w[0] for w in lake.work)
        size = statistics.median(w[1] for w in lake.work)
        parts.append(f"{lake.size:,} objects: {nodes:.0f} nodes, {size / 1024:,.0f} KiB")
        lake.work.clear()
    print(f"{'  written per commit (median)':<40} {'; '.join(parts)}")


def _ratio(big: float, small: float) -> float:
    return big / small if small else float("inf")


def _row(label: str, big: tuple[float, float], small: tuple[float, float], bound: str) -> None:
    """One interleaved measure: wall p50s and their ratio, then CPU p50s and theirs."""
    wall = f"{big[0]:9.2f} ms {small[0]:9.2f} ms  ratio {_ratio(big[0], small[0]):5.2f}"
    cpu = f"cpu {big[1]:8.2f} ms {small[1]:8.2f} ms  ratio {_ratio(big[1], small[1]):5.2f}"
    print(f"{label:<40} {wall}  {cpu}  ({bound})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="1/100 scale, for a quick check")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="size of the big lake and bulk commit, 0-1"
    )
    parser.add_argument("--repeats", type=int, default=REPEATS, help="samples per median")
    parser.add_argument(
        "--cache-mib",
        type=int,
        default=DEFAULT_CACHE_BYTES // 2**20,
        help="node cache bound (default: the server's); smaller shows the cold-read regime",
    )
    args = parser.parse_args()
    scale = 0.01 if args.small else args.scale
    if not 0 < scale <= 1 or args.repeats < 1 or args.cache_mib < 1:
        parser.error("--scale must be in (0, 1], --repeats and --cache-mib at least 1")
    small_size = 1_000
    big_size = max(2 * small_size + 1, round(1_000_000 * scale))
    bulk = max(1_000, round(100_000 * scale))
    repeats = args.repeats
    root = Path(tempfile.mkdtemp(prefix="lakever-bench-"))
    try:
        kv, block, namespace, kind = _stores(root)
        cache = NodeCache(max_bytes=args.cache_mib * 2**20)
        catalog = Catalog(kv, block, graveler=Graveler(kv, block, cache=cache))
        rng = random.Random(7)
        print(
            f"stores: {kind}; big lake {big_size:,} objects, small lake {small_size:,}; "
            f"median of {repeats}; load average {_load()}"
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started, cpu_started = time.perf_counter(), time.process_time()
        big_lake = Lake(catalog, namespace, "big", big_size)
        build, build_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        small_lake = Lake(catalog, namespace, "small", small_size)
        print(
            f"bulk build of the {big_size:,}-object commit: {build:.1f} s, cpu {build_cpu:.1f} s "
            f"({big_size / build:,.0f} entries/s); peak RSS {rss_peak / 1024:.0f} MiB "
            f"(process before: {rss_before / 1024:.0f} MiB)"
        )
        print(
            f"node cache after the build: {cache.size_bytes / 2**20:.0f} MiB "
            f"(bounded at {cache.max_bytes / 2**20:.0f} MiB): the tree is never held whole"
        )
        print(f"{'':<40} {'big p50':>12} {'small p50':>12}")
        big, small = big_lake, small_lake
        _row(
            "branch creation",
            *interleaved(big, small, branch_once, repeats * 4),
            "<= 1.2, p50 < 5 ms",
        )
        _row(
            "commit 100 changes, one new partition",
            *interleaved(big, small, lambda lake, i: commit_once(lake, i, False, rng), repeats),
            "<= 1.5, p50 < 50 ms",
        )
        _work(big, small)
        _row(
            "commit 100 changes, scattered",
            *interleaved(big, small, lambda lake, i: commit_once(lake, i, True, rng), repeats),
            "<= 3",
        )
        _work(big, small)
        _row(
            "merge run branch with 100 changes",
            *interleaved(big, small, lambda lake, i: merge_once(lake, i, rng), repeats),
            "<= 1.5",
        )
        wall, cpu = _ms(bench_listing(big_lake, rng, repeats * 3))
        print(
            f"{'page of 1,000 at a random offset (big)':<40} {wall:9.2f} ms"
            f"  cpu {cpu:.2f} ms  (p50 < 20 ms)"
        )
        seconds, cpu_seconds = bench_bulk_commit(catalog, namespace, bulk)
        print(
            f"commit of {bulk:,} staged changes: {seconds:.2f} s, cpu {cpu_seconds:.2f} s = "
            f"{bulk / seconds:,.0f} entries/s (>= 50,000/s)"
        )
        print(f"load average after: {_load()}")
        kv.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
