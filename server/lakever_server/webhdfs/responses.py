"""JSON responses as Hadoop's WebHDFS client can read them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response


class HadoopJSONResponse(Response):
    """JSON without a ``Content-Type`` header.

    Hadoop's client checks a response's content type with JAX-RS ``MediaType``, whose
    runtime the shaded ``hadoop-client-api`` bundled with Spark lacks: any
    ``Content-Type`` makes it fail with ``ClassNotFoundException``, while an absent one
    skips the check. So WebHDFS JSON goes out untyped, which every other client parses
    just as well.
    """

    media_type = None

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(content, separators=(",", ":")).encode()
        super().__init__(body, status_code=status_code, headers=headers)
