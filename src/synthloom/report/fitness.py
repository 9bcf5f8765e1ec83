"""Train on synthetic, test on real (TSTR): does the synthetic data teach a classifier anything
the seeds alone do not?

Metrics over the dataset itself (diversity, realism) can look fine while the labels are wrong.
The test that matters to a user is downstream: a fixed, cheap probe is trained on the seeds, on
the synthetic records, on both, and (when the user has one) on a real training set, and each is
scored on the same real test set. The seeds-only score is the baseline the synthetic data has to
beat; the paired bootstrap over the test records says whether the gain is more than noise.

The probe is deliberately simple and fixed (TF-IDF + logistic regression, and logistic regression
on sentence embeddings when an encoder is given): it is not the model the user will train, it is
a reproducible instrument, stated in full in the output so anyone can rerun it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from synthloom.errors import SynthloomError

Encoder = Callable[[list[str]], np.ndarray]
Predict = Callable[[list["Example"]], list[str]]

TFIDF_PARAMS: Final[Mapping[str, Any]] = MappingProxyType(
    {"ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True, "min_df": 1}
)
LOGREG_PARAMS: Final[Mapping[str, Any]] = MappingProxyType(
    {"C": 10.0, "max_iter": 2000, "class_weight": "balanced", "solver": "lbfgs"}
)
CONFIDENCE: Final = 0.95
MIN_BOOTSTRAP: Final = 100
_CELLS_PER_CHUNK: Final = 2_000_000  # resample-count matrix cells held at once (16 MB)

SEEDS, SYNTHETIC, COMBINED, REAL = "seeds", "synthetic", "seeds+synthetic", "real_train"

# the phrase for each side of a paired interval: above 0, below 0, spanning 0
_HELPS = (
    "synthetic data helps",
    "synthetic data hurts",
    "synthetic data makes no measurable difference",
)
_ALONE = (
    "the synthetic records alone beat the seeds",
    "the synthetic records alone fall short of the seeds",
    "the synthetic records alone score the same as the seeds within noise",
)


@dataclass(frozen=True)
class Example:
    """One labelled text; the unit every training and test set is made of."""

    text: str
    label: str


def _call(name: str, params: Mapping[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def probe_recipe(kind: str, *, seed: int, bootstrap: int) -> dict[str, Any]:
    """The probe written out in full (built from the same constants the code fits with, so the
    stated recipe cannot drift from the one run)."""
    features = (
        _call("TfidfVectorizer", TFIDF_PARAMS) + ", fit on the training set only"
        if kind == "tfidf"
        else "the encoder's sentence embeddings (unit rows)"
    )
    return {
        "name": "tfidf+logreg" if kind == "tfidf" else "embedding+logreg",
        "features": features,
        "classifier": _call("LogisticRegression", {**LOGREG_PARAMS, "random_state": seed}),
        "metrics": "accuracy and macro-F1 over the test labels (sklearn); per-label F1",
        "interval": (
            f"{CONFIDENCE:.0%} percentile bootstrap over the test records, {bootstrap} "
            f"resamples, numpy default_rng({seed}); differences paired on the same resamples"
        ),
        "sklearn": sklearn.__version__,
    }


def fitness(
    seeds: Iterable[Example | tuple[str, str]],
    synthetic: Iterable[Example | tuple[str, str]],
    test: Iterable[Example | tuple[str, str]],
    real_train: Iterable[Example | tuple[str, str]] | None = None,
    *,
    encode: Encoder | None = None,
    seed: int = 0,
    bootstrap: int = 1000,
) -> dict[str, Any]:
    """Train the probe on each training set, score it on ``test``, and judge the synthetic data
    by the paired difference (seeds+synthetic) - (seeds) in macro-F1. JSON-ready; ``None`` marks
    a figure that cannot be computed (never NaN)."""
    if bootstrap < MIN_BOOTSTRAP:
        raise SynthloomError(
            f"fitness: bootstrap={bootstrap} resamples is too few for a 95% interval "
            f"(use at least {MIN_BOOTSTRAP})"
        )
    test_set = _coerce(test, "test")
    if not test_set:
        raise SynthloomError("fitness: the test set has no examples; nothing to score against")
    seed_set = _coerce(seeds, SEEDS)
    synth_set = _coerce(synthetic, SYNTHETIC)
    train: dict[str, list[Example]] = {
        SEEDS: seed_set,
        SYNTHETIC: synth_set,
        COMBINED: seed_set + synth_set,
    }
    if real_train is not None:
        train[REAL] = _coerce(real_train, REAL)
    labels = sorted({e.label for e in test_set})
    y_test = [e.label for e in test_set]
    test_texts = [e.text for e in test_set]
    resamples = _resample_counts(len(test_set), bootstrap, seed)

    def tfidf_predict(examples: list[Example]) -> list[str]:
        model = make_pipeline(
            TfidfVectorizer(**TFIDF_PARAMS), LogisticRegression(**LOGREG_PARAMS, random_state=seed)
        )
        model.fit([e.text for e in examples], [e.label for e in examples])
        return [str(p) for p in model.predict(test_texts)]

    # the encoder (often torch, with its own thread pool) runs before BLAS is held to one thread
    embed_predict = (
        None if encode is None else _embedding_predictor(encode, train, test_texts, seed)
    )
    result: dict[str, Any] = {
        "probe": probe_recipe("tfidf", seed=seed, bootstrap=bootstrap),
        "test": {"records": len(test_set), "labels": labels},
    }
    # The probes are small: on a shared machine OpenBLAS threads spinning against each other
    # made one fit 15x slower (4.4 s instead of 0.3 s on 2 busy cores) than a single thread.
    with threadpool_limits(limits=1, user_api="blas"):
        result.update(_evaluate(train, y_test, labels, tfidf_predict, resamples))
        result["notes"] = _notes(result["sets"], train, test_set, labels)
        if embed_predict is not None:
            result["embedding_probe"] = {
                "probe": probe_recipe("embedding", seed=seed, bootstrap=bootstrap),
                **_evaluate(train, y_test, labels, embed_predict, resamples),
            }
    return result


def _coerce(items: Iterable[Example | tuple[str, str]], name: str) -> list[Example]:
    """Examples from Examples or (text, label) pairs, refusing anything a probe would choke on
    later with a less helpful message."""
    out: list[Example] = []
    for i, item in enumerate(items):
        if isinstance(item, Example):
            text, label = item.text, item.label
        elif isinstance(item, tuple) and len(item) == 2:
            text, label = item
        else:
            raise SynthloomError(
                f"fitness: {name} item {i} is {type(item).__name__}, not an Example or a "
                "(text, label) pair"
            )
        if not isinstance(text, str):
            raise SynthloomError(f"fitness: {name} item {i}: text is {type(text).__name__}")
        if not isinstance(label, str) or not label:
            raise SynthloomError(f"fitness: {name} item {i}: label must be a non-empty string")
        out.append(item if isinstance(item, Example) else Example(text, label))
    return out


def _skip_reason(examples: list[Example]) -> str | None:
    """Why a probe cannot be trained on this set (a classifier needs two classes), if it can't."""
    if not examples:
        return "no records"
    distinct = {e.label for e in examples}
    if len(distinct) == 1:
        return (
            f"only one label ({next(iter(distinct))!r}) in {len(examples)} records: a "
            "classifier needs at least two"
        )
    return None


