"""Build the backend a recipe's ``model:`` section asks for."""

from __future__ import annotations

import os

from synthloom.backends.base import Backend
from synthloom.backends.fake import FakeBackend
from synthloom.recipe import Recipe


def make_backend(recipe: Recipe, *, dry_run: bool = False) -> Backend:
    settings = recipe.model
    if dry_run or settings.backend == "fake":
        return FakeBackend(
            model=settings.model or "fake-1",
            latency=settings.latency,
            call_log=recipe.resolve(settings.call_log) if settings.call_log else None,
        )
    if settings.backend == "embedded":
        from synthloom.backends.embedded import EmbeddedBackend

        path = recipe.resolve(settings.model) if settings.model else None
        if path is not None and not path.is_file():
            raise recipe.error("model.model", f"GGUF file not found: {path}")
        return EmbeddedBackend(path, n_ctx=settings.n_ctx)
    return _openai(recipe)


def _openai(recipe: Recipe) -> Backend:
    from synthloom.backends.openai import OpenAIBackend

    settings = recipe.model
    if not settings.model:
        raise recipe.error("model.model", "backend 'openai' needs the served model's name")
    api_key = None
    if settings.api_key_env:
        api_key = os.environ.get(settings.api_key_env)
        if not api_key:
            raise recipe.error(
                "model.api_key_env",
                f"environment variable {settings.api_key_env} is not set (it should hold the key)",
            )
    return OpenAIBackend(
        settings.base_urls,
        settings.model,
        api_key=api_key,
        connections=settings.concurrency,
    )
