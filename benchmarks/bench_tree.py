"""Benchmark of the committed-state tree: build, commit-sized applies, diff, paging.

Run: ``.venv/bin/python -m benchmarks.bench_tree [--sizes 1000,1000000] [--repeat 7]
[--stores memory,local]``. For each size and block store it builds a tree of object
entries (keys like ``data/part-00042/file-000123.parquet``, ~150-byte values), then times
on that tree: 100 changes forming one new partition, 100 scattered updates, the diffs of
both, and a page of 1,000 items from a random offset. Nodes go through
``PackedNodeStore`` as in the server: packs in the block store, their index in a
metadata store (memory for ``memory``, SQLite next to the blocks for ``local``).

Each figure is the median over ``--repeat`` runs, as wall time and as CPU time of this
process (on a shared machine the wall time also counts waiting for a core). The peak
memory of building is measured in a fresh process per size (``ru_maxrss``) with a
block store that keeps nothing, so it shows what building itself holds.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lakever_server.graveler.tree import NodeCache, PackedNodeStore, Tree
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV

FILES_PER_PARTITION = 1000


def object_key(i: int) -> bytes:
    partition, file = divmod(i, FILES_PER_PARTITION)
    return f"data/part-{partition:05d}/file-{file:06d}.parquet".encode()


def object_value(key: bytes, version: int = 0) -> bytes:
    digest = hashlib.sha256(key + version.to_bytes(4, "little")).hexdigest()
    return (
        f'{{"a":"data/{digest}","s":{len(key) * 7919 + version},"e":"{digest[:32]}",'
        f'"m":1763700000,"c":"application/octet-stream"}}'
    ).encode()


def items(count: int) -> Iterator[tuple[bytes, bytes]]:
    """A sorted stream of ``count`` object entries, generated lazily (build streams)."""
    for i in range(count):
        key = object_key(i)
        yield key, object_value(key)


class DiscardingNodeStore:
    """Keeps no node: for measuring what building itself holds in memory."""

    def get(self, node_id: str) -> bytes:
        raise KeyError(node_id)

    def put(self, node_id: str, data: bytes) -> None:
        pass


def block_store(kind: str, scratch: Path) -> tuple[Any, Any, str]:
    """A block store, the metadata store holding the node index, and a namespace."""
    if kind == "memory":
        return MemoryBlockStore(), MemoryKV(), "mem://bench"
    from lakever_server.storage.block.local import LocalBlockStore
    from lakever_server.storage.kv.sqlite import SQLiteKV

    return LocalBlockStore(scratch / "blocks"), SQLiteKV(scratch / "meta.db"), "local://bench"


class Timings:
    """Wall and CPU milliseconds of named operations."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def run(self, name: str, operation: Callable[..., object], *args: object) -> object:
        wall, cpu = time.perf_counter(), time.process_time()
        result = operation(*args)
        self.cpu.setdefault(name, []).append((time.process_time() - cpu) * 1000)
        self.wall.setdefault(name, []).append((time.perf_counter() - wall) * 1000)
        return result


def page(tree: Tree, root: str, start: bytes) -> list[tuple[bytes, bytes]]:
    return [item for item, _ in zip(tree.iterate(root, start), range(1000), strict=False)]


def diff(tree: Tree, left: str, right: str) -> int:
    return sum(1 for _ in tree.diff(left, right))


def bench_size(kind: str, size: int, repeat: int, rnd: random.Random) -> dict[str, float]:
    """Figures (wall ms, cpu ms, items/s) for one size on one kind of block store."""
    with tempfile.TemporaryDirectory(prefix="bench-tree-") as scratch:
        block, kv, namespace = block_store(kind, Path(scratch))
        cache = NodeCache()
        tree = Tree(PackedNodeStore(block, kv, namespace, cache))
        timings = Timings()
        root = timings.run("build", tree.build, items(size))
        assert isinstance(root, str)
        for rep in range(repeat):
            partition = f"data/part-{rnd.randrange(size // FILES_PER_PARTITION + 1):05d}-new{rep}/"
            added = [
                ((partition + f"file-{f:06d}.parquet").encode(), object_value(b"new", f))
                for f in range(100)
            ]
            scattered = sorted(object_key(i) for i in rnd.sample(range(size), min(100, size)))
            updates = [(key, object_value(key, rep + 1)) for key in scattered]
            with_partition = timings.run("apply 100 as a new partition", tree.apply, root, added)
            with_updates = timings.run("apply 100 scattered updates", tree.apply, root, updates)
            assert timings.run("diff of the new partition", diff, tree, root, with_partition) == 100
            assert (
                timings.run("diff of the scattered updates", diff, tree, root, with_updates) == 100
            )
            start = object_key(rnd.randrange(size))
            assert timings.run("page of 1,000 at a random offset", page, tree, root, start)
        out: dict[str, float] = {}
        for name in timings.wall:
            out[f"{name} (wall)"] = statistics.median(timings.wall[name])
            out[f"{name} (cpu)"] = statistics.median(timings.cpu[name])
        out["build items/s (wall)"] = size / (out["build (wall)"] / 1000)
        out["build items/s (cpu)"] = size / (out["build (cpu)"] / 1000)
        out["cache hit ratio"] = cache.hits / max(1, cache.hits + cache.misses)
        kv.close()
        return out


def build_memory_probe(size: int) -> None:
    """Build ``size`` items with nothing kept; print the process's peak RSS in MiB."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Tree(DiscardingNodeStore()).build(items(size))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{before / 1024:.1f} {after / 1024:.1f}")


def build_memory(size: int) -> tuple[float, float]:
    """(baseline, peak) RSS in MiB of a fresh process building ``size`` items."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_tree", "--probe-build", str(size)],
        check=True,
        capture_output=True,
        text=True,
    )
    baseline, peak = done.stdout.split()
    return float(baseline), float(peak)


def print_table(title: str, sizes: list[int], results: dict[int, dict[str, float]]) -> None:
    print(f"\n== {title} ==")
    header = f"{'':46}" + "".join(f"{size:>14,}" for size in sizes)
    print(header + (f"{'ratio':>10}" if len(sizes) > 1 else ""))
    for name in results[sizes[0]]:
        row = f"{name:46}" + "".join(f"{results[size][name]:>14,.2f}" for size in sizes)
        if len(sizes) > 1 and results[sizes[0]][name]:
            row += f"{results[sizes[-1]][name] / results[sizes[0]][name]:>10.2f}"
        print(row)


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark of the committed-state tree.")
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--stores", default="memory,local")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--probe-build", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_build:
        build_memory_probe(args.probe_build)
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rnd = random.Random(args.seed)
    memory = {size: build_memory(size) for size in sizes}
    print("\n== peak memory of building (fresh process, nodes discarded) ==")
    for size, (baseline, peak) in memory.items():
        print(f"{size:>14,} items: maxrss {peak:.1f} MiB (interpreter and imports: {baseline:.1f})")
    for kind in args.stores.split(","):
        results = {size: bench_size(kind, size, args.repeat, rnd) for size in sizes}
        print_table(f"{kind} block store, medians of {args.repeat}, ms", sizes, results)


if __name__ == "__main__":
    main()
