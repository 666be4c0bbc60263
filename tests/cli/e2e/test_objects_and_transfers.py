"""``lakever fs`` and ``lakever import`` against the real server: single objects,
recursive parallel transfers of 1,000 files, stdin/stdout, and zero-copy import."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from tests.cli.e2e.lakever_runner import Lakever

FILES = 1000


def make_tree(root: Path, files: int) -> dict[str, bytes]:
    """``files`` small files in nested directories, each with distinct content."""
    contents: dict[str, bytes] = {}
    for i in range(files):
        relative = f"day={i % 7}/hour={i % 24:02d}/part-{i:04d}.json"
        data = f'{{"row": {i}, "payload": "{"x" * (i % 50)}"}}\n'.encode()
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        contents[relative] = data
    return contents


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_upload_stat_cat_ls_download_and_rm_one_object(
    lakever: Lakever, repo: str, tmp_path: Path
) -> None:
    local = tmp_path / "report.csv"
    local.write_bytes(b"id,value\n1,2\n")
    uploaded = lakever.json("fs", "upload", str(local), f"lakefs://{repo}/main/reports/")
    assert uploaded == {"message": uploaded["message"], "objects": 1, "bytes": 13}
    assert "lakefs://" in uploaded["message"]
    stat = lakever.json("fs", "stat", f"lakefs://{repo}/main/reports/report.csv")
    assert stat["size_bytes"] == 13
    assert stat["checksum"] == hashlib.md5(local.read_bytes()).hexdigest()
    assert (
        lakever.run("fs", "cat", f"lakefs://{repo}/main/reports/report.csv").stdout_bytes
        == local.read_bytes()
    )
    top = lakever.json("fs", "ls", f"lakefs://{repo}/main/")
    assert [(e["path_type"], e["path"]) for e in top] == [("common_prefix", "reports/")]
    assert [e["path"] for e in lakever.json("fs", "ls", f"lakefs://{repo}/main/", "-R")] == [
        "reports/report.csv"
    ]
    table = lakever.run("fs", "ls", f"lakefs://{repo}/main/reports/").stdout
    assert "reports/report.csv" in table
    assert "13 B" in table
    out = tmp_path / "out"
    out.mkdir()
    lakever.run("fs", "download", f"lakefs://{repo}/main/reports/report.csv", str(out))
    assert (out / "report.csv").read_bytes() == local.read_bytes()
    lakever.run("fs", "rm", f"lakefs://{repo}/main/reports/report.csv")
    missing = lakever.json_error("fs", "stat", f"lakefs://{repo}/main/reports/report.csv", code=3)
    assert missing["status"] == 404
    assert (
        lakever.json_error("fs", "cat", f"lakefs://{repo}/main/nope.csv", code=3)["status"] == 404
    )


def test_stdin_upload_and_stdout_download(lakever: Lakever, repo: str) -> None:
    lakever.run("fs", "upload", "-", f"lakefs://{repo}/main/piped.txt", input="from a pipe\n")
    result = lakever.run("fs", "download", f"lakefs://{repo}/main/piped.txt", "-")
    assert result.stdout == "from a pipe\n"


def test_recursive_upload_of_1000_files_and_download_back(
    lakever: Lakever, repo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    contents = make_tree(source, FILES)
    started = time.perf_counter()
    uploaded = lakever.json(
        "--parallelism",
        "8",
        "fs",
        "upload",
        str(source),
        f"lakefs://{repo}/main/raw",
        "--recursive",
    )
    upload_s = time.perf_counter() - started
    assert uploaded["objects"] == FILES
    assert uploaded["bytes"] == sum(len(c) for c in contents.values())
    listed = lakever.json("fs", "ls", f"lakefs://{repo}/main/raw/", "--recursive")
    assert sorted(e["path"] for e in listed) == sorted(f"raw/{k}" for k in contents)
    lakever.run("commit", f"lakefs://{repo}/main", "-m", "raw files")
    target = tmp_path / "back"
    started = time.perf_counter()
    downloaded = lakever.json("fs", "download", f"lakefs://{repo}/main/raw/", str(target), "-R")
    download_s = time.perf_counter() - started
    assert downloaded["objects"] == FILES
    assert read_tree(target) == contents
    removed = lakever.json("fs", "rm", f"lakefs://{repo}/main/raw/", "--recursive", "--yes")
    assert removed["objects"] == FILES
    assert lakever.json("fs", "ls", f"lakefs://{repo}/main/", "-R") == []
    with capsys.disabled():
        print(f"\n1,000 files: upload {upload_s:.2f}s, download {download_s:.2f}s (8 parallel)")


def test_progress_bar_is_drawn_on_request(lakever: Lakever, repo: str, tmp_path: Path) -> None:
    source = tmp_path / "few"
    make_tree(source, 30)
    shown = lakever.run(
        "fs", "upload", str(source), f"lakefs://{repo}/main/few/", "-R", "--progress"
    )
    assert "upload" in shown.stderr
    assert "30/30 files" in shown.stderr
    quiet = lakever.run("fs", "upload", str(source), f"lakefs://{repo}/main/few/", "-R")
    assert quiet.stderr == ""  # not a terminal: no bar unless asked


def test_large_object_streams_both_ways_with_its_content_type(
    lakever: Lakever, repo: str, tmp_path: Path
) -> None:
    big = tmp_path / "table.parquet"
    big.write_bytes(os.urandom(24 * 1024 * 1024 + 17))  # several chunks, not a multiple
    (tmp_path / "rows.json").write_text('{"a": 1}')
    lakever.run("fs", "upload", str(big), f"lakefs://{repo}/main/big/", "--progress")
    lakever.run("fs", "upload", str(tmp_path / "rows.json"), f"lakefs://{repo}/main/rows.json")
    stat = lakever.json("fs", "stat", f"lakefs://{repo}/main/big/table.parquet")
    assert stat["size_bytes"] == big.stat().st_size
    assert stat["checksum"] == hashlib.md5(big.read_bytes()).hexdigest()
    assert lakever.json("fs", "stat", f"lakefs://{repo}/main/rows.json")["content_type"] == (
        "application/json"
    )
    back = tmp_path / "back.parquet"
    shown = lakever.run(
        "fs", "download", f"lakefs://{repo}/main/big/table.parquet", str(back), "--progress"
    )
    assert "1/1 files" in shown.stderr
    assert back.read_bytes() == big.read_bytes()
    assert not list(tmp_path.glob(".*lakever-partial"))


def test_upload_content_type_is_guessed_or_given(
    lakever: Lakever, repo: str, tmp_path: Path
) -> None:
    (tmp_path / "page.html").write_text("<p>x</p>")
    (tmp_path / "blob").write_bytes(b"\x00\x01")
    lakever.run("fs", "upload", str(tmp_path / "page.html"), f"lakefs://{repo}/main/")
    lakever.run("fs", "upload", str(tmp_path / "blob"), f"lakefs://{repo}/main/")
    lakever.run(
        "fs",
        "upload",
        str(tmp_path / "blob"),
        f"lakefs://{repo}/main/typed.csv",
        "--content-type",
        "text/csv",
    )
    types = {
        name: lakever.json("fs", "stat", f"lakefs://{repo}/main/{name}")["content_type"]
        for name in ("page.html", "blob", "typed.csv")
    }
    assert types == {
        "page.html": "text/html",
        "blob": "application/octet-stream",
        "typed.csv": "text/csv",
    }


def test_upload_of_a_directory_needs_recursive(lakever: Lakever, repo: str, tmp_path: Path) -> None:
    result = lakever.run("fs", "upload", str(tmp_path), f"lakefs://{repo}/main/x/", code=2)
    assert "--recursive" in result.stderr
    missing = lakever.run("fs", "upload", str(tmp_path / "nope"), f"lakefs://{repo}/main/x", code=2)
    assert "no such file" in missing.stderr


def test_failed_uploads_are_counted_with_the_first_error(lakever: Lakever, tmp_path: Path) -> None:
    source = tmp_path / "src"
    make_tree(source, 3)
    result = lakever.run("fs", "upload", str(source), "lakefs://no-such-repo/main/", "-R", code=3)
    assert result.stderr.startswith("lakever: error: 3 of 3 uploads failed; first: ")
    assert "not found" in result.stderr


def test_import_from_a_block_store_path(lakever: Lakever, repo: str) -> None:
    # The quickstart block store maps local://<rest> to <data dir>/blocks/<rest>.
    ingest = lakever.server.data_dir / "blocks" / f"ingest-{repo}"
    contents = make_tree(ingest, 12)
    imported = lakever.json(
        "import",
        "--from",
        f"local://ingest-{repo}/",
        "--to",
        f"lakefs://{repo}/main/imported/",
        "-m",
        "import landing zone",
        "--meta",
        "source=landing",
    )
    assert imported["objects"] == 12
    commit = lakever.json("show", "commit", f"lakefs://{repo}/main")
    assert commit["id"] == imported["commit_id"]
    assert commit["message"] == "import landing zone"
    listed = lakever.json("fs", "ls", f"lakefs://{repo}/main/imported/", "-R")
    assert sorted(e["path"] for e in listed) == sorted(f"imported/{k}" for k in contents)
    first = sorted(contents)[0]
    assert (
        lakever.run("fs", "cat", f"lakefs://{repo}/main/imported/{first}").stdout_bytes
        == contents[first]
    )


def test_failed_downloads_are_counted_and_the_others_still_land(
    lakever: Lakever, repo: str, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    contents = make_tree(source, 3)
    lakever.run("fs", "upload", str(source), f"lakefs://{repo}/main/in/", "-R")
    target = tmp_path / "back"
    blocked = sorted(contents)[0]
    (target / blocked).mkdir(parents=True)  # a directory where the file must go
    error = lakever.json_error(
        "fs", "download", f"lakefs://{repo}/main/in/", str(target), "-R", code=1
    )
    assert error["message"].startswith(f"1 of 3 downloads failed; first: in/{blocked}: ")
    for relative in sorted(contents)[1:]:
        assert (target / relative).read_bytes() == contents[relative]
