"""Throughput of one large object through the S3 and WebHDFS gateways, side by side with
raw local disk, and Spark writing many small Parquet files through WebHDFS.

Run: ``.venv/bin/python -m benchmarks.bench_gateway [--size-mib 1024] [--repeat 3]
[--spark-files 1000]`` (``--spark-files 0`` skips Spark). Starts a real quickstart server
(SQLite + local disk in a temporary directory on the same filesystem as the raw-disk
baseline, ``/webhdfs/`` routed to the WebHDFS app), then measures:

- raw disk: write the file in 256 KiB blocks, as ``cp`` does, and fsync it (the block
  store makes every object durable too), then read it back in 1 MiB blocks;
- S3 single PUT: boto3 ``put_object`` streaming the file (signed SHA-256 payload, CRC32
  header, as boto3 does over plain HTTP), and a streaming ``get_object`` read;
- S3 multipart: boto3 ``upload_file`` / ``download_file`` at their defaults (8 MiB parts,
  up to 10 threads);
- WebHDFS: ``CREATE`` (two-step, body streamed from the file) and ``OPEN`` with httpx
  (read as received);
- the same S3 PUT/GET (presigned URLs, unsigned payload) and WebHDFS CREATE/OPEN with curl,
  a native client: engines such as Spark stream from the JVM, and a Python client on the
  same two cores would otherwise be measured as much as the gateway;
- an S3 multipart upload as engines send one (Hadoop s3a: 64 MiB parts, several at
  once): two curl processes sending presigned ``UploadPart`` requests, then the
  completion. A single PUT's ETag is the MD5 of the whole object, one serial hash that
  bounds it at about a core's MD5 speed; a multipart upload hashes each part on its own;
- Spark (local[2]) writing a DataFrame as ``--spark-files`` small Parquet files to a
  branch over WebHDFS, against the same write to a local directory.

Every read is measured twice in a row: *cold*, after the raw file and every blob of the
server were fsynced and dropped from the page cache (``posix_fadvise(DONTNEED)``, no root
needed), so the bytes come from the disk on both sides; then *warm*, from the page cache.
Each measure runs ``--repeat`` times, each run right after a run of its raw-disk
baseline under the same cache condition, so the two are measured side by side (this
machine's disk and memory speeds drift by 2-5x within minutes); the table shows the
medians of both, their ratio, and the server process's CPU seconds per GiB moved
(psutil), which a busy shared machine does not distort the way it distorts wall time.
Below the table: a raw write with ``O_DIRECT`` (as the block store writes large blobs;
not a baseline), and for each write the CPU seconds per GiB of the server's busiest
threads in the median run (event loop, worker, digests: on two cores the MD5 of the ETag
alone is a core's worth).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import mmap
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import lakefs_sdk
import psutil
from botocore.config import Config

from tests.server.webhdfs.support import access_token
from tests.support.server import RunningServer, start_server

BLOCK = 1024 * 1024
RAW_PIECE = 256 * 1024
"""The raw writer's buffer: ``cp``'s. A single multi-MiB ``write`` makes Linux take
large page-cache folios, which on a fresh virtual machine cost a first touch per page
and made the raw figure swing from 300 to 1,800 MiB/s between runs."""
PART_MIB = 64
"""Part size of the curl multipart upload: Hadoop s3a's default (``fs.s3a.multipart.size``)."""
STREAMS = 2
"""Parts sent at once by the curl multipart upload (one per core here)."""
RAW_DIRECT = "raw disk write O_DIRECT + fsync"
"""Shown beside the table, not a baseline: what the disk does without the page cache."""


def make_source(path: Path, size_mib: int) -> None:
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        for _ in range(size_mib):
            out.write(block)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def raw_write(source: Path, target: Path) -> None:
    with source.open("rb", buffering=0) as data, target.open("wb", buffering=0) as out:
        while block := data.read(RAW_PIECE):
            out.write(block)
        os.fsync(out.fileno())


