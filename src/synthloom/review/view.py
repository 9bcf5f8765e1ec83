"""What a reviewer sees of one record, shaped for the templates, and the edit form read back.

Kept apart from the HTTP layer so the templates only loop and print: every decision about
what is shown (the current text is the latest edit, a conversation is its turns, which scores
belong to the judge) lives here, where it can be tested without a server. Nothing here builds
HTML; the templates escape every value they print."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from synthloom.errors import ReviewError
from synthloom.records import Record
from synthloom.review.book import ReviewBook, check_edit, is_conversation
from synthloom.review.log import Review

TEXT_INPUT = "text:"  # form name of a text field: "text:<field>"
TURN_INPUT = "turn:"  # form name of a conversation turn: "turn:<index>:<field>"
# shown in their own sections, so not repeated among "other notes"
_SHOWN_NOTES = {"judge", "claims", "nearest_seed"}


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str
    input: str


@dataclass(frozen=True, slots=True)
class FieldView:
    """A text field, a conversation (``turns``), or anything else shown as JSON, read-only."""

    name: str
    kind: str  # "text" | "turns" | "other"
    text: str = ""
    turns: tuple[Turn, ...] = ()
    input: str = ""


@dataclass(frozen=True, slots=True)
class JudgeRow:
    criterion: str
    score: str
    rationale: str


@dataclass(frozen=True, slots=True)
class SeedView:
    id: str
    fields: list[tuple[str, str]]  # empty when the run predates stored seeds


@dataclass(slots=True)
class HistoryRow:
    reviewer: str
    what: str
    detail: str
    ts: str


@dataclass(slots=True)
class RecordView:
    position: int
    size: int
    record: Record
    stratum: str
    fields: list[FieldView]
    original: list[FieldView] | None  # the generated text, when an edit replaced it
    edited_by: str | None
    provenance: list[tuple[str, str]]
    judge: list[JudgeRow]
    judge_mean: str | None
    scores: list[tuple[str, str]]
    claims: list[tuple[str, bool]]
    nearest: SeedView | None
    sources: list[SeedView]
    notes: list[tuple[str, str]]
    history: list[HistoryRow]
    my_verdict: tuple[str, str | None] | None
    progress: tuple[int, int, int]
    next_open: int | None


def as_text(value: Any) -> str:
    """A value as the reviewer should read it: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def field_views(data: Mapping[str, Any]) -> list[FieldView]:
    out = []
    for name, value in data.items():
        if isinstance(value, str):
            out.append(FieldView(name, "text", text=value, input=TEXT_INPUT + name))
        elif is_conversation(value):
            turns = tuple(
                Turn(str(m.get("role", "?")), m["content"], f"{TURN_INPUT}{i}:{name}")
                for i, m in enumerate(value)
            )
            out.append(FieldView(name, "turns", turns=turns))
        else:
            out.append(FieldView(name, "other", text=as_text(value)))
    return out


