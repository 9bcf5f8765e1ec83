"""Train on synthetic, test on real: the verdict follows the data (shuffled labels hurt, more data
from the test distribution helps), the figures are sklearn's, the intervals behave, and the
edge cases are named instead of crashing."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from synthloom.errors import SynthloomError
from synthloom.report.fitness import (
    LOGREG_PARAMS,
    TFIDF_PARAMS,
    Example,
    _bootstrap_scores,
    _resample_counts,
    fitness,
)

CLINC = Path(__file__).parents[3] / "shared" / "data" / "clinc150"
# ten intents from several domains, two of them close (balance / bill_balance)
INTENTS = (
    "alarm",
    "balance",
    "bill_balance",
    "book_flight",
    "calories",
    "change_language",
    "credit_score",
    "flip_coin",
    "pay_bill",
    "weather",
)


def _read(split: str) -> list[Example]:
    with (CLINC / f"{split}.csv").open(newline="", encoding="utf-8") as f:
        return [Example(r["text"], r["label"]) for r in csv.DictReader(f) if r["label"] in INTENTS]


@pytest.fixture(scope="module")
def clinc() -> dict[str, list[Example]]:
    """seeds: 3 train rows per intent; synthetic (a stand-in for generated rows): the next 45;
    real_train: the 50 after those (disjoint); test: the test split (30 per intent)."""
    if not (CLINC / "train.csv").exists():
        pytest.skip(f"clinc150 not found at {CLINC}")
    by_label: dict[str, list[Example]] = {}
    for example in _read("train"):
        by_label.setdefault(example.label, []).append(example)
    return {
        "seeds": [e for lab in INTENTS for e in by_label[lab][:3]],
        "synthetic": [e for lab in INTENTS for e in by_label[lab][3:48]],
        "real_train": [e for lab in INTENTS for e in by_label[lab][50:100]],
        "test": _read("test"),
    }


def _shuffled(examples: list[Example], seed: int) -> list[Example]:
    labels = [e.label for e in examples]
    random.Random(seed).shuffle(labels)
    return [Example(e.text, lab) for e, lab in zip(examples, labels, strict=True)]


def _planted(labels: str, per_label: int, seed: int) -> list[Example]:
    """Texts whose label is carried by its own words, mixed with words every label shares."""
    rng = random.Random(seed)
    shared = ["the", "a", "please", "now", "today", "my", "is", "of", "for", "it"]
    out = []
    for lab in labels:
        own = [f"{lab}{i}" for i in range(8)]
        for _ in range(per_label):
            words = rng.sample(own, 3) + rng.sample(shared, 4)
            rng.shuffle(words)
            out.append(Example(" ".join(words), lab))
    return out


def _plain_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


# --- (1) and (2): the verdict follows the data ------------------------------------------------


def test_synthetic_records_with_shuffled_labels_hurt(clinc: dict[str, list[Example]]) -> None:
    result = fitness(clinc["seeds"], _shuffled(clinc["synthetic"], 7), clinc["test"], seed=0)
    diff = result["difference"]
    assert diff["verdict"] == "synthetic data hurts"
    assert diff["high"] < 0
    assert diff["accuracy"]["verdict"] == "synthetic data hurts"
    assert result["verdict"].startswith("Synthetic data hurts: adding 450 synthetic records")
    assert result["synthetic_vs_seeds"]["high"] < 0
    # 10 labels: a probe trained on noise is near chance
    assert result["sets"]["synthetic"]["macro_f1"]["value"] < 0.3


def test_synthetic_records_from_the_test_distribution_help_when_seeds_are_few(
    clinc: dict[str, list[Example]],
) -> None:
    result = fitness(clinc["seeds"], clinc["synthetic"], clinc["test"], clinc["real_train"], seed=0)
    sets = result["sets"]
    assert result["difference"]["verdict"] == "synthetic data helps"
    assert result["difference"]["low"] > 0.1
    assert result["verdict"].startswith("Synthetic data helps")
    assert result["synthetic_vs_seeds"]["verdict"] == "the synthetic records alone beat the seeds"
    assert sets["seeds"]["records"] == 30
    assert sets["seeds+synthetic"]["records"] == 480
    assert sets["real_train"]["macro_f1"]["value"] > sets["seeds"]["macro_f1"]["value"]
    assert result["test"] == {"records": 300, "labels": sorted(INTENTS)}
    assert result["notes"] == []
    assert "embedding_probe" not in result
    json.dumps(result, allow_nan=False)
    assert _plain_json(result)


# --- (3): the figures are sklearn's, the intervals behave --------------------------------------


def test_figures_are_sklearns_on_the_full_test_set(clinc: dict[str, list[Example]]) -> None:
    seeds, synthetic, test = clinc["seeds"], clinc["synthetic"], clinc["test"]
    result = fitness(seeds, synthetic, test, seed=3)
    # rebuild the stated recipe by hand: it must reproduce the reported figures
    recipe = result["probe"]
    assert "ngram_range=(1, 2)" in recipe["features"]
    assert "sublinear_tf=True" in recipe["features"]
    assert "class_weight='balanced'" in recipe["classifier"]
    train = seeds + synthetic
    model = make_pipeline(
        TfidfVectorizer(**TFIDF_PARAMS), LogisticRegression(**LOGREG_PARAMS, random_state=3)
    )
    with threadpool_limits(limits=1, user_api="blas"):  # as fitness does: 15x faster here
        model.fit([e.text for e in train], [e.label for e in train])
        y_pred = model.predict([e.text for e in test])
    y_true = [e.label for e in test]
    scored = result["sets"]["seeds+synthetic"]
    assert scored["macro_f1"]["value"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro"), abs=1e-12
    )
    assert scored["accuracy"]["value"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    per_label = f1_score(y_true, y_pred, average=None, labels=sorted(INTENTS))
    assert list(scored["per_label_f1"]) == sorted(INTENTS)
    assert list(scored["per_label_f1"].values()) == pytest.approx(list(per_label), abs=1e-12)


def test_intervals_contain_the_estimate_and_narrow_as_the_test_set_grows(
    clinc: dict[str, list[Example]],
) -> None:
    test = clinc["test"]  # 30 per intent, grouped by intent
    small = [e for lab in INTENTS for e in [t for t in test if t.label == lab][:5]]
    widths = {}
    for name, subset in (("small", small), ("full", test)):
        result = fitness(clinc["seeds"], clinc["synthetic"], subset, seed=1)
        for scored in result["sets"].values():
            for metric in ("accuracy", "macro_f1"):
                m = scored[metric]
                assert m["low"] <= m["value"] <= m["high"]
        diff = result["difference"]
        assert diff["low"] <= diff["value"] <= diff["high"]
        seeds = result["sets"]["seeds"]["macro_f1"]
        widths[name] = (seeds["high"] - seeds["low"], diff["high"] - diff["low"])
    # six times the records: about sqrt(6) = 2.4 times narrower
    assert widths["full"][0] < widths["small"][0] / 1.6
    assert widths["full"][1] < widths["small"][1] / 1.6


def test_each_resample_scores_as_sklearn_scores_that_resample() -> None:
    rng = np.random.default_rng(5)
    labels = ["a", "b", "c", "d"]
    y = [labels[i] for i in rng.integers(0, 4, 40)]
    pred = [labels[i] if i < 4 else "z" for i in rng.integers(0, 5, 40)]  # "z": not a test label
    resamples = _resample_counts(len(y), 200, seed=9)
    acc, f1 = _bootstrap_scores(y, {"set": pred}, labels, resamples)["set"]
    counts = np.concatenate(resamples)
    assert counts.shape == (200, 40)
    assert (counts.sum(axis=1) == 40).all()
    for b in range(0, 200, 17):
        idx = np.repeat(np.arange(40), counts[b].astype(int))
        yt, yp = [y[i] for i in idx], [pred[i] for i in idx]
        assert acc[b] == pytest.approx(accuracy_score(yt, yp))
        # a label absent from the resample (truth and prediction) is left out of the average
        expected = f1_score(yt, yp, labels=labels, average="macro", zero_division=np.nan)
        assert f1[b] == pytest.approx(expected)


def test_the_same_seed_gives_the_same_report_and_another_seed_other_intervals() -> None:
    seeds, synthetic = _planted("abcd", 2, 1), _planted("abcd", 20, 2)
    test = _planted("abcd", 15, 3)
    first = fitness(seeds, synthetic, test, seed=4)
    assert first == fitness(seeds, synthetic, test, seed=4)
    other = fitness(seeds, synthetic, test, seed=5)
    assert other["difference"]["low"] != first["difference"]["low"]
    assert "default_rng(4)" in first["probe"]["interval"]


# --- (4): edge cases --------------------------------------------------------------------------


def test_no_test_examples_is_an_error_naming_the_test_set() -> None:
    with pytest.raises(SynthloomError, match="test set has no examples"):
        fitness(_planted("ab", 3, 1), _planted("ab", 5, 2), [])


def test_a_training_set_with_one_label_is_reported_as_not_scored() -> None:
    seeds = [e for e in _planted("ab", 4, 1) if e.label == "a"]
    result = fitness(seeds, _planted("ab", 10, 2), _planted("ab", 10, 3), seed=0)
    skipped = result["sets"]["seeds"]
    assert skipped["macro_f1"] is None
    assert skipped["accuracy"] is None
    assert skipped["per_label_f1"] is None
    assert "only one label ('a')" in skipped["skipped"]
    assert result["sets"]["synthetic"]["macro_f1"]["value"] > 0.9
    diff = result["difference"]
    assert diff["value"] is None
    assert diff["verdict"] is None
    assert "seeds: only one label" in diff["reason"]
    assert result["verdict"].startswith("Fitness cannot be judged")
    assert any(n.startswith("seeds not scored") for n in result["notes"])
    json.dumps(result, allow_nan=False)


def test_test_labels_no_training_set_has_are_noted() -> None:
    test = _planted("abc", 10, 3)  # "c" is in no training set
    result = fitness(_planted("ab", 3, 1), _planted("ab", 10, 2), test, seed=0)
    assert result["sets"]["seeds+synthetic"]["unseen_test_labels"] == ["c"]
    assert result["sets"]["seeds+synthetic"]["per_label_f1"]["c"] == 0.0
    assert any("never predicted: c" in n for n in result["notes"])


def test_no_synthetic_records_makes_no_measurable_difference() -> None:
    result = fitness(_planted("ab", 3, 1), [], _planted("ab", 10, 3), seed=0)
    assert result["sets"]["synthetic"]["skipped"] == "no records"
    assert result["difference"]["value"] == 0.0
    assert result["difference"]["verdict"] == "synthetic data makes no measurable difference"
    assert result["synthetic_vs_seeds"]["verdict"] is None


def test_test_texts_already_in_a_training_set_are_noted() -> None:
    test = _planted("ab", 10, 3)
    result = fitness(_planted("ab", 3, 1), [*test[:4], *_planted("ab", 5, 2)], test, seed=0)
    assert "4 test text(s) also appear verbatim in synthetic" in result["notes"]


def test_bad_inputs_are_named() -> None:
    pairs = [("alpha one", "a"), ("beta two", "b")]
    assert fitness(pairs, pairs, pairs, seed=0)["test"]["records"] == 2  # pairs are accepted
    with pytest.raises(SynthloomError, match="synthetic item 1: text is int"):
        fitness(pairs, [("x", "a"), (3, "b")], pairs)  # type: ignore[list-item]
    with pytest.raises(SynthloomError, match="seeds item 0: label must be a non-empty string"):
        fitness([("x", "")], pairs, pairs)
    with pytest.raises(SynthloomError, match="bootstrap=10"):
        fitness(pairs, pairs, pairs, bootstrap=10)


# --- the embedding probe ----------------------------------------------------------------------


def _hashing_encoder(texts: list[str]) -> np.ndarray:
    """A stand-in for sentence embeddings: unit rows, deterministic, no model."""
    matrix = HashingVectorizer(n_features=64, alternate_sign=False).transform(texts).toarray()
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms == 0, 1, norms))


def test_an_encoder_adds_an_embedding_probe_with_the_same_structure() -> None:
    seeds, synthetic, test = (
        _planted("abcd", 2, 1),
        _planted("abcd", 20, 2),
        _planted("abcd", 15, 3),
    )
    calls: list[int] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return _hashing_encoder(texts)

    result = fitness(seeds, synthetic, test, _planted("abcd", 10, 4), encode=encode, seed=0)
    probe = result["embedding_probe"]
    assert probe["probe"]["name"] == "embedding+logreg"
    assert set(probe) == {"probe", "sets", "difference", "synthetic_vs_seeds", "verdict"}
    assert (
        set(probe["sets"])
        == set(result["sets"])
        == {
            "seeds",
            "synthetic",
            "seeds+synthetic",
            "real_train",
        }
    )
    assert set(probe["sets"]["seeds"]) == set(result["sets"]["seeds"])
    assert probe["difference"]["verdict"] in {
        "synthetic data helps",
        "synthetic data hurts",
        "synthetic data makes no measurable difference",
    }
    assert len(calls) == 1  # every distinct text encoded once, in one call
    json.dumps(result, allow_nan=False)


def test_an_encoder_returning_the_wrong_shape_is_named() -> None:
    pairs = [("alpha one", "a"), ("beta two", "b")]
    with pytest.raises(SynthloomError, match="one row per text"):
        fitness(pairs, pairs, pairs, encode=lambda texts: np.zeros((1, 4)))
