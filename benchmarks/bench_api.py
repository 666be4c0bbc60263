"""REST API latency and throughput, measured from a separate load-generator process.

Run: ``.venv/bin/python -m benchmarks.bench_api [--seconds 10] [--clients 8]
[--size-mib 1024]``. Starts a real quickstart server (SQLite + local disk in a temporary
directory), then:

- **small objects**: ``stat`` and ``get`` of one committed 4 KiB object by 8 concurrent
  keep-alive clients for ``--seconds`` each, from a second process (an asyncio load
  generator speaking raw HTTP/1.1, so the client costs little CPU next to the server on
  the same machine). Prints requests/s and p50/p99 latency.
- **large object**: upload (raw ``application/octet-stream``, streamed by curl) and
  download of a ``--size-mib`` file through ``/api/v1``, side by side with ``cp`` of the
  same file on the same filesystem; prints MiB/s, the ratio to ``cp``, the server's CPU
  per MiB and its peak RSS (which stays flat: nothing buffers a whole object).

Targets (2 cores): >= 1,500 req/s and p50 < 5 ms for small objects; >= 0.5x ``cp``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from tests.support.server import RunningServer

# The load generator process imports this module too: it must start fast and leave the
# CPU to the server, so the server-side imports (psutil, the test helpers with httpx and
# pytest) happen in the functions that need them.

REPO = "bench"
SMALL_PATH = "small/4k.bin"
BIG_PATH = "big/object.bin"
BLOCK = 1024 * 1024


# -- load generator (runs in its own process) -------------------------------------------
async def _client(
    host: str, port: int, request: bytes, until: float, latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"unexpected status {status}")
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _load(host: str, port: int, request: bytes, clients: int, seconds: float) -> Any:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(_client(host, port, request, until, latencies) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def loadgen_main(argv: list[str]) -> None:
    """``bench_api loadgen HOST PORT TARGET AUTH CLIENTS SECONDS``: print JSON results."""
    host, port, target, auth, clients, seconds = argv
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Basic {auth}\r\nConnection: keep-alive\r\n\r\n"
    ).encode()
    result = asyncio.run(_load(host, int(port), request, int(clients), float(seconds)))
    print(json.dumps(result))


def run_loadgen(server: RunningServer, target: str, clients: int, seconds: float) -> Any:
    auth = base64.b64encode(f"{server.access_key_id}:{server.secret_access_key}".encode()).decode()
    command = [sys.executable, "-m", "benchmarks.bench_api", "loadgen", "127.0.0.1"]
    command += [str(server.port), target, auth, str(clients), str(seconds)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


# -- large objects ----------------------------------------------------------------------
class PeakRss:
    """Samples a process's resident memory in the background; ``peak`` in MiB."""

    def __init__(self, pid: int) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss / BLOCK)
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def make_source(path: Path, size_mib: int) -> None:
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(block)


def timed_cp(source: Path, target: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["cp", str(source), str(target)], check=True)
    subprocess.run(["sync", str(target)], check=True)
    return time.perf_counter() - started


