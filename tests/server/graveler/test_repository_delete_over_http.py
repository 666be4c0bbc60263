"""Deleting a repository over the REST API of a real server removes its tree storage, and
the same repository can be created again at once, on the same namespace."""

from __future__ import annotations

from pathlib import Path

import lakefs_sdk

from lakever_server.storage.kv.sqlite import SQLiteKV
from tests.support.server import start_server


def index_rows(data_dir: Path, namespace: str) -> int:
    """Rows of the namespace's node index, read from the server's SQLite file."""
    kv = SQLiteKV(data_dir / "metadata.db")
    try:
        return sum(1 for _ in kv.scan(f"graveler/nodeindex/{namespace}"))
    finally:
        kv.close()


def test_delete_then_create_again_over_http(tmp_path: Path) -> None:
    namespace = "local://lake/events"
    packs = tmp_path / "blocks" / "lake" / "events" / "_lakever" / "packs"
    with start_server(tmp_path) as server:
        sdk = server.lakefs_sdk_client()
        creation = lakefs_sdk.RepositoryCreation(name="events", storage_namespace=namespace)
        sdk.repositories_api.create_repository(creation)
        for i in range(50):
            sdk.objects_api.upload_object("events", "main", f"day/{i:03}.csv", content=b"a,b\n")
        sdk.commits_api.commit("events", "main", lakefs_sdk.CommitCreation(message="day"))
        assert list(packs.iterdir())
        assert index_rows(tmp_path, namespace) > 0

        sdk.repositories_api.delete_repository("events")
        assert list(packs.iterdir()) == []
        assert index_rows(tmp_path, namespace) == 0
        # Object data stays in the namespace (as lakeFS leaves it).
        kept = list((tmp_path / "blocks" / "lake" / "events").iterdir())
        assert [p for p in kept if p.name != "_lakever"]

        sdk.repositories_api.create_repository(creation)
        for i in range(50):
            sdk.objects_api.upload_object("events", "main", f"day/{i:03}.csv", content=b"a,b\n")
        sdk.commits_api.commit("events", "main", lakefs_sdk.CommitCreation(message="again"))
    with start_server(tmp_path) as server:  # a fresh process: nothing cached
        sdk = server.lakefs_sdk_client()
        listed = sdk.objects_api.list_objects("events", "main", amount=1000).results
        assert len(listed) == 50
        assert bytes(sdk.objects_api.get_object("events", "main", "day/007.csv")) == b"a,b\n"
