"""Recipe, axis, seed, template and schema errors: exactly one RecipeError with file/field/line."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from synthloom.backends.openai import OpenAIBackend
from synthloom.backends.registry import make_backend
from synthloom.errors import RecipeError
from synthloom.pipeline import prepare
from synthloom.recipe import load_recipe
from synthloom.seeds import load_seeds
from tests.helpers import cli, write_recipe, write_seeds

# Line numbers: 1 name, 3 target, 6 temperature, 7 axes, 8 persona, 11 template, 12 schema.
BASE = textwrap.dedent(
    """\
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
)
PERSONA = "  persona: [a, b]\n"
TEMPLATE = '    template: "Write one like {{ seed.question }} for {{ persona }}"\n'
SCHEMA = "    schema: {question: string, answer: string}\n"


def _recipe(tmp_path: Path, text: str = BASE, *, axes: str = "", seeds: str | None = None) -> Path:
    """Write the recipe (extra axes appended after ``persona``, from line 9) and its seeds."""
    if seeds is None:
        write_seeds(tmp_path / "seeds.jsonl")
    else:
        (tmp_path / "seeds.jsonl").write_text(seeds)
    if axes:
        text = text.replace(PERSONA, PERSONA + textwrap.indent(textwrap.dedent(axes), "  "))
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def _raises(action: Callable[[], object]) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        action()
    err = info.value
    assert "\n" not in str(err)  # one error, one line
    return err


def _prepare(path: Path) -> RecipeError:
    return _raises(lambda: prepare(load_recipe(path), backend="fake", model_id="fake-1"))


def _where(err: RecipeError) -> tuple[str | None, str | None, int | None]:
    return err.file, err.field, err.line


def test_base_recipe_is_valid(tmp_path: Path) -> None:
    prepared = prepare(load_recipe(_recipe(tmp_path)), backend="fake", model_id="fake-1")
    assert [s.id for s in prepared.seeds] == [f"s{i:03d}" for i in range(12)]


def test_missing_file(tmp_path: Path) -> None:
    err = _raises(lambda: load_recipe(tmp_path / "nope.yaml"))
    assert _where(err) == (str(tmp_path / "nope.yaml"), None, None)
    assert err.cause == "file not found"


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.replace("target: 10", "target: 10: 11"))
    err = _raises(lambda: load_recipe(path))
    assert _where(err) == (str(path), None, 3)
    assert err.cause == "invalid YAML: mapping values are not allowed here"


def test_invalid_yaml_in_an_unclosed_flow_sequence_names_a_line_near_it(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.replace("  temperature: 0.7", "  temperature: [0.7"))
    err = _raises(lambda: load_recipe(path))
    assert (err.file, err.field) == (str(path), None)
    assert err.line is not None
    assert 6 <= err.line <= 8  # the scanner notices a few lines on
    assert err.cause.startswith("invalid YAML: ")


