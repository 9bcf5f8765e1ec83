"""Finishing a run: the dataset files and the one summary object every front end renders.

Both read the dataset view, so ``dataset.jsonl`` is always what an export writes, and
``rejected.jsonl`` lists every record of the dataset's stages that is not in it, with why.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from synthloom.dataset import Dataset
from synthloom.executors.base import ExecutionStats
from synthloom.export.formats import full_record
from synthloom.planning import StagePlan
from synthloom.quality.gate import Gate
from synthloom.recipe import Recipe
from synthloom.records import Status
from synthloom.rundir import DATASET_FILE, REJECTED_FILE
from synthloom.store.sqlite import RunStore

_SIMILARITY = ("seed_jaccard", "seed_substring", "seed_cosine")


@dataclass(slots=True)
class RunSummary:
    outdir: Path
    planned: int = 0
    resumed: int = 0  # rows already complete from an earlier run into the same directory
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    model_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    wall_seconds: float = 0.0
    stopped: str | None = None  # why the run ended before its plan was done (the budget)
    # rows that produced output, then what each quality step dropped, in gate order
    funnel: list[tuple[str, int]] = field(default_factory=list)
    calibration: dict[str, Any] | None = None  # judge vs human verdicts, when the recipe asks
    # closest-seed similarity over every checked record: {p50, p90, p99, max, n} per score
    seed_similarity: dict[str, dict[str, float]] = field(default_factory=dict)
    backend: str = ""  # the backend and model that wrote the records
    model: str = ""
    # this process's calls per server ({calls, ok, failed, taken_out}), when several share them
    endpoints: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outdir": str(self.outdir),
            "planned": self.planned,
            "resumed": self.resumed,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "failed": dict(self.failed),
            "model_calls": self.model_calls,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "wall_seconds": round(self.wall_seconds, 3),
            "stopped": self.stopped,
            "funnel": [list(step) for step in self.funnel],
            "calibration": self.calibration,
            "seed_similarity": self.seed_similarity,
            "backend": self.backend,
            "model": self.model,
            "endpoints": self.endpoints,
        }


def summarize(
    store: RunStore,
    recipe: Recipe,
    gate: Gate | None,
    plans: list[StagePlan],
    stats: ExecutionStats,
) -> RunSummary:
    summary = RunSummary(store.path.parent)
    for plan in plans:
        if plan.stage.in_dataset:
            summary.planned += plan.size
            summary.resumed += len(plan.done)
    summary.model_calls = stats.model_calls
    summary.cache_hits = stats.cache_hits
    summary.stopped = stats.stopped
    dropped: Counter[str] = Counter()
    generated = 0
    similarity: dict[str, list[float]] = {name: [] for name in _SIMILARITY}
    for record in Dataset(store).produced():
        for name, values in similarity.items():
            if name in record.scores:
                values.append(float(record.scores[name]))
        step = gate.step_of(record.reason) if gate is not None else None
        if record.status is Status.ACCEPTED or step is not None:
            generated += 1
        if step is not None and record.status is Status.REJECTED:
            dropped[step] += 1
        summary.prompt_tokens += record.provenance.prompt_tokens
        summary.completion_tokens += record.provenance.completion_tokens
        if record.status is Status.ACCEPTED:
            summary.accepted += 1
        elif record.status is Status.REJECTED:
            summary.rejected[record.reason or "unspecified"] += 1
        else:
            summary.failed[record.reason or "unspecified"] += 1
    if gate is not None:
        summary.funnel = [("generated", generated)] + [(s, dropped[s]) for s in gate.steps]
    summary.seed_similarity = {
        name: _distribution(values) for name, values in similarity.items() if values
    }
    prices = recipe.model.prices
    if prices is not None:
        summary.cost = (
            summary.prompt_tokens * prices.input + summary.completion_tokens * prices.output
        ) / 1e6
    return summary


def _distribution(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"n": len(ordered), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)}


def write_outputs(store: RunStore, outdir: str | Path) -> None:
    """Rewrite dataset.jsonl and rejected.jsonl from the dataset view (atomically, in row
    order): after a run, an interrupted run, or a review session."""
    outdir = Path(outdir)
    dataset, rejected = outdir / DATASET_FILE, outdir / REJECTED_FILE
    view = Dataset(store)
    with open(f"{dataset}.tmp", "wb") as fh:
        for record in view.records():
            fh.write(orjson.dumps(full_record(record, None)) + b"\n")
    with open(f"{rejected}.tmp", "wb") as fh:
        for record in view.excluded():
            fh.write(orjson.dumps(record.to_dict()) + b"\n")
    os.replace(f"{dataset}.tmp", dataset)
    os.replace(f"{rejected}.tmp", rejected)
