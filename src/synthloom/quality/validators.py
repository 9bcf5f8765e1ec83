"""Cheap checks first: length bounds, required and forbidden patterns, refusals and assistant
boilerplate, and the language the recipe asks for."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable

from synthloom.calls import Calls
from synthloom.errors import MissingDependencyError, RecipeError
from synthloom.quality.base import Check, Drop
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
_EPSILON = sys.float_info.epsilon  # lingua: top two this close, no language


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
        self, settings: ValidatorSettings, error_at: Callable[[str, str], RecipeError]
    ) -> None:
        self.settings = settings

        def at(key: str) -> Callable[[str], RecipeError]:
            return lambda cause: error_at(f"quality.validators.{key}", cause)

        self.must = [_compile(p, at(f"must_match[{i}]")) for i, p in enumerate(settings.must_match)]
        self.must_not = [
            _compile(p, at(f"must_not_match[{i}]")) for i, p in enumerate(settings.must_not_match)
        ]
        self._detector = (
            _language_detector(settings.language, at("language")) if settings.language else None
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
        if self._detector is not None and s.language is not None:
            # off the event loop: the first call loads lingua's models (seconds), and model
            # calls for other rows keep going meanwhile
            language, confidence = await asyncio.to_thread(self._detector, text)
            record.scores["language_confidence"] = round(confidence, 4)
            if language != s.language or confidence < s.min_language_confidence:
                return Drop(
                    "wrong_language",
                    f"detected {language or 'unknown'} ({confidence:.2f}), want {s.language}",
                    confidence,
                )
        return None


def _compile(pattern: str, error: Callable[[str], RecipeError]) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise error(f"bad regex {pattern!r}: {exc}") from None


def _language_detector(
    code: str, error: Callable[[str], RecipeError]
) -> Callable[[str], tuple[str | None, float]]:
    """Built when the recipe is checked (a missing package or a bad code fails then); the
    language models themselves load on the first record."""
    try:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
    except ImportError:
        raise MissingDependencyError(
            "lingua", "The language check (quality.validators.language)", "lingua-language-detector"
        ) from None
    try:
        wanted = Language.from_iso_code_639_1(IsoCode639_1.from_str(code.lower()))
    except (ValueError, AttributeError):
        raise error(f"unknown language code {code!r} (use ISO 639-1: en, fr, de, ...)") from None
    detector = LanguageDetectorBuilder.from_all_languages().build()

    def detect(text: str) -> tuple[str | None, float]:
        """The most likely language (None when lingua cannot tell) and the wanted language's
        confidence, from one pass over the text: ``detect_language_of`` and
        ``compute_language_confidence`` each compute the whole list of confidence values, so
        asking both cost the gate twice the time (13 vs 6 ms CPU a flagship record here).

        The top of the list is what ``detect_language_of`` returns, with its rule for None:
        no values (no letters in the text: lingua then lists every language at 0.0, or
        nothing) or the first two within ``f64::EPSILON`` of each other (lingua-rs'
        ``detect_language_from_languages``; this detector has no minimum relative distance).
        The wanted language's value is the one ``compute_language_confidence`` gives; both
        vary between calls in the last bits, as lingua sums them in hash-map order.

        Records arriving together are not batched through lingua's
        ``compute_language_confidence_values_in_parallel``: lingua releases the GIL, so their
        ``asyncio.to_thread`` calls already run on every core, and the batch call measured no
        faster (2 cores, 200 flagship records)."""
        values = detector.compute_language_confidence_values(text)
        confidence = next((v.value for v in values if v.language == wanted), 0.0)
        if not values or (len(values) > 1 and values[0].value - values[1].value < _EPSILON):
            return None, float(confidence)
        return values[0].language.iso_code_639_1.name.lower(), float(confidence)

    return detect
