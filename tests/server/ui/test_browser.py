"""The web UI in a real headless Chromium (Debian's package) driven by Playwright.

A user logs in, browses a repository and previews a Parquet file, reads the commit log
with its Airflow link, compares a run branch with ``main`` and merges it, then meets a
merge conflict on the compare page. Each step saves a screenshot: under
``docs/screenshots/`` (shown in ``docs/ui.md`` and the README) when
``LAKEVER_UPDATE_SCREENSHOTS=1``, otherwise in a temporary directory, so a test run
never modifies the working tree.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.ui import sample_files
from tests.server.ui.ui_client import Lake
from tests.support.server import RunningServer

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AIRFLOW_TASK_URL = (
    "http://localhost:8080/dags/orders_daily/runs/scheduled__2026-11-21/tasks/commit_run"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
    ),
]


def _stamp(task_id: str, try_number: str = "1") -> dict[str, str]:
    return {
        "airflow.dag_id": "orders_daily",
        "airflow.run_id": "scheduled__2026-11-21",
        "airflow.task_id": task_id,
        "airflow.try_number": try_number,
        "airflow.task_url": AIRFLOW_TASK_URL,
    }


@pytest.fixture(scope="module")
def demo_repository(lake: Lake) -> str:
    """A lake like a branch-per-run pipeline leaves it: main, a run branch, a rival."""
    repo = lake.repository("orders-lake")
    lake.put(repo, "main", "README.md", b"# Orders lake\nDaily orders, one partition a day.\n")
    lake.put(repo, "main", "tables/orders/day=2026-11-20/part-0.csv", sample_files.csv_rows(80))
    lake.put(repo, "main", "tables/events/events.parquet", sample_files.parquet_table(2000))
    lake.put(repo, "main", "reports/daily.png", sample_files.png(320, 160), "image/png")
    lake.commit(repo, "main", "Load 2026-11-20", _stamp("commit_run"))
    lake.branch(repo, "orders_daily-scheduled__2026-11-21")
    run = "orders_daily-scheduled__2026-11-21"
    lake.put(repo, run, "tables/orders/day=2026-11-21/part-0.csv", sample_files.csv_rows(120))
    lake.put(repo, run, "tables/orders/day=2026-11-21/part-1.csv", sample_files.csv_rows(40))
    lake.commit(repo, run, "Load 2026-11-21", _stamp("commit_run", "2"))
    lake.branch(repo, "backfill-2026-11-20")
    lake.put(repo, "backfill-2026-11-20", "README.md", b"# Orders lake (backfill)\n")
    lake.put(
        repo, "backfill-2026-11-20", "tables/events/events.parquet", sample_files.parquet_table(10)
    )
    lake.commit(repo, "backfill-2026-11-20", "Backfill 2026-11-20")
    lake.put(repo, "main", "README.md", b"# Orders lake\nEdited on main.\n")
    lake.put(repo, "main", "tables/events/events.parquet", sample_files.parquet_table(3000))
    lake.commit(repo, "main", "Fix events")
    lake.protect(repo, "main")
    return repo


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("LAKEVER_UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser_page(lakever_server: RunningServer, screenshots: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, base_url=lakever_server.url
        )
        context.set_default_timeout(float(os.environ.get("LAKEVER_BROWSER_TIMEOUT_MS", "20000")))
        page = context.new_page()
        yield page
        context.close()
        browser.close()


def _shot(page: Any, directory: Path, name: str) -> None:
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def test_log_in_browse_compare_merge_and_see_a_conflict(
    browser_page: Any,
    screenshots: Path,
    demo_repository: str,
    lakever_server: RunningServer,
    lake: Lake,
) -> None:
    from playwright.sync_api import expect

    page, repo = browser_page, demo_repository
    run = "orders_daily-scheduled__2026-11-21"

    # An extra link from Airflow while signed out: log in, land where the link pointed.
    page.goto(f"/repositories/{repo}/compare?ref=main&compare={run}")
    expect(page).to_have_url(
        f"{lakever_server.url}/login?next=%2Frepositories%2F{repo}%2Fcompare%3Fref%3Dmain%26compare%3D{run}"
    )
    page.fill("input[name=access_key_id]", lakever_server.access_key_id)
    page.fill("input[name=secret_access_key]", lakever_server.secret_access_key)
    _shot(page, screenshots, "01-login")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Compare")

    # Repositories, then the object browser, a folder, and a Parquet preview.
    page.click("a.brand")
    expect(page.locator("table.listing")).to_contain_text(repo)
    _shot(page, screenshots, "02-repositories")
    page.click(f"text={repo}")
    expect(page.locator("table.objects")).to_contain_text("README.md")
    _shot(page, screenshots, "03-objects")
    page.click("text=tables/")
    page.click("text=events/")
    page.click("text=events.parquet")
    expect(page.locator(".preview")).to_contain_text("first 50 of 3000 rows")
    expect(page.locator(".preview th").first).to_have_text("event_id")
    _shot(page, screenshots, "04-parquet-preview")
    page.goto(f"/repositories/{repo}/objects?ref=main&path=reports/daily.png")
    image = page.locator("img.image-preview")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 320
    _shot(page, screenshots, "05-image-preview")

    # The commit log links back to the Airflow task that made the commit.
    page.click("nav.tabs >> text=Commits")
    link = page.locator("a.extlink").first
    expect(link).to_have_attribute("href", AIRFLOW_TASK_URL)
    expect(link).to_contain_text("orders_daily.commit_run")
    _shot(page, screenshots, "06-commit-log")

    # Branches: protection shown.
    page.click("nav.tabs >> text=Branches")
    expect(page.locator("tr", has_text="main").locator(".badge-protected")).to_be_visible()
    _shot(page, screenshots, "07-branches")

    # Compare the run branch with main, and merge it.
    page.goto(f"/repositories/{repo}/compare?ref=main&compare={run}")
    expect(page.locator("table.diff")).to_contain_text("day=2026-11-21/part-0.csv")
    _shot(page, screenshots, "08-compare")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("section.merge button[type=submit]")
    expect(page.locator("h1.commit-message")).to_have_text(f"Merge '{run}' into 'main'")
    expect(page.locator("table.diff")).to_contain_text("day=2026-11-21/part-1.csv")
    _shot(page, screenshots, "09-merge-commit")
    assert lake.read(repo, "main", "tables/orders/day=2026-11-21/part-1.csv").status_code == 200

    # A backfill that rewrote the same files as main: its compare page (a URL to share)
    # shows every conflict with both sides, before anyone tries the merge.
    page.goto(f"/repositories/{repo}/compare?ref=main&compare=backfill-2026-11-20")
    expect(page.locator("section.conflict-head h2")).to_have_text("Merge conflict")
    rows = page.locator("table.conflicts tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("README.md")
    expect(rows.nth(1)).to_contain_text("tables/events/events.parquet")
    _shot(page, screenshots, "10-merge-conflict")

    # Signing out ends the session: the same page now asks for a login.
    page.click("text=Sign out")
    page.click("main button[type=submit]")
    page.goto(f"/repositories/{repo}/branches")
    expect(page.locator("h1")).to_have_text("Sign in to lakever")
