"""Prompt templates (strict, sandboxed, hashed) and output schemas (short types, reply parsing)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from synthloom.errors import RecipeError
from synthloom.schema import OutputSchema
from synthloom.templates import PromptTemplate, load_template


def _error(field: str, cause: str) -> RecipeError:
    return RecipeError(cause, file="recipe.yaml", field=field)


# ---------------------------------------------------------------- templates


def test_render_fills_names_and_strips() -> None:
    template = PromptTemplate("\n  Hi {{ name }} ({{ seed.topic }})  \n", "origin")
    assert template.render({"name": "Ann", "seed": {"topic": "pain"}}) == "Hi Ann (pain)"


def test_undefined_name_raises_recipe_error() -> None:
    template = PromptTemplate("Hi {{ name }}", "prompts/x.j2")
    with pytest.raises(RecipeError) as info:
        template.render({"other": 1, "seed": {}})
    err = info.value
    assert (err.file, err.field, err.line) == ("prompts/x.j2", None, None)
    assert (
        err.cause == "template uses an undefined name: 'name' is undefined (available: other, seed)"
    )


def test_undefined_attribute_raises_recipe_error() -> None:
    template = PromptTemplate("About {{ seed.surgery }}", "o")
    with pytest.raises(RecipeError, match="has no attribute 'surgery'"):
        template.render({"seed": {"topic": "pain"}})


def test_strict_undefined_also_inside_conditions_and_loops() -> None:
    with pytest.raises(RecipeError, match="'missing' is undefined"):
        PromptTemplate("{% for x in missing %}{{ x }}{% endfor %}", "o").render({})


def test_seed_text_is_data_not_template_code() -> None:
    template = PromptTemplate("Q: {{ q }}", "o")
    assert template.render({"q": "{{ 7 * 7 }}"}) == "Q: {{ 7 * 7 }}"


@pytest.mark.parametrize(
    ("source", "blocked"),
    [
        ("{{ ''.__class__.__mro__ }}", "'__class__' of 'str' object"),
        ("{{ [].__class__.__base__.__subclasses__() }}", "'__class__' of 'list' object"),
        ("{{ cycler.__init__.__globals__ }}", "'__init__' of 'type' object"),
    ],
)
def test_sandbox_blocks_dunder_access(source: str, blocked: str) -> None:
    template = PromptTemplate(source, "o")
    with pytest.raises(RecipeError) as info:
        template.render({"cycler": dict})
    err = info.value
    assert err.file == "o"
    assert err.cause == f"template failed: access to attribute {blocked} is unsafe."
    assert "<class" not in str(err)  # nothing of the object graph leaks into the message
    assert "subclasses" not in err.cause


def test_syntax_error_names_the_template_line() -> None:
    with pytest.raises(RecipeError) as info:
        PromptTemplate("line one\n{{ ok }}\n{% if %}\n", "prompts/x.j2")
    err = info.value
    assert (err.file, err.field, err.line) == ("prompts/x.j2", None, 3)
    assert err.cause.startswith("template syntax error: ")


def test_hash_is_stable_and_follows_the_source() -> None:
    a = PromptTemplate("Write about {{ topic }}", "a")
    b = PromptTemplate("Write about {{ topic }}", "b")  # origin does not matter
    c = PromptTemplate("Write about {{ topic }} ", "a")  # one space more does
    assert a.hash == b.hash
    assert a.hash != c.hash
    assert len(a.hash) == 16
    assert a.hash == hashlib.sha256(b"Write about {{ topic }}").hexdigest()[:16]


@pytest.mark.parametrize("suffix", [".j2", ".jinja", ".jinja2", ".txt", ".md", ".tmpl"])
def test_load_template_reads_a_file(tmp_path: Path, suffix: str) -> None:
    (tmp_path / "prompts").mkdir()
    path = tmp_path / "prompts" / f"qa{suffix}"
    path.write_text("From file: {{ x }}\n")
    template = load_template(f"prompts/qa{suffix}", tmp_path, "tasks[0].template", "r.yaml")
    assert template.origin == str(path)
    assert template.source == "From file: {{ x }}\n"
    assert template.render({"x": 1}) == "From file: 1"
    absolute = load_template(f"  {path}  ", Path("/nonexistent"), "f", "r.yaml")
    assert absolute.origin == str(path)


@pytest.mark.parametrize(
    "value",
    ["Write about {{ topic }}", "prompts/qa.j2\nand more text", "Reply in JSON, see notes"],
)
def test_load_template_inline(tmp_path: Path, value: str) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "qa.j2").write_text("FROM FILE")
    template = load_template(value, tmp_path, "tasks[1].system", "r.yaml")
    assert template.origin == "r.yaml:tasks[1].system"
    assert template.source == value


def test_load_template_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as info:
        load_template("prompts/nope.j2", tmp_path, "tasks[0].template", "r.yaml")
    err = info.value
    assert (err.file, err.field, err.line) == ("r.yaml", "tasks[0].template", None)
    assert err.cause == f"template file not found: {tmp_path / 'prompts' / 'nope.j2'}"


# ---------------------------------------------------------------- schema


def test_from_spec_builds_a_closed_object() -> None:
    spec = {
        "question": "string",
        "n": "int",
        "score": "Float",
        "ok": "bool",
        "tags": "list[string]",
        "ids": "integer[]",
        "answer": {"type": "string", "maxLength": 20},
    }
    schema = OutputSchema.from_spec(spec, "tasks[0].schema", _error)
    assert schema.json_schema == {
        "type": "object",
        "properties": {
            "question": {"type": "string"},
            "n": {"type": "integer"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "ids": {"type": "array", "items": {"type": "integer"}},
            "answer": {"type": "string", "maxLength": 20},
        },
        "required": ["question", "n", "score", "ok", "tags", "ids", "answer"],
        "additionalProperties": False,
    }
    assert schema.fields == list(spec)


@pytest.mark.parametrize(
    ("spec", "field", "cause"),
    [
        ({"q": "strnig"}, "s.q", "unknown type 'strnig'"),
        ({"q": "list[thing]"}, "s.q", "unknown type 'list[thing]'"),
        ({"q": 3}, "s.q", "a field type is a name"),
        ({"q": {"type": "strung"}}, "s.q.type", "'strung' is not valid under any of the given"),
        ({"q": {"type": "string", "minLength": "5"}}, "s.q.minLength", "'5' is not of type"),
    ],
)
def test_from_spec_errors(spec: dict[str, object], field: str, cause: str) -> None:
    with pytest.raises(RecipeError) as info:
        OutputSchema.from_spec(spec, "s", _error)
    assert (info.value.file, info.value.field) == ("recipe.yaml", field)
    assert info.value.cause.startswith(cause)


@pytest.fixture
def qa() -> OutputSchema:
    spec = {
        "question": {"type": "string", "maxLength": 30},
        "answer": "string",
        "n": "integer",
    }
    return OutputSchema.from_spec(spec, "s", _error)


GOOD = {"question": "Can I shower?", "answer": "Yes, after 48 hours.", "n": 2}
GOOD_JSON = json.dumps(GOOD)


@pytest.mark.parametrize(
    "text",
    [
        GOOD_JSON,
        f"  {GOOD_JSON}\n",
        f"```json\n{GOOD_JSON}\n```",
        f"```\n{GOOD_JSON}\n```",
        f"Sure! Here is the example:\n{GOOD_JSON}\nHope this helps.",
        f"```json\n{GOOD_JSON}\n```\nAnything else?",
    ],
)
def test_parse_accepts(qa: OutputSchema, text: str) -> None:
    assert qa.parse(text) == GOOD


def test_parse_accepts_raw_newline_in_a_string(qa: OutputSchema) -> None:
    text = '{"question": "Can I shower?", "answer": "Yes.\nAfter 48 hours.", "n": 2}'
    assert qa.parse(text)["answer"] == "Yes.\nAfter 48 hours."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("I cannot answer that.", "the reply is not valid JSON"),
        ('{"question": "Can I shower?", "answer": ', "the reply is not valid JSON"),
        (json.dumps([GOOD]), "the reply must be one JSON object"),
        ('"just a string"', "the reply must be one JSON object"),
        (json.dumps({"question": "Can I shower?", "n": 2}),
         "object: 'answer' is a required property"),
        (json.dumps({**GOOD, "n": "two"}), "n: 'two' is not of type 'integer'"),
        (json.dumps({**GOOD, "n": 2.5}), "n: 2.5 is not of type 'integer'"),
        (json.dumps({**GOOD, "extra": 1}),
         "object: Additional properties are not allowed ('extra' was unexpected)"),
        (json.dumps({**GOOD, "question": "x" * 31}), f"question: '{'x' * 31}' is too long"),
    ],
)  # fmt: skip
def test_parse_rejects(qa: OutputSchema, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$") as info:
        qa.parse(text)
    assert not isinstance(info.value, RecipeError)  # a re-ask message, not a recipe problem


def test_too_long_message_survives_a_long_value() -> None:
    schema = OutputSchema.from_spec({"answer": {"type": "string", "maxLength": 800}}, "s", _error)
    with pytest.raises(ValueError, match="answer") as info:
        schema.parse(json.dumps({"answer": "y" * 900}))
    assert "too long" in str(info.value)
