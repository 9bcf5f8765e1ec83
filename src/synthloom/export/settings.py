"""The recipe's training-set sections: ``mix:`` (real rows beside the synthetic ones),
``splits:`` (held-out shares) and ``export:`` (the files ``synthloom run`` writes at its end).

The ``export`` command takes the same settings as options; an option given there overrides the
recipe's value for that export only."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

HF = "hf"  # the Hugging Face folder: Parquet per split and a dataset card
TRAIN = "train"  # the split that takes every row no other split claims
_SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MixSettings(_Strict):
    """How many real rows the training set holds, and how to get there when they are few.

    The share is exact to one row. With too few real rows, ``upsample`` repeats each real row
    up to ``max_real_repeats`` times; past that (or with ``upsample: false``) the synthetic
    rows are capped instead, and the export says by how many."""

    real: str | None = None  # a JSONL/CSV/Parquet of real rows; default: the seeds
    real_fraction: float = Field(default=0.2, ge=0, lt=1)
    upsample: bool = True
    max_real_repeats: int = Field(default=5, ge=1)


def check_splits(value: dict[str, float]) -> dict[str, float]:
    """Held-out split shares: ``train`` takes the rest, so it is never named."""
    for name, share in value.items():
        if name == TRAIN:
            raise ValueError("'train' takes every row the other splits do not; do not list it")
        if not _SPLIT_NAME.match(name):
            raise ValueError(f"split name {name!r} must be a letter then letters, digits or _")
        if not 0 <= share < 1:
            raise ValueError(f"split {name!r}: a share from 0 to below 1 (got {share})")
    if sum(value.values()) >= 1:
        raise ValueError(f"the split shares add up to {sum(value.values()):g}; leave some to train")
    return value


class ExportTarget(_Strict):
    """One file (or, for ``hf``, one folder) written at the end of ``synthloom run``."""

    format: str
    path: str  # relative to the run directory
    split: str | None = None  # only this split's rows (file formats); default: every row
    tasks: list[str] | None = None  # only these tasks' records; default: every dataset task
    rows: str | None = None  # hf only: the row format inside the Parquet files

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        from synthloom.export.formats import FORMATS

        if value not in (*FORMATS, HF):
            raise ValueError(f"unknown export format {value!r} (one of: {', '.join(FORMATS)}, hf)")
        return value

    @model_validator(mode="after")
    def _rows_for_hf(self) -> ExportTarget:
        if self.rows is not None and self.format != HF:
            raise ValueError("rows: picks the row format inside an hf folder; use format instead")
        if self.split is not None and self.format == HF:
            raise ValueError("an hf folder holds every split; drop split:")
        return self
