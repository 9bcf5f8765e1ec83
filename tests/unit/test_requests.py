"""Raw-completion requests, the grammar the embedded backend compiles from a schema, and
what counts as a usable text field."""

from __future__ import annotations

import pytest

from synthloom.backends.base import GenerationRequest
from synthloom.backends.embedded import MAX_GRAMMAR_REPEAT, grammar_schema
from synthloom.schema import OutputSchema


def test_chat_payload_keys_are_unchanged_by_the_raw_fields() -> None:
    chat = GenerationRequest(messages=({"role": "user", "content": "hi"},), seed=3)
    assert set(chat.payload()) == {
        "messages",
        "json_schema",
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
    }
    assert "prompt" not in chat.chat_arguments()
    assert chat.chat_arguments()["messages"] == [{"role": "user", "content": "hi"}]


def test_raw_request_sends_the_prompt_and_stop_and_keys_the_cache_on_them() -> None:
    raw = GenerationRequest(messages=(), prompt="<|im_start|>user\n", stop=("<|im_end|>",))
    args = raw.chat_arguments()
    assert args["prompt"] == "<|im_start|>user\n"
    assert args["stop"] == ["<|im_end|>"]
    assert "messages" not in args
    other = GenerationRequest(messages=(), prompt="<|im_start|>user\n", stop=("</s>",))
    assert raw.payload() != other.payload()
    assert raw.is_raw
    assert raw.prompt_text() == "<|im_start|>user\n"


def test_grammar_schema_drops_only_bounds_llama_cpp_cannot_unroll() -> None:
    schema = {
        "type": "object",
        "properties": {
            "short": {"type": "string", "minLength": 2, "maxLength": MAX_GRAMMAR_REPEAT},
            "long": {"type": "string", "minLength": 2000, "maxLength": 4000},
            "items": {"type": "array", "items": {"type": "string", "maxLength": 1500}},
        },
    }
    out = grammar_schema(schema)
    assert out["properties"]["short"] == {
        "type": "string",
        "minLength": 2,
        "maxLength": MAX_GRAMMAR_REPEAT,
    }
    assert out["properties"]["long"] == {"type": "string", "minLength": MAX_GRAMMAR_REPEAT}
    assert out["properties"]["items"]["items"] == {"type": "string"}
    assert schema["properties"]["long"]["maxLength"] == 4000  # the original is untouched


def test_a_whitespace_only_required_text_is_reasked_not_accepted() -> None:
    schema = OutputSchema(
        {
            "type": "object",
            "properties": {
                "output": {"type": "string", "minLength": 1},
                "input": {"type": "string", "minLength": 0},
            },
        }
    )
    assert schema.parse('{"output": "ok", "input": " "}') == {"output": "ok", "input": " "}
    with pytest.raises(ValueError, match="output: must not be blank"):
        schema.parse('{"output": "  \\n", "input": ""}')
