"""``lakever``: a lakectl-style command line for any lakeFS-compatible endpoint.

It is a client: it talks to the server only through ``lakefs_sdk`` and never imports
the server's own layers, so it drives lakever and a real lakeFS alike.
"""

from __future__ import annotations

from lakever_server.cli.app import app


def main() -> None:
    """Entry point of the ``lakever`` console script."""
    app()


__all__ = ["app", "main"]
