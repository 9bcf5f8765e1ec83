"""The review web app through its HTTP surface: who gets in, what lands in the store, and that
record text is always shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import synthloom
from synthloom.errors import SynthloomError
from synthloom.review.app import REVIEWER_COOKIE, SECURITY_HEADERS, TOKEN_HEADER, create_app
from synthloom.review.book import ReviewBook
from synthloom.store.sqlite import RunStore
from tests.helpers import write_recipe

TOKEN = "unit-test-token-0123456789"  # noqa: S105 (a test's token)
HOSTILE = "<script>alert(1)</script> and <img src=x onerror=alert(2)>"
QUALITY = {
    "judge": {"criteria": {"accuracy": "is right", "helpfulness": "helps"}, "min_score": 1},
    "grounding": {"against": "seeds", "min_support": 0.0},
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    recipe = write_recipe(tmp_path, quality=QUALITY)
    outdir = tmp_path / "out"
    synthloom.run(recipe, outdir, n=12, backend=synthloom.FakeBackend())
    with RunStore.in_dir(outdir) as store:
        ReviewBook(store).draw(8, ["persona"], seed=1)
    return outdir


def connect(outdir: Path, *, token: str | None = TOKEN) -> TestClient:
    client = TestClient(create_app(outdir, TOKEN), follow_redirects=False)
    if token is not None:
        client.headers[TOKEN_HEADER] = token
    return client


@pytest.fixture
def client(run_dir: Path) -> Iterator[TestClient]:
    with connect(run_dir) as c:
        yield c


@pytest.fixture
def ana(client: TestClient) -> TestClient:
    """A client that has entered a reviewer name."""
    assert client.post("/reviewer", data={"name": "ana"}).status_code == 303
    return client


def plant(outdir: Path, position: int, data: dict[str, Any]) -> str:
    """Replace a sampled record's data in the store, as a model could have written it."""
    with RunStore.in_dir(outdir) as store:
        record, _ = ReviewBook(store).entry(position)
        (fingerprint,) = store.connection.execute(
            "SELECT fingerprint FROM records WHERE id = ?", (record.id,)
        ).fetchone()
        record.data = data
        store.put_record(record, fingerprint)
        return record.id


def reviews(outdir: Path, record_id: str | None = None) -> list[Any]:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        if record_id is not None:
            return book.history(record_id)
        return [r for o in book.outcomes() for r in book.history(o.record_id)]


def record_id(outdir: Path, position: int) -> str:
    with RunStore.in_dir(outdir) as store:
        return ReviewBook(store).entry(position)[0].id


# -- access ------------------------------------------------------------------------------------


def test_requests_without_the_token_are_refused(run_dir: Path) -> None:
    with connect(run_dir, token=None) as c:
        for path in ("/", "/summary", "/r/0", "/static/review.js", "/reviewer"):
            response = c.get(path)
            assert response.status_code == 403, path
            assert "token" in response.text
        assert c.post("/r/0/verdict", data={"verdict": "accept"}).status_code == 403
    assert reviews(run_dir) == []


def test_a_wrong_token_is_refused_in_query_header_and_cookie(run_dir: Path) -> None:
    with connect(run_dir, token="not-the-token") as c:  # noqa: S106
        assert c.get("/").status_code == 403
    with connect(run_dir, token=None) as c:
        assert c.get("/", params={"token": TOKEN + "x"}).status_code == 403
        assert c.get("/", params={"token": "ünïcode"}).status_code == 403
        c.cookies.set(f"synthloom_{'0' * 12}", TOKEN)  # right value, another server's cookie
        assert c.get("/").status_code == 403


def test_the_token_in_the_url_becomes_a_cookie_and_leaves_the_address(run_dir: Path) -> None:
    with connect(run_dir, token=None) as c:
        response = c.get("/summary", params={"token": TOKEN, "keep": "1"})
        assert response.status_code == 303
        assert response.headers["location"] == "/summary?keep=1"
        cookie = response.headers["set-cookie"]
        assert TOKEN in cookie
        assert "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert c.get("/summary").status_code == 200  # the cookie alone lets it in now


def test_the_token_header_is_accepted(client: TestClient) -> None:
    assert client.get("/").status_code == 200


