"""What a text field holds when a small model writes the prompt's scaffolding instead of the
data: the template's own words (``Question:``, ``Example 2``, an unfilled ``{slot}``), the
label's or field's name in place of a text (``book_flight``, ``weather.in.chicago``),
placeholder text, and the broken JSON or markup around a text cut out of its object.

Each function returns the evidence (a short quote of the record) or ``None``. They are meant
for prose fields: code (with its braces and fences) would need ``debris: false``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from synthloom.quality.base import quote, words

# the words prompts and schemas put before a field's value
SCHEMA_WORDS = frozenset(
    {"q", "a", "question", "answer", "response", "prompt", "instruction", "input", "output"}
    | {"text", "label", "example"}
)
# phrases from generation prompts that a model copies into the data
_TEMPLATE_PHRASE = re.compile(
    r"\bmy story was\s*:|\ba text in the style of\b|\b(?:an? )?example of a (?:text|question|"
    r"answer|response)\b|\bhere(?:'s| is) (?:the|a|an|your) (?:correct |new |final )?(?:answer|"
    r"question|text|response)\b|\bdo not copy the examples\b|\bwrite one new\b"
    # the model talking about the task instead of doing it (the label example's SmolLM2 output:
    # "This is a very realistic text.", "I'm happy to help you write a custom text")
    r"|\bthis is a (?:new |very |realistic |custom |sample |synthetic |completely )*"
    r"(?:text|example|document)\b|\b(?:i'?m|i am) (?:happy|glad) to help you write\b"
    r"|^\s*custom text\b",
    re.IGNORECASE,
)
# words each phrase above needs: a substring test skips the regex for almost every text
_PHRASE_KEYS = (
    "story was",
    "style of",
    "example of",
    "here",
    "copy the",
    "write one",
    "this is a",
    "help you write",
    "custom text",
)
_EXAMPLE_N = re.compile(r"\bExample \d+\b")
# an unfilled template slot: {{ x }}, {% ... %}, {name}, {%s}, %s
_SLOT = re.compile(r"\{\{|\}\}|\{%|%\}|\{\s*[A-Za-z_][\w.]*\s*\}|(?<![\w%])%[sd]\b")
_LINE_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z_ ]{0,24}?)\s*:", re.MULTILINE)
_JSON_KEY = re.compile(r'"([A-Za-z_]\w*)"\s*:')

_PLACEHOLDER = re.compile(
    r"\blorem ipsum\b|\[\s*(?:insert|your|name|placeholder|enter|add|todo|tbd)\b[^\]\n]{0,40}\]"
    r"|<\s*(?:placeholder|insert\b[^>\n]{0,40}|your\b[^>\n]{0,40}|name)\s*>"
    r"|(?-i:\b(?:TODO|TBD|FIXME|XXX+)\b)",
    re.IGNORECASE,
)

# JSON and markup around a value cut out of its object, a code fence, an escaped newline
_FRAGMENT = re.compile(
    r"```|\{\s*\"|\"\s*\}|\[\s*\"|\"\s*\]|</[A-Za-z][^>\n]{0,30}>"
    r"|<[A-Za-z][A-Za-z0-9-]*(?:\s[^<>\n]{0,60})?/?>|\\[nt\"]"
)
_STARTS_CUT = re.compile(r"^\s*[,;:)\]}]")  # the text starts mid-sentence
_ENDS_CUT = re.compile(r"[,;]\s*$|[\[{(]\s*$")  # ... or was cut off
# a closing parenthesis with no pair may still be a list marker: "1)", "b)", "iv)"
_LIST_MARKER = re.compile(r"(?:^|(?<=\s))(?:\d{1,2}|[A-Za-z]|[ivxIVX]{2,4})\)")
_SMILEY = re.compile(r"[:;]-?[()]")
_INCHES = re.compile(r"(?<=\d)\"")  # 6" is inches, not a quote
_PAIRS = {")": "(", "]": "[", "}": "{"}

# a whole text that is an identifier: snake_case or dotted (book_flight, weather.in.chicago,
# alarm_3am), camelCase (payBillRewards), or a long-hyphenated-slug
_IDENTIFIER = re.compile(
    r"[A-Za-z][A-Za-z0-9]*(?:[._][A-Za-z0-9]+)+[._]?"
    r"|[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+"
    r"|[a-z0-9]+(?:-[a-z0-9]+){3,}"
)
_EDGES = " \t\n\"'`.,;:!?()[]{}"


def template_echo(text: str, field_names: Iterable[str]) -> str | None:
    """The prompt's or schema's words in a field: a template phrase, ``Example 2``, a field
    label at the start of a line (``Question:``), a JSON key naming a field, an unfilled
    slot, or a field's name as the whole text."""
    names = _names(tuple(field_names))
    low = text.lower()
    phrase = _TEMPLATE_PHRASE.search(text) if any(k in low for k in _PHRASE_KEYS) else None
    found = phrase or _EXAMPLE_N.search(text) or _SLOT.search(text)
    if found:
        return f"template text {_around(text, found.start(), found.end())}"
    for match in _LINE_LABEL.finditer(text):
        if match.group(1).lower() in names:
            return f"field label {quote(match.group(0).strip())} in the text"
    for match in _JSON_KEY.finditer(text):
        if match.group(1).lower() in names:
            return f"JSON key {quote(match.group(0))} in the text"
    bare = " ".join(words(text))
    if bare and bare in _bare(names):
        return f"a field's name as the text: {quote(text.strip())}"
    return None


