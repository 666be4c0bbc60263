"""The block store: immutable blobs by address. Interface and implementations."""

from __future__ import annotations

from lakever_server.storage.block.base import BlockStat, BlockStore, PutResult, parse_address

__all__ = ["BlockStat", "BlockStore", "PutResult", "parse_address"]
