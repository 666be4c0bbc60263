"""Wire details lakeFS clients rely on, pinned with raw HTTP.

Error bodies are ``{"message": ...}`` on every endpoint family, pagination has one
shape, every route but the public ones refuses anonymous callers, ranges and
conditional requests behave as HTTP says, and bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from lakever_server.api import create_api_app
from lakever_server.auth import AuthService
from lakever_server.catalog.catalog import Catalog
from lakever_server.config import load_settings
from lakever_server.services import Services
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV
from tests.support.server import RunningServer

PUBLIC_ROUTES = {
    ("GET", "/api/v1/healthcheck"),
    ("GET", "/api/v1/setup_lakefs"),
    ("POST", "/api/v1/setup_lakefs"),
    ("POST", "/api/v1/setup_comm_prefs"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
}
REPO = "wire"
CONTENT = bytes(range(256)) * 40  # 10240 bytes


def app_routes(tmp_path: Path) -> list[tuple[str, str]]:
    """Every (method, path) the REST app serves, read from the app itself."""
    kv, block = MemoryKV(), MemoryBlockStore()
    settings = load_settings(None, {"data_dir": str(tmp_path)})
    services = Services(settings, kv, block, Catalog(kv, block), AuthService(kv, "k" * 32))
    app = create_api_app(services)
    return sorted(
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    )


@pytest.fixture(scope="module")
def http(lakever_server: RunningServer) -> Iterator[httpx.Client]:
    with lakever_server.http() as client:
        client.post("/repositories", json={"name": REPO, "storage_namespace": f"local://{REPO}"})
        uploaded = client.post(
            f"/repositories/{REPO}/branches/main/objects",
            params={"path": "data/blob.bin"},
            content=CONTENT,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert uploaded.status_code == 201
        yield client


@pytest.fixture(scope="module")
def anonymous(lakever_server: RunningServer) -> Iterator[httpx.Client]:
    with lakever_server.http(auth=False) as client:
        yield client


def test_every_route_but_the_public_ones_rejects_anonymous_requests(
    tmp_path: Path, anonymous: httpx.Client
) -> None:
    routes = app_routes(tmp_path)
    assert len(routes) > 50
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC_ROUTES:
            continue
        url = re.sub(r"\{[^}]+\}", "x1x", path).removeprefix("/api/v1")
        response = anonymous.request(method, url, params={"path": "a", "id": "x"})
        assert response.status_code == 401, (method, path, response.text)
        if method != "HEAD":
            assert response.json() == {"message": "authentication required"}
        checked += 1
    assert checked == len(routes) - len(PUBLIC_ROUTES & set(routes))


def test_a_wrong_password_and_a_malformed_header_are_401(anonymous: httpx.Client) -> None:
    wrong = anonymous.get("/repositories", auth=("AKIAIOSFOLQUICKSTART", "nope"))
    assert wrong.status_code == 401
    garbage = anonymous.get("/repositories", headers={"Authorization": "Basic !!!"})
    assert garbage.status_code == 401
    unknown = anonymous.get("/repositories", headers={"Authorization": "Digest x"})
    assert unknown.status_code == 401


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/repositories/missing", 404),
        ("GET", "/repositories/missing/branches", 404),
        ("GET", f"/repositories/{REPO}/branches/missing", 404),
        ("GET", f"/repositories/{REPO}/commits/deadbeef", 404),
        ("GET", f"/repositories/{REPO}/refs/missing/commits", 404),
        ("GET", f"/repositories/{REPO}/refs/main/diff/missing", 404),
        ("GET", f"/repositories/{REPO}/tags/missing", 404),
        ("GET", f"/repositories/{REPO}/refs/main/objects/stat?path=missing", 404),
        ("GET", f"/repositories/{REPO}/refs/main/objects?path=missing", 404),
        ("GET", f"/repositories/{REPO}/branches/main/import?id=missing", 404),
        ("GET", f"/repositories/{REPO}/actions/runs/missing", 404),
        ("GET", "/auth/users/missing/credentials", 404),
        ("GET", "/repositories/missing/settings/branch_protection", 404),
        ("GET", "/repositories/missing/metadata", 404),
        ("DELETE", f"/repositories/{REPO}/branches/main/objects?path=missing", 404),
        ("GET", "/no/such/route", 404),
    ],
    ids=str,
)
def test_errors_have_a_message_body_on_every_endpoint_family(
    http: httpx.Client, method: str, url: str, status: int
) -> None:
    response = http.request(method, url)
    assert response.status_code == status
    body = response.json()
    assert isinstance(body["message"], str)
    assert body["message"]


def test_pagination_shape(http: httpx.Client) -> None:
    body = http.get("/repositories", params={"amount": 1}).json()
    assert set(body) == {"pagination", "results"}
    assert set(body["pagination"]) == {"has_more", "next_offset", "results", "max_per_page"}
    assert body["pagination"]["max_per_page"] == 1000
    assert body["pagination"]["results"] == len(body["results"])
    branches = http.get(f"/repositories/{REPO}/branches").json()
    assert branches["pagination"]["has_more"] is False
    assert branches["pagination"]["next_offset"] == ""


def test_timestamps_are_integer_seconds_and_checksums_hex_md5(http: httpx.Client) -> None:
    stat = http.get(
        f"/repositories/{REPO}/refs/main/objects/stat", params={"path": "data/blob.bin"}
    ).json()
    assert isinstance(stat["mtime"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", stat["checksum"])
    repo = http.get(f"/repositories/{REPO}").json()
    assert isinstance(repo["creation_date"], int)


def _get(http: httpx.Client, **headers: str) -> httpx.Response:
    return http.get(
        f"/repositories/{REPO}/refs/main/objects",
        params={"path": "data/blob.bin"},
        headers=headers,
    )


def test_get_returns_the_content_with_a_quoted_etag(http: httpx.Client) -> None:
    response = _get(http)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["ETag"])
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-9", 0, 10),
        ("bytes=10000-", 10000, 10240),
        ("bytes=-5", 10235, 10240),
        ("bytes=10230-99999", 10230, 10240),
    ],
    ids=["first ten", "open ended", "suffix", "end clamped to size"],
)
def test_range_requests_return_206_with_content_range(
    http: httpx.Client, header: str, start: int, end: int
) -> None:
    response = _get(http, Range=header)
    assert response.status_code == 206
    assert response.content == CONTENT[start:end]
    assert response.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(CONTENT)}"


@pytest.mark.parametrize(
    "header",
    ["bytes=20000-", "bytes=5-2", "bytes=abc", "items=0-1", "bytes=0-1,5-6", "bytes=-0"],
    ids=["past the end", "reversed", "not a number", "wrong unit", "multiple", "empty suffix"],
)
def test_unsatisfiable_or_malformed_range_is_416(http: httpx.Client, header: str) -> None:
    response = _get(http, Range=header)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(CONTENT)}"
    assert response.json()["message"]


def test_if_none_match_with_the_current_etag_is_304(http: httpx.Client) -> None:
    etag = _get(http).headers["ETag"]
    assert _get(http, **{"If-None-Match": etag}).status_code == 304
    assert _get(http, **{"If-None-Match": '"other"'}).status_code == 200


def test_head_returns_headers_only(http: httpx.Client) -> None:
    response = http.head(
        f"/repositories/{REPO}/refs/main/objects", params={"path": "data/blob.bin"}
    )
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["ETag"] == _get(http).headers["ETag"]


def test_upload_if_none_match_star_refuses_to_overwrite(http: httpx.Client) -> None:
    url = f"/repositories/{REPO}/branches/main/objects"
    first = http.post(
        url, params={"path": "once.txt"}, content=b"1", headers={"If-None-Match": "*"}
    )
    assert first.status_code == 201
    second = http.post(
        url, params={"path": "once.txt"}, content=b"2", headers={"If-None-Match": "*"}
    )
    assert second.status_code == 412
    assert second.json()["message"]


def test_upload_if_match_needs_the_current_etag(http: httpx.Client) -> None:
    url = f"/repositories/{REPO}/branches/main/objects"
    first = http.post(url, params={"path": "cas.txt"}, content=b"1").json()
    stale = http.post(url, params={"path": "cas.txt"}, content=b"2", headers={"If-Match": '"0000"'})
    assert stale.status_code == 412
    fresh = http.post(
        url,
        params={"path": "cas.txt"},
        content=b"3",
        headers={"If-Match": f'"{first["checksum"]}"'},
    )
    assert fresh.status_code == 201


def test_upload_stores_lakefs_meta_headers_and_content_type(http: httpx.Client) -> None:
    uploaded = http.post(
        f"/repositories/{REPO}/branches/main/objects",
        params={"path": "meta.csv"},
        content=b"a,b\n",
        headers={"Content-Type": "text/csv", "X-Lakefs-Meta-Owner": "etl"},
    )
    assert uploaded.status_code == 201
    assert uploaded.json()["metadata"] == {"owner": "etl"}
    assert uploaded.json()["content_type"] == "text/csv"
    got = _get_path(http, "meta.csv")
    assert got.headers["Content-Type"] == "text/csv"


def _get_path(http: httpx.Client, path: str) -> httpx.Response:
    return http.get(f"/repositories/{REPO}/refs/main/objects", params={"path": path})


def test_multipart_upload_streams_the_content_field(http: httpx.Client) -> None:
    uploaded = http.post(
        f"/repositories/{REPO}/branches/main/objects",
        params={"path": "form.bin"},
        files={"content": ("form.bin", CONTENT, "application/x-test")},
    )
    assert uploaded.status_code == 201
    assert uploaded.json()["size_bytes"] == len(CONTENT)
    assert uploaded.json()["content_type"] == "application/x-test"
    assert _get_path(http, "form.bin").content == CONTENT


def test_multipart_without_a_content_field_is_400(http: httpx.Client) -> None:
    response = http.post(
        f"/repositories/{REPO}/branches/main/objects",
        params={"path": "form2.bin"},
        files={"other": ("x", b"x")},
    )
    assert response.status_code == 400
    assert "content" in response.json()["message"]


@pytest.mark.parametrize(
    "path",
    ["../etc/passwd", "a/../../b", "/etc/passwd", "a/./b", "nul\x00byte", "", "x" * 1025],
    ids=["dot-dot", "nested dot-dot", "absolute", "dot segment", "NUL", "empty", "too long"],
)
def test_object_paths_that_look_like_traversal_are_400(http: httpx.Client, path: str) -> None:
    for response in (
        http.post(
            f"/repositories/{REPO}/branches/main/objects", params={"path": path}, content=b"x"
        ),
        http.get(f"/repositories/{REPO}/refs/main/objects", params={"path": path}),
        http.get(f"/repositories/{REPO}/refs/main/objects/stat", params={"path": path}),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "invalid request"),
        (b'{"name": "ok-name", "storage_namespace": "local://x", "colour": "red"}', "colour"),
        (b'{"storage_namespace": "local://x"}', "name"),
        (b'{"name": 5, "storage_namespace": "local://x"}', "name"),
        (b'{"name": "Bad Name!", "storage_namespace": "local://bad"}', "invalid"),
        (b'{"name": "good-name", "storage_namespace": "/etc"}', "storage namespace"),
        (b"[]", "invalid request"),
        (b'{"name": "escape", "storage_namespace": "local://../escape"}', "invalid storage"),
        (b'{"name": "escape", "storage_namespace": "local:///etc"}', "invalid storage"),
    ],
    ids=[
        "malformed",
        "unknown field",
        "missing field",
        "wrong type",
        "invalid name",
        "namespace outside the block store",
        "not an object",
        "namespace escaping the block store",
        "absolute namespace",
    ],
)
def test_bad_json_bodies_are_400_with_a_message(
    http: httpx.Client, body: bytes, fragment: str
) -> None:
    response = http.post(
        "/repositories", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_oversized_json_bodies_are_413(http: httpx.Client) -> None:
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = http.post(
        "/repositories", content=huge, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["message"]


def test_oversized_headers_are_refused_with_a_4xx(lakever_server: RunningServer) -> None:
    with lakever_server.http() as client:
        response = client.get("/repositories", headers={"X-Big": "x" * (100 * 1024)})
    assert response.status_code == 431
    assert response.json()["message"] == "request headers too large"


def test_bulk_delete_of_more_than_1000_paths_is_400(http: httpx.Client) -> None:
    response = http.post(
        f"/repositories/{REPO}/branches/main/objects/delete",
        json={"paths": [f"p{i}" for i in range(1001)]},
    )
    assert response.status_code == 400
    assert "1000" in response.json()["message"]


def test_invalid_query_values_are_400(http: httpx.Client) -> None:
    response = http.get("/repositories", params={"amount": "lots"})
    assert response.status_code == 400
    assert "amount" in response.json()["message"]
    diff = http.get(f"/repositories/{REPO}/refs/main/diff/main", params={"type": "four_dot"})
    assert diff.status_code == 400


def test_openapi_document_is_served_to_authenticated_clients(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/repositories/{repository}/branches" in document["paths"]


@pytest.mark.parametrize("suffix", ["/stat", ""], ids=["stat", "get"])
def test_object_reads_answer_the_same_through_the_fast_path_and_the_routes(
    http: httpx.Client, suffix: str
) -> None:
    # An unrecognised query parameter makes the fast path hand over to the route.
    url = f"/repositories/{REPO}/refs/main/objects{suffix}"
    fast = http.get(url, params={"path": "data/blob.bin"}, headers={"Range": "bytes=1-3"})
    routed = http.get(
        url, params={"path": "data/blob.bin", "via": "route"}, headers={"Range": "bytes=1-3"}
    )
    assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
    assert fast.headers.get("ETag") == routed.headers.get("ETag")
    missing = http.get(url, params={"path": "nope"})
    missing_routed = http.get(url, params={"path": "nope", "via": "route"})
    assert (missing.status_code, missing.json()) == (404, missing_routed.json())


def test_s3_signed_requests_reach_the_gateway_and_the_rest_reach_the_api(
    lakever_server: RunningServer, http: httpx.Client
) -> None:
    from tests.server.gateway.s3_support import s3_client

    s3 = s3_client(lakever_server)
    assert s3.get_object(Bucket=REPO, Key="main/data/blob.bin")["Body"].read() == CONTENT
    presigned = s3.generate_presigned_url(
        "get_object", Params={"Bucket": REPO, "Key": "main/data/blob.bin"}
    )
    assert httpx.get(presigned).content == CONTENT
    unsigned = httpx.get(f"{lakever_server.url}/{REPO}/main/data/blob.bin")
    assert unsigned.status_code == 404
    assert unsigned.json() == {"message": "Not Found"}


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (f"/repositories/{REPO}/branches", {"name": "bad name", "source": "main"}),
        (f"/repositories/{REPO}/branches", {"name": "../up", "source": "main"}),
        (f"/repositories/{REPO}/tags", {"id": "a/../b", "ref": "main"}),
        (f"/repositories/{REPO}/tags", {"id": "v1", "ref": "no-such-ref~~"}),
    ],
    ids=["branch with a space", "branch with dot-dot", "tag with dot-dot", "malformed ref"],
)
def test_invalid_names_are_4xx_with_a_message(
    http: httpx.Client, url: str, body: dict[str, str]
) -> None:
    response = http.post(url, json=body)
    assert response.status_code in (400, 404), response.text
    assert response.json()["message"]
