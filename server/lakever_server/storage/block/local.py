"""Blobs as files under one root directory: the embedded default block store.

``local://<rest>`` is the file ``root/<rest>``. Every write lands in a temporary file in
the destination directory, is flushed to disk, then renamed over the final name, so a
reader or a crash sees either the whole blob or none of it. Past a few MiB a blob is
written with ``O_DIRECT``, past the page cache (``direct`` says why). Every address is
checked to stay under ``root`` (``..``, absolute paths, NUL and symlinks pointing out are
refused) because addresses reach here from clients through the S3 gateway. Writes resolve
the whole path; reads, the hot path, resolve each folder once (a bounded cache: the store
never turns a folder into a symlink) and open the file itself with ``O_NOFOLLOW``.

Multipart parts are temporary and written without fsync. They go straight into one sparse
*assembly file* per upload, part n at offset ``(n-1) * S``, where the slot size S is the
size of the first part to finish (or to start, for a part read from the client's socket
into the writer's buffers, whose size is known up front); a part of another size, or a
second upload of a part number, gets a file of its own. Completing uniform parts (every
part but the last of one size: what boto3, s3a, pyarrow and the AWS CLI send) copies at
most the parts kept apart into their slots, cuts the assembly file to length, syncs it and
renames it into place: the data is written once. Anything else is composed by an in-kernel copy
(``copy_file_range``) into a new file, as S3 would assemble it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat as stat_module
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from lakever_server.errors import InvalidValue, NotFound
from lakever_server.storage.block.base import (
    CHUNK_SIZE,
    BlockStat,
    BodyReader,
    Content,
    PutResult,
    parse_address,
)
from lakever_server.storage.block.digests import (
    Md5Digest,
    PartDigests,
    StreamDigest,
    multipart_checksum,
)
from lakever_server.storage.block.direct import (
    ALIGN,
    DIRECT_AFTER,
    BlobWriter,
    write_reader,
)
from lakever_server.storage.pools import SharedPool

UPLOADS_DIR = ".lakever-uploads"
"""Where multipart parts wait, under the root; never a valid address."""

TEMP_PREFIX = ".lakever-tmp-"
"""Names of files being written; never listed, never a valid address."""

MAX_PART_NUMBER = 10_000

READ_FOLDER_CACHE = 4096
"""Folders whose resolved path reads remember (cleared when full)."""


def _fsync_path(path: str | Path) -> None:
    """Flush a file, or a folder: that makes a rename in it durable (POSIX: the entry
    lives in the folder)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


WRITEBACK_STEP = 8 * 1024 * 1024
"""A durable write asks the kernel to start writing its pages to disk every this many
bytes, so the disk works while the rest arrives and the final fsync has little left."""


def _find_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's ``sync_file_range(2)``: start writeback of a range without waiting."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    function.restype = ctypes.c_int
    started: Callable[[int, int, int, int], int] = function
    return started


_sync_file_range = _find_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int, offset: int, size: int) -> None:
    if _sync_file_range is not None and size > 0:
        # Best effort: the fsync at the end is what makes the data durable.
        _sync_file_range(fd, offset, size, _SYNC_FILE_RANGE_WRITE)


class _Writeback:
    """Starts the writeback of what a writer wrote from ``offset`` on, a step behind it."""

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.started = 0

    def written(self, fd: int, writer: BlobWriter) -> None:
        """After each write: start the next step's writeback once a step is written (an
        ``O_DIRECT`` writer bypasses the page cache: nothing to write back)."""
        size = writer.size
        if writer.direct or _sync_file_range is None or size - self.started < WRITEBACK_STEP:
            return
        self.rest(fd, size)

    def rest(self, fd: int, size: int) -> None:
        """Start the writeback of everything written and not started yet."""
        _start_writeback(fd, self.offset + self.started, size - self.started)
        self.started = size


