"""``python -m lakever_server.cli``."""

from __future__ import annotations

from lakever_server.cli import main

main()
