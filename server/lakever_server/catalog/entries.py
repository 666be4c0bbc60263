"""Object entries as graveler values, and object path validation.

A value's data is the entry's canonical JSON (without the path, which is the key).
Its identity is the SHA-256 of what makes two objects "the same object": physical
address, checksum, size, content type and user metadata; not the mtime, so the same
object staged twice (or on both sides of a merge) is not a change or a conflict.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lakever_server.catalog.models import Entry
from lakever_server.errors import InvalidValue
from lakever_server.graveler.model import Value, canonical_json

MAX_PATH_BYTES = 1024


def validate_path(path: str, *, field: str = "path") -> bytes:
    """The key of an object path: UTF-8, not empty, no NUL, at most 1024 bytes."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise InvalidValue(f"invalid path {path!r}", field=field)
    try:
        key = path.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValue("path is not valid UTF-8", field=field) from exc
    if len(key) > MAX_PATH_BYTES:
        raise InvalidValue(f"path longer than {MAX_PATH_BYTES} bytes", field=field)
    return key


def validate_prefix(prefix: str, *, field: str = "prefix") -> bytes:
    """Like ``validate_path`` but the empty prefix is allowed."""
    return validate_path(prefix, field=field) if prefix else b""


def identity(entry: Entry) -> bytes:
    return hashlib.sha256(
        canonical_json(
            [
                entry.physical_address,
                entry.checksum,
                entry.size_bytes,
                entry.content_type,
                entry.metadata,
            ]
        )
    ).digest()


def encode_entry(entry: Entry) -> bytes:
    """The graveler value of an entry (identity + canonical JSON data)."""
    data: dict[str, Any] = {
        "a": entry.physical_address,
        "c": entry.checksum,
        "s": entry.size_bytes,
        "m": entry.mtime,
        "t": entry.content_type,
        "u": entry.metadata,
        "r": entry.address_type == "relative",
    }
    return Value(identity(entry), canonical_json(data)).encode()


def decode_entry(path: str, raw: bytes) -> Entry:
    data = json.loads(Value.decode(raw).data)
    return Entry(
        path=path,
        physical_address=data["a"],
        checksum=data["c"],
        size_bytes=int(data["s"]),
        mtime=int(data["m"]),
        content_type=data["t"],
        metadata=dict(data["u"]),
        address_type="relative" if data.get("r") else "full",
    )


def entry_size(raw: bytes | None) -> int | None:
    """The size recorded in an encoded entry (``None`` for an absent one)."""
    if raw is None:
        return None
    return int(json.loads(Value.decode(raw).data)["s"])
