"""The bias audit of one axis: does any of its values fare worse than the others, in how often
its records are dropped (and why), how the judge scores them, how long and how readable they are?
Also the small statistics the axes section is built from, so every test reads the same way:
``{"name", "statistic", "p_value", "n", ...}`` with plain floats and None, never NaN."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats
from textstat.backend import counts, selections
from textstat.backend.utils import get_pyphen

if TYPE_CHECKING:
    from synthloom.report.axes import AxisRow

# Cochran's rule for Pearson's chi-square: expected counts of at least 5 in every cell
MIN_EXPECTED = 5.0
ALPHA = 0.05
# what counts as "clearly meaningful" besides significant: on 100,000 rows everything is
DROP_RATIO = 1.5  # a value dropped 1.5x as often as average
EPSILON_SQUARED = 0.01  # the conventional floor of a "small" rank effect
LENGTH_RATIO = 1.2
GRADE_GAP = 1.0  # one school grade
READABILITY_METHOD = "Flesch-Kincaid grade (textstat's formula and sentence rule, pyphen syllables)"


def num(value: Any, digits: int | None = None) -> float | None:
    """A plain float for JSON, or None where the statistic is undefined (numpy's NaN or inf)."""
    if value is None:
        return None
    out = float(value)
    if not math.isfinite(out):
        return None
    return round(out, digits) if digits is not None else out


def stat_result(name: str, statistic: Any, p_value: Any, n: int, **extra: Any) -> dict[str, Any]:
    """One test, in the one shape every section uses; ``p_holm`` is filled in per axis later."""
    return {
        "name": name,
        "statistic": num(statistic),
        "p_value": num(p_value),
        "n": int(n),
        **extra,
    }


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment. Chosen over Bonferroni because it controls the same
    family-wise error and is never less powerful; over Benjamini-Hochberg because a finding here
    becomes a warning a person acts on, so each one should stand on its own. scipy has only BH
    (``false_discovery_control``), hence these few lines. None (a test that could not run) stays
    None and does not count towards the family."""
    present = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(present):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def wilson(k: int, n: int) -> list[float] | None:
    """95% Wilson score interval. Not the normal (Wald) interval: drop rates near 0% on groups of
    a few dozen rows are common here, and Wald collapses to a zero-width interval there."""
    if n <= 0:
        return None
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return [float(ci.low), float(ci.high)]


def mean_ci(values: Sequence[float]) -> dict[str, Any]:
    """Mean with a 95% Student-t interval. The groups here hold tens to thousands of rows, where
    the central limit theorem makes t close to exact even for skewed scores; a bootstrap would
    cost a thousand times more on 100,000 rows and change nothing at these sizes."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "ci": None}
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    if n < 2:
        return {"n": 1, "mean": num(mean, 4), "ci": None}
    half = float(stats.t.ppf(0.975, n - 1)) * float(arr.std(ddof=1)) / math.sqrt(n)
    return {"n": n, "mean": num(mean, 4), "ci": [num(mean - half, 4), num(mean + half, 4)]}


def pool_small(weights: Sequence[float]) -> list[list[int]]:
    """Groups of category indexes for a chi-square test. Rare categories are not dropped (that
    would hide exactly the values a bias audit is about) but pooled into one, which is merged with
    the next-smallest category if it is still under ``MIN_EXPECTED``. ``weights`` is each
    category's smallest expected cell count."""
    groups = [[i] for i, w in enumerate(weights) if w >= MIN_EXPECTED]
    small = [i for i, w in enumerate(weights) if w < MIN_EXPECTED]
    if small:
        if sum(weights[i] for i in small) < MIN_EXPECTED and groups:
            j = min(range(len(groups)), key=lambda g: sum(weights[i] for i in groups[g]))
            small = sorted(small + groups.pop(j))
        groups.append(small)
    return groups


def kruskal(groups: Mapping[str, Sequence[float]]) -> dict[str, Any] | None:
    """Kruskal-Wallis across values, not ANOVA: judge scores are coarse ordinal steps and lengths
    are right-skewed, so a rank test is the honest one. Epsilon-squared (H / (n - 1)) comes with
    it because on 100,000 rows a trivial difference is still significant."""
    samples = [list(g) for g in groups.values() if len(g) > 0]
    n = sum(len(s) for s in samples)
    if len(samples) < 2 or len({v for s in samples for v in s}) < 2:
        return None
    h, p = stats.kruskal(*samples)
    return stat_result(
        "Kruskal-Wallis H test across values", h, p, n, epsilon_squared=num(float(h) / (n - 1), 4)
    )


def readability_grades(texts: Sequence[str]) -> list[float | None]:
    """Flesch-Kincaid grade with textstat's formula and sentence rule, but syllables from pyphen
    only. ``textstat.flesch_kincaid_grade`` looks English words up in NLTK's cmudict and, when it
    is not installed, downloads it on first use: a report must not reach the network, and must
    give the same number on every machine. Syllables are counted once per distinct word (a
    local cache: words repeat, and hyphenation was most of the cost). None for a text without
    words (textstat says 0.0, which would drag a mean)."""
    hyphenator: Any = get_pyphen("en_US")
    syllables: dict[str, int] = {}
    out: list[float | None] = []
    for text in texts:
        words = selections.list_words(text, lowercase=True)
        if not words:
            out.append(None)
            continue
        total = 0
        for word in words:
            if word not in syllables:
                syllables[word] = len(hyphenator.positions(word)) + 1
            total += syllables[word]
        sentences = max(1, counts.count_sentences(text))
        out.append(float(0.39 * len(words) / sentences + 11.8 * total / len(words) - 15.59))
    return out


def readability_grade(text: str) -> float | None:
    """One text's grade (see ``readability_grades``)."""
    return readability_grades([text])[0]


def _independence(labels: Sequence[str], kept: Sequence[int], dropped: Sequence[int]) -> Any:
    """Value x kept: the exact-design question "does the chance of being dropped depend on the
    value?" (the goodness-of-fit test in the distribution section asks it from the kept side)."""
    total_kept, total_dropped = sum(kept), sum(dropped)
    n = total_kept + total_dropped
    if total_kept == 0 or total_dropped == 0:
        return None
    smaller = min(total_kept, total_dropped) / n
    groups = pool_small([(k + d) * smaller for k, d in zip(kept, dropped, strict=True)])
    if len(groups) < 2:
        return None
    table = [[sum(kept[i] for i in g), sum(dropped[i] for i in g)] for g in groups]
    res = stats.chi2_contingency(table)
    pooled = [labels[i] for g in groups if len(g) > 1 for i in g]
    return stat_result(
        "chi-square test of independence (value x kept)",
        res.statistic,
        res.pvalue,
        n,
        df=int(res.dof),
        pooled=pooled,
    )


def _drop_test(dropped: int, rows: int, all_dropped: int, all_rows: int) -> dict[str, Any]:
    """This value against all the others, by Fisher's exact test: exact at any group size, so a
    value with 12 rows is judged as fairly as one with 12,000. Statistic: the odds ratio."""
    table = [
        [dropped, rows - dropped],
        [all_dropped - dropped, (all_rows - rows) - (all_dropped - dropped)],
    ]
    res = stats.fisher_exact(table)
    return stat_result(
        "Fisher's exact test (this value vs the rest)", res.statistic, res.pvalue, all_rows
    )


def disparity(
    labels: Sequence[str],
    values: Sequence[str],
    rows: Sequence[AxisRow],
    grades: Mapping[int, float],
) -> dict[str, Any]:
    """Per value of one axis: drop rate (Wilson CI) and reasons, judge score, answer length and
    readability, each with a test across values. ``labels[i]`` is row i's value; ``grades`` maps
    row index to readability for the sampled kept rows. Judge scores are taken over every scored
    row, kept or not: the judge's own cut removes the low scores, so kept rows alone would hide
    the very gap being looked for. Length is over kept rows (what the dataset holds)."""
    total: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    reasons: defaultdict[str, Counter[str]] = defaultdict(Counter)
    judge: defaultdict[str, list[float]] = defaultdict(list)
    length: defaultdict[str, list[float]] = defaultdict(list)
    for label, row in zip(labels, rows, strict=True):
        total[label] += 1
        if row.judge is not None:
            judge[label].append(float(row.judge))
        if row.kept:
            if row.answer_chars is not None:
                length[label].append(float(row.answer_chars))
        else:
            dropped[label] += 1
            reasons[label][row.reason or "(no reason given)"] += 1
    readability: defaultdict[str, list[float]] = defaultdict(list)
    for i, grade in grades.items():
        readability[labels[i]].append(grade)

    n, n_dropped = len(rows), sum(dropped.values())
    per_value: dict[str, Any] = {}
    drop_tests: dict[str, Any] = {}
    for value in values:
        rows_v, dropped_v = total[value], dropped[value]
        entry: dict[str, Any] = {
            "rows": rows_v,
            "dropped": dropped_v,
            "drop_rate": num(dropped_v / rows_v, 4) if rows_v else None,
            "drop_ci": wilson(dropped_v, rows_v),
            "reasons": dict(reasons[value].most_common()),
        }
        if judge:
            entry["judge"] = mean_ci(judge[value])
        if length:
            entry["length"] = {
                "median": num(np.median(length[value]), 1) if length[value] else None
            }
            entry["length"] |= mean_ci(length[value])
        if grades:
            entry["readability"] = mean_ci(readability[value])
        per_value[value] = entry
        if 0 < n_dropped < n and rows_v < n:
            drop_tests[value] = _drop_test(dropped_v, rows_v, n_dropped, n)

    all_lengths = [x for v in length.values() for x in v]
    overall: dict[str, Any] = {
        "rows": n,
        "dropped": n_dropped,
        "drop_rate": num(n_dropped / n, 4) if n else None,
        "drop_ci": wilson(n_dropped, n),
        "judge": mean_ci([x for v in judge.values() for x in v]) if judge else None,
        "length": (
            {"median": num(np.median(all_lengths), 1)} | mean_ci(all_lengths)
            if all_lengths
            else None
        ),
        "readability": mean_ci(list(grades.values())) if grades else None,
    }
    tests = {
        "independence": _independence(
            values, [total[v] - dropped[v] for v in values], [dropped[v] for v in values]
        ),
        "drop_rate": drop_tests,
        "judge": kruskal({v: judge[v] for v in values}) if judge else None,
        "length": kruskal({v: length[v] for v in values}) if length else None,
        "readability": kruskal({v: readability[v] for v in values}) if grades else None,
    }
    return {
        "overall": overall,
        "per_value": per_value,
        "tests": tests,
        "notes": {
            "judge": "over every scored row, kept or dropped (the judge's own cut would hide gaps)",
            "length": "answer characters over kept rows",
            "readability": f"{READABILITY_METHOD}, on the sampled kept rows ({len(grades)})",
        },
    }


def pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.1 or x == 0 else f"{x:.1%}"


def p_text(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def finding(axis: str, value: str | None, metric: str, message: str, p: Any) -> dict[str, Any]:
    return {"axis": axis, "value": value, "metric": metric, "message": message, "p": num(p)}


def significant(test: Any) -> bool:
    return bool(test) and test.get("p_holm") is not None and test["p_holm"] < ALPHA


def disparity_findings(name: str, bias: dict[str, Any], *, reading: bool) -> list[dict[str, Any]]:
    """Plain-words findings from ``disparity``'s output once Holm's p_holm is filled in. A value
    is named only when its test is significant after correction and the gap is large enough to
    matter: dropped 1.5x as often as average; or, for judge score, length and readability, at
    least a small rank effect and a value far enough from the overall figure. Lower drop rates
    are not reported: they are the mirror of the higher ones, and the skew finding covers them."""
    out: list[dict[str, Any]] = []
    overall = bias["overall"]["drop_rate"] or 0.0
    for value, test in bias["tests"]["drop_rate"].items():
        entry = bias["per_value"][value]
        if significant(test) and overall > 0 and entry["drop_rate"] >= DROP_RATIO * overall:
            message = (
                f"{name} '{value}' records were dropped {entry['drop_rate'] / overall:.1f}x as "
                f"often as average ({pct(entry['drop_rate'])} vs {pct(overall)}, "
                f"{p_text(test['p_holm'])})"
            )
            if entry["reasons"]:
                message += f", most often for {next(iter(entry['reasons']))}"
            out.append(finding(name, value, "drop_rate", message, test["p_holm"]))
    checks = [("judge", "mean"), ("length", "median")]
    if not reading:  # for a reading-level axis a readability spread is the point, not a bias
        checks.append(("readability", "mean"))
    for metric, stat in checks:
        test, overall_stats = bias["tests"][metric], bias["overall"][metric]
        if not significant(test) or (test["epsilon_squared"] or 0.0) < EPSILON_SQUARED:
            continue
        base = overall_stats[stat]
        scored = {
            v: e[metric][stat]
            for v, e in bias["per_value"].items()
            if e[metric]["n"] >= 5 and e[metric][stat] is not None
        }
        if not scored or base is None:
            continue
        value = max(scored, key=lambda v: abs(scored[v] - base))
        got, p = scored[value], p_text(test["p_holm"])
        if metric == "judge":
            message = (
                f"judge scores vary with {name}: '{value}' averages {got:.2f} vs {base:.2f} "
                f"overall ({p})"
            )
        elif metric == "length":
            if base <= 0 or 1 / LENGTH_RATIO < got / base < LENGTH_RATIO:
                continue
            message = (
                f"answer length varies with {name}: '{value}' has a median of {got:.0f} "
                f"characters vs {base:.0f} overall ({p})"
            )
        else:
            if abs(got - base) < GRADE_GAP:
                continue
            message = (
                f"readability varies with {name}: '{value}' texts read at grade {got:.1f} vs "
                f"{base:.1f} overall ({p})"
            )
        out.append(finding(name, value, metric, message, test["p_holm"]))
    return out
