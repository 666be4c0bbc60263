"""``lakever fs ls|cat|stat|upload|download|rm``: objects under ``lakefs://repo/ref/path``."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakever_server.cli.commands.common import YesOption, confirm
from lakever_server.cli.completion import complete_uri
from lakever_server.cli.errors import CliError, ExitCode, UsageError
from lakever_server.cli.output import (
    OutputFormat,
    emit_message,
    emit_record,
    emit_rows,
    format_size,
    format_time,
)
from lakever_server.cli.paging import paginate
from lakever_server.cli.state import CliState, OutputOption, state_of
from lakever_server.cli.transfer import (
    OnBytes,
    Transfer,
    copy_stdin_to,
    download_one,
    ensure_directory,
    local_files,
    run_parallel,
    safe_local_path,
    stream_to,
    upload_one,
    wants_progress,
)
from lakever_server.cli.uri import LakeUri, parse_path

if TYPE_CHECKING:
    from lakever_server.cli.client import LakeClient

app = typer.Typer(help="List, read, upload, download and remove objects.", no_args_is_help=True)

PathArg = Annotated[
    str,
    typer.Argument(
        help="lakefs://<repository>/<ref>/<path>", metavar="PATH_URI", autocompletion=complete_uri
    ),
]
RecursiveOption = Annotated[
    bool, typer.Option("--recursive", "-R", help="Every object under the path, as a directory.")
]
ProgressOption = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress", help="Progress bar (default: long transfers on a terminal)."
    ),
]
DELETE_BATCH = 1000


def _stat_row(item: Any) -> dict[str, Any]:
    row: dict[str, Any] = item.to_dict()
    row["modified"] = format_time(item.mtime)
    row["size"] = format_size(item.size_bytes)
    return row


def _as_prefix(path: str) -> str:
    return path if not path or path.endswith("/") else path + "/"


def list_keys(client: LakeClient, uri: LakeUri, prefix: str, *, delimiter: str | None) -> list[Any]:
    api = client.objects
    return list(
        paginate(
            lambda after: api.list_objects(
                uri.repository,
                uri.ref_or_fail,
                after=after,
                amount=1000,
                prefix=prefix,
                delimiter=delimiter,
            )
        )
    )


@app.command("ls")
def ls(
    ctx: typer.Context,
    uri: PathArg,
    recursive: RecursiveOption = False,
    output: OutputOption = None,
) -> None:
    """List objects and common prefixes ("directories") under a path."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_path(uri)
    items = list_keys(
        state.client, target, _as_prefix(target.path or ""), delimiter=None if recursive else "/"
    )
    rows = [
        _stat_row(i) if i.path_type == "object" else {"path": i.path, "path_type": i.path_type}
        for i in items
    ]
    emit_rows(rows, ("path_type", "modified", "size", "path"), fmt)


@app.command("stat")
def stat(ctx: typer.Context, uri: PathArg, output: OutputOption = None) -> None:
    """Show an object's size, checksum, content type, time and metadata."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_path(uri, require_path=True)
    item = state.client.objects.stat_object(
        target.repository, target.ref_or_fail, target.path or "", user_metadata=True
    )
    row = _stat_row(item)
    keys = (
        "path",
        "modified",
        "size",
        "size_bytes",
        "checksum",
        "content_type",
        "physical_address",
        "metadata",
    )
    emit_record(row, fmt, keys=None if fmt is OutputFormat.JSON else keys)


@app.command("cat")
def cat(ctx: typer.Context, uri: PathArg, output: OutputOption = None) -> None:
    """Write an object's content to stdout (``--output`` shapes errors only)."""
    state = state_of(ctx)
    state.fmt(output)
    target = parse_path(uri, require_path=True)
    response = state.client.open_object(target.repository, target.ref_or_fail, target.path or "")
    stream_to(response, sys.stdout.buffer)
    sys.stdout.flush()


