"""The ``http.response.zerocopysend`` extension of the server's uvicorn protocol.

Each test runs uvicorn's server machinery in-process on an event loop (uvloop, as
``lakever-server run`` uses, and asyncio's own) with ``ZeroCopyHttpToolsProtocol`` and a
small ASGI app sending a file's range, and speaks HTTP/1.1 to it over a real socket with
h11, so framing, keep-alive and disconnects are checked on the wire.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import pytest
import uvicorn
import uvloop
from uvicorn.config import Config
from uvicorn.server import ServerState

from lakever_server.config import Settings
from lakever_server.serve import uvicorn_config
from lakever_server.zerocopy import ZEROCOPY_SEND, BodyIncomplete, protocol
from lakever_server.zerocopy.protocol import ZeroCopyCycle, ZeroCopyHttpToolsProtocol

LOOPS = {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
SIZE = 24 * 1024 * 1024 + 4321

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Iterator[Callable[[Awaitable[None]], None]]:
    """Runs a test's coroutine on the event loop under test."""
    with asyncio.Runner(loop_factory=LOOPS[request.param]) as runner:

        def run_test(coroutine: Awaitable[None]) -> None:
            runner.run(asyncio.wait_for(coroutine, 60))  # type: ignore[arg-type]

        yield run_test


@pytest.fixture(scope="module")
def blob(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zerocopy") / "blob.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


@dataclass
class FileApp:
    """Answers ``GET /<start>/<count>`` with that range of ``blob`` sent zero-copy."""

    blob: Path
    headers: Callable[[int], list[tuple[bytes, bytes]]] = field(
        default=lambda count: [(b"content-length", b"%d" % count)]
    )
    scopes: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.scopes.append(scope)
        start, count = (int(part) for part in scope["path"].strip("/").split("/"))
        with self.blob.open("rb") as file:
            try:
                start_message = {"type": "http.response.start", "status": 200}
                await send({**start_message, "headers": self.headers(count)})
                await send(
                    {
                        "type": ZEROCOPY_SEND,
                        "file": file,
                        "offset": start,
                        "count": count,
                        "more_body": False,
                    }
                )
                self.outcomes.append("sent")
            except Exception as error:
                self.outcomes.append(f"error: {error}")
                raise
            finally:
                self.closed.set()


@asynccontextmanager
async def serving(app: App) -> AsyncIterator[int]:
    """uvicorn's protocol stack with ``ZeroCopyHttpToolsProtocol`` on a free port."""
    config = Config(app, http=ZeroCopyHttpToolsProtocol, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: ZeroCopyHttpToolsProtocol(config, state, {}, _loop=loop), "127.0.0.1", 0
    )
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        # As uvicorn stops: requests in flight finish, then connections close.
        server.close()
        if state.tasks:
            await asyncio.wait(set(state.tasks), timeout=10)
        for connection in list(state.connections):
            connection.shutdown()
        await server.wait_closed()
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)


