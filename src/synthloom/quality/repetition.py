"""Repetition in one text field: the loops a small model falls into when it loses the thread.

The measures follow Gopher's repetition rules (Rae et al. 2021, table A1; datatrove's
``GopherRepetitionFilter`` implements them for web pages): the share of lines, paragraphs
(here also sentences, since a model repeats itself within one line) that repeat an earlier
one; the characters covered by the most frequent 2-, 3- and 4-gram; and the characters covered
by any repeated 5- to 10-gram. Those shares were set for documents of hundreds of words. In a
ten-word question one repeated "of the" is a fifth of the characters, so the n-gram shares
apply only from ``min_words`` words, and short texts get a rule of their own: a word said three
times in a row, or a phrase said again straight after itself ("what should I do, what should I
do"), which no careful writer does at any length.
"""

from __future__ import annotations

import re
from collections import Counter

from synthloom.quality.base import normalise, quote, words

# Gopher's thresholds (table A1)
MAX_DUP_SEGMENTS = 0.30  # share of lines / paragraphs / sentences repeating an earlier one
MAX_DUP_SEGMENT_CHARS = 0.20  # ... share of the characters they hold
TOP_NGRAM = {2: 0.20, 3: 0.18, 4: 0.16}  # characters in the most frequent n-gram's copies
# ... said at least three times: Gopher counts a pair too, but in a document of hundreds of
# words a pair never reaches those shares, and in a short one it is ordinary ("How strict does
# she need to be, and does she need to limit fluids" is a seed)
TOP_NGRAM_TIMES = 3
DUP_NGRAM = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}  # in repeated n-grams
# a unit said again straight after itself: one word needs three in a row ("very, very" is
# fine), two words three ("pay bill pay bill pay bill"), a longer phrase two
LOOP_TIMES = {1: 3, 2: 3}
LOOP_MAX_WORDS = 8
# one 4-word phrase three times anywhere in a text of a few paragraphs ("It is very important
# for ... Sleep is very important for us ... very important for a heart surgeon"): the report's
# looping_share counts the same thing. Rare in written prose; past PHRASE_MAX_WORDS words the
# Gopher shares above judge instead, as a long text may fairly reuse a phrase.
PHRASE_N, PHRASE_TIMES, PHRASE_MAX_WORDS = 4, 3, 200

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def repetition(text: str, min_words: int) -> tuple[str, float] | None:
    """What repeats, quoted, and the share it covers; ``None`` for a text that does not loop."""
    segments = [("sentence", _SENTENCE.split(text))]
    if "\n" in text:  # one line is one paragraph: nothing there can repeat
        segments = [("line", text.splitlines()), ("paragraph", _PARAGRAPH.split(text)), *segments]
    for kind, parts in segments:
        found = _duplicate_segments(kind, parts)
        if found is not None:
            return found
    toks = words(text)
    found = _loop(toks) or (_phrase(toks) if len(toks) <= PHRASE_MAX_WORDS else None)
    if found is not None:
        return found
    if len(toks) < min_words:
        return None
    return _top_ngram(toks) or _duplicate_ngrams(toks)


def _duplicate_segments(kind: str, parts: list[str]) -> tuple[str, float] | None:
    segments = [normalise(p) for p in parts]
    segments = [s for s in segments if words(s)]
    if len(segments) < 2:
        return None
    seen: set[str] = set()
    repeats: list[str] = []
    for segment in segments:
        if segment in seen:
            repeats.append(segment)
        seen.add(segment)
    if not repeats:
        return None
    share = len(repeats) / len(segments)
    chars = sum(map(len, repeats)) / sum(map(len, segments))
    if share <= MAX_DUP_SEGMENTS and chars <= MAX_DUP_SEGMENT_CHARS:
        return None
    top = Counter(repeats).most_common(1)[0][0]
    detail = f"{kind} repeated ({share:.0%} of {kind}s, {chars:.0%} of characters): {quote(top)}"
    return detail, max(share, chars)


def _loop(toks: list[str]) -> tuple[str, float] | None:
    """A unit of ``n`` words said ``times`` times in a row is a stretch of ``n * (times - 1)``
    words each equal to the word ``n`` further on: one pass per ``n``, no slicing."""
    for n in range(1, min(LOOP_MAX_WORDS, len(toks) // 2) + 1):
        times = LOOP_TIMES.get(n, 2)
        need = n * (times - 1)
        run = 0
        for i in range(len(toks) - n):
            run = run + 1 if toks[i] == toks[i + n] else 0
            if run >= need:
                start = i - need + 1
                return (
                    f"{quote(' '.join(toks[start : start + n]))} said {times} times in a row",
                    float(times),
                )
    return None


def _phrase(toks: list[str]) -> tuple[str, float] | None:
    counts = Counter(zip(*(toks[i:] for i in range(PHRASE_N)), strict=False))
    if not counts:
        return None
    gram, count = counts.most_common(1)[0]
    if count < PHRASE_TIMES:
        return None
    return f"{quote(' '.join(gram))} said {count} times", float(count)


def _top_ngram(toks: list[str]) -> tuple[str, float] | None:
    total = sum(map(len, toks))
    for n, limit in TOP_NGRAM.items():
        counts = Counter(zip(*(toks[i:] for i in range(n)), strict=False))
        if not counts:
            continue
        gram, count = counts.most_common(1)[0]
        share = count * sum(map(len, gram)) / total
        if count >= TOP_NGRAM_TIMES and share > limit:
            detail = (
                f"{quote(' '.join(gram))} {count} times: {share:.0%} of characters (> {limit:.0%})"
            )
            return detail, share
    return None


def _duplicate_ngrams(toks: list[str]) -> tuple[str, float] | None:
    total = sum(map(len, toks))
    for n, limit in DUP_NGRAM.items():
        first_at: dict[tuple[str, ...], int] = {}
        covered = bytearray(len(toks))
        example: tuple[str, ...] | None = None
        repeats = False
        for i, gram in enumerate(zip(*(toks[k:] for k in range(n)), strict=False)):
            at = first_at.setdefault(gram, i)
            repeats = repeats or at != i
            if at + n <= i:  # a copy, not the same words overlapping
                covered[i : i + n] = b"\x01" * n
                example = example or gram
        if not repeats:  # no n-gram twice: no longer one either
            return None
        share = sum(len(t) for t, c in zip(toks, covered, strict=True) if c) / total
        if example is not None and share > limit:
            detail = (
                f"repeated {n}-grams cover {share:.0%} of characters (> {limit:.0%}), "
                f"e.g. {quote(' '.join(example))}"
            )
            return detail, share
    return None
