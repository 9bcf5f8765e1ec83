"""Cheap checks first: length bounds, required and forbidden patterns, refusals and assistant
boilerplate, and the language the recipe asks for."""

from __future__ import annotations

import re
from collections.abc import Callable

from synthloom.calls import Calls
from synthloom.errors import RecipeError
from synthloom.quality.base import Check, Drop
from synthloom.quality.batching import Lane
from synthloom.quality.language import language_detector
from synthloom.quality.settings import ValidatorSettings
from synthloom.records import Record

# phrases a model uses to refuse, or to talk about itself instead of writing the data
REFUSAL = re.compile(
    r"\b(as an ai(?: language)? model|i(?:'m| am) (?:just )?an ai\b|i (?:cannot|can't|can not|"
    r"won't|am unable to|'m unable to) (?:help|assist|provide|comply|do that|answer)|"
    r"i(?:'m| am) sorry,? but i|i apologi[sz]e,? but)",
    re.IGNORECASE,
)
BOILERPLATE = re.compile(
    r"^(?:sure|certainly|of course)[!,.] (?:here(?:'s| is))|^here(?:'s| is) (?:a|an|the|your) "
    r"(?:new |synthetic )?(?:example|question|response|answer)\b",
    re.IGNORECASE,
)


class Validators(Check):
    name = "validators"
    reasons = (
        "too_short",
        "too_long",
        "missing_pattern",
        "forbidden_pattern",
        "refusal",
        "wrong_language",
    )

    def __init__(
        self,
        settings: ValidatorSettings,
        error_at: Callable[[str, str], RecipeError],
        lane: Lane | None = None,
    ) -> None:
        self.settings = settings

        def at(key: str) -> Callable[[str], RecipeError]:
            return lambda cause: error_at(f"quality.validators.{key}", cause)

        self.must = [
            compile_pattern(p, at(f"must_match[{i}]")) for i, p in enumerate(settings.must_match)
        ]
        self.must_not = [
            compile_pattern(p, at(f"must_not_match[{i}]"))
            for i, p in enumerate(settings.must_not_match)
        ]
        self._language = (
            language_detector(
                settings.language_detector, settings.language, error_at, lane or Lane()
            )
            if settings.language
            else None
        )

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        s = self.settings
        if s.min_chars is not None and len(text) < s.min_chars:
            return Drop("too_short", f"{len(text)} characters < min_chars {s.min_chars}", len(text))
        if s.max_chars is not None and len(text) > s.max_chars:
            return Drop("too_long", f"{len(text)} characters > max_chars {s.max_chars}", len(text))
        for pattern in self.must:
            if not pattern.search(text):
                return Drop("missing_pattern", f"no match for must_match {pattern.pattern!r}")
        for pattern in self.must_not:
            found = pattern.search(text)
            if found:
                return Drop("forbidden_pattern", f"{found.group(0)!r} matches {pattern.pattern!r}")
        if s.refusals:
            found = REFUSAL.search(text) or BOILERPLATE.search(text.strip())
            if found:
                return Drop("refusal", f"refusal or boilerplate: {found.group(0)!r}")
        if self._language is not None and s.language is not None:
            language, confidence = await self._language.detect(text)
            record.scores["language_confidence"] = round(confidence, 4)
            if language != s.language or confidence < s.min_language_confidence:
                return Drop(
                    "wrong_language",
                    f"detected {language or 'unknown'} ({confidence:.2f}), want {s.language}",
                    confidence,
                )
        return None


def compile_pattern(pattern: str, error: Callable[[str], RecipeError]) -> re.Pattern[str]:
    """A recipe's regex, or one error naming the key that holds it."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise error(f"bad regex {pattern!r}: {exc}") from None
