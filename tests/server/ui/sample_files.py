"""Small real files for previews: a PNG, a CSV and a Parquet table."""

from __future__ import annotations

import io
import struct
import zlib


def png(width: int = 48, height: int = 32) -> bytes:
    """A valid RGB PNG with a diagonal gradient."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 5 % 256, y * 8 % 256, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def csv_rows(count: int) -> bytes:
    lines = ["order_id,customer,amount"]
    lines += [f"{i},customer-{i % 7},{i * 2.5:.2f}" for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


def parquet_table(count: int) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "event_id": list(range(count)),
            "kind": [("click", "view", "buy")[i % 3] for i in range(count)],
            "value": [i / 4 for i in range(count)],
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=1000)
    return out.getvalue()
