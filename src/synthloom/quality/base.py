"""The check extension point. A check reads a record and returns ``None`` (keep) or a
``Drop`` (reason, detail, score): the gate stores the dropped record with them, never
discards it. Stateful checks (dedup) also learn each record the gate finally keeps."""

from __future__ import annotations

import re
import string
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from synthloom.calls import Calls
from synthloom.records import Record

_SPACE = re.compile(r"\s+")
# ASCII punctuation to spaces, then split: several times faster than a \w+ regex, and the
# dedup step tokenises every record
# (ASCII capitals are lowered by the same table; other scripts by str.lower)
_PUNCT = str.maketrans(
    {**{c: " " for c in string.punctuation}, **{c: c.lower() for c in string.ascii_uppercase}}
)


# A record too close to a seed copies the private data, however the match was found (a dedup
# index built with the seeds, or the privacy checks): one reason, whose detail names the seed.
SEED_COPY = "seed_copy"


@dataclass(slots=True, frozen=True)
class Drop:
    reason: str  # a short code: the funnel counts by it
    detail: str  # what exactly, for a person reading rejected.jsonl
    score: float | None = None


class Check(ABC):
    name: str  # the funnel step this check belongs to
    reasons: tuple[str, ...]  # every reason it may give (Gate.step_of reads them)
    # A stateful check compares a record with the records kept before it (dedup indexes). It
    # runs where records are merged, in row order, after every stateless check, so what it
    # keeps does not depend on timing or on how the rows were sharded.
    stateful: bool = False

    @abstractmethod
    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None: ...

    async def prepare(self, record: Record, text: str) -> None:  # noqa: B027 - optional hook
        """Work a stateful check can do before the record's turn in row order (embedding its
        text), so records waiting for their turn are prepared together, in batches."""

    def admit(self, record: Record, text: str) -> None:  # noqa: B027 - optional hook
        """The record passed every stateful check: remember it (dedup indexes). It comes
        right after this record's ``check``: stateful checks see one record at a time."""


def text_of(data: dict[str, Any], fields: Iterable[str] | None = None) -> str:
    """The text the checks read: the chosen fields (default every text field), and every turn
    of a conversation, one per line."""
    names = list(fields) if fields is not None else list(data)
    parts: list[str] = []
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(str(m["content"]) for m in value if isinstance(m, dict) and "content" in m)
    return "\n".join(parts)


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text.lower()).strip()


def words(text: str) -> list[str]:
    flat = text.translate(_PUNCT)
    return (flat if flat.isascii() else flat.lower()).split()


def shingles(text: str, n: int) -> set[str]:
    toks = words(text)
    if len(toks) < n:
        return {" ".join(toks)} if toks else set()
    # zip over shifted views: several times faster than slicing per position
    return set(map(" ".join, zip(*(toks[i:] for i in range(n)), strict=False)))


def quote(text: str, limit: int = 60) -> str:
    """Record text as evidence in a drop's detail: cut to ``limit`` characters, so a detail
    points at what was found without carrying the record along."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
