"""Prompt templates: Jinja2 in a sandbox, strict about undefined names, hashed for provenance."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from synthloom.errors import RecipeError

_FILE_SUFFIXES = (".j2", ".jinja", ".jinja2", ".txt", ".md", ".tmpl")


class PromptTemplate:
    """A compiled template. ``origin`` is the file it came from, or the recipe field."""

    def __init__(self, source: str, origin: str) -> None:
        self.source = source
        self.origin = origin
        self.hash = hashlib.sha256(source.encode()).hexdigest()[:16]
        env = SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False
        )
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise RecipeError(
                f"template syntax error: {exc.message}", file=origin, line=exc.lineno
            ) from None

    def render(self, context: Mapping[str, Any]) -> str:
        try:
            return self._template.render(context).strip()
        except jinja2.UndefinedError as exc:
            names = ", ".join(sorted(context))
            raise RecipeError(
                f"template uses an undefined name: {exc.message} (available: {names})",
                file=self.origin,
            ) from None
        except jinja2.TemplateError as exc:
            raise RecipeError(f"template failed: {exc}", file=self.origin) from None
        except Exception as exc:  # Python errors inside an expression, e.g. "text" + 1
            raise RecipeError(
                f"template failed: {type(exc).__name__}: {exc}", file=self.origin
            ) from None


def load_template(value: str, base_dir: Path, field: str, recipe_file: str) -> PromptTemplate:
    """``value`` is a path when it is one line ending in a template suffix, else inline text."""
    if "\n" not in value and value.strip().endswith(_FILE_SUFFIXES):
        path = Path(value.strip())
        path = path if path.is_absolute() else base_dir / path
        if not path.is_file():
            raise RecipeError(f"template file not found: {path}", file=recipe_file, field=field)
        return PromptTemplate(path.read_text(encoding="utf-8"), str(path))
    return PromptTemplate(value, f"{recipe_file}:{field}")