def _write_atomically(
    target: Path,
    chunks: Content,
    *,
    durable: bool = True,
    make_folder: bool = True,
    direct: bool = True,
    digest: Callable[[], StreamDigest] | None = Md5Digest,
) -> PutResult:
    """Stream ``chunks`` into ``target`` via a temporary sibling; return size and MD5.

    ``chunks`` may be a ``BodyReader``: it then fills the writer's aligned buffers, which
    are hashed and written where they are (``direct.write_reader``).

    ``durable=False`` skips both fsyncs: the blob is still all-or-nothing for readers,
    but survives a power loss only once its file and folder are synced.
    ``make_folder=False`` fails (``FileNotFoundError``) where the folder is gone.
    ``direct=True`` writes the blob with ``O_DIRECT`` past ``DIRECT_AFTER`` bytes.
    ``digest`` makes the checksum, computed on other cores while the blob is written
    (both release the GIL): an MD5 by default, ``PartDigests`` for one hashed on
    several; ``None`` computes none (the result's ``md5`` is empty).
    """
    if make_folder:
        target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    checksum = digest() if digest is not None else None
    writeback = _Writeback() if durable else None
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        writer = BlobWriter(fd, direct_after=DIRECT_AFTER if direct else None)

        def written() -> None:
            if writeback is not None:
                writeback.written(fd, writer)

        try:
            if isinstance(chunks, BodyReader):
                md5 = write_reader(writer, chunks, checksum, written)
                writer.finish()
            else:
                for chunk in chunks:
                    if checksum is not None:
                        checksum.update(chunk)
                    writer.write(chunk)
                    written()
                writer.finish()
                md5 = "" if checksum is None else checksum.hexdigest()
            if durable:
                os.fsync(fd)
        finally:
            writer.close()
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_path(target.parent)
    return PutResult(size=writer.size, md5=md5)


def _holds(path: str, data: bytes) -> bool:
    """Whether the file at ``path`` already holds exactly ``data`` (one stat if absent)."""
    try:
        if os.stat(path).st_size != len(data):
            return False
        with open(path, "rb") as existing:
            return existing.read() == data
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False


SYNC_CONCURRENCY = 8
"""fsyncs in flight at once in ``sync``: they wait on the disk, not on Python."""


def _find_syncfs() -> Callable[[int], int] | None:
    """Linux's ``syncfs(2)``: flush one file system in one call (None elsewhere)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    return function


_syncfs = _find_syncfs()

_sync_pool = SharedPool(SYNC_CONCURRENCY, "lakever-sync")
"""The process-wide pool that runs the fsyncs of ``sync``."""


READ_AHEAD = 8 * CHUNK_SIZE
"""How far ahead of a large read the disk is asked to be (``POSIX_FADV_WILLNEED``)."""

_can_advise = hasattr(os, "posix_fadvise")


class FileChunks(Iterator[bytes]):
    """The bytes ``[offset, offset + remaining)`` of an open file, in chunks (``remaining``
    ``None``: to the end of the file). The file is closed at the end, or by ``close``.

    Besides iterating, a server that can send a file without copying it through user
    space (``os.sendfile``) may take ``fileno()``, ``offset`` and ``remaining`` instead
    and send the range itself; it must then ``close`` this object when done. A read of
    more than ``READ_AHEAD`` keeps the disk that far ahead of the consumer: the kernel's
    own read-ahead is a few hundred KiB, and without more the disk would wait while each
    chunk is sent to the client.
    """

    __slots__ = ("_advise", "_advised", "_handle", "offset", "remaining")

    def __init__(self, handle: BinaryIO, remaining: int | None, start: int = 0) -> None:
        self._handle = handle
        self.offset = start
        self.remaining = remaining
        self._advise = _can_advise and (remaining is None or remaining > READ_AHEAD)
        self._advised = start

    def fileno(self) -> int:
        return self._handle.fileno()

    def __next__(self) -> bytes:
        remaining = self.remaining
        if (remaining is not None and remaining <= 0) or self._handle.closed:
            self.close()
            raise StopIteration
        if self._advise and self._advised - self.offset < READ_AHEAD:
            os.posix_fadvise(
                self._handle.fileno(), self._advised, 2 * READ_AHEAD, os.POSIX_FADV_WILLNEED
            )
            self._advised += 2 * READ_AHEAD
        want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
        chunk = self._handle.read(want)
        if not chunk:
            self.close()
            raise StopIteration
        self.offset += len(chunk)
        if remaining is not None:
            self.remaining = remaining - len(chunk)
        return chunk

    def close(self) -> None:
        self._handle.close()

    def __del__(self) -> None:
        self._handle.close()


# -- multipart: slots in one assembly file ---------------------------------------------

ASSEMBLY = "assembly"
"""The sparse file of an upload that holds part n at ``(n - 1) * slot size``."""

SLOT_SIZE = "slot-size"
"""Holds the slot size, claimed (``O_EXCL``) by the first part to finish."""

COMPLETING = "completing"
"""Present while the upload is being completed: parts arriving then get files of their
own, so the assembly file is not written to while it is cut and renamed."""

BUFFER_LIMIT = 16 * 1024 * 1024
"""A part arriving before the slot size is known is held in memory up to this size, then
given a file of its own (boto3 and the AWS CLI send 8 MiB parts, pyarrow 10 MiB)."""

IN_SLOT = "slot"


@dataclass(frozen=True)
class _Part:
    """A finished part as its sidecar records it: its digest, size and where it is."""

    number: int
    md5: str
    size: int
    file: str | None
    """The name of its own file in the upload folder; ``None`` when it is in its slot."""


def _read_part(directory: Path, number: int) -> _Part | None:
    """The latest finished upload of part ``number`` (``None`` when there is none)."""
    try:
        md5, _, rest = (directory / f"{number:05d}.md5").read_text().partition(" ")
    except (FileNotFoundError, NotADirectoryError):
        return None
    size, _, where = rest.partition(" ")
    # Records of earlier versions: "md5 size" or "md5", the part in the file "NNNNN".
    if where == IN_SLOT:
        return _Part(number, md5, int(size), None)
    file = where or f"{number:05d}"
    known = int(size) if size.isdigit() else max(_size(directory / file), 0)
    return _Part(number, md5, known, file)


def _record_part(directory: Path, part: _Part) -> None:
    """Write the part's sidecar after its data, atomically: the latest one is the part."""
    where = IN_SLOT if part.file is None else part.file
    record = f"{part.md5} {part.size} {where}".encode()
    # Never recreating the folder of an upload aborted or completed meanwhile.
    _write_atomically(
        directory / f"{part.number:05d}.md5", [record], durable=False, make_folder=False
    )


