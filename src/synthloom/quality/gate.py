"""The quality gate: the recipe's checks in funnel order (see :mod:`synthloom.quality.steps`).

It runs in two parts. ``screen`` applies the stateless checks to each record as the engine
finishes it, anywhere and in any order of records (a Ray shard, or the local engine's many
rows in flight). ``merge`` applies the stateful checks (dedup indexes) where records are merged,
one at a time in row order, so a run's dataset is the same however its rows were scheduled or
sharded. A dropped record is stored with the check's reason, detail and score; a record the
gate keeps is admitted to every stateful check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from synthloom.calls import Calls
from synthloom.errors import GenerationFailed, RecipeError
from synthloom.quality.base import Check, Drop, text_of
from synthloom.quality.batching import Lane
from synthloom.quality.settings import QualitySettings
from synthloom.quality.steps import STEPS, Inputs, texts
from synthloom.records import Record, Status
from synthloom.seeds import Seed


class Gate:
    """``checks`` run in the order given, the stateful ones last; ``build_gate`` gives them in
    funnel order."""

    def __init__(
        self, checks: list[Check], fields: list[str] | None, *, embeds: bool = False
    ) -> None:
        self.stateless = [c for c in checks if not c.stateful]
        self.stateful = [c for c in checks if c.stateful]
        self.checks = self.stateless + self.stateful  # the order records meet them
        self.fields = fields
        self._turn = asyncio.Lock()
        self.embeds = embeds  # some check runs the embedding model
        self.steps = list(dict.fromkeys(c.name for c in self.checks))  # the funnel, in order
        self._step_of: dict[str, str] = {}
        for check in self.checks:
            for reason in check.reasons:
                self._step_of.setdefault(reason, check.name)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the work that applies the gate: when a check runs the embedding model,
        numpy's BLAS keeps to one thread meanwhile, and gets its threads back after.

        The semantic checks' nearest-neighbour products (a matrix-vector product over the
        kept records) run on the event loop while torch encodes on every core. OpenBLAS
        would wake a thread per core for each product, and the two pools fought: on 2 cores
        the flagship gate made 66 records/s instead of 92, for a product one thread does
        nearly as fast (70 vs 60 us over 2,000 rows). Limiting each product instead cost
        more than it saved: every threadpoolctl call goes through ctypes, which gives up the
        GIL and waits for it back behind the encoding thread."""
        if not self.embeds:
            yield
            return
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            yield

    def stateless_only(self) -> Gate:
        """This gate without its stateful checks: what a shard runs (the merge runs those)."""
        return Gate(self.stateless, self.fields, embeds=self.embeds)

    def step_of(self, reason: str | None) -> str | None:
        """Which gate step a rejection reason is counted under (None: the task itself dropped
        the row), so the funnel counts every drop once, under a step it lists.

        A reason more than one step can give is counted under the first of them in funnel
        order. The one such reason is ``seed_copy``: the privacy step and dedup against the
        seeds (``against_seeds``) both give it; privacy comes first, so seed copies are counted
        under privacy when it looks for them, and under dedup otherwise."""
        return self._step_of.get(reason or "")

    def text(self, record: Record) -> str:
        return text_of(record.data, self.fields)

    async def apply(self, record: Record, calls: Calls) -> Record:
        """Both parts, for a caller without a merge of its own (records concurrently given
        take their turns at the stateful checks one at a time)."""
        record = await self.screen(record, calls)
        async with self._turn:
            return await self.merge(record, calls)

    async def screen(self, record: Record, calls: Calls) -> Record:
        """The stateless checks; a record they keep is prepared for the stateful ones."""
        text = self.text(record)
        for check in self.stateless:
            try:
                drop = await check.check(record, text, calls)
            except GenerationFailed as exc:  # the judge could not answer: keep the data
                return _failed(record, check, exc)
            if drop is not None:
                return _dropped(record, drop)
            text = self.text(record)  # a check may have redacted the record
        for check in self.stateful:
            await check.prepare(record, text)
        return record

    async def merge(self, record: Record, calls: Calls) -> Record:
        """The stateful checks, for a record ``screen`` kept, in the run's row order."""
        return await run_stateful(self.stateful, record, self.text(record), calls)

    def resume(self, accepted: Iterable[Record]) -> None:
        """Records kept by an earlier run into the same directory join the dedup indexes."""
        for record in accepted:
            text = self.text(record)
            for check in self.checks:
                check.admit(record, text)


async def run_stateful(checks: list[Check], record: Record, text: str, calls: Calls) -> Record:
    """Stateful checks in order, for a record still accepted; it is admitted to all of them
    once every one has kept it. Callers pass one record at a time (the merge's turn)."""
    if record.status != Status.ACCEPTED:
        return record
    for check in checks:
        drop = await check.check(record, text, calls)
        if drop is not None:
            return _dropped(record, drop)
    for check in checks:
        check.admit(record, text)
    return record


def _failed(record: Record, check: Check, exc: GenerationFailed) -> Record:
    record.status = Status.FAILED
    record.reason = f"{check.name}_failed"
    record.error = f"{exc.error_class}: {exc}"
    return record


def _dropped(record: Record, drop: Drop) -> Record:
    record.status = Status.REJECTED
    record.reason = drop.reason
    record.error = drop.detail
    if drop.score is not None:
        record.scores[f"{drop.reason}_score"] = round(drop.score, 4)
    return record


def build_gate(
    settings: QualitySettings,
    seeds: list[Seed],
    base_dir: Path,
    error_at: Callable[[str, str], RecipeError],
    record_fields: list[str] | None = None,
) -> Gate | None:
    """The recipe's checks, built now so a missing package or file fails before any call.

    Seeds are compared through the same fields as the records (``quality.fields``, else the
    fields the records have), so a record that copies a seed's question and answer matches the
    seed even when the seed has other columns too."""
    if not settings.enabled:
        return None
    lane = Lane()  # one per gate: its embedding and language batches take turns on the cores
    embedder = None
    if settings.semantic:
        from synthloom.quality.embed import Embedder, require_embeddings

        require_embeddings(
            "Semantic checks (quality: dedup.semantic, decontaminate.semantic, "
            "privacy.max_seed_cosine, heuristics.relevance)"
        )
        embedder = Embedder(lane=lane)
    inputs = Inputs(
        settings,
        texts(seeds, settings.fields or record_fields),
        base_dir,
        error_at,
        embedder,
        lane,
        seeds,
    )
    checks: list[Check] = []
    for step in STEPS:
        built = step.build(inputs)
        assert all(c.name == step.name for c in built), f"a {step.name} check named otherwise"
        checks.extend(built)
    return Gate(checks, settings.fields, embeds=embedder is not None)
