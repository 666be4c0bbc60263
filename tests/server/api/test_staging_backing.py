"""Get/link physical address: clients that write data themselves link it into a branch,
but only at addresses this server handed out, before they expire."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import lakefs_sdk
import pytest
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import ApiException

from tests.support.server import RunningServer

REPO = "direct"


@pytest.fixture(scope="module")
def sdk(lakever_server: RunningServer) -> LakeFSClient:
    client: LakeFSClient = lakever_server.lakefs_sdk_client()
    client.repositories_api.create_repository(
        lakefs_sdk.RepositoryCreation(name=REPO, storage_namespace=f"local://{REPO}")
    )
    return client


def write_blob(server: RunningServer, address: str, content: bytes) -> None:
    """What a direct-access client does: write to the block store at ``address``."""
    path = server.data_dir / "blocks" / address.removeprefix("local://")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def link(sdk: LakeFSClient, path: str, address: str, content: bytes, **extra: Any) -> Any:
    metadata = lakefs_sdk.StagingMetadata(
        staging=lakefs_sdk.StagingLocation(physical_address=address),
        checksum=hashlib.md5(content).hexdigest(),
        size_bytes=len(content),
        **extra,
    )
    return sdk.staging_api.link_physical_address(REPO, "main", path, metadata)


def status_of(call: Any) -> tuple[int, str]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["message"]


def test_linked_data_is_readable_and_committable(
    lakever_server: RunningServer, sdk: LakeFSClient
) -> None:
    location = sdk.staging_api.get_physical_address(REPO, "main", "direct/data.bin")
    assert location.physical_address.startswith(f"local://{REPO}/")
    assert location.presigned_url is None
    content = b"written by the client itself"
    write_blob(lakever_server, location.physical_address, content)
    stats = link(
        sdk,
        "direct/data.bin",
        location.physical_address,
        content,
        user_metadata={"writer": "spark"},
    )
    assert (stats.path, stats.size_bytes) == ("direct/data.bin", len(content))
    assert stats.metadata == {"writer": "spark"}
    assert bytes(sdk.objects_api.get_object(REPO, "main", "direct/data.bin")) == content
    sdk.commits_api.commit(REPO, "main", lakefs_sdk.CommitCreation(message="linked"))
    assert sdk.objects_api.stat_object(REPO, "main", "direct/data.bin").checksum == (
        hashlib.md5(content).hexdigest()
    )


def test_an_address_not_issued_by_the_server_is_refused(
    lakever_server: RunningServer, sdk: LakeFSClient
) -> None:
    write_blob(lakever_server, f"local://{REPO}/forged", b"x")
    status, message = status_of(lambda: link(sdk, "forged", f"local://{REPO}/forged", b"x"))
    assert status == 400
    assert "not issued" in message


def test_a_tampered_address_token_is_refused(
    lakever_server: RunningServer, sdk: LakeFSClient
) -> None:
    issued = sdk.staging_api.get_physical_address(REPO, "main", "x").physical_address
    other_repo = issued.replace(f"local://{REPO}/", "local://elsewhere/")
    write_blob(lakever_server, other_repo, b"x")
    assert status_of(lambda: link(sdk, "x", other_repo, b"x"))[0] == 400


def test_size_must_match_what_was_written(lakever_server: RunningServer, sdk: LakeFSClient) -> None:
    issued = sdk.staging_api.get_physical_address(REPO, "main", "y").physical_address
    write_blob(lakever_server, issued, b"12345")
    status, message = status_of(lambda: link(sdk, "y", issued, b"123"))
    assert status == 400
    assert "size_bytes" in message


def test_linking_an_address_with_nothing_written_is_404(sdk: LakeFSClient) -> None:
    issued = sdk.staging_api.get_physical_address(REPO, "main", "z").physical_address
    assert status_of(lambda: link(sdk, "z", issued, b"nothing"))[0] == 404


def test_import_status_and_cancel_of_unknown_imports_are_404(
    lakever_server: RunningServer,
) -> None:
    with lakever_server.http() as http:
        url = f"/repositories/{REPO}/branches/main/import"
        assert http.get(url, params={"id": "nope"}).status_code == 404
        assert http.delete(url, params={"id": "nope"}).status_code == 404
        bad = http.post(
            url,
            json={
                "paths": [{"type": "common_prefix", "path": "local://../x", "destination": "d/"}],
                "commit": {"message": "m"},
            },
        )
        assert bad.status_code == 400


def test_import_of_a_prefix_is_one_commit(lakever_server: RunningServer) -> None:
    landing: Path = lakever_server.data_dir / "blocks" / "drop" / "batch-1"
    landing.mkdir(parents=True)
    (landing / "part-0.csv").write_text("a\n")
    with lakever_server.http() as http:
        url = f"/repositories/{REPO}/branches/main/import"
        started = http.post(
            url,
            json={
                "paths": [
                    {
                        "type": "common_prefix",
                        "path": "local://drop/batch-1/",
                        "destination": "imported/",
                    }
                ],
                "commit": {"message": "import batch 1", "metadata": {"batch": "1"}},
            },
        )
        assert started.status_code == 202
        import_id = started.json()["id"]
        status = http.get(url, params={"id": import_id}).json()
        deadline = time.monotonic() + 60
        while not status["completed"] and "error" not in status:
            assert time.monotonic() < deadline, "import did not finish"
            status = http.get(url, params={"id": import_id}).json()
        assert status["completed"], status
        assert status["commit"]["message"] == "import batch 1"
        assert status["commit"]["metadata"]["batch"] == "1"
        assert http.delete(url, params={"id": import_id}).status_code == 409
        listed = http.get(
            f"/repositories/{REPO}/refs/main/objects/ls", params={"prefix": "imported/"}
        ).json()
        assert [o["path"] for o in listed["results"]] == ["imported/part-0.csv"]
