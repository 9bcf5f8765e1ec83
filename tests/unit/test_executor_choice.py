"""Choosing an executor: the recipe's ``executor`` keys, ``--executor``, and a clear error when
the Ray extra is missing."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from synthloom.errors import MissingDependencyError, RecipeError
from synthloom.executors.sharded import require_ray, split
from synthloom.recipe import load_recipe
from tests.helpers import cli, write_recipe


def test_the_executor_keys_are_checked_when_the_recipe_loads(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, executor={"kind": "spark"})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.field == "executor.kind"
    path = write_recipe(tmp_path, executor={"kind": "ray", "shards": 0})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.field == "executor.shards"
    recipe = load_recipe(write_recipe(tmp_path, executor={"kind": "ray", "address": "auto"}))
    assert (recipe.executor.kind, recipe.executor.address, recipe.executor.shards) == (
        "ray",
        "auto",
        None,
    )
    assert load_recipe(write_recipe(tmp_path)).executor.kind == "local"


def test_a_missing_ray_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(MissingDependencyError) as info:
        require_ray()
    assert "pip install 'synthloom[ray]'" in str(info.value)


def test_the_command_line_says_so_too_before_making_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    recipe = write_recipe(tmp_path)
    out = tmp_path / "out"
    result = cli("run", recipe, "-o", out, "-n", "3", "--executor", "ray", check=1)
    assert "pip install 'synthloom[ray]'" in result.stderr
    assert not out.exists()
    result = cli("run", recipe, "-o", out, "-n", "3", "--executor", "nope", check=2)
    assert "nope" in result.stderr


def test_split_keeps_the_rows_in_order_and_near_equal() -> None:
    ranges = split(range(3, 103), 7)
    assert next(r.start for r in ranges) == 3
    assert ranges[-1].stop == 103
    assert all(a.stop == b.start for a, b in itertools.pairwise(ranges))
    assert max(map(len, ranges)) - min(map(len, ranges)) <= 1
