"""metrics.json: every figure the report shows, computed once from a run directory.

Key names follow issue 13 so other tools can read them. Each section is computed by the
module that owns its method (``lexical``, ``embedding``, ``axes``); this one decides what is
compared with what, and on which sample:

- Figures that depend on the size of a set (distinct n-grams, the Vendi score) are compared
  with the reference on samples of the same size, so a 5,000-record run is not "less
  diverse" than 50 seeds merely for being larger.
- The embedding figures read at most ``EMBED_SAMPLE`` texts a side: encoding is the cost
  (about 90 texts/s on 2 cores), and the sample sizes are written beside the figures.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from synthloom.quality.base import text_of
from synthloom.quality.embed import Vectors
from synthloom.report import embedding as emb
from synthloom.report.axes import AxisRow, axes_report
from synthloom.report.lexical import distinct_n, lexical_metrics, openings, percentiles
from synthloom.report.source import RunData
from synthloom.report.warnings import warnings

EMBED_SAMPLE = 2000
Encode = Callable[[list[str]], Vectors]


def compute(
    run: RunData,
    *,
    encode: Encode | None = None,
    thresholds: Mapping[str, float] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    texts, ref_texts = run.texts(), run.reference_texts()
    metrics: dict[str, Any] = {
        "records": len(run.records),
        "reference": {"source": run.reference.source, "records": len(ref_texts)},
        "fields": run.fields,
        "funnel": _funnel(run),
        "lengths": _lengths(run),
        "lexical": _lexical(texts, ref_texts, seed),
    }
    metrics["collapse"] = {"opening": openings(texts)} if texts else {}
    if texts and metrics["collapse"]["opening"]:
        metrics["collapse"]["opening_share"] = metrics["collapse"]["opening"]["share"]
    if encode is not None and texts and ref_texts:
        picked = _sample(len(texts), EMBED_SAMPLE, seed)
        vectors = encode([texts[i] for i in picked])
        ref_vectors = encode([ref_texts[i] for i in _sample(len(ref_texts), EMBED_SAMPLE, seed)])
        _embedding(metrics, vectors, ref_vectors, seed)
    rows = _axis_rows(run)
    if run.axes and rows:
        metrics["axes"] = axes_report(rows, seed=seed, order=_declared(run.recipe))
    if run.label_field is not None:
        metrics["labels"] = _labels(run)
    if run.review is not None:
        metrics["review"] = run.review
    judge = _judge(run)
    if judge is not None:
        metrics["judge"] = judge
    findings = (metrics.get("axes") or {}).get("findings") or []
    metrics["warnings"] = warnings(metrics, thresholds, findings)
    return metrics


def _sample(n: int, size: int, seed: int) -> list[int]:
    if n <= size:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), size))


def _funnel(run: RunData) -> dict[str, Any]:
    produced = len(run.produced)
    return {
        "steps": [list(step) for step in run.funnel or []],
        "produced": produced,
        "kept": len(run.records),
        "kept_share": round(len(run.records) / produced, 4) if produced else None,
        "dropped": dict(Counter(r.reason or "unknown" for r in _dropped(run)).most_common()),
    }


def _dropped(run: RunData) -> list[Any]:
    kept = {r.id for r in run.records}
    return [r for r in run.produced if r.id not in kept]


def _lengths(run: RunData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in run.fields:
        mine = [len(v) for r in run.records if isinstance(v := r.data.get(name), str)]
        theirs = [len(v) for row in run.reference.rows if isinstance(v := row.get(name), str)]
        out[name] = {
            "dataset": percentiles(mine) if mine else None,
            "reference": percentiles(theirs) if theirs else None,
            "histogram": {"dataset": mine[:20000], "reference": theirs[:20000]},
        }
    return out


def _lexical(texts: list[str], ref_texts: list[str], seed: int) -> dict[str, Any]:
    if not texts:
        return {}
    out: dict[str, Any] = dict(lexical_metrics(texts, seed=seed))
    if ref_texts:
        out["reference"] = lexical_metrics(ref_texts, seed=seed)
        # distinct-2 falls as a corpus grows: compare on as many records as the reference has
        same = [texts[i] for i in _sample(len(texts), len(ref_texts), seed)]
        mine, theirs = distinct_n(same, 2), distinct_n(ref_texts, 2)
        if mine is not None and theirs:
            out["distinct_2_vs_reference"] = round(mine / theirs, 4)
    return out


def _embedding(metrics: dict[str, Any], mine: Vectors, ref: Vectors, seed: int) -> None:
    n = min(len(mine), len(ref))
    own, theirs = emb.vendi(mine, seed=seed), emb.vendi(ref, seed=seed)
    metrics["embedding"] = {
        "model": "all-MiniLM-L6-v2",
        "sample": len(mine),
        "vendi": own["value"],
        "vendi_sample": own["sample"],
        "mean_pairwise_cosine": emb.mean_pairwise_cosine(mine, seed=seed)["value"],
        "reference": {
            "sample": len(ref),
            "vendi": theirs["value"],
            "mean_pairwise_cosine": emb.mean_pairwise_cosine(ref, seed=seed)["value"],
        },
    }
    # the Vendi score grows with the sample: compare at the same size
    same_mine = emb.vendi(mine[:n], seed=seed)["value"]
    same_ref = emb.vendi(ref[:n], seed=seed)["value"]
    if same_mine is not None and same_ref:
        metrics["embedding"]["vendi_vs_reference"] = round(same_mine / same_ref, 4)
    realism: dict[str, Any] = dict(emb.prdc(ref, mine, seed=seed))
    realism["mauve"] = emb.mauve(ref, mine, seed=seed)
    realism["c2st"] = emb.c2st_auc(mine, ref, seed=seed)
    realism["c2st_auc"] = realism["c2st"]["value"]
    metrics["realism"] = realism
    coverage = emb.cluster_coverage(mine, ref, seed=seed)
    metrics["collapse"].update(
        {
            "variance_ratio": emb.variance_ratio(mine, ref),
            "coverage": coverage.get("coverage"),
            "tail_retention": coverage.get("tail_retention"),
            "clusters": coverage,
        }
    )
    metrics["projection"] = emb.projection_2d(mine, ref, seed=seed)


def _axis_rows(run: RunData) -> list[AxisRow]:
    kept = {r.id for r in run.records}
    answer = _answer_field(run)
    rows = []
    for record in run.produced:
        if not record.provenance.axes:
            continue
        value = record.data.get(answer) if answer else None
        rows.append(
            AxisRow(
                axes=dict(record.provenance.axes),
                kept=record.id in kept,
                reason=None if record.id in kept else (record.reason or "unknown"),
                text=text_of(record.data, run.fields),
                judge=record.scores.get("judge_mean"),
                answer_chars=len(value) if isinstance(value, str) else None,
            )
        )
    return rows


def _declared(recipe: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each axis's values in the recipe's order (a reading level's "grade 6, grade 10,
    college" has no order a sort would find), where the recipe lists them."""
    out: dict[str, list[Any]] = {}
    for name, spec in (recipe.get("axes") or {}).items():
        values = spec.get("values") if isinstance(spec, dict) else spec
        if isinstance(values, dict):
            values = list(values)
        if isinstance(values, list) and values:
            out[name] = values
    return out