@pytest.mark.parametrize("text", ["- a\n- list\n", "just a string\n", "", "# only a comment\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = _recipe(tmp_path, text)
    err = _raises(lambda: load_recipe(path))
    assert _where(err) == (str(path), None, None)
    assert err.cause.startswith("a recipe must be a YAML mapping")


def test_missing_required_field(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.split("tasks:")[0])
    err = _prepare(path)
    assert _where(err) == (str(path), "tasks", 1)  # a missing key points at its parent
    assert err.cause.startswith("required field is missing")


@pytest.mark.parametrize(
    ("in_task", "misspelt", "meant", "field"),
    [
        pytest.param(False, "targett", "target", "targett", id="top-level"),
        pytest.param(True, "templte", "template", "tasks[0].templte", id="task"),
    ],
)
def test_misspelt_key_is_reported_as_unknown_not_missing(
    tmp_path: Path, in_task: bool, misspelt: str, meant: str, field: str
) -> None:
    """A misspelt required key is an unknown key with a suggestion, not a missing field."""
    path = write_recipe(tmp_path)
    raw = yaml.safe_load(path.read_text())
    keys = raw["tasks"][0] if in_task else raw
    keys[misspelt] = keys.pop(meant)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    message = str(_raises(lambda: load_recipe(path)))
    assert field in message
    assert "unknown key" in message
    assert f"did you mean '{meant}'" in message
    assert "required field is missing" not in message


def test_error_reads_file_line_field_cause(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.replace("  temperature:", "  temprature:"))
    err = _raises(lambda: load_recipe(path))
    assert str(err) == f"{path}:6: model.temprature: {err.cause}"


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "words"),
    [
        ("target: 10", "target: 0", "target", 3, "greater than or equal"),
        ("  backend: fake", "  backend: gpt", "model.backend", 5, "'embedded'"),
        ("  - kind: expand", "  - kind: nonsense", "tasks[0].kind", 10,
         "unknown task kind 'nonsense'"),
    ],
)  # fmt: skip
def test_bad_values_are_found_on_loading(
    tmp_path: Path, old: str, new: str, field: str, line: int, words: str
) -> None:
    path = _recipe(tmp_path, BASE.replace(old, new))
    err = _raises(lambda: load_recipe(path))
    assert _where(err) == (str(path), field, line)
    assert words in err.cause


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "cause"),
    [
        ("  temperature:", "  temprature:", "model.temprature", 6,
         "unknown key (did you mean 'temperature'?)"),
        ("  backend: fake", "  backend: fake\n  max_token: 9", "model.max_token", 6,
         "unknown key (did you mean 'max_tokens'?)"),
        ("0.7", "5", "model.temperature", 6, "Input should be less than or equal to 2 (got 5)"),
        ("target: 10", "target: lots", "target", 3,
         "Input should be a valid integer, unable to parse string as an integer (got 'lots')"),
        (SCHEMA, SCHEMA + "    few_shot: 0\n", "tasks[0].few_shot", 13,
         "Input should be greater than or equal to 1 (got 0)"),
        (SCHEMA, SCHEMA + "    prompt_field: qestion\n", "tasks[0].prompt_field", 13,
         "'qestion' is not a schema field"),
    ],
)  # fmt: skip
def test_field_errors(
    tmp_path: Path, old: str, new: str, field: str, line: int, cause: str
) -> None:
    assert old in BASE
    path = _recipe(tmp_path, BASE.replace(old, new))
    err = _prepare(path)
    assert _where(err) == (str(path), field, line)
    assert err.cause == cause


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "cause"),
    [
        ("axes:", "axis:", "axis", 7, "unknown key (did you mean 'axes'?)"),
        ("backend: fake", "backend: openai", "model", 4, "backend 'openai' needs base_url"),
    ],
)
def test_error_on_a_block_mapping_names_its_key_line(
    tmp_path: Path, old: str, new: str, field: str, line: int, cause: str
) -> None:
    path = _recipe(tmp_path, BASE.replace(old, new))
    err = _prepare(path)
    assert (err.field, err.cause[: len(cause)]) == (field, cause)
    assert err.line == line  # reported: line + 1, the first line of the block below the key


def _openai(base_url: str) -> str:
    """BASE on the openai backend, with ``base_url`` from line 7."""
    return BASE.replace(
        "  backend: fake\n", f"  backend: openai\n  model: m\n  base_url:{base_url}\n"
    )


def test_base_url_may_list_several_servers(tmp_path: Path) -> None:
    urls = "\n    - http://10.0.0.1:8000/v1\n    - https://10.0.0.2:8000/v1/"
    recipe = load_recipe(_recipe(tmp_path, _openai(urls)))
    assert recipe.model.base_urls == ["http://10.0.0.1:8000/v1", "https://10.0.0.2:8000/v1/"]
    backend = make_backend(recipe)
    assert isinstance(backend, OpenAIBackend)
    assert backend.base_urls == ["http://10.0.0.1:8000/v1", "https://10.0.0.2:8000/v1"]
    one = load_recipe(_recipe(tmp_path, _openai(" http://10.0.0.1:8000/v1")))
    assert one.model.base_urls == ["http://10.0.0.1:8000/v1"]


