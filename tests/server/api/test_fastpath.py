"""The object-read fast path answers exactly as the FastAPI routes do.

Every case is sent twice to the real server: as is (the fast path serves it) and with an
extra query parameter, which makes the fast path hand the request to the routes. Status,
body and every header but the per-request ones must be equal. Then the caches on the
read path: a verified Basic header, and decoded repository records.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from starlette.types import Message

from lakever_server.api.fastpath import ObjectReadFastPath, parse_query
from lakever_server.auth import AuthService
from lakever_server.catalog.catalog import Catalog
from lakever_server.config import load_settings
from lakever_server.errors import Unauthorized
from lakever_server.services import Services
from lakever_server.storage.block.memory import MemoryBlockStore
from lakever_server.storage.kv.memory import MemoryKV
from tests.support.server import RunningServer

REPO = "fastpath"
CONTENT = bytes(range(256)) * 16  # 4096 bytes
OBJECTS = f"/repositories/{REPO}/refs/main/objects"
PER_REQUEST = {"date", "server", "x-request-id"}
KEY = "server-key-for-fast-path-tests"


@pytest.fixture(scope="module")
def http(lakever_server: RunningServer) -> Iterator[httpx.Client]:
    with lakever_server.http() as client:
        created = client.post(
            "/repositories", json={"name": REPO, "storage_namespace": f"local://{REPO}"}
        )
        assert created.status_code == 201
        for path, content_type in (("data/blob.bin", "text/csv"), ("data/é ü.txt", "x/y")):
            uploaded = client.post(
                f"/repositories/{REPO}/branches/main/objects",
                params={"path": path},
                content=CONTENT,
                headers={"Content-Type": content_type, "X-Lakefs-Meta-Owner": "ops"},
            )
            assert uploaded.status_code == 201
        yield client


def _wire(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in PER_REQUEST]
    return response.status_code, response.content, headers


def _both(
    client: httpx.Client, method: str, url: str, params: dict[str, str], headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    fast = client.request(method, url, params=params, headers=headers)
    routed = client.request(method, url, params={**params, "via": "route"}, headers=headers)
    return fast, routed


CASES = [
    ("GET", "", {"path": "data/blob.bin"}, {}),
    ("GET", "", {"path": "data/é ü.txt"}, {}),
    ("GET", "", {"path": "data/blob.bin"}, {"Range": "bytes=1-3"}),
    ("GET", "", {"path": "data/blob.bin"}, {"Range": "bytes=-5"}),
    ("GET", "", {"path": "data/blob.bin"}, {"Range": "bytes=9000-"}),
    ("GET", "", {"path": "data/blob.bin"}, {"Range": "items=0-1"}),
    ("GET", "", {"path": "data/blob.bin"}, {"If-None-Match": "*"}),
    ("GET", "", {"path": "data/blob.bin"}, {"If-None-Match": '"other"'}),
    ("GET", "", {"path": "data/blob.bin", "presign": "true"}, {}),
    ("GET", "", {"path": "data/blob.bin", "presign": "maybe"}, {}),
    ("HEAD", "", {"path": "data/blob.bin"}, {}),
    ("HEAD", "", {"path": "data/blob.bin"}, {"Range": "bytes=0-9"}),
    ("GET", "/stat", {"path": "data/blob.bin"}, {}),
    ("GET", "/stat", {"path": "data/é ü.txt", "user_metadata": "False"}, {}),
    ("GET", "/stat", {"path": "data/blob.bin", "user_metadata": "yes"}, {}),
    ("GET", "/stat", {"path": "data/blob.bin", "user_metadata": "nope"}, {}),
    ("GET", "", {"path": "data/missing"}, {}),
    ("GET", "/stat", {"path": "data/missing"}, {}),
    ("GET", "", {"path": "../etc/passwd"}, {}),
    ("GET", "", {"path": ""}, {}),
    ("GET", "", {}, {}),
    ("GET", "/stat", {}, {}),
    ("GET", "", {"path": "data/blob.bin"}, {"Authorization": "Basic bm90LWJhc2U2NA=="}),
    ("GET", "", {"path": "data/blob.bin"}, {"Authorization": "Basic !!!"}),
    ("GET", "", {"path": "data/blob.bin"}, {"Authorization": "Bearer not-a-token"}),
    ("GET", "", {"path": "data/blob.bin"}, {"Authorization": "Digest x"}),
]
IDS = [
    "get",
    "get of a non-ASCII path",
    "range",
    "suffix range",
    "range past the end",
    "range of a wrong unit",
    "if-none-match star",
    "if-none-match another etag",
    "presign",
    "presign not a boolean",
    "head",
    "head with a range",
    "stat",
    "stat without user metadata",
    "stat with a boolean spelled yes",
    "stat with a non-boolean flag",
    "get of a missing object",
    "stat of a missing object",
    "traversal path",
    "empty path",
    "get without a path",
    "stat without a path",
    "basic credentials without a colon",
    "basic credentials not base64",
    "bearer token not a JWT",
    "unsupported scheme",
]


ROUTED = {
    "presign not a boolean",
    "stat with a boolean spelled yes",
    "stat with a non-boolean flag",
    "empty path",
    "get without a path",
    "stat without a path",
}


@pytest.fixture(scope="module")
def fast_path(tmp_path_factory: pytest.TempPathFactory) -> ObjectReadFastPath:
    kv, block = MemoryKV(), MemoryBlockStore()
    settings = load_settings(None, {"data_dir": str(tmp_path_factory.mktemp("fast"))})
    catalog = Catalog(kv, block)
    catalog.create_repository(REPO, f"mem://{REPO}")
    for path in ("data/blob.bin", "data/é ü.txt"):
        catalog.write_object(REPO, "main", path, [CONTENT])
    return ObjectReadFastPath(Services(settings, kv, block, catalog, AuthService(kv, KEY)))


@pytest.mark.parametrize(("method", "suffix", "params", "headers"), CASES, ids=IDS)
def test_the_fast_path_serves_what_it_recognises(
    fast_path: ObjectReadFastPath,
    request: pytest.FixtureRequest,
    method: str,
    suffix: str,
    params: dict[str, str],
    headers: dict[str, str],
) -> None:
    # Without this, the comparison with the routes would pass with no fast path at all.
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": f"/api/v1{OBJECTS}{suffix}",
        "query_string": urlencode(params).encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    served = asyncio.run(fast_path.handle(scope, receive, send))
    assert served is (request.node.callspec.id not in ROUTED)
    if served:
        assert sent[0]["type"] == "http.response.start"
        assert sent[-1]["type"] == "http.response.body"


@pytest.mark.parametrize(("method", "suffix", "params", "headers"), CASES, ids=IDS)
def test_the_fast_path_answers_as_the_route_does(
    http: httpx.Client,
    method: str,
    suffix: str,
    params: dict[str, str],
    headers: dict[str, str],
) -> None:
    fast, routed = _both(http, method, OBJECTS + suffix, params, headers)
    assert _wire(fast) == _wire(routed)
    assert fast.status_code < 500


def test_reads_of_a_missing_repository_or_ref_answer_as_the_route_does(
    http: httpx.Client,
) -> None:
    for url in ("/repositories/nope/refs/main/objects", f"/repositories/{REPO}/refs/nope/objects"):
        fast, routed = _both(http, "GET", url, {"path": "data/blob.bin"}, {})
        assert fast.status_code == 404
        assert _wire(fast) == _wire(routed)


def test_anonymous_reads_are_refused_as_by_the_route(lakever_server: RunningServer) -> None:
    with lakever_server.http(auth=False) as anonymous:
        fast, routed = _both(anonymous, "GET", OBJECTS, {"path": "data/blob.bin"}, {})
    assert fast.status_code == 401
    assert _wire(fast) == _wire(routed)


@pytest.mark.parametrize(
    "query",
    [
        b"path=a/b.csv",
        b"path=a%2Fb%20c.csv&user_metadata=false",
        b"path=a+b&path=c",
        b"&path=x&&presign",
        b"path",
        b"path=a=b",
        b"path=%C3%A9",
        b"pa%74h=a%ZZb%C3",
        b"user_metadata=true&path=a+%2B+b",
    ],
)
def test_the_fast_path_reads_a_query_as_the_routes_do(query: bytes) -> None:
    # The routes: Starlette's query parameters, the last value of a name winning.
    expected = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    assert parse_query(query) == expected


@pytest.mark.parametrize("query", [b"path=x&via=route", b"path=\xe9", b"path=x&user=1"])
def test_the_fast_path_leaves_unusual_queries_to_the_routes(query: bytes) -> None:
    assert parse_query(query) is None


def _basic(server: RunningServer, key_id: str | None = None, secret: str | None = None) -> str:
    pair = f"{key_id or server.access_key_id}:{secret or server.secret_access_key}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def test_a_deleted_key_is_refused_on_the_next_request(
    lakever_server: RunningServer, http: httpx.Client
) -> None:
    created = http.post("/auth/users/admin/credentials")
    assert created.status_code == 201
    key_id, secret = created.json()["access_key_id"], created.json()["secret_access_key"]
    authorization = {"Authorization": _basic(lakever_server, key_id, secret)}
    wrong = {"Authorization": _basic(lakever_server, key_id, secret + "x")}
    with lakever_server.http(auth=False) as client:
        for _ in range(3):  # verified once, then served from the cache
            served = client.get(OBJECTS, params={"path": "data/blob.bin"}, headers=authorization)
            assert served.content == CONTENT
            denied = client.get(OBJECTS, params={"path": "data/blob.bin"}, headers=wrong)
            assert denied.status_code == 401
        assert http.delete(f"/auth/users/admin/credentials/{key_id}").status_code == 204
        for suffix in ("", "/stat"):
            refused = client.get(
                OBJECTS + suffix, params={"path": "data/blob.bin"}, headers=authorization
            )
            assert refused.status_code == 401


def test_a_re_created_repository_never_serves_the_old_one(
    lakever_server: RunningServer, http: httpx.Client
) -> None:
    name = "recreated"
    for round_, path in enumerate(("old.bin", "new.bin")):
        created = http.post(
            "/repositories", json={"name": name, "storage_namespace": f"local://{name}{round_}"}
        )
        assert created.status_code == 201
        upload = http.post(
            f"/repositories/{name}/branches/main/objects",
            params={"path": path},
            content=path.encode(),
        )
        assert upload.status_code == 201
        read = http.get(f"/repositories/{name}/refs/main/objects", params={"path": path})
        assert read.content == path.encode()
        if round_ == 0:
            assert http.delete(f"/repositories/{name}").status_code == 204
    stale = http.get(f"/repositories/{name}/refs/main/objects", params={"path": "old.bin"})
    assert stale.status_code == 404


# -- the verified-header cache, in process ---------------------------------------------


def _header(key_id: str, secret: str) -> str:
    return base64.b64encode(f"{key_id}:{secret}".encode()).decode()


@pytest.mark.parametrize("cache_seconds", [0.0, 60.0], ids=["no cache", "cached"])
def test_a_wrong_secret_is_refused_every_time(cache_seconds: float) -> None:
    auth = AuthService(MemoryKV(), KEY, cache_seconds=cache_seconds)
    credential = auth.setup("admin", "AKIAEXAMPLEEXAMPLE01", "the-right-secret")
    good = _header(credential.access_key_id, "the-right-secret")
    for _ in range(3):
        assert auth.authenticate_basic(good).id == "admin"
        with pytest.raises(Unauthorized):
            auth.authenticate_basic(_header(credential.access_key_id, "the-right-secreT"))


def test_the_deleting_replica_refuses_a_cached_header_at_once() -> None:
    auth = AuthService(MemoryKV(), KEY, cache_seconds=60.0)
    credential = auth.setup("admin")
    header = _header(credential.access_key_id, credential.secret_access_key)
    assert auth.authenticate_basic(header).id == "admin"
    auth.delete_credentials("admin", credential.access_key_id)
    with pytest.raises(Unauthorized):
        auth.authenticate_basic(header)


def test_without_a_cache_other_replicas_refuse_a_deleted_or_rotated_key_at_once() -> None:
    kv = MemoryKV()
    deleting, serving = AuthService(kv, KEY, cache_seconds=0), AuthService(kv, KEY, cache_seconds=0)
    credential = deleting.setup("admin", "AKIAEXAMPLEEXAMPLE01", "the-first-secret")
    first = _header(credential.access_key_id, "the-first-secret")
    assert serving.authenticate_basic(first).id == "admin"
    deleting.delete_credentials("admin", credential.access_key_id)
    with pytest.raises(Unauthorized):
        serving.authenticate_basic(first)
    # Rotated: the same key id with another secret; only the new secret works.
    deleting.create_credentials("admin", "AKIAEXAMPLEEXAMPLE01", "the-second-secret")
    with pytest.raises(Unauthorized):
        serving.authenticate_basic(first)
    second = _header("AKIAEXAMPLEEXAMPLE01", "the-second-secret")
    assert serving.authenticate_basic(second).id == "admin"