def large_object(server: RunningServer, size_mib: int, workdir: Path) -> dict[str, float]:
    """Upload and download with curl (a native client: the client's own CPU must not be
    what is measured), next to ``cp`` + ``sync`` of the same file."""
    source, copy, downloaded = workdir / "source.bin", workdir / "cp.bin", workdir / "dl.bin"
    make_source(source, size_mib)
    cp_seconds = timed_cp(source, copy)
    copy.unlink()
    import psutil

    assert server.process is not None
    process = psutil.Process(server.process.pid)
    auth = ["-u", f"{server.access_key_id}:{server.secret_access_key}"]
    upload = [
        "curl", "-sf", "-o", "/dev/null", *auth, "-X", "POST", "-T", str(source),
        "-H", "Content-Type: application/octet-stream", "-H", "Expect:",
        f"{server.api_url}/repositories/{REPO}/branches/main/objects?path={quote(BIG_PATH)}",
    ]  # fmt: skip
    download = [
        "curl", "-sf", "-o", str(downloaded), *auth,
        f"{server.api_url}/repositories/{REPO}/refs/main/objects?path={quote(BIG_PATH)}",
    ]  # fmt: skip
    results: dict[str, float] = {"cp_mib_s": size_mib / cp_seconds}
    with PeakRss(server.process.pid) as rss:
        for name, command in (("upload", upload), ("download", download)):
            cpu_before = sum(process.cpu_times()[:2])
            started = time.perf_counter()
            subprocess.run(command, check=True)
            if name == "download":
                # Like cp + sync: the downloaded copy is on disk when the clock stops (the
                # server already syncs an upload before answering).
                subprocess.run(["sync", str(downloaded)], check=True)
            results[f"{name}_mib_s"] = size_mib / (time.perf_counter() - started)
            cpu = sum(process.cpu_times()[:2]) - cpu_before
            results[f"{name}_cpu_ms_per_mib"] = cpu / size_mib * 1000
    assert downloaded.stat().st_size == source.stat().st_size
    results["server_peak_rss_mib"] = rss.peak
    return results


# -- driver -----------------------------------------------------------------------------
def prepare(server: RunningServer) -> None:
    with server.http() as http:
        http.post("/repositories", json={"name": REPO, "storage_namespace": f"local://{REPO}"})
        http.post(
            f"/repositories/{REPO}/branches/main/objects",
            params={"path": SMALL_PATH},
            content=os.urandom(4096),
        ).raise_for_status()
        http.post(f"/repositories/{REPO}/branches/main/commits", json={"message": "bench"})


def main(argv: list[str] | None = None) -> None:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list and args_list[0] == "loadgen":
        loadgen_main(args_list[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args(args_list)
    import psutil

    from tests.support.server import start_server

    with tempfile.TemporaryDirectory(prefix="bench-api-", dir=Path.cwd()) as tmp:
        workdir = Path(tmp)
        server = start_server(workdir / "server")
        try:
            prepare(server)
            base = f"/api/v1/repositories/{REPO}/refs/main/objects"
            assert server.process is not None
            process = psutil.Process(server.process.pid)
            for name, target in (
                ("stat", f"{base}/stat?path={quote(SMALL_PATH)}"),
                ("get", f"{base}?path={quote(SMALL_PATH)}"),
            ):
                cpu_before = sum(process.cpu_times()[:2])
                result = run_loadgen(server, target, args.clients, args.seconds)
                # Server CPU per request: what the throughput would be on an idle core,
                # whatever else the machine is running at the time.
                cpu_us = (sum(process.cpu_times()[:2]) - cpu_before) / result["requests"] * 1e6
                print(
                    f"{name:5} 4 KiB x{args.clients} clients: {result['rps']:8.0f} req/s  "
                    f"p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  "
                    f"server CPU {cpu_us:.0f} us/request (load avg {os.getloadavg()[0]:.1f})"
                )
            if args.size_mib:
                big = large_object(server, args.size_mib, workdir)
                print(
                    f"{args.size_mib} MiB: cp {big['cp_mib_s']:.0f} MiB/s, "
                    f"upload {big['upload_mib_s']:.0f} MiB/s "
                    f"({big['upload_mib_s'] / big['cp_mib_s']:.2f}x cp, "
                    f"server CPU {big['upload_cpu_ms_per_mib']:.1f} ms/MiB), "
                    f"download {big['download_mib_s']:.0f} MiB/s "
                    f"({big['download_mib_s'] / big['cp_mib_s']:.2f}x cp, "
                    f"server CPU {big['download_cpu_ms_per_mib']:.1f} ms/MiB), "
                    f"server peak RSS {big['server_peak_rss_mib']:.0f} MiB "
                    f"(load avg {os.getloadavg()[0]:.1f})"
                )
        finally:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
