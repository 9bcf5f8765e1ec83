"""The run store and resume: completed calls are never repeated, plans stay consistent."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from synthloom import FakeBackend, GenerationRequest, StoreError, run
from synthloom.dataset import Dataset
from synthloom.store.migrations import MIGRATIONS
from synthloom.store.sqlite import STORE_FILE, RunStore
from tests.helpers import cli, cli_process, read_jsonl, write_recipe


def test_migrations_set_the_version_and_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE
    RunStore(path).close()
    RunStore(path).close()  # re-opening runs nothing twice
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "cache", "records", "plan", "events"} <= tables


def test_a_store_from_the_first_release_upgrades_in_place(tmp_path: Path) -> None:
    """A run directory made before records had notes and before review: its records read
    back with empty notes, and review tables appear."""
    path = tmp_path / STORE_FILE
    db = sqlite3.connect(path)
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    prov = json.dumps(
        {
            "recipe": "r",
            "task": "t",
            "row": 0,
            "seed_ids": [],
            "axes": {},
            "template_hash": "",
            "backend": "fake",
            "model": "m",
            "params": {},
        }
    )
    db.execute(
        "INSERT INTO records VALUES ('a', 't', 0, 'fp', 'accepted', NULL, NULL, '{\"q\": 1}',"
        " ?, '{}', 'now')",
        (prov,),
    )
    db.execute("INSERT INTO plan VALUES ('a', 't', 0, 'fp')")
    db.execute("INSERT INTO plan VALUES ('c', 'judge-calibration', 0, 'fp')")
    db.commit()
    db.close()
    with RunStore(path) as store:
        (record,) = store.planned_records(task="t")
        assert record.data == {"q": 1}
        assert record.notes == {}
        assert record.provenance.origin == "generated"  # before imports had their own origin
        tables = {
            r[0]
            for r in store.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        # the stages of an old plan: only judge calibration was ever outside the dataset
        assert sorted(store.stages()) == [("judge-calibration", "", False), ("t", "", True)]
        assert [r.id for r in Dataset(store).records()] == ["a"]
    assert {"reviews", "review_sample"} <= tables


def test_a_store_from_a_newer_synthloom_is_refused(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        RunStore(path)


def test_cache_roundtrip_and_call_event(tmp_path: Path) -> None:
    with RunStore(tmp_path / STORE_FILE) as store:
        assert store.cache_get("k") is None
        store.cache_put("k", {"text": "hi", "prompt_tokens": 3})
        assert store.cache_get("k") == {"text": "hi", "prompt_tokens": 3}
        assert [e["key"] for e in store.events("model_call")] == ["k"]


def test_rerun_into_the_same_directory_makes_no_model_call(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path)
    first = FakeBackend()
    a = run(recipe, tmp_path / "out", n=20, backend=first)
    dataset_a = (tmp_path / "out" / "dataset.jsonl").read_text()
    second = FakeBackend()
    b = run(recipe, tmp_path / "out", n=20, backend=second)
    assert (a.accepted, b.accepted) == (20, 20)
    assert len(first.calls) == 20
    assert second.calls == []
    assert b.resumed == 20
    assert (tmp_path / "out" / "dataset.jsonl").read_text() == dataset_a


def test_growing_n_keeps_the_first_rows_and_generates_only_new_ones(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path)
    run(recipe, tmp_path / "out", n=10, backend=FakeBackend())
    first_ten = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    more = FakeBackend()
    run(recipe, tmp_path / "out", n=25, backend=more)
    rows = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert len(more.calls) == 15
    assert len(rows) == 25
    assert rows[:10] == first_ten


def test_shrinking_n_exports_only_the_planned_rows(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path)
    run(recipe, tmp_path / "out", n=10, backend=FakeBackend())
    backend = FakeBackend()
    summary = run(recipe, tmp_path / "out", n=4, backend=backend)
    assert backend.calls == []
    assert summary.accepted == 4
    assert [r["id"] for r in read_jsonl(tmp_path / "out" / "dataset.jsonl")] == [
        f"qa-{i:06d}" for i in range(4)
    ]


def test_editing_the_template_regenerates_rows(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path)
    run(recipe, tmp_path / "out", n=6, backend=FakeBackend())
    raw = yaml.safe_load(recipe.read_text())
    raw["tasks"][0]["template"] = "Something else entirely for {{ persona }}."
    recipe.write_text(yaml.safe_dump(raw))
    backend = FakeBackend()
    summary = run(recipe, tmp_path / "out", n=6, backend=backend)
    assert len(backend.calls) == 6
    assert summary.resumed == 0
    rows = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert len(rows) == 6
    assert len({r["provenance"]["template_hash"] for r in rows}) == 1


def test_failed_rows_are_retried_on_the_next_run(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, model={"max_reasks": 0})
    broken = FakeBackend(lambda r: "not json")
    first = run(recipe, tmp_path / "out", n=5, backend=broken)
    assert first.failed == {"InvalidOutput": 5}
    fixed = FakeBackend(lambda r: json.dumps({"question": "q?", "answer": "a."}))
    # the bad replies are cached, so the same backend cannot heal: only a changed setting can
    second = run(recipe, tmp_path / "out", n=5, backend=fixed)
    assert fixed.calls == []
    assert second.failed == {"InvalidOutput": 5}
    raw = yaml.safe_load(recipe.read_text())
    raw["model"]["max_reasks"] = 1
    recipe.write_text(yaml.safe_dump(raw))
    third = run(recipe, tmp_path / "out", n=5, backend=fixed)
    assert third.accepted == 5
    assert len(fixed.calls) == 5  # only the re-asks; the first attempts come from the cache
    assert read_jsonl(tmp_path / "out" / "rejected.jsonl") == []


def test_provenance_is_complete(tmp_path: Path) -> None:
    run(write_recipe(tmp_path), tmp_path / "out", n=3, backend=FakeBackend(model="fake-x"))
    for row in read_jsonl(tmp_path / "out" / "dataset.jsonl"):
        prov = row["provenance"]
        assert prov["recipe"] == "unit"
        assert prov["task"] == "qa"
        assert len(prov["seed_ids"]) == 2
        assert set(prov["axes"]) == {"persona", "style"}
        assert len(prov["template_hash"]) == 16
        assert (prov["backend"], prov["model"]) == ("fake", "fake-x")
        assert prov["params"]["temperature"] == 0.8
        assert isinstance(prov["params"]["seed"], int)
        assert prov["attempts"] == 1
        assert prov["prompt_tokens"] > 0
        assert prov["completion_tokens"] > 0
        assert prov["started_at"] <= prov["finished_at"]
        assert prov["synthloom_version"]


def test_sigkill_mid_run_then_resume_repeats_no_completed_call(tmp_path: Path) -> None:
    total = 300
    call_log = tmp_path / "calls.log"
    recipe = write_recipe(
        tmp_path, model={"latency": 0.02, "concurrency": 4, "call_log": str(call_log)}
    )
    out = tmp_path / "out"
    proc = cli_process("run", recipe, "-o", out, "-n", str(total))
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / STORE_FILE).exists():
            try:
                db = sqlite3.connect(out / STORE_FILE)
                done = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
                db.close()
            except sqlite3.OperationalError:
                done = 0  # the schema is still being created
            if done >= total // 2:
                break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert total // 4 <= done < total, "the kill did not land mid-run"

    # requests whose completion run 1 had committed to the cache
    with RunStore.in_dir(out) as store:
        cached_keys = {e["key"] for e in store.events("model_call")}
    calls_run1 = call_log.read_text().split()
    assert len(cached_keys) >= done

    cli("run", recipe, "-o", out, "-n", str(total), check=0)
    calls_all = call_log.read_text().split()
    calls_run2 = calls_all[len(calls_run1) :]

    # Map each logged request digest to the engine's cache key, to tell which were cached.
    from synthloom.engine.runner import Engine
    from synthloom.pipeline import prepare
    from synthloom.recipe import load_recipe

    prepared = prepare(load_recipe(recipe), backend="fake", model_id="fake-1")
    engine = Engine(FakeBackend(), store=None)  # type: ignore[arg-type]
    digest_to_key = {}
    for row in prepared.planner.rows(total):
        job = prepared.tasks[0].job(row)
        digest_to_key[_digest(job.first)] = engine.cache_key(job.first, job.sample)
    repeated = [d for d in calls_run2 if digest_to_key[d] in cached_keys]
    assert repeated == [], "a call completed before the kill was made again"
    assert len(set(calls_all)) == total  # every row called once, at most a few in flight twice
    assert len(calls_all) - total <= 4

    rows = read_jsonl(out / "dataset.jsonl")
    assert len(rows) == total
    assert len({r["id"] for r in rows}) == total
    assert sorted(r["provenance"]["row"] for r in rows) == list(range(total))


def _digest(request: GenerationRequest) -> str:
    import hashlib

    import orjson

    return hashlib.sha256(orjson.dumps(request.payload())).hexdigest()


def test_ctrl_c_stops_cleanly_keeps_outputs_and_resumes(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, model={"latency": 0.05, "concurrency": 2})
    out = tmp_path / "out"
    proc = cli_process("run", recipe, "-o", out, "-n", "200", capture=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (out / STORE_FILE).exists():
            try:
                db = sqlite3.connect(out / STORE_FILE)
                if db.execute("SELECT COUNT(*) FROM records").fetchone()[0] >= 20:
                    break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in stderr
    written = read_jsonl(out / "dataset.jsonl")
    assert 20 <= len(written) < 200
    result = cli("run", recipe, "-o", out, "-n", "200", check=0)
    assert f"resuming, {len(written)} rows already done" in result.stderr
    assert len(read_jsonl(out / "dataset.jsonl")) == 200


def test_provenance_to_dict_covers_every_field_and_copies() -> None:
    from dataclasses import fields

    from synthloom.records import Provenance

    prov = Provenance("r", "t", 1, ["s"], {"a": 1}, "h", "fake", "m", {"seed": 1})
    out = prov.to_dict()
    assert list(out) == [f.name for f in fields(Provenance)]
    assert Provenance.from_dict(out) == prov
    out["seed_ids"].append("x")
    assert prov.seed_ids == ["s"]
