"""Prometheus metrics of one server process, in its own registry.

- ``lakever_request_duration_seconds{operation,method,status}``: per API operation, the
  route template (``/repositories/{repository}/branches/{branch}``), never the raw path,
  so a million branches make one series, not a million.
- ``lakever_commit_duration_seconds`` / ``lakever_merge_duration_seconds{outcome}`` and
  their sizes in tree nodes written (what a commit or merge costs the block store).
- ``lakever_gateway_bytes_total{protocol,direction}``: S3 gateway and WebHDFS bytes.
- ``lakever_node_cache_{hits,misses,evictions}_total``, ``..._bytes``: the tree node
  cache, read from ``NodeCache`` counters at scrape time.
- ``lakever_metadata_statements_total`` and ``lakever_metadata_statements_per_request``:
  SQL statements sent to the metadata store (PostgreSQL round trips), overall and per
  request and operation; the figure that decides how far replicas scale out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.engine import Engine

from lakever_server.graveler.tree import NodeCache
from lakever_server.observability.context import count_statement

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096, 16384)
STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100)


class NodeCacheCollector(Collector):
    """Exports a ``NodeCache``'s counters when Prometheus scrapes, at no other cost."""

    def __init__(self, cache: Callable[[], NodeCache | None]) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        cache = self._cache()
        if cache is None:
            return
        yield CounterMetricFamily(
            "lakever_node_cache_hits", "Tree node cache lookups served", value=cache.hits
        )
        yield CounterMetricFamily(
            "lakever_node_cache_misses", "Tree node cache lookups missed", value=cache.misses
        )
        yield CounterMetricFamily(
            "lakever_node_cache_evictions", "Tree nodes evicted", value=cache.evictions
        )
        yield GaugeMetricFamily(
            "lakever_node_cache_bytes", "Bytes held by the node cache", value=cache.size_bytes
        )


class Metrics:
    """Every metric of one process; one instance per app (tests build several)."""

    def __init__(self, node_cache: Callable[[], NodeCache | None] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.request_duration = Histogram(
            "lakever_request_duration_seconds",
            "Request latency per API operation (route template)",
            ["operation", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.statements_per_request = Histogram(
            "lakever_metadata_statements_per_request",
            "Metadata store statements (round trips) one request made",
            ["operation", "method"],
            buckets=STATEMENT_BUCKETS,
            registry=self.registry,
        )
        self.statements = Counter(
            "lakever_metadata_statements",
            "Statements sent to the SQL metadata store",
            registry=self.registry,
        )
        self.gateway_bytes = Counter(
            "lakever_gateway_bytes",
            "Bytes through the S3 gateway and WebHDFS",
            ["protocol", "direction"],
            registry=self.registry,
        )
        self.operation_duration = Histogram(
            "lakever_operation_duration_seconds",
            "Duration of commits and merges",
            ["operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.operation_size = Histogram(
            "lakever_operation_nodes_written",
            "Tree nodes a successful commit or merge wrote (its size in the block store)",
            ["operation"],
            buckets=SIZE_BUCKETS,
            registry=self.registry,
        )
        if node_cache is not None:
            self.registry.register(NodeCacheCollector(node_cache))
        _StatementCounter.install()
        _StatementCounter.subscribe(self.statements.inc)

    def close(self) -> None:
        _StatementCounter.unsubscribe(self.statements.inc)


class _StatementCounter:
    """One SQLAlchemy listener for every engine; counts per request and per process.

    PostgreSQL statements all go through SQLAlchemy; the embedded SQLite store reads
    through raw ``sqlite3`` connections, so on SQLite only writes are counted.
    """

    _lock = threading.Lock()
    _installed = False
    _subscribers: list[Callable[[], None]] = []

    @classmethod
    def install(cls) -> None:
        with cls._lock:
            if not cls._installed:
                event.listen(Engine, "before_cursor_execute", cls._on_statement)
                cls._installed = True

    @classmethod
    def subscribe(cls, callback: Callable[[], None]) -> None:
        with cls._lock:
            cls._subscribers = [*cls._subscribers, callback]

    @classmethod
    def unsubscribe(cls, callback: Callable[[], None]) -> None:
        with cls._lock:
            cls._subscribers = [s for s in cls._subscribers if s is not callback]

    @classmethod
    def _on_statement(cls, *_args: Any, **_kwargs: Any) -> None:
        count_statement()
        for callback in cls._subscribers:
            callback()


def start_metrics_listener(metrics: Metrics, host: str, port: int) -> WSGIServer:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; ``shutdown()`` stops it."""
    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    return server