def test_every_response_carries_the_security_headers(ana: TestClient) -> None:
    for response in (
        ana.get("/r/0"),
        ana.get("/summary"),
        ana.get("/static/review.css"),
        ana.get("/r/999"),
        ana.post("/r/0/verdict", data={"verdict": "reject"}),
        TestClient(ana.app).get("/"),  # refused
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_no_api_docs_are_served(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 404


def test_create_app_refuses_a_folder_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(SynthloomError, match="not a synthloom run directory"):
        create_app(tmp_path, TOKEN)
    with pytest.raises(SynthloomError, match="token"):
        create_app(tmp_path, "")


# -- reviewers ---------------------------------------------------------------------------------


def test_first_visit_asks_for_a_name_then_goes_to_the_next_record(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'name="name"' in page.text
    bad = client.post("/reviewer", data={"name": "   "})
    assert bad.status_code == 400
    assert "reviewer name" in bad.text
    done = client.post("/reviewer", data={"name": 'Dr. Ana Ruíz; "quoted"'})
    assert done.status_code == 303
    assert REVIEWER_COOKIE in done.headers["set-cookie"]
    home = client.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/r/0"
    assert "Dr. Ana Ruíz; &#34;quoted&#34;" in client.get("/r/0").text


def test_a_record_page_without_a_name_sends_to_the_name_form(client: TestClient) -> None:
    response = client.get("/r/0")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    refused = client.post("/r/0/verdict", data={"verdict": "accept"})
    assert refused.status_code == 400
    assert "reviewer name" in refused.text


def test_an_invalid_reviewer_cookie_counts_as_no_name(client: TestClient) -> None:
    client.cookies.set(REVIEWER_COOKIE, "%00%01")
    assert 'name="name"' in client.get("/").text


# -- actions -----------------------------------------------------------------------------------


def test_accept_reject_edit_and_comment_land_in_the_store(ana: TestClient, run_dir: Path) -> None:
    first, second = record_id(run_dir, 0), record_id(run_dir, 1)
    accepted = ana.post("/r/0/verdict", data={"verdict": "accept"})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/r/1"
    rejected = ana.post(
        "/r/1/verdict",
        data={"verdict": "reject", "reason": "unsafe advice", "detail": "ice on the wound"},
    )
    assert rejected.headers["location"] == "/r/2"
    edited = ana.post("/r/0/edit", data={"text:answer": "Rest\r\nand hydrate."})
    assert edited.status_code == 303
    assert edited.headers["location"] == "/r/0"
    assert ana.post("/r/0/comment", data={"comment": "good one"}).status_code == 303

    history = reviews(run_dir, first)
    assert [(r.reviewer, r.action, r.verdict) for r in history] == [
        ("ana", "verdict", "accept"),
        ("ana", "edit", None),
        ("ana", "comment", None),
    ]
    assert history[1].edit is not None
    assert history[1].edit["answer"] == "Rest\nand hydrate."  # CRLF from the browser undone
    assert history[2].comment == "good one"
    rejection, note = reviews(run_dir, second)
    assert (rejection.verdict, rejection.reason) == ("reject", "unsafe advice")
    assert (note.action, note.comment) == ("comment", "ice on the wound")

    page = ana.get("/r/0").text
    assert "Rest\nand hydrate." in page
    assert "Edited by" in page
    assert "You accepted" in page


def test_a_rejection_needs_a_reason_and_stores_nothing_without_one(
    ana: TestClient, run_dir: Path
) -> None:
    response = ana.post("/r/0/verdict", data={"verdict": "reject", "reason": ""})
    assert response.status_code == 400
    assert "needs a reason" in response.text
    other = ana.post("/r/0/verdict", data={"verdict": "reject", "reason": "other"})
    assert other.status_code == 400
    assert "write the reason" in other.text
    unknown = ana.post("/r/0/verdict", data={"verdict": "reject", "reason": "meh"})
    assert unknown.status_code == 400
    assert "unknown reason" in unknown.text
    assert ana.post("/r/0/verdict", data={"verdict": "maybe"}).status_code == 400
    assert reviews(run_dir) == []


def test_other_takes_the_free_text_as_the_reason(ana: TestClient, run_dir: Path) -> None:
    response = ana.post(
        "/r/0/verdict", data={"verdict": "reject", "reason": "other", "detail": "wrong drug"}
    )
    assert response.status_code == 303
    (review,) = reviews(run_dir, record_id(run_dir, 0))
    assert review.reason == "wrong drug"


def test_bad_positions_are_404(ana: TestClient) -> None:
    for path in ("/r/8", "/r/999", "/r/abc", "/r/-1", "/r/%C2%B2"):
        response = ana.get(path)
        assert response.status_code == 404, path
        assert "no record" in response.text
    assert ana.post("/r/8/verdict", data={"verdict": "accept"}).status_code == 404


def test_saving_an_untouched_edit_form_records_no_edit(ana: TestClient, run_dir: Path) -> None:
    with RunStore.in_dir(run_dir) as store:
        data = ReviewBook(store).entry(0)[0].data
    form = {f"text:{name}": value.replace("\n", "\r\n") for name, value in data.items()}
    assert ana.post("/r/0/edit", data=form).status_code == 303
    assert reviews(run_dir) == []


def test_an_edit_cannot_change_the_shape_of_a_record(ana: TestClient, run_dir: Path) -> None:
    chat = [
        {"role": "user", "content": "Can I shower?"},
        {"role": "assistant", "content": "After 48 hours."},
    ]
    rid = plant(run_dir, 0, {"question": "q", "chat": chat})
    page = ana.get("/r/0").text
    assert 'name="turn:0:chat"' in page
    assert 'name="turn:1:chat"' in page
    assert "role-assistant" in page

    three = {"turn:0:chat": "a", "turn:1:chat": "b", "turn:2:chat": "c"}
    response = ana.post("/r/0/edit", data=three)
    assert response.status_code == 400
    assert "must keep its 2 turns" in response.text
    skipped = ana.post("/r/0/edit", data={"turn:0:chat": "a", "turn:2:chat": "c"})
    assert skipped.status_code == 400
    unknown = ana.post("/r/0/edit", data={"text:nope": "x"})
    assert unknown.status_code == 400
    assert "does not have" in unknown.text
    assert ana.post("/r/0/edit", data={"text:question": "  "}).status_code == 400
    assert reviews(run_dir) == []

    fine = {"turn:0:chat": "Can I shower?", "turn:1:chat": "After 72 hours."}
    assert ana.post("/r/0/edit", data=fine).status_code == 303
    (edit,) = reviews(run_dir, rid)
    assert edit.edit is not None
    assert edit.edit["chat"][1] == {"role": "assistant", "content": "After 72 hours."}


def test_after_the_last_record_the_reviewer_lands_on_the_summary(ana: TestClient) -> None:
    location = ""
    for position in range(8):
        location = ana.post(f"/r/{position}/verdict", data={"verdict": "accept"}).headers[
            "location"
        ]
    assert location == "/summary"
    assert ana.get("/").headers["location"] == "/summary"


# -- untrusted text ----------------------------------------------------------------------------


def test_record_text_is_escaped_everywhere_it_is_shown(ana: TestClient, run_dir: Path) -> None:
    plant(
        run_dir,
        0,
        {"question": HOSTILE, "answer": "ok", "chat": [{"role": "<b>x</b>", "content": HOSTILE}]},
    )
    page = ana.get("/r/0")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>x</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert html.count("<script") == 1  # the app's own file, nothing else
    assert '<script src="/static/review.js" defer></script>' in html
    assert " style=" not in html  # the CSP forbids inline styles: none are needed


def test_a_hostile_comment_and_reason_are_escaped_in_history_and_summary(
    ana: TestClient,
) -> None:
    ana.post("/r/0/verdict", data={"verdict": "reject", "reason": "other", "detail": HOSTILE})
    ana.post("/r/0/comment", data={"comment": HOSTILE})
    for html in (ana.get("/r/0").text, ana.get("/summary").text):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# -- results -----------------------------------------------------------------------------------


def test_the_summary_shows_the_figures(ana: TestClient) -> None:
    empty = ana.get("/summary").text
    assert "Reviewed <strong>0</strong> of 8" in empty
    assert "no verdicts yet" in empty
    ana.post("/r/0/verdict", data={"verdict": "accept"})
    ana.post("/r/1/verdict", data={"verdict": "accept"})
    ana.post("/r/2/verdict", data={"verdict": "reject", "reason": "off-topic"})
    html = ana.get("/summary").text
    assert "Reviewed <strong>3</strong> of 8" in html
    assert "12 records in the dataset" in html
    assert "95% interval" in html
    assert "off-topic" in html
    assert "persona=patient" in html
    assert "Judge vs. reviewers" in html
    assert "ana</strong> · 3 verdicts" in html
    assert "You reviewed 3 of 8" in html


def test_a_run_without_a_sample_says_how_to_draw_one(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path)
    outdir = tmp_path / "out"
    synthloom.run(recipe, outdir, n=3, backend=synthloom.FakeBackend())
    with connect(outdir) as c:
        page = c.get("/")
        assert page.status_code == 200
        assert "--sample" in page.text
