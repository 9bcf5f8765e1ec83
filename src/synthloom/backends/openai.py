"""Any OpenAI-compatible chat-completions server: vLLM, Ollama, llama.cpp server, hosted APIs.

aiohttp is the transport: measured against a 50 ms server at 64 connections it sustained about
twice the request rate of httpx at a fraction of the CPU per request. The API key is read from
the environment by the registry and lives only in a request header: never in an error
message, a log line, a cache key or the store. Several base URLs (replicas of one model on one
kind of server: the response_format step-down is shared) use one session and one key;
:mod:`synthloom.backends.endpoints` picks the URL for each call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from synthloom.backends.base import (
    Backend,
    Completion,
    GenerationRequest,
    Usage,
    check_model_requests_allowed,
)
from synthloom.backends.endpoints import Endpoints, Outcome, display_url
from synthloom.errors import BackendError, MissingDependencyError

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _FormatRejected(BackendError):
    """The server refused the way the schema was asked for: the request's form, not a fault of
    the server, so it does not count against the endpoint."""


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(
        self,
        base_url: str | Sequence[str] | Endpoints,
        model: str,
        *,
        api_key: str | None = None,
        connections: int = 64,
    ) -> None:
        # a pool of its own for other cool-down settings (or a test's clock)
        if isinstance(base_url, Endpoints):
            self.endpoints = base_url
        else:
            urls = [base_url] if isinstance(base_url, str) else list(base_url)
            self.endpoints = Endpoints([url.rstrip("/") for url in urls])
        self._model = model
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.connections = connections
        # Servers differ in how they take a JSON schema: OpenAI and vLLM use "json_schema",
        # llama.cpp's Python server only "json_object" + schema. Step down on rejection; at
        # the bottom the schema is asked for in the prompt and validated after.
        self.response_formats: list[str | None] = ["json_schema", "json_object", None]
        self._format = 0
        self._session: Any = None

    @property
    def response_format(self) -> str | None:
        return self.response_formats[self._format]

    @property
    def base_urls(self) -> list[str]:
        return self.endpoints.urls

    def __repr__(self) -> str:  # never show the headers (they hold the key), nor a URL's
        urls = [display_url(url) for url in self.base_urls]
        shown = urls[0] if len(urls) == 1 else urls
        return f"OpenAIBackend(base_url={shown!r}, model={self._model!r})"

    def endpoint_stats(self) -> dict[str, dict[str, int]]:
        return self.endpoints.stats()

    @property
    def model_id(self) -> str:
        return self._model

    def _client(self) -> Any:
        if self._session is None:
            try:
                import aiohttp
            except ImportError as exc:
                raise MissingDependencyError("aiohttp", "The openai backend") from exc
            connector = aiohttp.TCPConnector(limit=self.connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=aiohttp.ClientTimeout(None)
            )
        return self._session

    def _body(self, request: GenerationRequest) -> dict[str, Any]:
        body = {"model": request.model or self._model, **request.chat_arguments()}
        kind = self.response_format
        if request.json_schema is not None and kind == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "record", "schema": request.json_schema},
            }
        elif request.json_schema is not None and kind == "json_object":
            body["response_format"] = {"type": "json_object", "schema": request.json_schema}
        return body

    async def generate(self, request: GenerationRequest) -> Completion:
        check_model_requests_allowed(self.name)
        lease = self.endpoints.acquire()
        # cancelled (the engine's timeout ran out) unless set below: a server that accepts
        # connections and never answers must be taken out too
        outcome = Outcome.FAULT
        try:
            completion = await self._generate_at(lease.url, request)
            outcome = Outcome.OK
            return completion
        except BackendError as exc:
            fault = exc.retryable and not isinstance(exc, _FormatRejected)
            outcome = Outcome.FAULT if fault else Outcome.REFUSED
            if len(self.endpoints) == 1:
                raise
            # the retry events and a failed row's error then say which server it was
            raise BackendError(
                f"{display_url(lease.url)}: {exc}",
                retryable=exc.retryable,
                status=exc.status,
                retry_after=exc.retry_after,
            ) from exc
        finally:
            self.endpoints.release(lease, outcome)

    async def _generate_at(self, base_url: str, request: GenerationRequest) -> Completion:
        import aiohttp

        session = self._client()
        format_used = self._format
        body = self._body(request)
        try:
            endpoint = "completions" if request.is_raw else "chat/completions"
            async with session.post(f"{base_url}/{endpoint}", data=orjson.dumps(body)) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise BackendError(
                f"connection error: {type(exc).__name__}: {exc}", retryable=True
            ) from exc
        except TimeoutError as exc:  # aiohttp's own read timeouts
            raise BackendError("server timed out", retryable=True) from exc
        if status >= 400:
            detail = raw[:300].decode("utf-8", "replace")
            if "response_format" in body and "response_format" in detail:
                # many requests in flight fail together: step down once, not once each
                if self._format == format_used:
                    self._format += 1
                raise _FormatRejected(
                    f"server rejected response_format {self.response_formats[format_used]!r}; "
                    f"next: {self.response_format or 'JSON asked for in the prompt'}",
                    retryable=True,
                    status=status,
                    retry_after=0.0,
                )
            raise BackendError(
                f"HTTP {status}: {detail}",
                retryable=status in _RETRYABLE_STATUS,
                status=status,
                retry_after=retry_after,
            )
        return _completion(raw, raw_text=request.is_raw)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _completion(raw: bytes, *, raw_text: bool = False) -> Completion:
    """A 200 with a broken body (truncated, not JSON, no choices) is a transport fault: retry."""
    try:
        payload = json.loads(raw)
        choice = payload["choices"][0]
        text = (choice["text"] if raw_text else choice["message"]["content"]) or ""
        usage = payload.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BackendError(
            f"malformed response body ({type(exc).__name__}): {raw[:120]!r}", retryable=True
        ) from exc
    return Completion(
        text=str(text),
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        finish_reason=str(choice.get("finish_reason") or "stop"),
    )
