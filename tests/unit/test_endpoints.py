"""The endpoint pool: least-in-flight choice, cool-downs on an injected clock, never stuck;
and the openai backend's use of it (which failures count against a server)."""

from __future__ import annotations

import asyncio
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from synthloom import BackendError, GenerationRequest
from synthloom.backends.base import ALLOW_MODEL_REQUESTS_ENV
from synthloom.backends.endpoints import Endpoints, Outcome, display_url
from synthloom.backends.openai import OpenAIBackend
from synthloom.finalize import RunSummary
from synthloom.summary_view import print_summary

A, B, C = "http://a:1/v1", "http://b:1/v1", "http://c:1/v1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _pool(*urls: str, clock: Clock | None = None) -> Endpoints:
    return Endpoints(
        urls, take_out_after=3, cooldown=30.0, max_cooldown=100.0, clock=clock or Clock()
    )


def _end(pool: Endpoints, url: str, times: int, outcome: Outcome = Outcome.FAULT) -> None:
    """End ``times`` calls on ``url`` so; calls handed to the others meanwhile end neutrally."""
    for _ in range(times):
        for _ in range(len(pool)):
            lease = pool.acquire()
            if lease.url == url:
                pool.release(lease, outcome)
                break
            pool.release(lease, Outcome.REFUSED)
        else:
            raise AssertionError(f"{url} was not handed out")


def test_calls_go_to_the_endpoint_with_fewest_in_flight_and_ties_alternate() -> None:
    pool = _pool(A, B, C)
    first = [pool.acquire() for _ in range(3)]
    assert [lease.url for lease in first] == [A, B, C]  # ties: the least recently picked
    pool.release(first[1], Outcome.OK)  # B is free again: it has the fewest in flight
    assert pool.acquire().url == B
    pool.release(first[0], Outcome.OK)
    pool.release(first[2], Outcome.OK)
    # A and C both have none in flight; A was picked longer ago
    assert [pool.acquire().url for _ in range(2)] == [A, C]
    assert pool.stats()[A] == {"calls": 2, "ok": 1, "failed": 0, "taken_out": 0}


def test_an_endpoint_failing_three_times_in_a_row_is_out_for_a_doubling_cool_down() -> None:
    clock = Clock()
    pool = _pool(A, B, clock=clock)
    _end(pool, A, 2)
    assert pool.stats()[A]["taken_out"] == 0  # two failures: still in
    _end(pool, A, 1)
    assert pool.stats()[A]["taken_out"] == 1
    busy = [pool.acquire() for _ in range(10)]
    assert {lease.url for lease in busy} == {B}  # however busy B gets
    clock.now += 29.9
    assert pool.acquire().url == B
    clock.now += 0.2  # back, on trial: one call at a time until one succeeds
    trial = pool.acquire()
    assert trial.url == A
    assert pool.acquire().url == B
    pool.release(trial, Outcome.FAULT)  # the trial failed: out again, for twice as long
    assert pool.stats()[A]["taken_out"] == 2
    clock.now += 59.9
    assert pool.acquire().url == B
    clock.now += 0.2
    trial = pool.acquire()
    assert trial.url == A
    assert pool.acquire().url == B  # still on trial
    pool.release(trial, Outcome.FAULT)  # out a third time: 120 s, but at most max_cooldown
    clock.now += 99.9
    assert pool.acquire().url == B
    clock.now += 0.2
    assert pool.acquire().url == A


def test_a_success_ends_the_streak_and_the_trial() -> None:
    clock = Clock()
    pool = _pool(A, B, clock=clock)
    _end(pool, A, 2)
    _end(pool, A, 1, Outcome.OK)
    _end(pool, A, 2)  # 2, not 4, in a row: not taken out
    assert pool.stats()[A]["taken_out"] == 0
    _end(pool, A, 1)
    assert pool.stats()[A]["taken_out"] == 1
    clock.now += 30.1
    _end(pool, A, 1, Outcome.OK)  # its trial call succeeded: it takes its full share again
    busy = [pool.acquire() for _ in range(4)]
    assert [lease.url for lease in busy].count(A) == 2
    for lease in busy:
        pool.release(lease, Outcome.REFUSED)
    _end(pool, A, 3)  # and its next cool-down is the first length again, not twice it
    assert pool.stats()[A]["taken_out"] == 2
    clock.now += 29.9
    assert {pool.acquire().url for _ in range(2)} == {B}
    clock.now += 0.2
    assert {pool.acquire().url for _ in range(2)} == {A, B}


