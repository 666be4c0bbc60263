"""The metadata key/value store: interface, helpers and the factory by URL."""

from __future__ import annotations

from pathlib import Path

from lakever_server.errors import InvalidValue
from lakever_server.storage.kv.base import KVStore, prefix_end

__all__ = ["KVStore", "open_kv", "prefix_end"]


def open_kv(url: str) -> KVStore:
    """Open the metadata store a URL names.

    - ``memory://``: in-process, lost on exit (tests, throwaway servers).
    - ``sqlite:///<path>``: one SQLite file; as in SQLAlchemy, ``sqlite:///lakever.db``
      is relative to the working directory and ``sqlite:////var/lib/lakever.db``
      (four slashes) is absolute. Parent directories are created.
    - ``postgresql://user:password@host:port/database`` (or ``postgres://``): shared by
      any number of server processes.

    Raises:
        InvalidValue: an unknown scheme or a malformed URL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidValue(f"not a metadata store URL: {url!r}", field="url")
    if scheme == "memory":
        from lakever_server.storage.kv.memory import MemoryKV

        return MemoryKV()
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else ""
        if not path or path == ":memory:" or "\x00" in path:
            raise InvalidValue(
                "expected sqlite:///<path> (use memory:// for an in-memory store)", field="url"
            )
        from lakever_server.storage.kv.sqlite import SQLiteKV

        return SQLiteKV(Path(path))
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        from lakever_server.storage.kv.postgres import PostgresKV

        return PostgresKV(url)
    raise InvalidValue(
        f"unsupported metadata store {scheme!r}: use memory://, sqlite:/// or postgresql://",
        field="url",
    )
