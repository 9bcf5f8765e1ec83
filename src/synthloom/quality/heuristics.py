"""Model-free checks for the junk a small model passes off as data: scaffolding copied from the
prompt, a label's name instead of a text, placeholders, broken JSON, loops, and fields that do
not have the shape their name promises (a "question" that asks nothing).

Every check reads each text field on its own, not the gate's joined text: a question that is
``]))`` can hide behind a long answer, a label's name is only an echo in the field that should
hold the text, and the evidence names the field. The rules run in the same order over all
fields, most specific first, so a record dropped for several faults gets the most telling
reason. They are cheap enough to run on every record, before dedup and any model call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from synthloom.calls import Calls
from synthloom.errors import RecipeError
from synthloom.quality.base import Check, Drop, normalise, quote
from synthloom.quality.debris import debris, label_echo, placeholder, template_echo
from synthloom.quality.repetition import repetition
from synthloom.quality.settings import FieldShape, HeuristicSettings
from synthloom.quality.validators import compile_pattern
from synthloom.records import Record

# a first word that makes a sentence a question or a request
QUESTION_WORDS = frozenset(
    {"how", "what", "what's", "whats", "when", "where", "which", "who", "whom", "whose", "why"}
    | {"can", "could", "should", "would", "will", "shall", "may", "might", "must"}
    | {"is", "are", "am", "was", "were", "do", "does", "did", "has", "have", "had"}
    | {"any", "please"}
)
_REQUEST = re.compile(
    r"^(?:tell me|explain|describe|help me|i(?:'m| am| was) wondering|i(?:'d| would) like to "
    r"know|i need to know|any (?:tips|advice|ideas?))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\S*[^\W_]\S*")
_ASKS = re.compile(r"\w[\"')\]]*\s*\?")  # a question mark closing some words


def reads_as_question(text: str) -> bool:
    """A question mark after some words ("My incision itches. Is that normal?"), or an opening
    question word or request ("How soon can I drive", "Please explain ..."). Lenient on
    purpose: it is there to drop topic headings ("Sleep after tonsillectomy") and
    statements, not questions with a missing mark."""
    if _ASKS.search(text):
        return True
    text = text.strip().replace("\u2019", "'")  # a curly apostrophe (U+2019) too
    first = text.split(maxsplit=1)
    return bool(first) and (
        first[0].lower().strip("\"'(,.:") in QUESTION_WORDS or bool(_REQUEST.match(text))
    )


def count_words(text: str) -> int:
    """Runs between spaces holding a letter or digit: a stray "-" or "}" is no word."""
    return len(_WORD.findall(text))


@dataclass(slots=True, frozen=True)
class _Shape:
    settings: FieldShape
    must: list[re.Pattern[str]]
    must_not: list[re.Pattern[str]]


class Heuristics(Check):
    name = "heuristics"
    reasons = (
        "template_echo",
        "label_echo",
        "placeholder",
        "debris",
        "repetition",
        "not_a_question",
        "too_few_words",
        "too_many_words",
        "field_pattern",
    )

    def __init__(
        self,
        settings: HeuristicSettings,
        fields: list[str] | None,
        error_at: Callable[[str, str], RecipeError],
    ) -> None:
        """``fields``: the text fields the rules read (the quality section's ``fields``);
        default every text field of the record but the label fields."""
        self.settings = settings
        self.fields = fields
        self.shapes = {
            name: _Shape(
                shape,
                [
                    compile_pattern(p, _at(error_at, f"{name}.must_match[{i}]"))
                    for i, p in enumerate(shape.must_match)
                ],
                [
                    compile_pattern(p, _at(error_at, f"{name}.must_not_match[{i}]"))
                    for i, p in enumerate(shape.must_not_match)
                ],
            )
            for name, shape in settings.fields.items()
        }

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        return self.inspect(record.data)

    def inspect(self, data: dict[str, Any]) -> Drop | None:
        """The first fault found in the record's fields, or ``None``."""
        texts = list(self._texts(data))
        s = self.settings
        labels = [v for k in s.label_fields if isinstance(v := data.get(k), str) and v.strip()]
        names = list(data)
        rules: list[tuple[str, Callable[[str], str | None]]] = []
        if s.echo:
            rules.append(("template_echo", lambda t: template_echo(t, names)))
            rules.append(("label_echo", lambda t: label_echo(t, labels)))
        if s.placeholder:
            rules.append(("placeholder", placeholder))
        if s.debris:
            rules.append(("debris", debris))
        for reason, rule in rules:
            for field, value in texts:
                found = rule(value)
                if found is not None:
                    return Drop(reason, f"{field}: {found}")
        if s.repetition:
            drop = self._repetition(texts)
            if drop is not None:
                return drop
        for name, shape in self.shapes.items():
            given = data.get(name)
            if isinstance(given, str):
                drop = _shape(name, given, shape)
                if drop is not None:
                    return drop
        return None

    def _texts(self, data: dict[str, Any]) -> Iterator[tuple[str, str]]:
        labels = set(self.settings.label_fields)
        for name in (
            self.fields if self.fields is not None else [k for k in data if k not in labels]
        ):
            value = data.get(name)
            if isinstance(value, str):
                yield name, value
            elif isinstance(value, list):  # a conversation: each turn on its own
                for i, turn in enumerate(value):
                    if isinstance(turn, dict) and isinstance(turn.get("content"), str):
                        yield f"{name}[{i}]", turn["content"]

    def _repetition(self, texts: list[tuple[str, str]]) -> Drop | None:
        for field, value in texts:
            found = repetition(value, self.settings.ngram_min_words)
            if found is not None:
                return Drop("repetition", f"{field}: {found[0]}", found[1])
        seen: dict[str, str] = {}
        for field, value in texts:  # an answer that repeats its question
            flat = normalise(value).strip(" .?!")
            if flat in seen:
                return Drop("repetition", f"{field} repeats {seen[flat]}: {quote(value.strip())}")
            if flat:
                seen[flat] = field
        return None


def _shape(field: str, text: str, shape: _Shape) -> Drop | None:
    s = shape.settings
    if s.question and not reads_as_question(text):
        return Drop("not_a_question", f"{field} does not read as a question: {quote(text.strip())}")
    n = count_words(text)
    if s.min_words is not None and n < s.min_words:
        detail = f"{field} has {n} words < min_words {s.min_words}: {quote(text.strip())}"
        return Drop("too_few_words", detail, n)
    if s.max_words is not None and n > s.max_words:
        return Drop("too_many_words", f"{field} has {n} words > max_words {s.max_words}", n)
    for pattern in shape.must:
        if not pattern.search(text):
            return Drop("field_pattern", f"{field}: no match for must_match {pattern.pattern!r}")
    for pattern in shape.must_not:
        found = pattern.search(text)
        if found:
            detail = f"{field}: {quote(found.group(0))} matches must_not_match {pattern.pattern!r}"
            return Drop("field_pattern", detail)
    return None


def _at(error_at: Callable[[str, str], RecipeError], where: str) -> Callable[[str], RecipeError]:
    return lambda cause: error_at(f"quality.heuristics.fields.{where}", cause)
