"""Watching ``lakefs_workflow`` in the Airflow UI, as ``scripts/airflow_standalone.sh`` serves it.

Starts the script (Airflow 3 standalone + the bundled server) on free ports in a temporary
directory, then drives Debian's headless ``chromium`` with Playwright: log in, trigger
``lakefs_workflow`` from its page, wait for the run to succeed, check every task of the
run in the grid, and save a screenshot of the grid to ``docs/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "airflow_standalone.sh"
DOCS_SCREENSHOT = ROOT / "docs" / "lakefs_workflow_grid.png"
CHROMIUM = shutil.which("chromium")
PASSWORD = "lakever-ui-test"
STARTUP_DEADLINE_S = 900.0
RUN_DEADLINE_S = 1200.0
API_TIMEOUT_S = 60.0
API_DEADLINE_S = 300.0
#: On success the failure path is skipped; every other task must be green.
FAILURE_PATH = {"rollback", "report_failure"}


@dataclass
class Standalone:
    url: str
    log: Path
    _token: str | None = None

    def token(self) -> str:
        if self._token is None:
            request = urllib.request.Request(
                f"{self.url}/auth/token",
                data=json.dumps({"username": "admin", "password": PASSWORD}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=API_TIMEOUT_S) as response:
                self._token = str(json.load(response)["access_token"])
        return self._token

    def get(self, path: str) -> Any:
        """GET on the REST API; the API server of a loaded machine may answer late."""
        deadline = time.monotonic() + API_DEADLINE_S
        while True:
            try:
                request = urllib.request.Request(
                    f"{self.url}/api/v2{path}",
                    headers={"Authorization": f"Bearer {self.token()}"},
                )
                with urllib.request.urlopen(request, timeout=API_TIMEOUT_S) as response:
                    return json.load(response)
            except urllib.error.HTTPError:
                raise
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)  # polling interval before asking again


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def dag_parsed(standalone: Standalone) -> bool:
    try:
        return bool(standalone.get("/dags/lakefs_workflow")["dag_id"] == "lakefs_workflow")
    except (OSError, KeyError):
        return False


@pytest.fixture(scope="module")
def standalone() -> Iterator[Standalone]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright")
    with tempfile.TemporaryDirectory(prefix="lakever-standalone-") as state:
        port = free_port()
        # The script sets Airflow up itself: none of this test process's AIRFLOW* settings.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "LAKEVER_STANDALONE_DIR": state,
                "LAKEVER_PORT": str(free_port()),
                "AIRFLOW_PORT": str(port),
                "AIRFLOW_PASSWORD": PASSWORD,
            }
        )
        log = Path(state) / "standalone.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                ["bash", str(SCRIPT)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_DEADLINE_S
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Airflow standalone did not start:\n{log.read_text()[-5000:]}")
                time.sleep(2)  # polling interval while Airflow starts
            running = Standalone(url=url, log=log)
            while not dag_parsed(running):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"lakefs_workflow was not parsed:\n{log.read_text()[-5000:]}")
                time.sleep(2)  # polling interval while the DAG processor parses
            yield running
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_for_run(standalone: Standalone, run_id: str) -> str:
    deadline = time.monotonic() + RUN_DEADLINE_S
    while time.monotonic() < deadline:
        state = str(standalone.get(f"/dags/lakefs_workflow/dagRuns/{run_id}")["state"])
        if state in ("success", "failed"):
            return state
        time.sleep(5)  # polling interval while the run goes on
    raise AssertionError(f"run {run_id} did not finish within {RUN_DEADLINE_S:.0f}s")


def test_ui_triggers_lakefs_workflow_and_every_task_of_the_run_is_green(
    standalone: Standalone, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    # The README's screenshot is refreshed only on request, so a test run leaves the
    # working tree as it was.
    update_docs = os.environ.get("LAKEVER_UPDATE_SCREENSHOTS") == "1"
    screenshot = DOCS_SCREENSHOT if update_docs else tmp_path / DOCS_SCREENSHOT.name

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(300_000)  # the UI is slow on a loaded 2-core machine
        page.goto(f"{standalone.url}/dags/lakefs_workflow")
        page.locator("input[name=username]").fill("admin")
        page.locator("input[name=password]").fill(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"/dags/lakefs_workflow"))

        page.get_by_role("button", name="Trigger").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Trigger").click()
        dialog.wait_for(state="hidden")

        # A fresh Airflow: the click made the one and only run.
        (run,) = standalone.get("/dags/lakefs_workflow/dagRuns")["dag_runs"]
        assert run["run_type"] == "manual"
        state = wait_for_run(standalone, run["dag_run_id"])
        instances = standalone.get(
            f"/dags/lakefs_workflow/dagRuns/{run['dag_run_id']}/taskInstances"
        )["task_instances"]
        states = {ti["task_id"]: ti["state"] for ti in instances}
        assert state == "success", f"{states}\n{standalone.log.read_text()[-3000:]}"
        assert {t: s for t, s in states.items() if t not in FAILURE_PATH} == {
            t: "success" for t in states if t not in FAILURE_PATH
        }
        assert {states[t] for t in FAILURE_PATH} == {"skipped"}

        page.goto(f"{standalone.url}/dags/lakefs_workflow/runs/{run['dag_run_id']}")
        page.get_by_text("verify_published").first.wait_for()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshot))
        browser.close()
    assert screenshot.stat().st_size > 10_000