class Client:
    """One HTTP/1.1 connection, parsed with h11."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.http = h11.Connection(h11.CLIENT)

    @classmethod
    async def connect(cls, port: int, *, receive_buffer: int | None = None) -> Client:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=16 * 1024)
        return cls(reader, writer)

    def request_bytes(self, target: str, method: str = "GET") -> bytes:
        headers = [("host", "test")]
        request = h11.Request(method=method, target=target, headers=headers)
        return self.http.send(request) + self.http.send(h11.EndOfMessage())

    async def request(self, target: str, method: str = "GET") -> None:
        self.writer.write(self.request_bytes(target, method))
        await self.writer.drain()

    async def exchange(self, target: str, method: str = "GET") -> tuple[h11.Response, bytes]:
        """Send a request, then read its response and body."""
        await self.request(target, method)
        return await self.response()

    async def response(self) -> tuple[h11.Response, bytes]:
        """The next response and its body; the connection is then ready for another."""
        head: h11.Response | None = None
        body = bytearray()
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                self.http.receive_data(await self.reader.read(256 * 1024))
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                if self.http.our_state is h11.DONE and self.http.their_state is h11.DONE:
                    self.http.start_next_cycle()
                return head, bytes(body)
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def put_expecting_continue(self, payload: bytes) -> tuple[h11.Response, bytes]:
        """A raw PUT of ``payload`` with ``Expect: 100-continue``: the head, then the body
        only once the server answered ``100 Continue``; the final response and body."""
        head = (
            "PUT /x HTTP/1.1\r\nhost: test\r\nexpect: 100-continue\r\n"
            f"content-length: {len(payload)}\r\n\r\n"
        )
        self.writer.write(head.encode())
        await self.writer.drain()
        interim = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        assert interim.startswith(b"HTTP/1.1 100")
        self.writer.write(payload)
        await self.writer.drain()
        return await self.response()

    def abort(self) -> None:
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def raw_request(target: str) -> bytes:
    return f"GET {target} HTTP/1.1\r\nhost: test\r\n\r\n".encode()


def header(response: h11.Response, name: bytes) -> bytes | None:
    return dict(response.headers).get(name)


def test_uvicorn_is_the_version_the_protocol_was_verified_against() -> None:
    lock = (Path(__file__).parents[2] / "requirements" / "dev.lock").read_text()
    pinned = re.search(r"^uvicorn==(\S+)$", lock, re.MULTILINE)
    assert pinned is not None
    assert uvicorn.__version__ == pinned.group(1) == ZeroCopyHttpToolsProtocol.verified_with


def test_lakever_server_runs_uvicorn_with_the_zero_copy_protocol(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), listen={"host": "127.0.0.1", "port": 0})
    config = uvicorn_config(settings, FileApp(tmp_path))
    config.load()
    assert config.http_protocol_class is ZeroCopyHttpToolsProtocol


def test_the_extension_is_offered_and_a_range_arrives_byte_exact(
    run: Callable[[Awaitable[None]], None], blob: Path
) -> None:
    data = blob.read_bytes()
    app = FileApp(blob)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            response, body = await client.exchange(f"/12345/{SIZE - 12345 - 7}")
            await client.close()
        assert response.status_code == 200
        assert body == data[12345:-7]
        assert app.outcomes == ["sent"]
        assert app.scopes[0]["extensions"][ZEROCOPY_SEND] == {}

    run(scenario())


def test_a_slow_reader_is_waited_for_without_blocking_the_loop(
    run: Callable[[Awaitable[None]], None], blob: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = blob.read_bytes()
    app = FileApp(blob)
    waits = 0
    writable = ZeroCopyCycle._writable

    async def counted(cycle: ZeroCopyCycle, poll_fd: int) -> None:
        nonlocal waits
        waits += 1
        await writable(cycle, poll_fd)

    monkeypatch.setattr(ZeroCopyCycle, "_writable", counted)

    async def scenario() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1

        async with serving(app) as port:
            client = await Client.connect(port, receive_buffer=8192)
            await client.request(f"/0/{SIZE}")
            clock = asyncio.get_running_loop().create_task(ticker())
            raw = bytearray()
            while b"\r\n\r\n" not in raw:
                raw += await client.reader.read(64 * 1024)
            head, _, rest = bytes(raw).partition(b"\r\n\r\n")
            body = bytearray(rest)
            # Read slowly: the server's socket buffer fills and sendfile says EAGAIN.
            while len(body) < SIZE:
                piece = await client.reader.read(64 * 1024)
                assert piece, "the server closed the connection early"
                body += piece
                await asyncio.sleep(0.0005)
            clock.cancel()
            await client.close()
        assert head.startswith(b"HTTP/1.1 200")
        assert bytes(body) == data
        assert waits > 0
        assert ticks > 5  # the loop ran other work while the body was sent

    run(scenario())


def evicted(path: Path) -> bool:
    """Drop ``path`` from the page cache; ``False`` where it stays (e.g. tmpfs)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return not protocol._in_page_cache(fd, 0, 4096)
    finally:
        os.close(fd)