def raw_direct_write(source: Path, target: Path) -> None:
    """As ``raw_write``, with ``O_DIRECT`` from one page-aligned 4 MiB buffer (and the
    tail buffered), as the block store writes large blobs."""
    block = 4 * BLOCK
    buffer = mmap.mmap(-1, block)
    view = memoryview(buffer)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_DIRECT, 0o644)
    try:
        with source.open("rb", buffering=0) as data:
            while filled := data.readinto(view):
                if filled % 4096:
                    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_DIRECT)
                os.write(fd, view[:filled])
        os.fsync(fd)
    finally:
        os.close(fd)
        view.release()
        buffer.close()


def evict(*roots: Path) -> None:
    """Drop the page cache of every file under ``roots`` (clean pages only)."""
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file():
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(fd)


def raw_read(path: Path) -> None:
    with path.open("rb") as data:
        while data.read(BLOCK):
            pass


def client(server: RunningServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def create_repository(server: RunningServer, name: str) -> None:
    with server.sdk_client() as api:
        lakefs_sdk.RepositoriesApi(api).create_repository(
            lakefs_sdk.RepositoryCreation(
                name=name, storage_namespace=f"local://{name}", default_branch="main"
            )
        )


def s3_put(s3: Any, repo: str, source: Path) -> None:
    with source.open("rb") as data:
        s3.put_object(Bucket=repo, Key="main/single.bin", Body=data)


def s3_get(s3: Any, repo: str, key: str) -> None:
    body = s3.get_object(Bucket=repo, Key=key)["Body"]
    while body.read(BLOCK):
        pass


def webhdfs_put(server: RunningServer, token: str, source: Path) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server.url}/webhdfs/v1/bench/main/webhdfs.bin?op=CREATE&overwrite=true"
    with httpx.Client(headers=headers, timeout=600) as http:
        location = http.put(url).headers["Location"]
        with source.open("rb") as data:
            response = http.put(location, content=iter(lambda: data.read(BLOCK), b""))
        response.raise_for_status()


def webhdfs_get(server: RunningServer, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server.url}/webhdfs/v1/bench/main/webhdfs.bin?op=OPEN"
    with httpx.Client(headers=headers, timeout=600) as http:
        location = http.get(url).headers["Location"]
        with http.stream("GET", location) as response:
            # As received: re-chunking to fixed sizes costs the client a copy.
            for _ in response.iter_raw():
                pass


def curl(*args: str) -> None:
    """A native HTTP client (``-f``: an HTTP error fails the measure)."""
    subprocess.run(["curl", "-sSf", "-H", "Expect:", *args], check=True)


def presigned(s3: Any, method: str, repo: str, key: str) -> str:
    url: str = s3.generate_presigned_url(
        method, Params={"Bucket": repo, "Key": key}, ExpiresIn=3600
    )
    return url


def webhdfs_location(server: RunningServer, token: str, url: str, method: str) -> str:
    """Step one of a two-step WebHDFS call: where to send or fetch the data."""
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        response = http.request(method, url)
        location: str = response.headers["Location"]
        return location


def curl_webhdfs_put(server: RunningServer, token: str, source: Path) -> None:
    url = f"{server.url}/webhdfs/v1/bench/main/curl.bin?op=CREATE&overwrite=true"
    location = webhdfs_location(server, token, url, "PUT")
    curl("-o", "/dev/null", "-H", f"Authorization: Bearer {token}", "-T", str(source), location)


def curl_webhdfs_get(server: RunningServer, token: str) -> None:
    url = f"{server.url}/webhdfs/v1/bench/main/curl.bin?op=OPEN"
    location = webhdfs_location(server, token, url, "GET")
    curl("-o", "/dev/null", "-H", f"Authorization: Bearer {token}", location)


