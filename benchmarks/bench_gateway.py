"""Throughput of one large object through the S3 and WebHDFS gateways, side by side with
raw local disk, and Spark writing many small Parquet files through WebHDFS.

Run: ``.venv/bin/python -m benchmarks.bench_gateway [--size-mib 1024] [--repeat 1]
[--spark-files 1000]`` (``--spark-files 0`` skips Spark). Starts a real quickstart server
(SQLite + local disk in a temporary directory on the same filesystem as the raw-disk
baseline, ``/webhdfs/`` routed to the WebHDFS app), then measures:

- raw disk: write the file in 1 MiB blocks and fsync (the local block store fsyncs
  too), then read it back in 1 MiB blocks;
- S3 single PUT: boto3 ``put_object`` streaming the file (signed SHA-256 payload, CRC32
  header, as boto3 does over plain HTTP), and a streaming ``get_object`` read;
- S3 multipart: boto3 ``upload_file`` / ``download_file`` at their defaults (8 MiB parts,
  up to 10 threads);
- WebHDFS: ``CREATE`` (two-step, body streamed from the file) and ``OPEN`` with httpx;
- Spark (local[2]) writing a DataFrame as ``--spark-files`` small Parquet files to a
  branch over WebHDFS, against the same write to a local directory.

Before every read, the page cache of the raw file and of every blob under the server's
data directory is dropped (``posix_fadvise(DONTNEED)``, the files are fsynced), so reads
come from the disk on both sides. Prints MiB/s and the ratio to raw disk.
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
import httpx
import lakefs_sdk
from botocore.config import Config

from tests.server.webhdfs.support import access_token
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
            for _ in response.iter_bytes(BLOCK):
                pass


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


def run(size_mib: int, repeat: int, spark_files: int) -> tuple[dict[str, float], dict[str, float]]:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gateway-", dir=os.environ.get("TMPDIR")) as tmp:
        root = Path(tmp)
        source = root / "source.bin"
        make_source(source, size_mib)
        server = start_server(root / "server")
        try:
            s3 = client(server)
            create_repository(server, "bench")
            token = access_token(server)
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
                "webhdfs CREATE": lambda: webhdfs_put(server, token, source),
                "webhdfs OPEN": lambda: webhdfs_get(server, token),
            }
            for name, action in cases.items():
                times = []
                for _ in range(repeat):
                    evict(root / "raw.bin", root / "server") if (
                        root / "raw.bin"
                    ).exists() else None
                    times.append(timed(action))
                results[name] = size_mib / min(times)
            spark = spark_small_files(server, spark_files, root) if spark_files else {}
        finally:
            server.stop()
    return results, spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--spark-files", type=int, default=1000)
    args = parser.parse_args()
    results, spark = run(args.size_mib, args.repeat, args.spark_files)
    raw = {"write": results["raw disk write"], "read": results["raw disk read"]}
    print(f"object size: {args.size_mib} MiB, best of {args.repeat}")
    for name, mib_s in results.items():
        writes = ("write", "put", "upload", "CREATE")
        side = "write" if any(w in name for w in writes) else "read"
        print(f"  {name:32s} {mib_s:9.1f} MiB/s   {mib_s / raw[side]:6.2f} x raw {side}")
    if spark:
        print(f"Spark writing {args.spark_files} small Parquet files:")
        for name, seconds in spark.items():
            ratio = seconds / spark["spark local disk"]
            print(f"  {name:32s} {seconds:9.1f} s        {ratio:6.1f} x local disk")


if __name__ == "__main__":
    main()
