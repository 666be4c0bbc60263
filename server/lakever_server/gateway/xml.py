"""S3 XML documents: building responses and reading the few request bodies S3 has."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import formatdate
from xml.sax.saxutils import escape

from starlette.responses import Response

from lakever_server.gateway.errors import S3Error

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
Node = tuple[str, "str | int | bool | list[Node] | None"]
"""An element: ``(tag, text)`` or ``(tag, [children])``; ``None`` text omits it."""


def iso8601(epoch: float) -> str:
    """``2026-01-02T03:04:05.000Z`` as S3 listings show times."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def http_date(epoch: float) -> str:
    """``Tue, 02 Jan 2026 03:04:05 GMT`` as ``Last-Modified`` shows times."""
    return formatdate(epoch, usegmt=True)


def _render(node: Node, out: list[str]) -> None:
    tag, value = node
    if value is None:
        return
    if isinstance(value, list):
        out.append(f"<{tag}>")
        for child in value:
            _render(child, out)
        out.append(f"</{tag}>")
        return
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    out.append(f"<{tag}>{escape(text)}</{tag}>")


def document(root: str, children: Iterable[Node]) -> bytes:
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{S3_NAMESPACE}">']
    for child in children:
        _render(child, out)
    out.append(f"</{root}>")
    return "".join(out).encode()


def xml_response(
    root: str, children: Iterable[Node], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        document(root, children), status_code=status, media_type="application/xml", headers=headers
    )


def parse(body: bytes) -> ET.Element:
    """Parse a request document, ignoring the S3 namespace on every tag."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise S3Error(
            "MalformedXML", "The XML you provided was not well-formed or did not validate."
        ) from None
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root


def child_text(element: ET.Element, tag: str, default: str = "") -> str:
    found = element.find(tag)
    return default if found is None or found.text is None else found.text