def _evaluate(
    train: dict[str, list[Example]],
    y_test: list[str],
    labels: list[str],
    predict: Predict,
    resamples: list[np.ndarray],
) -> dict[str, Any]:
    """One probe over every training set: point scores, intervals, and the paired comparisons
    (all from the same resamples, which is what makes the differences paired)."""
    sets: dict[str, dict[str, Any]] = {}
    predictions: dict[str, list[str]] = {}
    for name, examples in train.items():
        reason = _skip_reason(examples)
        if reason is None:
            try:
                predictions[name] = predict(examples)
            except ValueError as exc:  # e.g. TF-IDF finds no words at all in the set
                reason = f"the probe could not be trained: {exc}"
        sets[name] = {
            "records": len(examples),
            "labels": sorted({e.label for e in examples}),
            "unseen_test_labels": sorted(set(labels) - {e.label for e in examples}),
            "skipped": reason,
            "accuracy": None,
            "macro_f1": None,
            "per_label_f1": None,
        }
    draws = _bootstrap_scores(y_test, predictions, labels, resamples)
    for name, pred in predictions.items():
        acc, f1 = draws[name]
        per_label = f1_score(y_test, pred, labels=labels, average=None, zero_division=0)
        sets[name]["accuracy"] = _estimate(float(accuracy_score(y_test, pred)), acc)
        sets[name]["macro_f1"] = _estimate(
            float(f1_score(y_test, pred, labels=labels, average="macro", zero_division=0)), f1
        )
        sets[name]["per_label_f1"] = {
            lab: float(v) for lab, v in zip(labels, per_label, strict=True)
        }
    difference = _compare(sets, draws, COMBINED, SEEDS, _HELPS)
    return {
        "sets": sets,
        "difference": difference,
        "synthetic_vs_seeds": _compare(sets, draws, SYNTHETIC, SEEDS, _ALONE),
        "verdict": _sentence(difference, sets, len(y_test)),
    }


