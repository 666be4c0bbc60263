"""The WebHDFS REST operations Hadoop's ``WebHdfsFileSystem`` (and Spark on it) uses.

``OPEN``, ``GETFILECHECKSUM``, ``CREATE`` and ``APPEND`` answer the first request with a
``307`` to the same URL plus ``data=true``, as a NameNode redirects to a DataNode; the
client then sends (or reads) the bytes there.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from lakever_server import errors
from lakever_server.catalog.models import Entry
from lakever_server.gateway.context import run_with_request_reader
from lakever_server.storage.block.base import BodyReader
from lakever_server.webhdfs.errors import ILLEGAL_ARGUMENT, WebHdfsError
from lakever_server.webhdfs.namespace import FileStatus, Location, Namespace, parse_location
from lakever_server.webhdfs.oauth import Caller
from lakever_server.webhdfs.responses import HadoopJSONResponse
from lakever_server.zerocopy.response import BlobResponse

BLOCK_SIZE = 128 * 1024 * 1024
GROUP = "lakever"


@dataclass
class WebHdfsRequest:
    http: Request
    namespace: Namespace
    location: Location
    caller: Caller
    params: dict[str, str]

    @property
    def user(self) -> str:
        return self.caller.user

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn`` in a worker thread, after (and in the same hop as) authentication."""
        return await self.caller.call(fn, *args, **kwargs)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        return default if value is None else value.lower() == "true"

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.params.get(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise errors.InvalidValue(f"Invalid value for webhdfs parameter {name!r}") from None


def file_status_json(status: FileStatus, user: str) -> dict[str, Any]:
    return {
        "accessTime": status.mtime_ms,
        "blockSize": 0 if status.is_dir else BLOCK_SIZE,
        "childrenNum": 0,
        "fileId": 0,
        "group": GROUP,
        "length": status.length,
        "modificationTime": status.mtime_ms,
        "owner": user,
        "pathSuffix": status.name,
        "permission": "755" if status.is_dir else "644",
        "replication": 0 if status.is_dir else 1,
        "storagePolicy": 0,
        "type": "DIRECTORY" if status.is_dir else "FILE",
    }


def boolean(value: bool) -> HadoopJSONResponse:
    return HadoopJSONResponse({"boolean": value})


def redirect(request: WebHdfsRequest) -> Response:
    """Step one of a two-step operation: point the client at the data URL."""
    url = str(request.http.url)
    location = f"{url}{'&' if '?' in url else '?'}data=true"
    if request.flag("noredirect"):
        return HadoopJSONResponse({"Location": location})
    return Response(status_code=307, headers={"Location": location, "Content-Length": "0"})


# -- GET --------------------------------------------------------------------------------
async def get_file_status(request: WebHdfsRequest) -> Response:
    status = await request.call(request.namespace.status, request.location)
    return HadoopJSONResponse({"FileStatus": file_status_json(status, request.user)})


async def list_status(request: WebHdfsRequest) -> Response:
    listed, _ = await request.call(request.namespace.list_children, request.location)
    statuses = [file_status_json(s, request.user) for s in listed]
    return HadoopJSONResponse({"FileStatuses": {"FileStatus": statuses}})


async def list_status_batch(request: WebHdfsRequest) -> Response:
    listed, more = await request.call(
        request.namespace.list_children,
        request.location,
        start_after=request.params.get("startAfter", ""),
        limit=1000,
    )
    statuses = [file_status_json(s, request.user) for s in listed]
    return HadoopJSONResponse(
        {
            "DirectoryListing": {
                "partialListing": {"FileStatuses": {"FileStatus": statuses}},
                "remainingEntries": 1 if more else 0,
            }
        }
    )


async def open_file(request: WebHdfsRequest) -> Response:
    if not request.flag("data"):
        return redirect(request)
    loc = request.location
    entry: Entry = await request.call(
        request.namespace.catalog.get_entry, loc.repository, loc.ref, loc.path
    )
    offset = request.integer("offset", 0) or 0
    length = request.integer("length")
    if offset < 0 or offset > entry.size_bytes:
        raise errors.InvalidValue(f"offset {offset} is outside the file ({entry.size_bytes})")
    end = entry.size_bytes if length is None else min(entry.size_bytes, offset + length)
    headers = {"Content-Length": str(end - offset)}
    if end == offset:
        return Response(b"", media_type="application/octet-stream", headers=headers)
    stream: Iterator[bytes] = await request.call(
        request.namespace.catalog.open_entry, entry, start=offset, end=end
    )
    return BlobResponse(stream, media_type="application/octet-stream", headers=headers)


async def get_file_checksum(request: WebHdfsRequest) -> Response:
    """An ``MD5MD5CRC32FileChecksum``-shaped checksum derived from the object's ETag:
    equal for equal content written the same way, which is what ``distcp -update`` and
    friends compare."""
    if not request.flag("data"):
        return redirect(request)
    loc = request.location
    entry: Entry = await request.call(
        request.namespace.catalog.get_entry, loc.repository, loc.ref, loc.path
    )
    digest = hashlib.md5(entry.checksum.encode()).digest()
    payload = struct.pack(">iq", 512, 0) + digest
    return HadoopJSONResponse(
        {
            "FileChecksum": {
                "algorithm": "MD5-of-0MD5-of-512CRC32C",
                "bytes": payload.hex(),
                "length": len(payload),
            }
        }
    )


async def get_home_directory(request: WebHdfsRequest) -> Response:
    user = await request.caller.authenticate()
    return HadoopJSONResponse({"Path": f"/user/{user}"})


async def get_content_summary(request: WebHdfsRequest) -> Response:
    directories, files, length = await request.call(request.namespace.summary, request.location)
    return HadoopJSONResponse(
        {
            "ContentSummary": {
                "directoryCount": directories,
                "fileCount": files,
                "length": length,
                "quota": -1,
                "spaceConsumed": length,
                "spaceQuota": -1,
                "typeQuota": {},
            }
        }
    )


async def get_file_block_locations(request: WebHdfsRequest) -> Response:
    """One block per object, "hosted" by this server, so split planning works."""
    status: FileStatus = await request.call(request.namespace.status, request.location)
    host = request.http.url.hostname or "localhost"
    port = request.http.url.port or 80
    locations = []
    if not status.is_dir and status.length:
        locations.append(
            {
                "cachedHosts": [],
                "corrupt": False,
                "hosts": [host],
                "length": status.length,
                "names": [f"{host}:{port}"],
                "offset": 0,
                "storageTypes": ["DISK"],
                "topologyPaths": [f"/default-rack/{host}:{port}"],
            }
        )
    return HadoopJSONResponse({"BlockLocations": {"BlockLocation": locations}})


async def get_server_defaults(request: WebHdfsRequest) -> Response:
    return HadoopJSONResponse(
        {
            "FsServerDefaults": {
                "blockSize": BLOCK_SIZE,
                "bytesPerChecksum": 512,
                "writePacketSize": 65536,
                "replication": 1,
                "fileBufferSize": 4096,
                "encryptDataTransfer": False,
                "trashInterval": 0,
                "checksumType": "CRC32C",
                "keyProviderUri": "",
                "defaultStoragePolicyId": 7,
            }
        }
    )


async def get_trash_root(request: WebHdfsRequest) -> Response:
    user = await request.caller.authenticate()
    return HadoopJSONResponse({"Path": f"/user/{user}/.Trash"})


async def get_acl_status(request: WebHdfsRequest) -> Response:
    status: FileStatus = await request.call(request.namespace.status, request.location)
    permission = "755" if status.is_dir else "644"
    return HadoopJSONResponse(
        {
            "AclStatus": {
                "entries": [],
                "group": GROUP,
                "owner": request.user,
                "permission": permission,
                "stickyBit": False,
            }
        }
    )


async def check_access(request: WebHdfsRequest) -> Response:
    await request.call(request.namespace.status, request.location)
    return Response(status_code=200)


async def get_xattrs(request: WebHdfsRequest) -> Response:
    return HadoopJSONResponse({"XAttrs": []})


# -- PUT, POST, DELETE ------------------------------------------------------------------
async def create(request: WebHdfsRequest) -> Response:
    if not request.flag("data"):
        return redirect(request)
    overwrite = request.flag("overwrite")
    await request.caller.authenticate()  # before any of the body is read

    def write(body: Iterator[bytes] | BodyReader) -> Entry:
        return request.namespace.create(request.location, body, overwrite=overwrite)

    await run_with_request_reader(request.http, write)
    location = f"webhdfs://{request.http.url.netloc}{request.location}"
    return Response(status_code=201, headers={"Location": location, "Content-Length": "0"})


async def append(request: WebHdfsRequest) -> Response:
    if not request.flag("data"):
        return redirect(request)
    await request.caller.authenticate()  # before any of the body is read

    def write(body: Iterator[bytes] | BodyReader) -> Entry:
        return request.namespace.append(request.location, body)

    await run_with_request_reader(request.http, write)
    return Response(status_code=200, headers={"Content-Length": "0"})


async def mkdirs(request: WebHdfsRequest) -> Response:
    await request.call(request.namespace.mkdirs, request.location)
    return boolean(True)


async def rename(request: WebHdfsRequest) -> Response:
    destination = request.params.get("destination")
    if not destination:
        raise errors.InvalidValue("RENAME needs a destination")
    target = parse_location(destination)
    return boolean(await request.call(request.namespace.rename, request.location, target))


async def delete(request: WebHdfsRequest) -> Response:
    recursive = request.flag("recursive")
    deleted = await request.call(request.namespace.delete, request.location, recursive=recursive)
    return boolean(deleted)


async def accept_unchanged(request: WebHdfsRequest) -> Response:
    """Permissions, owners, times and replication do not apply to objects: accepted."""
    await request.call(request.namespace.status, request.location)
    if request.params.get("op", "").upper() == "SETREPLICATION":
        return boolean(True)
    return Response(status_code=200)


Operation = Callable[[WebHdfsRequest], Awaitable[Response]]

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "GETFILESTATUS"): get_file_status,
    ("GET", "LISTSTATUS"): list_status,
    ("GET", "LISTSTATUS_BATCH"): list_status_batch,
    ("GET", "OPEN"): open_file,
    ("GET", "GETFILECHECKSUM"): get_file_checksum,
    ("GET", "GETHOMEDIRECTORY"): get_home_directory,
    ("GET", "GETCONTENTSUMMARY"): get_content_summary,
    ("GET", "GETFILEBLOCKLOCATIONS"): get_file_block_locations,
    ("GET", "GETSERVERDEFAULTS"): get_server_defaults,
    ("GET", "GETTRASHROOT"): get_trash_root,
    ("GET", "GETACLSTATUS"): get_acl_status,
    ("GET", "CHECKACCESS"): check_access,
    ("GET", "GETXATTRS"): get_xattrs,
    ("PUT", "CREATE"): create,
    ("PUT", "MKDIRS"): mkdirs,
    ("PUT", "RENAME"): rename,
    ("PUT", "SETPERMISSION"): accept_unchanged,
    ("PUT", "SETOWNER"): accept_unchanged,
    ("PUT", "SETTIMES"): accept_unchanged,
    ("PUT", "SETREPLICATION"): accept_unchanged,
    ("POST", "APPEND"): append,
    ("DELETE", "DELETE"): delete,
}


def choose(method: str, op: str) -> Operation:
    operation = OPERATIONS.get((method, op.upper()))
    if operation is None:
        # Hadoop's client recognises this exact message and falls back where it can.
        raise WebHdfsError(ILLEGAL_ARGUMENT, f'Invalid value for webhdfs parameter "op": {op}')
    return operation
