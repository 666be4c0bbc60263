"""The metadata key/value store: interface, helpers and the factory by URL."""

from __future__ import annotations

from lakever_server.storage.kv.base import KVStore, prefix_end

__all__ = ["KVStore", "prefix_end"]
