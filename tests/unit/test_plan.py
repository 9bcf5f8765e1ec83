"""Planning on the flagship recipe: balanced primary seeds, weighted axes, reproducible rows."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

from synthloom.errors import RecipeError
from synthloom.pipeline import prepare
from synthloom.plan import PlannedRow, Planner
from synthloom.recipe import Recipe, load_recipe
from synthloom.sampling import Axis, Categorical, Conditional, Numeric, parse_axes
from synthloom.seeds import load_seeds

FLAGSHIP = Path(__file__).resolve().parents[2] / "examples" / "post-surgical-care" / "recipe.yaml"
N = 1000


@pytest.fixture(scope="module")
def recipe() -> Recipe:
    return load_recipe(FLAGSHIP)


@pytest.fixture(scope="module")
def axes(recipe: Recipe) -> list[Axis]:
    return parse_axes(recipe.axes, recipe.base_dir, recipe.error)


@pytest.fixture(scope="module")
def n_seeds(recipe: Recipe) -> int:
    return len(load_seeds(recipe.seeds, recipe.base_dir))


@pytest.fixture(scope="module")
def rows(axes: list[Axis], n_seeds: int, recipe: Recipe) -> list[PlannedRow]:
    planner = Planner(n_seeds, axes, per_row=2, random_seed=recipe.random_seed)
    return list(planner.rows(N))


def test_flagship_shape(recipe: Recipe, axes: list[Axis], n_seeds: int) -> None:
    assert n_seeds == 50
    names = [a.name for a in axes]
    assert set(names) == set(recipe.axes)
    assert names.index("age_group") < names.index("mobility_aid")  # parents first
    kinds = {a.name: type(a) for a in axes}
    assert kinds["mobility_aid"] is Conditional
    assert kinds["days_since_surgery"] is Numeric
    assert kinds["age_group"] is Categorical


def test_every_seed_is_a_primary_and_counts_are_balanced(rows: list[PlannedRow]) -> None:
    counts = Counter(r.seed_indices[0] for r in rows)
    assert set(counts) == set(range(50))
    assert max(counts.values()) - min(counts.values()) <= 1
    # each block of 50 rows is one shuffled epoch: a permutation of all seeds
    for start in range(0, N, 50):
        assert sorted(r.seed_indices[0] for r in rows[start : start + 50]) == list(range(50))
    assert [r.seed_indices[0] for r in rows[:50]] != list(range(50))  # shuffled, not in order


@pytest.mark.parametrize("count", [1013, 77, 49])
def test_balance_holds_for_partial_epochs(axes: list[Axis], count: int) -> None:
    planner = Planner(50, axes, per_row=2, random_seed=11)
    counts = Counter(r.seed_indices[0] for r in planner.rows(count))
    values = [counts.get(i, 0) for i in range(50)]
    assert max(values) - min(values) == (0 if count % 50 == 0 else 1)
    assert sum(values) == count


def _parse(raw: dict[str, object], base: Path = Path(".")) -> list[Axis]:
    """Axes from a raw ``axes:`` mapping; a problem in it fails the test as a RecipeError."""
    return parse_axes(raw, base, lambda field, cause: RecipeError(cause, field=field))


def _within(freq: float, p: float, n: int) -> bool:
    return abs(freq - p) <= 4 * math.sqrt(p * (1 - p) / n)  # 4 binomial standard deviations


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("age_group", {"18-34": 0.2, "35-54": 0.3, "55-69": 0.3, "70+": 0.2}),
        (
            "question_style",
            {
                "short and direct": 3 / 8,
                "worried and detailed": 2 / 8,
                "practical checklist request": 2 / 8,
                "skeptical": 1 / 8,
            },
        ),
        ("reading_level", {"grade 6": 1 / 3, "grade 10": 1 / 3, "college": 1 / 3}),
    ],
)
def test_weighted_frequencies_match_the_weights(
    axes: list[Axis], n_seeds: int, name: str, expected: dict[str, float]
) -> None:
    axis = next(a for a in axes if a.name == name)
    assert isinstance(axis, Categorical)
    assert axis.probabilities() == pytest.approx(expected)
    for random_seed in (0, 7, 12345):
        planner = Planner(n_seeds, axes, per_row=2, random_seed=random_seed)
        counts = Counter(r.axes[name] for r in planner.rows(N))
        assert set(counts) == set(expected)
        for value, p in expected.items():
            assert _within(counts[value] / N, p, N), (random_seed, value, counts)


def test_persona_from_file_is_uniform(recipe: Recipe, rows: list[PlannedRow]) -> None:
    personas = [
        line.strip()
        for line in (recipe.base_dir / "personas.txt").read_text().splitlines()
        if line.strip()
    ]
    counts = Counter(r.axes["persona"] for r in rows)
    assert set(counts) == set(personas)
    for persona in personas:
        assert _within(counts[persona] / N, 1 / len(personas), N)


def test_conditional_values_come_from_their_parent_case(rows: list[PlannedRow]) -> None:
    seen: dict[str, set[str]] = {}
    for r in rows:
        seen.setdefault(r.axes["age_group"], set()).add(r.axes["mobility_aid"])
    assert seen == {
        "18-34": {"none"},
        "35-54": {"none"},
        "55-69": {"none", "cane"},
        "70+": {"none", "cane", "walker"},
    }
    walkers = [r for r in rows if r.axes["mobility_aid"] == "walker"]
    assert walkers
    assert all(r.axes["age_group"] == "70+" for r in walkers)
    # within the 70+ case the weights [2, 2, 1] apply
    old = [r.axes["mobility_aid"] for r in rows if r.axes["age_group"] == "70+"]
    assert _within(old.count("walker") / len(old), 0.2, len(old))


def test_conditional_without_default_gives_none() -> None:
    axes = _parse({"g": ["a", "b"], "c": {"depends_on": "g", "cases": {"a": ["x"]}}})
    got = {(r.axes["g"], r.axes["c"]) for r in Planner(3, axes).rows(200)}
    assert got == {("a", "x"), ("b", None)}


def test_children_are_ordered_after_parents_whatever_the_recipe_order() -> None:
    axes = _parse({"child": {"depends_on": "parent", "cases": {"p": ["c"]}}, "parent": ["p"]})
    assert [a.name for a in axes] == ["parent", "child"]


def test_values_from_a_file_with_weights(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("nurse\n\nsurgeon\n")  # blank lines are skipped
    axis = _parse({"who": {"file": "p.txt", "weights": [9, 1]}}, tmp_path)[0]
    assert isinstance(axis, Categorical)
    assert axis.probabilities() == {"nurse": 0.9, "surgeon": 0.1}


def test_integer_numeric_axis(rows: list[PlannedRow]) -> None:
    days = [r.axes["days_since_surgery"] for r in rows]
    assert all(type(d) is int for d in days)
    assert min(days) == 1  # both ends are reachable: the range is inclusive
    assert max(days) == 42


def test_float_numeric_axis_rounds_to_decimals() -> None:
    raw = {"dose": {"min": 0.5, "max": 1.5}, "temp": {"min": 36, "max": 40, "decimals": 1}}
    axes = _parse(raw)
    rows = list(Planner(5, axes).rows(500))
    doses = [r.axes["dose"] for r in rows]
    temps = [r.axes["temp"] for r in rows]
    assert all(isinstance(d, float) and 0.5 <= d <= 1.5 and round(d, 2) == d for d in doses)
    assert all(isinstance(t, float) and 36 <= t <= 40 and round(t, 1) == t for t in temps)
    assert len(set(doses)) > 50  # continuous, not a handful of values


def test_same_random_seed_gives_identical_rows(
    axes: list[Axis], rows: list[PlannedRow], recipe: Recipe
) -> None:
    again = list(Planner(50, axes, per_row=2, random_seed=recipe.random_seed).rows(N))
    assert again == rows


def test_different_random_seed_gives_different_rows(
    axes: list[Axis], rows: list[PlannedRow], recipe: Recipe
) -> None:
    other = list(Planner(50, axes, per_row=2, random_seed=recipe.random_seed + 1).rows(N))
    assert [r.seed_indices for r in other] != [r.seed_indices for r in rows]
    assert [r.axes for r in other] != [r.axes for r in rows]
    same = sum(a.axes == b.axes for a, b in zip(other, rows, strict=True))
    assert same < N // 4  # not a near-copy either


def test_row_plan_does_not_depend_on_row_count(axes: list[Axis]) -> None:
    short = list(Planner(50, axes, per_row=3, random_seed=5).rows(10))
    planner = Planner(50, axes, per_row=3, random_seed=5)
    long = list(planner.rows(N))
    assert long[:10] == short
    # random access and resuming from an offset give the same rows
    fresh = Planner(50, axes, per_row=3, random_seed=5)
    assert fresh.row(537) == long[537]
    assert fresh.row(3) == long[3]  # going back to an earlier epoch
    assert list(fresh.rows(20, start=490)) == long[490:510]


@pytest.mark.parametrize(("n_seeds", "per_row"), [(50, 3), (50, 5), (4, 4), (3, 10)])
def test_few_shot_seeds_are_distinct_and_primary_first(n_seeds: int, per_row: int) -> None:
    planner = Planner(n_seeds, [], per_row=per_row, random_seed=1)
    rows = list(planner.rows(300))
    for r in rows:
        assert len(r.seed_indices) == min(per_row, n_seeds)
        assert len(set(r.seed_indices)) == len(r.seed_indices)
        assert all(0 <= i < n_seeds for i in r.seed_indices)
    primaries = [r.seed_indices[0] for r in rows]
    plain = [r.seed_indices[0] for r in Planner(n_seeds, [], per_row=1, random_seed=1).rows(300)]
    assert primaries == plain  # the extra few-shot seeds never displace the primary


def test_primary_seed_is_the_template_seed(recipe: Recipe) -> None:
    prepared = prepare(recipe, backend="fake", model_id="fake-1")
    task = prepared.tasks[0]
    for row in prepared.planner.rows(60):
        ctx = task.context(row)
        ids = [prepared.seeds[i].id for i in row.seed_indices]
        assert ctx["seed"]["id"] == ids[0]
        assert [e["id"] for e in ctx["examples"]] == ids[:2]
        assert ctx["age_group"] == row.axes["age_group"]


def test_planner_without_seeds_still_draws_axes() -> None:
    axis = Categorical("style", ["a", "b"], [1.0, 1.0])
    rows = list(Planner(0, [axis]).rows(5))
    assert all(r.seed_indices == () for r in rows)
    assert {r.axes["style"] for r in rows} <= {"a", "b"}
    with pytest.raises(ValueError, match="negative"):
        Planner(-1, [])
