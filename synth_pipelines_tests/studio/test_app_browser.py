"""The studio app in a real browser: Playwright driving Debian's chromium against ``synth studio``.

One walk through the app, as a user would, with the provider (the real ChatOpenAI client) answering from the
loopback OpenAI-compatible stub: upload a DDL, generate, see every table's preview and a green report, modify
in words through the model and see the diff, undo, download the ZIP, edit the spec and regenerate from it (and
see a broken spec refused), promote the dataset and get its Dagster link, ask in SQL and in words and see the
SQL, the table and the chart, and see refused queries explained. A screenshot of each step goes to
data/screenshots/. The provider key planted in the studio's environment never appears in the page.
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
from typing import TYPE_CHECKING, Any

import pytest
import requests

from synth_pipelines_tests.llm_stub import LLMStub
from synth_pipelines_tests.studio.conftest import ROOT, SECRET_KEY, free_port, studio_model

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
def studio(tmp_path_factory: pytest.TempPathFactory, _llm_stub_server: LLMStub) -> Iterator[tuple[str, Path]]:
    """``synth studio`` with its own data dir and the provider configured to answer from the loopback stub."""
    data_dir = tmp_path_factory.mktemp("studio-app")
    port = free_port()
    env = os.environ | {
        "PYTHONPATH": str(ROOT),
        "SYNTH_DATA_DIR": str(data_dir),
        "SYNTH_LLM_PROVIDER": "openai",
        "SYNTH_LLM_MODEL": "stub-model",
        "SYNTH_LLM_BASE_URL": _llm_stub_server.openai_url,
        "SYNTH_LLM_MAX_RETRIES": "0",
        "OPENAI_API_KEY": SECRET_KEY,
    }
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
        yield url, data_dir
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()


def test_studio_walkthrough(studio: tuple[str, Path], llm_stub: LLMStub, tmp_path: Path) -> None:
    import yaml
    from playwright.sync_api import expect, sync_playwright

    studio_url, data_dir = studio
    llm_stub.responder = studio_model
    expect.set_options(timeout=TIMEOUT_MS)  # a busy shared machine: waits are bounded, never asserted
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ddl = tmp_path / "library.sql"
    ddl.write_text((ROOT / "data" / "schemas" / "library.sql").read_text(encoding="utf-8"), encoding="utf-8")
    tables = ("authors", "publishers", "books", "members", "loans", "reviews")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)

        def idle() -> None:
            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=TIMEOUT_MS)

        def commit_text(box: Any, text: str) -> None:
            # A text area's value reaches the app on blur or Ctrl+Enter; a button clicked right after typing
            # can rerun with the old value (seen once in a fresh-clone CI run: the broken spec never arrived).
            # A rerun still in flight can also re-create the text area with the dataset's spec after the fill
            # (seen in a fresh-clone run right after a regenerate): fill again, a bounded number of times.
            for _ in range(3):
                box.fill(text)
                box.press("Control+Enter")
                idle()
                if box.input_value() == text:
                    break
            expect(box).to_have_value(text)

        def shot(name: str) -> None:
            idle()  # a settled page, not one mid-rerun
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
            assert SECRET_KEY not in page.content()

        page.goto(studio_url)
        expect(page.get_by_role("heading", name="Data Generation")).to_be_visible()

        # 0. The provider: offline by default; choose the configured one (its key is never shown).
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("API key: set in the studio's environment.")).to_be_visible()
        sidebar.get_by_text("openai", exact=True).click()
        expect(page.get_by_label("Model")).to_be_enabled()
        expect(page.get_by_label("Model")).to_have_value("stub-model")

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
        for table in tables:
            page.get_by_role("tab", name=table, exact=True).click()
            expect(page.get_by_text(re.compile(rf"^{table}: \d+ rows, page 1 of \d+$"))).to_be_visible()
        page.get_by_role("tab", name="members", exact=True).click()
        shot("02-generated")

        # 3. Modify in words: the model's plan goes through the gate and the validation; the diff shows.
        page.get_by_text("Feedback", exact=True).click()
        page.get_by_label("Edit", exact=True).fill("make 30% of members premium")
        page.get_by_role("button", name="Submit edit").click()
        expect(page.get_by_text(re.compile(r"Version 2: members: \d+ changed"))).to_be_visible()
        expect(page.get_by_text("The model's edit: about 30% of members become premium")).to_be_visible()
        expect(page.get_by_text("members: changed rows, before → after")).to_be_visible()
        assert "Feedback: make 30% of members premium" in str(llm_stub.log[-1].body)
        shot("03-modified")

        # 4. Undo it.
        page.get_by_role("button", name="Undo this edit").click()
        expect(page.get_by_text("Undone: version 3 restores version 1.")).to_be_visible()
        shot("04-undone")

        # 5. Download the ZIP of CSVs.
        saved = tmp_path / "dataset.zip"
        download_file(page, "Download ZIP (CSV)", saved)
        assert sorted(zipfile.ZipFile(saved).namelist()) == sorted(f"{t}.csv" for t in tables)

        # 6. Edit the spec and regenerate from it: authors drops to 7 rows in a new dataset; a broken spec
        #    is refused with one line in the page.
        spec_box = open_spec_editor(page)
        spec = yaml.safe_load(spec_box.input_value())
        spec["tables"]["authors"]["rows"] = 7
        commit_text(spec_box, yaml.safe_dump(spec, sort_keys=False))
        page.get_by_role("button", name="Regenerate from this spec").click()
        expect(page.get_by_text(re.compile(r"Validation passed: \d+ constraints"))).to_be_visible()
        page.get_by_role("tab", name="authors", exact=True).click()
        expect(page.get_by_text("authors: 7 rows, page 1 of 1", exact=True)).to_be_visible()
        shot("05-spec-regenerated")
        idle()
        spec_box = open_spec_editor(page)
        commit_text(spec_box, "tables: [unclosed")
        page.get_by_role("button", name="Regenerate from this spec").click()
        expect(page.get_by_text(re.compile(r"the spec is not valid YAML"))).to_be_visible()
        expect(page.get_by_text("authors: 7 rows, page 1 of 1", exact=True)).to_be_visible()  # nothing replaced

        # 7. Promote it: DDL and spec land in data/schemas/, and the page links to the group in the Dagster UI.
        idle()
        group = page.get_by_label("Group name")
        group.fill("studio library")
        group.press("Enter")
        idle()
        page.get_by_role("button", name="Promote").click()
        link = page.get_by_role("link", name="Open studio_library in the Dagster UI")
        expect(link).to_have_attribute(
            "href", "http://127.0.0.1:3000/locations/synth_pipelines/asset-groups/studio_library"
        )
        assert (data_dir / "schemas" / "studio_library.sql").is_file()
        assert (
            yaml.safe_load((data_dir / "schemas" / "studio_library.spec.yaml").read_text())["tables"]["authors"]["rows"]
            == 7
        )
        shot("06-promoted")

        # 8. Talk to your data: SQL and words; each answer shows the SQL, the table and its chart; refused
        #    queries (the user's own, or one the model wrote) say why and never run.
        page.get_by_text("Talk to your data", exact=True).click()
        expect(page.get_by_role("heading", name="Talk to your data")).to_be_visible()
        chat = page.get_by_placeholder("Ask a question, SELECT ..., or 'tables'")
        chat.fill("SELECT tier, count(*) AS n FROM members GROUP BY tier ORDER BY tier")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"^\d+ rows; showing \d+$"))).to_be_visible()
        expect(page.locator("code").filter(has_text="GROUP BY tier")).to_be_visible()
        expect(page.get_by_role("cell", name="basic", exact=True)).to_be_visible()
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1)
        idle()
        chat.fill("how many members are there per tier?")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"^members per tier\. \d+ rows\.$"))).to_be_visible()
        expect(page.locator("code").filter(has_text=re.compile("GROUP BY tier", re.I))).to_have_count(2)
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(2)
        assert "how many members are there per tier?" in str(llm_stub.log[-1].body)
        shot("07-talk")
        idle()
        chat.fill("DROP TABLE members")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Not answered: .*DROP"))).to_have_count(1)
        idle()
        chat.fill("please drop the members")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Not answered: .*DROP"))).to_have_count(2)
        expect(page.get_by_text("SQL (the model's; not run)")).to_be_visible()
        shot("08-refused")
        assert "Traceback" not in page.content()
        browser.close()


def open_spec_editor(page: Page) -> Any:
    """The spec text area, opening its expander when a rerun left it closed."""
    from playwright.sync_api import expect

    box = page.get_by_label("Spec (YAML)")
    if not box.is_visible():
        page.get_by_text("Generation spec (YAML): edit and regenerate").click()
    expect(box).to_be_visible()
    return box


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
