"""The axes section of metrics.json. For every variation axis: did filtering change the mix the
plan asked for, does the text actually change with the value, does any value fare worse than the
others (bias.py), and which of those results a non-engineer should hear about, in plain words.

Pure functions over plain rows (``AxisRow``): the caller builds them from the dataset view."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from synthloom.report.bias import (
    ALPHA,
    disparity,
    disparity_findings,
    finding,
    holm,
    mean_ci,
    num,
    p_text,
    pct,
    pool_small,
    readability_grades,
    significant,
    stat_result,
)

MAX_VALUES = 30  # beyond this (personas from a file), the top values and "(other)"
MAX_BINS = 5  # numeric axes: quantile bins of the planned values
MAX_FEATURES = 20000  # text probe: the most frequent hashed 1-2-grams
MIN_PROBE_ROWS = 50  # below this "no effect" would only mean "too few rows to tell"
SHARE_SHIFT, SHARE_RATIO = 0.02, 0.25  # 2 points of share, or a quarter of the planned share
NONE, OTHER = "(none)", "(other)"
_READING = re.compile(r"read|grade|complex|literacy|difficult", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class AxisRow:
    """One produced row, as the axes section needs it. ``kept``: accepted by the quality gate;
    ``reason``: why not; ``text``: what the probe and readability read; ``judge``: the judge
    score if one was given; ``answer_chars``: the length of the answer field."""

    axes: dict[str, Any]
    kept: bool
    reason: str | None = None
    text: str = ""
    judge: float | None = None
    answer_chars: int | None = None


@dataclass(frozen=True, slots=True)
class Grouping:
    """An axis's rows mapped onto at most ``MAX_VALUES`` labelled values."""

    labels: list[str]  # per row
    values: list[str]  # display order
    kind: str  # categorical | numeric | many
    ordinal: list[str] | None = None  # an order to test a trend along, when one is known
    bins: list[dict[str, Any]] | None = None
    other: dict[str, Any] | None = field(default=None)