@functools.lru_cache(maxsize=64)
def _names(field_names: tuple[str, ...]) -> frozenset[str]:
    """Every record of a task has the same field names: worked out once, not per record."""
    return frozenset({n.lower() for n in field_names} | SCHEMA_WORDS)


@functools.lru_cache(maxsize=64)
def _bare(names: frozenset[str]) -> frozenset[str]:
    return frozenset(" ".join(words(n)) for n in names)


def label_echo(text: str, labels: Iterable[str]) -> str | None:
    """A label name instead of a text: the label itself (``pay bill.``, ``Pay pay bill``: no
    word but the label's), a label run into one token (``alarmset``), or any identifier-like
    token as the whole text (``weather.in.chicago``, ``payBillRewards``)."""
    core = text.strip(_EDGES)
    toks = words(text)
    heading = _heading(text)
    for label in labels:
        label_words = words(label)
        if heading is not None and label_words and words(heading) == label_words:
            return f"the label {label!r} as the text's heading: {quote(text.strip())}"
        if toks and label_words and set(toks) <= set(label_words):
            return f"the label {label!r} as the text: {quote(text.strip())}"
        squeezed = "".join(label_words)
        one_token = core and not any(c.isspace() for c in core)
        if len(squeezed) >= 3 and one_token and squeezed in "".join(words(core)):
            return f"the label {label!r} run into one token: {quote(core)}"
    if core and _IDENTIFIER.fullmatch(core) and "://" not in text:
        return f"an identifier as the text: {quote(core)}"
    return None


_HEADING = re.compile(r"^\s*([A-Za-z][\w ]{0,30}?)\s*[:.]\s+\S")


def _heading(text: str) -> str | None:
    """The words before a colon or full stop that opens the text ("Billing. I was charged",
    "Feature Request: Please add"): a label written as a heading, not part of the text."""
    found = _HEADING.match(text)
    return found.group(1) if found else None


def placeholder(text: str) -> str | None:
    found = _PLACEHOLDER.search(text)
    return None if found is None else f"placeholder {_around(text, found.start(), found.end())}"


def debris(text: str) -> str | None:
    """Broken structure: a JSON or markup fragment, a text starting or ending mid-sentence,
    an unbalanced bracket or quote."""
    found = _FRAGMENT.search(text)
    if found:
        return f"fragment {_around(text, found.start(), found.end())}"
    found = _STARTS_CUT.search(text)
    if found:
        return f"starts mid-sentence: {_around(text, found.start(), found.end())}"
    found = _ENDS_CUT.search(text)
    if found:
        return f"cut off: {_around(text, found.start(), found.end())}"
    return _unbalanced(text)


_BRACKET = re.compile(r"[()\[\]{}]")


def _unbalanced(text: str) -> str | None:
    if _BRACKET.search(text) is None:  # most texts: no bracket to pair, only quotes to count
        return _quotes(text)
    masked = _SMILEY.sub("  ", text)
    markers = {m.end() - 1 for m in _LIST_MARKER.finditer(masked)}
    stack: list[int] = []
    for i, char in enumerate(masked):
        if char in "([{":
            stack.append(i)
        elif char in _PAIRS:
            if stack and masked[stack[-1]] == _PAIRS[char]:
                stack.pop()
            elif i not in markers:
                return f"unmatched {char!r}: {_around(text, i, i + 1)}"
    if stack:
        return f"unclosed {masked[stack[-1]]!r}: {_around(text, stack[-1], stack[-1] + 1)}"
    return _quotes(text)


def _quotes(text: str) -> str | None:
    if text.count('"') % 2 and _INCHES.sub("", text).count('"') % 2:
        at = text.rfind('"')
        return f"unbalanced '\"': {_around(text, at, at + 1)}"
    if text.count("\u201c") != text.count("\u201d"):
        at = max(text.rfind("\u201c"), text.rfind("\u201d"))
        return f"unbalanced curly quotes: {_around(text, at, at + 1)}"
    return None


def _around(text: str, start: int, end: int, reach: int = 25) -> str:
    """The match with a little context either side, quoted (at most about 60 characters)."""
    return quote(text[max(0, start - reach) : end + reach], min(100, 60 + end - start))
