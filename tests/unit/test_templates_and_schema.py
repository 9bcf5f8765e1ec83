"""Templates (strict, sandboxed, hashed) and output schemas (built, parsed, validated)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synthloom import RecipeError
from synthloom.schema import OutputSchema
from synthloom.templates import PromptTemplate, load_template


def _error(field: str, cause: str) -> RecipeError:
    return RecipeError(cause, field=field)


def test_render_is_strict_about_undefined_names() -> None:
    template = PromptTemplate("Hi {{ name }} from {{ town }}", "t.j2")
    assert template.render({"name": "Ann", "town": "Leeds"}) == "Hi Ann from Leeds"
    with pytest.raises(RecipeError, match="'town' is undefined") as info:
        template.render({"name": "Ann"})
    assert info.value.file == "t.j2"


def test_the_sandbox_blocks_reaching_into_python_internals() -> None:
    template = PromptTemplate("{{ ''.__class__.__mro__[1].__subclasses__() }}", "t.j2")
    with pytest.raises(RecipeError, match="template failed"):
        template.render({})


def test_seed_text_is_data_not_template_code() -> None:
    template = PromptTemplate("Q: {{ q }}", "t.j2")
    assert template.render({"q": "{{ 7 * 7 }}"}) == "Q: {{ 7 * 7 }}"


def test_hash_is_stable_and_tracks_the_source() -> None:
    a, b = PromptTemplate("x {{ y }}", "a"), PromptTemplate("x {{ y }}", "b")
    assert a.hash == b.hash
    assert len(a.hash) == 16
    assert PromptTemplate("x {{ z }}", "a").hash != a.hash


def test_file_or_inline(tmp_path: Path) -> None:
    (tmp_path / "qa.j2").write_text("From file {{ x }}")
    from_file = load_template("qa.j2", tmp_path, "tasks[0].template", "r.yaml")
    assert from_file.origin == str(tmp_path / "qa.j2")
    assert from_file.render({"x": 1}) == "From file 1"
    inline = load_template("Inline {{ x }}", tmp_path, "tasks[0].template", "r.yaml")
    assert inline.origin == "r.yaml:tasks[0].template"
    assert inline.render({"x": 2}) == "Inline 2"


@pytest.fixture
def schema() -> OutputSchema:
    return OutputSchema.from_spec(
        {
            "question": "string",
            "answer": {"type": "string", "maxLength": 20},
            "tags": "list[string]",
            "urgent": "bool",
            "days": "int",
        },
        "tasks[0].schema",
        _error,
    )


def test_short_names_become_json_schema(schema: OutputSchema) -> None:
    js = schema.json_schema
    assert js["required"] == ["question", "answer", "tags", "urgent", "days"]
    assert js["additionalProperties"] is False
    assert js["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert js["properties"]["urgent"] == {"type": "boolean"}
    assert js["properties"]["days"] == {"type": "integer"}
    assert schema.fields == ["question", "answer", "tags", "urgent", "days"]


GOOD = '{"question": "Q?", "answer": "A.", "tags": ["x"], "urgent": false, "days": 3}'


@pytest.mark.parametrize(
    "text",
    [
        GOOD,
        f"```json\n{GOOD}\n```",
        f"Sure, here it is:\n{GOOD}\nHope that helps!",
        GOOD.replace("A.", "line one\nline two"),  # a raw newline inside a string
    ],
)
def test_parse_accepts_usable_replies(schema: OutputSchema, text: str) -> None:
    assert schema.parse(text)["question"] == "Q?"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("I cannot help with that.", "not valid JSON"),
        ('[{"question": "Q?"}]', "one JSON object"),
        (GOOD.replace('"days": 3', '"nights": 3'), "days"),
        (GOOD.replace('"days": 3', '"days": "three"'), "days: 'three' is not of type 'integer'"),
        (GOOD.replace("}", ', "extra": 1}'), "extra"),
        (GOOD.replace("A.", "A" * 30), "answer: "),
        ('{"question": "Q?", "answer": "A', "not valid JSON"),  # truncated
    ],
)
def test_parse_rejects_with_a_message_the_model_can_act_on(
    schema: OutputSchema, text: str, words: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        schema.parse(text)
