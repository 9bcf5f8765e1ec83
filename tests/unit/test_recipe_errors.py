"""Bad recipes, seeds and templates: one RecipeError naming file, field, line and cause."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from synthloom import RecipeError, load_recipe
from synthloom.pipeline import prepare
from synthloom.seeds import load_seeds
from tests.helpers import cli, write_recipe, write_seeds

BASE = """\
name: t
seeds: seeds.jsonl
target: 10
model:
  backend: fake
  temperature: 0.7
axes:
  persona: [a, b]
tasks:
  - kind: expand
    template: "Write one like {{ seed.question }} for {{ persona }}"
    schema: {question: string, answer: string}
"""


def _write(tmp_path: Path, text: str) -> Path:
    write_seeds(tmp_path / "seeds.jsonl")
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _prepare(path: Path) -> None:
    prepare(load_recipe(path), backend="fake", model_id="fake-1")


def test_the_base_recipe_is_valid(tmp_path: Path) -> None:
    _prepare(_write(tmp_path, BASE))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(tmp_path / "nope.yaml")
    assert info.value.file == str(tmp_path / "nope.yaml")
    assert info.value.cause == "file not found"


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("  temperature: 0.7", "  temperature: [0.7"))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.line is not None
    assert 6 <= info.value.line <= 8
    assert "invalid YAML" in info.value.cause


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="mapping"):
        load_recipe(_write(tmp_path, "- just\n- a list\n"))


def test_missing_required_field(tmp_path: Path) -> None:
    text = BASE.split("tasks:")[0]
    with pytest.raises(RecipeError) as info:
        load_recipe(_write(tmp_path, text))
    assert info.value.field == "tasks"
    assert info.value.cause == "required field is missing"


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("  temperature: 0.7", "  temprature: 0.7"))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    err = info.value
    assert (err.file, err.field, err.line) == (str(path), "model.temprature", 6)
    assert "did you mean 'temperature'" in err.cause
    assert str(err) == f"{path}:6: model.temprature: {err.cause}"


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "words"),
    [
        ("  temperature: 0.7", "  temperature: 5", "model.temperature", 6, "less than or equal"),
        ("target: 10", "target: many", "target", 3, "valid integer"),
        ("target: 10", "target: 0", "target", 3, "greater than or equal"),
        ("  backend: fake", "  backend: gpt", "model.backend", 5, "'embedded'"),
        (
            "  - kind: expand",
            "  - kind: nonsense",
            "tasks[0].kind",
            10,
            "unknown task kind 'nonsense'",
        ),
    ],
)
def test_bad_values_name_field_and_line(
    tmp_path: Path, old: str, new: str, field: str, line: int, words: str
) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(_write(tmp_path, BASE.replace(old, new)))
    assert (info.value.field, info.value.line) == (field, line)
    assert words in info.value.cause


@pytest.mark.parametrize(
    ("axes", "field", "words"),
    [
        ("  persona: {values: [a, b], weights: [1]}", "axes.persona.weights", "one weight per"),
        ("  persona: {values: [a, b], weights: [1, -2]}", "axes.persona.weights[1]", ">= 0"),
        ("  persona: {values: [a], weights: [0]}", "axes.persona.weights", "positive"),
        ("  persona: {depends_on: ghost, cases: {x: [1]}}", "axes.persona.depends_on", "ghost"),
        ("  persona: {min: 9, max: 1}", "axes.persona.min", "greater than max"),
        ("  persona: {values: [a], colour: red}", "axes.persona.colour", "unknown key"),
        ("  persona: 3", "axes.persona", "list of values"),
        ("  persona: {file: missing.txt}", "axes.persona.file", "not found"),
        ("  examples: [a, b]", "axes.examples", "reserved"),
    ],
)
def test_axis_errors_name_field_and_line(tmp_path: Path, axes: str, field: str, words: str) -> None:
    path = _write(tmp_path, BASE.replace("  persona: [a, b]", axes))
    with pytest.raises(RecipeError) as info:
        _prepare(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    assert info.value.line == 8
    assert words in info.value.cause


def test_dependency_cycle(tmp_path: Path) -> None:
    axes = (
        "  persona: [a, b]\n"
        "  x: {depends_on: y, cases: {a: [1]}}\n"
        "  y: {depends_on: x, cases: {a: [1]}}"
    )
    with pytest.raises(RecipeError, match="cycle: x -> y -> x"):
        _prepare(_write(tmp_path, BASE.replace("  persona: [a, b]", axes)))


def test_seed_file_errors(tmp_path: Path) -> None:
    seeds = tmp_path / "s.jsonl"
    seeds.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c", oops}\n')
    with pytest.raises(RecipeError) as info:
        load_seeds("s.jsonl", tmp_path)
    assert (info.value.file, info.value.line) == (str(seeds), 3)
    assert "invalid JSON" in info.value.cause

    seeds.write_text('{"id": "a"}\n{"id": "a"}\n')
    with pytest.raises(RecipeError, match="duplicate seed id 'a'") as info:
        load_seeds("s.jsonl", tmp_path)
    assert info.value.line == 2

    seeds.write_text("\n")
    with pytest.raises(RecipeError, match="no seeds"):
        load_seeds("s.jsonl", tmp_path)
    seeds.write_text("[1, 2]\n")
    with pytest.raises(RecipeError, match="JSON object"):
        load_seeds("s.jsonl", tmp_path)
    with pytest.raises(RecipeError, match="seed file not found"):
        load_seeds("missing.jsonl", tmp_path)
    (tmp_path / "s.txt").write_text("x")
    with pytest.raises(RecipeError, match="unsupported seed format"):
        load_seeds("s.txt", tmp_path)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(RecipeError, match="invalid Parquet"):
        load_seeds("bad.parquet", tmp_path)


def test_csv_and_parquet_seeds_load(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text('id,question\nq1,"Can I, really?"\nq2,Why?\n')
    csv_seeds = load_seeds("s.csv", tmp_path)
    assert [(s.id, s.fields) for s in csv_seeds] == [
        ("q1", {"question": "Can I, really?"}),
        ("q2", {"question": "Why?"}),
    ]
    (tmp_path / "bad.csv").write_text("id,question\nq1,a,extra\n")
    with pytest.raises(RecipeError, match="more cells than the header") as info:
        load_seeds("bad.csv", tmp_path)
    assert info.value.line == 2

    pq.write_table(
        pa.Table.from_pylist([{"question": "A?"}, {"question": "B?"}]), tmp_path / "s.parquet"
    )
    pq_seeds = load_seeds("s.parquet", tmp_path)
    assert [(s.id, s.fields["question"]) for s in pq_seeds] == [("seed-1", "A?"), ("seed-2", "B?")]


def test_template_undefined_name_is_found_before_any_call(tmp_path: Path) -> None:
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["tasks"][0]["template"] = "{{ seed.question }} in {{ mood }}"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError) as info:
        _prepare(path)
    assert "'mood' is undefined" in info.value.cause
    assert "persona" in info.value.cause  # the names that are available
    assert info.value.file is not None
    assert "tasks[0].template" in info.value.file


def test_a_seed_missing_a_field_the_template_uses_is_named(tmp_path: Path) -> None:
    path = write_recipe(tmp_path)
    with (tmp_path / "seeds.jsonl").open("a") as fh:
        fh.write('{"id": "odd-one", "question": "no topic here"}\n')
    with pytest.raises(RecipeError, match=r"\[rendering with seed 'odd-one'\]"):
        _prepare(path)


def test_template_file_syntax_error_has_its_line(tmp_path: Path) -> None:
    path = write_recipe(tmp_path)
    (tmp_path / "t.j2").write_text("line one\n{% for x in %}\n")
    raw = yaml.safe_load(path.read_text())
    raw["tasks"][0]["template"] = "t.j2"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError) as info:
        _prepare(path)
    assert (info.value.file, info.value.line) == (str(tmp_path / "t.j2"), 2)
    raw["tasks"][0]["template"] = "gone.j2"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError, match="template file not found"):
        _prepare(path)


@pytest.mark.parametrize(
    ("schema", "field", "words"),
    [
        ("{question: strnig}", "tasks[0].schema.question", "unknown type 'strnig'"),
        ("{question: {type: text}}", "tasks[0].schema.question.type", "is not valid"),
        ("{question: 3}", "tasks[0].schema.question", "a field type is"),
    ],
)
def test_schema_errors(tmp_path: Path, schema: str, field: str, words: str) -> None:
    path = _write(tmp_path, BASE.replace("{question: string, answer: string}", schema))
    with pytest.raises(RecipeError) as info:
        _prepare(path)
    assert info.value.field == field
    assert info.value.line == 12
    assert words in info.value.cause


def test_cli_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("  persona: [a, b]", "  persona: {min: 5, max: 1}"))
    out = tmp_path / "o"
    result = cli("run", str(path), "-o", str(out), "--dry-run")
    assert result.returncode == 2
    assert result.stderr == f"error: {path}:8: axes.persona.min: min (5) is greater than max (1)\n"
    assert not out.exists()
