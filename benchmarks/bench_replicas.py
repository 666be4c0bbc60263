"""Replicas on PostgreSQL: throughput one vs two, metadata round trips, commit latency.

Run: ``.venv/bin/python -m benchmarks.bench_replicas [--seconds 5] [--clients 16]
[--commits 20]``. Needs PostgreSQL at 127.0.0.1:5432 (a fresh database per run).

- **throughput**: ``stat``, ``get`` and ``upload`` of small (4 KiB) objects by
  ``--clients`` concurrent keep-alive clients (threads of this process, spread evenly
  over the replicas) for ``--seconds`` each, against one replica, then two, sharing one
  PostgreSQL database and one block-store directory. Prints requests/s, p50 and p99.
- **round trips**: metadata statements per request and operation, from each replica's
  ``lakever_metadata_statements_per_request`` metric (every SQL statement is one round
  trip to PostgreSQL).
- **commit latency**: p50/p99 of committing 100 freshly uploaded files, on PostgreSQL
  and on SQLite (one server each).

Replicas run with ``auth.credential_cache_seconds: 0``, as docs/deployment.md advises
(a deleted key must stop working everywhere at once); ``--credential-cache-seconds``
measures the other choice. On a 2-core machine the clients, both replicas and
PostgreSQL share the cores: two replicas show the cost of coordination through the
database rather than a speed-up, which needs more cores or machines.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import postgres
from tests.support.server import RunningServer, free_port, start_server

REPO = "bench"
SMALL = b"s" * 4096
OBJECTS = 200
FILES_PER_COMMIT = 100


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def start_replica(work: Path, name: str, kv_url: str, env: dict[str, str]) -> RunningServer:
    extra = {**env, "LAKEVER_OBSERVABILITY__METRICS_PORT": str(free_port())}
    return start_server(work / name, kv_url=kv_url, extra_env=extra)


def metrics_port(server: RunningServer) -> int:
    return int(server.env["LAKEVER_OBSERVABILITY__METRICS_PORT"])


def populate(server: RunningServer, namespace: str) -> None:
    with server.http() as http:
        http.post("/repositories", json={"name": REPO, "storage_namespace": namespace})
        for i in range(OBJECTS):
            http.post(
                f"/repositories/{REPO}/branches/main/objects",
                params={"path": f"small/{i:04}.bin"},
                content=SMALL,
            ).raise_for_status()
        http.post(f"/repositories/{REPO}/branches/main/commits", json={"message": "objects"})


Operation = Callable[[httpx.Client, int, int], httpx.Response]


def op_stat(http: httpx.Client, client: int, i: int) -> httpx.Response:
    path = f"small/{(client * 7 + i) % OBJECTS:04}.bin"
    return http.get(f"/repositories/{REPO}/refs/main/objects/stat", params={"path": path})


def op_get(http: httpx.Client, client: int, i: int) -> httpx.Response:
    path = f"small/{(client * 7 + i) % OBJECTS:04}.bin"
    return http.get(f"/repositories/{REPO}/refs/main/objects", params={"path": path})


def op_upload(http: httpx.Client, client: int, i: int) -> httpx.Response:
    return http.post(
        f"/repositories/{REPO}/branches/main/objects",
        params={"path": f"uploads/{client}/{i}.bin"},
        content=SMALL,
    )


def load(
    servers: list[RunningServer], operation: Operation, clients: int, seconds: float
) -> tuple[float, float, float, int]:
    """``(requests/s, p50 ms, p99 ms, failures)`` of ``clients`` threads for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    barrier = threading.Barrier(clients)

    def run(client: int) -> None:
        with servers[client % len(servers)].http() as http:
            barrier.wait()
            until = time.perf_counter() + seconds
            i = 0
            while time.perf_counter() < until:
                started = time.perf_counter()
                reply = operation(http, client, i)
                latencies[client].append(time.perf_counter() - started)
                failures[client] += not reply.is_success
                i += 1

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    every = [x for per in latencies for x in per]
    return (
        len(every) / seconds,
        percentile(every, 0.5) * 1000,
        percentile(every, 0.99) * 1000,
        sum(failures),
    )


