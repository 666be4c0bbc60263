"""Previews read only what they show: bounded reads of large text, CSV and Parquet."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from lakever_server.catalog.catalog import Catalog
from lakever_server.catalog.models import Entry
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV
from lakever_server.ui.preview import TEXT_BYTES, build_preview, is_inline_image

REPO = "previews"


class ByteCountingCatalog(Catalog):
    """The real catalog, counting the object bytes previews read."""

    bytes_read = 0

    def open_entry(
        self, entry: Entry, *, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        for chunk in super().open_entry(entry, start=start, end=end):
            self.bytes_read += len(chunk)
            yield chunk


@pytest.fixture
def catalog() -> ByteCountingCatalog:
    made = ByteCountingCatalog(MemoryKV(), MemoryBlockStore())
    made.create_repository(REPO, "mem://lake/previews")
    return made


def _put(catalog: Catalog, path: str, data: bytes, content_type: str | None = None) -> Entry:
    return catalog.write_object(REPO, "main", path, [data], content_type=content_type)


@pytest.mark.parametrize(
    "row_group_size", [10_000, 1_000_000], ids=["many row groups", "one row group"]
)
def test_parquet_preview_reads_the_first_rows_not_the_whole_file(
    catalog: ByteCountingCatalog, row_group_size: int
) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 1_000_000
    ids = np.arange(rows, dtype=np.int64)
    table = pa.table(
        {
            "id": ids,
            "reading": np.random.default_rng(7).integers(0, 2**62, rows),  # incompressible
            "label": pa.array(np.char.add("sensor-", (ids % 1000).astype(str))),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=row_group_size)
    entry = _put(catalog, "big/events.parquet", out.getvalue())
    catalog.bytes_read = 0
    preview = build_preview(catalog, entry)
    assert preview.kind == "table"
    assert preview.columns == ["id", "reading", "label"]
    assert [r[0] for r in preview.rows] == [str(i) for i in range(50)]
    assert preview.rows[7][2] == "sensor-7"
    assert preview.note == "first 50 of 1000000 rows"
    # The footer and the first page of each column (writers cut pages at ~1 MiB), not
    # the 12-16 MB file: 0.26 MB with many row groups, 1.9 MB with one.
    assert entry.size_bytes > 8 * 1024 * 1024
    assert catalog.bytes_read < 2.5 * 1024 * 1024, (catalog.bytes_read, entry.size_bytes)


def test_csv_preview_reads_one_window_and_drops_the_cut_row(
    catalog: ByteCountingCatalog,
) -> None:
    lines = ["a,b"] + [f"{i},{'v' * 30}" for i in range(100_000)]
    entry = _put(catalog, "big/table.csv", ("\n".join(lines) + "\n").encode())
    catalog.bytes_read = 0
    preview = build_preview(catalog, entry)
    assert catalog.bytes_read == TEXT_BYTES
    assert preview.columns == ["a", "b"]
    assert len(preview.rows) == 50
    assert preview.rows[-1] == ["49", "v" * 30]


def test_text_cut_inside_a_multibyte_character_is_still_text(
    catalog: ByteCountingCatalog,
) -> None:
    body = ("é" * (TEXT_BYTES // 2 + 10)).encode()  # the window ends inside a character
    entry = _put(catalog, "notes/accents.dat", b"x" + body)
    preview = build_preview(catalog, entry)
    assert preview.kind == "text"
    assert preview.note == f"first {TEXT_BYTES} of {entry.size_bytes} bytes"


def test_binary_content_and_vector_images_get_no_inline_preview(
    catalog: ByteCountingCatalog,
) -> None:
    binary = _put(catalog, "blob.bin", bytes(range(256)) * 10)
    assert build_preview(catalog, binary).kind == "none"
    svg = _put(catalog, "logo.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")
    assert not is_inline_image(svg)
    assert build_preview(catalog, svg).kind == "text"  # shown escaped, never rendered
    html_named_png = _put(catalog, "trick.png", b"<script>", "text/html")
    assert not is_inline_image(html_named_png)


def test_a_file_that_is_not_parquet_says_so(catalog: ByteCountingCatalog) -> None:
    entry = _put(catalog, "broken.parquet", b"PAR1 but not really a parquet file")
    preview = build_preview(catalog, entry)
    assert preview.kind == "none"
    assert preview.note.startswith("cannot read as Parquet")
