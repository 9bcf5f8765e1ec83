"""The report page in a real browser (Debian's headless Chromium through Playwright), opened
from disk as a user would: it renders, logs no console error, requests nothing but itself,
and hostile record text stays text. The screenshot under docs/ is taken here."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser

import synthloom
from synthloom.records import Status
from synthloom.report.build import write_report
from synthloom.store.sqlite import RunStore
from tests.helpers import write_recipe

pytestmark = pytest.mark.integration
HOSTILE = "<script>alert(1)</script> then <img src=x onerror=alert(2)>"
DOCS = Path(__file__).parents[2] / "docs" / "report.png"


def test_the_report_opens_from_disk_with_no_error_and_no_request(
    tmp_path: Path, browser: Browser
) -> None:
    outdir = tmp_path / "out"
    folder = tmp_path / "recipe"
    folder.mkdir()
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs a loop on this thread
        pool.submit(
            synthloom.run, write_recipe(folder), outdir, n=40, backend=synthloom.FakeBackend()
        ).result()
        with RunStore.in_dir(outdir) as store:  # a record whose text is an attack
            record = next(iter(store.planned_records(Status.ACCEPTED)))
            record.data["question"] = HOSTILE
            store.put_record(record, "hostile")
        written = pool.submit(write_report, outdir).result()

    page = browser.new_page(viewport={"width": 1100, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    url = written.html_path.resolve().as_uri()
    page.goto(url)
    assert page.title().startswith("synthloom report")
    assert page.locator("h2", has_text="Verdicts").is_visible()
    assert page.locator("svg").count() >= 3  # the plots rendered inline
    assert errors == []
    assert requests == [url]  # nothing but the page itself: no script, font or image fetched
    assert dialogs == []
    assert page.locator("img").count() == 0  # the record's <img> stayed text
    if os.environ.get("SYNTHLOOM_SCREENSHOT"):  # refresh docs/report.png on purpose only
        page.screenshot(path=str(DOCS), full_page=False)
    page.close()
