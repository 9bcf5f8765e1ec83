"""The quality gate: the recipe's checks in funnel order (see :mod:`synthloom.quality.steps`),
applied to each record as the engine finishes it. A dropped record is stored with the check's
reason, detail and score; a record the gate keeps is admitted to every stateful check (dedup
indexes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from synthloom.calls import Calls
from synthloom.errors import GenerationFailed, RecipeError
from synthloom.quality.base import Check, text_of
from synthloom.quality.batching import Lane
from synthloom.quality.settings import QualitySettings
from synthloom.quality.steps import STEPS, Inputs, texts
from synthloom.records import Record, Status
from synthloom.seeds import Seed


class Gate:
    """``checks`` run in the order given; ``build_gate`` gives them in funnel order."""

    def __init__(
        self, checks: list[Check], fields: list[str] | None, *, embeds: bool = False
    ) -> None:
        self.checks = checks
        self.fields = fields
        self.embeds = embeds  # some check runs the embedding model
        self.steps = list(dict.fromkeys(c.name for c in checks))  # the funnel, in order
        self._step_of: dict[str, str] = {}
        for check in checks:
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

    def step_of(self, reason: str | None) -> str | None:
        """Which gate step a rejection reason is counted under (None: the task itself dropped
        the row), so the funnel counts every drop once, under a step it lists.

        A reason more than one step can give is counted under the first of them in funnel
        order. The one such reason is ``seed_copy``: dedup gives it when it compares against
        the seeds (``against_seeds``) and runs before privacy, so seed copies are counted
        under dedup then, and under privacy when dedup does not look at the seeds."""
        return self._step_of.get(reason or "")

    def text(self, record: Record) -> str:
        return text_of(record.data, self.fields)

    async def apply(self, record: Record, calls: Calls) -> Record:
        text = self.text(record)
        passed: list[Check] = []
        for check in self.checks:
            try:
                drop = await check.check(record, text, calls)
            except GenerationFailed as exc:  # the judge could not answer: keep the data
                self._undo(passed, record, text)
                record.status = Status.FAILED
                record.reason = f"{check.name}_failed"
                record.error = f"{exc.error_class}: {exc}"
                return record
            if drop is not None:
                self._undo(passed, record, text)
                record.status = Status.REJECTED
                record.reason = drop.reason
                record.error = drop.detail
                if drop.score is not None:
                    record.scores[f"{drop.reason}_score"] = round(drop.score, 4)
                return record
            check.admit(record, text)
            passed.append(check)
            text = self.text(record)  # a check may have redacted the record
        return record

    @staticmethod
    def _undo(passed: list[Check], record: Record, text: str) -> None:
        for check in reversed(passed):
            check.retract(record, text)

    def resume(self, accepted: Iterable[Record]) -> None:
        """Records kept by an earlier run into the same directory join the dedup indexes."""
        for record in accepted:
            text = self.text(record)
            for check in self.checks:
                check.admit(record, text)


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
