"""The review web app: server-rendered pages over the run store, for domain experts.

Two threats shape it. Anyone on the machine can reach a port on 127.0.0.1, so every request
needs the token printed at start (query once, then an HttpOnly SameSite=Strict cookie, which
other sites' pages cannot send along). And generated text is untrusted: the templates escape
everything, and the Content-Security-Policy allows only this app's own script and style files,
so even markup that slipped through could not run.

Endpoints are ``async def``: they all run on the event loop's thread, one at a time, so the
store's single SQLite connection needs no lock."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from synthloom.errors import ReviewError, SynthloomError
from synthloom.finalize import write_outputs
from synthloom.records import Record
from synthloom.review.book import MAX_TEXT, REASONS, ReviewBook, check_reviewer
from synthloom.review.results import summarize
from synthloom.review.view import changed_edit, edit_from_form, record_view
from synthloom.store.sqlite import STORE_FILE, RunStore

HERE = Path(__file__).parent
TOKEN_HEADER = "X-Synthloom-Token"  # noqa: S105 (a header's name, not a secret)
REVIEWER_COOKIE = "synthloom_reviewer"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # record text should not linger in a shared browser cache
}
REFUSED = (
    "403 Forbidden: this review server only answers the link it printed when it started "
    "(the address with ?token=...). Open that link again.\n"
)
COOKIE_DAYS = 30


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value a template prints is escaped, record text above all
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = _pct
    env.filters["rows"] = _rows
    return env


def create_app(outdir: Path, token: str) -> FastAPI:
    """The app over ``outdir``'s run store, which it opens now (so a bad directory fails
    before any URL is printed) and closes at shutdown, after rewriting the dataset files so
    they show what the session decided."""
    if not token:
        raise SynthloomError("the review server needs a non-empty token")
    if not (Path(outdir) / STORE_FILE).is_file():
        raise SynthloomError(f"{outdir}: not a synthloom run directory (no {STORE_FILE})")
    store = RunStore.in_dir(outdir)
    book = ReviewBook(store)
    env = templates()
    run_name = str((store.get_meta("recipe") or {}).get("name") or Path(outdir).name)
    # a cookie is shared by every port of 127.0.0.1: name it after the token so two review
    # servers (two runs) do not overwrite each other's
    token_cookie = "synthloom_" + hashlib.sha256(token.encode()).hexdigest()[:12]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            try:  # the session's rejections and edits, in dataset.jsonl as in every export
                write_outputs(store, outdir)
            finally:
                store.close()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(
            run=run_name, reviewer=_reviewer(request), reasons=REASONS, **context
        )
        return HTMLResponse(html, status_code=status)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        supplied = request.query_params.get("token")
        if supplied is not None:
            if not _same(supplied, token):
                return _secured(PlainTextResponse(REFUSED, status_code=403))
            # the token leaves the address bar (and history) at once; the cookie carries it
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + ("?" + urlencode(rest) if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(token_cookie, token, httponly=True, samesite="strict", path="/")
            return _secured(response)
        presented = request.headers.get(TOKEN_HEADER) or request.cookies.get(token_cookie)
        if presented is None or not _same(presented, token):
            return _secured(PlainTextResponse(REFUSED, status_code=403))
        return _secured(await call_next(request))

    @app.exception_handler(ReviewError)
    async def bad_request(request: Request, exc: ReviewError) -> HTMLResponse:
        return page(request, "error.html", 400, title="That could not be saved", message=str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        title = "Not found" if exc.status_code == 404 else "Request refused"
        return page(request, "error.html", exc.status_code, title=title, message=str(exc.detail))

    def position_of(raw: str) -> int:
        size = book.size()
        if not (raw.isascii() and raw.isdigit()) or int(raw) >= size:
            raise HTTPException(404, f"there is no record {raw!r} in this sample of {size}")
        return int(raw)

    def reviewer_or_refuse(request: Request) -> str:
        reviewer = _reviewer(request)
        if reviewer is None:
            raise ReviewError("choose a reviewer name first (open the start page)")
        return reviewer

    def target(request: Request, raw: str) -> tuple[int, str, Record]:
        """What a POST acts on: the position, who acts, and the record there."""
        position = position_of(raw)
        reviewer = reviewer_or_refuse(request)
        return position, reviewer, book.entry(position)[0]

    def after(reviewer: str, position: int) -> RedirectResponse:
        nxt = book.next_for(reviewer, position)
        return _see(f"/r/{nxt}" if nxt is not None else "/summary")

    @app.get("/")
    async def home(request: Request) -> Response:
        if book.size() == 0:
            return page(request, "empty.html", outdir=str(outdir))
        reviewer = _reviewer(request)
        if reviewer is None:
            return page(request, "name.html", size=book.size(), error=None, name="")
        nxt = book.next_for(reviewer)
        return _see(f"/r/{nxt}" if nxt is not None else "/summary")

    @app.get("/reviewer")
    async def name_form(request: Request) -> Response:
        return page(
            request, "name.html", size=book.size(), error=None, name=_reviewer(request) or ""
        )

    @app.post("/reviewer")
    async def set_name(request: Request) -> Response:
        raw = _field(await request.form(), "name") or ""
        try:
            name = check_reviewer(raw)
        except ReviewError as exc:
            return page(request, "name.html", 400, size=book.size(), error=str(exc), name=raw)
        response = _see("/")
        response.set_cookie(
            REVIEWER_COOKIE,
            quote(name, safe=""),
            max_age=COOKIE_DAYS * 86400,
            httponly=True,
            samesite="strict",
            path="/",
        )
        return response

    @app.get("/r/{raw}")
    async def record_page(request: Request, raw: str) -> Response:
        position = position_of(raw)
        reviewer = _reviewer(request)
        if reviewer is None:
            return _see("/")
        view = record_view(book, position, reviewer)
        return page(request, "record.html", view=view, max_text=MAX_TEXT)

    @app.post("/r/{raw}/verdict")
    async def verdict(request: Request, raw: str) -> Response:
        position, reviewer, record = target(request, raw)
        form = await request.form()
        choice = _field(form, "verdict")
        reason, note = None, None
        if choice == "reject":
            reason, note = _reason(_field(form, "reason"), _field(form, "detail"))
        book.add(record.id, reviewer, "verdict", verdict=choice, reason=reason)
        if note:
            book.add(record.id, reviewer, "comment", comment=note)
        return after(reviewer, position)

    @app.post("/r/{raw}/edit")
    async def edit(request: Request, raw: str) -> Response:
        position, reviewer, record = target(request, raw)
        form = await request.form()
        fields = edit_from_form(
            (k, v) for k, v in form.multi_items() if k.startswith(("text:", "turn:"))
        )
        if changed_edit(record, book.history(record.id), fields):
            book.add(record.id, reviewer, "edit", edit=fields)
        return _see(f"/r/{position}")

    @app.post("/r/{raw}/comment")
    async def comment(request: Request, raw: str) -> Response:
        position, reviewer, record = target(request, raw)
        book.add(record.id, reviewer, "comment", comment=_field(await request.form(), "comment"))
        return _see(f"/r/{position}")

    @app.get("/summary")
    async def summary(request: Request) -> Response:
        reviewer = _reviewer(request)
        return page(
            request,
            "summary.html",
            s=summarize(book),
            progress=book.progress(reviewer) if reviewer else None,
            next_open=book.next_for(reviewer) if reviewer else None,
        )

    return app


def _reason(reason: str | None, detail: str | None) -> tuple[str | None, str | None]:
    """(the reason counted in the summary, a note kept as a comment). A preset reason keeps
    the counts comparable; free text stands in for it only under "other"."""
    reason = (reason or "").strip() or None
    detail = (detail or "").strip() or None
    if detail is not None and len(detail) > MAX_TEXT:
        raise ReviewError(f"the reason is longer than {MAX_TEXT} characters")
    if reason is None and detail is not None:
        reason = "other"
    if reason == "other":
        if detail is None:
            raise ReviewError("you chose 'other': write the reason in the text box")
        return detail, None
    if reason is not None and reason not in REASONS:
        raise ReviewError(f"unknown reason {reason!r}: pick one from the list or 'other'")
    return reason, detail


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise ReviewError(f"{name!r} must be text")
    return value


def _reviewer(request: Request) -> str | None:
    raw = request.cookies.get(REVIEWER_COOKIE)
    if not raw:
        return None
    try:
        return check_reviewer(unquote(raw))
    except ReviewError:
        return None


def _same(given: str, token: str) -> bool:
    return secrets.compare_digest(given.encode(), token.encode())


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _rows(text: str) -> int:
    """A textarea tall enough for the text it starts with (about 80 characters a line)."""
    lines = sum(1 + len(line) // 80 for line in text.split("\n"))
    return max(2, min(lines + 1, 24))


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"
