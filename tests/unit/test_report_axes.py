"""The axes section on planted data (no model): an axis the text ignores, one it follows, a value
dropped far more often, a skewed mix, a reading level; and the statistics against hand sums."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np
import pytest
from scipy import stats

from synthloom.report.axes import AxisRow, axes_report, group_axis, value_label
from synthloom.report.bias import disparity, holm, mean_ci, readability_grade, wilson

COMMON = ["the", "patient", "should", "rest", "and", "drink", "water", "after", "surgery"]
TONE_WORDS = {
    "warm": "kind gentle caring",
    "cold": "formal strict exact",
    "calm": "steady slow even",
}
EASY = ["cat", "dog", "sun", "run", "hot", "big", "red", "go"]
HARD = ["postoperative", "inflammation", "rehabilitation", "complication", "physiological"]


def planted(n: int = 1200, seed: int = 0) -> list[AxisRow]:
    """tone: vocabulary follows it; noise: text ignores it; age_group: '70+' dropped 45% vs 6%
    and judged lower; question_style: 'skeptical' dropped 50%; reading_level: easy vs hard words;
    days: 1-42, ignored."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        axes: dict[str, Any] = {
            "tone": rng.choice(sorted(TONE_WORDS)),
            "noise": rng.choice(["x", "y", "z"]),
            "age_group": rng.choice(["18-34", "35-54", "55-69", "70+"]),
            "question_style": rng.choice(["short", "worried", "checklist", "skeptical"]),
            "reading_level": rng.choice(["grade 6", "college"]),
            "days": rng.randint(1, 42),
        }
        words = [rng.choice(COMMON) for _ in range(18)]
        words += [rng.choice(TONE_WORDS[axes["tone"]].split()) for _ in range(4)]
        words += [
            rng.choice(EASY if axes["reading_level"] == "grade 6" else HARD) for _ in range(8)
        ]
        rng.shuffle(words)
        text = ". ".join(" ".join(words[i : i + 6]) for i in range(0, len(words), 6)) + "."
        p_drop = 0.06
        if axes["age_group"] == "70+":
            p_drop = 0.45
        elif axes["question_style"] == "skeptical":
            p_drop = 0.5
        kept = rng.random() > p_drop
        judge = float(rng.choice([3, 4, 5]) - (axes["age_group"] == "70+"))
        reason = None if kept else rng.choice(["wrong_language", "near_duplicate"])
        rows.append(AxisRow(axes, kept, reason, text, judge=judge, answer_chars=len(text)))
    return rows


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return axes_report(planted(), seed=0, order={"reading_level": ["grade 6", "college"]})


def findings(report: dict[str, Any], axis: str, metric: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["axis"] == axis and f["metric"] == metric]


def test_text_that_ignores_an_axis_shows_no_effect(report: dict[str, Any]) -> None:
    probe = report["noise"]["effect"]["text"]
    assert probe["has_effect"] is False
    assert report["noise"]["effect"]["has_effect"] is False
    assert probe["p_value"] >= 0.05
    assert probe["accuracy"] < probe["chance"] + 0.05
    assert probe["folds"] == 5
    assert probe["classes"] == 3
    (finding,) = findings(report, "noise", "effect")
    assert "no measurable effect" in finding["message"]


def test_text_that_follows_an_axis_shows_an_effect(report: dict[str, Any]) -> None:
    probe = report["tone"]["effect"]["text"]
    assert probe["has_effect"] is True
    assert probe["accuracy"] > 0.9 > probe["chance"]
    assert probe["p_value"] < 1e-6
    assert not findings(report, "tone", "effect")


def test_planted_drop_bias_is_a_finding_naming_the_value(report: dict[str, Any]) -> None:
    bias = report["age_group"]["disparity"]
    old = bias["per_value"]["70+"]
    assert old["drop_rate"] > 2 * bias["per_value"]["18-34"]["drop_rate"]
    low, high = old["drop_ci"]
    assert low < old["drop_rate"] < high
    assert set(old["reasons"]) <= {"wrong_language", "near_duplicate"}
    assert sum(old["reasons"].values()) == old["dropped"]
    assert bias["tests"]["independence"]["p_holm"] < 0.001
    (finding,) = findings(report, "age_group", "drop_rate")
    assert finding["value"] == "70+"
    assert finding["p"] < 0.001
    assert "age_group '70+' records were dropped" in finding["message"]
    # the planted lower judge score of the same group
    (judge,) = findings(report, "age_group", "judge")
    assert judge["value"] == "70+"
    # every test of the axis carries its corrected p, never below the raw one
    for test in [bias["tests"]["independence"], *bias["tests"]["drop_rate"].values()]:
        assert test["p_holm"] >= test["p_value"]


