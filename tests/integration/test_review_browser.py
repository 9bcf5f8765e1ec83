"""The review app in a real browser (Debian's headless Chromium through Playwright) and on a
real socket: a reviewer's keyboard session from the token link to the export, hostile record
text that must stay text, and a server that only listens on loopback."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import signal
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

import synthloom
from synthloom.review.book import ReviewBook
from synthloom.review.server import Running, start_in_thread
from synthloom.store.sqlite import RunStore
from tests.helpers import cli_process, read_jsonl, write_recipe

HOSTILE = "<script>alert(1)</script> then <img src=x onerror=alert(2)>"
EDITED = "EDITED: keep the dressing dry for 48 hours, then shower normally."

# no skip when chromium is missing: .ci/run installs it, and a skipped browser test proves nothing
pytestmark = pytest.mark.integration


def make_run(folder: Path, *, n: int, sample: int, strata: list[str] | None = None) -> Path:
    folder.mkdir()
    outdir = folder / "out"
    # in a thread: Playwright's sync API keeps an event loop running on this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(
            synthloom.run, write_recipe(folder), outdir, n=n, backend=synthloom.FakeBackend()
        ).result()
    with RunStore.in_dir(outdir) as store:
        ReviewBook(store).draw(sample, strata or [], seed=5)
    return outdir


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def serve(outdir: Path) -> Running:
    return start_in_thread(outdir, port=0)


def progress(page: Page, mine: int, anyone: int, total: int) -> None:
    expect(page.locator("#progress")).to_have_text(
        f"{mine} of {total} reviewed by you · {anyone} by anyone"
    )


def press(page: Page, key: str) -> None:
    """A shortcut that leads to another page: wait for that page to load."""
    with page.expect_navigation():
        page.keyboard.press(key)


def test_a_keyboard_review_session_reaches_dataset_jsonl_and_the_export(
    tmp_path: Path, page: Page, browser: Browser
) -> None:
    outdir = make_run(tmp_path / "run", n=12, sample=8)
    running = serve(outdir)
    try:
        page.goto(running.url)
        assert "token" not in page.url  # traded for a cookie at once
        page.fill("#name", "Dr. Ana")
        with page.expect_navigation():
            page.press("#name", "Enter")
        assert page.url.endswith("/r/0")
        progress(page, 0, 0, 8)

        press(page, "a")  # 1: accept
        progress(page, 1, 1, 8)
        press(page, "a")  # 2: accept
        progress(page, 2, 2, 8)

        # 3: edit the answer with the keyboard, save with Ctrl+Enter, then accept
        edited_id = page.locator("#record-id").inner_text()
        page.keyboard.press("e")
        answer = page.locator("#edit-panel textarea[name='text:answer']")
        expect(answer).to_be_visible()
        expect(page.locator("#fields-view")).to_be_hidden()
        answer.focus()
        page.keyboard.press("Control+A")
        page.keyboard.type(EDITED)
        page.keyboard.press("a")  # typed into the field: no verdict
        page.keyboard.press("Backspace")
        press(page, "Control+Enter")
        expect(page.locator("#fields-view")).to_contain_text(EDITED)
        expect(page.locator(".notice")).to_contain_text("Edited by Dr. Ana")
        progress(page, 2, 2, 8)
        press(page, "a")
        progress(page, 3, 3, 8)

        # 4: reject with a preset reason
        rejected_id = page.locator("#record-id").inner_text()
        page.keyboard.press("r")
        expect(page.locator("#reason")).to_be_focused()
        page.keyboard.press("Escape")  # closes the form again
        expect(page.locator("#reject-panel")).to_be_hidden()
        page.keyboard.press("r")
        page.select_option("#reason", "unsafe advice")
        with page.expect_navigation():
            page.click("#reject-panel button[type=submit]")
        progress(page, 4, 4, 8)

        press(page, "a")  # 5: accept
        progress(page, 5, 5, 8)

        # j and k move between records without giving a verdict
        here = page.url
        press(page, "k")
        assert page.url != here
        expect(page.locator("#my-verdict")).to_have_text("You accepted")
        press(page, "j")
        assert page.url == here
        progress(page, 5, 5, 8)

        page.click("text=Results")
        expect(page.locator("#reviewed-line")).to_contain_text("Reviewed 5 of 8")
        expect(page.locator("#acceptance")).to_have_text("80.0%")
        expect(page.locator("#reasons")).to_contain_text("unsafe advice")
        expect(page.locator("#reviewers")).to_contain_text("Dr. Ana · 5 verdicts")
        expect(page.locator("#reviewers")).to_contain_text("Edited records: 1")
    finally:
        running.stop()

    exported = tmp_path / "train.jsonl"
    synthloom.export(outdir, "jsonl", exported)
    rows = {row["id"]: row for row in read_jsonl(exported)}
    assert rejected_id not in rows
    assert rows[edited_id]["data"]["answer"] == EDITED
    assert len(rows) == 11
    # the app has stopped: dataset.jsonl is the reviewed dataset, the same as the export
    # (an export row also says where it came from: origin and record_id)
    assert read_jsonl(outdir / "dataset.jsonl") == [
        {k: v for k, v in row.items() if k not in ("origin", "record_id")}
        for row in read_jsonl(exported)
    ]
    with RunStore.in_dir(outdir) as store:  # the original stays in the store
        original = store.record(edited_id)
        assert original is not None
        assert original.data["answer"] != EDITED


def test_hostile_record_text_shows_as_text_and_never_runs(tmp_path: Path, page: Page) -> None:
    outdir = make_run(tmp_path / "run", n=4, sample=4)
    with RunStore.in_dir(outdir) as store:
        record, _ = ReviewBook(store).entry(0)
        (fingerprint,) = store.connection.execute(
            "SELECT fingerprint FROM records WHERE id = ?", (record.id,)
        ).fetchone()
        record.data = {"question": HOSTILE, "answer": f"Answer: {HOSTILE}"}
        store.put_record(record, fingerprint)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    running = serve(outdir)
    try:
        page.goto(running.url)
        page.fill("#name", "reviewer")
        with page.expect_navigation():
            page.press("#name", "Enter")
        page.goto(f"{running.base}/r/0")
        question = page.locator(".field").first
        expect(question).to_contain_text("<script>alert(1)</script>")
        expect(question).to_contain_text("<img src=x onerror=alert(2)>")
        assert page.locator("main img").count() == 0
        assert page.locator("main script").count() == 0
        page.keyboard.press("e")  # the text again, inside the edit form's textareas
        expect(page.locator("textarea[name='text:question']")).to_have_value(HOSTILE)
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)  # give an onerror handler every chance to fire
    finally:
        running.stop()
    assert dialogs == []


def non_loopback_address() -> str | None:
    """This machine's address on its network, found without sending a packet."""
    candidates = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, contextlib.suppress(OSError):
        probe.connect(("10.255.255.255", 1))  # UDP: picks a route, sends nothing
        candidates.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        candidates.append(socket.gethostbyname(socket.gethostname()))
    usable = (ipaddress.ip_address(a) for a in candidates)
    return next((str(a) for a in usable if not (a.is_loopback or a.is_unspecified)), None)


