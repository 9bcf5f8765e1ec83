"""Lexical metrics against hand-computed values and their reference implementations: nltk's BLEU
for Self-BLEU, a brute-force set of n-gram tuples for distinct-n, and the ``diversity`` package's
own ``compression_ratio`` for the compression ratio. ``import diversity`` fetches nltk data over
the network, so its compression module is loaded from its file, which needs only the standard
library."""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import random
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from synthloom.report import lexical
from synthloom.report.lexical import (
    compression_ratio,
    distinct_n,
    lexical_metrics,
    looping_share,
    openings,
    percentiles,
    self_bleu,
    self_bleu_scores,
    tokens,
)

METHOD1 = SmoothingFunction().method1


def _random_text(rng: random.Random, words: list[str], longest: int) -> str:
    separators = [" ", ", ", "\n", "! "]
    return "".join(
        rng.choice(words) + rng.choice(separators) for _ in range(rng.randint(0, longest))
    )


def _naive_self_bleu(docs: list[list[str]], max_n: int = 4) -> float:
    weights = (1 / max_n,) * max_n
    scores = [
        sentence_bleu(docs[:i] + docs[i + 1 :], doc, weights, smoothing_function=METHOD1)
        for i, doc in enumerate(docs)
    ]
    return sum(scores) / len(scores)


# --- tokens, distinct-n -----------------------------------------------------------------------


def test_tokens_are_lowercased_word_runs() -> None:
    assert tokens("Hello, World! it's snake_case 42x\nCAFÉ") == [
        "hello",
        "world",
        "it",
        "s",
        "snake_case",
        "42x",
        "café",
    ]
    assert tokens(" -- ") == []


def test_distinct_n_hand_computed() -> None:
    texts = ["a b a", "A, b!"]  # tokens: a b a | a b
    assert distinct_n(texts, 1) == 2 / 5
    assert distinct_n(texts, 2) == 2 / 3  # (a b) (b a) | (a b)
    assert distinct_n(texts, 3) == 1.0  # (a b a) only: "a b" is too short
    # n-grams never span two texts: no (y y) bigram below, so both bigrams are unique
    assert distinct_n(["x y", "y z"], 2) == 1.0
    assert distinct_n(["x y", "X Y"], 2) == 0.5


def test_distinct_n_is_none_without_ngrams() -> None:
    assert distinct_n([], 1) is None
    assert distinct_n(["", "?!"], 1) is None
    assert distinct_n(["one two", "three four"], 3) is None
    with pytest.raises(ValueError, match="at least 1"):
        distinct_n(["a"], 0)


def test_distinct_n_matches_brute_force() -> None:
    rng = random.Random(7)
    words = ["a", "b", "C", "dé", "e_f"]

    def brute(texts: list[str], n: int) -> float | None:
        grams = [
            tuple(toks[i : i + n]) for toks in map(tokens, texts) for i in range(len(toks) - n + 1)
        ]
        return len(set(grams)) / len(grams) if grams else None

    for _ in range(150):
        texts = [_random_text(rng, words, 8) for _ in range(rng.randint(0, 7))]
        # a tiny key limit forces the rank-compression path a huge vocabulary would take
        for limit in (lexical._INT64_MAX, 40, 3):
            got = lexical._distinct(texts, (1, 2, 3, 4), key_limit=limit)
            assert got == {n: brute(texts, n) for n in (1, 2, 3, 4)}


# --- compression ratio ------------------------------------------------------------------------


