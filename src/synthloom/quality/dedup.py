"""Duplicates: exact (normalised text hash) and near (MinHash over word shingles, rensa, in
a compact LSH index: :mod:`synthloom.quality.lsh`),
against the records kept so far and against the seeds. A candidate the LSH index returns is
confirmed by its estimated Jaccard before it counts.

A match with a kept record is a duplicate; a match with a seed is a ``seed_copy`` naming the
seed (the seeds are the private data, and a copy of one is that, not a duplicate). A check
built with seeds lists ``seed_copy`` among its reasons, so the funnel can place it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from synthloom.calls import Calls
from synthloom.errors import MissingDependencyError
from synthloom.quality.base import SEED_COPY, Check, Drop, normalise, shingles
from synthloom.quality.lsh import BandIndex, Rows, Values
from synthloom.quality.settings import DedupSettings
from synthloom.records import Record

FAST_UP_TO = 100_000  # texts in the near-dedup index before it moves to the compact one


def _digest(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()


class ExactDedup(Check):
    name = "dedup"
    stateful = True
    reasons: tuple[str, ...] = ("exact_duplicate",)

    def __init__(self, seeds: list[tuple[str, str]]) -> None:
        self._seeds: dict[bytes, str] = {_digest(text): sid for sid, text in seeds}
        self._seen: dict[bytes, str] = {}  # digest -> id of the kept record
        if seeds:
            self.reasons = (*type(self).reasons, SEED_COPY)

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        digest = _digest(text)
        seed = self._seeds.get(digest)
        if seed is not None:
            record.notes["nearest_seed"] = seed
            return Drop(SEED_COPY, f"same normalised text as seed {seed}", 1.0)
        other = self._seen.get(digest)
        if other is not None:
            return Drop("exact_duplicate", f"same normalised text as {other}", 1.0)
        return None

    def admit(self, record: Record, text: str) -> None:
        self._seen[_digest(text)] = record.id


class NearDedup(Check):
    """MinHash (rensa) over word shingles in an LSH index with bands chosen for the threshold;
    each candidate the index returns is confirmed with the estimated Jaccard, so it never
    drops on a mere band collision. Keys below the seed count are seeds; the rest, records.

    The index is rensa's, with rensa's MinHash objects for the Jaccard estimate, while it holds
    up to ``fast_up_to`` texts (the fastest: Rust lookups, at about 3.3 KB a text); then it
    moves into :class:`~synthloom.quality.lsh.BandIndex` with the MinHash values as 16-bit
    numbers (about 1 KB a text, slower per lookup), so a million kept records fit in 1 GB."""

    name = "dedup"
    stateful = True
    reasons: tuple[str, ...] = ("near_duplicate",)

    def __init__(
        self, settings: DedupSettings, seeds: list[tuple[str, str]], fast_up_to: int = FAST_UP_TO
    ) -> None:
        try:
            from rensa import RMinHash, RMinHashLSH
        except ImportError:
            raise MissingDependencyError(
                "rensa", "Near-duplicate removal (quality.dedup.near)"
            ) from None
        assert settings.near is not None
        self.threshold = settings.near
        self.shingle = settings.shingle
        self.num_perm = settings.num_perm
        self.fast_up_to = fast_up_to
        self._minhash = RMinHash
        bands = bands_for(self.threshold, self.num_perm)
        self._fast: Any = RMinHashLSH(
            threshold=self.threshold, num_perm=self.num_perm, num_bands=bands
        )
        self._compact: BandIndex | None = None
        self._minhashes: list[Any] = []  # key -> MinHash, while the index is rensa's
        self._values = Rows(self.num_perm, np.uint16)  # key -> MinHash values, low 16 bits, after
        self._labels: list[str] = []  # key -> seed id or kept record id
        self._last: tuple[str, Any] | None = None  # checked, not yet admitted
        for sid, text in seeds:
            self._insert(sid, self._hash(text))
        self._seed_count = len(seeds)
        if seeds:
            self.reasons = (*type(self).reasons, SEED_COPY)

    def _hash(self, text: str) -> Any:
        m = self._minhash(num_perm=self.num_perm, seed=42)
        m.update(shingles(text, self.shingle))  # a set: order does not change a MinHash
        return m

    @staticmethod
    def _low(m: Any) -> Values:
        return np.asarray(m.digest(), dtype=np.uint32).astype(np.uint16)

    def _scored(self, m: Any) -> Iterable[tuple[int, float]]:
        """(key, estimated Jaccard) of each candidate the index returns."""
        if self._compact is None:
            kept = self._minhashes
            return ((key, m.jaccard(kept[key])) for key in self._fast.query(m))
        values, rows, width = self._low(m), self._values.data, self.num_perm
        return (
            (key, float(np.count_nonzero(rows[key] == values)) / width)
            for key in self._compact.query(values)
        )

    def _insert(self, label: str, m: Any) -> None:
        key = len(self._labels)
        self._labels.append(label)
        if self._compact is not None:
            values = self._low(m)
            self._values.append(values)
            self._compact.insert(values)
        elif key < self.fast_up_to:
            self._fast.insert(key, m)
            self._minhashes.append(m)
        else:  # the index has grown to where memory matters: move it
            compact = BandIndex(self.num_perm, self._fast.get_num_bands())
            for kept in [*self._minhashes, m]:
                values = self._low(kept)
                self._values.append(values)
                compact.insert(values)
            self._compact, self._fast, self._minhashes = compact, None, []

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        m = self._hash(text)
        best = {True: (0.0, ""), False: (0.0, "")}  # seed? -> (Jaccard, label)
        for key, score in self._scored(m):
            seed = key < self._seed_count
            if score > best[seed][0]:
                best[seed] = (score, self._labels[key])
        (seed_score, seed_id), (score, other) = best[True], best[False]
        record.scores["near_dup_jaccard"] = max(seed_score, score)
        if seed_score >= self.threshold:  # a seed copy, even if a kept record is closer
            record.notes["nearest_seed"] = seed_id
            detail = f"estimated Jaccard {seed_score:.2f} >= {self.threshold} with seed {seed_id}"
            return Drop(SEED_COPY, detail, seed_score)
        if score >= self.threshold:
            detail = f"estimated Jaccard {score:.2f} >= {self.threshold} with {other}"
            return Drop("near_duplicate", detail, score)
        self._last = (record.id, m)  # merges are one at a time: admit comes next
        return None

    def admit(self, record: Record, text: str) -> None:
        last, self._last = self._last, None
        if last is not None and last[0] == record.id:
            self._insert(record.id, last[1])
        else:  # resume: records kept by an earlier run
            self._insert(record.id, self._hash(text))


def bands_for(threshold: float, num_perm: int, recall: float = 0.97) -> int:
    """LSH bands (a divisor of ``num_perm``): the fewest bands, hence the fewest needless
    candidates, that still return a pair at exactly the threshold with probability
    ``recall``. Pairs above the threshold are returned more often still."""
    for bands in range(1, num_perm + 1):
        if num_perm % bands == 0:
            rows = num_perm // bands
            if 1 - (1 - threshold**rows) ** bands >= recall:
                return bands
    return num_perm
