"""The review log read back: every reviewer action is appended to ``reviews`` and never
overwritten, so what review decided is a replay of the log. The rule lives here once:

- a record is out of the dataset if any reviewer's latest verdict rejects it (one expert's
  objection is enough to keep a record out of training data);
- a record's data is its latest edit, when someone edited it (the original stays in
  ``records``).

This module reads only the review tables, so the dataset view can use it without depending on
the review app or its sampling."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Review:
    seq: int
    record_id: str
    reviewer: str
    action: str
    verdict: str | None
    reason: str | None
    comment: str | None
    edit: dict[str, Any] | None
    ts: str


@dataclass(slots=True)
class Outcome:
    """One sampled record's state: each reviewer's latest verdict, and the latest edit."""

    record_id: str
    stratum: str
    verdicts: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # who -> (v, why)
    edit: dict[str, Any] | None = None

    @property
    def reviewed(self) -> bool:
        return bool(self.verdicts)

    @property
    def accepted(self) -> bool:
        return self.reviewed and all(v == "accept" for v, _ in self.verdicts.values())

    @property
    def rejections(self) -> list[str]:
        """``reviewer: reason`` for each reviewer whose latest verdict rejects the record."""
        return [f"{who}: {why}" for who, (v, why) in self.verdicts.items() if v == "reject"]


@dataclass(slots=True, frozen=True)
class Overrides:
    """What review changes in the dataset."""

    rejected: dict[str, list[str]]  # record id -> the rejecting reviewers' reasons
    edits: dict[str, dict[str, Any]]  # record id -> the data to use instead


def review_of(row: Iterable[Any]) -> Review:
    seq, rid, reviewer, action, verdict, reason, comment, edit, ts = row
    return Review(
        seq,
        rid,
        reviewer,
        action,
        verdict,
        reason,
        comment,
        orjson.loads(edit) if edit is not None else None,
        ts,
    )


def outcomes(db: sqlite3.Connection) -> list[Outcome]:
    """Every sampled record in review order, then records reviewed only in an earlier sample,
    each with its latest verdict per reviewer and its latest edit."""
    out = {
        rid: Outcome(rid, stratum)
        for rid, stratum in db.execute(
            "SELECT record_id, stratum FROM review_sample ORDER BY position"
        )
    }
    rows = db.execute(
        "SELECT seq, record_id, reviewer, action, verdict, reason, comment, edit, ts"
        " FROM reviews ORDER BY seq"
    )
    for review in map(review_of, rows):
        outcome = out.get(review.record_id)
        if outcome is None:  # reviewed in an earlier sample: its verdicts and edit still count
            outcome = Outcome(review.record_id, "")
            out[review.record_id] = outcome
        if review.action == "verdict" and review.verdict is not None:
            outcome.verdicts[review.reviewer] = (review.verdict, review.reason)
        elif review.action == "edit":
            outcome.edit = review.edit
    return list(out.values())


def overrides(db: sqlite3.Connection) -> Overrides:
    rejected: dict[str, list[str]] = {}
    edits: dict[str, dict[str, Any]] = {}
    for outcome in outcomes(db):
        if outcome.rejections:
            rejected[outcome.record_id] = outcome.rejections
        if outcome.edit is not None:
            edits[outcome.record_id] = outcome.edit
    return Overrides(rejected, edits)
