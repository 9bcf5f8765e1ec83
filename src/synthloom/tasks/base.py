"""The task extension point: turn one planned row into one job for the engine."""

from __future__ import annotations

from abc import ABC, abstractmethod

from synthloom.engine.job import Job
from synthloom.plan import PlannedRow


class Task(ABC):
    name: str

    @abstractmethod
    def job(self, row: PlannedRow) -> Job: ...
