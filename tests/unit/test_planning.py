"""The plan: every seed used and balanced, axis values follow their weights, reproducible."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from synthloom import load_recipe
from synthloom.plan import Planner
from synthloom.sampling import Categorical, Conditional, parse_axes

FLAGSHIP = Path(__file__).parents[2] / "examples" / "post-surgical-care" / "recipe.yaml"
ROWS = 1000


@pytest.fixture(scope="module")
def planner() -> Planner:
    recipe = load_recipe(FLAGSHIP)
    axes = parse_axes(recipe.axes, recipe.base_dir, recipe.error)
    return Planner(50, axes, per_row=2, random_seed=recipe.random_seed)


def test_every_seed_is_primary_and_counts_are_balanced(planner: Planner) -> None:
    counts = Counter(row.seed_indices[0] for row in planner.rows(ROWS))
    assert set(counts) == set(range(50))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_few_shot_seeds_are_distinct_and_primary_first(planner: Planner) -> None:
    for row in planner.rows(ROWS):
        assert len(row.seed_indices) == 2
        assert len(set(row.seed_indices)) == 2


def _within(observed: int, share: float, rows: int) -> bool:
    """Within 4 binomial standard deviations of the expected count."""
    sigma = math.sqrt(rows * share * (1 - share))
    return abs(observed - rows * share) <= 4 * sigma


def test_weighted_values_follow_their_weights(planner: Planner) -> None:
    rows = list(planner.rows(ROWS))
    for axis in planner.axes:
        if not isinstance(axis, Categorical):
            continue
        seen = Counter(row.axes[axis.name] for row in rows)
        assert set(seen) <= set(axis.values)
        for value, share in axis.probabilities().items():
            assert _within(seen[value], share, ROWS), (axis.name, value, seen[value], share)
    styles = Counter(row.axes["question_style"] for row in rows)
    assert styles["short and direct"] > 2 * styles["skeptical"]  # weights 3 vs 1


def test_conditional_axis_draws_from_its_parents_case(planner: Planner) -> None:
    rows = list(planner.rows(ROWS))
    by_group: dict[str, Counter[str]] = {}
    for row in rows:
        by_group.setdefault(row.axes["age_group"], Counter())[row.axes["mobility_aid"]] += 1
    assert set(by_group["18-34"]) == {"none"}
    assert set(by_group["35-54"]) == {"none"}
    assert set(by_group["55-69"]) == {"none", "cane"}
    assert set(by_group["70+"]) == {"none", "cane", "walker"}
    old = by_group["70+"]
    assert _within(old["walker"], 1 / 5, sum(old.values()))


def test_numeric_axis_stays_in_range_and_is_integer(planner: Planner) -> None:
    days = [row.axes["days_since_surgery"] for row in planner.rows(ROWS)]
    assert all(isinstance(d, int) and 1 <= d <= 42 for d in days)
    assert {1, 42} <= set(days)


def test_plans_are_reproducible_and_prefix_stable(planner: Planner) -> None:
    again = Planner(50, planner.axes, per_row=2, random_seed=planner.random_seed)
    assert list(again.rows(ROWS)) == list(planner.rows(ROWS))
    assert list(planner.rows(10)) == list(planner.rows(ROWS))[:10]
    assert planner.row(777) == list(planner.rows(ROWS))[777]
    other = Planner(50, planner.axes, per_row=2, random_seed=planner.random_seed + 1)
    assert list(other.rows(50)) != list(planner.rows(50))


def test_fewer_rows_than_seeds_still_spread_over_distinct_seeds() -> None:
    planner = Planner(50, [], per_row=1, random_seed=0)
    primaries = [row.seed_indices[0] for row in planner.rows(20)]
    assert len(set(primaries)) == 20


def test_conditional_default_and_float_axis() -> None:
    axes = parse_axes(
        {
            "kind": ["a", "b"],
            "detail": {"depends_on": "kind", "cases": {"a": ["x"]}, "default": ["y"]},
            "score": {"min": 0.0, "max": 1.0, "decimals": 3},
        },
        Path("."),
        lambda field, cause: AssertionError(f"{field}: {cause}"),  # type: ignore[arg-type,return-value]
    )
    assert [a.name for a in axes] == ["kind", "detail", "score"]
    assert isinstance(axes[1], Conditional)
    for row in Planner(3, axes, random_seed=1).rows(200):
        assert row.axes["detail"] == ("x" if row.axes["kind"] == "a" else "y")
        assert 0.0 <= row.axes["score"] <= 1.0
        assert round(row.axes["score"], 3) == row.axes["score"]


def test_children_are_ordered_after_parents_whatever_the_recipe_order() -> None:
    axes = parse_axes(
        {"child": {"depends_on": "parent", "cases": {"p": ["c"]}}, "parent": ["p"]},
        Path("."),
        lambda field, cause: AssertionError(cause),  # type: ignore[arg-type,return-value]
    )
    assert [a.name for a in axes] == ["parent", "child"]


def test_values_from_a_file_with_weights(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("nurse\n\nsurgeon\n")
    axes = parse_axes(
        {"who": {"file": "p.txt", "weights": [9, 1]}},
        tmp_path,
        lambda field, cause: AssertionError(cause),  # type: ignore[arg-type,return-value]
    )
    axis = axes[0]
    assert isinstance(axis, Categorical)
    assert axis.probabilities() == {"nurse": 0.9, "surgeon": 0.1}
