"""Whether a record is about what it should be, by meaning: the response about its prompt
(``off_topic_answer``), and the record about the seed it was made from (``off_topic``).

A fixed cosine would mean different things for different data and embedding models, so each
threshold is calibrated on the seeds, the only texts known to be good:

- ``off_topic_answer``: the seeds' own prompt-response cosines. Their ``percentile`` (5th by
  default) is how loosely a good answer can track its question; ``margin`` (0.8) leaves room
  for generated answers being a little looser than hand-written ones.
- ``off_topic``: each seed's cosine to its nearest other seed. A record made from a seed should
  be at least as close to it as seeds on neighbouring subjects are to each other; the low
  ``percentile`` of those nearest-neighbour cosines, times ``margin``, is that floor. The
  nearest other seed rather than all of them: seeds on different subjects are far apart by
  design, and their cosines say nothing about closeness.

An explicit ``min_answer_cosine`` / ``min_seed_cosine`` replaces the calibration. Seeds are
embedded when the first record arrives, not when the recipe is read, as the other semantic
checks do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from synthloom.calls import Calls
from synthloom.errors import RecipeError
from synthloom.quality.base import Check, Drop, quote
from synthloom.quality.embed import Embedder, Vectors
from synthloom.quality.settings import RelevanceSettings
from synthloom.records import Record
from synthloom.seeds import Seed

MIN_SEEDS = 3  # fewer cosines than this make no percentile


class Relevance(Check):
    name = "relevance"
    reasons: tuple[str, ...] = ("off_topic_answer", "off_topic")

    def __init__(
        self,
        embedder: Embedder,
        settings: RelevanceSettings,
        seeds: list[Seed],
        seed_texts: list[tuple[str, str]],
        error_at: Callable[[str, str], RecipeError],
    ) -> None:
        """``seed_texts``: each seed's text through the gate's fields, as the record's ``text``
        is, so the record and its seed are embedded alike."""
        s = self.settings = settings
        self.embedder = embedder
        self._pairs = [
            (str(row.fields[s.prompt]), str(row.fields[s.response]))
            for row in seeds
            if _filled(row.fields.get(s.prompt)) and _filled(row.fields.get(s.response))
        ]
        if s.min_answer_cosine is None and len(self._pairs) < MIN_SEEDS:
            raise error_at(
                "quality.heuristics.relevance",
                f"calibrating the answer threshold needs at least {MIN_SEEDS} seeds with both "
                f"'{s.prompt}' and '{s.response}' (found {len(self._pairs)}); "
                "or give min_answer_cosine",
            )
        self._seeds = [(sid, text) for sid, text in seed_texts if text.strip()] if s.seed else []
        if s.seed and s.min_seed_cosine is None and len(self._seeds) < MIN_SEEDS:
            raise error_at(
                "quality.heuristics.relevance",
                f"calibrating the seed threshold needs at least {MIN_SEEDS} seeds "
                f"(found {len(self._seeds)}); or give min_seed_cosine, or seed: false",
            )
        if not s.seed:
            self.reasons = ("off_topic_answer",)
        self.answer_min: float | None = s.min_answer_cosine
        self.seed_min: float | None = s.min_seed_cosine
        self._answer_basis = self._seed_basis = "set in the recipe"
        self._seed_vectors: dict[str, Vectors] = {}
        self._ready = False
        self._calibrating = asyncio.Lock()  # records arrive together: the first calibrates

    async def calibrate(self) -> None:
        """Embed the seeds and set each threshold the recipe left open (once)."""
        if self._ready:
            return
        async with self._calibrating:
            if self._ready:
                return
            s = self.settings
            if self.answer_min is None:
                prompts = await self.embedder.many([p for p, _ in self._pairs])
                responses = await self.embedder.many([r for _, r in self._pairs])
                cosines = np.einsum("ij,ij->i", prompts, responses)
                self.answer_min, self._answer_basis = _floor(
                    cosines, s, f"seeds' {s.prompt}-{s.response} cosines"
                )
            if self._seeds:
                vectors = await self.embedder.many([text for _, text in self._seeds])
                self._seed_vectors = {
                    sid: v for (sid, _), v in zip(self._seeds, vectors, strict=True)
                }
                if self.seed_min is None:
                    sims = vectors @ vectors.T
                    np.fill_diagonal(sims, -np.inf)
                    self.seed_min, self._seed_basis = _floor(
                        sims.max(axis=1), s, "seeds' cosines to their nearest other seed"
                    )
            self._ready = True

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        await self.calibrate()
        s = self.settings
        prompt, response = record.data.get(s.prompt), record.data.get(s.response)
        if self.answer_min is not None and _filled(prompt) and _filled(response):
            asked, said = await asyncio.gather(
                self.embedder.one(str(prompt)), self.embedder.one(str(response))
            )
            cosine = float(asked @ said)
            record.scores["answer_cosine"] = round(cosine, 4)
            if cosine < self.answer_min:
                detail = (
                    f"{s.response} {quote(str(response).strip(), 50)} is far from {s.prompt} "
                    f"{quote(str(prompt).strip(), 50)}: cosine {cosine:.3f} "
                    f"< {self.answer_min:.3f} ({self._answer_basis})"
                )
                return Drop("off_topic_answer", detail, cosine)
        seed_ids = record.provenance.seed_ids
        seed = self._seed_vectors.get(seed_ids[0]) if seed_ids else None
        if seed is not None and self.seed_min is not None:
            cosine = float(await self.embedder.one(text) @ seed)
            record.scores["seed_topic_cosine"] = round(cosine, 4)
            if cosine < self.seed_min:
                detail = (
                    f"far from its seed {seed_ids[0]}: cosine {cosine:.3f} < {self.seed_min:.3f} "
                    f"({self._seed_basis})"
                )
                return Drop("off_topic", detail, cosine)
        return None


def _floor(cosines: Any, s: RelevanceSettings, what: str) -> tuple[float, str]:
    """The calibrated threshold and how it was reached. A margin below 1 loosens it; a low
    cosine that is already negative (seeds unrelated to one another) is kept as it is."""
    low = float(np.percentile(cosines, s.percentile))
    if low <= 0:
        return low, f"percentile {s.percentile:g} of the {what}"
    return low * s.margin, f"percentile {s.percentile:g} of the {what}, {low:.3f}, x {s.margin:g}"


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
