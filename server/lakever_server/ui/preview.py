"""Previews on the object page: text, images, and the first rows of CSV and Parquet files.

Every preview reads a bounded amount: at most ``TEXT_BYTES`` of a text or CSV file, and
for Parquet the footer plus the first pages of each column of the first row group, read
page by page through ranged reads (``RangeReader``), so previewing a large file costs
what the preview shows, not the file's size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from lakever_server.catalog.interface import CatalogService
from lakever_server.catalog.models import Entry

TEXT_BYTES = 64 * 1024
PREVIEW_ROWS = 50
MAX_CELL_CHARS = 200
PARQUET_BUFFER = 64 * 1024
IMAGE_TYPES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}
_IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
_TEXT_EXTENSIONS = {
    ".txt", ".md", ".json", ".jsonl", ".ndjson", ".log", ".yaml", ".yml", ".xml", ".py",
    ".sql", ".ini", ".toml", ".cfg", ".sh", ".html", ".js", ".css", ".avsc",
}  # fmt: skip
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-ndjson")

PreviewKind = Literal["text", "table", "image", "none"]


@dataclass
class Preview:
    kind: PreviewKind
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def is_inline_image(entry: Entry) -> bool:
    """Raster images only: an SVG or HTML object shown inline could run script."""
    return entry.content_type in IMAGE_TYPES or (
        _extension(entry.path) in _IMAGE_EXTENSIONS
        and not entry.content_type.startswith(("text/", "image/svg"))
    )


def build_preview(catalog: CatalogService, entry: Entry) -> Preview:
    ext = _extension(entry.path)
    if entry.size_bytes == 0:
        return Preview("none", note="empty object")
    if ext == ".parquet" or "parquet" in entry.content_type:
        return parquet_preview(catalog, entry)
    if is_inline_image(entry):
        return Preview("image")
    if ext in (".csv", ".tsv") or entry.content_type in ("text/csv", "text/tab-separated-values"):
        return csv_preview(catalog, entry, "\t" if ext == ".tsv" else ",")
    head = _read_head(catalog, entry)
    looks_text = ext in _TEXT_EXTENSIONS or entry.content_type.startswith(_TEXT_TYPES)
    if looks_text or (b"\x00" not in head and _decodes(head)):
        return text_preview(head, entry.size_bytes)
    return Preview("none", note="binary content: download it to view")


def _read_head(catalog: CatalogService, entry: Entry) -> bytes:
    end = min(entry.size_bytes, TEXT_BYTES)
    return b"".join(catalog.open_entry(entry, start=0, end=end))


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut at the end of the window is still text.
        return err.start >= len(data) - 3
    return True


def text_preview(head: bytes, size: int) -> Preview:
    note = f"first {len(head)} of {size} bytes" if size > len(head) else ""
    return Preview("text", text=head.decode("utf-8", errors="replace"), note=note)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def csv_preview(catalog: CatalogService, entry: Entry, delimiter: str) -> Preview:
    head = _read_head(catalog, entry)
    text = head.decode("utf-8", errors="replace")
    if entry.size_bytes > len(head):
        text = text[: text.rfind("\n") + 1]  # drop the row cut by the window
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        return Preview("none", note="no rows in the first bytes")
    columns, body = rows[0], rows[1 : PREVIEW_ROWS + 1]
    note = f"first {len(body)} rows"
    return Preview(
        "table", columns=[_cell(c) for c in columns], rows=[[_cell(c) for c in r] for r in body],
        note=note,
    )  # fmt: skip


class RangeReader(io.RawIOBase):
    """A seekable read-only file over an object, each read one ranged catalog read."""

    def __init__(self, catalog: CatalogService, entry: Entry) -> None:
        super().__init__()
        self._catalog = catalog
        self._entry = entry
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    @property
    def size(self) -> int:
        return self._entry.size_bytes

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        end = min(self.size, self._position + len(view))
        if end <= self._position:
            return 0
        filled = 0
        for chunk in self._chunks(self._position, end):
            view[filled : filled + len(chunk)] = chunk
            filled += len(chunk)
        self._position += filled
        return filled

    def _chunks(self, start: int, end: int) -> Iterator[bytes]:
        return self._catalog.open_entry(self._entry, start=start, end=end)


def parquet_preview(catalog: CatalogService, entry: Entry) -> Preview:
    import pyarrow as pa  # imported here: only Parquet previews need it
    import pyarrow.parquet as pq

    try:
        with RangeReader(catalog, entry) as raw:
            # Stream column chunks page by page (buffer_size, no pre-buffering) instead
            # of reading whole chunks; only the first row group is asked for.
            parquet = pq.ParquetFile(
                io.BufferedReader(raw, buffer_size=PARQUET_BUFFER),
                buffer_size=PARQUET_BUFFER,
                pre_buffer=False,
            )
            total = parquet.metadata.num_rows
            columns = [str(name) for name in parquet.schema_arrow.names]
            batches = parquet.iter_batches(
                batch_size=PREVIEW_ROWS, row_groups=[0] if parquet.num_row_groups else []
            )
            batch = next(batches, None)
            records = batch.to_pylist() if batch is not None else []
    except (pa.ArrowException, OSError, ValueError) as err:
        return Preview("none", note=f"cannot read as Parquet: {err}")
    rows = [[_cell(record.get(name)) for name in columns] for record in records]
    return Preview("table", columns=columns, rows=rows, note=f"first {len(rows)} of {total} rows")