def _slot_size(directory: Path) -> int | None:
    try:
        text = (directory / SLOT_SIZE).read_text()
    except FileNotFoundError:
        return None
    # Empty for the instant between its claim and its write: treated as not yet known.
    return int(text) if text.isdigit() else None


def _claim_slot_size(directory: Path, size: int) -> int | None:
    """Make ``size`` the slot size unless another part did first; return the slot size."""
    try:
        fd = os.open(directory / SLOT_SIZE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC)
    except FileExistsError:
        return _slot_size(directory)
    try:
        os.write(fd, str(size).encode())
    finally:
        os.close(fd)
    return size


def _try_lock(path: Path) -> bool:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC))
    except FileExistsError:
        return False
    return True


def _read_range(path: Path, offset: int, size: int) -> Iterator[bytes]:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while size > 0:
            block = os.pread(fd, min(CHUNK_SIZE, size), offset)
            if not block:
                raise OSError(errno.EIO, "a multipart slot shrank while it was read")
            yield block
            offset, size = offset + len(block), size - len(block)
    finally:
        os.close(fd)


def _fill_slot(
    directory: Path, number: int, chunks: Iterator[bytes], slot: int
) -> PutResult | Iterator[bytes]:
    """Write a part into its slot; if it proves longer than a slot, return all its bytes
    (those written, read back, then the rest) for a file of its own instead.

    Slots of a multiple of ``ALIGN`` bytes are written with ``O_DIRECT`` from their
    start: no two parts then share a page, and a part is several MiB.
    """
    offset = (number - 1) * slot
    md5 = Md5Digest()
    fd, writer, writeback = _open_slot(directory, offset, slot)
    try:
        for chunk in chunks:
            if writer.size + len(chunk) > slot:
                writer.finish()
                md5.digest()  # waits for the hashing; the part is written elsewhere
                written = list(_read_range(directory / ASSEMBLY, offset, writer.size))
                return chain(written, [chunk], chunks)
            md5.update(chunk)
            writer.write(chunk)
            writeback.written(fd, writer)
        writer.finish()
        checksum = md5.hexdigest()
        writeback.rest(fd, writer.size)
    finally:
        writer.close()
        os.close(fd)
    return PutResult(size=writer.size, md5=checksum)


