"""Streaming request bodies into the (synchronous) catalog, and ``Range`` parsing.

The catalog takes an ``Iterable[bytes]`` and runs in a worker thread; the request body is
an async stream on the event loop. ``feed_thread`` bridges them one batch at a time, so
an upload of any size holds at most one batch (``BATCH_BYTES``) in memory.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from lakever_server.errors import InvalidValue, RangeNotSatisfiable

T = TypeVar("T")
BATCH_BYTES = 1024 * 1024
PREFETCH_BATCHES = 4


async def _next_batch(chunks: AsyncIterator[bytes], limit: list[int]) -> bytes | None:
    """Up to ``BATCH_BYTES`` from the stream; ``None`` at its end."""
    parts: list[bytes] = []
    size = 0
    try:
        while size < BATCH_BYTES:
            chunk = await chunks.__anext__()
            parts.append(chunk)
            size += len(chunk)
    except StopAsyncIteration:
        if not parts:
            return None
    except ClientDisconnect as err:
        raise InvalidValue("client disconnected during upload") from err
    limit[0] -= size
    if limit[0] < 0:
        raise InvalidValue("object larger than the configured maximum", field="content")
    return b"".join(parts)


@dataclass(frozen=True)
class _Failed:
    """Put in the batch queue when reading the body failed: the consumer must not see a
    clean end of data (it would store a truncated object)."""

    error: BaseException


async def feed_thread(
    consume: Callable[[Iterable[bytes]], T], chunks: AsyncIterator[bytes], max_bytes: int
) -> T:
    """Run ``consume(iterable)`` in a worker thread, fed from the async ``chunks``.

    The event loop reads ahead up to ``PREFETCH_BATCHES`` batches while the thread
    hashes and writes, so network and disk work overlap with bounded memory.
    """
    send, receive = anyio.create_memory_object_stream[bytes | _Failed](PREFETCH_BATCHES)
    remaining = [max_bytes]

    async def produce() -> None:
        async with send:
            try:
                while (batch := await _next_batch(chunks, remaining)) is not None:
                    await send.send(batch)
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as err:
                await send.send(_Failed(err))

    def pull() -> Iterator[bytes]:
        while True:
            try:
                item = anyio.from_thread.run(receive.receive)
            except anyio.EndOfStream:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item

    outcome: list[T] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as group:
        group.start_soon(produce)
        try:
            outcome.append(await anyio.to_thread.run_sync(consume, pull()))
        except Exception as err:
            failure.append(err)
        finally:
            group.cancel_scope.cancel()
            receive.close()
    if failure:
        raise failure[0]
    return outcome[0]


@dataclass
class MultipartField:
    """The bytes of one named field of a ``multipart/form-data`` body, streamed.

    ``content_type`` is known once the first chunk has been yielded (part headers come
    before data).
    """

    body: AsyncIterator[bytes]
    boundary: bytes
    name: str
    content_type: str | None = None
    _ready: list[bytes] = field(default_factory=list)
    _found: bool = False

    @classmethod
    def from_header(cls, body: AsyncIterator[bytes], header: str, name: str) -> MultipartField:
        _, params = parse_options_header(header)
        boundary = params.get(b"boundary")
        if not boundary:
            raise InvalidValue("multipart body without a boundary")
        return cls(body, boundary, name)

    async def chunks(self) -> AsyncIterator[bytes]:
        headers: dict[str, str] = {}
        current: dict[str, bytes] = {"field": b"", "value": b""}
        state = {"in_field": False, "done": False}

        def on_part_begin() -> None:
            headers.clear()

        def on_header_field(data: bytes, start: int, end: int) -> None:
            current["field"] += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            current["value"] += data[start:end]

        def on_header_end() -> None:
            headers[current["field"].decode("latin-1").lower()] = current["value"].decode()
            current["field"] = current["value"] = b""

        def on_headers_finished() -> None:
            _, params = parse_options_header(headers.get("content-disposition", ""))
            is_ours = params.get(b"name", b"").decode() == self.name and not state["done"]
            state["in_field"] = is_ours
            if is_ours:
                self._found = True
                self.content_type = headers.get("content-type") or None

        def on_part_data(data: bytes, start: int, end: int) -> None:
            if state["in_field"]:
                self._ready.append(bytes(data[start:end]))

        def on_part_end() -> None:
            if state["in_field"]:
                state["in_field"], state["done"] = False, True

        parser = MultipartParser(
            self.boundary,
            {
                "on_part_begin": on_part_begin,
                "on_header_field": on_header_field,
                "on_header_value": on_header_value,
                "on_header_end": on_header_end,
                "on_headers_finished": on_headers_finished,
                "on_part_data": on_part_data,
                "on_part_end": on_part_end,
            },
        )
        try:
            async for chunk in self.body:
                parser.write(chunk)
                if self._ready:
                    yield b"".join(self._ready)
                    self._ready.clear()
            parser.finalize()
        except FormParserError as err:
            raise InvalidValue(f"malformed multipart body: {err}") from err
        if self._ready:
            yield b"".join(self._ready)
            self._ready.clear()
        if not self._found:
            raise InvalidValue(f"multipart body has no {self.name!r} part", field=self.name)


async def prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int]:
    """``[start, end)`` of a single-range ``Range`` header; 416 when unsatisfiable."""
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiable(f"unsupported or malformed Range {header!r}", size=size)
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable("empty suffix range", size=size)
        return max(size - length, 0), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(f"range {header!r} outside the object", size=size)
    return start, end
