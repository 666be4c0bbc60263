"""Observability: Prometheus metrics, structured JSON logs with request ids, health.

- ``runtime.start_observability(services)``: metrics for the process (commit and merge
  timing around the catalog, node cache, metadata statements), the optional metrics
  listener, and ``wrap(app)`` for the per-request middleware (``middleware.py``).
- ``logs.configure_logging``: JSON (or text) lines, secrets redacted.
- ``health.check_stores``: the health check's probes of both stores.

Submodules are imported where used: the REST API imports ``health`` while the
middleware imports the app, so this package imports nothing eagerly.
"""
