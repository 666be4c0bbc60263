"""Zero-copy sending of stored blobs: the kernel moves file pages to the client's socket
(``os.sendfile``) and no byte of a large read passes through Python.

Two halves meet at the ASGI extension ``http.response.zerocopysend`` (asgiref's "Zero
Copy Send": a message carrying an open ``file``, an ``offset``, a ``count`` and
``more_body``):

- ``protocol``: the server side. A uvicorn httptools protocol that advertises the
  extension in every plain-HTTP request's scope and implements the message with
  ``os.sendfile`` on the connection's socket; ``serve`` runs uvicorn with it.
- ``response``: the application side. ``BlobResponse`` sends a blob read from the local
  block store (an open file range) with that message when the scope offers it, and
  streams it chunk by chunk otherwise (another ASGI server, TLS, a block store that is
  not a local file), as every read did before.
"""

from __future__ import annotations

ZEROCOPY_SEND = "http.response.zerocopysend"
"""The ASGI extension (scope) and message type of a zero-copy body."""