def spark_small_files(server: RunningServer, files: int, local_dir: Path) -> dict[str, float]:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
    conf = {
        "dfs.webhdfs.oauth2.enabled": "true",
        "dfs.webhdfs.oauth2.access.token.provider": (
            "org.apache.hadoop.hdfs.web.oauth2.ConfCredentialBasedAccessTokenProvider"
        ),
        "dfs.webhdfs.oauth2.client.id": server.access_key_id,
        "dfs.webhdfs.oauth2.credential": server.secret_access_key,
        "dfs.webhdfs.oauth2.refresh.url": f"{server.url}/webhdfs/oauth2/token",
    }
    for key, value in conf.items():
        builder = builder.config(f"spark.hadoop.{key}", value)
    spark = builder.getOrCreate()
    try:
        frame = spark.range(files * 100).repartition(files).cache()
        frame.count()
        frame.write.mode("overwrite").parquet(str(local_dir / "warmup"))
        targets = {
            "spark local disk": str(local_dir / "small"),
            "spark webhdfs": f"webhdfs://127.0.0.1:{server.port}/bench/main/small",
        }
        return {
            name: timed(lambda t=target: frame.write.mode("overwrite").parquet(t))
            for name, target in targets.items()
        }
    finally:
        spark.stop()


@dataclass(frozen=True)
class Case:
    """One measure: what it does, whether it writes or reads, and its raw-disk baseline."""

    name: str
    action: Callable[[], object]
    side: str  # "write" or "read"
    baseline: str  # the name of the raw-disk case it is compared with


@dataclass(frozen=True)
class Figure:
    """Medians of one measure over the repeats."""

    name: str
    side: str
    cache: str  # "" for writes, "cold" or "warm" for reads
    mib_s: float
    server_cpu_s_per_gib: float | None
    baseline: str
    raw_mib_s: float | None = None
    """Median of the baseline's runs, each made just before one of this measure's."""
    threads: tuple[float, ...] = ()
    """CPU s/GiB of the busiest server threads in the median run (writes)."""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.cache})" if self.cache else self.name


def server_cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return float(times.user + times.system)


def thread_cpu_seconds(process: psutil.Process | None) -> dict[int, float]:
    """CPU seconds of each thread of the server (empty for the raw measures)."""
    if process is None:
        return {}
    return {thread.id: thread.user_time + thread.system_time for thread in process.threads()}


def busiest(before: dict[int, float], after: dict[int, float], gib: float) -> tuple[float, ...]:
    """The CPU s/GiB of the threads that worked most between two snapshots."""
    spent = sorted((after[t] - before.get(t, 0.0) for t in after), reverse=True)
    return tuple(round(seconds / gib, 2) for seconds in spent[:4] if seconds / gib >= 0.05)


def split_parts(source: Path, directory: Path) -> list[tuple[Path, str]]:
    """The source cut into ``PART_MIB`` files, each with its MD5 (its part ETag)."""
    directory.mkdir()
    parts = []
    with source.open("rb") as data:
        while chunk := data.read(PART_MIB * BLOCK):
            path = directory / f"part-{len(parts) + 1:05d}"
            path.write_bytes(chunk)
            parts.append((path, hashlib.md5(chunk).hexdigest()))
    return parts


def curl_multipart_put(s3: Any, repo: str, key: str, parts: list[tuple[Path, str]]) -> None:
    """A multipart upload with its parts sent by ``STREAMS`` curl processes at once (as
    engines send parts on several threads), then completed with the parts' MD5s: a part
    the server stored differently fails the completion, and so the measure."""
    upload = s3.create_multipart_upload(Bucket=repo, Key=key)["UploadId"]
    urls = [
        s3.generate_presigned_url(
            "upload_part",
            Params={"Bucket": repo, "Key": key, "UploadId": upload, "PartNumber": number},
            ExpiresIn=3600,
        )
        for number in range(1, len(parts) + 1)
    ]
    senders = []
    for stream in range(min(STREAMS, len(parts))):
        args = [
            arg
            for i in range(stream, len(parts), STREAMS)
            for arg in ("-T", str(parts[i][0]), urls[i])
        ]
        command = ["curl", "-sSf", "-H", "Expect:", "-o", "/dev/null", *args]
        senders.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
    codes = [sender.wait() for sender in senders]  # every one, even after a failure
    if any(codes):
        raise SystemExit("a part upload failed")
    s3.complete_multipart_upload(
        Bucket=repo,
        Key=key,
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": f'"{md5}"'} for n, (_, md5) in enumerate(parts, 1)]
        },
    )