def statements_per_request(servers: list[RunningServer]) -> dict[str, tuple[float, float]]:
    """``{"METHOD operation": (requests, statements)}`` summed over ``servers``."""
    totals: dict[str, list[float]] = {}
    for server in servers:
        text = httpx.get(f"http://127.0.0.1:{metrics_port(server)}/metrics").text
        for family in text_string_to_metric_families(text):
            if family.name != "lakever_metadata_statements_per_request":
                continue
            for sample in family.samples:
                key = f"{sample.labels['method']} {sample.labels['operation']}"
                slot = totals.setdefault(key, [0.0, 0.0])
                if sample.name.endswith("_count"):
                    slot[0] += sample.value
                elif sample.name.endswith("_sum"):
                    slot[1] += sample.value
    return {key: (count, total) for key, (count, total) in totals.items()}


def throughput(work: Path, clients: int, seconds: float, env: dict[str, str]) -> None:
    kv_url = postgres.create_database()
    blocks = work / "shared-blocks"
    shared = {**env, "LAKEVER_BLOCKSTORE__LOCAL__PATH": str(blocks)}
    a = start_replica(work, "a", kv_url, shared)
    b = start_replica(work, "b", kv_url, shared)
    try:
        populate(a, f"local://{REPO}")
        print(f"\n## small objects, {clients} clients, {seconds:.0f} s each (PostgreSQL)")
        print("| replicas | operation | req/s | p50 ms | p99 ms | failures |")
        print("|---|---|---|---|---|---|")
        for servers in ([a], [a, b]):
            for name, operation in (("stat", op_stat), ("get", op_get), ("upload", op_upload)):
                rps, p50, p99, failed = load(servers, operation, clients, seconds)
                print(
                    f"| {len(servers)} | {name} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {failed} |"
                )
        print("\n## metadata statements (PostgreSQL round trips) per request")
        print("| operation | requests | statements/request |")
        print("|---|---|---|")
        for key, (count, total) in sorted(statements_per_request([a, b]).items()):
            if count:
                print(f"| `{key}` | {count:,.0f} | {total / count:.2f} |")
    finally:
        a.stop()
        b.stop()
        postgres.drop_database(kv_url)


def commit_latency(server: RunningServer, rounds: int) -> list[float]:
    timings: list[float] = []
    with server.http() as http:
        http.post("/repositories", json={"name": REPO, "storage_namespace": f"local://{REPO}"})
        with ThreadPoolExecutor(8) as pool:
            for r in range(rounds):
                list(
                    pool.map(
                        lambda i, r=r: op_upload(http, r, i).raise_for_status(),
                        range(FILES_PER_COMMIT),
                    )
                )
                started = time.perf_counter()
                http.post(
                    f"/repositories/{REPO}/branches/main/commits", json={"message": f"run {r}"}
                ).raise_for_status()
                timings.append(time.perf_counter() - started)
    return timings


def commits(work: Path, rounds: int, env: dict[str, str]) -> None:
    print(f"\n## commit of {FILES_PER_COMMIT} files, {rounds} commits")
    print("| metadata store | p50 ms | p99 ms |")
    print("|---|---|---|")
    kv_url = postgres.create_database()
    try:
        for label, url in (("PostgreSQL", kv_url), ("SQLite", None)):
            server = start_server(work / f"commit-{label}", kv_url=url, extra_env=env)
            try:
                timings = commit_latency(server, rounds)
            finally:
                server.stop()
            p50, p99 = percentile(timings, 0.5) * 1000, percentile(timings, 0.99) * 1000
            print(f"| {label} | {p50:.1f} | {p99:.1f} |")
    finally:
        postgres.drop_database(kv_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--credential-cache-seconds", type=float, default=0.0)
    args = parser.parse_args()
    reason = postgres.server_unreachable_reason()
    if reason is not None:
        raise SystemExit(reason)
    env = {"LAKEVER_AUTH__CREDENTIAL_CACHE_SECONDS": str(args.credential_cache_seconds)}
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        throughput(Path(tmp), args.clients, args.seconds, env)
        commits(Path(tmp), args.commits, env)


if __name__ == "__main__":
    main()
