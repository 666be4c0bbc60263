"""Commit and merge metrics, measured around the catalog without changing it.

``InstrumentedCatalog`` forwards every call to the real catalog and times ``commit`` and
``merge`` (labelled ``ok``, or the error's class name). Their size is the number of tree
nodes the process wrote meanwhile: what the operation cost the block store. Two commits
running at once in one process each count the other's nodes too, so under concurrency
the size histogram over-counts; the durations are exact.
"""

from __future__ import annotations

import time
from typing import Any, cast

from lakever_server.catalog.interface import CatalogService
from lakever_server.graveler.tree import NodeCache, Tree
from lakever_server.observability.metrics import Metrics

_MEASURED = ("commit", "merge")


def _graveler(catalog: object) -> object | None:
    return getattr(catalog, "graveler", None)


def nodes_written(catalog: object) -> int:
    """Tree nodes written so far by every tree the catalog's graveler opened."""
    trees: dict[str, Tree] = getattr(_graveler(catalog), "_trees", {})
    return sum(tree.nodes_written for tree in list(trees.values()))


def node_cache(catalog: object) -> NodeCache | None:
    cache = getattr(_graveler(catalog), "cache", None)
    return cache if isinstance(cache, NodeCache) else None


class InstrumentedCatalog:
    """A ``CatalogService`` that records commit and merge metrics."""

    def __init__(self, inner: CatalogService, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in _MEASURED:
            return attribute

        def measured(*args: Any, **kwargs: Any) -> Any:
            nodes_before = nodes_written(self._inner)
            started = time.perf_counter()
            outcome = "ok"
            try:
                return attribute(*args, **kwargs)
            except Exception as error:
                outcome = type(error).__name__
                raise
            finally:
                elapsed = time.perf_counter() - started
                self._metrics.operation_duration.labels(name, outcome).observe(elapsed)
                if outcome == "ok":
                    written = nodes_written(self._inner) - nodes_before
                    self._metrics.operation_size.labels(name).observe(written)

        return measured


def instrument_catalog(inner: CatalogService, metrics: Metrics) -> CatalogService:
    return cast(CatalogService, InstrumentedCatalog(inner, metrics))