def test_pages_not_yet_read_are_sent_from_a_worker_thread(
    run: Callable[[Awaitable[None]], None], blob: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = blob.read_bytes()
    if not evicted(blob):
        pytest.skip("the file system keeps the file in memory: nothing to read from disk")
    app = FileApp(blob)
    threads = 0
    in_thread = ZeroCopyCycle._sendfile_in_thread

    async def counted(cycle: ZeroCopyCycle, fd: int, offset: int, count: int) -> int:
        nonlocal threads
        threads += 1
        return await in_thread(cycle, fd, offset, count)

    monkeypatch.setattr(ZeroCopyCycle, "_sendfile_in_thread", counted)
    # Without the read-ahead hint, which takes long enough to read the first pages.
    monkeypatch.setattr(protocol, "_can_advise", False)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            response, body = await client.exchange(f"/0/{SIZE}")
            await client.close()
        assert response.status_code == 200
        assert body == data

    run(scenario())
    assert threads > 0


def test_keep_alive_serves_the_next_request_after_a_zero_copy_body(
    run: Callable[[Awaitable[None]], None], blob: Path
) -> None:
    data = blob.read_bytes()
    app = FileApp(blob)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            for start, count in ((0, 3 * 1024 * 1024), (777, 1), (SIZE - 10, 10)):
                response, body = await client.exchange(f"/{start}/{count}")
                assert response.status_code == 200
                assert header(response, b"connection") is None
                assert body == data[start : start + count]
            # Pipelined: two requests written at once, answered in order.
            targets = ("/5/100000", f"/{SIZE - 3}/3")
            client.writer.write(b"".join(raw_request(target) for target in targets))
            for target in targets:
                client.request_bytes(target)  # h11 pairs the responses with them
                response, body = await client.response()
                start, count = (int(part) for part in target.strip("/").split("/"))
                assert body == data[start : start + count]
            await client.close()
        assert app.outcomes == ["sent"] * 5

    run(scenario())


def test_head_sends_headers_only_and_keeps_the_connection(
    run: Callable[[Awaitable[None]], None], blob: Path
) -> None:
    data = blob.read_bytes()
    app = FileApp(blob)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            response, body = await client.exchange(f"/0/{SIZE}", method="HEAD")
            assert response.status_code == 200
            assert header(response, b"content-length") == b"%d" % SIZE
            assert body == b""
            response, body = await client.exchange("/100/1000")
            assert body == data[100:1100]
            await client.close()

    run(scenario())


def test_a_chunked_response_gets_the_range_framed(
    run: Callable[[Awaitable[None]], None], blob: Path
) -> None:
    data = blob.read_bytes()
    app = FileApp(blob, headers=lambda count: [])

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            response, body = await client.exchange(f"/10/{3 * 1024 * 1024 + 5}")
            assert header(response, b"transfer-encoding") == b"chunked"
            assert body == data[10 : 10 + 3 * 1024 * 1024 + 5]
            response, body = await client.exchange("/0/0")
            assert body == b""
            await client.close()

    run(scenario())


def test_a_client_leaving_mid_body_ends_the_send_and_the_server_serves_on(
    run: Callable[[Awaitable[None]], None], blob: Path
) -> None:
    data = blob.read_bytes()
    app = FileApp(blob)

    async def scenario() -> None:
        async with serving(app) as port:
            # One reads a little then resets; one never reads, so the server waits for
            # the socket when it goes.
            for read_first in (1024 * 1024, 0):
                app.closed.clear()
                client = await Client.connect(port, receive_buffer=8192)
                await client.request(f"/0/{SIZE}")
                received = 0
                while received < read_first:
                    received += len(await client.reader.read(64 * 1024))
                await asyncio.sleep(0.05)  # let the server fill the socket and wait
                client.abort()
                await asyncio.wait_for(app.closed.wait(), 10)
            client = await Client.connect(port)
            _response, body = await client.exchange(f"/0/{SIZE}")
            assert body == data
            await client.close()
        # The send returned quietly for the clients that left (as uvicorn's own does).
        assert app.outcomes == ["sent"] * 3

    run(scenario())


def test_an_offset_left_out_reads_from_the_file_position_and_advances_it(
    run: Callable[[Awaitable[None]], None], blob: Path
) -> None:
    data = blob.read_bytes()
    positions: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        with blob.open("rb") as file:
            file.seek(SIZE - 5000)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"5000")],
                }
            )
            await send({"type": ZEROCOPY_SEND, "file": file})
            positions.append(file.tell())

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            _response, body = await client.exchange("/")
            await client.close()
        assert body == data[-5000:]
        assert positions == [SIZE]

    run(scenario())


