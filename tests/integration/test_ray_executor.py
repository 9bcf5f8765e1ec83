"""The Ray executor on a local Ray cluster (127.0.0.1, two CPUs): the same dataset as the local
executor, record for record; a worker SIGKILLed mid-shard, and a driver SIGKILLed mid-run, both
end in a complete run that asked the server for no completed call again."""

from __future__ import annotations

import json
import operator
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthloom.backends.base import ALLOW_MODEL_REQUESTS_ENV
from synthloom.backends.fake import FakeBackend
from synthloom.errors import SynthloomError
from synthloom.executors.merge import Merger
from synthloom.executors.sharded import SHARD_DIR, split
from synthloom.quality.settings import DedupSettings
from synthloom.recipe import ExecutorSettings, Recipe, load_recipe
from synthloom.run import run
from synthloom.store.sqlite import STORE_FILE, RunStore
from tests.helpers import cli, cli_process, read_jsonl, write_recipe

ray = pytest.importorskip("ray")

ROOT = Path(__file__).parents[2]
FLAGSHIP = ROOT / "examples" / "post-surgical-care" / "recipe.yaml"
CONCURRENCY = 4


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {ALLOW_MODEL_REQUESTS_ENV: "1"}},
    )
    try:
        yield
    finally:
        ray.shutdown()


def _outcome(out: Path) -> list[tuple[Any, ...]]:
    with RunStore.in_dir(out) as store:
        return [
            (r.id, r.task, r.data, str(r.status), r.reason, r.error)
            for r in store.planned_records()
        ]


def _with(recipe: Recipe, **executor: Any) -> Recipe:
    return recipe.model_copy(update={"executor": ExecutorSettings(**executor)})


def test_split_covers_the_rows_in_order() -> None:
    assert split(range(10), 3) == [range(0, 4), range(4, 7), range(7, 10)]
    assert split(range(5, 7), 4) == [range(5, 6), range(6, 7)]
    assert split(range(0, 0), 2) == []


def test_the_flagship_on_ray_equals_the_local_run(cluster: None, tmp_path: Path) -> None:
    """Semantic dedup is tightened so some of the fake backend's rows collide: the stateful
    step has real choices to make, and the shards must not change them."""
    recipe = load_recipe(FLAGSHIP)
    assert recipe.quality.dedup is not None
    dedup = recipe.quality.dedup.model_copy(update={"semantic": 0.85})
    assert isinstance(dedup, DedupSettings)
    quality = recipe.quality.model_copy(update={"dedup": dedup})
    recipe = recipe.model_copy(update={"quality": quality})
    local = run(recipe, tmp_path / "local", n=90, dry_run=True)
    sharded = run(_with(recipe, kind="ray", shards=3), tmp_path / "ray", n=90, dry_run=True)
    assert _outcome(tmp_path / "ray") == _outcome(tmp_path / "local")
    assert sharded.funnel == local.funnel
    assert sharded.rejected["semantic_duplicate"] > 0, "no duplicate to choose from"
    assert sharded.model_calls == local.model_calls
    assert not (tmp_path / "ray" / SHARD_DIR).exists() or not any(
        (tmp_path / "ray" / SHARD_DIR).glob("*.sqlite")
    ), "merged shard stores are removed"
    rows = [(r["id"], r["data"]) for r in read_jsonl(tmp_path / "ray" / "dataset.jsonl")]
    local_rows = read_jsonl(tmp_path / "local" / "dataset.jsonl")
    assert rows == [(r["id"], r["data"]) for r in local_rows]


@pytest.mark.parametrize("example", ["translate", "self_instruct"])
def test_chained_and_pooled_tasks_on_ray_equal_the_local_run(
    cluster: None, tmp_path: Path, example: str
) -> None:
    """``translate`` reads the accepted records of the task before it (the shards get them
    through Ray's object store); ``self_instruct`` drops candidates too close to its pool, a
    stateful check the merge runs in row order."""
    recipe = load_recipe(ROOT / "examples" / example / "recipe.yaml")
    run(recipe, tmp_path / "local", n=24, dry_run=True)
    run(_with(recipe, kind="ray", shards=3), tmp_path / "ray", n=24, dry_run=True)
    outcome = _outcome(tmp_path / "ray")
    assert outcome == _outcome(tmp_path / "local")
    assert len({task for _, task, *_ in outcome}) == (2 if example == "translate" else 1)


