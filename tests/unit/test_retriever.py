"""Grounding's retriever (an inverted index over TF-IDF weights) against the algorithm it
replaced, kept here verbatim: a Python loop scoring every document's vector per query."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest

from synthloom.quality.base import words
from synthloom.quality.judge import _Retriever


class _BruteForce:
    """The retriever before the inverted index (judge.py up to issue 12)."""

    def __init__(self, docs: list[tuple[str, str]]) -> None:
        self.docs = docs
        bags = [Counter(words(text)) for _, text in docs]
        df: Counter[str] = Counter()
        for bag in bags:
            df.update(bag.keys())
        n = len(docs)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.vectors = [self._vector(bag) for bag in bags]

    def _vector(self, bag: Counter[str]) -> dict[str, float]:
        vec = {w: c * self.idf.get(w, 0.0) for w, c in bag.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {w: v / norm for w, v in vec.items()}

    def scored(self, text: str) -> list[tuple[float, int]]:
        query = self._vector(Counter(words(text)))
        return [
            (sum(query.get(w, 0.0) * v for w, v in vec.items()), i)
            for i, vec in enumerate(self.vectors)
        ]

    def nearest(self, text: str, k: int) -> list[tuple[str, str]]:
        scored = self.scored(text)
        scored.sort(key=lambda p: (-p[0], p[1]))
        return [self.docs[i] for _, i in scored[:k]]


def _expected(brute: _BruteForce, text: str, k: int) -> list[int]:
    """The brute force's ranking, with scores that differ by rounding alone (the same words
    summed in another order) counted as the tie they are: first by position."""
    scored = sorted(brute.scored(text), key=lambda p: (-p[0], p[1]))
    snapped: list[tuple[float, int]] = []
    for score, i in scored:
        if snapped and abs(snapped[-1][0] - score) <= 1e-12:
            score = snapped[-1][0]
        snapped.append((score, i))
    snapped.sort(key=lambda p: (-p[0], p[1]))
    return [i for _, i in snapped[:k]]


def _ids(found: list[tuple[str, str]]) -> list[int]:
    return [int(doc_id) for doc_id, _ in found]


VOCAB = [f"w{i}" for i in range(60)]


def _corpus(rng: random.Random, n: int, vocab: list[str]) -> list[tuple[str, str]]:
    docs: list[tuple[str, str]] = []
    for i in range(n):
        if docs and rng.random() < 0.1:  # a copy of an earlier document: an exact tie
            docs.append((str(i), docs[rng.randrange(len(docs))][1]))
            continue
        length = rng.choice([0, 1, 3, 8, 20, 40])
        docs.append((str(i), " ".join(rng.choice(vocab) for _ in range(length))))
    return docs


def _queries(rng: random.Random, vocab: list[str]) -> list[str]:
    out = ["", "   ", "?!", "absent1 absent2 nowhere"]  # empty, and words in no document
    for _ in range(60):
        length = rng.choice([1, 2, 5, 12])
        out.append(" ".join(rng.choice([*vocab, "absent1"]) for _ in range(length)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_the_index_ranks_as_the_per_document_loop(seed: int) -> None:
    rng = random.Random(seed)
    docs = _corpus(rng, rng.choice([1, 5, 40, 300]), VOCAB[: rng.choice([5, 20, 60])])
    brute, index = _BruteForce(docs), _Retriever(docs)
    for query in _queries(rng, VOCAB):
        for k in (1, 3, len(docs), len(docs) + 5):
            assert _ids(index.nearest(query, k)) == _expected(brute, query, k), (query, k)


def test_without_near_ties_the_lists_are_identical() -> None:
    """Long documents over a large vocabulary: no two scores within rounding of each other, so
    the brute force's own order (no snapping) must come back exactly."""
    rng = random.Random(11)
    vocab = [f"v{i}" for i in range(3000)]
    docs = [(str(i), " ".join(rng.choice(vocab) for _ in range(120))) for i in range(200)]
    brute, index = _BruteForce(docs), _Retriever(docs)
    for _ in range(50):
        query = " ".join(rng.choice(vocab) for _ in range(30))
        scores = sorted((s for s, _ in brute.scored(query)), reverse=True)
        assert all(a - b > 1e-9 or a == b == 0.0 for a, b in itertools.pairwise(scores))
        assert index.nearest(query, 4) == brute.nearest(query, 4)


def test_an_empty_or_unknown_query_returns_the_first_documents() -> None:
    docs = [(f"d{i}", f"alpha beta {i}") for i in range(5)]
    index = _Retriever(docs)
    assert [d for d, _ in index.nearest("", 3)] == ["d0", "d1", "d2"]
    assert [d for d, _ in index.nearest("gamma delta", 2)] == ["d0", "d1"]
    assert [d for d, _ in index.nearest("beta 3", 2)] == ["d3", "d0"]
    assert len(index.nearest("alpha", 50)) == 5


def test_documents_with_the_same_words_in_any_order_tie_on_position() -> None:
    docs = [("a", "one two three x"), ("b", "three x one two"), ("c", "x three two one")]
    index = _Retriever(docs)
    scores = index.scores("two one three x x")
    assert scores[0] == scores[1] == scores[2]
    assert [d for d, _ in index.nearest("two one three x x", 2)] == ["a", "b"]


def test_no_documents_no_neighbours() -> None:
    assert _Retriever([]).nearest("anything", 3) == []
    assert _Retriever([("e", "")]).nearest("anything", 3) == [("e", "")]


def test_scores_are_the_cosines() -> None:
    docs = [(str(i), text) for i, text in enumerate(["a b c", "a a d", "e f", "b d d d"])]
    brute, index = _BruteForce(docs), _Retriever(docs)
    for query in ("a", "a d", "b c e", "zzz"):
        assert index.scores(query).tolist() == pytest.approx([s for s, _ in brute.scored(query)])
