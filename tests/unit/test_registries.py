"""One registry per extension point (task kinds, check families), the shared prompt-field
names, and the recipe boundary: a misspelt key is reported as unknown, not as a missing one,
and a recipe for ``check`` alone may leave out ``target`` and ``tasks``."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from synthloom import RecipeError, load_recipe
from synthloom.export.formats import PROMPT_NAMES, RESPONSE_NAMES, Roles
from synthloom.quality import embed
from synthloom.quality.gate import build_gate
from synthloom.quality.settings import QualitySettings
from synthloom.quality.steps import STEPS
from synthloom.seeds import Seed
from synthloom.tasks.base import Task, guess_field
from synthloom.tasks.registry import KINDS, TaskSpec
from tests.helpers import write_seeds

# ---------------------------------------------------------------------------------------------
# task kinds


@pytest.mark.parametrize("name", list(KINDS))
def test_each_kind_is_named_once_by_its_spec_and_runs_by_its_class(name: str) -> None:
    kind = KINDS[name]
    assert kind.spec.model_fields["kind"].default == name
    module, cls = kind.task.split(":")
    task = getattr(importlib.import_module(module), cls)
    assert issubclass(task, Task)
    assert task.kind == name


@pytest.mark.parametrize("name", list(KINDS))
def test_the_recipe_union_chooses_each_registered_spec_by_its_kind(name: str) -> None:
    """Validation errors come from the kind's own spec: the union was built from the registry."""
    with pytest.raises(ValidationError) as info:
        TypeAdapter(TaskSpec).validate_python({"kind": name, "no_such_key": 1})
    assert all(err["loc"][0] == name for err in info.value.errors())


def test_a_task_without_kind_is_an_expand_task() -> None:
    spec = TypeAdapter(TaskSpec).validate_python({"template": "t", "schema": {"q": "string"}})
    assert type(spec) is KINDS["expand"].spec


def test_an_unknown_kind_lists_every_registered_kind(tmp_path: Path) -> None:
    path = _recipe(tmp_path, "name: t\ntarget: 2\ntasks:\n  - kind: nonsense\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.field == "tasks[0].kind"
    assert info.value.cause.endswith(f"(choose from: {', '.join(KINDS)})")


# ---------------------------------------------------------------------------------------------
# check families


_EVERY_LEXICAL_CHECK = {
    "validators": {"min_chars": 1},
    "heuristics": {},
    "dedup": {"near": 0.9},
    "decontaminate": {"files": ["evals.jsonl"]},
    "privacy": {"pii": "redact"},
    "judge": {"criteria": {"useful": "useful"}},
    "grounding": {"against": "seeds"},
}


# relevance compares meanings: built with an encoder that is never loaded, and fixed thresholds
_RELEVANCE = {"prompt": "text", "response": "text", "min_answer_cosine": 0.1, "seed": False}


def test_the_funnel_order_is_the_registry_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embed, "require_embeddings", lambda purpose: None)
    real = embed.Embedder
    monkeypatch.setattr(embed, "Embedder", lambda lane: real(load=_unused, lane=lane))
    (tmp_path / "evals.jsonl").write_text('{"id": "e1", "text": "an eval item"}\n')
    every = {**_EVERY_LEXICAL_CHECK, "heuristics": {"relevance": _RELEVANCE}}
    gate = build_gate(
        QualitySettings.model_validate(every),
        [Seed("s1", {"text": "a seed"})],
        tmp_path,
        lambda field, cause: RecipeError(cause, field=field),
        ["text"],
    )
    assert gate is not None
    assert gate.steps == [step.name for step in STEPS]
    order = [[s.name for s in STEPS].index(c.name) for c in gate.checks]
    assert order == sorted(order)  # the checks run in the same order
    for check in gate.checks:  # every reason a check gives is counted under a listed step
        assert all(gate.step_of(reason) in gate.steps for reason in check.reasons)


def _unused() -> embed.Encoder:
    raise AssertionError("building the gate must not load the embedding model")


def test_step_names_are_unique_and_each_section_has_a_step() -> None:
    names = [step.name for step in STEPS]
    assert len(names) == len(set(names))
    sections = set(QualitySettings.model_fields) - {"fields"}
    assert sections <= set(names)  # privacy has two steps: pii first, seed copies later


def test_a_quality_section_with_only_fields_checks_nothing() -> None:
    assert not QualitySettings(fields=["text"]).enabled
    assert QualitySettings.model_validate({"judge": {"criteria": {"a": "b"}}}).enabled


# ---------------------------------------------------------------------------------------------
# prompt-field names, shared by tasks and export


def _no_error(cause: str) -> RecipeError:
    raise AssertionError(cause)


def test_tasks_and_export_find_the_prompt_by_the_same_names() -> None:
    assert {"scenario", "text"} <= set(PROMPT_NAMES)
    assert not set(PROMPT_NAMES) & set(RESPONSE_NAMES)
    assert guess_field(["scenario", "why_hard"], None, _no_error) == "scenario"
    assert guess_field(["id", "text"], None, _no_error) == "text"
    roles = Roles.resolve("t", {"fields": ["text", "summary", "answer"]})
    assert (roles.prompt, roles.response) == ("text", "answer")
    roles = Roles.resolve("t", {"fields": ["scenario", "why_hard", "response"]})
    assert (roles.prompt, roles.response) == ("scenario", "response")


# ---------------------------------------------------------------------------------------------
# the recipe boundary


_BASE = """\
name: t
seeds: seeds.jsonl
target: 10
model: {backend: fake}
tasks:
  - kind: expand
    template: "Write one like {{ seed.question }}"
    schema: {question: string, answer: string}
"""


def _recipe(folder: Path, text: str) -> Path:
    write_seeds(folder / "seeds.jsonl")
    path = folder / "recipe.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_a_misspelt_top_level_key_is_unknown_with_a_suggestion(tmp_path: Path) -> None:
    path = _recipe(tmp_path, _BASE.replace("target:", "targett:"))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value) == f"{path}:3: targett: unknown key (did you mean 'target'?)"


def test_a_misspelt_required_task_key_is_unknown_not_missing(tmp_path: Path) -> None:
    path = _recipe(tmp_path, _BASE.replace("    template:", "    templte:"))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value) == (
        f"{path}:7: tasks[0].templte: unknown key (did you mean 'template'?)"
    )


def test_a_recipe_for_check_needs_no_target_or_tasks(tmp_path: Path) -> None:
    path = _recipe(tmp_path, "name: t\nseeds: seeds.jsonl\nquality:\n  dedup: {}\n")
    recipe = load_recipe(path)
    assert recipe.target is None
    assert recipe.tasks == []
    with pytest.raises(RecipeError) as info:
        recipe.require_generation()
    assert (info.value.file, info.value.field, info.value.line) == (str(path), "target", 1)
    assert info.value.cause.startswith("required field is missing (synthloom run needs it")


@pytest.mark.parametrize(
    ("tasks", "cause"),
    [("", "required field is missing"), ("tasks: []\n", "needs at least one task")],
)
def test_generation_needs_tasks(tmp_path: Path, tasks: str, cause: str) -> None:
    recipe = load_recipe(_recipe(tmp_path, f"name: t\ntarget: 3\n{tasks}"))
    with pytest.raises(RecipeError) as info:
        recipe.require_generation()
    assert info.value.field == "tasks"
    assert info.value.cause.startswith(cause)


def test_a_full_recipe_can_generate(tmp_path: Path) -> None:
    load_recipe(_recipe(tmp_path, _BASE)).require_generation()