@pytest.mark.parametrize(
    ("base_url", "field", "line", "cause"),
    [
        (" []", "model.base_url", 7, "give at least one URL (got [])"),
        (" localhost:8000/v1", "model.base_url", 7,
         "not an http(s):// URL, e.g. http://127.0.0.1:8000/v1 (got 'localhost:8000/v1')"),
        ("\n    - http://a:1/v1\n    - a:1/v1", "model.base_url[1]", 9,
         "not an http(s):// URL, e.g. http://127.0.0.1:8000/v1 (got 'a:1/v1')"),
        (" [http://a:1/v1, 'http://a:1/v1/']", "model.base_url", 7,
         "give each URL once (repeated: http://a:1/v1) (got ['http://a:1/v1', 'http://a:1/v1/'])"),
        (" [http://a:1/v1, 3]", "model.base_url[1]", 7, "Input should be a valid string (got 3)"),
    ],
)  # fmt: skip
def test_base_url_errors_name_the_field_or_item(
    tmp_path: Path, base_url: str, field: str, line: int, cause: str
) -> None:
    path = _recipe(tmp_path, _openai(base_url))
    err = _raises(lambda: load_recipe(path))
    assert _where(err) == (str(path), field, line)
    assert err.cause == cause


@pytest.mark.parametrize(
    ("axes", "field", "line", "cause"),
    [
        ("style:\n  values: [terse, long]\n  weights: [1]\n",
         "axes.style.weights", 11, "needs one weight per value (2)"),
        ("style:\n  values: [terse, long]\n  weights:\n    - 1\n    - -2\n",
         "axes.style.weights[1]", 13, "weights must be finite numbers >= 0 (got -2)"),
        ("style:\n  values: [terse, long]\n  weights: [0, 0]\n",
         "axes.style.weights", 11, "at least one weight must be positive"),
        ("aid:\n  depends_on: age\n  cases:\n    a: [cane]\n",
         "axes.aid.depends_on", 10, "no axis named 'age'"),
        ("x:\n  depends_on: y\n  cases: {p: [a]}\ny:\n  depends_on: x\n  cases: {a: [p]}\n",
         "axes.x.depends_on", 10, "cycle: x -> y -> x"),
        ("days:\n  min: 9\n  max: 2\n",
         "axes.days.min", 10, "min (9) is greater than max (2)"),
        ("days: {min: 1, max: ten}\n",
         "axes.days", 9, "a numeric axis needs numbers for both min and max"),
        ("style:\n  values: [a, b]\n  wieghts: [1, 2]\n",
         "axes.style.wieghts", 11, "unknown key here (allowed: values, weights)"),
        ("style: {valuse: [a, b]}\n",
         "axes.style", 9, "an axis needs one of: values, file, min/max, depends_on"),
        ("style: 3\n", "axes.style", 9,
         "an axis is a list of values or a mapping (values/file/min+max/depends_on)"),
        ("style:\n  file: missing.txt\n", "axes.style.file", 10,
         "file not found: {base}/missing.txt"),
        ("examples: [a, b]\n", "axes.examples", 9, "'examples' is reserved for templates"),
    ],
)  # fmt: skip
def test_axis_errors_carry_recipe_file_and_line(
    tmp_path: Path, axes: str, field: str, line: int, cause: str
) -> None:
    path = _recipe(tmp_path, axes=axes)
    err = _prepare(path)
    assert _where(err) == (str(path), field, line)
    assert err.cause == cause.format(base=tmp_path)


@pytest.mark.parametrize(
    ("axis", "field", "words"),
    [
        ("{values: [a, b], weights: [1]}", "axes.persona.weights", "one weight per value"),
        ("{values: [a, b], weights: [1, -2]}", "axes.persona.weights[1]", ">= 0 (got -2)"),
        ("{values: [a], weights: [0]}", "axes.persona.weights", "must be positive"),
        ("{depends_on: ghost, cases: {x: [1]}}", "axes.persona.depends_on", "'ghost'"),
        ("{min: 9, max: 1}", "axes.persona.min", "greater than max"),
        ("{values: [a], colour: red}", "axes.persona.colour", "unknown key"),
        ("{file: missing.txt}", "axes.persona.file", "not found"),
    ],
)
def test_axis_errors_inside_a_flow_mapping_name_its_line(
    tmp_path: Path, axis: str, field: str, words: str
) -> None:
    path = _recipe(tmp_path, BASE.replace(PERSONA, f"  persona: {axis}\n"))
    err = _prepare(path)
    assert _where(err) == (str(path), field, 8)  # the line of the one-line mapping
    assert words in err.cause


