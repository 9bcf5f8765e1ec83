"""SIGKILL a run against a real server half way, re-run: nothing completed is asked again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from synthloom.backends.openai import OpenAIBackend
from synthloom.engine.runner import Engine
from synthloom.pipeline import prepare
from synthloom.recipe import load_recipe
from synthloom.store.sqlite import STORE_FILE, RunStore
from tests.fault_server import request_digest
from tests.helpers import cli, cli_process, read_jsonl, write_recipe

ROOT = Path(__file__).parents[2]
TOTAL = 400


def _run_args(recipe: Path, out: Path) -> tuple[str | Path, ...]:
    return ("run", recipe, "-o", out, "-n", str(TOTAL))


def _stored(out: Path) -> int:
    try:
        db = sqlite3.connect(out / STORE_FILE)
        try:
            return int(db.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_kill_half_way_then_resume(server: tuple[str, Path], tmp_path: Path) -> None:
    url, log = server
    recipe = write_recipe(
        tmp_path,
        model={"backend": "openai", "base_url": url, "model": "m", "concurrency": 16},
    )
    out = tmp_path / "out"
    proc = cli_process(*_run_args(recipe, out))
    deadline = time.monotonic() + 60
    while _stored(out) < TOTAL // 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _stored(out)
    assert TOTAL // 4 <= done < TOTAL, "the kill did not land mid-run"
    with RunStore.in_dir(out) as store:
        cached = {e["key"] for e in store.events("model_call")}
    calls_before = len(log.read_text().splitlines())

    cli(*_run_args(recipe, out), check=0)
    second = [json.loads(line) for line in log.read_text().splitlines()[calls_before:]]

    # which server request digest belongs to which engine cache key
    prepared = prepare(load_recipe(recipe), backend="openai", model_id="m")
    engine = Engine(OpenAIBackend(url, "m"), store=None)  # type: ignore[arg-type]
    key_of = {}
    for row in prepared.planner.rows(TOTAL):
        job = prepared.tasks[0].job(row)
        body = {"messages": list(job.first.messages), "seed": job.first.seed}
        key_of[request_digest(body)] = engine.cache_key(job.first, job.sample)
    repeated = [c for c in second if key_of[c["digest"]] in cached]
    assert repeated == [], "a request completed before the kill was sent again"
    assert len(second) <= TOTAL - done + 16  # the rest, plus at most the calls in flight

    # the same dataset as a run that was never interrupted
    clean = tmp_path / "clean"
    cli(*_run_args(recipe, clean), check=0)
    resumed_rows = read_jsonl(out / "dataset.jsonl")
    clean_rows = read_jsonl(clean / "dataset.jsonl")
    assert len(resumed_rows) == len(clean_rows) == TOTAL
    assert len({r["id"] for r in resumed_rows}) == TOTAL
    assert [r["data"] for r in resumed_rows] == [r["data"] for r in clean_rows]