def _fill_slot_reader(directory: Path, number: int, reader: BodyReader, slot: int) -> PutResult:
    """``_fill_slot`` for a part read into the writer's buffers, known to fit the slot."""
    fd, writer, writeback = _open_slot(directory, (number - 1) * slot, slot)
    try:
        try:
            checksum = write_reader(
                writer, reader, Md5Digest(), lambda: writeback.written(fd, writer), limit=slot
            )
        except ValueError:  # more bytes than its length said: nothing was staged
            raise InvalidValue("the part is longer than its Content-Length") from None
        writer.finish()
        writeback.rest(fd, writer.size)
    finally:
        writer.close()
        os.close(fd)
    return PutResult(size=writer.size, md5=checksum)


def _open_slot(directory: Path, offset: int, slot: int) -> tuple[int, BlobWriter, _Writeback]:
    """The assembly file, a writer at a part's slot in it, and that slot's writeback."""
    # Opened without O_TRUNC: other parts are being written into the same file.
    fd = os.open(directory / ASSEMBLY, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o666)
    writer = BlobWriter(fd, offset, direct_after=0 if slot % ALIGN == 0 else None)
    return fd, writer, _Writeback(offset)


def _write_part(
    directory: Path, number: int, chunks: Iterator[bytes] | BodyReader, slot: int | None
) -> PutResult:
    """Store a part in its slot when it is free and the part fits, else in a file of its
    own; record it once its data is written."""
    if isinstance(chunks, BodyReader) and slot is not None and chunks.length > slot:
        slot = None  # longer than a slot: a file of its own from the start
    if slot:
        lock = directory / f"{number:05d}.lock"
        if _try_lock(lock):
            try:
                # Checked under the lock: a slot holding a finished part is never
                # overwritten (completion may read it), and no slot is written once a
                # completion has begun (it may cut and rename the assembly file).
                current = _read_part(directory, number)
                if not (directory / COMPLETING).exists() and (current is None or current.file):
                    stored = (
                        _fill_slot_reader(directory, number, chunks, slot)
                        if isinstance(chunks, BodyReader)
                        else _fill_slot(directory, number, chunks, slot)
                    )
                    if isinstance(stored, PutResult):
                        _record_part(directory, _Part(number, stored.md5, stored.size, None))
                        return stored
                    return _write_part_file(directory, number, stored)
            finally:
                lock.unlink(missing_ok=True)
    return _write_part_file(directory, number, chunks)


def _write_part_file(directory: Path, number: int, chunks: Content) -> PutResult:
    # A name of its own per upload: two uploads of one part number never mix bytes.
    name = f"{number:05d}.{uuid.uuid4().hex}"
    result = _write_atomically(directory / name, chunks, durable=False, make_folder=False)
    _record_part(directory, _Part(number, result.md5, result.size, name))
    return result


def _is_uniform(parts: Sequence[_Part], slot: int | None) -> bool:
    """Whether the parts are 1..N, each a whole slot but the last, which fits in one."""
    if not slot or [part.number for part in parts] != list(range(1, len(parts) + 1)):
        return False
    return all(part.size == slot for part in parts[:-1]) and parts[-1].size <= slot


def _locks_held(directory: Path) -> bool:
    return any(name.endswith(".lock") for name in os.listdir(directory))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return -1


def _copy_all(source: int, target: int, size: int, offset: int = 0) -> None:
    """Append ``size`` bytes of ``source`` from ``offset`` to ``target``: in the kernel
    where ``copy_file_range`` works (no copy through Python, a reflink on file systems
    that share blocks), else by a read/write loop."""
    remaining = size
    if hasattr(os, "copy_file_range"):
        try:
            while remaining:
                copied = os.copy_file_range(source, target, remaining, offset)
                if copied == 0:
                    break
                remaining, offset = remaining - copied, offset + copied
        except OSError as error:
            if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    while remaining:
        block = os.pread(source, min(CHUNK_SIZE, remaining), offset)
        if not block:
            break
        os.write(target, block)
        remaining, offset = remaining - len(block), offset + len(block)
    if remaining:
        raise OSError(errno.EIO, "a multipart part shrank while it was composed")