def _answer_field(run: RunData) -> str | None:
    """The field an answer length is read from: the last text field (the response)."""
    return run.fields[-1] if run.fields else None


def _labels(run: RunData) -> dict[str, Any]:
    field = run.label_field
    assert field is not None
    counts = Counter(str(r.data.get(field)) for r in run.records if r.data.get(field) is not None)
    by_label: dict[str, list[str]] = {}
    for r in run.records:
        text = r.data.get("text")
        if isinstance(text, str) and r.data.get(field) is not None:
            by_label.setdefault(str(r.data.get(field)), []).append(text)
    return {
        "field": field,
        "counts": dict(counts.most_common()),
        "balance": round(min(counts.values()) / max(counts.values()), 4) if counts else None,
        "distinct_2": {label: distinct_n(texts, 2) for label, texts in sorted(by_label.items())},
        "confusion": _confusion(by_label),
    }


def _confusion(by_label: Mapping[str, list[str]], seed: int = 0) -> dict[str, Any] | None:
    """For each label, the label a probe most often mistakes it for, and how often: the
    fitness check's TF-IDF probe, 5-fold cross-validated on the records themselves. Labels a
    probe cannot tell apart are labels the data does not teach apart."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    from synthloom.report.fitness import LOGREG_PARAMS, TFIDF_PARAMS

    texts = [t for texts in by_label.values() for t in texts]
    labels = [label for label, texts in by_label.items() for _ in texts]
    folds = min(5, min((len(t) for t in by_label.values()), default=0))
    if len(by_label) < 2 or folds < 2:
        return None
    probe = make_pipeline(
        TfidfVectorizer(**TFIDF_PARAMS), LogisticRegression(**LOGREG_PARAMS, random_state=seed)
    )
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1, user_api="blas"):
        predicted = cross_val_predict(probe, texts, labels, cv=split)
    out: dict[str, Any] = {"probe": "tfidf+logreg", "folds": folds, "labels": {}}
    for label in by_label:
        mistaken = Counter(
            str(p) for t, p in zip(labels, predicted, strict=True) if t == label and p != label
        )
        total = len(by_label[label])
        top = mistaken.most_common(1)
        out["labels"][label] = {
            "accuracy": round(1 - sum(mistaken.values()) / total, 4),
            "confused_with": top[0][0] if top else None,
            "confused_share": round(top[0][1] / total, 4) if top else 0.0,
        }
    return out


def _judge(run: RunData) -> dict[str, Any] | None:
    scores = [
        float(s) for r in run.produced if isinstance(s := r.scores.get("judge_mean"), int | float)
    ]
    if not scores:
        return None
    counts = np.histogram(scores, bins=np.arange(1.0, 5.51, 0.5))[0]
    return {
        "scored": len(scores),
        "mean": round(float(np.mean(scores)), 4),
        "percentiles": percentiles(scores),
        "histogram": {"edges": [1.0 + 0.5 * i for i in range(10)], "counts": counts.tolist()},
    }
