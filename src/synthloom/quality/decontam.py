"""Decontamination: a record that shares a 13-word n-gram, or a 50-character normalised
substring, with an item of an eval set named in the recipe is dropped as ``contaminated``,
naming the eval file and item. Both indexes are hash sets built once, so each record costs
one lookup per n-gram or window however large the eval sets are."""

from __future__ import annotations

import re

from synthloom.calls import Calls
from synthloom.quality.base import Check, Drop, words
from synthloom.quality.settings import DecontamSettings
from synthloom.records import Record

_KEEP = re.compile(r"[^a-z0-9]+")


def _h(text: str) -> int:
    """Python's own 64-bit string hash (SipHash): the indexes live only in this process, so
    its per-process salt does no harm, and two texts share a hash about once in 2**64
    lookups. A tenth of the time of a blake2b digest, which cost a fifth of the gate's time
    with the semantic checks off."""
    return hash(text)


def squeeze(text: str) -> str:
    """Lower-case letters and digits only: a copy with other spacing or punctuation still
    matches the substring test."""
    return _KEEP.sub("", text.lower())


class Decontaminate(Check):
    name = "decontaminate"
    reasons = ("contaminated",)

    def __init__(self, settings: DecontamSettings, items: list[tuple[str, str]]) -> None:
        """``items``: (label, text) of every eval item, label like 'evals/test.jsonl#q17'."""
        self.n = settings.ngram
        self.width = settings.substring
        self._ngrams: dict[int, str] = {}
        self._windows: dict[int, str] = {}
        for label, text in items:
            if self.n is not None:
                toks = words(text)
                for i in range(len(toks) - self.n + 1):
                    self._ngrams.setdefault(_h(" ".join(toks[i : i + self.n])), label)
            if self.width is not None:
                flat = squeeze(text)
                # every window of the eval item: a record window equal to any one matches
                for i in range(len(flat) - self.width + 1):
                    self._windows.setdefault(_h(flat[i : i + self.width]), label)

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        if self.n is not None:
            toks = words(text)
            for i in range(len(toks) - self.n + 1):
                gram = " ".join(toks[i : i + self.n])
                label = self._ngrams.get(_h(gram))
                if label is not None:
                    return Drop("contaminated", f"{self.n}-gram {gram!r} is in {label}")
        if self.width is not None:
            flat = squeeze(text)
            for i in range(len(flat) - self.width + 1):
                label = self._windows.get(_h(flat[i : i + self.width]))
                if label is not None:
                    shared = flat[i : i + self.width]
                    return Drop(
                        "contaminated", f"{self.width}-character run {shared!r} is in {label}"
                    )
        return None
