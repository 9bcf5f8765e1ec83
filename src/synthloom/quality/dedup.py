"""Duplicates: exact (normalised text hash) and near (MinHash LSH over word shingles, rensa),
against the records kept so far and against the seeds. A candidate the LSH index returns is
confirmed by its estimated Jaccard before it counts."""

from __future__ import annotations

import hashlib

from synthloom.engine.job import Calls
from synthloom.errors import MissingDependencyError
from synthloom.quality.base import Check, Drop, normalise, shingles
from synthloom.quality.settings import DedupSettings
from synthloom.records import Record


def _digest(text: str) -> bytes:
    return hashlib.blake2b(normalise(text).encode(), digest_size=16).digest()


class ExactDedup(Check):
    name = "dedup"
    reasons = ("exact_duplicate",)

    def __init__(self, seeds: list[tuple[str, str]]) -> None:
        self._seen: dict[bytes, str] = {_digest(text): f"seed {sid}" for sid, text in seeds}
        self._digest_of: dict[str, bytes] = {}  # record id -> what admit stored

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        other = self._seen.get(_digest(text))
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


class NearDedup(Check):
    """MinHash LSH: bands chosen for the threshold by rensa; each candidate it returns is
    confirmed with the estimated Jaccard, so the index never drops on a mere band collision."""

    name = "dedup"
    reasons = ("near_duplicate",)

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
        self._entries: list[tuple[str, object] | None] = []  # LSH key -> (label, minhash)
        self._key_of: dict[str, int] = {}
        self._pending: dict[str, object] = {}  # checked, not yet admitted (no await between)
        for sid, text in seeds:
            self._insert(f"seed {sid}", self.minhash(text))

    def minhash(self, text: str) -> object:
        m = self._minhash(num_perm=self.num_perm, seed=42)
        m.update(shingles(text, self.shingle))  # a set: order does not change a MinHash
        return m

    def _insert(self, label: str, m: object) -> None:
        key = len(self._entries)
        self._lsh.insert(key, m)
        self._entries.append((label, m))
        self._key_of[label] = key

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        m = self.minhash(text)
        best, best_label = 0.0, ""
        entries = self._entries
        for key in self._lsh.query(m):
            entry = entries[key]
            if entry is not None:
                score = m.jaccard(entry[1])  # type: ignore[attr-defined]
                if score > best:
                    best, best_label = score, entry[0]
        record.scores["near_dup_jaccard"] = best
        if best >= self.threshold:
            return Drop(
                "near_duplicate",
                f"estimated Jaccard {best:.2f} >= {self.threshold} with {best_label}",
                best,
            )
        self._pending[record.id] = m
        return None

    def admit(self, record: Record, text: str) -> None:
        m = self._pending.pop(record.id, None)
        self._insert(record.id, m if m is not None else self.minhash(text))

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