def test_filtering_skew_gives_small_gof_p_and_a_finding(report: dict[str, Any]) -> None:
    dist = report["question_style"]["distribution"]
    assert dist["test"]["name"].startswith("chi-square goodness of fit")
    assert dist["test"]["p_value"] < 0.001
    assert dist["test"]["df"] == 3
    assert dist["kept_share"]["skeptical"] < dist["planned_share"]["skeptical"]
    (finding,) = findings(report, "question_style", "skew")
    assert finding["value"] == "skeptical"
    assert "filtering skewed question_style: 'skeptical'" in finding["message"]
    # an axis the filter ignored keeps its mix
    assert report["noise"]["distribution"]["test"]["p_value"] > 0.01
    assert not findings(report, "noise", "skew")
    assert not findings(report, "noise", "drop_rate")


def test_reading_level_moves_readability(report: dict[str, Any]) -> None:
    section = report["reading_level"]
    assert section["reading_level"] is True
    readability = section["effect"]["readability"]
    means = readability["per_value"]
    assert means["college"]["mean"] > means["grade 6"]["mean"] + 3
    assert readability["trend"]["order"] == ["grade 6", "college"]
    assert readability["trend"]["statistic"] > 0.5
    assert not findings(report, "reading_level", "readability")
    assert report["tone"]["effect"]["readability"] is None


def test_reading_level_the_text_ignores_is_a_finding() -> None:
    rows = [
        AxisRow({"reading_level": row.axes["noise"]}, row.kept, row.reason, row.text)
        for row in planted(400, seed=3)
    ]
    out = axes_report(rows, order={"reading_level": ["x", "y", "z"]})
    (finding,) = findings(out, "reading_level", "readability")
    assert "does not raise the reading grade" in finding["message"]


def test_numeric_axis_is_binned_by_planned_quantiles(report: dict[str, Any]) -> None:
    section = report["days"]
    assert section["kind"] == "numeric"
    assert 2 <= len(section["bins"]) <= 5
    assert section["bins"][0]["low"] == 1
    assert section["bins"][-1]["high"] == 42
    planned = section["distribution"]["planned"]
    assert sum(planned.values()) == 1200
    assert max(planned.values()) < 2 * min(planned.values())  # quantile bins: similar sizes
    assert section["values"] == [b["label"] for b in section["bins"]]


def test_many_values_keep_the_top_ones_and_other() -> None:
    rng = random.Random(1)
    rows = [AxisRow({"persona": f"p{rng.randrange(100)}"}, True, text="x y") for _ in range(2000)]
    g = group_axis("persona", rows)
    assert g.kind == "many"
    assert len(g.values) == 30
    assert g.values[-1] == "(other)"
    assert g.other is not None
    assert g.other["distinct_values"] == 71
    assert g.other["rows"] == g.labels.count("(other)")


def test_probe_leaves_out_other_and_values_too_rare_to_stratify() -> None:
    rows = planted(400, seed=5)
    persona = [f"p{i % 40}" for i in range(len(rows))]  # 40 values: 29 kept, 11 in "(other)"
    rows = [
        AxisRow(r.axes | {"persona": p}, r.kept, r.reason, r.text)
        for r, p in zip(rows, persona, strict=True)
    ]
    rows.append(AxisRow({"persona": "once"}, True, None, rows[0].text))
    probe = axes_report(rows)["persona"]["effect"]["text"]
    assert "(other)" in probe["left_out"]
    assert probe["classes"] == 29
    assert probe["n"] < sum(r.kept for r in rows)
    lonely = [AxisRow({"a": "x"}, True, None, "some words")] * 5 + [
        AxisRow({"a": "y"}, True, None, "w")
    ]
    skipped = axes_report(lonely)["a"]["effect"]
    assert "skipped" in skipped["text"]
    assert skipped["has_effect"] is None


