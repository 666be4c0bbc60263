"""Observability of a real server process: metrics, request ids, logs without secrets,
and a health check that reports the stores."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.gateway.s3_support import s3_client
from tests.support import postgres
from tests.support.server import RunningServer, free_port, start_server

REPO = "observed"
PAYLOAD = b"observed bytes " * 100


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, int]]:
    """A debug-logging server on PostgreSQL with its metrics listener on another port."""
    reason = postgres.server_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = postgres.create_database()
    metrics_port = free_port()
    env = {
        "LAKEVER_LOG_LEVEL": "debug",
        "LAKEVER_OBSERVABILITY__METRICS_PORT": str(metrics_port),
    }
    try:
        server = start_server(tmp_path_factory.mktemp("observed"), kv_url=url, extra_env=env)
        try:
            yield server, metrics_port
        finally:
            server.stop()
    finally:
        postgres.drop_database(url)


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``{sample name: [(labels, value)]}`` from the metrics listener."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def total(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    return sum(v for got, v in samples if all(got.get(k) == x for k, x in labels.items()))


def work(server: RunningServer) -> None:
    """Upload, commit, branch, merge, read through REST and through the S3 gateway."""
    with server.http() as http:
        created = http.post(
            "/repositories", json={"name": REPO, "storage_namespace": f"local://{REPO}"}
        )
        assert created.status_code == 201, created.text
        objects = f"/repositories/{REPO}/branches/main/objects"
        assert http.post(objects, params={"path": "a.txt"}, content=PAYLOAD).status_code == 201
        commits = f"/repositories/{REPO}/branches/main/commits"
        assert http.post(commits, json={"message": "one"}).status_code == 201
        branch = {"name": "side", "source": "main"}
        assert http.post(f"/repositories/{REPO}/branches", json=branch).status_code == 201
        side = f"/repositories/{REPO}/branches/side/objects"
        assert http.post(side, params={"path": "b.txt"}, content=b"b").status_code == 201
        side_commits = f"/repositories/{REPO}/branches/side/commits"
        assert http.post(side_commits, json={"message": "two"}).status_code == 201
        merge = http.post(f"/repositories/{REPO}/refs/side/merge/main", json={})
        assert merge.status_code == 200, merge.text
        stat = http.get(f"/repositories/{REPO}/refs/main/objects/stat", params={"path": "a.txt"})
        assert stat.status_code == 200
    s3 = s3_client(server)
    s3.put_object(Bucket=REPO, Key="main/c.txt", Body=PAYLOAD)
    assert s3.get_object(Bucket=REPO, Key="main/c.txt")["Body"].read() == PAYLOAD


def test_metrics_name_operations_by_route_and_count_commits_merges_gateway_and_cache(
    observed: tuple[RunningServer, int],
) -> None:
    server, port = observed
    work(server)
    samples = scrape(port)
    latency = samples["lakever_request_duration_seconds_count"]
    operations = {labels["operation"] for labels, _ in latency}
    assert "/api/v1/repositories/{repository}/branches/{branch}/commits" in operations
    assert not any("main" in op or "a.txt" in op for op in operations), operations
    commit_ops = samples["lakever_operation_duration_seconds_count"]
    assert total(commit_ops, operation="commit", outcome="ok") >= 2
    assert total(commit_ops, operation="merge", outcome="ok") >= 1
    assert total(samples["lakever_operation_nodes_written_sum"], operation="commit") >= 2
    gateway = samples["lakever_gateway_bytes_total"]
    assert total(gateway, protocol="s3", direction="in") >= len(PAYLOAD)
    assert total(gateway, protocol="s3", direction="out") >= len(PAYLOAD)
    cache_lookups = total(samples["lakever_node_cache_hits_total"]) + total(
        samples["lakever_node_cache_misses_total"]
    )
    assert cache_lookups > 0
    # Every request to PostgreSQL is counted, per operation.
    stat_op = "/api/v1/repositories/{repository}/refs/{ref}/objects/stat"
    assert total(samples["lakever_metadata_statements_per_request_sum"], operation=stat_op) >= 1
    assert total(samples["lakever_metadata_statements_total"]) > 0


def test_metrics_are_not_served_on_the_api_port(observed: tuple[RunningServer, int]) -> None:
    server, _ = observed
    reply = httpx.get(f"{server.url}/metrics")
    assert "lakever_request_duration_seconds" not in reply.text


def access_lines(server: RunningServer) -> list[dict[str, object]]:
    lines = []
    for line in server.output().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "lakever_server.access":
                lines.append(entry)
    return lines


def test_a_request_id_is_echoed_or_generated_and_logged(
    observed: tuple[RunningServer, int],
) -> None:
    server, _ = observed
    with server.http() as http:
        given = http.get("/user", headers={"X-Request-Id": "run-42.retry:1"})
        fresh = http.get("/user")
        forged = http.get("/user", headers={"X-Request-Id": "x\tstatus=500"})
    assert given.headers["x-request-id"] == "run-42.retry:1"
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    assert fresh.headers["x-request-id"] != forged.headers["x-request-id"]
    server.stop()  # flush and close the log before reading it
    server.start()
    logged = {str(entry.get("request_id")) for entry in access_lines(server)}
    assert {"run-42.retry:1", fresh.headers["x-request-id"]} <= logged


def test_no_secret_reaches_the_logs(observed: tuple[RunningServer, int]) -> None:
    server, _ = observed
    with server.http() as http:
        key = http.post("/auth/users/admin/credentials").json()
    key_id, secret = key["access_key_id"], key["secret_access_key"]
    wrong = "not-the-right-secret-Zq8vW3"
    with httpx.Client(base_url=server.api_url, auth=(key_id, secret)) as http:
        assert http.get("/user").status_code == 200
        login = http.post(
            "/auth/login", json={"access_key_id": key_id, "secret_access_key": secret}
        )
        token = login.json()["token"]
        refused = http.post(
            "/auth/login", json={"access_key_id": key_id, "secret_access_key": wrong}
        )
        assert refused.status_code == 401
        assert http.get("/user", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    s3 = s3_client(server, access_key_id=key_id, secret=secret)
    presigned = s3.generate_presigned_url(
        "get_object", Params={"Bucket": REPO, "Key": "main/nothing"}, ExpiresIn=60
    )
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", presigned)
    assert signature is not None
    httpx.get(presigned)
    s3.list_objects_v2(Bucket=REPO, Prefix="main/")
    server.stop()
    server.start()
    log = server.output()
    assert "GET /api/v1/user" in log  # the requests were logged...
    for leaked in (secret, wrong, token, signature.group(1)):  # ...their secrets were not
        assert leaked not in log


def test_healthcheck_reports_a_metadata_store_that_is_gone(tmp_path: Path) -> None:
    reason = postgres.server_unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    url = postgres.create_database()
    server = start_server(tmp_path, kv_url=url)
    try:
        assert httpx.get(f"{server.api_url}/healthcheck").status_code == 204
        postgres.drop_database(url)
        gone = httpx.get(f"{server.api_url}/healthcheck", timeout=10)
        assert gone.status_code == 503
        assert gone.json()["metadata"].startswith("unavailable")
        assert gone.json()["blockstore"] == "ok"
    finally:
        server.kill()
        postgres.drop_database(url)