def test_the_server_listens_on_loopback_only(tmp_path: Path) -> None:
    outdir = make_run(tmp_path / "run", n=3, sample=3)
    running = serve(outdir)
    try:
        assert running.base.startswith("http://127.0.0.1:")
        listening = _listening_addresses(running.port)
        assert listening == {"127.0.0.1"}
        with socket.create_connection(("127.0.0.1", running.port), timeout=2):
            pass
        address = non_loopback_address()
        if address is not None:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((address, running.port), timeout=2).close()
    finally:
        running.stop()


def test_serve_announces_a_token_url_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """``synthloom review`` as a user runs it: port 0, the URL printed once it listens."""
    outdir = make_run(tmp_path / "run", n=3, sample=3)
    proc = cli_process("review", outdir, "--port", "0", capture=True)
    try:
        assert proc.stdout is not None
        said = []  # the sample lines come first, then the URL once the server listens
        while not (said and said[-1].startswith("review at ")) and (line := proc.stdout.readline()):
            said.append(line.strip())
        url = said[-1].removeprefix("review at ") if said else ""
        match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]{32})", url)
        assert match, said
        base = f"http://127.0.0.1:{match[1]}"
        assert httpx.get(base + "/").status_code == 403
        assert httpx.get(url, follow_redirects=True).status_code == 200
        assert _listening_addresses(int(match[1])) == {"127.0.0.1"}
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port``, from the kernel's table."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.add(f"ipv6:{address}")
    return found
