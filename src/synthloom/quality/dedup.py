"""Duplicates: exact (normalised text hash) and near (MinHash LSH over word shingles, rensa),
against the records kept so far and against the seeds. A candidate the LSH index returns is
confirmed by its estimated Jaccard before it counts.

A match with a kept record is a duplicate; a match with a seed is a ``seed_copy`` naming the
seed (the seeds are the private data, and a copy of one is that, not a duplicate). A check
built with seeds lists ``seed_copy`` among its reasons, so the funnel can place it."""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from synthloom.calls import Calls
from synthloom.errors import MissingDependencyError
from synthloom.quality.base import SEED_COPY, Check, Drop, normalise, shingles
from synthloom.quality.settings import DedupSettings
from synthloom.records import Record


def _digest(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()


class ExactDedup(Check):
    name = "dedup"
    stateful = True
    reasons: tuple[str, ...] = ("exact_duplicate",)

    def __init__(self, seeds: list[tuple[str, str]]) -> None:
        self._seeds: dict[bytes, str] = {_digest(text): sid for sid, text in seeds}
        self._seen: dict[bytes, str] = {}  # digest -> id of the kept record
        self._digest_of: dict[str, bytes] = {}  # record id -> what admit stored
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
        digest = _digest(text)
        self._seen[digest] = record.id
        self._digest_of[record.id] = digest

    def retract(self, record: Record, text: str) -> None:
        digest = self._digest_of.pop(record.id, None)  # exactly what admit added
        if digest is not None and self._seen.get(digest) == record.id:
            del self._seen[digest]


class _Entry(NamedTuple):
    label: str  # a seed id or a kept record id
    minhash: object
    seed: bool


class NearDedup(Check):
    """MinHash LSH: bands chosen for the threshold by rensa; each candidate it returns is
    confirmed with the estimated Jaccard, so the index never drops on a mere band collision."""

    name = "dedup"
    stateful = True
    reasons: tuple[str, ...] = ("near_duplicate",)

    def __init__(self, settings: DedupSettings, seeds: list[tuple[str, str]]) -> None:
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
        self._minhash = RMinHash
        self._lsh = RMinHashLSH(
            threshold=self.threshold,
            num_perm=self.num_perm,
            num_bands=bands_for(self.threshold, self.num_perm),
        )
        self._entries: list[_Entry | None] = []  # LSH key -> entry (None: retracted)
        self._key_of: dict[str, int] = {}  # kept record id -> LSH key
        self._pending: dict[str, object] = {}  # checked, not yet admitted (no await between)
        for sid, text in seeds:
            self._insert(_Entry(sid, self.minhash(text), seed=True))
        if seeds:
            self.reasons = (*type(self).reasons, SEED_COPY)

    def minhash(self, text: str) -> object:
        m = self._minhash(num_perm=self.num_perm, seed=42)
        m.update(shingles(text, self.shingle))  # a set: order does not change a MinHash
        return m

    def _insert(self, entry: _Entry) -> int:
        key = len(self._entries)
        self._lsh.insert(key, entry.minhash)
        self._entries.append(entry)
        return key

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        m = self.minhash(text)
        best = {True: (0.0, ""), False: (0.0, "")}  # seed? -> (Jaccard, label)
        entries = self._entries
        for key in self._lsh.query(m):
            entry = entries[key]
            if entry is not None:
                score = m.jaccard(entry.minhash)  # type: ignore[attr-defined]
                if score > best[entry.seed][0]:
                    best[entry.seed] = (score, entry.label)
        (seed_score, seed), (score, other) = best[True], best[False]
        record.scores["near_dup_jaccard"] = max(seed_score, score)
        if seed_score >= self.threshold:  # a seed copy, even if a kept record is closer
            record.notes["nearest_seed"] = seed
            detail = f"estimated Jaccard {seed_score:.2f} >= {self.threshold} with seed {seed}"
            return Drop(SEED_COPY, detail, seed_score)
        if score >= self.threshold:
            detail = f"estimated Jaccard {score:.2f} >= {self.threshold} with {other}"
            return Drop("near_duplicate", detail, score)
        self._pending[record.id] = m
        return None

    def admit(self, record: Record, text: str) -> None:
        m = self._pending.pop(record.id, None)
        entry = _Entry(record.id, m if m is not None else self.minhash(text), seed=False)
        self._key_of[record.id] = self._insert(entry)

    def retract(self, record: Record, text: str) -> None:
        key = self._key_of.pop(record.id, None)
        if key is not None:
            self._lsh.remove(key)
            self._entries[key] = None


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
