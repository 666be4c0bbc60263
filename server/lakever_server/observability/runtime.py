"""The observability of one running server process, started and stopped with it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from starlette.types import ASGIApp

from lakever_server.observability.catalog import instrument_catalog, node_cache
from lakever_server.observability.metrics import Metrics, start_metrics_listener
from lakever_server.observability.middleware import observe
from lakever_server.services import Services

log = logging.getLogger(__name__)


@dataclass
class Observability:
    metrics: Metrics
    listener: WSGIServer | None

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """``app`` with request ids, request metrics and the access log."""
        return observe(app, self.metrics)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.shutdown()
            self.listener.server_close()
        self.metrics.close()


def start_observability(services: Services) -> Observability:
    """Instrument ``services.catalog`` and start the metrics listener if configured.

    Call before building the app, so every protocol sees the instrumented catalog.
    """
    inner = services.catalog
    metrics = Metrics(node_cache=lambda: node_cache(inner))
    services.catalog = instrument_catalog(inner, metrics)
    settings = services.settings.observability
    listener = None
    if settings.metrics_port is not None:
        listener = start_metrics_listener(metrics, settings.metrics_host, settings.metrics_port)
        host, port = listener.server_address[:2]
        log.info("metrics listener on http://%s:%s/metrics", host, port)
    return Observability(metrics=metrics, listener=listener)
