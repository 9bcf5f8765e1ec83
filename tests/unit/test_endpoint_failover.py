"""Several OpenAI-compatible endpoints: two real servers on 127.0.0.1, one of which dies half way
through the run; the live one takes its share and every row still completes.

In the unit tests because it takes about a second: the servers are tests/fault_server.py's
in-process fakes, so the guard against reaching a real model is lifted for this test alone."""

from __future__ import annotations

import asyncio
import threading
from contextlib import ExitStack
from pathlib import Path

import pytest

from synthloom.backends.base import ALLOW_MODEL_REQUESTS_ENV
from synthloom.backends.openai import OpenAIBackend
from synthloom.backends.registry import make_backend
from synthloom.finalize import RunSummary
from synthloom.recipe import load_recipe
from synthloom.records import Record
from synthloom.run import arun
from synthloom.store.sqlite import RunStore
from tests.fault_server import FaultConfig, FaultServer
from tests.helpers import write_recipe

ROWS, CONCURRENCY, DIES_AFTER = 40, 4, 15


def test_two_servers_one_dies_half_way_and_the_live_one_takes_its_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW_MODEL_REQUESTS_ENV, "1")
    with ExitStack() as stack:
        dead = stack.enter_context(FaultServer(FaultConfig(latency=0.02)))
        live = stack.enter_context(FaultServer(FaultConfig(latency=0.02)))
        recipe = load_recipe(
            write_recipe(
                tmp_path,
                model={
                    "backend": "openai",
                    "base_url": [dead.url, live.url],
                    "model": "m",
                    "concurrency": CONCURRENCY,
                    "timeout": 5,
                    "max_retries": 6,
                },
            )
        )
        backend = make_backend(recipe)
        assert isinstance(backend, OpenAIBackend)
        done: list[Record] = []
        at_death: dict[str, dict[str, int]] = {}
        killer = threading.Thread(target=dead.stop)

        def on_record(record: Record) -> None:
            done.append(record)
            if len(done) == DIES_AFTER:  # it dies while the client has calls in flight to it
                at_death.update(backend.endpoint_stats())
                killer.start()

        async def main() -> RunSummary:
            try:
                return await arun(
                    recipe, tmp_path / "out", n=ROWS, backend=backend, on_record=on_record
                )
            finally:
                await backend.aclose()

        summary = asyncio.run(main())
        killer.join(10)
        dead_log, live_log = list(dead.log), list(live.log)

    # every row completed, with no failures: the calls the dead server dropped were retried
    assert summary.accepted + sum(summary.rejected.values()) == ROWS
    assert not summary.failed
    assert summary.model_calls == ROWS  # one call a row, each answered once

    stats = summary.endpoints
    assert set(stats) == {dead.url, live.url}
    gone, alive = stats[dead.url], stats[live.url]
    # before it died, the two shared the work; then the dead one was taken out, not hammered:
    # only the calls in flight as it died and the few that found it gone failed there
    assert at_death[dead.url]["ok"] >= 3
    assert at_death[live.url]["ok"] >= 3
    assert gone["taken_out"] == 1
    assert 1 <= gone["failed"] <= CONCURRENCY + 3
    assert gone["ok"] <= at_death[dead.url]["ok"] + CONCURRENCY
    assert alive == {"calls": alive["ok"], "ok": alive["ok"], "failed": 0, "taken_out": 0}
    assert gone["ok"] + alive["ok"] == ROWS
    assert alive["ok"] >= ROWS - DIES_AFTER  # the rest of the run all went to the live one

    # the servers' logs agree: the live one answered every call it logged, each row at most
    # once; the dead one logged its answered calls and perhaps some it died on
    assert len(live_log) == alive["ok"]
    assert len({call.digest for call in live_log}) == len(live_log)
    assert gone["ok"] <= len(dead_log) <= gone["calls"]
    assert len({call.digest for call in dead_log + live_log}) == ROWS  # every row reached one

    # each retry names the server that failed: always the dead one
    with RunStore.in_dir(tmp_path / "out") as store:
        retries = [event["error"] for event in store.events("retry")]
    assert len(retries) == gone["failed"]
    assert all(error.startswith(f"{dead.url}: ") for error in retries), retries
