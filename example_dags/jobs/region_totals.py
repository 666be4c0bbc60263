"""PySpark job of ``lakefs_workflow``: one day of orders in, revenue per region out.

It reads the day's CSV from the run branch and writes Parquet back to the run branch,
both with Spark's own I/O through the lakever server's WebHDFS endpoint: stock Spark,
Hadoop's WebHDFS client and its OAuth2 support, no extra JAR. Paths on WebHDFS are
``webhdfs://<host>:<port>/<repository>/<branch>/<path>``.

Submitted by ``SparkSubmitOperator`` with the non-secret OAuth2 settings as ``--conf``
(``spark.hadoop.dfs.webhdfs.oauth2.*``: enabled, token provider, client id = access key
id, token URL). The secret access key comes in the environment
(``LAKEVER_WEBHDFS_CREDENTIAL``) and is set on the Hadoop configuration here, so it never
appears on the spark-submit command line::

    spark-submit region_totals.py --webhdfs webhdfs://HOST:PORT --repository R --branch B \
        --input raw/orders/date=D/orders.csv --output tables/region_totals/date=D/
"""

from __future__ import annotations

import argparse
import os

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

CREDENTIAL_ENV = "LAKEVER_WEBHDFS_CREDENTIAL"
ORDERS_SCHEMA = "order_id string, customer string, region string, amount long"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--webhdfs", required=True, help="the server, webhdfs://HOST:PORT")
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


def set_credential(spark: SparkSession) -> None:
    """Hand the secret to Hadoop's OAuth2 token provider before any WebHDFS access.

    DataFrame reads and writes copy the context's Hadoop configuration when they start,
    so a key set here reaches the WebHDFS client of the driver and of local executors.
    """
    credential = os.environ.get(CREDENTIAL_ENV)
    if not credential:
        raise SystemExit(f"{CREDENTIAL_ENV} is not set: the job cannot sign in to WebHDFS")
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    hadoop_conf.set("dfs.webhdfs.oauth2.credential", credential)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    spark = SparkSession.builder.appName("lakever-region-totals").getOrCreate()
    try:
        set_credential(spark)
        branch = f"{args.webhdfs.rstrip('/')}/{args.repository}/{args.branch}"
        source = f"{branch}/{args.input}"
        orders = spark.read.csv(source, header=True, schema=ORDERS_SCHEMA)
        totals = (
            orders.groupBy("region")
            .agg(F.count("order_id").alias("orders"), F.sum("amount").alias("revenue"))
            .orderBy("region")
        )
        if args.corrupt == "true":
            totals = totals.withColumn("revenue", -F.col("revenue"))
        target = f"{branch}/{args.output.rstrip('/')}"
        # One small file per day; overwrite makes a retried task replace its own output.
        totals.coalesce(1).write.mode("overwrite").parquet(target)
        written = spark.read.parquet(target).count()
        print(f"read orders from {source}, wrote {written} regions to {target}")
        if not written:
            raise SystemExit(f"no totals written under {target}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
