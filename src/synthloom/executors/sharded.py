"""The Ray executor: a stage's rows as shards, each a Ray task running the local engine; the
driver merges finished shards into the run store in row order through the stateful checks.

Shards write to their own stores under ``<outdir>/shards/`` (see :mod:`.shard`), named by the
digest of their part of the plan. A shard marked complete is merged and never run again; a
merged shard's rows are done in the run store, and its file is removed. So a driver killed at
any point resumes on a re-run: merged shards are skipped, complete ones merged, the others run
again from their own caches. On a cluster of several machines, ``outdir`` must be on a
filesystem they all see (each shard store has one writer, the driver only reads it).
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from synthloom.errors import MissingDependencyError, SynthloomError
from synthloom.executors.base import Executor
from synthloom.executors.merge import Merger
from synthloom.executors.shard import COMPLETE, BackendSource, ShardResult, ShardSpec, run_shard
from synthloom.hooks import OnRecord
from synthloom.pipeline import Prepared
from synthloom.planning import StagePlan
from synthloom.recipe import ExecutorSettings
from synthloom.records import Record
from synthloom.store.sqlite import RunStore

SHARD_DIR = "shards"
MERGE_CHUNK = 256  # rows a merge reads and prepares at once (one embedding batch)
TRIES = 3  # a shard whose worker dies, or that raises, runs again up to this many times in all


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "ray", "The Ray executor (executor: {kind: ray})", "synthloom[ray]"
        ) from None
    return ray


def split(rows: range, shards: int) -> list[range]:
    """``rows`` as up to ``shards`` contiguous ranges of near-equal size, in order."""
    count = max(1, min(shards, len(rows)))
    size, extra = divmod(len(rows), count)
    ranges, start = [], rows.start
    for i in range(count):
        stop = start + size + (1 if i < extra else 0)
        if stop > start:
            ranges.append(range(start, stop))
        start = stop
    return ranges


class RayExecutor(Executor):
    def __init__(
        self,
        prepared: Prepared,
        store: RunStore,
        outdir: Path,
        backend: BackendSource,
        settings: ExecutorSettings,
        on_record: OnRecord | None = None,
    ) -> None:
        super().__init__()
        self.ray = require_ray()
        self.prepared = prepared
        self.store = store
        self.folder = Path(outdir) / SHARD_DIR
        self.backend = backend
        self.settings = settings
        self.on_record = on_record
        self._started = False  # this executor started the cluster (and stops it)
        self._pacer: Any = None

    # -- cluster ------------------------------------------------------------------------------
    def _connect(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            ray.init(
                address=self.settings.address,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
            )
            self._started = self.settings.address is None
        if self._pacer is None:
            self._pacer = self._make_pacer()

    def _make_pacer(self) -> Any:
        """One pacer actor for the whole run, when the recipe limits rates or spending."""
        from synthloom.executors.local import budget_for
        from synthloom.executors.shard import SharedPacer

        model = self.prepared.recipe.model
        budget = budget_for(self.prepared, self.store)
        if budget is None and not model.rpm and not model.tpm:
            return None
        return self.ray.remote(SharedPacer).options(num_cpus=0).remote(model.rpm, model.tpm, budget)

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    def _shard_count(self) -> int:
        if self.settings.shards is not None:
            return self.settings.shards
        return max(1, 2 * int(self.ray.cluster_resources().get("CPU", 1)))

    # -- a stage ------------------------------------------------------------------------------
    async def run_stage(self, stage: StagePlan, rows: range) -> None:
        self._connect()
        ranges = split(rows, self._shard_count())
        paths = [self._path(stage.name, r) for r in ranges]
        self._forget_stale(stage.name, set(paths))
        inputs = self.ray.put(stage.inputs) if stage.inputs is not None else None
        running: dict[int, Any] = {}
        for i, (span, path) in enumerate(zip(ranges, paths, strict=True)):
            if self._merged(stage, span) or _complete(path):
                continue
            spec = ShardSpec(
                recipe=self.prepared.recipe,
                backend=self.backend,
                stage=stage.name,
                rows=span,
                size=stage.size,
                path=path,
                done=self.store.completed_ids(stage.name, span),
                pacer=self._pacer,
            )
            task = self.ray.remote(run_shard).options(
                num_cpus=1, max_retries=TRIES - 1, retry_exceptions=True
            )
            running[i] = task.remote(spec, inputs)
        merger = Merger.for_stage(
            stage, self.store, self.prepared.gate, rows, on_record=self.on_record
        )
        try:
            await self._merge_all(stage, ranges, paths, running, merger)
        except BaseException:
            for ref in running.values():
                self.ray.cancel(ref, force=True)
            raise
        self.stats.stopped = await self._stopped()

    async def _merge_all(
        self,
        stage: StagePlan,
        ranges: list[range],
        paths: list[Path],
        running: dict[int, Any],
        merger: Merger,
    ) -> None:
        for i, (span, path) in enumerate(zip(ranges, paths, strict=True)):
            if self._merged(stage, span):
                _remove(path)
                for position in span:
                    merger.skip(position)
                continue
            if i in running:
                try:
                    result: ShardResult = await running.pop(i)
                except Exception as exc:
                    await self._settle_others(running)
                    raise SynthloomError(
                        f"shard {i + 1} of {len(ranges)} (task {stage.name!r}, rows "
                        f"{span.start}-{span.stop - 1}) failed {TRIES} times: {_cause(exc)}. "
                        f"Every other shard's work is kept ({self.folder}); run again to resume"
                    ) from None
                self._count(result)
                if result.stopped is not None:  # the budget: merge what there is, then stop
                    await self._merge(path, span, stage.name, merger)
                    await self._settle_others(running)
                    for later, later_path in zip(ranges[i + 1 :], paths[i + 1 :], strict=True):
                        await self._merge(later_path, later, stage.name, merger)
                    await merger.finish()
                    return
            await self._merge(path, span, stage.name, merger)
        await merger.finish()

    async def _merge(self, path: Path, span: range, task: str, merger: Merger) -> None:
        """The shard's rows into the run store in row order; then its file goes. Its calls
        come first, so a merged row's calls are never lost with the file."""
        if not path.exists():  # noqa: ASYNC240 - one stat per shard
            return
        self.store.import_cache(path)
        # rows a killed driver had merged already: merged twice, a record would meet itself
        # in the dedup index it joined the first time
        done = self.store.completed_ids(task, span)
        with RunStore(path) as shard:
            found = (item for item in shard.rows_in_order(task) if item[0].id not in done)
            position = span.start
            chunk: list[tuple[Record, str]] = []
            for item in found:
                chunk.append(item)
                if len(chunk) == MERGE_CHUNK:
                    position = await self._offer(chunk, position, merger)
                    chunk = []
            position = await self._offer(chunk, position, merger)
        for rest in range(position, span.stop):  # rows done before, or never run (budget)
            merger.skip(rest)
        _remove(path)

    @staticmethod
    async def _offer(chunk: list[tuple[Record, str]], position: int, merger: Merger) -> int:
        await merger.prepare([record for record, _ in chunk])
        for record, fingerprint in chunk:
            row = record.provenance.row
            for gap in range(position, row):  # rows the run store has already
                merger.skip(gap)
            await merger.offer(row, fingerprint, record, None)
            position = row + 1
        return position

    async def _settle_others(self, running: dict[int, Any]) -> None:
        """Let the other shards finish (their stores are kept, complete, for the re-run)."""
        for ref in list(running.values()):
            with contextlib.suppress(Exception):  # a failure of its own is reported already
                self._count(await ref)
        running.clear()

    def _count(self, result: ShardResult) -> None:
        self.stats.model_calls += result.model_calls
        self.stats.cache_hits += result.cache_hits
        for url, counts in result.endpoints.items():
            mine = self.stats.endpoints.setdefault(url, {})
            for key, value in counts.items():
                mine[key] = mine.get(key, 0) + value

    async def _stopped(self) -> str | None:
        if self._pacer is None:
            return None
        found: str | None = await self._pacer.stopped.remote()
        return found

    # -- shard files ----------------------------------------------------------------------------
    def _path(self, task: str, span: range) -> Path:
        digest = self.store.plan_digest(task, span)
        return self.folder / f"{task}-{span.start:09d}-{span.stop:09d}-{digest}.sqlite"

    def _merged(self, stage: StagePlan, span: range) -> bool:
        return len(self.store.completed_ids(stage.name, span)) == len(span)

    def _forget_stale(self, task: str, current: set[Path]) -> None:
        """Shard files of this task made for another plan (the recipe or -n changed)."""
        if not self.folder.is_dir():
            return
        pattern = re.compile(re.escape(task) + r"-\d{9}-\d{9}-[0-9a-f]{16}\.sqlite")
        for path in self.folder.iterdir():
            if pattern.fullmatch(path.name) and path not in current:
                _remove(path)


def _complete(path: Path) -> bool:
    if not path.exists():
        return False
    with RunStore(path) as shard:
        return bool(shard.get_meta(COMPLETE))


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.with_suffix(".lock").unlink(missing_ok=True)


def _cause(exc: BaseException) -> str:
    """The shard's own error, not Ray's wrapping of it."""
    cause = getattr(exc, "cause", None)
    inner = cause if isinstance(cause, BaseException) else exc
    return f"{type(inner).__name__}: {inner}".strip()
