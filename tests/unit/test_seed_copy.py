"""A copy of a seed is a ``seed_copy`` naming the seed, however it was found: dedup's exact,
near and semantic indexes (``against_seeds``) or the privacy step. A duplicate of another
generated record keeps its duplicate reason. The funnel counts every drop under a step it
lists, whichever sections the recipe has."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthloom.errors import RecipeError
from synthloom.quality.base import words
from synthloom.quality.embed import Embedder, Vectors
from synthloom.quality.gate import Gate, build_gate
from synthloom.quality.semantic import SemanticDedup
from synthloom.quality.settings import QualitySettings
from synthloom.records import Provenance, Record, Status
from synthloom.seeds import Seed

SEED = (
    "After a knee replacement keep the incision clean and dry, walk a little every hour, "
    "sleep with the leg straight and call the ward if the calf turns hot, red or swollen."
)
NEAR = SEED.replace("every hour", "each hour")
OTHER = (
    "Eat prunes, fruit, vegetables and whole grains and drink plenty of water while you take "
    "opioid pain medicine, because it slows the bowel down for as long as you take it."
)
OTHER_NEAR = OTHER.replace("plenty of", "lots of")


def _record(text: str, rid: str) -> Record:
    prov = Provenance("unit", "t", 0, [], {}, "", "fake", "fake-1", {})
    return Record(rid, "t", {"text": text}, prov)


def _gate(quality: dict[str, Any], seeds: Sequence[tuple[str, str]] = (("s7", SEED),)) -> Gate:
    gate = build_gate(
        QualitySettings.model_validate(quality),
        [Seed(sid, {"text": text}) for sid, text in seeds],
        Path.cwd(),
        lambda field, cause: RecipeError(cause, file="recipe.yaml", field=field),
        ["text"],
    )
    assert gate is not None
    return gate


def _apply(gate: Gate, texts: list[str], *, kept: Sequence[str] = ()) -> list[Record]:
    """Each text through the gate in order (ids r0, r1, ...), after ``kept`` joined the
    indexes as records an earlier run kept (ids old0, old1, ...)."""
    gate.resume(_record(t, f"old{i}") for i, t in enumerate(kept))

    async def go() -> list[Record]:
        return [await gate.apply(_record(t, f"r{i}"), None) for i, t in enumerate(texts)]  # type: ignore[arg-type]

    return asyncio.run(go())


def _funnel(gate: Gate, records: list[Record]) -> dict[str, int]:
    """What the run summary counts: each dropped record once, under the step of its reason."""
    counts = dict.fromkeys(gate.steps, 0)
    for record in records:
        if record.status is Status.REJECTED:
            step = gate.step_of(record.reason)
            assert step in gate.steps, record.reason
            counts[step] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# dedup against the seeds


def test_an_exact_copy_of_a_seed_is_a_seed_copy_naming_the_seed() -> None:
    gate = _gate({"dedup": {"near": None}})
    (record,) = _apply(gate, [SEED.upper()])
    assert (record.status, record.reason) == (Status.REJECTED, "seed_copy")
    assert record.error == "same normalised text as seed s7"
    assert record.notes["nearest_seed"] == "s7"
    assert _funnel(gate, [record]) == {"dedup": 1}


def test_a_near_copy_of_a_seed_is_a_seed_copy_naming_the_seed() -> None:
    gate = _gate({"dedup": {"exact": False, "near": 0.7, "shingle": 3}})
    (record,) = _apply(gate, [NEAR])
    assert record.reason == "seed_copy"
    assert "estimated Jaccard" in (record.error or "")
    assert "with seed s7" in (record.error or "")
    assert record.scores["seed_copy_score"] >= 0.7


def test_a_duplicate_of_a_generated_record_keeps_its_duplicate_reason() -> None:
    gate = _gate({"dedup": {"near": 0.7, "shingle": 3}})
    records = _apply(gate, [OTHER, OTHER.lower(), OTHER_NEAR, SEED])
    assert [r.reason for r in records] == [None, "exact_duplicate", "near_duplicate", "seed_copy"]
    assert records[1].error == "same normalised text as r0"
    assert "with r0" in (records[2].error or "")
    assert _funnel(gate, records) == {"dedup": 3}


@pytest.mark.parametrize(
    ("quality", "copy"),
    [
        pytest.param({"dedup": {"near": None}}, SEED, id="exact"),
        pytest.param({"dedup": {"exact": False, "near": 0.7, "shingle": 3}}, NEAR, id="near"),
    ],
)
def test_a_seed_copy_is_a_seed_copy_even_when_a_kept_record_matches_too(
    quality: dict[str, Any], copy: str
) -> None:
    (record,) = _apply(_gate(quality), [copy], kept=[SEED])
    assert record.reason == "seed_copy"
    assert "seed s7" in (record.error or "")


def test_without_against_seeds_a_seed_copy_is_left_to_privacy() -> None:
    gate = _gate({"dedup": {"against_seeds": False}, "privacy": {"pii": None}})
    (record,) = _apply(gate, [SEED])
    assert record.reason == "seed_copy"
    assert "3-gram Jaccard" in (record.error or "")
    assert gate.step_of("seed_copy") == "privacy"
    assert _funnel(gate, [record]) == {"dedup": 0, "privacy": 1}


def test_with_dedup_and_privacy_every_seed_copy_is_counted_once_under_privacy() -> None:
    """The rule (Gate.step_of): a reason two steps give is counted under the first; privacy
    is stateless and runs before dedup, the one stateful step."""
    gate = _gate({"dedup": {}, "privacy": {"pii": None, "max_seed_similarity": None}})
    passage = SEED[10:150]  # 140 shared characters: only the privacy substring test sees it
    quoted = f"A reader of our weekly newsletter asks: {passage}? Is that so, and for how long?"
    records = _apply(gate, [SEED, quoted])
    assert [r.reason for r in records] == ["seed_copy", "seed_copy"]
    assert "copied from seed s7" in (records[0].error or "")
    assert "copied from seed s7" in (records[1].error or "")
    assert gate.steps == ["privacy", "dedup"]
    assert _funnel(gate, records) == {"privacy": 2, "dedup": 0}


# ---------------------------------------------------------------------------------------------
# semantic dedup against the seeds


class _Encoder:
    """Hashed bag of words, unit length: cosine tracks shared vocabulary."""

    def __call__(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                out[row, h % 384] += 1.0
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out


REWORDED = (
    "Call the ward if the calf turns hot, red or swollen; after a knee replacement keep the "
    "incision dry and clean, walk a little every hour and sleep with the leg straight."
)


def _semantic() -> Gate:
    return Gate([SemanticDedup(Embedder(load=_Encoder), 0.9, [("s7", SEED)])], ["text"])


@pytest.mark.parametrize("kept", [(), (SEED,)], ids=["alone", "kept-record-matches-too"])
def test_a_paraphrase_of_a_seed_is_a_seed_copy(kept: tuple[str, ...]) -> None:
    gate = _semantic()
    (copy,) = _apply(gate, [REWORDED], kept=kept)
    assert copy.reason == "seed_copy"
    assert "embedding cosine" in (copy.error or "")
    assert "with seed s7" in (copy.error or "")
    assert copy.notes["nearest_seed"] == "s7"
    assert gate.step_of("seed_copy") == "dedup"


def test_a_paraphrase_of_a_kept_record_is_still_a_semantic_duplicate() -> None:
    first, second = _apply(_semantic(), [OTHER, OTHER_NEAR])
    assert first.status is Status.ACCEPTED
    assert second.reason == "semantic_duplicate"
    assert "with r0" in (second.error or "")
    assert second.notes["semantic_duplicate_of"] == "r0"


def test_a_dedup_check_without_seeds_gives_no_seed_copy() -> None:
    gate = _gate({"dedup": {"semantic": None}}, seeds=())
    assert all("seed_copy" not in check.reasons for check in gate.checks)
    assert gate.step_of("seed_copy") is None
