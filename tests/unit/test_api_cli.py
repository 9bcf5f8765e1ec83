"""The Python API mirrors the CLI; estimate calls no model; the CLI prints progress + summary."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import synthloom
from synthloom import ExpandSpec, FakeBackend, ModelSettings, Recipe
from synthloom.estimate import count_tokens
from synthloom.pipeline import prepare
from tests.helpers import cli, read_jsonl, write_recipe


def test_a_recipe_built_from_python_objects_runs(tmp_path: Path) -> None:
    recipe = Recipe(
        name="py-api",
        seeds=[{"id": "a", "q": "Can I drive?"}, {"id": "b", "q": "Can I swim?"}],
        target=6,
        model=ModelSettings(backend="fake"),
        axes={"tone": ["calm", "urgent"]},
        tasks=[
            ExpandSpec(
                template="Like '{{ seed.q }}', in a {{ tone }} tone.",
                schema={"instruction": "string", "output": "string"},
                few_shot=1,
            )
        ],
    )
    summary = synthloom.run(recipe, tmp_path / "out")
    assert summary.accepted == 6
    rows = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert {r["provenance"]["seed_ids"][0] for r in rows} == {"a", "b"}
    assert synthloom.export(tmp_path / "out", "alpaca", tmp_path / "a.jsonl").rows == 6


def test_public_api_is_curated() -> None:
    for name in synthloom.__all__:
        assert hasattr(synthloom, name), name
    assert {"run", "estimate", "export", "load_recipe", "Recipe", "Backend"} <= set(
        synthloom.__all__
    )


def test_estimate_counts_rendered_prompts_and_prices(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, model={"prices": {"input": 1.0, "output": 2.0}, "max_reasks": 1})
    est = synthloom.estimate(path, n=7)
    recipe = synthloom.load_recipe(path)
    prepared = prepare(recipe, backend="fake", model_id="fake-1")
    expected_prompt = sum(
        count_tokens(m["content"])
        for row in prepared.planner.rows(7)
        for m in prepared.tasks[0].job(row).first.messages
    )
    assert est.rows == 7
    assert est.calls == 7
    assert est.worst_case_calls == 14
    assert est.prompt_tokens == expected_prompt
    assert est.completion_tokens > 0
    assert est.cost == pytest.approx((est.prompt_tokens * 1.0 + est.completion_tokens * 2.0) / 1e6)
    assert est.worst_case_tokens > est.prompt_tokens + est.completion_tokens
    assert est.worst_case_cost is not None
    assert est.worst_case_cost > est.cost
    assert math.isclose(count_tokens("abcd" * 10), 10)


def test_estimate_calls_no_model(tmp_path: Path) -> None:
    # model requests are disabled in unit tests: an embedded recipe would raise if it called
    path = write_recipe(tmp_path, model={"backend": "embedded"})
    assert synthloom.estimate(path, n=3).calls == 3


def test_run_fails_cleanly_on_a_real_backend_in_unit_tests(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, model={"backend": "embedded", "max_retries": 0})
    summary = synthloom.run(path, tmp_path / "out", n=2)
    assert summary.failed == {"BackendError": 2}
    assert "disabled" in read_jsonl(tmp_path / "out" / "rejected.jsonl")[0]["error"]


def test_cli_dry_run_prints_progress_and_summary(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, model={"backend": "embedded"})
    result = cli("run", path, "-o", tmp_path / "out", "-n", "9", "--dry-run", check=0)
    assert "9/9" in result.stderr  # the progress bar
    assert "accepted" in result.stdout
    assert "wall time" in result.stdout
    rows = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert len(rows) == 9
    assert rows[0]["provenance"]["backend"] == "fake"

    again = cli("run", path, "-o", tmp_path / "out", "-n", "9", "--dry-run", check=0)
    assert "resuming, 9 rows already done" in again.stderr
    assert "0 (+0 from cache)" in again.stdout


def test_cli_estimate(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, model={"prices": {"input": 0.5, "output": 1.5}})
    result = cli("estimate", path, "-n", "40", check=0)
    assert "model calls" in result.stdout
    assert "$" in result.stdout
    assert not (tmp_path / "out").exists()


def test_fake_backend_output_is_deterministic_and_schema_valid(tmp_path: Path) -> None:
    path = write_recipe(tmp_path)
    a = synthloom.run(path, tmp_path / "a", n=5, backend=FakeBackend())
    b = synthloom.run(path, tmp_path / "b", n=5, backend=FakeBackend())
    assert a.accepted == b.accepted == 5
    data_a = [r["data"] for r in read_jsonl(tmp_path / "a" / "dataset.jsonl")]
    data_b = [r["data"] for r in read_jsonl(tmp_path / "b" / "dataset.jsonl")]
    assert data_a == data_b
    assert len({d["question"] for d in data_a}) == 5
