"""What looks wrong, as ``{metric, value, threshold, message}``: one rule a metric, each with a
default threshold a recipe can change (``report: {thresholds: {collapse.coverage: 0.6}}``).
``synthloom report --strict`` exits non-zero when any rule fires, so a pipeline can stop on
bad data.

The defaults are deliberately loose: a warning should mean "look at this", not "synthetic
data always differs from real". Rules compare with the reference where a figure depends on
the size of the set (distinct n-grams fall as a corpus grows), and read size-free figures
(shares, ratios, AUC) directly."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Rule:
    metric: str  # dotted path into metrics.json
    below: bool  # True: warn when the value is below the threshold; False: above
    default: float
    message: str  # str.format with {value} and {threshold}


RULES: tuple[Rule, ...] = (
    Rule("records", True, 20, "only {value:.0f} records: too few for most figures to mean much"),
    Rule(
        "funnel.kept_share",
        True,
        0.5,
        "the gate kept only {value:.0%} of what was generated: check the prompts and the model",
    ),
    Rule(
        "lexical.looping_share",
        False,
        0.1,
        "{value:.0%} of records repeat a phrase three or more times within themselves: the "
        "model loops (try a larger model, a lower temperature or a repetition penalty)",
    ),
    Rule(
        "lexical.self_bleu",
        False,
        0.5,
        "records repeat each other's wording (self-BLEU {value:.2f} > {threshold:.2f})",
    ),
    Rule(
        "lexical.distinct_2_vs_reference",
        True,
        0.6,
        "the wording is less varied than the reference's (distinct-2 at {value:.0%} of the "
        "reference's, on samples of the same size)",
    ),
    Rule(
        "collapse.opening_share",
        False,
        0.2,
        "{value:.0%} of records open with the same five words: a template the model falls into",
    ),
    Rule(
        "collapse.variance_ratio",
        True,
        0.5,
        "the records spread over {value:.0%} of the reference's embedding variance: the set "
        "is narrower than the real data (collapse risk)",
    ),
    Rule(
        "collapse.coverage",
        True,
        0.5,
        "the records reach only {value:.0%} of the reference's topic clusters",
    ),
    Rule(
        "collapse.tail_retention",
        True,
        0.5,
        "rare reference topics are under-represented (tail retention {value:.2f}; 1 means kept "
        "in proportion)",
    ),
    Rule(
        "embedding.vendi_vs_reference",
        True,
        0.5,
        "the records hold {value:.0%} of the reference's semantic diversity (Vendi score, same "
        "sample size)",
    ),
    Rule(
        "realism.precision",
        True,
        0.5,
        "only {value:.0%} of records fall near real ones (precision): many read unlike the "
        "reference",
    ),
    Rule(
        "realism.c2st_auc",
        False,
        0.95,
        "a simple classifier tells records from the reference almost always (AUC {value:.2f})",
    ),
)

_COMPARE: dict[bool, Callable[[float, float], bool]] = {True: operator.lt, False: operator.gt}


def lookup(metrics: Mapping[str, Any], path: str) -> float | None:
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def warnings(
    metrics: Mapping[str, Any],
    thresholds: Mapping[str, float] | None = None,
    findings: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every rule whose metric is present and past its threshold, then the axis findings
    (an axis with no effect on the text, a value dropped or judged worse more often)."""
    chosen = dict(thresholds or {})
    out: list[dict[str, Any]] = []
    for rule in RULES:
        value = lookup(metrics, rule.metric)
        threshold = chosen.get(rule.metric, rule.default)
        if value is not None and _COMPARE[rule.below](value, threshold):
            message = rule.message.format(value=value, threshold=threshold)
            out.append(
                {"metric": rule.metric, "value": value, "threshold": threshold, "message": message}
            )
    for finding in findings or []:
        out.append(
            {
                "metric": f"axes.{finding.get('axis')}.{finding.get('metric')}",
                "value": finding.get("value"),
                "threshold": 0.05,
                "message": str(finding.get("message")),
            }
        )
    return out
