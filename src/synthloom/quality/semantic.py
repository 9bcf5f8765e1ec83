"""Checks on meaning rather than wording: a paraphrase of a kept record (``semantic_duplicate``),
of an eval item (``contaminated``) or of a seed (``seed_copy``, whether semantic dedup or the
privacy step found it) is caught by the cosine of all-MiniLM-L6-v2 embeddings, where shingle
and n-gram checks see different words.

Reference texts (seeds, eval items) are embedded in one batch on the first record, so a run
that never reaches the gate never loads the model. A record's text is embedded once for all
three checks (the embedder keeps its vector), and the seeds once for both checks that read
them (one shared index)."""

from __future__ import annotations

import asyncio
import weakref

from synthloom.calls import Calls
from synthloom.quality.base import SEED_COPY, Check, Drop
from synthloom.quality.embed import Embedder, Vectors
from synthloom.quality.vindex import VectorIndex
from synthloom.records import Record


class _Reference:
    """A fixed set of labelled texts, embedded on first use. Made through ``_reference``, so
    checks given the same texts (dedup against the seeds, the seed-copy check) share it."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self.index: VectorIndex | None = None
        # records arrive together: the first builds the index, the others wait for it
        self._building = asyncio.Lock()

    async def ready(self, embedder: Embedder) -> VectorIndex:
        if self.index is not None:
            return self.index
        async with self._building:
            if self.index is None:
                index = VectorIndex()
                if self._items:
                    vectors = await embedder.many([text for _, text in self._items])
                    for (label, _), vector in zip(self._items, vectors, strict=True):
                        index.add(label, vector)
                self.index = index
        return self.index


# per embedder (one per gate); a _Reference holds none, so the entries go with their gate
_SHARED: weakref.WeakKeyDictionary[Embedder, dict[tuple[tuple[str, str], ...], _Reference]] = (
    weakref.WeakKeyDictionary()
)


def _reference(embedder: Embedder, items: list[tuple[str, str]]) -> _Reference:
    """The embedder's index of these items, made on the first request. The embedder does not
    keep reference vectors (a large eval set would push the records' out), so two checks on
    the same seeds share one index instead, embedded once."""
    shared = _SHARED.setdefault(embedder, {})
    key = tuple(items)
    found = shared.get(key)
    if found is None:
        found = shared[key] = _Reference(items)
    return found


class SemanticDedup(Check):
    """Cosine against the seeds (a match is a ``seed_copy``) and every record kept so far (a
    ``semantic_duplicate``). Records reach it one at a time, in row order, where they merge."""

    name = "dedup"
    stateful = True
    reasons: tuple[str, ...] = ("semantic_duplicate",)

    def __init__(self, embedder: Embedder, threshold: float, seeds: list[tuple[str, str]]) -> None:
        self.threshold = threshold
        self.embedder = embedder
        self._seeds = _reference(embedder, seeds)
        self._kept = VectorIndex()
        self._last: tuple[str, Vectors] | None = None  # checked, not yet admitted
        self._backlog: list[tuple[str, str]] = []  # admitted without a vector (resume)
        if seeds:
            self.reasons = (*type(self).reasons, SEED_COPY)

    async def _index(self) -> VectorIndex:
        while self._backlog:
            batch, self._backlog = self._backlog, []
            vectors = await self.embedder.many([text for _, text in batch])
            for (label, _), vector in zip(batch, vectors, strict=True):
                self._kept.add(label, vector)
        return self._kept

    async def prepare(self, record: Record, text: str) -> None:
        await self.embedder.one(text)  # the embedder keeps the vector for ``check``

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        vector = await self.embedder.one(text)
        seed_cosine, seed = (await self._seeds.ready(self.embedder)).nearest(vector)
        index = await self._index()
        score, label = index.nearest(vector)  # no await from here to admit
        record.scores["semantic_dup_cosine"] = round(max(score, seed_cosine, 0.0), 4)
        if seed_cosine >= self.threshold:
            record.notes["nearest_seed"] = seed
            detail = f"embedding cosine {seed_cosine:.3f} >= {self.threshold} with seed {seed}"
            return Drop(SEED_COPY, detail, seed_cosine)
        if score >= self.threshold:
            record.notes["semantic_duplicate_of"] = label
            return Drop(
                "semantic_duplicate",
                f"embedding cosine {score:.3f} >= {self.threshold} with {label}",
                score,
            )
        self._last = (record.id, vector)  # merges are one at a time: admit comes next
        return None

    def admit(self, record: Record, text: str) -> None:
        last, self._last = self._last, None
        if last is not None and last[0] == record.id:
            self._kept.add(record.id, last[1])
        else:  # resume: embedded in one batch when the next record arrives
            self._backlog.append((record.id, text))


class NearestReference(Check):
    """The closest fixed reference text by meaning. As eval decontamination, a paraphrased
    test question is still a leak; as the seed-copy check, every record gets the score, so the
    report can show how far the data strays from (or hugs) the private seeds."""

    def __init__(
        self,
        embedder: Embedder,
        threshold: float,
        items: list[tuple[str, str]],
        *,
        step: str,
        reason: str,
        score: str,
        note: str,
        kind: str = "",
    ) -> None:
        self.name, self.reasons = step, (reason,)
        self.threshold = threshold
        self.embedder = embedder
        self._reference = _reference(embedder, items)
        self._score, self._note, self._kind = score, note, kind

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        vector = await self.embedder.one(text)
        cosine, label = (await self._reference.ready(self.embedder)).nearest(vector)
        record.scores[self._score] = round(max(cosine, 0.0), 4)
        if label:
            record.notes[self._note] = label
        if cosine >= self.threshold:
            detail = f"embedding cosine {cosine:.3f} >= {self.threshold} with {self._kind}{label}"
            return Drop(self.reasons[0], detail, cosine)
        return None


def semantic_contamination(
    embedder: Embedder, threshold: float, items: list[tuple[str, str]]
) -> NearestReference:
    return NearestReference(
        embedder,
        threshold,
        items,
        step="decontaminate",
        reason="contaminated",
        score="eval_cosine",
        note="nearest_eval_item",
    )


def seed_cosine(
    embedder: Embedder, threshold: float, seeds: list[tuple[str, str]]
) -> NearestReference:
    return NearestReference(
        embedder,
        threshold,
        seeds,
        step="privacy",
        reason=SEED_COPY,
        score="seed_cosine",
        note="nearest_seed",
        kind="seed ",
    )
