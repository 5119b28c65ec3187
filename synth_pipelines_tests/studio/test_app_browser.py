"""The studio app in a real browser: Playwright driving Debian's chromium against ``synth studio``.

One walk through the app, as a user would: upload a DDL, generate, see every table's preview and a green
report, modify with SQL and see the diff, undo, download the ZIP, ask a SQL question and see the SQL and
the table, and see a refused query explained. A screenshot of each step goes to data/screenshots/.
Without /usr/bin/chromium the test is skipped, unless SYNTH_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from synth_pipelines_tests.studio.conftest import ROOT, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = ROOT / "data" / "screenshots"
TIMEOUT_MS = 90_000

if not CHROMIUM.exists():
    if os.environ.get("SYNTH_REQUIRE_BROWSER") == "1":
        raise RuntimeError("SYNTH_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (scripts/install_chromium.sh)")
    pytest.skip("no /usr/bin/chromium (scripts/install_chromium.sh installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("studio-app")
    port = free_port()
    env = os.environ | {"PYTHONPATH": str(ROOT), "SYNTH_DATA_DIR": str(data_dir)}
    log = open(data_dir / "studio.log", "wb")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "synth_pipelines.cli", "studio", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,  # streamlit runs as a child: stop the whole group
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"synth studio did not start: {(data_dir / 'studio.log').read_text()}")
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()


def test_studio_walkthrough(studio_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)  # a busy shared machine: waits are bounded, never asserted
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ddl = tmp_path / "library.sql"
    ddl.write_text((ROOT / "data" / "schemas" / "library.sql").read_text(encoding="utf-8"), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)

        def shot(name: str) -> None:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

        page.goto(studio_url)
        expect(page.get_by_role("heading", name="Data Generation")).to_be_visible()

        # 1. Upload a DDL: the parsed schema is summarized before anything is generated.
        page.locator("input[type=file]").set_input_files(str(ddl))
        expect(page.get_by_text(re.compile(r"6 tables \(postgres\), insert order: authors"))).to_be_visible()
        rows = page.get_by_label("Rows per table")
        rows.fill("20")
        rows.press("Enter")
        shot("01-upload")

        # 2. Generate: a green report, and a preview of every table.
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text(re.compile(r"Validation passed: \d+ constraints and rules checked"))).to_be_visible()
        for table in ("authors", "publishers", "books", "members", "loans", "reviews"):
            page.get_by_role("tab", name=table, exact=True).click()
            expect(page.get_by_text(re.compile(rf"^{table}: \d+ rows, page 1 of \d+$"))).to_be_visible()
        page.get_by_role("tab", name="members", exact=True).click()
        shot("02-generated")

        # 3. Modify with SQL: the diff, with before/after rows.
        page.get_by_label("Edit", exact=True).fill("UPDATE members SET tier = 'premium' WHERE member_id % 10 < 3")
        page.get_by_role("button", name="Submit edit").click()
        expect(page.get_by_text(re.compile(r"Version 2: members: \d+ changed"))).to_be_visible()
        expect(page.get_by_text("members: changed rows, before → after")).to_be_visible()
        shot("03-modified")

        # 4. Undo it.
        page.get_by_role("button", name="Undo this edit").click()
        expect(page.get_by_text("Undone: version 3 restores version 1.")).to_be_visible()
        shot("04-undone")

        # 5. Download the ZIP of CSVs.
        saved = tmp_path / "dataset.zip"
        download_file(page, "Download ZIP (CSV)", saved)
        assert sorted(zipfile.ZipFile(saved).namelist()) == sorted(
            f"{t}.csv" for t in ("authors", "publishers", "books", "members", "loans", "reviews")
        )

        # 6. Talk to your data: SQL in, the SQL and the table out; a refused query says why.
        page.get_by_text("Talk to your data", exact=True).click()
        expect(page.get_by_role("heading", name="Talk to your data")).to_be_visible()
        chat = page.get_by_placeholder("SELECT ... or 'tables'")
        chat.fill("SELECT tier, count(*) AS n FROM members GROUP BY tier ORDER BY tier")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"^\d+ rows; showing \d+$"))).to_be_visible()
        expect(page.locator("code").filter(has_text="GROUP BY tier")).to_be_visible()
        expect(page.get_by_role("cell", name="basic", exact=True)).to_be_visible()
        chat.fill("DROP TABLE members")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Not answered: .*DROP"))).to_be_visible()
        shot("05-talk")
        assert "Traceback" not in page.content()
        browser.close()


def download_file(page: Page, button: str, target: Path, attempts: int = 3) -> None:
    """Click a download button once the app is idle and save the file.

    Streamlit serves a download from a media URL that a rerun replaces; a rerun still settling when the
    button is clicked cancels the browser's fetch ("Download.save_as: canceled", seen on a loaded
    machine). A person would click again; so does this, a bounded number of times.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    for attempt in range(1, attempts + 1):
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=30_000)
        with page.expect_download() as download:
            page.get_by_role("button", name=button).click()
        try:
            download.value.save_as(target)
            return
        except PlaywrightError as exc:
            if "canceled" not in str(exc) or attempt == attempts:
                raise
