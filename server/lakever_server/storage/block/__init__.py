"""The block store: immutable blobs by address. Interface, implementations and factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakever_server.errors import InvalidValue
from lakever_server.storage.block.base import BlockStat, BlockStore, PutResult, parse_address

__all__ = ["BlockStat", "BlockStore", "PutResult", "open_block_store", "parse_address"]

_S3_OPTIONS = frozenset(
    {"endpoint_url", "region", "access_key_id", "secret_access_key", "force_path_style"}
)


def open_block_store(kind: str, **options: Any) -> BlockStore:
    """Open the block store of ``kind`` with its options.

    - ``local``: ``root`` (a directory, created if missing); addresses ``local://...``.
    - ``s3``: ``endpoint_url``, ``region``, ``access_key_id``, ``secret_access_key``
      (all optional: the AWS defaults and credential chain apply) and
      ``force_path_style`` (default ``True``); addresses ``s3://bucket/key``.
    - ``memory``: no options; addresses ``mem://...``.

    Raises:
        InvalidValue: an unknown kind, or options that kind does not take.
    """
    if kind == "local":
        if set(options) != {"root"}:
            raise InvalidValue("the local block store takes exactly: root", field="options")
        from lakever_server.storage.block.local import LocalBlockStore

        return LocalBlockStore(Path(options["root"]))
    if kind == "s3":
        unknown = set(options) - _S3_OPTIONS
        if unknown:
            raise InvalidValue(
                f"unknown s3 block store options: {', '.join(sorted(unknown))}",
                field="options",
            )
        from lakever_server.storage.block.s3 import S3BlockStore

        return S3BlockStore(**options)
    if kind == "memory":
        if options:
            raise InvalidValue("the memory block store takes no options", field="options")
        from lakever_server.storage.block.memory import MemoryBlockStore

        return MemoryBlockStore()
    raise InvalidValue(f"unsupported block store {kind!r}: use local, s3 or memory", field="kind")
