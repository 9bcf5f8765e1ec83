"""Real rows for the training set: read, matched to a task whose row format they fit, and made
into records like the synthetic ones (origin ``real``), so one converter writes both."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthloom.errors import SynthloomError
from synthloom.export.formats import Roles
from synthloom.records import Origin, Provenance, Record
from synthloom.seeds import read_rows

SEEDS = "seeds"


@dataclass(frozen=True, slots=True)
class RealRow:
    id: str
    fields: dict[str, Any]
    seed: bool  # the row is one of the run's seeds (so it shares a family with its records)
    source: str
    line: int


def read_real(path: Path | None, seeds: dict[str, dict[str, Any]]) -> tuple[str, list[RealRow]]:
    """(where the rows came from, the rows): ``path``, or the run's seeds when it is None.

    A row read from a file whose ``id`` is a seed's id is that seed: its family is the same."""
    if path is None:
        rows = [RealRow(sid, dict(f), True, SEEDS, i) for i, (sid, f) in enumerate(seeds.items())]
        return SEEDS, rows
    if not path.is_file():
        raise SynthloomError(f"{path}: no such file of real rows (mix.real / --real)")
    found: list[RealRow] = []
    for line, raw in read_rows(path):
        if not isinstance(raw, dict):
            raise SynthloomError(f"{path}:{line}: each real row must be an object")
        nested = raw.get("data")  # a synthloom dataset.jsonl row keeps its fields under data
        fields = dict(nested) if isinstance(nested, dict) else dict(raw)
        row_id = str(raw.get("id") if raw.get("id") is not None else f"{path.name}:{line}")
        fields.pop("id", None)
        found.append(RealRow(row_id, fields, row_id in seeds, str(path), line))
    if not found:
        raise SynthloomError(f"{path}: the file of real rows holds no rows")
    return str(path), found


def needed_fields(format: str, roles: Roles) -> list[str]:
    """The fields a row must have to be written in ``format`` for a task with ``roles``."""
    if roles.messages is not None:
        return [roles.messages]
    if format == "dpo":
        return ["prompt", "chosen", "rejected"]
    return [roles.prompt, roles.response]


def join(
    rows: list[RealRow], needs: dict[str, list[str]], keep: dict[str, list[str]], recipe: str
) -> tuple[list[tuple[RealRow, Record]], Counter[str]]:
    """Each row as a record of the first task (in run order) whose fields it has, holding the
    fields that task's records hold (``keep``); the rest counted by why they could not join."""
    joined: list[tuple[RealRow, Record]] = []
    left_out: Counter[str] = Counter()
    for row in rows:
        task = next(
            (name for name, fields in needs.items() if _has(row.fields, fields)),
            None,
        )
        if task is None:
            left_out[_why(row.fields, needs)] += 1
            continue
        # the task's fields, null where the row has none: one table holds both origins
        fields = keep.get(task) or list(row.fields)
        data = {name: row.fields.get(name) for name in fields}
        joined.append((row, _record(row, task, data, recipe)))
    return joined, left_out


def _has(fields: dict[str, Any], names: list[str]) -> bool:
    for name in names:
        value = fields.get(name)
        if value is None or value == "":
            return False
        if isinstance(value, list) and not all(
            isinstance(t, dict) and "role" in t and "content" in t for t in value
        ):
            return False
    return True


def _why(fields: dict[str, Any], needs: dict[str, list[str]]) -> str:
    if not needs:
        return "no task of this export to join"
    task, names = next(iter(needs.items()))
    missing = [n for n in names if fields.get(n) in (None, "")]
    if missing:
        return f"no {' / '.join(repr(n) for n in missing)} field (task {task!r} needs it)"
    return f"a field of {names} is not in the form task {task!r} needs"


def _record(row: RealRow, task: str, data: dict[str, Any], recipe: str) -> Record:
    provenance = Provenance(
        recipe=recipe,
        task=task,
        row=row.line,
        seed_ids=[row.id] if row.seed else [],
        axes={},
        template_hash="",
        backend="",
        model="",
        params={},
        origin=Origin.REAL,
        source=row.source,
        line=row.line,
    )
    return Record(id=f"real:{row.id}", task=task, data=data, provenance=provenance)