def value_label(value: Any) -> str:
    """The JSON key a value is reported under (JSON keys are strings; None is "(none)")."""
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool | int | float):
        return str(value)
    return repr(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def group_axis(
    name: str, rows: Sequence[AxisRow], declared: Sequence[Any] | None = None
) -> Grouping:
    """Numbers with more than ``MAX_BINS`` distinct values are binned into quantile bins of the
    planned values, so each bin holds about a fifth of the plan and the tests have counts to work
    with; an axis with more than ``MAX_VALUES`` values keeps its most planned ones and "(other)".
    ``declared`` (the recipe's values, in order) orders the values and gives the trend order."""
    raw = [row.axes.get(name) for row in rows]
    present = [v for v in raw if v is not None]
    numeric = bool(present) and all(_is_number(v) for v in present)
    if numeric and len(set(present)) > MAX_BINS:
        return _binned(raw)
    labels = [value_label(v) for v in raw]
    planned = Counter(labels)
    other = None
    if len(planned) > MAX_VALUES:
        top = {
            v for v, _ in sorted(planned.items(), key=lambda kv: (-kv[1], kv[0]))[: MAX_VALUES - 1]
        }
        other = {
            "distinct_values": len(planned) - len(top),
            "rows": sum(c for v, c in planned.items() if v not in top),
        }
        labels = [v if v in top else OTHER for v in labels]
        planned = Counter(labels)
    known = [value_label(v) for v in declared or []]
    if numeric:
        natural = sorted((v for v in planned if v != NONE), key=float)
    else:
        natural = sorted(
            (v for v in planned if v not in (NONE, OTHER)), key=lambda v: (-planned[v], v)
        )
    head = [v for v in dict.fromkeys(known) if v in planned and v not in (NONE, OTHER)]
    ordinal: list[str] | None = None
    if head:
        ordinal = head
    elif numeric:
        ordinal = natural
    elif natural and all(_NUMBER.search(v) for v in natural):
        ordinal = sorted(natural, key=lambda v: float(_NUMBER.findall(v)[0]))
    first = ordinal or []
    values = first + [v for v in natural if v not in first]
    values += [v for v in (NONE, OTHER) if v in planned]
    kind = "many" if other else "numeric" if numeric else "categorical"
    return Grouping(labels, values, kind, ordinal, other=other)


def _binned(raw: Sequence[Any]) -> Grouping:
    arr = np.array([float(v) for v in raw if v is not None])
    edges = np.unique(np.quantile(arr, np.linspace(0.0, 1.0, MAX_BINS + 1)))
    index = np.searchsorted(edges[1:-1], arr, side="right")
    bins: list[dict[str, Any]] = []
    names: dict[int, str] = {}
    for b in np.unique(index):
        members = arr[index == b]
        low, high = float(members.min()), float(members.max())
        names[int(b)] = f"{low:g}" if low == high else f"{low:g}-{high:g}"
        bins.append(
            {"label": names[int(b)], "low": low, "high": high, "planned": int(members.size)}
        )
    it = iter(index.tolist())
    labels = [NONE if v is None else names[next(it)] for v in raw]
    values = [b["label"] for b in bins] + ([NONE] if NONE in labels else [])
    return Grouping(labels, values, "numeric", [b["label"] for b in bins], bins=bins)


def _distribution(g: Grouping, rows: Sequence[AxisRow]) -> dict[str, Any]:
    """Planned (every produced row: what the plan sampled) vs kept, with a chi-square
    goodness-of-fit test of the kept counts against the planned proportions. The kept rows are a
    subset of the planned ones, not a fresh sample, so this test is conservative (by the share
    dropped); the value x kept independence test in the disparity section is its exact-design
    twin. Both are reported: this one answers "is the mix I asked for the mix I got?"."""
    planned = Counter(g.labels)
    kept = Counter(label for label, row in zip(g.labels, rows, strict=True) if row.kept)
    n, k = len(rows), sum(kept.values())
    out: dict[str, Any] = {
        "planned": {v: planned[v] for v in g.values},
        "kept": {v: kept[v] for v in g.values},
        "planned_share": {v: num(planned[v] / n, 4) for v in g.values},
        "kept_share": {v: num(kept[v] / k, 4) if k else None for v in g.values},
        "test": None,
    }
    expected = [k * planned[v] / n for v in g.values]
    groups = pool_small(expected) if k else []
    if len(groups) < 2:
        out["note"] = "no test: fewer than two values with enough expected kept rows"
        return out
    observed = [sum(kept[g.values[i]] for i in grp) for grp in groups]
    res = stats.chisquare(observed, [sum(expected[i] for i in grp) for grp in groups])
    pooled = [g.values[i] for grp in groups if len(grp) > 1 for i in grp]
    out["test"] = stat_result(
        "chi-square goodness of fit (kept counts vs planned proportions)",
        res.statistic,
        res.pvalue,
        k,
        df=len(groups) - 1,
        pooled=pooled,
    )
    if pooled:
        out["note"] = f"pooled into one category, expected kept count under 5: {', '.join(pooled)}"
    return out


def _probe(
    features: Any, labels: Sequence[str], model: Any, what: str, seed: int
) -> dict[str, Any]:
    """Can a classifier tell the value from the text? Cross-validated predictions are compared
    with the majority-class share by a one-sided binomial test: if the text ignores the value, no
    classifier is right more often than that share on held-out rows, whatever it learnt. Classes
    with fewer than 2 sampled rows cannot be stratified and are left out (and named), as is
    "(other)": a mix of many values, so predicting it would only reward learning the mix."""
    y = np.asarray(labels)
    sizes = Counter(labels)
    left_out = sorted(v for v, c in sizes.items() if c < 2 or v == OTHER)
    mask = np.isin(y, left_out, invert=True)
    kept_sizes = [c for v, c in sizes.items() if v not in left_out]
    if len(kept_sizes) < 2:
        return {"features": what, "skipped": "fewer than two values with 2+ sampled rows"}
    folds = min(5, min(kept_sizes))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        predicted = cross_val_predict(model, features[mask], y[mask], cv=cv)
    n = int(mask.sum())
    correct = int((predicted == y[mask]).sum())
    chance = max(kept_sizes) / n
    test = stats.binomtest(correct, n, chance, alternative="greater")
    accuracy = correct / n
    return stat_result(
        "one-sided binomial test: cross-validated accuracy vs chance",
        accuracy,
        test.pvalue,
        n,
        features=what,
        accuracy=num(accuracy, 4),
        chance=num(chance, 4),
        folds=folds,
        classes=len(kept_sizes),
        left_out=left_out,
        has_effect=bool(test.pvalue < ALPHA and accuracy > chance),
    )


def _tfidf(texts: Sequence[str]) -> Any:
    """Word 1-2-gram TF-IDF (sublinear tf), fitted once on the whole sample outside the folds:
    the features and idf never see a label, so held-out rows leak nothing about the axis, and
    every axis's probe shares them. Hashed rather than a vocabulary: the bigram vocabulary of
    5,000 texts runs to hundreds of thousands of entries, and building, sorting and pruning it
    was most of the probe's time. The same pruning is done on the hashed columns (in two or
    more texts, the 20,000 most frequent); collisions among 2**21 buckets are rare and only
    blur a few features."""
    hashed = HashingVectorizer(
        ngram_range=(1, 2), alternate_sign=False, norm=None, n_features=2**21, dtype=np.float32
    ).transform(texts)
    df = np.bincount(hashed.indices, minlength=hashed.shape[1])
    columns = np.flatnonzero(df >= min(2, len(texts)))
    if columns.size == 0:
        return None
    if columns.size > MAX_FEATURES:
        columns = np.sort(columns[np.argsort(-df[columns], kind="stable")[:MAX_FEATURES]])
    return TfidfTransformer(sublinear_tf=True).fit_transform(hashed[:, columns])


def _text_model() -> Any:
    """newton-cg at tol 1e-3: 5-10x faster than lbfgs's defaults on 20,000 sparse features and
    on 384-d embeddings with 30 classes, and the same accuracy to the percent; a probe needs the
    held-out accuracy, not the last digit of the coefficients."""
    return LogisticRegression(solver="newton-cg", tol=1e-3, max_iter=200)


def _embedding_model() -> Any:
    return make_pipeline(StandardScaler(), _text_model())


def _readability_effect(g: Grouping, grades: Mapping[int, float], kw: Any) -> dict[str, Any]:
    """For a reading-level axis readability is the intended effect: a Spearman correlation of
    the value's order with the grade, when the order is known (the recipe's, numbers in the
    labels); otherwise only the Kruskal-Wallis test, which needs no order."""
    by_value: dict[str, list[float]] = {v: [] for v in g.values}
    for i, grade in grades.items():
        by_value[g.labels[i]].append(grade)
    trend = None
    if g.ordinal:
        rank = {v: r for r, v in enumerate(g.ordinal)}
        pairs = [(rank[g.labels[i]], grade) for i, grade in grades.items() if g.labels[i] in rank]
        if len({x for x, _ in pairs}) >= 2 and len({y for _, y in pairs}) >= 2:
            rho, p = stats.spearmanr([x for x, _ in pairs], [y for _, y in pairs])
            trend = stat_result(
                "Spearman rank correlation: value order vs grade",
                rho,
                p,
                len(pairs),
                order=g.ordinal,
            )
    return {
        "per_value": {v: mean_ci(xs) for v, xs in by_value.items()},
        "trend": trend,
        "kruskal": kw,
    }


def _sample(rows: Sequence[AxisRow], seed: int, size: int) -> tuple[list[int], int]:
    pool = [i for i, row in enumerate(rows) if row.kept and row.text.strip()]
    if len(pool) <= size:
        return pool, len(pool)
    rng = np.random.default_rng(seed)
    return sorted(int(pool[j]) for j in rng.choice(len(pool), size=size, replace=False)), len(pool)


def axes_report(
    rows: Sequence[AxisRow],
    *,
    embeddings: Any = None,
    seed: int = 0,
    sample: int = 5000,
    order: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, Any]:
    """The axes section: one entry per axis name (in first-seen order) plus ``findings``.
    ``embeddings``: optional array aligned with ``rows`` for a second probe; ``order``: the
    recipe's values per axis, used for display and for the readability trend. The probe and
    readability run on one random sample of at most ``sample`` kept rows, shared by all axes.
    BLAS runs on one thread throughout: the probes' matrices are small, and on a shared machine
    its threads spin-wait for busy cores (the 30-class embedding probe took 12x as long)."""
    vectors = None
    if embeddings is not None:
        vectors = np.asarray(embeddings, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(rows):
            raise ValueError(f"embeddings must be (rows, dim) with {len(rows)} rows")
    names = list(dict.fromkeys(name for row in rows for name in row.axes))
    picked, kept_with_text = _sample(rows, seed, sample)
    texts = [rows[i].text for i in picked]
    grades = {i: g for i, g in zip(picked, readability_grades(texts), strict=True) if g is not None}
    features = _tfidf(texts) if picked else None
    sample_info = {"rows": len(picked), "kept_rows": kept_with_text, "limit": sample, "seed": seed}
    out: dict[str, Any] = {}
    findings: list[dict[str, Any]] = []
    with threadpool_limits(limits=1, user_api="blas"):
        for name in names:
            g = group_axis(name, rows, (order or {}).get(name))
            section = _axis(name, g, rows, picked, grades, features, vectors, sample_info, seed)
            findings.extend(_findings(name, section))
            out[name] = section
    out["findings"] = findings
    return out


def _axis(
    name: str,
    g: Grouping,
    rows: Sequence[AxisRow],
    picked: list[int],
    grades: Mapping[int, float],
    features: Any,
    vectors: Any,
    sample_info: dict[str, Any],
    seed: int,
) -> dict[str, Any]:
    labels = [g.labels[i] for i in picked]
    effect: dict[str, Any] = {"sample": dict(sample_info), "text": None, "embeddings": None}
    if features is not None:
        effect["text"] = _probe(
            features, labels, _text_model(), "TF-IDF word 1-2-grams, logistic regression", seed
        )
    if vectors is not None and picked:
        effect["embeddings"] = _probe(
            vectors[picked], labels, _embedding_model(), "embeddings, logistic regression", seed
        )
    ran = [p for p in (effect["text"], effect["embeddings"]) if p and "has_effect" in p]
    effect["has_effect"] = any(p["has_effect"] for p in ran) if ran else None
    bias = disparity(g.labels, g.values, rows, grades)
    reading = bool(_READING.search(name))
    effect["readability"] = (
        _readability_effect(g, grades, bias["tests"]["readability"]) if reading and grades else None
    )
    section: dict[str, Any] = {
        "kind": g.kind,
        "values": g.values,
        "bins": g.bins,
        "other": g.other,
        "reading_level": reading,
        "distribution": _distribution(g, rows),
        "effect": effect,
        "disparity": bias,
    }
    family = [section["distribution"]["test"], *bias["tests"]["drop_rate"].values()]
    family += [bias["tests"][k] for k in ("independence", "judge", "length", "readability")]
    tests = list({id(t): t for t in family if t and t.get("p_value") is not None}.values())
    for test, adjusted in zip(tests, holm([t["p_value"] for t in tests]), strict=True):
        test["p_holm"] = adjusted
    section["correction"] = (
        f"Holm across the {len(tests)} tests of this axis (distribution, independence, drop rate "
        "per value, judge, length, readability); findings use p_holm. The probe's and the "
        "readability trend's p are not corrected: their finding is the absence of an intended "
        "effect, which a correction would make easier to claim."
    )
    return section


def _findings(name: str, s: dict[str, Any]) -> list[dict[str, Any]]:
    """Only what is significant after Holm and large enough to matter, or a clear absence of the
    effect an axis exists for; each with the numbers a reader needs to judge it."""
    out: list[dict[str, Any]] = []
    effect, dist, bias = s["effect"], s["distribution"], s["disparity"]
    probe = effect["text"]
    if (
        probe
        and "has_effect" in probe
        and probe["n"] >= MIN_PROBE_ROWS
        and not effect["has_effect"]
    ):
        message = (
            f"{name} has no measurable effect on the text: a probe predicts it no better than "
            f"chance ({pct(probe['accuracy'])} vs {pct(probe['chance'])})"
        )
        out.append(finding(name, None, "effect", message, probe["p_value"]))
    out += _reading_findings(name, effect["readability"])
    test = dist["test"]
    if significant(test):
        planned, kept = dist["planned_share"], dist["kept_share"]
        value = max(s["values"], key=lambda v: abs(kept[v] - planned[v]))
        shift = abs(kept[value] - planned[value])
        if shift >= SHARE_SHIFT or shift >= SHARE_RATIO * planned[value]:
            message = (
                f"filtering skewed {name}: '{value}' is {pct(kept[value])} of kept records but "
                f"{pct(planned[value])} of planned ({p_text(test['p_holm'])})"
            )
            out.append(finding(name, value, "skew", message, test["p_holm"]))
    out += disparity_findings(name, bias, reading=s["reading_level"])
    return out


def _reading_findings(name: str, readability: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A reading-level axis that does not move readability. Uncorrected p, as for the probe:
    the finding is the absence of the effect."""
    if not readability:
        return []
    trend, kw, means = readability["trend"], readability["kruskal"], readability["per_value"]
    if trend and trend["n"] >= MIN_PROBE_ROWS and trend["p_value"] is not None:
        if trend["p_value"] < ALPHA and (trend["statistic"] or 0.0) > 0:
            return []
        ends = [v for v in trend["order"] if means[v]["mean"] is not None]
        first, last = ends[0], ends[-1]
        message = (
            f"{name} does not raise the reading grade as intended: Flesch-Kincaid grade "
            f"{means[first]['mean']:.1f} for '{first}' and {means[last]['mean']:.1f} for '{last}' "
            f"(Spearman rho={trend['statistic'] or 0.0:.2f}, {p_text(trend['p_value'])})"
        )
        return [finding(name, None, "readability", message, trend["p_value"])]
    if trend is None and kw and kw["n"] >= MIN_PROBE_ROWS and (kw["p_value"] or 0.0) >= ALPHA:
        message = f"{name} has no measurable effect on readability ({p_text(kw['p_value'])})"
        return [finding(name, None, "readability", message, kw["p_value"])]
    return []
