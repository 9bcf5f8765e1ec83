"""Privacy, seed copies: no record may be a near copy of a real seed (the seeds are the private
data). Every record gets its closest-seed similarity as a score, so the report can show the
whole distribution."""

from __future__ import annotations

from synthloom.calls import Calls
from synthloom.quality.base import SEED_COPY, Check, Drop, normalise, shingles
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