def _compose(target: Path, sources: list[tuple[Path, int, int]]) -> int:
    """Concatenate the ``(file, offset, size)`` ranges into ``target`` atomically and
    durably; return the size."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    size = 0
    try:
        out = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            for path, offset, part_size in sources:
                source = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _copy_all(source, out, part_size, offset)
                    _start_writeback(out, size, part_size)  # the disk starts on it
                    size += part_size
                finally:
                    os.close(source)
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_path(target.parent)
    return size


def _source(directory: Path, part: _Part, slot: int | None) -> tuple[Path, int, int]:
    """Where a checked part's bytes are: ``(file, offset, size)``."""
    if part.file is not None:
        return directory / part.file, 0, part.size
    assert slot is not None  # a part is recorded in a slot only once the size is known
    return directory / ASSEMBLY, (part.number - 1) * slot, part.size


def _assemble_in_place(directory: Path, target: Path, parts: Sequence[_Part], slot: int) -> int:
    """Complete uniform parts by turning the assembly file into the object: copy in the
    parts kept in files of their own (usually none), cut it to length, sync, rename."""
    assembly = directory / ASSEMBLY
    size = (len(parts) - 1) * slot + parts[-1].size
    fd = os.open(assembly, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        for part in parts:
            if part.file is None:
                continue
            offset = (part.number - 1) * slot
            source = os.open(directory / part.file, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.lseek(fd, offset, os.SEEK_SET)
                _copy_all(source, fd, part.size)
            finally:
                os.close(source)
            _start_writeback(fd, offset, part.size)
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(assembly, target)
    _fsync_path(target.parent)
    return size


class LocalBlockStore:
    """Immutable blobs as files under ``root``; serves the ``local`` scheme."""

    schemes: tuple[str, ...] = ("local",)
    use_syncfs = True

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._folders: dict[str, str] = {}  # batched writes: folder -> its checked path
        self._read_folders: dict[str, str] = {}  # reads: folder -> its checked path

    def __repr__(self) -> str:
        return f"LocalBlockStore({str(self.root)!r})"

    # -- addresses -------------------------------------------------------------------

    def _path(self, address: str) -> Path:
        """The file an address names, refusing anything that escapes ``root``."""
        scheme, rest = parse_address(address)
        if scheme not in self.schemes:
            raise InvalidValue(f"not a local address: {address!r}", field="address")
        first, *_ = rest.split("/")
        name = rest.rsplit("/", 1)[-1]
        if first == UPLOADS_DIR or name.startswith(TEMP_PREFIX):
            raise InvalidValue("reserved storage address", field="address")
        path = (self.root / rest).resolve()
        if path != self.root and not path.is_relative_to(self.root):
            raise InvalidValue("storage address outside the store", field="address")
        return path

    def _blob_path(self, address: str) -> Path:
        path = self._path(address)
        if path == self.root or not path.is_file():
            raise NotFound(f"no blob at {address}", kind="blob", name=address)
        return path

    def _read_path(self, address: str) -> str:
        """The file a blob address names, for reading: its folder resolved once and
        cached, so a read costs no ``resolve`` (a syscall per path component). The caller
        opens it with ``O_NOFOLLOW``, which refuses a symlink as the last component."""
        scheme, rest = parse_address(address)
        if scheme not in self.schemes:
            raise InvalidValue(f"not a local address: {address!r}", field="address")
        folder, _, name = rest.rpartition("/")
        if not name:
            raise NotFound(f"no blob at {address}", kind="blob", name=address)
        directory = self._read_folders.get(folder)
        if directory is None:
            first = rest.split("/", 1)[0]
            if first == UPLOADS_DIR:
                raise InvalidValue("reserved storage address", field="address")
            resolved = (self.root / folder).resolve() if folder else self.root
            if not resolved.is_relative_to(self.root):
                raise InvalidValue("storage address outside the store", field="address")
            if len(self._read_folders) >= READ_FOLDER_CACHE:
                self._read_folders.clear()
            directory = self._read_folders[folder] = str(resolved)
        if name.startswith(TEMP_PREFIX):
            raise InvalidValue("reserved storage address", field="address")
        return f"{directory}/{name}"

    def _open_blob(self, address: str) -> int:
        """A read-only descriptor of the blob; ``NotFound``, or ``InvalidValue`` for a
        symlink."""
        path = self._read_path(address)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no blob at {address}", kind="blob", name=address) from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise InvalidValue("storage address is a symlink", field="address") from None
            raise
        return fd

    # -- blobs -----------------------------------------------------------------------

    def put(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        return self._write(self._write_path(address), address, chunks)

    def put_undigested(self, address: str, data: bytes) -> None:
        self._write(self._write_path(address), address, [data], digest=None)

    def put_part_digested(self, address: str, chunks: Iterable[bytes]) -> PutResult:
        return self._write(self._write_path(address), address, chunks, digest=PartDigests)

    def put_reader(
        self, address: str, reader: BodyReader, *, part_checksum: bool = False
    ) -> PutResult:
        digest = PartDigests if part_checksum else Md5Digest
        return self._write(self._write_path(address), address, reader, digest=digest)

    def _write_path(self, address: str) -> Path:
        """``_path`` of an address a blob can be written at (one with a key)."""
        path = self._path(address)
        if path == self.root or address.endswith("/"):
            raise InvalidValue("a blob address needs a key", field="address")
        return path

    @staticmethod
    def _write(
        path: Path,
        address: str,
        chunks: Content,
        *,
        durable: bool = True,
        digest: Callable[[], StreamDigest] | None = Md5Digest,
    ) -> PutResult:
        # Unlike S3, a file system cannot hold both ``a`` and ``a/b``. The catalog never
        # asks for that (it derives unique addresses), so it is a caller error here.
        if path.is_dir():
            raise InvalidValue(f"a folder exists at {address}", field="address")
        try:
            return _write_atomically(path, chunks, durable=durable, digest=digest)
        except (NotADirectoryError, FileExistsError):
            raise InvalidValue(f"a blob is in the way of {address}", field="address") from None

    def _batch_path(self, address: str) -> str:
        """``_path`` for batched writes, resolving each folder once, not each blob.

        Batched writes come from the tree (node addresses it derived itself), many per
        commit into a few hundred folders; a full ``resolve`` per blob would cost more
        than the write. The folder is still resolved and checked to be under ``root``.
        """
        scheme, rest = parse_address(address)
        if scheme not in self.schemes:
            raise InvalidValue(f"not a local address: {address!r}", field="address")
        folder, _, name = rest.rpartition("/")
        first = rest.split("/", 1)[0]
        if not name or first == UPLOADS_DIR or name.startswith(TEMP_PREFIX):
            raise InvalidValue("reserved or incomplete storage address", field="address")
        directory = self._folders.get(folder)
        if directory is None:
            path = self._path(address)
            path.parent.mkdir(parents=True, exist_ok=True)
            directory = self._folders[folder] = str(path.parent)
        return f"{directory}/{name}"

    def put_unsynced(self, address: str, data: bytes) -> None:
        """Write ``data`` without waiting for the disk; ``sync`` makes it durable.

        A blob already holding ``data`` is left as it is (tree nodes are named by their
        content, so most re-writes are of identical bytes): replacing a durable file with
        an unsynced copy would make it fragile again.
        """
        for attempt in (1, 2):
            path = self._batch_path(address)
            if _holds(path, data):
                return
            temp = f"{os.path.dirname(path)}/{TEMP_PREFIX}{uuid.uuid4().hex}"
            try:
                with open(temp, "xb") as out:
                    out.write(data)
                os.replace(temp, path)
                return
            except BaseException as error:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                if not isinstance(error, OSError):
                    raise
                if isinstance(error, FileNotFoundError) and attempt == 1:
                    # The folder went away since it was checked: check and create it again.
                    self._folders.pop(address.partition("://")[2].rpartition("/")[0], None)
                    continue
                if isinstance(error, (IsADirectoryError, NotADirectoryError)):
                    raise InvalidValue(f"a blob or folder is in the way of {address}") from None
                raise

    def sync(self, addresses: Sequence[str]) -> None:
        """Make the blobs durable: one ``syncfs`` of the root's file system where the
        platform has it (one wait, whatever the number of blobs), else an fsync of each
        blob and then of each of their folders (which hold the renames)."""
        if addresses and self.use_syncfs and _syncfs is not None:
            # The whole file system: the addresses (put_unsynced checked them) are moot.
            fd = os.open(self.root, os.O_RDONLY)
            try:
                if _syncfs(fd) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, os.strerror(error), str(self.root))
            finally:
                os.close(fd)
            return
        files = [self._batch_path(address) for address in addresses]
        folders = list(dict.fromkeys(os.path.dirname(path) for path in files))
        if len(files) <= 1:
            for path in files + folders:
                _fsync_path(path)
            return
        pool = _sync_pool()
        list(pool.map(_fsync_path, files))
        list(pool.map(_fsync_path, folders))

    def get(self, address: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        # Opened here, not in the generator, so a missing blob fails before streaming.
        fd = self._open_blob(address)
        try:
            handle = open(fd, "rb")  # noqa: SIM115 (closed by FileChunks)
        except IsADirectoryError:
            os.close(fd)
            raise NotFound(f"no blob at {address}", kind="blob", name=address) from None
        except BaseException:
            os.close(fd)
            raise
        if start:
            handle.seek(start)
        remaining = None if end is None else max(0, end - start)
        return FileChunks(handle, remaining, start)

    def stat(self, address: str) -> BlockStat:
        path = self._read_path(address)
        try:
            info = os.stat(path, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound(f"no blob at {address}", kind="blob", name=address) from None
        if stat_module.S_ISLNK(info.st_mode):
            raise InvalidValue("storage address is a symlink", field="address")
        if not stat_module.S_ISREG(info.st_mode):
            raise NotFound(f"no blob at {address}", kind="blob", name=address)
        return BlockStat(address=address, size=info.st_size, mtime=info.st_mtime)

    def exists(self, address: str) -> bool:
        path = self._path(address)
        return path != self.root and path.is_file()

    def delete(self, address: str) -> None:
        path = self._path(address)
        if path != self.root and path.is_file():
            path.unlink(missing_ok=True)

    def list_prefix(self, prefix: str) -> Iterator[BlockStat]:
        scheme, rest = parse_address(prefix)
        if scheme not in self.schemes:
            raise InvalidValue(f"not a local address: {prefix!r}", field="address")
        folder, _, _ = rest.rpartition("/")
        start = self.root / folder if folder else self.root
        if not start.resolve().is_relative_to(self.root) or not start.is_dir():
            return
        base = f"{scheme}://{folder}/" if folder else f"{scheme}://"
        yield from self._walk(start, base, prefix)

    def _walk(self, directory: Path, base: str, prefix: str) -> Iterator[BlockStat]:
        """Depth first, in address order: a directory sorts as its name plus ``/``."""
        entries: list[tuple[str, os.DirEntry[str]]] = []
        with os.scandir(directory) as scan:
            for entry in scan:
                if entry.name.startswith(TEMP_PREFIX) or (
                    directory == self.root and entry.name == UPLOADS_DIR
                ):
                    continue
                is_dir = entry.is_dir(follow_symlinks=False)
                address = f"{base}{entry.name}{'/' if is_dir else ''}"
                # Skip subtrees that cannot contain the prefix, and files before it.
                if address.startswith(prefix) or (is_dir and prefix.startswith(address)):
                    entries.append((address, entry))
        for address, entry in sorted(entries, key=lambda item: item[0]):
            if address.endswith("/"):
                yield from self._walk(Path(entry.path), address, prefix)
            elif entry.is_file(follow_symlinks=False):
                info = entry.stat(follow_symlinks=False)
                yield BlockStat(address=address, size=info.st_size, mtime=info.st_mtime)

    # -- multipart -------------------------------------------------------------------

    def _upload_dir(self, upload_id: str) -> Path:
        if len(upload_id) != 32 or not all(c in "0123456789abcdef" for c in upload_id):
            raise NotFound("no such upload", kind="upload", name=upload_id)
        directory = self.root / UPLOADS_DIR / upload_id
        if not directory.is_dir():
            raise NotFound("no such upload", kind="upload", name=upload_id)
        return directory

    def create_multipart(self, address: str) -> str:
        self._path(address)
        upload_id = uuid.uuid4().hex
        (self.root / UPLOADS_DIR / upload_id).mkdir(parents=True)
        return upload_id

    def upload_part(
        self, address: str, upload_id: str, part_number: int, chunks: Iterable[bytes]
    ) -> PutResult:
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise InvalidValue("part number must be 1-10000", field="part_number")
        directory = self._upload_dir(upload_id)
        try:
            return self._upload_part(directory, part_number, iter(chunks))
        except FileNotFoundError:  # aborted or completed meanwhile
            raise NotFound("no such upload", kind="upload", name=upload_id) from None

    def upload_part_reader(
        self, address: str, upload_id: str, part_number: int, reader: BodyReader
    ) -> PutResult:
        if not 1 <= part_number <= MAX_PART_NUMBER:
            raise InvalidValue("part number must be 1-10000", field="part_number")
        directory = self._upload_dir(upload_id)
        try:
            # The size is known before the first byte: it claims the slot size at once
            # if no part did, where a streamed part is held until its size is known.
            slot = _slot_size(directory)
            if slot is None:
                slot = _claim_slot_size(directory, reader.length)
            return _write_part(directory, part_number, reader, slot)
        except FileNotFoundError:  # aborted or completed meanwhile
            raise NotFound("no such upload", kind="upload", name=upload_id) from None

    @staticmethod
    def _upload_part(directory: Path, part_number: int, stream: Iterator[bytes]) -> PutResult:
        # Not durable: a part only matters once completed, and completing makes the
        # object durable. A part cut short by a crash is caught by its recorded size.
        slot = _slot_size(directory)
        if slot is not None:
            return _write_part(directory, part_number, stream, slot)
        # The slot size is not known yet: hold the part until its size is, unless large.
        held: list[bytes] = []
        size = 0
        for chunk in stream:
            held.append(chunk)
            size += len(chunk)
            if size > BUFFER_LIMIT:
                result = _write_part_file(directory, part_number, chain(held, stream))
                _claim_slot_size(directory, result.size)
                return result
        slot = _claim_slot_size(directory, size)
        return _write_part(directory, part_number, iter(held), slot)

    def complete_multipart(
        self, address: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> PutResult:
        target = self._path(address)
        directory = self._upload_dir(upload_id)
        if not parts:
            raise InvalidValue("a multipart upload needs at least one part", field="parts")
        # Once this exists no part is written into a slot; a lock still held means one
        # was being written when it appeared (or its writer died): then compose by copy.
        marked = _try_lock(directory / COMPLETING)
        try:
            listed = [self._listed_part(directory, number, etag) for number, etag in parts]
            if target.is_dir():
                raise InvalidValue(f"a folder exists at {address}", field="address")
            slot = _slot_size(directory)
            try:
                if marked and slot and _is_uniform(listed, slot) and not _locks_held(directory):
                    size = _assemble_in_place(directory, target, listed, slot)
                else:
                    size = _compose(target, [_source(directory, part, slot) for part in listed])
            except (NotADirectoryError, FileExistsError):
                raise InvalidValue(f"a blob is in the way of {address}", field="address") from None
            except FileNotFoundError:  # completed or aborted meanwhile by another call
                raise NotFound("no such upload", kind="upload", name=upload_id) from None
        except BaseException:
            if marked:
                (directory / COMPLETING).unlink(missing_ok=True)
            raise
        # Deleted before the kernel writes their pages back (they were never synced).
        shutil.rmtree(directory, ignore_errors=True)
        return PutResult(
            size=size, md5=multipart_checksum([bytes.fromhex(part.md5) for part in listed])
        )

    @staticmethod
    def _listed_part(directory: Path, number: int, etag: str) -> _Part:
        """The finished part a completion lists, checked against its ETag and size."""
        part = _read_part(directory, number)
        if part is None or part.md5 != etag.strip('"'):
            raise InvalidValue(f"part {number} is missing or its ETag differs", field="parts")
        if part.file is None:
            slot = _slot_size(directory)
            whole = slot is not None and _size(directory / ASSEMBLY) >= (
                (number - 1) * slot + part.size
            )
        else:
            whole = _size(directory / part.file) == part.size
        if not whole:
            raise InvalidValue(f"part {number} is incomplete: upload it again", field="parts")
        return part

    def abort_multipart(self, address: str, upload_id: str) -> None:
        try:
            directory = self._upload_dir(upload_id)
        except NotFound:
            return
        shutil.rmtree(directory, ignore_errors=True)
