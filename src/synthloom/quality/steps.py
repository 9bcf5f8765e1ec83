"""The one list of check families, in funnel order: each step's name and the function that
builds its checks from the recipe's ``quality:`` section.

Adding a check family is one entry in ``STEPS`` (plus its settings and its module). The order
of ``STEPS`` is the order records go through the gate and the order of the run summary's
funnel. It puts cheap checks first, so a judge call is never spent on a record a regex would
have dropped. PII comes first of all, so every later check (and rejected.jsonl) sees redacted
text. Dedup comes last: it is the one stateful step (a record is compared with the records kept
before it), and it runs where records are merged in row order, after every check that may run
anywhere; so the dataset does not depend on timing or sharding, at the price of judging some
duplicates. A builder imports its check module itself, so a recipe that does not use a check never
loads that check's packages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synthloom.errors import RecipeError
from synthloom.quality.base import Check, text_of
from synthloom.quality.batching import Lane
from synthloom.quality.pii import Finding
from synthloom.quality.settings import PrivacySettings, QualitySettings
from synthloom.seeds import Seed, load_seeds

if TYPE_CHECKING:
    from synthloom.quality.embed import Embedder


@dataclass(slots=True, frozen=True)
class Inputs:
    """What a step's builder may read."""

    settings: QualitySettings
    seeds: list[tuple[str, str]]  # (seed id, text through the checked fields)
    base_dir: Path
    error_at: Callable[[str, str], RecipeError]
    embedder: Embedder | None  # loaded once when any check compares meanings
    lane: Lane  # where checks run their CPU-heavy native batches, one at a time
    seed_rows: list[Seed]  # the seeds with all their fields (``seeds`` joins some of them)


@dataclass(slots=True, frozen=True)
class Step:
    name: str  # every check the builder returns has this name: the funnel counts by it
    build: Callable[[Inputs], list[Check]]


def texts(rows: list[Seed], fields: list[str] | None) -> list[tuple[str, str]]:
    return [(s.id, text_of(s.fields, fields)) for s in rows]


def _pii(i: Inputs) -> list[Check]:
    p = i.settings.privacy
    if p is None or p.pii is None:
        return []
    from synthloom.quality.privacy import Pii

    return [Pii(p, i.settings.fields, _pii_detectors(p, i.error_at))]


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


def _validators(i: Inputs) -> list[Check]:
    if i.settings.validators is None:
        return []
    from synthloom.quality.validators import Validators

    return [Validators(i.settings.validators, i.error_at, i.lane)]


def _heuristics(i: Inputs) -> list[Check]:
    if i.settings.heuristics is None:
        return []
    from synthloom.quality.heuristics import Heuristics

    return [Heuristics(i.settings.heuristics, i.settings.fields, i.error_at)]


def _dedup(i: Inputs) -> list[Check]:
    d = i.settings.dedup
    if d is None:
        return []
    from synthloom.quality.dedup import ExactDedup, NearDedup

    against = i.seeds if d.against_seeds else []
    checks: list[Check] = []
    if d.exact:
        checks.append(ExactDedup(against))
    if d.near is not None:
        checks.append(NearDedup(d, against))
    if d.semantic is not None and i.embedder is not None:
        from synthloom.quality.semantic import SemanticDedup

        checks.append(SemanticDedup(i.embedder, d.semantic, against))
    return checks


def _decontaminate(i: Inputs) -> list[Check]:
    c = i.settings.decontaminate
    if c is None:
        return []
    from synthloom.quality.decontam import Decontaminate

    items: list[tuple[str, str]] = []
    for name in c.files:
        rows = load_seeds(name, i.base_dir)
        items.extend((f"{name}#{s.id}", text_of(s.fields, c.fields)) for s in rows)
    checks: list[Check] = []
    if c.ngram is not None or c.substring is not None:
        checks.append(Decontaminate(c, items))
    if c.semantic is not None and i.embedder is not None:
        from synthloom.quality.semantic import semantic_contamination

        checks.append(semantic_contamination(i.embedder, c.semantic, items))
    return checks


def _privacy(i: Inputs) -> list[Check]:
    p = i.settings.privacy
    if p is None or not i.seeds:  # no seeds, nothing to copy (``check`` may run without)
        return []
    from synthloom.quality.seedcopy import SeedCopy

    checks: list[Check] = []
    if p.max_seed_similarity is not None or p.max_seed_substring is not None:
        checks.append(SeedCopy(p, i.seeds))
    if p.max_seed_cosine is not None and i.embedder is not None:
        from synthloom.quality.semantic import seed_cosine

        checks.append(seed_cosine(i.embedder, p.max_seed_cosine, i.seeds))
    return checks


def _relevance(i: Inputs) -> list[Check]:
    """Its own step, after the seed-copy checks rather than beside the heuristics: it embeds
    each record's prompt and response, and the records the earlier steps drop never need it."""
    h = i.settings.heuristics
    if h is None or h.relevance is None or i.embedder is None:
        return []
    from synthloom.quality.relevance import Relevance

    return [Relevance(i.embedder, h.relevance, i.seed_rows, i.seeds, i.error_at)]


def _judge(i: Inputs) -> list[Check]:
    if i.settings.judge is None:
        return []
    from synthloom.quality.judge import RubricJudge

    return [RubricJudge(i.settings.judge)]


def _grounding(i: Inputs) -> list[Check]:
    g = i.settings.grounding
    if g is None:
        return []
    from synthloom.quality.judge import Grounding

    refs = i.seeds if g.against == "seeds" else texts(load_seeds(g.against, i.base_dir), None)
    if not refs:
        raise i.error_at(
            "quality.grounding.against",
            "grounding needs reference documents: seeds, or a file in 'against'",
        )
    return [Grounding(g, refs)]


STEPS: tuple[Step, ...] = (
    Step("pii", _pii),
    Step("validators", _validators),
    Step("heuristics", _heuristics),
    Step("decontaminate", _decontaminate),
    Step("privacy", _privacy),
    Step("relevance", _relevance),
    Step("judge", _judge),
    Step("grounding", _grounding),
    Step("dedup", _dedup),
)
