"""Build the backend a recipe's ``model:`` section asks for."""

from __future__ import annotations

from synthloom.backends.base import Backend
from synthloom.backends.fake import FakeBackend
from synthloom.errors import RecipeError
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
    raise RecipeError(
        "backend 'openai' is not available in this version yet",
        file=recipe.source_file,
        field="model.backend",
    )