def test_when_all_are_cooling_the_one_back_first_is_used() -> None:
    clock = Clock()
    pool = _pool(A, B, clock=clock)
    _end(pool, A, 3)  # out until 130
    clock.now += 10
    lease = pool.acquire()
    assert lease.url == B
    pool.release(lease, Outcome.FAULT)
    _end(pool, B, 2)  # out until 140
    assert [pool.acquire().url for _ in range(3)] == [A, A, A]  # never stuck
    single = _pool(A, clock=clock)
    _end(single, A, 5)
    assert single.acquire().url == A  # a pool of one always answers


def test_late_failures_of_calls_sent_before_the_cool_down_do_not_extend_it() -> None:
    clock = Clock()
    pool = _pool(A, B, clock=clock)
    hanging = [pool.acquire() for _ in range(8)]  # four on each
    for lease in hanging[:6]:
        if lease.url == A:
            pool.release(lease, Outcome.FAULT)
    assert pool.stats()[A]["taken_out"] == 1
    clock.now += 30.5
    late = next(lease for lease in hanging[6:] if lease.url == A)
    pool.release(late, Outcome.FAULT)  # sent before A was taken out: already acted on
    assert pool.stats()[A] == {"calls": 4, "ok": 0, "failed": 4, "taken_out": 1}
    assert pool.acquire().url == A  # back, on trial


def test_a_refused_request_says_nothing_about_the_server() -> None:
    pool = _pool(A, B)
    for _ in range(5):
        lease = pool.acquire()
        pool.release(lease, Outcome.REFUSED)
    assert sum(s["taken_out"] for s in pool.stats().values()) == 0
    assert sum(s["failed"] for s in pool.stats().values()) == 5


def test_urls_are_shown_without_credentials() -> None:
    assert display_url("https://user:sk-1@api.example.com/v1?api-key=sk-2") == (
        "https://api.example.com/v1"
    )
    backend = OpenAIBackend(["https://u:sk-3@x.example/v1/", "http://127.0.0.1:9/v1"], "m")
    assert "sk-3" not in repr(backend)
    assert backend.base_urls == ["https://u:sk-3@x.example/v1", "http://127.0.0.1:9/v1"]
    assert set(backend.endpoint_stats()) == {"https://x.example/v1", "http://127.0.0.1:9/v1"}


def test_backend_counts_server_faults_but_not_refusals_or_format_step_downs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each call's outcome reaches the pool: a 400 and a response_format refusal say nothing
    about the server; a 5xx and a call cancelled by the engine's timeout count against it."""
    backend = OpenAIBackend(Endpoints([A, B], take_out_after=1), "m")
    replies: list[tuple[int, bytes]] = [
        (400, b"bad request"),
        (400, b"unsupported response_format"),
        (400, b"bad request"),
        (500, b"boom"),
    ]

    class Response:
        def __init__(self, status: int, body: bytes) -> None:
            self.status, self.body = status, body
            self.headers: dict[str, str] = {}

        async def __aenter__(self) -> Response:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def read(self) -> bytes:
            if not self.status:
                await asyncio.sleep(10)  # never answers
            return self.body

    class Session:
        def post(self, url: str, data: bytes) -> Response:
            return Response(*replies.pop(0)) if replies else Response(0, b"")

    backend._session = Session()
    monkeypatch.setenv(ALLOW_MODEL_REQUESTS_ENV, "1")  # no network: the session is a fake
    request = GenerationRequest(({"role": "user", "content": "hi"},), {"type": "object"})

    async def calls() -> list[str]:
        errors = []
        for _ in range(4):
            with pytest.raises(BackendError) as info:
                await backend.generate(request)
            errors.append(str(info.value))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await backend.generate(request)
        return errors

    errors = asyncio.run(calls())
    # several endpoints: each error names its server (picked in turn, all being idle)
    assert [e.split(": ")[0] for e in errors] == [A, B, A, B]
    assert "next: json_object" in errors[1]
    stats = backend.endpoint_stats()
    assert stats[A] == {"calls": 3, "ok": 0, "failed": 3, "taken_out": 1}  # the timeout
    assert stats[B] == {"calls": 2, "ok": 0, "failed": 2, "taken_out": 1}  # the 500


def test_summary_shows_one_row_per_endpoint(tmp_path: Path) -> None:
    summary = RunSummary(
        tmp_path,
        endpoints={
            A: {"calls": 25, "ok": 25, "failed": 0, "taken_out": 0},
            B: {"calls": 19, "ok": 15, "failed": 4, "taken_out": 1},
        },
    )
    out = Console(file=StringIO(), width=200)
    print_summary(out, summary)
    lines = out.file.getvalue().splitlines()  # type: ignore[attr-defined]
    row = {url: next(line for line in lines if url in line) for url in (A, B)}
    assert "25 calls, 0 failed" in row[A]
    assert "taken out" not in row[A]
    assert "19 calls, 4 failed, taken out 1x" in row[B]
    assert summary.to_dict()["endpoints"] == summary.endpoints
