"""Throughput of one large object through the S3 gateway, side by side with raw local disk.

Run: ``.venv/bin/python -m benchmarks.bench_gateway [--size-mib 1024] [--repeat 1]``.
Starts a real quickstart server (SQLite + local disk in a temporary directory on the
same filesystem as the raw-disk baseline), then measures:

- raw disk: write the file in 1 MiB blocks and fsync (the local block store fsyncs
  too), then read it back in 1 MiB blocks;
- S3 single PUT: boto3 ``put_object`` streaming the file (signed SHA-256 payload, CRC32
  header, as boto3 does over plain HTTP), and a streaming ``get_object`` read;
- S3 multipart: boto3 ``upload_file`` / ``download_file`` at their defaults (8 MiB parts,
  up to 10 threads).

Reads of a just-written file come from the page cache on both sides. Prints MiB/s and
the ratio to raw disk.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import lakefs_sdk
from botocore.config import Config

from tests.support.server import RunningServer, start_server

BLOCK = 1024 * 1024


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
    with source.open("rb") as data, target.open("wb") as out:
        while block := data.read(BLOCK):
            out.write(block)
        out.flush()
        os.fsync(out.fileno())


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


def run(size_mib: int, repeat: int) -> dict[str, float]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gateway-", dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        source = root / "source.bin"
        make_source(source, size_mib)
        server = start_server(root / "server")
        try:
            s3 = client(server)
            create_repository(server, "bench")
            downloaded = root / "downloaded.bin"
            cases: dict[str, Callable[[], object]] = {
                "raw disk write": lambda: raw_write(source, root / "raw.bin"),
                "raw disk read": lambda: raw_read(root / "raw.bin"),
                "s3 put_object": lambda: s3_put(s3, "bench", source),
                "s3 get_object": lambda: s3_get(s3, "bench", "main/single.bin"),
                "s3 upload_file (multipart)": lambda: s3.upload_file(
                    str(source), "bench", "main/multi.bin"
                ),
                "s3 download_file (ranged)": lambda: s3.download_file(
                    "bench", "main/multi.bin", str(downloaded)
                ),
            }
            for name, action in cases.items():
                best = min(timed(action) for _ in range(repeat))
                results[name] = size_mib / best
        finally:
            server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    results = run(args.size_mib, args.repeat)
    raw = {"write": results["raw disk write"], "read": results["raw disk read"]}
    print(f"object size: {args.size_mib} MiB, best of {args.repeat}")
    for name, mib_s in results.items():
        side = "write" if any(w in name for w in ("write", "put", "upload")) else "read"
        print(f"  {name:32s} {mib_s:9.1f} MiB/s   {mib_s / raw[side]:6.2f} x raw {side}")


if __name__ == "__main__":
    main()
