"""An in-memory ``BlockStore`` for tests."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Iterable, Iterator

from lakever_server.errors import InvalidValue, NotFound
from lakever_server.storage.block.base import CHUNK_SIZE, BlockStat, PutResult, parse_address


class MemoryBlockStore:
    """Blobs in a dict; serves the ``mem`` scheme."""

    schemes: tuple[str, ...] = ("mem",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, tuple[bytes, float]] = {}
        self._uploads: dict[str, dict[int, bytes]] = {}

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        parse_address(address)
        data = b"".join(chunks)
        with self._lock:
            self._blobs[address] = (data, time.time())
        return PutResult(size=len(data), md5=hashlib.md5(data).hexdigest())

    def _blob(self, address: str) -> tuple[bytes, float]:
        parse_address(address)
        with self._lock:
            blob = self._blobs.get(address)
        if blob is None:
            raise NotFound(f"no blob at {address}", kind="blob", name=address)
        return blob

    def get(self, address: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        data = self._blob(address)[0][start:end]
        for at in range(0, len(data), CHUNK_SIZE):
            yield data[at : at + CHUNK_SIZE]

    def stat(self, address: str) -> BlockStat:
        data, mtime = self._blob(address)
        return BlockStat(address=address, size=len(data), mtime=mtime)

    def exists(self, address: str) -> bool:
        with self._lock:
            return address in self._blobs

    def delete(self, address: str) -> None:
        with self._lock:
            self._blobs.pop(address, None)

    def list_prefix(self, prefix: str) -> Iterator[BlockStat]:
        with self._lock:
            blobs = self._blobs.items()
            items = sorted((a, len(d), m) for a, (d, m) in blobs if a.startswith(prefix))
        for address, size, mtime in items:
            yield BlockStat(address=address, size=size, mtime=mtime)

    def create_multipart(self, address: str) -> str:
        parse_address(address)
        upload_id = uuid.uuid4().hex
        with self._lock:
            self._uploads[upload_id] = {}
        return upload_id

    def upload_part(
        self, address: str, upload_id: str, part_number: int, chunks: Iterable[bytes]
    ) -> PutResult:
        data = b"".join(chunks)
        with self._lock:
            if upload_id not in self._uploads:
                raise NotFound("no such upload", kind="upload", name=upload_id)
            self._uploads[upload_id][part_number] = data
        return PutResult(size=len(data), md5=hashlib.md5(data).hexdigest())

    def complete_multipart(
        self, address: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        with self._lock:
            stored = self._uploads.pop(upload_id, None)
        if stored is None:
            raise NotFound("no such upload", kind="upload", name=upload_id)
        digests = []
        for number, etag in parts:
            data = stored.get(number)
            if data is None or hashlib.md5(data).hexdigest() != etag.strip('"'):
                raise InvalidValue(f"part {number} is missing or its ETag differs", field="parts")
            digests.append(hashlib.md5(data).digest())
        body = b"".join(stored[n] for n, _ in parts)
        with self._lock:
            self._blobs[address] = (body, time.time())
        etag = f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(parts)}"
        return PutResult(size=len(body), md5=etag)

    def abort_multipart(self, address: str, upload_id: str) -> None:
        with self._lock:
            self._uploads.pop(upload_id, None)
