"""PySpark job of ``lakefs_workflow``: one day of orders in, revenue per region out.

It reads the day's CSV from the run branch and writes Parquet back to the run branch,
both through the lakever server's S3 gateway: Spark computes, pyarrow's ``S3FileSystem``
does the I/O (in the driver for the input, in the executors for the output), so the job
needs no Hadoop S3 JAR. Paths on the gateway are ``<repository>/<branch>/<path>``.

Submitted by ``SparkSubmitOperator``; the gateway's endpoint and keys come in the
environment (``LAKEVER_S3_ENDPOINT``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``)::

    spark-submit region_totals.py --repository R --branch B \
        --input raw/orders/date=D/orders.csv --output tables/region_totals/date=D/
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs
import pyarrow.parquet as pq
from pyspark import TaskContext
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

RESULT_SCHEMA = "path string, rows long"


def gateway_filesystem() -> pyarrow.fs.S3FileSystem:
    """The S3 gateway named by the environment (executors inherit it from the driver)."""
    endpoint = urlsplit(os.environ["LAKEVER_S3_ENDPOINT"])
    return pyarrow.fs.S3FileSystem(
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        endpoint_override=endpoint.netloc,
        scheme=endpoint.scheme or "http",
        region="us-east-1",
        allow_bucket_creation=False,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repository", required=True)
    parser.add_argument("--branch", required=True, help="the run branch to read and write")
    parser.add_argument("--input", required=True, help="the orders CSV path on the branch")
    parser.add_argument("--output", required=True, help="the output prefix on the branch")
    parser.add_argument(
        "--corrupt",
        choices=("true", "false"),
        default="false",
        help="negate the revenue, as a buggy release would (the quality check must stop it)",
    )
    return parser.parse_args(argv)


def partition_writer(base: str):  # type: ignore[no-untyped-def]
    """A ``mapInArrow`` function writing each partition as ``<base>part-<n>.parquet``."""

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = pa.Table.from_batches(list(batches))
        if table.num_rows == 0:
            return
        context = TaskContext.get()
        partition = context.partitionId() if context is not None else 0
        path = f"{base}part-{partition:05d}.parquet"
        pq.write_table(table, path, filesystem=gateway_filesystem())
        yield pa.RecordBatch.from_pydict(
            {"path": [path], "rows": [table.num_rows]},
            schema=pa.schema([("path", pa.string()), ("rows", pa.int64())]),
        )

    return write


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    spark = SparkSession.builder.appName("lakever-region-totals").getOrCreate()
    try:
        source = f"{args.repository}/{args.branch}/{args.input}"
        with gateway_filesystem().open_input_stream(source) as stream:
            orders = pacsv.read_csv(stream)
        print(f"read {orders.num_rows} orders from {source}")
        totals = (
            spark.createDataFrame(orders)
            .groupBy("region")
            .agg(F.count("order_id").alias("orders"), F.sum("amount").alias("revenue"))
            .orderBy("region")
        )
        if args.corrupt == "true":
            totals = totals.withColumn("revenue", -F.col("revenue"))
        base = f"{args.repository}/{args.branch}/{args.output.rstrip('/')}/"
        written = totals.coalesce(1).mapInArrow(partition_writer(base), RESULT_SCHEMA).collect()
        for row in written:
            print(f"wrote {row['rows']} rows to {row['path']}")
        if not written:
            raise SystemExit(f"no output written under {base}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