def _estimate(value: float, draws: np.ndarray) -> dict[str, float]:
    low, high = _interval(draws)
    return {"value": value, "low": low, "high": high}


def _interval(draws: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def _compare(
    sets: dict[str, dict[str, Any]],
    draws: dict[str, tuple[np.ndarray, np.ndarray]],
    after: str,
    before: str,
    phrases: tuple[str, str, str],
) -> dict[str, Any]:
    """``after`` - ``before`` in macro-F1 (headline) and accuracy, each with a paired interval
    and the phrase its interval earns; ``None`` figures with a reason when a side is missing."""
    out: dict[str, Any] = {"compare": f"{after} - {before}", "metric": "macro_f1"}
    missing = [n for n in (after, before) if sets[n]["skipped"] is not None]
    if missing:
        why = "; ".join(f"{n}: {sets[n]['skipped']}" for n in missing)
        none = {"value": None, "low": None, "high": None, "verdict": None}
        return {**out, **none, "accuracy": dict(none), "reason": f"cannot compare ({why})"}
    for metric, slot in (("macro_f1", 1), ("accuracy", 0)):
        value = sets[after][metric]["value"] - sets[before][metric]["value"]
        low, high = _interval(draws[after][slot] - draws[before][slot])
        verdict = phrases[0] if low > 0 else phrases[1] if high < 0 else phrases[2]
        figures = {"value": value, "low": low, "high": high, "verdict": verdict}
        if metric == "macro_f1":
            out.update(figures)
        else:
            out["accuracy"] = figures
    out["reason"] = None
    return out


def _sentence(difference: dict[str, Any], sets: dict[str, dict[str, Any]], n_test: int) -> str:
    if difference["verdict"] is None:
        return f"Fitness cannot be judged: {difference['reason']}."
    seeds, combined = sets[SEEDS], sets[COMBINED]
    verdict: str = difference["verdict"]
    return (
        f"{verdict[0].upper()}{verdict[1:]}: adding {sets[SYNTHETIC]['records']} synthetic "
        f"records to {seeds['records']} seeds moves macro-F1 on {n_test} real test records from "
        f"{seeds['macro_f1']['value']:.3f} to {combined['macro_f1']['value']:.3f} "
        f"({difference['value']:+.3f}, {CONFIDENCE:.0%} interval {difference['low']:+.3f} to "
        f"{difference['high']:+.3f})."
    )


def _resample_counts(n: int, bootstrap: int, seed: int) -> list[np.ndarray]:
    """How often each test record appears in each bootstrap resample, as (chunk, n) count
    matrices: drawn once and reused for every set and probe, so differences are paired and a
    score is a matrix product rather than ``bootstrap`` calls to sklearn."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(bootstrap, _CELLS_PER_CHUNK // n))
    out: list[np.ndarray] = []
    for start in range(0, bootstrap, chunk):
        rows = min(chunk, bootstrap - start)
        idx = rng.integers(0, n, size=(rows, n))
        flat = (np.arange(rows)[:, None] * n + idx).ravel()
        out.append(np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64))
    return out


def _bootstrap_scores(
    y_test: list[str],
    predictions: dict[str, list[str]],
    labels: list[str],
    resamples: list[np.ndarray],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Accuracy and macro-F1 of each set's predictions on every resample. Macro-F1 averages the
    test labels, as the point estimate does; a label absent from a resample both as truth and as
    prediction has no F1 there and is left out of that resample's average (sklearn's
    ``zero_division=np.nan``), rather than counted as a 0 that the full test set never has."""
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(labels)
    truth = _one_hot([index[y] for y in y_test], k)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, pred in predictions.items():
        guess = _one_hot([index.get(p, k) for p in pred], k)  # k: a label not in the test set
        hit = truth * guess
        correct = np.array([p == y for p, y in zip(pred, y_test, strict=True)], dtype=np.float64)
        accs, f1s = [], []
        for counts in resamples:
            support = counts @ truth
            denom = support + counts @ guess
            tp2 = 2 * (counts @ hit)
            per_label = np.divide(tp2, denom, out=np.full_like(tp2, np.nan), where=denom > 0)
            f1s.append(np.nanmean(per_label, axis=1))  # every resample holds some true label
            accs.append(counts @ correct / len(y_test))
        out[name] = (np.concatenate(accs), np.concatenate(f1s))
    return out


def _one_hot(codes: list[int], k: int) -> np.ndarray:
    """Rows of indicators over ``k`` labels; code ``k`` (outside the test labels) is all zeros."""
    matrix = np.zeros((len(codes), k + 1), dtype=np.float64)
    matrix[np.arange(len(codes)), codes] = 1.0
    return matrix[:, :k]


def _embedding_predictor(
    encode: Encoder, train: dict[str, list[Example]], test_texts: list[str], seed: int
) -> Predict:
    """A second probe on sentence embeddings: it credits paraphrases that share meaning but not
    words with the test set, which TF-IDF cannot. Every distinct text is encoded once."""
    texts = sorted({t for examples in train.values() for t in (e.text for e in examples)})
    texts += sorted(set(test_texts) - set(texts))
    vectors = np.asarray(encode(texts), dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts):
        raise SynthloomError(
            f"fitness: encode returned an array of shape {vectors.shape} for {len(texts)} texts; "
            "it must return one row per text"
        )
    if not np.isfinite(vectors).all():
        raise SynthloomError("fitness: encode returned NaN or infinite values")
    row = {t: i for i, t in enumerate(texts)}
    x_test = vectors[[row[t] for t in test_texts]]

    def predict(examples: list[Example]) -> list[str]:
        model = LogisticRegression(**LOGREG_PARAMS, random_state=seed)
        model.fit(vectors[[row[e.text] for e in examples]], [e.label for e in examples])
        return [str(p) for p in model.predict(x_test)]

    return predict


def _notes(
    sets: dict[str, dict[str, Any]],
    train: dict[str, list[Example]],
    test: list[Example],
    labels: list[str],
) -> list[str]:
    """What a reader should know before trusting the figures: skipped sets, test labels no set
    can predict, and test texts that a training set already holds verbatim (a leak that
    flatters the score)."""
    notes: list[str] = []
    for name, scored in sets.items():
        if scored["skipped"] is not None:
            notes.append(f"{name} not scored: {scored['skipped']}")
    seen = {e.label for examples in train.values() for e in examples}
    never = [lab for lab in labels if lab not in seen]
    if never:
        notes.append(
            f"{len(never)} test label(s) appear in no training set and are never predicted: "
            + ", ".join(never)
        )
    test_texts = {_norm(e.text) for e in test}
    for name, examples in train.items():
        if name == COMBINED:
            continue
        leaked = len(test_texts & {_norm(e.text) for e in examples})
        if leaked:
            notes.append(f"{leaked} test text(s) also appear verbatim in {name}")
    return notes


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())
