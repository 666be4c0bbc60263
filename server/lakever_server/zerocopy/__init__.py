"""Zero-copy sending of stored blobs and receiving of large uploads: the kernel moves
file pages to the client's socket (``os.sendfile``) and the socket's bytes into the block
store's write buffers (``os.readv``), and no byte of a large read or write is copied
through Python objects.

Two halves meet at two ASGI scope extensions:

- ``http.response.zerocopysend`` (asgiref's "Zero Copy Send": a message carrying an open
  ``file``, an ``offset``, a ``count`` and ``more_body``);
- ``lakever.http.request.readinto`` (lakever's own, no asgiref counterpart): a blocking
  reader of the rest of a large request body, for the worker thread that stores it.

- ``protocol``: the server side. A uvicorn httptools protocol that advertises both
  extensions on plain-HTTP requests (the second only for bodies of a ``Content-Length``
  of at least ``READINTO_AFTER``), implements the message with ``os.sendfile`` on the
  connection's socket and the reader with ``os.readv`` from it; ``serve`` runs uvicorn
  with it.
- ``response``: the application side of sending. ``BlobResponse`` sends a blob read from
  the local block store (an open file range) with that message when the scope offers it,
  and streams it chunk by chunk otherwise (another ASGI server, TLS, a block store that
  is not a local file), as every read did before.
- ``receive``: the application side of receiving. ``open_body_reader`` takes the reader
  when the scope offers it; otherwise (another ASGI server, TLS, a chunked or small body,
  the in-process test client) the body streams through ``receive`` as before.
"""

from __future__ import annotations

ZEROCOPY_SEND = "http.response.zerocopysend"
"""The ASGI extension (scope) and message type of a zero-copy body."""

ZEROCOPY_RECEIVE = "lakever.http.request.readinto"
"""The ASGI scope extension of a request body read straight into the application's
buffers. Its value is ``{"length": <Content-Length>, "open": <callable>}``: ``open()``,
called on the event loop before any ``receive`` of body bytes, returns an object with
``readinto(buffer) -> int`` (blocking, for a worker thread; 0 once ``length`` bytes were
given), ``length`` and ``close()``. A client that leaves or stops sending makes
``readinto`` raise ``BodyIncomplete``. The connection is closed after the
response unless the server had parsed the whole body already."""


class BodyIncomplete(Exception):
    """The client left, or stopped sending, before the end of the request body."""