def cases(server: RunningServer, root: Path, source: Path) -> list[Case]:
    s3 = client(server)
    token = access_token(server)
    raw = root / "raw.bin"
    downloaded = root / "downloaded.bin"
    put_url = presigned(s3, "put_object", "bench", "main/curl.bin")
    get_url = presigned(s3, "get_object", "bench", "main/curl.bin")
    parts = split_parts(source, root / "parts")
    return [
        Case("raw disk write + fsync", lambda: raw_write(source, raw), "write", ""),
        Case("raw disk read", lambda: raw_read(raw), "read", ""),
        Case(
            "s3 put_object", lambda: s3_put(s3, "bench", source), "write", "raw disk write + fsync"
        ),
        Case(
            "s3 get_object", lambda: s3_get(s3, "bench", "main/single.bin"), "read", "raw disk read"
        ),
        Case(
            "s3 upload_file (multipart)",
            lambda: s3.upload_file(str(source), "bench", "main/multi.bin"),
            "write",
            "raw disk write + fsync",
        ),
        Case(
            "s3 download_file (ranged)",
            lambda: s3.download_file("bench", "main/multi.bin", str(downloaded)),
            "read",
            "raw disk read",
        ),
        Case(
            "webhdfs CREATE",
            lambda: webhdfs_put(server, token, source),
            "write",
            "raw disk write + fsync",
        ),
        Case("webhdfs OPEN", lambda: webhdfs_get(server, token), "read", "raw disk read"),
        Case(
            "s3 PUT, curl (presigned)",
            lambda: curl("-o", "/dev/null", "-T", str(source), put_url),
            "write",
            "raw disk write + fsync",
        ),
        Case(
            "s3 GET, curl (presigned)",
            lambda: curl("-o", "/dev/null", get_url),
            "read",
            "raw disk read",
        ),
        Case(
            f"s3 multipart, curl x{STREAMS} ({PART_MIB} MiB parts)",
            lambda: curl_multipart_put(s3, "bench", "main/curlmulti.bin", parts),
            "write",
            "raw disk write + fsync",
        ),
        Case(
            "webhdfs CREATE, curl",
            lambda: curl_webhdfs_put(server, token, source),
            "write",
            "raw disk write + fsync",
        ),
        Case(
            "webhdfs OPEN, curl",
            lambda: curl_webhdfs_get(server, token),
            "read",
            "raw disk read",
        ),
    ]


