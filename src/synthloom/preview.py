"""``synthloom preview``: a few rows through the whole pipeline (model, re-asks, quality gate)
in a throw-away directory, and what the full run would cost, measured rather than guessed.

The estimate scales what the rows actually took: each record's own time from start to finish
(so loading the model once does not count per row), divided by how many rows run at once,
and their actual tokens. A run directory is never touched: preview takes none."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from synthloom.backends.base import Backend
from synthloom.dataset import Dataset
from synthloom.finalize import RunSummary
from synthloom.hooks import OnRecord, OnStart
from synthloom.recipe import Recipe, load_recipe
from synthloom.records import Record, Status
from synthloom.run import run
from synthloom.scaffold import clip


@dataclass(slots=True, frozen=True)
class PreviewRow:
    record: Record
    seed: tuple[str, dict[str, Any]] | None  # (id, fields) of the seed it was made from

    @property
    def verdict(self) -> str:
        if self.record.status is Status.ACCEPTED:
            return "kept"
        return f"{self.record.status}: {self.record.reason or 'unspecified'}"


@dataclass(slots=True, frozen=True)
class Preview:
    rows: list[PreviewRow]
    summary: RunSummary
    target: int  # the recipe's full run
    seconds_per_row: float  # one record, start to finish
    parallel: int  # rows in flight at once in the full run
    tokens_per_row: float  # prompt + completion, re-asks included
    cost_per_row: float | None

    @property
    def estimate_seconds(self) -> float:
        return self.target * self.seconds_per_row / self.parallel

    @property
    def estimate_tokens(self) -> int:
        return round(self.target * self.tokens_per_row)

    @property
    def estimate_cost(self) -> float | None:
        return None if self.cost_per_row is None else self.target * self.cost_per_row

    @property
    def kept_share(self) -> float:
        return self.summary.accepted / len(self.rows) if self.rows else 0.0


def preview(
    recipe: Recipe | str | Path,
    *,
    n: int = 5,
    dry_run: bool = False,
    backend: Backend | None = None,
    on_start: OnStart | None = None,
    on_record: OnRecord | None = None,
) -> Preview:
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    recipe.require_generation()
    assert recipe.target is not None  # require_generation
    with tempfile.TemporaryDirectory(prefix="synthloom-preview-") as tmp:
        summary = run(
            recipe,
            tmp,
            n=min(n, recipe.target),
            dry_run=dry_run,
            backend=backend,
            on_start=on_start,
            on_record=on_record,
        )
        with Dataset.open(tmp) as dataset:
            seeds: dict[str, dict[str, Any]] = dataset.store.get_meta("seeds") or {}
            records = list(dataset.produced())
    rows = [PreviewRow(r, _seed(r, seeds)) for r in records]
    seconds = [_seconds(r) for r in records]
    per_row = sum(seconds) / len(seconds) if seconds else 0.0
    tokens = [r.provenance.prompt_tokens + r.provenance.completion_tokens for r in records]
    prices = recipe.model.prices
    cost = None
    if prices is not None and records:
        spent = sum(
            r.provenance.prompt_tokens * prices.input
            + r.provenance.completion_tokens * prices.output
            for r in records
        )
        cost = spent / 1e6 / len(records)
    # the embedded model decodes one call at a time whatever the concurrency says
    parallel = 1 if recipe.model.backend == "embedded" else recipe.model.concurrency
    return Preview(
        rows,
        summary,
        recipe.target,
        per_row,
        parallel,
        sum(tokens) / len(tokens) if tokens else 0.0,
        cost,
    )


def _seed(record: Record, seeds: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    ids = record.provenance.seed_ids or (
        [record.provenance.parent] if record.provenance.parent else []
    )
    for seed_id in ids:
        if seed_id in seeds:
            return seed_id, seeds[seed_id]
    return None


def _seconds(record: Record) -> float:
    p = record.provenance
    if not p.started_at or not p.finished_at:
        return 0.0
    return (
        datetime.fromisoformat(p.finished_at) - datetime.fromisoformat(p.started_at)
    ).total_seconds()


def preview_lines(found: Preview, width: int = 160) -> list[str]:
    """Each record beside its seed and axis values with the gate's verdict, then the
    estimate for the full run."""
    lines: list[str] = []
    for i, row in enumerate(found.rows, start=1):
        record = row.record
        lines.append(f"── row {i}: {row.verdict}")
        if record.status is not Status.ACCEPTED and record.error:
            lines.append(f"   why: {clip(record.error, width)}")
        if record.provenance.axes:
            axes = ", ".join(f"{k}={v}" for k, v in record.provenance.axes.items())
            lines.append(f"   axes: {clip(axes, width)}")
        if row.seed is not None:
            seed_id, fields = row.seed
            lines.append(f"   seed {seed_id}:")
            lines += [f"     {k}: {clip(str(v), width)}" for k, v in fields.items()]
        lines.append("   record:")
        lines += [f"     {k}: {clip(_text(v), width)}" for k, v in record.data.items()]
    s = found.summary
    dropped = ", ".join(f"{r} {n}" for r, n in (s.rejected + s.failed).most_common())
    lines.append(
        f"preview: {len(found.rows)} rows, {s.accepted} kept ({found.kept_share:.0%})"
        + (f", dropped: {dropped}" if dropped else "")
    )
    at_once = "one at a time" if found.parallel == 1 else f"{found.parallel} at a time"
    cost = found.estimate_cost
    lines.append(
        f"full run of {found.target:,} rows: about {_duration(found.estimate_seconds)} "
        f"({found.seconds_per_row:.1f} s a row, {at_once}), {found.estimate_tokens:,} tokens"
        + (f", ${cost:,.2f}" if cost is not None else " (set model.prices for the cost)")
        + f", about {round(found.target * found.kept_share):,} kept at this rate"
    )
    return lines


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(
            f"{m.get('role')}: {m.get('content')}" if isinstance(m, dict) else str(m) for m in value
        )
    return str(value)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
