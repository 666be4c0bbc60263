"""Parallel uploads and downloads of many objects, with a progress bar.

Each file is one request; a thread pool runs ``parallelism`` of them at once over the
client's shared connection pool. The progress bar goes to stderr, only when it helps:
on a terminal for long transfers, or when asked with ``--progress``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from lakever_server.cli.client import LakeClient
from lakever_server.cli.errors import CliError, UsageError, from_exception
from lakever_server.cli.output import stderr_console

CHUNK = 1024 * 1024
# Worth a progress bar on a terminal: many files, or enough bytes to take a while.
LONG_TRANSFER_FILES = 20
LONG_TRANSFER_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Transfer:
    """One file to move: the object key and the local file."""

    key: str
    local: Path
    size: int = 0


@dataclass
class TransferReport:
    """What a batch did: files and bytes moved, and the failures."""

    files: int = 0
    bytes: int = 0
    failures: list[tuple[str, CliError]] | None = None

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
    console = stderr_console()
    long = (
        len(transfers) >= LONG_TRANSFER_FILES
        or sum(t.size for t in transfers) >= LONG_TRANSFER_BYTES
    )
    return bool(console.is_terminal and long)


def _progress(total_bytes: int) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        DownloadColumn() if total_bytes else TextColumn(""),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=False,
    )


def run_parallel(
    transfers: Sequence[Transfer],
    action: Callable[[Transfer], int],
    *,
    parallelism: int,
    show_progress: bool,
    description: str,
) -> TransferReport:
    """Run ``action`` on every transfer with ``parallelism`` threads.

    ``action`` returns the bytes it moved. Failures are collected, not raised, so one
    bad file does not hide the others.
    """
    report = TransferReport(failures=[])
    failures: list[tuple[str, CliError]] = []
    progress = _progress(sum(t.size for t in transfers)) if show_progress else None
    task = progress.add_task(description, total=len(transfers)) if progress else None
    if progress is not None:
        progress.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            futures = {pool.submit(action, t): t for t in transfers}
            for future in as_completed(futures):
                transfer = futures[future]
                try:
                    moved = future.result()
                except Exception as exc:  # one line per failed file, reported below
                    failures.append((transfer.key, from_exception(exc)))
                    continue
                report.files += 1
                report.bytes += moved
                if progress is not None and task is not None:
                    progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()
    failures.sort(key=lambda item: item[0])
    report.failures = failures
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


def upload_one(client: LakeClient, repository: str, branch: str) -> Callable[[Transfer], int]:
    """An action uploading a local file to ``key`` on ``branch``."""

    def upload(transfer: Transfer) -> int:
        # The SDK reads the file itself when given its path (multipart "content").
        stats = client.objects.upload_object(
            repository, branch, transfer.key, content=str(transfer.local)
        )
        size: int = stats.size_bytes if stats.size_bytes is not None else transfer.size
        return size

    return upload


def download_one(client: LakeClient, repository: str, ref: str) -> Callable[[Transfer], int]:
    """An action streaming ``key`` at ``ref`` into a local file (parents created)."""

    def download(transfer: Transfer) -> int:
        transfer.local.parent.mkdir(parents=True, exist_ok=True)
        return stream_to_file(client.open_object(repository, ref, transfer.key), transfer.local)

    return download


def stream_to_file(response: Any, destination: Path) -> int:
    """Copy an HTTP response body to ``destination`` in chunks; an error leaves no file."""
    partial = destination.with_name(f".{destination.name}.lakever-partial")
    try:
        with partial.open("wb") as sink:
            written = stream_to(response, sink)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return written


def stream_to(response: Any, sink: Any) -> int:
    """Copy an HTTP response body to a binary stream, then return the connection."""
    written = 0
    try:
        for chunk in response.stream(CHUNK):
            sink.write(chunk)
            written += len(chunk)
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
