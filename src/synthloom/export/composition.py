"""What a training set is made of: the figures the export prints and the dataset card states."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REAL = "real"
SYNTHETIC = "synthetic"


@dataclass(slots=True)
class Composition:
    """Every row the training set could have held is counted here: those it holds, per split
    and origin, and those it does not, with why."""

    real_source: str | None = None  # "seeds" or the real file; None: no real rows asked for
    real_fraction: float = 0.0  # the share of real rows asked for
    real_available: int = 0  # real rows with the fields the format needs
    real_left_out: dict[str, int] = field(default_factory=dict)  # why other real rows could not
    real_distinct: int = 0  # distinct real rows in the set (each may be repeated)
    synthetic_available: int = 0  # the dataset's rows of the chosen tasks
    synthetic_duplicates: int = 0  # synthetic rows whose prompt a real row already has
    synthetic_capped: int = 0  # synthetic rows left out to hold the real share
    splits: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> origin -> rows
    notes: list[str] = field(default_factory=list)  # capping, upsampling, empty splits: in words

    @property
    def rows(self) -> int:
        return sum(sum(by_origin.values()) for by_origin in self.splits.values())

    @property
    def real_rows(self) -> int:
        return sum(by_origin.get(REAL, 0) for by_origin in self.splits.values())

    @property
    def real_share(self) -> float:
        return self.real_rows / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "real_source": self.real_source,
            "real_fraction": self.real_fraction,
            "real_available": self.real_available,
            "real_left_out": dict(self.real_left_out),
            "real_distinct": self.real_distinct,
            "real_rows": self.real_rows,
            "real_share": round(self.real_share, 6),
            "synthetic_available": self.synthetic_available,
            "synthetic_duplicates": self.synthetic_duplicates,
            "synthetic_capped": self.synthetic_capped,
            "rows": self.rows,
            "splits": {name: dict(by_origin) for name, by_origin in self.splits.items()},
            "notes": list(self.notes),
        }
