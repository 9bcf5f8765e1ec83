"""The executor extension point: given a planned stage, run a range of its rows.

Planning fixes every row of a stage (ids, fingerprints, inputs) before anything runs, and row
``p`` depends only on ``p``; so an executor only decides where and how rows run: all of them on
this process's engine, or ranges as shards elsewhere, merged back in row order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from synthloom.planning import StagePlan


@dataclass(slots=True)
class ExecutionStats:
    model_calls: int = 0
    cache_hits: int = 0
    stopped: str | None = None  # why execution stopped before the plan was done (the budget)
    endpoints: dict[str, dict[str, int]] = field(default_factory=dict)  # counts made elsewhere


class Executor(ABC):
    """Runs rows; the base owns the counters every executor reports."""

    def __init__(self) -> None:
        self.stats = ExecutionStats()

    @abstractmethod
    async def run_stage(self, stage: StagePlan, rows: range) -> None:
        """Run the rows at ``rows`` of ``stage`` and store their records; update ``stats``.
        Returns early, with ``stats.stopped`` set, when the budget runs out."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the executor started (a Ray cluster)."""
