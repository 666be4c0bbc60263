"""Object entries as graveler values, and object path validation.

A value's data is the entry's canonical JSON (without the path, which is the key).
Its identity is the SHA-256 of what makes two objects "the same object": physical
address, checksum, size, content type and user metadata; not the mtime, so the same
object staged twice (or on both sides of a merge) is not a change or a conflict.
"""

from __future__ import annotations

import hashlib
import json

from lakever_server.catalog.models import Entry
from lakever_server.errors import InvalidValue
from lakever_server.graveler.model import Value

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


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_decoder = json.JSONDecoder()
_NUL = "\x00"


def _fields(entry: Entry) -> tuple[str, str, str, str]:
    """The identity-bearing text fields; NUL separates fields so none may contain it."""
    fields = (entry.physical_address, entry.checksum, entry.content_type)
    if any(_NUL in f for f in fields):
        raise InvalidValue("address, checksum and content type must not contain NUL")
    metadata = _encoder.encode(entry.metadata) if entry.metadata else ""
    return entry.physical_address, entry.checksum, entry.content_type, metadata


def encode_entry(entry: Entry) -> bytes:
    """The graveler value of an entry: identity digest, then NUL-separated fields.

    Fields: address, checksum, size, mtime, content type, relative flag, user metadata
    (JSON, last, may be empty). The identity is the SHA-256 of the same fields minus
    mtime. A flat format because a listing decodes a thousand entries per page.
    """
    address, checksum, content_type, metadata = _fields(entry)
    relative = "1" if entry.address_type == "relative" else "0"
    size = str(entry.size_bytes)
    ident = _NUL.join((address, checksum, size, content_type, metadata))
    data = _NUL.join((address, checksum, size, str(entry.mtime), content_type, relative, metadata))
    return Value(hashlib.sha256(ident.encode()).digest(), data.encode()).encode()


_new = object.__new__
_set = object.__setattr__


def decode_entry(path: str, raw: bytes) -> Entry:
    address, checksum, size, mtime, content_type, relative, metadata = (
        raw[raw[0] + 1 :].decode().split(_NUL, 6)
    )
    # A listing page decodes a thousand entries: handing the frozen dataclass a ready
    # ``__dict__`` skips its ``__init__`` (one ``object.__setattr__`` per field) and
    # builds the very same value.
    entry: Entry = _new(Entry)
    _set(
        entry,
        "__dict__",
        {
            "path": path,
            "physical_address": address,
            "checksum": checksum,
            "size_bytes": int(size),
            "mtime": int(mtime),
            "content_type": content_type,
            "metadata": _decoder.decode(metadata) if metadata else {},
            "address_type": "relative" if relative == "1" else "full",
        },
    )
    return entry


def decode_listed_entry(key: bytes, raw: bytes) -> Entry:
    """``decode_entry`` for a ``(key, value)`` pair of a listing, in one call per item."""
    return decode_entry(key.decode(), raw)


def entry_size(raw: bytes | None) -> int | None:
    """The size recorded in an encoded entry (``None`` for an absent one)."""
    if raw is None:
        return None
    return int(raw[raw[0] + 1 :].split(b"\x00", 3)[2])