@pytest.mark.parametrize(
    ("sent_before", "count", "error"),
    [
        pytest.param(False, 10, "Expected ASGI message 'http.response.start'", id="before-start"),
        pytest.param(True, 2000, "longer than Content-Length", id="more-than-announced"),
    ],
)
def test_misplaced_or_oversized_messages_are_refused(
    run: Callable[[Awaitable[None]], None],
    blob: Path,
    sent_before: bool,
    count: int,
    error: str,
) -> None:
    errors: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        with blob.open("rb") as file:
            if sent_before:
                start = {"type": "http.response.start", "status": 200}
                await send({**start, "headers": [(b"content-length", b"1000")]})
            try:
                await send({"type": ZEROCOPY_SEND, "file": file, "offset": 0, "count": count})
            except RuntimeError as refused:
                errors.append(str(refused))
                raise

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            await client.request("/")
            with pytest.raises(h11.RemoteProtocolError) if sent_before else nullcontext():
                response, _ = await client.response()
                assert response.status_code == 500
            await client.close()

    run(scenario())
    assert len(errors) == 1
    assert error in errors[0]


def test_a_file_shorter_than_its_count_closes_the_connection(
    run: Callable[[Awaitable[None]], None], tmp_path: Path
) -> None:
    short = tmp_path / "short.bin"
    short.write_bytes(b"x" * 1000)
    app = FileApp(short)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            await client.request("/0/5000")
            with pytest.raises(h11.RemoteProtocolError):
                await client.response()
            await client.close()
        assert len(app.outcomes) == 1
        assert "shorter" in app.outcomes[0]

    run(scenario())


