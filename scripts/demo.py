"""``make demo``: run ``lakefs_workflow`` end to end on the embedded default, and show it.

1. start ``lakever-server run --quickstart`` on SQLite + local disk under ``.lakever/demo``;
2. create the ``lakever-demo`` repository and commit yesterday's orders on ``main``;
3. run the ``lakefs_workflow`` DAG with ``airflow dags test`` (a real PySpark job);
4. print the run branch, its commits, the merge commit and a diff summary, read back
   with ``lakefs_sdk``; stop the server.

Exit status 0 when the run merged; otherwise 1 with what failed and where the logs are.
Each demo starts from fresh server data; the Airflow metadata database is kept between
demos (its first migration takes a while).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / ".lakever" / "demo"
SERVER_DIR = DEMO_DIR / "server"
AIRFLOW_HOME = DEMO_DIR / "airflow"
REPOSITORY = "lakever-demo"
DAG_ID = "lakefs_workflow"
STARTUP_DEADLINE_S = 60.0

sys.path.insert(0, str(ROOT / "example_dags"))


class DemoError(Exception):
    """A step of the demo failed; the message says which and where to look."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(port: int) -> subprocess.Popen[bytes]:
    """Start the bundled server on fresh embedded stores; wait for its health check."""
    shutil.rmtree(SERVER_DIR, ignore_errors=True)
    SERVER_DIR.mkdir(parents=True)
    command = [sys.executable, "-m", "lakever_server.serve", "run", "--quickstart"]
    command += ["--data-dir", str(SERVER_DIR), "--host", "127.0.0.1", "--port", str(port)]
    log_path = DEMO_DIR / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    url = f"http://127.0.0.1:{port}/api/v1/healthcheck"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"the server exited with {process.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 204:
                    return process
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)  # polling interval while the server starts
    process.kill()
    raise DemoError(f"the server did not answer within {STARTUP_DEADLINE_S:.0f}s; see {log_path}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_workflow(url: str, day: str) -> Any:
    """Migrate Airflow's database if needed and run the DAG; return the result."""
    from lakever_examples.local_run import LakeverEndpoint, airflow_env, dags_test, migrate

    from lakever_server.auth import QUICKSTART_ACCESS_KEY_ID, QUICKSTART_SECRET_ACCESS_KEY

    endpoint = LakeverEndpoint(url, QUICKSTART_ACCESS_KEY_ID, QUICKSTART_SECRET_ACCESS_KEY)
    env = airflow_env(AIRFLOW_HOME, endpoint)
    if not (AIRFLOW_HOME / "airflow.db").exists():
        step("migrating Airflow's metadata database (first demo only)")
        migrate(env)
    step(f"running {DAG_ID} for {day} with `airflow dags test` (PySpark in local mode)")
    started = time.monotonic()
    result = dags_test(env, DAG_ID, day, {"repository": REPOSITORY})
    (DEMO_DIR / "dags-test.log").write_text(result.output)
    step(f"{DAG_ID} finished: {result.state} in {time.monotonic() - started:.0f}s")
    return result


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def show(client: Any, before: str, run_id: str) -> None:
    """Print the run branch, its commits, the merge commit and a diff summary."""
    from airflow_provider_lakever.utils.naming import run_branch_name

    merge = client.refs_api.log_commits(REPOSITORY, "main", amount=1).results[0]
    if merge.metadata.get("airflow.run_id") != run_id or len(merge.parents) != 2:
        raise DemoError(f"main's head {merge.id[:12]} is not the merge of run {run_id}")
    branch = run_branch_name(DAG_ID, run_id)
    print(f"\nRun branch: {branch} (deleted by the cleanup task after the merge)")
    print("Its commits:")
    for commit in client.refs_api.log_commits(REPOSITORY, merge.parents[1], amount=3).results:
        print(f"  {commit.id[:12]}  {commit.message}")
        for key in ("airflow.dag_id", "airflow.run_id", "airflow.task_id", "input_commit"):
            if key in (commit.metadata or {}):
                print(f"      {key} = {commit.metadata[key]}")
    print(f"\nMerge commit on main: {merge.id[:12]}  {merge.message}")
    for key, value in sorted(merge.metadata.items()):
        if not key.startswith("lakever."):
            print(f"      {key} = {value}")
    diff = client.refs_api.diff_refs(REPOSITORY, before, merge.id, type="two_dot").results
    counts = Counter(d.type for d in diff)
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no change"
    print(f"\nDiff of main {before[:12]}..{merge.id[:12]}: {summary}")
    for change in diff:
        print(f"  {change.type:8} {change.path}  ({change.size_bytes or 0} bytes)")


def show_totals(client: Any, day: str) -> None:
    import io

    import pyarrow.parquet as pq
    from lakever_examples.data import totals_prefix

    listing = client.objects_api.list_objects(REPOSITORY, "main", prefix=totals_prefix(day))
    for stats in listing.results:
        table = pq.read_table(
            io.BytesIO(client.objects_api.get_object(REPOSITORY, "main", stats.path))
        )
        print(f"\n{stats.path} on main, as Spark wrote it:")
        for row in table.sort_by("region").to_pylist():
            print(f"  {row['region']:6} {row['orders']:4} orders  {row['revenue'] / 100:>12,.2f}")


def main() -> int:
    from lakefs_sdk.client import LakeFSClient
    from lakefs_sdk.configuration import Configuration
    from lakever_examples.local_run import failure_excerpt
    from lakever_examples.repository import ensure_repository, seed_orders

    from lakever_server.auth import QUICKSTART_ACCESS_KEY_ID, QUICKSTART_SECRET_ACCESS_KEY

    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    port = free_port()
    step(f"starting lakever-server on http://127.0.0.1:{port} (data in {SERVER_DIR})")
    server = start_server(port)
    try:
        url = f"http://127.0.0.1:{port}"
        client = LakeFSClient(  # type: ignore[no-untyped-call]
            Configuration(
                host=f"{url}/api/v1",
                username=QUICKSTART_ACCESS_KEY_ID,
                password=QUICKSTART_SECRET_ACCESS_KEY,
            )
        )
        ensure_repository(client, REPOSITORY)
        before = seed_orders(client, REPOSITORY, day)
        step(f"committed the orders of {day} on main of {REPOSITORY} ({before[:12]})")
        result = run_workflow(url, day)
        if not result.succeeded or result.run_id is None:
            print(failure_excerpt(result.output), file=sys.stderr)
            raise DemoError(
                f"{DAG_ID} did not succeed (state {result.state}); "
                f"full log: {DEMO_DIR / 'dags-test.log'}"
            )
        show(client, before, result.run_id)
        show_totals(client, day)
    finally:
        step("stopping lakever-server")
        stop_server(server)
    step("demo done")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    try:
        sys.exit(main())
    except DemoError as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        sys.exit(1)