def measure(
    case: Case,
    repeat: int,
    size_mib: int,
    cold_roots: list[Path],
    process: psutil.Process | None,
    baseline: Case | None = None,
) -> list[Figure]:
    """Run ``case`` ``repeat`` times (a read: cold, then warm, each time), each run right
    after one of ``baseline`` under the same cache condition; medians."""
    caches = ["cold", "warm"] if case.side == "read" else [""]
    seconds: dict[str, list[float]] = {cache: [] for cache in caches}
    raw_seconds: dict[str, list[float]] = {cache: [] for cache in caches}
    cpu: dict[str, list[float]] = {cache: [] for cache in caches}
    threads: dict[str, list[tuple[float, ...]]] = {cache: [] for cache in caches}
    gib = size_mib / 1024
    for _ in range(repeat):
        for cache in caches:
            if baseline is not None:
                if cache == "cold":
                    evict(*cold_roots)
                elif cache == "warm":
                    baseline.action()  # the raw file read once, then timed
                raw_seconds[cache].append(timed(baseline.action))
            if cache == "cold":
                evict(*cold_roots)
            cpu_before = server_cpu_seconds(process)
            threads_before = thread_cpu_seconds(process)
            seconds[cache].append(timed(case.action))
            cpu[cache].append(server_cpu_seconds(process) - cpu_before)
            threads[cache].append(busiest(threads_before, thread_cpu_seconds(process), gib))
    median_run = {
        cache: sorted(range(repeat), key=seconds[cache].__getitem__)[repeat // 2]
        for cache in caches
    }
    return [
        Figure(
            name=case.name,
            side=case.side,
            cache=cache,
            mib_s=size_mib / statistics.median(seconds[cache]),
            server_cpu_s_per_gib=(
                statistics.median(cpu[cache]) / gib if process is not None else None
            ),
            baseline=case.baseline,
            raw_mib_s=(
                size_mib / statistics.median(raw_seconds[cache]) if raw_seconds[cache] else None
            ),
            threads=threads[cache][median_run[cache]],
        )
        for cache in caches
    ]


def check_stored(server: RunningServer, size: int) -> None:
    """Every object the measures wrote is there, whole (a figure for a failed write is void)."""
    s3 = client(server)
    for key in ("single.bin", "multi.bin", "curl.bin", "curlmulti.bin", "webhdfs.bin"):
        stored = s3.head_object(Bucket="bench", Key=f"main/{key}")["ContentLength"]
        if stored != size:
            raise SystemExit(f"main/{key} holds {stored} bytes, not {size}")


def run(size_mib: int, repeat: int, spark_files: int) -> tuple[list[Figure], dict[str, float]]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-gateway-", dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        source = root / "source.bin"
        make_source(source, size_mib)
        server = start_server(root / "server")
        try:
            create_repository(server, "bench")
            assert server.process is not None
            process = psutil.Process(server.process.pid)
            # Only the data read is dropped from the cache: the raw file and the blobs.
            cold_roots = [root / "raw.bin", root / "server" / "blocks"]
            direct_file = root / "direct.bin"
            all_cases = cases(server, root, source)
            raws = {case.name: case for case in all_cases if not case.baseline}
            for case in all_cases:
                is_raw = not case.baseline
                figures += measure(
                    case,
                    repeat,
                    size_mib,
                    cold_roots,
                    None if is_raw else process,
                    None if is_raw else raws[case.baseline],
                )
                if case.name == "raw disk write + fsync":
                    write = lambda: raw_direct_write(source, direct_file)  # noqa: E731
                    direct = Case(RAW_DIRECT, write, "write", "")
                    figures += measure(direct, repeat, size_mib, cold_roots, None)
            check_stored(server, source.stat().st_size)
            spark = spark_small_files(server, spark_files, root) if spark_files else {}
        finally:
            server.stop()
    return figures, spark


def report(figures: list[Figure], size_mib: int, repeat: int) -> None:
    by_label = {(f.name, f.cache): f for f in figures}
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"object size: {size_mib} MiB, median of {repeat}; load average {load}")
    header = f"{'MiB/s':>9s} {'raw MiB/s':>10s} {'ratio':>7s} {'server CPU s/GiB':>17s}"
    print(f"  {'measure':40s} {header}")
    for figure in figures:
        if figure.name == RAW_DIRECT:
            continue
        raw_mib_s = figure.raw_mib_s if figure.raw_mib_s is not None else figure.mib_s
        cpu = figure.server_cpu_s_per_gib
        cpu_text = "-" if cpu is None else f"{cpu:.2f}"
        print(
            f"  {figure.label:40s} {figure.mib_s:9.1f} {raw_mib_s:10.1f}"
            f" {figure.mib_s / raw_mib_s:6.2f}x {cpu_text:>17s}"
        )
    direct = by_label.get((RAW_DIRECT, ""))
    if direct is not None:
        print(f"not a baseline: {RAW_DIRECT} {direct.mib_s:.1f} MiB/s")
    print("server CPU s/GiB of its busiest threads, writes (median run):")
    for figure in figures:
        if figure.side == "write" and figure.threads:
            print(f"  {figure.label:40s} {' / '.join(f'{t:.2f}' for t in figure.threads)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spark-files", type=int, default=1000)
    args = parser.parse_args()
    figures, spark = run(args.size_mib, args.repeat, args.spark_files)
    report(figures, args.size_mib, args.repeat)
    if spark:
        print(f"Spark writing {args.spark_files} small Parquet files:")
        for name, seconds in spark.items():
            ratio = seconds / spark["spark local disk"]
            print(f"  {name:40s} {seconds:9.1f} s        {ratio:6.1f} x local disk")


if __name__ == "__main__":
    main()
