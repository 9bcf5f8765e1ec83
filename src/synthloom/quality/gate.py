"""The quality gate: the recipe's checks in a fixed order, cheapest first, applied to each
record as the engine finishes it. A dropped record is stored with the check's reason, detail
and score; a record the gate keeps is admitted to every stateful check (dedup indexes)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from synthloom.engine.job import Calls
from synthloom.errors import GenerationFailed, RecipeError
from synthloom.quality.base import Check, text_of
from synthloom.quality.pii import Finding
from synthloom.quality.settings import PrivacySettings, QualitySettings
from synthloom.records import Record, Status
from synthloom.seeds import Seed, load_seeds

STEPS = ("pii", "validators", "dedup", "decontaminate", "privacy", "judge", "grounding")


class Gate:
    def __init__(self, checks: list[Check], fields: list[str] | None) -> None:
        self.checks = checks
        self.fields = fields
        self.steps = [s for s in STEPS if any(c.name == s for c in checks)]
        self._step_of = {reason: c.name for c in checks for reason in c.reasons}

    def step_of(self, reason: str | None) -> str | None:
        """Which gate step gave a rejection reason (None: the task itself dropped the row)."""
        return self._step_of.get(reason or "")

    def text(self, record: Record) -> str:
        return text_of(record.data, self.fields)

    async def apply(self, record: Record, calls: Calls) -> Record:
        text = self.text(record)
        passed: list[Check] = []
        for check in self.checks:
            try:
                drop = await check.check(record, text, calls)
            except GenerationFailed as exc:  # the judge could not answer: keep the data
                self._undo(passed, record, text)
                record.status = Status.FAILED
                record.reason = f"{check.name}_failed"
                record.error = f"{exc.error_class}: {exc}"
                return record
            if drop is not None:
                self._undo(passed, record, text)
                record.status = Status.REJECTED
                record.reason = drop.reason
                record.error = drop.detail
                if drop.score is not None:
                    record.scores[f"{drop.reason}_score"] = round(drop.score, 4)
                return record
            check.admit(record, text)
            passed.append(check)
            text = self.text(record)  # a check may have redacted the record
        return record

    @staticmethod
    def _undo(passed: list[Check], record: Record, text: str) -> None:
        for check in reversed(passed):
            check.retract(record, text)

    def resume(self, accepted: Iterable[Record]) -> None:
        """Records kept by an earlier run into the same directory join the dedup indexes."""
        for record in accepted:
            text = self.text(record)
            for check in self.checks:
                check.admit(record, text)


def _texts(rows: list[Seed], fields: list[str] | None) -> list[tuple[str, str]]:
    return [(s.id, text_of(s.fields, fields)) for s in rows]


def _pii_detectors(
    settings: PrivacySettings, error_at: Callable[[str, str], RecipeError]
) -> Callable[[str], list[Finding]] | None:
    """Presidio's recognisers (when asked for), after checking every ``pii_types`` entry names
    a detector: a misspelt type would otherwise silently detect nothing. Listing Presidio's
    types loads it, and the same detector then serves the records."""
    from synthloom.quality.pii import DETECTORS

    detector = None
    if settings.presidio:
        from synthloom.quality.presidio import PresidioDetector, require_presidio

        require_presidio()
        detector = PresidioDetector(settings.pii_types, settings.presidio_min_score)
    if settings.pii_types is not None:
        known = set(DETECTORS) | set(detector.entities() if detector is not None else ())
        unknown = [k for k in settings.pii_types if k not in known]
        if unknown:
            raise error_at(
                "quality.privacy.pii_types",
                f"unknown PII type(s) {unknown}; known: {', '.join(sorted(known))}"
                + ("" if settings.presidio else " (more with presidio: true)"),
            )
    return detector.find if detector is not None else None


def build_gate(
    settings: QualitySettings,
    seeds: list[Seed],
    base_dir: Path,
    error_at: Callable[[str, str], RecipeError],
    record_fields: list[str] | None = None,
) -> Gate | None:
    """The recipe's checks, built now so a missing package or file fails before any call.

    Seeds are compared through the same fields as the records (``quality.fields``, else the
    fields the records have), so a record that copies a seed's question and answer matches the
    seed even when the seed has other columns too."""
    if not settings.enabled:
        return None
    from synthloom.quality.decontam import Decontaminate
    from synthloom.quality.dedup import ExactDedup, NearDedup
    from synthloom.quality.judge import Grounding, RubricJudge
    from synthloom.quality.privacy import Pii, SeedCopy
    from synthloom.quality.validators import Validators

    embedder = None
    if settings.semantic:
        from synthloom.quality.embed import Embedder, require_embeddings

        require_embeddings(
            "Semantic checks (quality: dedup.semantic, decontaminate.semantic, "
            "privacy.max_seed_cosine)"
        )
        embedder = Embedder()
    seed_texts = _texts(seeds, settings.fields or record_fields)
    checks: list[Check] = []
    if settings.privacy is not None and settings.privacy.pii is not None:
        extra = _pii_detectors(settings.privacy, error_at)
        checks.append(Pii(settings.privacy, settings.fields, extra))
    if settings.validators is not None:
        checks.append(Validators(settings.validators, error_at))
    if (d := settings.dedup) is not None:
        against = seed_texts if d.against_seeds else []
        if d.exact:
            checks.append(ExactDedup(against))
        if d.near is not None:
            checks.append(NearDedup(d, against))
        if d.semantic is not None and embedder is not None:
            from synthloom.quality.semantic import SemanticDedup

            checks.append(SemanticDedup(embedder, d.semantic, against))
    if (c := settings.decontaminate) is not None:
        items: list[tuple[str, str]] = []
        for name in c.files:
            rows = load_seeds(name, base_dir)
            items.extend((f"{name}#{s.id}", text_of(s.fields, c.fields)) for s in rows)
        if c.ngram is not None or c.substring is not None:
            checks.append(Decontaminate(c, items))
        if c.semantic is not None and embedder is not None:
            from synthloom.quality.semantic import semantic_contamination

            checks.append(semantic_contamination(embedder, c.semantic, items))
    if (p := settings.privacy) is not None and (
        p.max_seed_similarity is not None or p.max_seed_substring is not None
    ):
        checks.append(SeedCopy(p, seed_texts))
    if p is not None and p.max_seed_cosine is not None and embedder is not None:
        from synthloom.quality.semantic import seed_cosine

        checks.append(seed_cosine(embedder, p.max_seed_cosine, seed_texts))
    if settings.judge is not None:
        checks.append(RubricJudge(settings.judge))
    if (g := settings.grounding) is not None:
        refs = seed_texts if g.against == "seeds" else _texts(load_seeds(g.against, base_dir), None)
        if not refs:
            raise error_at(
                "quality.grounding.against",
                "grounding needs reference documents: seeds, or a file in 'against'",
            )
        checks.append(Grounding(g, refs))
    return Gate(checks, settings.fields)