@app.command("upload")
def upload(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Local file or directory; - for stdin.")],
    uri: Annotated[
        str,
        typer.Argument(
            help="lakefs://<repository>/<branch>/<path>",
            metavar="PATH_URI",
            autocompletion=complete_uri,
        ),
    ],
    recursive: RecursiveOption = False,
    content_type: Annotated[
        str | None,
        typer.Option("--content-type", help="Media type of every file (default: from its name)."),
    ] = None,
    progress: ProgressOption = None,
    output: OutputOption = None,
) -> None:
    """Upload a file, stdin, or (with -R) a directory tree in parallel."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_path(uri)
    with ExitStack() as cleanup:
        transfers = _upload_transfers(source, target.path or "", recursive, cleanup)
        where = (
            LakeUri(target.repository, target.ref, transfers[0].key)
            if len(transfers) == 1
            else target
        )
        _transfer_all(
            state,
            transfers,
            upload_one(state.client, target.repository, target.ref_or_fail, content_type),
            verb=("upload", "Uploaded"),
            destination=str(where),
            progress=progress,
            fmt=fmt,
        )


def _upload_transfers(
    source: str, path: str, recursive: bool, cleanup: ExitStack
) -> list[Transfer]:
    """What ``upload`` moves; stdin is first spooled to a file that ``cleanup`` removes."""
    if source == "-":
        if not path or path.endswith("/"):
            raise UsageError("uploading stdin needs a full object path in the URI")
        tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="lakever-"))
        local = Path(tmp) / Path(path).name
        copy_stdin_to(local, sys.stdin.buffer)
        return [Transfer(path, local, local.stat().st_size)]
    local_root = Path(source)
    if local_root.is_dir():
        if not recursive:
            raise UsageError(f"{source} is a directory: pass --recursive to upload it")
        prefix = _as_prefix(path)
        return [
            Transfer(prefix + rel, file, file.stat().st_size)
            for rel, file in local_files(local_root)
        ]
    if local_root.is_file():
        key = path + local_root.name if not path or path.endswith("/") else path
        return [Transfer(key, local_root, local_root.stat().st_size)]
    raise UsageError(f"{source}: no such file or directory")


def _transfer_all(
    state: CliState,
    transfers: list[Transfer],
    action: Callable[[Transfer, OnBytes], int],
    *,
    verb: tuple[str, str],
    destination: str,
    progress: bool | None,
    fmt: OutputFormat,
) -> None:
    """Run ``transfers`` in parallel (with a progress bar when wanted), then confirm.

    Args:
        verb: the verb and its past form, as in ``("upload", "Uploaded")``.
        destination: where the objects went, for the confirmation.

    Raises:
        CliError: any transfer failed (its exit code is the first failure's).
    """
    name, past = verb
    report = run_parallel(
        transfers,
        action,
        parallelism=state.parallelism,
        show_progress=wants_progress(progress, transfers),
        description=name,
    )
    report.raise_if_failed(f"{name}s")
    emit_message(
        f"{past} {report.files} object(s), {format_size(report.bytes)} to {destination}",
        fmt,
        objects=report.files,
        bytes=report.bytes,
    )


@app.command("download")
def download(
    ctx: typer.Context,
    uri: PathArg,
    destination: Annotated[
        str, typer.Argument(help="Local file or directory; - for stdout.")
    ] = ".",
    recursive: RecursiveOption = False,
    progress: ProgressOption = None,
    output: OutputOption = None,
) -> None:
    """Download an object, or (with -R) every object under a path, in parallel."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_path(uri)
    client = state.client
    path = target.path or ""
    if recursive:
        prefix = _as_prefix(path)
        root = Path(destination)
        ensure_directory(root)
        items = list_keys(client, target, prefix, delimiter=None)
        transfers = [
            Transfer(i.path, safe_local_path(root, i.path[len(prefix) :]), i.size_bytes or 0)
            for i in items
            if i.path_type == "object"
        ]
        if not transfers:
            raise CliError(f"no objects under {target}", ExitCode.NOT_FOUND)
    else:
        if not path or path.endswith("/"):
            raise UsageError(f"{uri} names a prefix: pass --recursive to download it")
        if destination == "-":
            stream_to(
                client.open_object(target.repository, target.ref_or_fail, path), sys.stdout.buffer
            )
            sys.stdout.flush()
            return
        local = Path(destination)
        if local.is_dir() or destination.endswith("/"):
            local = local / Path(path).name
        stats = client.objects.stat_object(target.repository, target.ref_or_fail, path)
        transfers = [Transfer(path, local, stats.size_bytes or 0)]
    _transfer_all(
        state,
        transfers,
        download_one(client, target.repository, target.ref_or_fail),
        verb=("download", "Downloaded"),
        destination=destination,
        progress=progress,
        fmt=fmt,
    )


@app.command("rm")
def rm(
    ctx: typer.Context,
    uri: PathArg,
    recursive: RecursiveOption = False,
    yes: YesOption = False,
    output: OutputOption = None,
) -> None:
    """Remove an object, or (with -R) every object under a path, from a branch."""
    state = state_of(ctx)
    fmt = state.fmt(output)
    target = parse_path(uri)
    client = state.client
    path = target.path or ""
    if not recursive:
        if not path or path.endswith("/"):
            raise UsageError(f"{uri} names a prefix: pass --recursive to remove under it")
        client.objects.delete_object(target.repository, target.ref_or_fail, path)
        emit_message(f"Removed {target}", fmt, objects=1)
        return
    keys = [
        i.path
        for i in list_keys(client, target, _as_prefix(path), delimiter=None)
        if i.path_type == "object"
    ]
    confirm(f"Remove {len(keys)} object(s) under {target}?", yes or not keys)
    from lakefs_sdk.models.path_list import PathList

    failed: list[str] = []
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        result = client.objects.delete_objects(
            target.repository, target.ref_or_fail, PathList.from_dict({"paths": batch})
        )
        failed += [f"{e.path}: {e.message}" for e in (result.errors or [])]
    if failed:
        raise CliError(f"{len(failed)} of {len(keys)} removals failed; first: {failed[0]}")
    emit_message(f"Removed {len(keys)} object(s) under {target}", fmt, objects=len(keys))