def _load_diversity_compression() -> Any:
    spec = importlib.util.find_spec("diversity")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the diversity package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "compression.py"
    module_spec = importlib.util.spec_from_file_location("_diversity_compression", path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


COMPRESSION_CASES = [
    ["hello"],
    ["the cat sat on the mat"] * 300,
    ["café ünïcödé 中文 " * 3, "x\ny", ""],
    [_random_text(random.Random(3), ["a", "bb", "ccc", "déjà", "vu"], 60) for _ in range(800)],
]


@pytest.mark.parametrize("texts", COMPRESSION_CASES)
def test_compression_ratio_is_byte_for_byte_the_diversity_package(
    texts: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _load_diversity_compression()
    # the package stamps the inner gzip header with the clock; ours stamps 0
    monkeypatch.setattr(gzip, "time", types.SimpleNamespace(time=lambda: 0.0))
    expected = reference.compression_ratio(texts, path=str(tmp_path))
    sizes = (
        (tmp_path / "original.txt").stat().st_size,
        (tmp_path / "compressed.gz").stat().st_size,
    )
    assert lexical._gzip_sizes(" ".join(texts).encode("utf-8")) == sizes
    assert compression_ratio(texts) == expected


@pytest.mark.parametrize("texts", COMPRESSION_CASES)
def test_compression_ratio_matches_a_transcription_of_the_formula(
    texts: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # diversity 0.2: the space-joined data, gzipped, then written through GzipFile again
    monkeypatch.setattr(gzip, "time", types.SimpleNamespace(time=lambda: 0.0))
    data = " ".join(texts).encode("utf-8")
    file = io.BytesIO()
    with gzip.GzipFile(filename="compressed.gz", mode="wb", fileobj=file) as out:
        out.write(gzip.compress(data))
    assert compression_ratio(texts) == round(len(data) / len(file.getvalue()), 3)


def test_compression_ratio_rises_with_repetition() -> None:
    rng = random.Random(0)
    varied = ["".join(rng.choice("abcdefghij ") for _ in range(200)) for _ in range(50)]
    repeated = [varied[0]] * 50
    varied_ratio, repeated_ratio = compression_ratio(varied), compression_ratio(repeated)
    assert varied_ratio is not None
    assert repeated_ratio is not None
    assert repeated_ratio > 10 * varied_ratio
    assert compression_ratio(["hello"]) == round(5 / 53, 3)  # 5 bytes; 53 bytes doubly gzipped
    assert compression_ratio([]) is None
    assert compression_ratio(["", " \n"]) is None


# --- Self-BLEU --------------------------------------------------------------------------------


def test_self_bleu_scores_equal_nltk_sentence_bleu() -> None:
    rng = random.Random(11)
    for _ in range(250):
        docs = [
            [rng.choice("abcd") for _ in range(rng.randint(0, 9))]  # short, repeated tokens
            for _ in range(rng.randint(2, 7))
        ]
        if rng.random() < 0.4:
            docs.append(list(rng.choice(docs)))  # a duplicate text
        if rng.random() < 0.2:
            docs.append([])
        max_n = rng.randint(1, 5)
        weights = (1 / max_n,) * max_n
        got = self_bleu_scores(docs, max_n=max_n)
        for i, doc in enumerate(docs):
            others = docs[:i] + docs[i + 1 :]
            expected = sentence_bleu(others, doc, weights, smoothing_function=METHOD1)
            assert got[i] == pytest.approx(expected, rel=0, abs=1e-12)


def test_self_bleu_equals_the_naive_nltk_loop() -> None:
    rng = random.Random(5)
    words = ["the", "a", "cat", "dog", "sat", "ran", "on", "under", "mat", "rug", "today"]
    texts = [_random_text(rng, words, 14) for _ in range(30)]
    result = self_bleu(texts)
    assert result["sample"] == 30
    assert result["value"] == pytest.approx(
        _naive_self_bleu([tokens(t) for t in texts]), rel=0, abs=1e-12
    )


def test_self_bleu_samples_without_replacement_by_seed() -> None:
    rng = random.Random(9)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    texts = [_random_text(rng, words, 12) for _ in range(60)]
    result = self_bleu(texts, sample=20, seed=3)
    picked = np.sort(np.random.default_rng(3).choice(60, size=20, replace=False))
    assert result["sample"] == 20
    assert result["value"] == pytest.approx(
        _naive_self_bleu([tokens(texts[int(i)]) for i in picked]), rel=0, abs=1e-12
    )
    assert self_bleu(texts, sample=20, seed=3) == result
    assert self_bleu(texts, sample=20, seed=4)["value"] != result["value"]


def test_self_bleu_edges() -> None:
    assert self_bleu(["the same text here"] * 5) == {"value": 1.0, "sample": 5}
    assert self_bleu(["only one"]) == {"value": None, "sample": 1}
    assert self_bleu([]) == {"value": None, "sample": 0}
    assert self_bleu(["", "...", ""]) == {"value": None, "sample": 3}
    # no word shared: every hypothesis scores 0, as in nltk
    assert self_bleu(["a b c", "d e f"]) == {"value": 0.0, "sample": 2}
    with pytest.raises(ValueError, match="at least 2"):
        self_bleu(["a", "b"], sample=1)


# --- lengths, openings, bundle ----------------------------------------------------------------


def test_percentiles_are_linear() -> None:
    result = percentiles(list(range(11)))  # 0..10
    assert result == {"p5": 0.5, "p50": 5.0, "p95": 9.5}
    assert result is not None
    assert all(type(v) is float for v in result.values())
    assert percentiles([7]) == {"p5": 7.0, "p50": 7.0, "p95": 7.0}
    assert percentiles([]) is None


def test_openings_finds_the_commonest_start() -> None:
    texts = [
        "Hello there, how are you today?",
        "hello THERE how are you doing",
        "Something else entirely here now",
        "",  # no opening, but still one of the texts
    ]
    assert openings(texts) == {"opening": "hello there how are you", "share": 0.5, "count": 2}
    assert openings(texts, words=1) == {"opening": "hello", "share": 0.5, "count": 2}
    # ties go to the opening seen first; a short text's opening is all of it
    assert openings(["b a", "a b"], words=3) == {"opening": "b a", "share": 0.5, "count": 1}
    assert openings([]) == {"opening": None, "share": None, "count": 0}
    assert openings(["", "!!"]) == {"opening": None, "share": None, "count": 0}


def test_lexical_metrics_bundle_is_json_ready() -> None:
    rng = random.Random(2)
    words = ["one", "two", "three", "four", "five", "six", "seven"]
    texts = [_random_text(rng, words, 20) for _ in range(40)]
    metrics = lexical_metrics(texts, sample=25, seed=1)
    assert metrics == {
        "records": 40,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "distinct_3": distinct_n(texts, 3),
        "compression_ratio": compression_ratio(texts),
        "self_bleu": self_bleu(texts, sample=25, seed=1)["value"],
        "self_bleu_sample": 25,
        "looping_share": looping_share(texts),
    }
    assert all(type(v) in (int, float) for v in metrics.values())
    json.dumps(metrics, allow_nan=False)
    empty = lexical_metrics([])
    assert empty["records"] == 0
    assert empty["self_bleu_sample"] == 0
    assert {k for k, v in empty.items() if v is not None} == {"records", "self_bleu_sample"}


def test_looping_share_counts_texts_that_repeat_a_phrase_three_times() -> None:
    loop = "how to avoid the machine, how to avoid it, how to avoid the machine, how to avoid the"
    prose = "Keep the wound dry for two days, then shower as usual and pat it dry."
    twice = "rest and ice it, rest and ice it, then walk"  # a 4-gram twice: not a loop
    assert looping_share([loop, prose, twice, ""]) == 0.25
    assert looping_share([prose]) == 0.0
    assert looping_share([]) is None
    assert looping_share([twice], times=2) == 1.0
    assert lexical_metrics([loop, prose])["looping_share"] == 0.5