@pytest.mark.parametrize(
    ("text", "axes", "file", "field"),
    [
        pytest.param(BASE.replace("name: t", "name: t\x07"), "", "", None, id="unprintable"),
        pytest.param(BASE, "days: {min: 1, max: 5, decimals: two}\n", "", "axes.days.decimals",
                     id="decimals"),
        pytest.param(BASE, "style: {values: [a, b], weights: [1, .inf]}\n", "",
                     "axes.style.weights[1]", id="inf-weight"),
        pytest.param(BASE.replace("seed.question", "seed.question + 1"), "", ":tasks[0].template",
                     None, id="template-type-error"),
    ],
)  # fmt: skip
def test_bad_input_is_never_a_crash(
    tmp_path: Path, text: str, axes: str, file: str, field: str | None
) -> None:
    path = _recipe(tmp_path, text, axes=axes)
    err = _prepare(path)
    assert (err.file, err.field) == (f"{path}{file}", field)


def _seed_error(tmp_path: Path, name: str, content: str | None) -> RecipeError:
    path = _recipe(tmp_path, BASE.replace("seeds.jsonl", name))
    if content is not None:
        (tmp_path / name).write_text(content)
    return _prepare(path)


@pytest.mark.parametrize(
    ("name", "content", "line", "cause"),
    [
        ("nope.jsonl", None, None, "seed file not found"),
        ("s.jsonl", '{"id": "a"}\n{"id": "b"}\n{"id": "c", "topic": }\n', 3, "invalid JSON: "),
        ("s.jsonl", '{"id": "a"}\n[1, 2]\n', 2, "each line must be a JSON object"),
        ("s.jsonl", '{"id": "a"}\n{"id": "b"}\n{"id": "a"}\n', 3,
         "duplicate seed id 'a' (first on line 1)"),
        ("s.jsonl", "", None, "no seeds: the file holds no rows"),
        ("s.jsonl", "\n  \n", None, "no seeds: the file holds no rows"),
        ("s.csv", "id,question\n", None, "no seeds: the file holds no rows"),
        ("s.csv", "id,question\na,q?\nb,q?,extra\n", 3, "row has more cells than the header"),
        ("s.txt", "a\n", None, "unsupported seed format '.txt' (use .jsonl, .csv or .parquet)"),
        ("s.parquet", "not parquet", None, "invalid Parquet: "),
    ],
)  # fmt: skip
def test_seed_file_errors(
    tmp_path: Path, name: str, content: str | None, line: int | None, cause: str
) -> None:
    err = _seed_error(tmp_path, name, content)
    assert _where(err) == (str(tmp_path / name), None, line)
    if cause.endswith(": "):  # the decoder's own wording follows, and varies across versions
        assert err.cause.startswith(cause)
        assert len(err.cause) > len(cause)
    else:
        assert err.cause == cause


def test_duplicate_seed_id_in_csv_names_the_file_line(tmp_path: Path) -> None:
    err = _seed_error(tmp_path, "s.csv", "id,question\na,q1?\na,q2?\n")
    assert err.line == 3  # header on line 1, the second 'a' on line 3


def test_csv_seeds_load(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text('id,topic,question\nc1,pain,"Is it, ok?"\nc2,diet,Soup?\n')
    seeds = load_seeds("s.csv", tmp_path)
    assert [(s.id, s.fields) for s in seeds] == [
        ("c1", {"topic": "pain", "question": "Is it, ok?"}),
        ("c2", {"topic": "diet", "question": "Soup?"}),
    ]
    path = _recipe(tmp_path, BASE.replace("seeds.jsonl", "s.csv"))
    assert len(prepare(load_recipe(path), backend="fake", model_id="fake-1").seeds) == 2


def test_parquet_seeds_load(tmp_path: Path) -> None:
    table = pa.table({"id": [1, 2, 3], "question": ["q1?", "q2?", None], "score": [0.5, None, 2.0]})
    pq.write_table(table, tmp_path / "s.parquet")
    seeds = load_seeds(str(tmp_path / "s.parquet"), tmp_path / "elsewhere")
    assert [(s.id, s.fields) for s in seeds] == [
        ("1", {"question": "q1?", "score": 0.5}),
        ("2", {"question": "q2?"}),
        ("3", {"score": 2.0}),  # nulls are dropped, the id becomes a string
    ]


def test_parquet_seeds_without_an_id_column_are_numbered(tmp_path: Path) -> None:
    table = pa.Table.from_pylist([{"question": "A?"}, {"question": "B?"}])
    pq.write_table(table, tmp_path / "s.parquet")
    seeds = load_seeds("s.parquet", tmp_path)
    assert [(s.id, s.fields) for s in seeds] == [
        ("seed-1", {"question": "A?"}),
        ("seed-2", {"question": "B?"}),
    ]


def test_template_file_syntax_error_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "p.j2").write_text("Line one {{ persona }}\nline two\n{% for x in %}\n")
    path = _recipe(tmp_path, BASE.replace(TEMPLATE, "    template: p.j2\n"))
    err = _prepare(path)
    assert _where(err) == (str(tmp_path / "p.j2"), None, 3)
    assert (
        err.cause == "template syntax error: Expected an expression, got 'end of statement block'"
    )


