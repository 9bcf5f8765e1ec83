"""The review's state in the run store: which records were drawn (and how), and every
reviewer action, appended, never overwritten, so a verdict can be traced and an edit's
original is always kept in ``records``.

How the log changes the dataset is decided in :mod:`synthloom.review.log`; which records form
the dataset, in :mod:`synthloom.dataset`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from synthloom.dataset import Dataset
from synthloom.errors import ReviewError
from synthloom.records import Record
from synthloom.review.log import Outcome, Review, outcomes, review_of
from synthloom.review.sample import draw, score_band
from synthloom.review.stats import sample_size
from synthloom.store.sqlite import RunStore

REASONS = (
    "factually wrong",
    "unsafe advice",
    "does not answer the question",
    "unrealistic",
    "off-topic",
    "poor language",
    "personal data",
    "duplicate",
    "other",
)
ACTIONS = ("verdict", "edit", "comment")
MAX_REVIEWER = 64
MAX_TEXT = 5000
DEFAULT_MARGIN = 0.05  # the suggested sample: +-5 points at 95%


@dataclass(frozen=True, slots=True)
class Design:
    n: int
    seed: int
    stratify_by: list[str]
    population: int
    strata: dict[str, int]  # stratum -> how many records it holds (the estimate's weights)
    created: str


def stratum_of(record: Record, fields: list[str]) -> str:
    """``task``, ``judge`` (the judge's score band) or an axis name; several are combined."""
    if not fields:
        return "all"
    parts = []
    for name in fields:
        if name == "task":
            value = record.task
        elif name == "judge":
            mean = record.scores.get("judge_mean")
            value = score_band(float(mean) if mean is not None else None)
        else:
            value = str(record.provenance.axes.get(name, "(none)"))
        parts.append(f"{name}={value}")
    return ", ".join(parts)


class ReviewBook:
    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._db = store.connection

    # -- the sample ---------------------------------------------------------------------------
    def population(self) -> list[Record]:
        """What review speaks for: the dataset's records as the gate accepted them."""
        return list(Dataset(self.store).candidates())

    def design(self) -> Design | None:
        raw = self.store.get_meta("review_design")
        return None if raw is None else Design(**raw)

    def draw(
        self,
        n: int | None,
        stratify_by: list[str],
        seed: int,
        *,
        margin: float = DEFAULT_MARGIN,
        replace: bool = False,
    ) -> Design:
        """Draw the sample, or keep the one drawn before (so reviewers can come back).

        ``n`` None: the size a +-``margin`` interval at 95% needs for this population."""
        existing = self.design()
        if existing is not None and not replace:
            wanted = (n is None or n == existing.n) and stratify_by in ([], existing.stratify_by)
            if not wanted:
                raise ReviewError(
                    f"this run already has a review sample (n={existing.n}, stratified by "
                    f"{existing.stratify_by or 'nothing'}); pass --resample to draw a new one "
                    "(the reviews already given stay in the store)"
                )
            return existing
        records = self.population()
        if not records:
            raise ReviewError("no accepted records to review: run the recipe first")
        axes = {k for r in records for k in r.provenance.axes}
        for name in stratify_by:
            if name not in {"task", "judge"} | axes:
                known = ", ".join(["task", "judge", *sorted(axes)])
                raise ReviewError(f"cannot stratify by {name!r}: choose from {known}")
        size = n if n is not None else sample_size(margin, population=len(records))
        if size < 1:
            raise ReviewError(f"--sample must be at least 1, got {size}")
        strata: dict[str, int] = {}
        for record in records:
            key = stratum_of(record, stratify_by)
            strata[key] = strata.get(key, 0) + 1
        chosen = draw(
            records,
            size,
            seed,
            (lambda r: stratum_of(r, stratify_by)) if stratify_by else None,
            id_of=lambda r: r.id,
        )
        # shown in a seeded shuffle, not id order: neighbours in id order share a seed row
        order = sorted(chosen, key=lambda r: _hash_order(seed, r.id))
        design = Design(len(order), seed, list(stratify_by), len(records), strata, _now())
        with self._db:
            self._db.execute("DELETE FROM review_sample")
            self._db.executemany(
                "INSERT INTO review_sample (record_id, position, stratum) VALUES (?, ?, ?)",
                ((r.id, i, stratum_of(r, stratify_by)) for i, r in enumerate(order)),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('review_design', ?)",
                (orjson.dumps(asdict(design)).decode(),),
            )
        return design

    def size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM review_sample").fetchone()[0])

    def entry(self, position: int) -> tuple[Record, str]:
        row = self._db.execute(
            "SELECT record_id, stratum FROM review_sample WHERE position = ?", (position,)
        ).fetchone()
        if row is None:
            raise ReviewError(f"no record at position {position} (the sample has {self.size()})")
        record = self.store.record(row[0])
        if record is None:
            raise ReviewError(f"record {row[0]} is in the sample but not in the store")
        return record, str(row[1])

    def position_of(self, record_id: str) -> int | None:
        row = self._db.execute(
            "SELECT position FROM review_sample WHERE record_id = ?", (record_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    # -- actions ------------------------------------------------------------------------------
    def add(
        self,
        record_id: str,
        reviewer: str,
        action: str,
        *,
        verdict: str | None = None,
        reason: str | None = None,
        comment: str | None = None,
        edit: dict[str, Any] | None = None,
    ) -> Review:
        reviewer = check_reviewer(reviewer)
        if self.position_of(record_id) is None:
            raise ReviewError(f"record {record_id} is not in the review sample")
        if action == "verdict":
            if verdict not in ("accept", "reject"):
                raise ReviewError(f"verdict must be 'accept' or 'reject', not {verdict!r}")
            reason = (reason or "").strip() or None
            if verdict == "reject" and reason is None:
                raise ReviewError("a rejection needs a reason: pick one or write one")
            if verdict == "accept":
                reason = None
        elif action == "edit":
            record = self.store.record(record_id)
            assert record is not None
            edit = check_edit(record.data, edit)
        elif action == "comment":
            comment = (comment or "").strip()
            if not comment:
                raise ReviewError("the comment is empty")
        else:
            raise ReviewError(f"unknown review action {action!r} (one of {', '.join(ACTIONS)})")
        for name, text in (("reason", reason), ("comment", comment)):
            if text is not None and len(text) > MAX_TEXT:
                raise ReviewError(f"the {name} is longer than {MAX_TEXT} characters")
        ts = _now()
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO reviews (record_id, reviewer, action, verdict, reason, comment,"
                " edit, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record_id,
                    reviewer,
                    action,
                    verdict if action == "verdict" else None,
                    reason if action == "verdict" else None,
                    comment if action == "comment" else None,
                    orjson.dumps(edit).decode() if action == "edit" else None,
                    ts,
                ),
            )
        seq = int(cursor.lastrowid or 0)
        return Review(seq, record_id, reviewer, action, verdict, reason, comment, edit, ts)

    def outcomes(self) -> list[Outcome]:
        """Every sampled record in review order, with its latest verdict per reviewer."""
        return outcomes(self._db)

    def history(self, record_id: str) -> list[Review]:
        rows = self._db.execute(
            "SELECT seq, record_id, reviewer, action, verdict, reason, comment, edit, ts"
            " FROM reviews WHERE record_id = ? ORDER BY seq",
            (record_id,),
        )
        return [review_of(row) for row in rows]

    def progress(self, reviewer: str) -> tuple[int, int, int]:
        """(reviewed by this reviewer, reviewed by anyone, sample size). Asked on every page,
        so counted in SQL rather than by replaying every review."""
        mine, anyone = self._db.execute(
            "SELECT COUNT(DISTINCT CASE WHEN r.reviewer = ? THEN s.record_id END),"
            " COUNT(DISTINCT s.record_id)"
            " FROM review_sample s JOIN reviews r ON r.record_id = s.record_id"
            " WHERE r.action = 'verdict'",
            (reviewer,),
        ).fetchone()
        return int(mine), int(anyone), self.size()

    def next_for(self, reviewer: str, after: int = -1) -> int | None:
        """The first position after ``after`` this reviewer has not given a verdict on
        (wrapping round once), or None when they are done."""
        open_positions = [
            int(position)
            for (position,) in self._db.execute(
                "SELECT position FROM review_sample s WHERE NOT EXISTS (SELECT 1 FROM reviews r"
                " WHERE r.record_id = s.record_id AND r.reviewer = ? AND r.action = 'verdict')"
                " ORDER BY position",
                (reviewer,),
            )
        ]
        later = [p for p in open_positions if p > after]
        return (later or open_positions)[0] if open_positions else None


def check_reviewer(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_REVIEWER or not name.isprintable():
        raise ReviewError(f"a reviewer name is 1-{MAX_REVIEWER} printable characters")
    return name


def is_conversation(value: Any) -> bool:
    """Turns with text: shown turn by turn, and editable turn by turn."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in value)
    )


def check_edit(original: dict[str, Any], edit: dict[str, Any] | None) -> dict[str, Any]:
    """An edit keeps the record's shape: the same fields, text where there was text, the same
    turns (roles) in a conversation. Only text changes."""
    if not isinstance(edit, dict):
        raise ReviewError("an edit must give the record's fields")
    unknown = sorted(set(edit) - set(original))
    if unknown:
        raise ReviewError(f"the edit names fields the record does not have: {unknown}")
    out = dict(original)
    for name, value in edit.items():
        before = original[name]
        if isinstance(before, str):
            if not isinstance(value, str):
                raise ReviewError(f"field {name!r} is text")
            out[name] = _limit(name, value)
        elif is_conversation(before):
            if not isinstance(value, list) or len(value) != len(before):
                raise ReviewError(f"field {name!r} must keep its {len(before)} turns")
            turns = []
            for i, (old, new) in enumerate(zip(before, value, strict=True)):
                text = new.get("content") if isinstance(new, dict) else new
                if not isinstance(text, str):
                    raise ReviewError(f"turn {i + 1} of {name!r} is text")
                turns.append({**old, "content": _limit(f"{name}[{i}]", text)})
            out[name] = turns
        elif value != before:
            raise ReviewError(f"field {name!r} is not text and cannot be edited here")
    return out


def _limit(name: str, text: str) -> str:
    if len(text) > 20 * MAX_TEXT:
        raise ReviewError(f"field {name!r} is longer than {20 * MAX_TEXT} characters")
    if not text.strip():
        raise ReviewError(f"field {name!r} cannot be empty")
    return text


def _hash_order(seed: int, rid: str) -> bytes:
    import hashlib

    return hashlib.blake2b(f"{seed}:{rid}".encode(), digest_size=8).digest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