async def respond(send: Any, status: int, body: bytes) -> None:
    start = {"type": "http.response.start", "status": status}
    await send({**start, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


def digest_line(payload: bytes) -> bytes:
    return f"{len(payload)} {hashlib.sha256(payload).hexdigest()}".encode()


@dataclass
class EchoApp:
    """Answers a request with the digest and size of its body, and records the sizes of
    the ``http.request`` messages it received."""

    messages: list[tuple[int, bool]] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    delay: float = 0.0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        digest, size = hashlib.sha256(), 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.ends.append("disconnect")
                return
            assert type(message["body"]) is bytes
            self.messages.append((len(message["body"]), message["more_body"]))
            digest.update(message["body"])
            size += len(message["body"])
            if self.delay:
                await asyncio.sleep(self.delay)  # a slow consumer: the socket backs up
            if not message["more_body"]:
                break
        self.ends.append("complete")
        await respond(send, 200, f"{size} {digest.hexdigest()}".encode())


def test_a_request_body_sent_in_many_pieces_arrives_whole_and_in_order(
    run: Callable[[Awaitable[None]], None],
) -> None:
    payload = os.urandom(12 * 1024 * 1024 + 77)
    app = EchoApp(delay=0.002)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            headers = [("host", "test"), ("content-length", str(len(payload)))]
            put = h11.Request(method="PUT", target="/x", headers=headers)
            client.writer.write(client.http.send(put))
            for at in range(0, len(payload), 50_000):  # odd-sized writes
                client.writer.write(client.http.send(h11.Data(data=payload[at : at + 50_000])))
                await client.writer.drain()
            client.writer.write(client.http.send(h11.EndOfMessage()))
            response, body = await client.response()
            # The connection stays usable for the next request.
            second, empty_digest = await client.exchange("/again", method="POST")
            await client.close()
        assert response.status_code == 200
        assert body == digest_line(payload)
        assert second.status_code == 200
        assert empty_digest == digest_line(b"")

    run(scenario())
    first = app.messages[:-1]
    assert sum(size for size, _ in first) == len(payload)
    assert [more for _, more in first] == [True] * (len(first) - 1) + [False]
    # Bounded: never much more than the high-water mark handed over at once.
    assert max(size for size, _ in first) <= protocol.BODY_HIGH_WATER + 512 * 1024
    # ... and read ahead well past uvicorn's own 64 KiB while the app was busy.
    assert max(size for size, _ in first) > 320 * 1024
    assert app.ends == ["complete", "complete"]


def put_expecting_continue(run: Callable[[Awaitable[None]], None], app: Any, size: int) -> None:
    """PUT ``size`` random bytes to ``app`` with ``Expect: 100-continue``; the server must
    answer 100 before the body is sent, then 200 with the body's digest."""
    payload = os.urandom(size)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            response, body = await client.put_expecting_continue(payload)
            await client.close()
        assert response.status_code == 200
        assert body == digest_line(payload)

    run(scenario())


def test_expect_100_continue_is_answered_before_the_body_is_read(
    run: Callable[[Awaitable[None]], None],
) -> None:
    put_expecting_continue(run, EchoApp(), 300_000)


def test_a_client_leaving_mid_upload_gives_the_app_a_disconnect(
    run: Callable[[Awaitable[None]], None],
) -> None:
    app = EchoApp()

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            head = "PUT /x HTTP/1.1\r\nhost: test\r\ncontent-length: 10000000\r\n\r\n"
            client.writer.write(head.encode() + os.urandom(2_000_000))
            await client.writer.drain()
            deadline = asyncio.get_running_loop().time() + 10
            while not app.messages and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            client.abort()
            while not app.ends and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            # The server serves the next connection.
            other = await Client.connect(port)
            await other.request("/next", method="POST")
            response, _ = await other.response()
            await other.close()
        assert response.status_code == 200

    run(scenario())
    assert app.ends[0] == "disconnect"
    assert 0 < sum(size for size, _ in app.messages[:-1]) < 10_000_000


@dataclass
class ReaderApp:
    """Reads a request body with ``ZEROCOPY_RECEIVE`` in a worker thread when the scope
    offers it (through ``receive`` otherwise) and answers with its size and digest;
    a body that ends early is answered 400."""

    offered: list[bool] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        offer = (scope.get("extensions") or {}).get(protocol.ZEROCOPY_RECEIVE)
        self.offered.append(offer is not None)
        if offer is None:
            parts = []
            while True:
                message = await receive()
                assert message["type"] == "http.request"
                parts.append(message["body"])
                if not message["more_body"]:
                    break
            data = b"".join(parts)
        else:
            reader = offer["open"]()
            assert reader.length == offer["length"]
            try:
                data = await asyncio.get_running_loop().run_in_executor(None, read_all, reader)
            except BodyIncomplete as error:
                self.outcomes.append(f"incomplete: {error}")
                await respond(send, 400, b"incomplete")
                return
            finally:
                reader.close()
            end = await receive()  # the end of the body, as receive gives it
            assert end == {"type": "http.request", "body": b"", "more_body": False}
        self.outcomes.append("read")
        await respond(send, 200, digest_line(data))


def read_all(reader: Any) -> bytes:
    """The reader's bytes, read into one reused buffer of an odd size."""
    buffer = memoryview(bytearray(3 * 1024 * 1024 + 5))
    out = bytearray()
    while count := reader.readinto(buffer):
        out += buffer[:count]
    assert reader.readinto(buffer) == 0
    return bytes(out)


async def closed_by_server(client: Client) -> bool:
    """Whether the server closes the connection (its end of file arrives)."""
    rest = await asyncio.wait_for(client.reader.read(), 10)
    return rest == b""


def test_a_large_body_is_read_into_the_app_buffers_from_parsed_pieces_and_the_socket(
    run: Callable[[Awaitable[None]], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = os.urandom(20 * 1024 * 1024 + 4099)
    app = ReaderApp()
    sources = {"pieces": 0, "socket": 0}
    copy_piece, receive_socket = (
        protocol.SocketBodyReader._copy_piece,
        protocol.SocketBodyReader._receive,
    )

    def counted_piece(reader: protocol.SocketBodyReader, view: memoryview) -> int:
        count = copy_piece(reader, view)
        sources["pieces"] += count
        return count

    def counted_socket(reader: protocol.SocketBodyReader, view: memoryview) -> int:
        count = receive_socket(reader, view)
        sources["socket"] += count
        return count

    monkeypatch.setattr(protocol.SocketBodyReader, "_copy_piece", counted_piece)
    monkeypatch.setattr(protocol.SocketBodyReader, "_receive", counted_socket)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            headers = [("host", "test"), ("content-length", str(len(payload)))]
            head = client.http.send(h11.Request(method="PUT", target="/x", headers=headers))
            # The head and the start of the body in one write: parsed with the head.
            client.writer.write(head + payload[:300_000])
            await client.writer.drain()
            for at in range(300_000, len(payload), 1_000_000):
                client.writer.write(payload[at : at + 1_000_000])
                await client.writer.drain()
            response, body = await client.response()
            assert header(response, b"connection") == b"close"
            assert await closed_by_server(client)
            await client.close()
        assert response.status_code == 200
        assert body == digest_line(payload)

    run(scenario())
    assert app.offered == [True]
    assert sources["pieces"] > 0
    assert sources["socket"] > 0
    assert sources["pieces"] + sources["socket"] == len(payload)


def test_a_body_reader_answers_expect_100_continue_before_reading(
    run: Callable[[Awaitable[None]], None],
) -> None:
    app = ReaderApp()
    put_expecting_continue(run, app, protocol.READINTO_AFTER + 12345)
    assert app.offered == [True]


@pytest.mark.parametrize("ending", ["reset", "close", "silence"])
def test_a_client_that_leaves_or_goes_quiet_mid_body_fails_the_read_and_the_server_serves_on(
    run: Callable[[Awaitable[None]], None], monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    monkeypatch.setattr(protocol, "READ_IDLE_TIMEOUT", 1.0)
    app = ReaderApp()
    payload = os.urandom(10_000_000)

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            head = f"PUT /x HTTP/1.1\r\nhost: test\r\ncontent-length: {len(payload)}\r\n\r\n"
            client.writer.write(head.encode() + payload[:3_000_000])
            await client.writer.drain()
            if ending == "silence":
                # Still connected, sending nothing: answered once the reader gives up,
                # and the connection closed after the answer.
                response, body = await client.response()
                assert (response.status_code, body) == (400, b"incomplete")
                assert await closed_by_server(client)
            elif ending == "reset":
                client.abort()
            else:
                client.writer.write_eof()
            deadline = asyncio.get_running_loop().time() + 10
            while not app.outcomes and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            await client.close()
            other = await Client.connect(port)
            response, body = await other.exchange("/next", method="POST")
            await other.close()
        assert response.status_code == 200
        assert body == digest_line(b"")

    run(scenario())
    assert app.offered == [True, False]
    assert app.outcomes[0].startswith("incomplete")
    assert app.outcomes[1:] == ["read"]


@pytest.mark.parametrize("kind", ["small", "chunked"])
def test_small_and_chunked_bodies_are_not_offered_a_reader_and_keep_the_connection(
    run: Callable[[Awaitable[None]], None], kind: str
) -> None:
    payload = os.urandom(protocol.READINTO_AFTER - 1 if kind == "small" else 5_000_000)
    app = ReaderApp()

    async def scenario() -> None:
        async with serving(app) as port:
            client = await Client.connect(port)
            headers = [("host", "test")]
            if kind == "small":
                headers.append(("content-length", str(len(payload))))
            else:
                headers.append(("transfer-encoding", "chunked"))
            put = h11.Request(method="PUT", target="/x", headers=headers)
            client.writer.write(client.http.send(put))
            for at in range(0, len(payload), 1_000_000):
                client.writer.write(client.http.send(h11.Data(data=payload[at : at + 1_000_000])))
            client.writer.write(client.http.send(h11.EndOfMessage()))
            await client.writer.drain()
            response, body = await client.response()
            assert header(response, b"connection") is None
            second, empty = await client.exchange("/again", method="POST")
            await client.close()
        assert response.status_code == 200
        assert body == digest_line(payload)
        assert (second.status_code, empty) == (200, digest_line(b""))

    run(scenario())
    assert app.offered == [False, False]