def test_inline_template_syntax_error(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.replace("{{ seed.question }}", "{{ seed.question }"))
    err = _prepare(path)
    # inline templates are named "<recipe>:<field>" and the line is inside the template
    assert _where(err) == (f"{path}:tasks[0].template", None, 1)
    assert err.cause == "template syntax error: unexpected '}'"


def test_template_file_not_found(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.replace(TEMPLATE, "    template: missing.j2\n"))
    err = _prepare(path)
    assert _where(err) == (str(path), "tasks[0].template", None)
    assert err.cause == f"template file not found: {tmp_path / 'missing.j2'}"


def test_undefined_seed_field_names_the_field_and_the_seed(tmp_path: Path) -> None:
    rows = [{"id": f"s{i}", "question": "q?", "surgery": "hip"} for i in range(4)]
    rows.insert(2, {"id": "no-surgery", "question": "q?"})
    seeds = "".join(json.dumps(r) + "\n" for r in rows)
    path = _recipe(tmp_path, BASE.replace("seed.question", "seed.surgery"), seeds=seeds)
    err = _prepare(path)
    assert _where(err) == (f"{path}:tasks[0].template", None, None)
    assert "'dict object' has no attribute 'surgery'" in err.cause
    assert err.cause.endswith("[rendering with seed 'no-surgery']")


def test_undefined_variable_is_named_before_any_call(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.replace("{{ persona }}", "{{ persnoa }}"))
    err = _prepare(path)
    assert _where(err) == (f"{path}:tasks[0].template", None, None)
    assert err.cause.startswith("template uses an undefined name: 'persnoa' is undefined")
    assert "(available: axes, examples, fields, item, persona, row, schema_json, seed)" in err.cause


@pytest.mark.parametrize(
    ("schema", "field", "cause"),
    [
        ("{question: string, answer: strang}", "tasks[0].schema.answer",
         "unknown type 'strang' (use string, integer, number, boolean, list[T])"),
        ("{question: string, answer: {type: strung}}", "tasks[0].schema.answer.type",
         "'strung' is not valid under any of the given schemas"),
        ("{question: string, answer: {type: string, maxLength: -1}}",
         "tasks[0].schema.answer.maxLength", "-1 is less than the minimum of 0"),
        ("{question: string, answer: 3}", "tasks[0].schema.answer",
         "a field type is a name (string, integer, ...) or a JSON Schema mapping"),
    ],
)  # fmt: skip
def test_schema_errors(tmp_path: Path, schema: str, field: str, cause: str) -> None:
    path = _recipe(tmp_path, BASE.replace("{question: string, answer: string}", schema))
    err = _prepare(path)
    assert _where(err) == (str(path), field, 12)
    assert err.cause == cause


def test_cli_reports_one_line_and_exits_2_before_any_output(tmp_path: Path) -> None:
    path = _recipe(tmp_path, BASE.replace("  temperature:", "  temprature:"))
    out = tmp_path / "o"
    result = cli("run", path, "-o", out, "--dry-run", check=2)
    assert result.stderr == (
        f"error: {path}:6: model.temprature: unknown key (did you mean 'temperature'?)\n"
    )
    assert result.stdout == ""
    assert not out.exists()
