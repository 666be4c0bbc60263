"""One router module per lakeFS API resource."""

from __future__ import annotations
