"""Privacy: no record may be a near copy of a real seed (the seeds are the private data), and
personal data in generated text is dropped, redacted or reported. Every record gets its
closest-seed similarity as a score, so the report can show the whole distribution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthloom.calls import Calls
from synthloom.quality.base import SEED_COPY, Check, Drop, normalise, shingles
from synthloom.quality.pii import Finding, find_pii, redact
from synthloom.quality.seedindex import RunIndex, ShingleIndex
from synthloom.quality.settings import PrivacySettings
from synthloom.records import Record


class SeedCopy(Check):
    """Shingle overlap and the longest shared passage with the closest seed. Dedup, when it
    compares against the seeds, drops exact and near copies first under the same reason.

    Both come from indexes built once over the seeds (quality/seedindex.py), so a record costs
    about the same against 50 seeds or 2,000, with the answers of comparing it with each seed
    in turn: the nearest seed (and a tie goes to the first in seed order) and the longest
    shared run, named after the first seed in order that holds a run that long."""

    name = "privacy"
    reasons = (SEED_COPY,)

    def __init__(self, settings: PrivacySettings, seeds: list[tuple[str, str]]) -> None:
        self.max_jaccard = settings.max_seed_similarity
        self.max_substring = settings.max_seed_substring
        self._ids = [sid for sid, _ in seeds]
        self._shingles = ShingleIndex([shingles(text, 3) for _, text in seeds])
        self._runs = (
            RunIndex([normalise(text) for _, text in seeds])
            if self.max_substring is not None
            else None
        )

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        best_j, near = self._shingles.nearest(shingles(text, 3))
        best_j_id = self._ids[near] if near >= 0 else ""
        record.scores["seed_jaccard"] = round(best_j, 4)
        if best_j_id:
            record.notes["nearest_seed"] = best_j_id
        best_s, best_s_id = 0, ""
        if self._runs is not None:
            best_s, source = self._runs.longest(normalise(text))
            best_s_id = self._ids[source] if source >= 0 else ""
            record.scores["seed_substring"] = best_s
        if self.max_jaccard is not None and best_j > self.max_jaccard:
            return Drop(
                SEED_COPY,
                f"3-gram Jaccard {best_j:.2f} > {self.max_jaccard} with seed {best_j_id}",
                best_j,
            )
        if self.max_substring is not None and best_s > self.max_substring:
            return Drop(
                SEED_COPY,
                f"{best_s} characters copied from seed {best_s_id} (max {self.max_substring})",
                float(best_s),
            )
        return None


class Pii(Check):
    """Runs first in the gate: every later check (and rejected.jsonl) sees redacted text, so
    dedup indexes the same text live and on resume, and no raw personal data is stored."""

    name = "pii"
    reasons = ("pii",)

    def __init__(
        self,
        settings: PrivacySettings,
        fields: list[str] | None,
        extra: Callable[[str], list[Finding]] | None = None,
    ) -> None:
        assert settings.pii is not None
        self.mode = settings.pii
        self.kinds = settings.pii_types
        self.fields = fields
        self.extra = extra  # Presidio's recognisers, when the recipe asks for them

    def find(self, text: str) -> list[Finding]:
        return find_pii(text, self.kinds, self.extra)

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        findings = self.find(text)
        record.scores["pii_found"] = len(findings)
        if not findings:
            return None
        kinds = sorted({f.kind for f in findings})
        if self.mode == "drop":
            shown = ", ".join(f"{f.kind} {f.text!r}" for f in findings[:3])
            return Drop("pii", f"{len(findings)} personal data finding(s): {shown}", len(findings))
        if self.mode == "redact":
            record.data = {k: self._redact(k, v) for k, v in record.data.items()}
            record.scores["pii_redacted"] = len(findings)
        record.scores["pii_types"] = len(kinds)
        return None

    def _redact(self, key: str, value: Any) -> Any:
        if self.fields is not None and key not in self.fields:
            return value
        if isinstance(value, str):
            return redact(value, self.find(value))
        if isinstance(value, list):
            return [
                {**m, "content": redact(str(m["content"]), self.find(str(m["content"])))}
                if isinstance(m, dict) and "content" in m
                else m
                for m in value
            ]
        return value
