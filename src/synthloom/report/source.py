"""What the report reads, gathered once from a run directory: the dataset (through the dataset
view, like every export), every produced record (the funnel, the planned axis mix, the bias
audit), the recipe the run stored, and the reference the dataset is compared with.

The reference is real data when the user has some (``--real`` or ``report: {real: FILE}``),
else the seeds: they are the only real examples every run has, and a dataset far from its own
seeds is worth knowing about too. The run directory holds everything else, so a report needs
no recipe file: ``synthloom report OUTDIR`` works on a copied directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthloom.dataset import Dataset
from synthloom.errors import SynthloomError
from synthloom.quality.base import text_of
from synthloom.records import Record
from synthloom.review.book import ReviewBook
from synthloom.review.results import summarize
from synthloom.seeds import read_rows

LABEL_KINDS = frozenset({"label"})  # task kinds whose records are (text, label) pairs


@dataclass(frozen=True, slots=True)
class Reference:
    source: str  # "seeds", or the file the rows came from
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RunData:
    outdir: Path
    recipe: dict[str, Any]  # as the run stored it (model_dump of the Recipe)
    records: list[Record]  # the dataset
    produced: list[Record]  # every record of the dataset's stages, whatever its status
    fields: list[str]  # the text fields the metrics read, in order
    reference: Reference
    funnel: list[tuple[str, int]] | None  # the last run's funnel, when a run has ended
    label_field: str | None  # set when the dataset is classification data
    review: dict[str, Any] | None  # the human review's result, when a sample was drawn
    seeds: list[dict[str, Any]]  # the run's seeds, whatever the reference

    def texts(self) -> list[str]:
        return [text_of(r.data, self.fields) for r in self.records]

    def reference_texts(self) -> list[str]:
        texts = [text_of(row, self.fields) for row in self.reference.rows]
        return [t for t in texts if t.strip()]

    @property
    def axes(self) -> list[str]:
        return list(self.recipe.get("axes") or {})


def load(outdir: str | Path, real: str | Path | None = None) -> RunData:
    """Everything the report needs from ``outdir``; ``real`` (else the recipe's
    ``report.real``, else the seeds) is the reference."""
    path = Path(outdir)
    with Dataset.open(path) as dataset:
        store = dataset.store
        recipe = store.get_meta("recipe") or {}
        shapes: dict[str, dict[str, Any]] = store.get_meta("export") or {}
        seeds: dict[str, dict[str, Any]] = store.get_meta("seeds") or {}
        recipe_dir = store.get_meta("recipe_dir")
        records = list(dataset.records())
        produced = list(dataset.produced())
        ends = store.events("run_end")
        funnel = [(str(s), int(n)) for s, n in ends[-1].get("funnel") or []] if ends else None
        verdicts = review_summary(ReviewBook(store))
    fields = _fields(recipe, shapes, records)
    label_field = next(
        (
            str(s.get("response_field") or "label")
            for s in shapes.values()
            if s.get("kind") in LABEL_KINDS
        ),
        None,
    )
    reference = _reference(recipe, recipe_dir, seeds, real)
    return RunData(
        path,
        recipe,
        records,
        produced,
        fields,
        reference,
        funnel,
        label_field,
        verdicts,
        list(seeds.values()),
    )


def _fields(
    recipe: dict[str, Any], shapes: dict[str, dict[str, Any]], records: list[Record]
) -> list[str]:
    """The recipe's ``quality.fields``, else the text fields the tasks declare, else every
    string field the records have: the same text the quality gate read."""
    chosen = (recipe.get("quality") or {}).get("fields")
    if chosen:
        return [str(f) for f in chosen]
    declared: list[str] = []
    for shape in shapes.values():
        # a classifier's records: the document is the text; the label is not prose
        names = (
            [shape.get("prompt_field") or "text"]
            if shape.get("kind") in LABEL_KINDS
            else shape.get("fields") or []
        )
        for name in names:
            if name not in declared:
                declared.append(str(name))
    found = [
        name
        for name in declared
        if any(isinstance(r.data.get(name), str | list) for r in records[:200])
    ]
    if found:
        return found
    seen: dict[str, None] = {}
    for record in records[:200]:
        for name, value in record.data.items():
            if isinstance(value, str):
                seen.setdefault(name)
    return list(seen)


def _reference(
    recipe: dict[str, Any],
    recipe_dir: str | None,
    seeds: dict[str, dict[str, Any]],
    real: str | Path | None,
) -> Reference:
    named = real if real is not None else (recipe.get("report") or {}).get("real")
    if named is None:
        return Reference("seeds", list(seeds.values()))
    path = Path(named)
    if real is None and not path.is_absolute():  # the recipe's path: from the recipe's folder
        path = Path(recipe_dir) / path if recipe_dir else path
    if not path.is_file():
        raise SynthloomError(f"{path}: no such reference file (report.real / --real)")
    rows = []
    for line, raw in read_rows(path):
        if not isinstance(raw, dict):
            raise SynthloomError(f"{path}:{line}: each reference row must be an object")
        nested = raw.get("data")
        rows.append(dict(nested) if isinstance(nested, dict) else dict(raw))
    if not rows:
        raise SynthloomError(f"{path}: the reference file has no rows")
    return Reference(str(path), rows)


def review_summary(book: ReviewBook) -> dict[str, Any] | None:
    """The review's acceptance rate with its interval, as the review app's summary shows it."""
    if book.design() is None:
        return None
    found = summarize(book)
    return {
        "sample": found.sample,
        "population": found.population,
        "reviewed": found.reviewed,
        "accepted": found.accepted,
        "rate": round(found.overall.rate, 4) if found.reviewed else None,
        "low": round(found.overall.low, 4),
        "high": round(found.overall.high, 4),
        "reasons": dict(found.reasons),
        "edited": found.edited,
    }
