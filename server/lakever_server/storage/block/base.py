"""The interface every block store implements.

An *address* is a URI ``<scheme>://<namespace-path>/<key>``: ``local://repo1/data/ab12``,
``s3://bucket/prefix/data/ab12``, ``mem://x/y``. A repository's storage namespace is such
a URI prefix; the catalog derives object and tree-node addresses under it. Blobs are
written once and never rewritten in place (content is immutable once linked), so any
layer may cache them forever.

Content streams in bounded chunks both ways: no method buffers a whole object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from lakever_server.errors import InvalidValue

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class PutResult:
    """What a write stored: its size and MD5 (hex), computed while streaming."""

    size: int
    md5: str


@dataclass(frozen=True)
class BlockStat:
    """Size and modification time (epoch seconds) of a stored blob."""

    address: str
    size: int
    mtime: float


class BlockStore(Protocol):
    """Immutable blobs by address, streamed in chunks."""

    schemes: tuple[str, ...]
    """The address schemes this store serves, e.g. ``("local",)``."""

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        """Store the concatenated ``chunks`` at ``address``; atomically visible when done."""
        ...

    def get(self, address: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield the bytes ``[start, end)`` of the blob (``end=None``: to the end).

        Raises ``errors.NotFound`` when the blob does not exist.
        """
        ...

    def stat(self, address: str) -> BlockStat:
        """Size and mtime of the blob, or ``errors.NotFound``."""
        ...

    def exists(self, address: str) -> bool:
        """Whether a blob is stored at ``address``."""
        ...

    def delete(self, address: str) -> None:
        """Remove the blob; removing an absent blob is not an error."""
        ...

    def list_prefix(self, prefix: str) -> Iterator[BlockStat]:
        """Yield every blob whose address starts with ``prefix``, in address order."""
        ...

    # Multipart uploads (S3 gateway): parts are stored aside and composed on completion.
    def create_multipart(self, address: str) -> str:
        """Start a multipart upload to ``address``; return its upload id."""
        ...

    def upload_part(
        self, address: str, upload_id: str, part_number: int, chunks: Iterable[bytes]
    ) -> PutResult:
        """Store one part (1-10000); its ``md5`` is the part's ETag."""
        ...

    def complete_multipart(
        self, address: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        """Compose the listed ``(part_number, etag)`` parts, in order, into ``address``.

        Returns the final size and the S3-style multipart ETag
        (``md5(concat(part md5s))-N``) as ``md5``. ``InvalidValue`` on a missing part or
        a mismatched ETag.
        """
        ...

    def abort_multipart(self, address: str, upload_id: str) -> None:
        """Drop the parts of an upload."""
        ...


@runtime_checkable
class BatchSyncedStore(Protocol):
    """Optional: stores that can write many small blobs and make them durable at once.

    Tree nodes are immutable and content-addressed, and nothing names them until a
    commit record does, so they need not be durable one by one: ``put_unsynced`` makes a
    blob visible (atomically, whole or not at all) without waiting for the disk, and
    ``sync`` is the one wait, before anything refers to them. A store that does not
    offer this writes every blob durably with ``put``.
    """

    def put_unsynced(self, address: str, data: bytes) -> None:
        """Store ``data`` at ``address``, visible at once, durable only after ``sync``."""
        ...

    def sync(self, addresses: Sequence[str]) -> None:
        """Make the blobs at ``addresses`` (written by ``put_unsynced``) durable."""
        ...


@runtime_checkable
class UndigestedPutStore(Protocol):
    """Optional: a durable write that computes no MD5.

    ``put`` hashes every byte for the object's checksum. Tree packs carry their own
    integrity (each node is named by its SHA-256, checked when read) and nobody reads
    their MD5; on a large scattered commit that MD5 was a tenth of the commit's time.
    """

    def put_undigested(self, address: str, data: bytes) -> None:
        """Store ``data`` at ``address`` as ``put`` does (atomically visible, durable
        when it returns), without computing its MD5."""
        ...


@runtime_checkable
class PartDigestedPutStore(Protocol):
    """Optional: a durable write whose checksum is hashed on several cores.

    An MD5 is one serial chain, about 700 MiB/s on one core here: below what a local
    disk writes, so it bounds a single upload. The checksum S3 gives a multipart upload
    (the MD5 of the part MD5s, then ``-N``) hashes its parts independently. Writers
    whose clients never compare the checksum with an MD5 of their own (WebHDFS) use it.
    """

    def put_part_digested(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        """Store as ``put`` does; ``md5`` is the checksum S3 gives the same bytes
        uploaded as boto3 and the AWS CLI upload a file by default: their plain MD5
        under 8 MiB, else the multipart checksum of 8 MiB parts
        (``digests.PartDigests``)."""
        ...


@runtime_checkable
class BodyReader(Protocol):
    """Content read into the caller's buffers rather than handed over in chunks: an
    upload read straight from the client's socket (``zerocopy``).

    ``readinto`` may block; it fills the start of ``buffer`` and returns the count, 0
    only at the end. ``length`` is the number of bytes it gives in all.
    """

    length: int

    def readinto(self, buffer: memoryview) -> int: ...


@runtime_checkable
class ReaderPutStore(Protocol):
    """Optional: a durable write that reads its content into its own write buffers.

    A store writing through aligned buffers (``O_DIRECT``) has the reader fill them and
    hashes them where they are: no chunk objects, no copy of the content in memory.
    Other stores take the reader's content as chunks (``reader_chunks``).
    """

    def put_reader(
        self, address: str, reader: BodyReader, *, part_checksum: bool = False
    ) -> PutResult:
        """Store as ``put`` does (``put_part_digested`` with ``part_checksum``)."""
        ...

    def upload_part_reader(
        self, address: str, upload_id: str, part_number: int, reader: BodyReader
    ) -> PutResult:
        """Store one part as ``upload_part`` does."""
        ...


Content = Iterable[bytes] | BodyReader
"""What a write takes: chunks, or a reader of the content (an upload read from the socket)."""


def put_content(
    block: BlockStore, address: str, content: Content, *, part_checksum: bool = False
) -> PutResult:
    """``block.put`` with the best write the store offers: a reader read into its own
    buffers (``ReaderPutStore``), a checksum hashed on several cores where the caller
    allows S3's multipart form (``part_checksum``, ``PartDigestedPutStore``)."""
    if isinstance(content, BodyReader):
        if isinstance(block, ReaderPutStore):
            return block.put_reader(address, content, part_checksum=part_checksum)
        content = reader_chunks(content)
    if part_checksum and isinstance(block, PartDigestedPutStore):
        return block.put_part_digested(address, content)
    return block.put(address, content)


def upload_part_content(
    block: BlockStore, address: str, upload_id: str, part_number: int, content: Content
) -> PutResult:
    """``block.upload_part``, a reader read into the store's own buffers where it can."""
    if isinstance(content, BodyReader):
        if isinstance(block, ReaderPutStore):
            return block.upload_part_reader(address, upload_id, part_number, content)
        content = reader_chunks(content)
    return block.upload_part(address, upload_id, part_number, content)


def reader_chunks(reader: BodyReader, size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """A reader's content as chunks of up to ``size`` bytes, for stores that take
    chunks."""
    while True:
        buffer = bytearray(size)
        count = reader.readinto(memoryview(buffer))
        if count == 0:
            return
        del buffer[count:]
        yield bytes(buffer)


class PrefixedReader:
    """``chunks`` then the content of ``reader``, as a reader (an append: the stored
    object's bytes, then the new ones)."""

    def __init__(self, chunks: Iterable[bytes], size: int, reader: BodyReader) -> None:
        self.length = size + reader.length
        self._chunks = iter(chunks)
        self._chunk = memoryview(b"")
        self._reader = reader

    def readinto(self, buffer: memoryview) -> int:
        while not self._chunk:
            chunk = next(self._chunks, None)
            if chunk is None:
                return self._reader.readinto(buffer)
            self._chunk = memoryview(chunk)
        count = min(len(buffer), len(self._chunk))
        buffer[:count] = self._chunk[:count]
        self._chunk = self._chunk[count:]
        return count


def parse_address(address: str) -> tuple[str, str]:
    """Split ``scheme://rest`` into ``(scheme, rest)``, refusing traversal and NUL.

    ``rest`` never starts with ``/`` and has no ``.``/``..`` segments or empty segments
    except possibly a trailing one (a prefix ending in ``/``).
    """
    scheme, sep, rest = address.partition("://")
    if not sep or not scheme.isalnum():
        raise InvalidValue(f"invalid storage address {address!r}", field="address")
    if "\x00" in rest or rest.startswith("/") or "\\" in rest:
        raise InvalidValue("invalid storage address", field="address")
    segments = rest.split("/")
    for i, seg in enumerate(segments):
        if seg in (".", "..") or (seg == "" and i != len(segments) - 1):
            raise InvalidValue("invalid storage address", field="address")
    return scheme, rest
