"""The recipe's ``report:`` section: the real data to compare with, and the thresholds that
turn a metric into a warning (defaults in :data:`synthloom.report.warnings.RULES`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ReportSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    real: str | None = None  # JSONL/CSV/Parquet of real rows; default: the seeds
    thresholds: dict[str, float] = Field(default_factory=dict)  # metric path -> threshold

    @field_validator("thresholds")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        from synthloom.report.warnings import RULES

        unknown = sorted(set(value) - {rule.metric for rule in RULES})
        if unknown:
            known = ", ".join(rule.metric for rule in RULES)
            raise ValueError(f"unknown threshold {unknown[0]!r} (one of: {known})")
        return value