def test_a_shard_merged_half_way_by_a_killed_driver_is_not_merged_twice(
    cluster: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver dies after merging part of a complete shard; the re-run merges the rest of
    it (each of the first part would otherwise meet itself in the dedup index)."""
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    recipe = load_recipe(
        write_recipe(sharded, quality={"dedup": {}}, executor={"kind": "ray", "shards": 2})
    )
    offered = 0
    offer = Merger.offer

    async def dies_at_the_30th(self: Merger, *args: Any) -> None:
        nonlocal offered
        offered += 1
        if offered == 30:  # shard 2's 10th row: 9 of its rows are in the run store
            raise RuntimeError("the driver dies")
        await offer(self, *args)

    monkeypatch.setattr(Merger, "offer", dies_at_the_30th)
    with pytest.raises(RuntimeError, match="the driver dies"):
        run(recipe, sharded / "out", n=40, dry_run=True)
    monkeypatch.setattr(Merger, "offer", offer)
    assert any((sharded / "out" / SHARD_DIR).glob("*.sqlite")), "the shard is kept"
    run(recipe, sharded / "out", n=40, dry_run=True)
    local = tmp_path / "local"
    local.mkdir()
    run(load_recipe(write_recipe(local, quality={"dedup": {}})), local / "out", n=40, dry_run=True)
    assert _outcome(sharded / "out") == _outcome(local / "out")


def _server_recipe(folder: Path, url: str, **executor: Any) -> Path:
    return write_recipe(
        folder,
        model={"backend": "openai", "base_url": url, "model": "m", "concurrency": CONCURRENCY},
        quality={"dedup": {}},
        executor=executor,
    )


def _requests(log: Path) -> Counter[str]:
    return Counter(json.loads(line)["digest"] for line in log.read_text().splitlines())


def _shard_pids(out: Path) -> list[int]:
    pids = []
    for lock in (out / SHARD_DIR).glob("*.lock"):
        text = lock.read_text().strip()
        if text:
            pids.append(int(text))
    return pids


def _count(db: Path) -> int:
    try:
        con = sqlite3.connect(db)
        try:
            return int(con.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_a_worker_killed_mid_shard_is_retried_and_repeats_no_completed_call(
    cluster: None, server: tuple[str, Path], tmp_path: Path
) -> None:
    url, log = server
    total = 160
    recipe = load_recipe(_server_recipe(tmp_path, url, kind="ray", shards=2))
    out = tmp_path / "out"
    result: dict[str, Any] = {}
    driver = threading.Thread(target=lambda: result.update(s=run(recipe, out, n=total)))
    driver.start()
    victim = None
    killed_at = 0.0
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and driver.is_alive():
        for db in (out / SHARD_DIR).glob("*.sqlite") if (out / SHARD_DIR).exists() else []:
            if 10 <= _count(db) < total // 2 - 10:
                pid = int(db.with_suffix(".lock").read_text().strip() or 0)
                if pid:
                    victim = pid
                    os.kill(pid, signal.SIGKILL)
                    killed_at = time.monotonic()
                    break
        time.sleep(0.01)
    driver.join(180)
    assert victim is not None, "the kill did not land mid-shard"
    assert not driver.is_alive()
    summary = result["s"]
    rows = read_jsonl(out / "dataset.jsonl")
    assert summary.accepted == len(rows) == len({r["id"] for r in rows})
    assert summary.accepted + sum(summary.rejected.values()) == total
    requests = _requests(log)
    repeated = sum(n - 1 for n in requests.values())
    # only the calls in flight in the killed worker may be asked twice: each repeated one was
    # first asked within the server's latency (plus a moment to commit) before the kill
    assert repeated <= CONCURRENCY, f"{repeated} calls asked again"
    assert max(requests.values()) <= 2
    first: dict[str, float] = {}
    for line in log.read_text().splitlines():
        call = json.loads(line)
        first.setdefault(call["digest"], call["t"])
    for digest, count in requests.items():
        if count > 1:
            assert first[digest] > killed_at - 0.05 - 0.25, "a completed call was asked again"
    # and the dataset is the local executor's
    local = tmp_path / "local"
    local.mkdir()
    run(load_recipe(_server_recipe(local, url)), local / "out", n=total)
    assert _outcome(out) == _outcome(local / "out")


def test_a_driver_killed_mid_run_resumes_from_the_completed_shards(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    """The command line starts its own Ray cluster; SIGKILL it (and the cluster) once some
    shards are merged, then run again."""
    url, log = server
    total = 200
    recipe = _server_recipe(tmp_path, url, kind="ray", shards=4)
    out = tmp_path / "out"
    args = ("run", recipe, "-o", out, "-n", str(total), "--no-report")
    proc = cli_process(*args, env={ALLOW_MODEL_REQUESTS_ENV: "1", "RAY_ADDRESS": None})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        merged = _count(out / STORE_FILE)
        if total // 4 <= merged < total:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    merged = _count(out / STORE_FILE)
    assert total // 4 <= merged < total
    time.sleep(1)  # the dead driver's workers are killed by Ray's own clean-up
    before = sum(_requests(log).values())

    cli(*args, env={ALLOW_MODEL_REQUESTS_ENV: "1", "RAY_ADDRESS": None}, check=0)
    rows = read_jsonl(out / "dataset.jsonl")
    assert len(rows) == len({r["id"] for r in rows})
    requests = _requests(log)
    after = sum(requests.values()) - before
    assert after <= total - merged + 4 * CONCURRENCY  # the rest, and at most what was in flight
    assert sum(n - 1 for n in requests.values()) <= 4 * CONCURRENCY
    local = tmp_path / "local"
    local.mkdir()
    run(load_recipe(_server_recipe(local, url)), local / "out", n=total)
    assert _outcome(out) == _outcome(local / "out")


class _Unbuildable(FakeBackend):
    """Works here; a worker cannot unpickle it, so every try of every shard fails."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (operator.truediv, (1, 0))


def test_a_shard_that_keeps_failing_fails_the_run_with_its_error(
    cluster: None, tmp_path: Path
) -> None:
    recipe = load_recipe(write_recipe(tmp_path, executor={"kind": "ray", "shards": 2}))
    with pytest.raises(SynthloomError) as info:
        run(recipe, tmp_path / "out", n=20, backend=_Unbuildable())
    message = str(info.value)
    assert "shard 1 of 2 (task 'qa', rows 0-9) failed 3 times" in message
    assert "ZeroDivisionError" in message
    assert "run again to resume" in message
    assert (tmp_path / "out" / STORE_FILE).exists()  # the run directory is kept
