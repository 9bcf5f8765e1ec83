"""The openai backend's pure parts: request bodies, Retry-After, reply parsing, no key leaks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from synthloom import BackendError, GenerationRequest
from synthloom.backends.openai import OpenAIBackend, _completion, parse_retry_after

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def test_retry_after_seconds_and_http_dates() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 30


def test_body_steps_down_through_response_formats() -> None:
    backend = OpenAIBackend("http://127.0.0.1:1/v1/", "m")
    request = GenerationRequest(({"role": "user", "content": "hi"},), SCHEMA, 0.3, 0.9, 50, 7)
    body = backend._body(request)
    assert body["model"] == "m"
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (
        0.3,
        0.9,
        50,
        7,
    )
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    backend._format = 1
    assert backend._body(request)["response_format"] == {"type": "json_object", "schema": SCHEMA}
    backend._format = 2
    assert "response_format" not in backend._body(request)
    assert backend.base_urls == ["http://127.0.0.1:1/v1"]


def test_reply_parsing_and_malformed_bodies() -> None:
    good = (
        b'{"choices": [{"message": {"content": "{}"}, "finish_reason": "length"}],'
        b' "usage": {"prompt_tokens": 5, "completion_tokens": 2}}'
    )
    completion = _completion(good)
    assert (completion.text, completion.finish_reason) == ("{}", "length")
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 2)
    for bad in (b'{"choices": [{"mess', b"<html>502</html>", b'{"choices": []}', b"{}"):
        with pytest.raises(BackendError, match="malformed response body") as info:
            _completion(bad)
        assert info.value.retryable


def test_the_key_is_not_in_repr_or_errors() -> None:
    backend = OpenAIBackend("http://127.0.0.1:9/v1", "m", api_key="sk-secret-123")
    assert "sk-secret" not in repr(backend)
    request = GenerationRequest(({"role": "user", "content": "hi"},))
    with pytest.raises(BackendError) as info:  # requests are disabled in unit tests
        asyncio.run(backend.generate(request))
    assert "sk-secret" not in str(info.value)
