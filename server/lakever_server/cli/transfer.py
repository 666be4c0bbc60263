"""Parallel uploads and downloads of many objects, with a progress bar.

Each file is one streamed request (nothing is held whole in memory); a thread pool runs
``parallelism`` of them at once over the client's shared connection pool. The progress
bar goes to stderr, only when it helps: on a terminal for long transfers, or when asked
with ``--progress``. It counts bytes as they move, so one large file shows progress too.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lakever_server.cli.errors import CliError, UsageError, from_exception
from lakever_server.cli.output import stderr_console

if TYPE_CHECKING:
    from lakever_server.cli.client import LakeClient

CHUNK = 1024 * 1024
# Worth a progress bar on a terminal: many files, or enough bytes to take a while.
LONG_TRANSFER_FILES = 20
LONG_TRANSFER_BYTES = 16 * 1024 * 1024

OnBytes = Callable[[int], None]


@dataclass(frozen=True)
class Transfer:
    """One file to move: the object key, the local file and its size if known."""

    key: str
    local: Path
    size: int = 0


@dataclass
class TransferReport:
    """What a batch did: files and bytes moved, and the failures by key."""

    files: int = 0
    bytes: int = 0
    failures: list[tuple[str, CliError]] = field(default_factory=list)

    def raise_if_failed(self, verb: str) -> None:
        if not self.failures:
            return
        key, first = self.failures[0]
        raise CliError(
            f"{len(self.failures)} of {self.files + len(self.failures)} {verb} failed; "
            f"first: {key}: {first.message}",
            first.exit_code,
            status=first.status,
        )


def wants_progress(choice: bool | None, transfers: Sequence[Transfer]) -> bool:
    """``--progress``/``--no-progress`` win; otherwise only long transfers on a terminal."""
    if choice is not None:
        return choice
    total = sum(t.size for t in transfers)
    is_long = len(transfers) >= LONG_TRANSFER_FILES or total >= LONG_TRANSFER_BYTES
    return bool(is_long and stderr_console().is_terminal)


class _Bar:
    """A byte-counting progress bar that also shows files done out of files."""

    def __init__(self, description: str, transfers: Sequence[Transfer]) -> None:
        self.files = len(transfers)
        self.done = 0
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=stderr_console(),
        )
        total = sum(t.size for t in transfers) or None
        self.task: TaskID = self.progress.add_task(description, total=total, files=self._files())

    def _files(self) -> str:
        return f"{self.done}/{self.files} files"

    def on_bytes(self, count: int) -> None:
        self.progress.advance(self.task, count)  # Progress locks internally

    def file_done(self) -> None:
        self.done += 1
        self.progress.update(self.task, files=self._files())


def _ignore(_count: int) -> None:
    return None


def run_parallel(
    transfers: Sequence[Transfer],
    action: Callable[[Transfer, OnBytes], int],
    *,
    parallelism: int,
    show_progress: bool,
    description: str,
) -> TransferReport:
    """Run ``action`` on every transfer with ``parallelism`` threads.

    ``action`` reports bytes as they move through its callback and returns the total.
    Failures are collected, not raised, so one bad file does not hide the others.
    """
    report = TransferReport()
    bar = _Bar(description, transfers) if show_progress else None
    on_bytes = bar.on_bytes if bar is not None else _ignore
    if bar is not None:
        bar.progress.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            futures = {pool.submit(action, t, on_bytes): t for t in transfers}
            for future in as_completed(futures):
                try:
                    moved = future.result()
                except Exception as exc:  # reported below, one line for the batch
                    report.failures.append((futures[future].key, from_exception(exc)))
                    continue
                report.files += 1
                report.bytes += moved
                if bar is not None:
                    bar.file_done()
    finally:
        if bar is not None:
            bar.progress.stop()
    report.failures.sort(key=lambda item: item[0])
    return report


def local_files(root: Path) -> list[tuple[str, Path]]:
    """Every regular file under ``root``, with its ``/``-separated relative path."""
    found: list[tuple[str, Path]] = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if path.is_file():
                found.append((path.relative_to(root).as_posix(), path))
    found.sort()
    return found


def safe_local_path(root: Path, relative: str) -> Path:
    """``root / relative``, refusing keys that would escape ``root`` (``..``, absolute)."""
    parts = PurePosixPath(relative).parts
    if not parts or relative.startswith("/") or any(p in ("..", ".", "") for p in parts):
        raise CliError(f"refusing to write object key {relative!r} outside {root}")
    return root.joinpath(*parts)


def _chunks(source: BinaryIO, on_bytes: OnBytes) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        on_bytes(len(chunk))
        yield chunk


def upload_one(
    client: LakeClient, repository: str, branch: str, content_type: str | None = None
) -> Callable[[Transfer, OnBytes], int]:
    """An action streaming a local file to ``key`` on ``branch``.

    The media type is ``content_type`` if given, else guessed from the key's name.
    """

    def upload(transfer: Transfer, on_bytes: OnBytes) -> int:
        size = transfer.local.stat().st_size
        media_type = (
            content_type or mimetypes.guess_type(transfer.key)[0] or "application/octet-stream"
        )
        with transfer.local.open("rb") as source:
            stats = client.put_object(
                repository,
                branch,
                transfer.key,
                _chunks(source, on_bytes),
                size=size,
                content_type=media_type,
            )
        return stats.size_bytes if stats.size_bytes is not None else size

    return upload


def download_one(
    client: LakeClient, repository: str, ref: str
) -> Callable[[Transfer, OnBytes], int]:
    """An action streaming ``key`` at ``ref`` into a local file (parents created)."""

    def download(transfer: Transfer, on_bytes: OnBytes) -> int:
        transfer.local.parent.mkdir(parents=True, exist_ok=True)
        response = client.open_object(repository, ref, transfer.key)
        return stream_to_file(response, transfer.local, on_bytes)

    return download


def stream_to_file(response: Any, destination: Path, on_bytes: OnBytes = _ignore) -> int:
    """Copy an HTTP response body to ``destination`` in chunks; an error leaves no file."""
    partial = destination.with_name(f".{destination.name}.lakever-partial")
    try:
        with partial.open("wb") as sink:
            written = stream_to(response, sink, on_bytes)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return written


def stream_to(response: Any, sink: Any, on_bytes: OnBytes = _ignore) -> int:
    """Copy an HTTP response body to a binary stream, then return the connection."""
    written = 0
    try:
        for chunk in response.stream(CHUNK):
            sink.write(chunk)
            written += len(chunk)
            on_bytes(len(chunk))
    finally:
        response.release_conn()
    return written


def ensure_directory(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)


def copy_stdin_to(path: Path, stdin: Any) -> None:
    with path.open("wb") as sink:
        shutil.copyfileobj(stdin, sink, CHUNK)
