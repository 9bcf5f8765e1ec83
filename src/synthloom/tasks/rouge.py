"""ROUGE-L (longest common subsequence F-measure over lower-cased word tokens), and a pool that
finds an instruction's most similar member quickly: a cheap bound skips most comparisons."""

from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def lcs(a: list[str], b: list[str]) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(a: list[str], b: list[str]) -> float:
    if not a or not b:
        return 0.0
    common = lcs(a, b)
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


class InstructionPool:
    """Texts accepted so far. ``closest`` returns the highest ROUGE-L of a candidate against the
    pool, computing the exact score only where the bag-of-words bound could reach ``floor``."""

    def __init__(self) -> None:
        self._items: list[tuple[list[str], Counter[str], str]] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, text: str) -> None:
        toks = tokens(text)
        self._items.append((toks, Counter(toks), text))

    def closest(self, text: str, floor: float = 0.0) -> tuple[float, str | None]:
        toks = tokens(text)
        bag = Counter(toks)
        best, best_text = 0.0, None
        for other, other_bag, other_text in self._items:
            # LCS <= shared words, so F <= 2 * shared / (len a + len b)
            shared = sum((bag & other_bag).values())
            bound = 2 * shared / (len(toks) + len(other)) if toks and other else 0.0
            if bound < max(floor, best) or bound == 0.0:
                continue
            score = rouge_l(toks, other)
            if score > best:
                best, best_text = score, other_text
        return best, best_text