def edit_from_form(form: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The edit as :func:`check_edit` takes it. Browsers send textarea text with CRLF line
    ends; they are put back to LF so an untouched field compares equal to the original."""
    edit: dict[str, Any] = {}
    turns: dict[str, dict[int, str]] = {}
    for key, value in form:
        if not isinstance(value, str):
            raise ReviewError("an edit is text: files cannot be sent")
        text = value.replace("\r\n", "\n")
        if key.startswith(TEXT_INPUT):
            edit[key.removeprefix(TEXT_INPUT)] = text
        elif key.startswith(TURN_INPUT):
            index, _, name = key.removeprefix(TURN_INPUT).partition(":")
            if not index.isdigit() or not name:
                raise ReviewError(f"malformed edit input {key!r}")
            turns.setdefault(name, {})[int(index)] = text
    for name, by_index in turns.items():
        if sorted(by_index) != list(range(len(by_index))):
            raise ReviewError(f"the edit of {name!r} skips turns")
        edit[name] = [by_index[i] for i in range(len(by_index))]
    if not edit:
        raise ReviewError("the edit form sent no fields")
    return edit


def latest_edit(history: list[Review]) -> Review | None:
    edits = [r for r in history if r.action == "edit" and r.edit is not None]
    return edits[-1] if edits else None


def current_data(record: Record, history: list[Review]) -> dict[str, Any]:
    """What an export would write for this record: the latest edit, else the original."""
    last = latest_edit(history)
    return dict(last.edit) if last is not None and last.edit is not None else dict(record.data)


def changed_edit(record: Record, history: list[Review], edit: dict[str, Any]) -> bool:
    """Whether the edit changes what would be exported (saving an untouched form is a no-op
    and must not count the record as edited)."""
    return check_edit(record.data, edit) != current_data(record, history)


def record_view(book: ReviewBook, position: int, reviewer: str) -> RecordView:
    record, stratum = book.entry(position)
    history = book.history(record.id)
    last = latest_edit(history)
    seeds: dict[str, Any] = book.store.get_meta("seeds") or {}
    nearest_id = record.notes.get("nearest_seed")
    verdicts = [r for r in history if r.action == "verdict" and r.reviewer == reviewer]
    return RecordView(
        position=position,
        size=book.size(),
        record=record,
        stratum=stratum,
        fields=field_views(current_data(record, history)),
        original=field_views(record.data) if last is not None else None,
        edited_by=last.reviewer if last is not None else None,
        provenance=_provenance(record),
        judge=_judge(record),
        judge_mean=_number(record.scores["judge_mean"]) if "judge_mean" in record.scores else None,
        scores=[
            (name, _number(value))
            for name, value in sorted(record.scores.items())
            if not name.startswith("judge_")
        ],
        claims=[
            (str(c.get("claim", "")), bool(c.get("supported")))
            for c in record.notes.get("claims") or []
            if isinstance(c, dict)
        ],
        nearest=_seed(str(nearest_id), seeds) if nearest_id else None,
        sources=[_seed(sid, seeds) for sid in record.provenance.seed_ids if sid != nearest_id],
        notes=[
            (name, as_text(value))
            for name, value in sorted(record.notes.items())
            if name not in _SHOWN_NOTES
        ],
        history=[_history(r, record) for r in history],
        my_verdict=(verdicts[-1].verdict or "", verdicts[-1].reason) if verdicts else None,
        progress=book.progress(reviewer),
        next_open=book.next_for(reviewer, position),
    )


def _provenance(record: Record) -> list[tuple[str, str]]:
    p = record.provenance
    rows = [
        ("record", record.id),
        ("task", p.task),
        ("seeds", ", ".join(p.seed_ids) or "none"),
        *((f"axis · {name}", as_text(value)) for name, value in p.axes.items()),
        ("model", f"{p.model} ({p.backend})"),
        ("template hash", p.template_hash),
        ("attempts", str(p.attempts)),
        ("recipe", f"{p.recipe}, row {p.row}"),
    ]
    if p.parent:
        rows.append(("made from", p.parent))
    return rows


def _judge(record: Record) -> list[JudgeRow]:
    rationales = record.notes.get("judge")
    rationales = rationales if isinstance(rationales, dict) else {}
    criteria = [name for name in rationales]
    criteria += [
        name.removeprefix("judge_")
        for name in record.scores
        if name.startswith("judge_") and name != "judge_mean"
    ]
    rows = []
    for name in dict.fromkeys(criteria):  # rationale order first, no repeats
        score = record.scores.get(f"judge_{name}")
        rows.append(
            JudgeRow(
                name,
                _number(score) if score is not None else "–",
                as_text(rationales.get(name, "")),
            )
        )
    return rows


def _seed(seed_id: str, seeds: Mapping[str, Any]) -> SeedView:
    fields = seeds.get(seed_id)
    if not isinstance(fields, dict):
        return SeedView(seed_id, [])
    return SeedView(seed_id, [(k, as_text(v)) for k, v in fields.items() if k != "id"])


def _history(review: Review, record: Record) -> HistoryRow:
    if review.action == "verdict":
        what = "accepted" if review.verdict == "accept" else "rejected"
        return HistoryRow(review.reviewer, what, review.reason or "", _when(review.ts))
    if review.action == "edit":
        changed = [
            name for name, value in (review.edit or {}).items() if value != record.data.get(name)
        ]
        return HistoryRow(review.reviewer, "edited", ", ".join(changed), _when(review.ts))
    return HistoryRow(review.reviewer, "commented", review.comment or "", _when(review.ts))


def _when(ts: str) -> str:
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return ts
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return as_text(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0")