def test_rare_values_are_pooled_and_named() -> None:
    rows = [AxisRow({"a": "common"}, i % 2 == 0, "x") for i in range(200)]
    rows += [AxisRow({"a": "other"}, i % 3 == 0, "x") for i in range(200)]
    rows += [AxisRow({"a": "rare"}, False, "x"), AxisRow({"a": "rare"}, True)]
    dist = axes_report(rows)["a"]["distribution"]
    assert dist["planned"] == {"common": 200, "other": 200, "rare": 2}
    assert "rare" in dist["test"]["pooled"]
    assert dist["test"]["df"] == 1
    assert "rare" in dist["note"]


def test_wilson_interval_matches_a_hand_computation() -> None:
    k, n, z = 3, 10, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson(k, n) or [0.0, 0.0]
    assert low == pytest.approx(centre - half, abs=1e-9)
    assert high == pytest.approx(centre + half, abs=1e-9)
    assert wilson(0, 0) is None


def test_chi_square_tests_match_scipy_on_a_tiny_table() -> None:
    rows = [AxisRow({"v": "a"}, True)] * 30 + [AxisRow({"v": "a"}, False, "r")] * 10
    rows += [AxisRow({"v": "b"}, True)] * 15 + [AxisRow({"v": "b"}, False, "r")] * 25
    labels = [str(r.axes["v"]) for r in rows]
    independence = disparity(labels, ["a", "b"], rows, {})["tests"]["independence"]
    expected = stats.chi2_contingency([[30, 10], [15, 25]])
    assert independence["statistic"] == pytest.approx(expected.statistic)
    assert independence["p_value"] == pytest.approx(expected.pvalue)
    assert independence["n"] == 80
    assert independence["df"] == 1
    # goodness of fit by hand: 45 kept, planned half and half -> expected 22.5 each
    gof = axes_report(rows)["v"]["distribution"]["test"]
    statistic = (30 - 22.5) ** 2 / 22.5 + (15 - 22.5) ** 2 / 22.5
    assert gof["statistic"] == pytest.approx(statistic)
    assert gof["p_value"] == pytest.approx(stats.chi2.sf(statistic, 1))


def test_holm_by_hand() -> None:
    assert holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_mean_ci_and_readability_grade() -> None:
    out = mean_ci([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert out["mean"] == 2.0
    assert out["ci"] == pytest.approx([2 - half, 2 + half], abs=1e-4)
    assert mean_ci([]) == {"n": 0, "mean": None, "ci": None}
    assert readability_grade("") is None
    easy, hard = "The cat ran. The dog sat.", "Postoperative rehabilitation necessitates vigilance."
    assert (readability_grade(hard) or 0) > (readability_grade(easy) or 0) + 5


def test_embeddings_probe_runs_beside_the_text_probe() -> None:
    rows = planted(300, seed=2)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(rows), 8))
    vectors[:, 0] += [3.0 * (r.axes["noise"] == "x") for r in rows]  # the meaning follows noise
    out = axes_report(rows, embeddings=vectors)
    assert out["noise"]["effect"]["embeddings"]["has_effect"] is True
    assert out["noise"]["effect"]["has_effect"] is True
    assert not findings(out, "noise", "effect")
    with pytest.raises(ValueError, match="embeddings"):
        axes_report(rows, embeddings=vectors[:10])


def test_json_ready_and_deterministic() -> None:
    rows = planted(300, seed=4)
    first = json.dumps(axes_report(rows, seed=5), allow_nan=False, sort_keys=True)
    assert first == json.dumps(axes_report(rows, seed=5), allow_nan=False, sort_keys=True)
    small = axes_report(rows, seed=5, sample=100)
    assert small["noise"]["effect"]["sample"] == {
        "rows": 100,
        "kept_rows": sum(r.kept for r in rows),
        "limit": 100,
        "seed": 5,
    }


def test_degenerate_inputs_do_not_crash() -> None:
    assert axes_report([]) == {"findings": []}
    everything_kept = [AxisRow({"a": v, "one": 1}, True, text="") for v in "xyxy"]
    out = axes_report(everything_kept)
    assert out["a"]["disparity"]["tests"]["independence"] is None
    assert out["a"]["effect"]["text"] is None  # no text to probe
    assert out["one"]["distribution"]["test"] is None
    nothing_kept = [AxisRow({"a": v}, False, None, text="words here") for v in "xyxy" * 5]
    out = axes_report(nothing_kept)
    assert out["a"]["disparity"]["per_value"]["x"]["reasons"] == {"(no reason given)": 10}
    json.dumps(out, allow_nan=False)
    assert value_label(None) == "(none)"
    assert value_label(3.0) == "3"
