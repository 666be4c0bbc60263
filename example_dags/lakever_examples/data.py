"""Sample data of the examples, and Parquet tables read and written through the hook.

Every generator is deterministic (seeded by the day), so a test can recompute what a DAG
should have published from the committed input alone.
"""

from __future__ import annotations

import io
import random
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from airflow_provider_lakever.hooks.lakever import LakeverHook

REGIONS = ("north", "south", "east", "west")
ORDERS_PREFIX = "raw/orders"
TOTALS_PREFIX = "tables/region_totals"


def orders_path(day: str) -> str:
    """The committed input of one day: ``raw/orders/date=<day>/orders.csv``."""
    return f"{ORDERS_PREFIX}/date={day}/orders.csv"


def totals_prefix(day: str) -> str:
    """Where the Spark job writes one day's totals (``part-*.parquet``)."""
    return f"{TOTALS_PREFIX}/date={day}/"


def orders_table(day: str, rows: int = 200) -> pa.Table:
    """One day of orders: ``order_id``, ``customer``, ``region``, ``amount`` (cents)."""
    rng = random.Random(day)
    return pa.table(
        {
            "order_id": pa.array([f"{day}-{i:05d}" for i in range(rows)]),
            "customer": pa.array([f"c{rng.randrange(50):03d}" for _ in range(rows)]),
            "region": pa.array([rng.choice(REGIONS) for _ in range(rows)]),
            "amount": pa.array([rng.randrange(100, 50_000) for _ in range(rows)], pa.int64()),
        }
    )


def csv_bytes(table: pa.Table) -> bytes:
    """``table`` as CSV with a header row."""
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as one Parquet file."""
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def read_csv(hook: LakeverHook, repository: str, ref: str, path: str) -> pa.Table:
    """A CSV object at ``ref`` as a table."""
    return pacsv.read_csv(io.BytesIO(hook.get_object(repository, ref, path)))


def read_parquet(hook: LakeverHook, repository: str, ref: str, path: str) -> pa.Table:
    """One Parquet object at ``ref`` as a table."""
    return pq.read_table(io.BytesIO(hook.get_object(repository, ref, path)))


def read_parquet_prefix(hook: LakeverHook, repository: str, ref: str, prefix: str) -> pa.Table:
    """Every ``*.parquet`` object under ``prefix`` at ``ref``, concatenated in path order."""
    paths = [
        stats.path
        for stats in hook.list_objects(repository, ref, prefix=prefix)
        if stats.path.endswith(".parquet")
    ]
    if not paths:
        raise FileNotFoundError(f"no Parquet file under {prefix!r} at {ref}")
    return pa.concat_tables([read_parquet(hook, repository, ref, p) for p in paths])


def region_totals(orders: pa.Table) -> pa.Table:
    """Orders and revenue per region, sorted by region (what the Spark job computes)."""
    grouped = orders.group_by("region").aggregate([("order_id", "count"), ("amount", "sum")])
    return grouped.rename_columns(["region", "orders", "revenue"]).sort_by("region")


def totals_problems(totals: pa.Table) -> list[str]:
    """What makes a day's region totals unfit to publish; empty when they are fit."""
    problems = []
    if totals.num_rows == 0:
        problems.append("no rows")
    rows = totals.to_pylist()
    problems += [
        f"region {r['region']!r}: negative revenue {r['revenue']}"
        for r in rows
        if r["revenue"] is None or r["revenue"] < 0
    ]
    problems += [
        f"region {r['region']!r} is not a known region" for r in rows if r["region"] not in REGIONS
    ]
    return problems
