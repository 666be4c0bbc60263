"""``sample_data: true``: a README, a Parquet table, its source note and images on a
protected ``main``, readable by pandas, polars and duckdb-style Arrow readers."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest

from lakever_server import sample_data
from tests.support.server import RunningServer

REPO = "samples"


@pytest.fixture(scope="module")
def http(lakever_server: RunningServer) -> Iterator[httpx.Client]:
    with lakever_server.http() as client:
        created = client.post(
            "/repositories",
            json={"name": REPO, "storage_namespace": f"local://{REPO}", "sample_data": True},
        )
        assert created.status_code == 201, created.text
        yield client


def _get(http: httpx.Client, path: str) -> bytes:
    response = http.get(f"/repositories/{REPO}/refs/main/objects", params={"path": path})
    assert response.status_code == 200, response.text
    return response.content


def test_sample_data_is_committed_on_main(http: httpx.Client) -> None:
    listed = http.get(f"/repositories/{REPO}/refs/main/objects/ls").json()
    paths = [o["path"] for o in listed["results"]]
    assert paths == sorted(path for path, _, _ in sample_data.sample_files())
    assert http.get(f"/repositories/{REPO}/branches/main/diff").json()["results"] == []
    head = http.get(f"/repositories/{REPO}/commits/main").json()
    assert head["message"] == "Add sample data"


def test_the_parquet_table_reads_in_pandas_polars_and_arrow(http: httpx.Client) -> None:
    content = _get(http, "lakes/readings.parquet")
    frame = pd.read_parquet(io.BytesIO(content))
    assert len(frame) == len(sample_data.LAKES) * sample_data.DAYS
    assert set(frame["lake"]) == set(sample_data.LAKES)
    polars_frame = pl.read_parquet(io.BytesIO(content))
    assert polars_frame.columns == ["lake", "day", "temperature_c", "level_m", "clarity_m"]
    assert pq.read_table(io.BytesIO(content)).equals(sample_data.readings_table())


def test_readme_source_note_and_png_images(http: httpx.Client) -> None:
    assert b"readings.parquet" in _get(http, "README.md")
    assert b"synthetic" in _get(http, "lakes/SOURCE.md")
    for name in sample_data.IMAGE_COLORS:
        image = _get(http, f"images/{name}.png")
        assert image.startswith(b"\x89PNG\r\n\x1a\n")
        assert image[12:16] == b"IHDR"


def test_main_is_protected_after_sampling(http: httpx.Client) -> None:
    rules = http.get(f"/repositories/{REPO}/settings/branch_protection").json()
    assert rules == [{"pattern": "main"}]
    write = http.post(
        f"/repositories/{REPO}/branches/main/objects", params={"path": "x"}, content=b"x"
    )
    assert write.status_code == 403
    assert write.json() == {"message": "cannot write to protected branch"}
    http.post(f"/repositories/{REPO}/branches", json={"name": "edit", "source": "main"})
    http.post(f"/repositories/{REPO}/branches/edit/objects", params={"path": "x"}, content=b"x")
    http.post(f"/repositories/{REPO}/branches/edit/commits", json={"message": "edit"})
    merged = http.post(f"/repositories/{REPO}/refs/edit/merge/main", json={})
    assert merged.status_code == 200
    assert _get(http, "x") == b"x"


def test_bare_sample_repository_is_refused(http: httpx.Client) -> None:
    response = http.post(
        "/repositories",
        params={"bare": "true"},
        json={
            "name": "bare-sample",
            "storage_namespace": "local://bare-sample",
            "sample_data": True,
        },
    )
    assert response.status_code == 400
