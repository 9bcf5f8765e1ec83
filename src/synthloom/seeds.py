"""Read seed examples from JSONL, CSV or Parquet, with errors that name the file and line."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from synthloom.errors import RecipeError


@dataclass(slots=True, frozen=True)
class Seed:
    id: str
    fields: dict[str, Any]


def load_seeds(source: str | list[dict[str, Any]], base_dir: Path) -> list[Seed]:
    rows: list[tuple[int, Any]]  # (line in the file, row)
    if isinstance(source, list):
        rows, file = list(enumerate(source, start=1)), "<recipe>:seeds"
    else:
        path = Path(source)
        path = path if path.is_absolute() else base_dir / path
        file = str(path)
        if not path.is_file():
            raise RecipeError("seed file not found", file=file)
        rows = read_rows(path)
    if not rows:
        raise RecipeError("no seeds: the file holds no rows", file=file)
    seeds: list[Seed] = []
    seen: dict[str, int] = {}
    for i, (line, row) in enumerate(rows):
        if not isinstance(row, dict):
            raise RecipeError("each seed must be an object", file=file, line=line)
        fields = {k: v for k, v in row.items() if v is not None}
        seed_id = str(fields.pop("id", f"seed-{i + 1}"))
        if seed_id in seen:
            raise RecipeError(
                f"duplicate seed id {seed_id!r} (first on line {seen[seed_id]})",
                file=file,
                line=line,
            )
        seen[seed_id] = line
        seeds.append(Seed(seed_id, fields))
    return seeds


def read_rows(path: Path) -> list[tuple[int, Any]]:
    """(line, row) for each row of a JSONL, CSV or Parquet file; errors name the file."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return _read_jsonl(path)
    if suffix == ".csv":
        return _read_csv(path)
    if suffix == ".parquet":
        return _read_parquet(path)
    raise RecipeError(
        f"unsupported seed format {suffix!r} (use .jsonl, .csv or .parquet)", file=str(path)
    )


def _read_jsonl(path: Path) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append((lineno, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                raise RecipeError(
                    f"invalid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=lineno
                ) from None
            if not isinstance(rows[-1][1], dict):
                raise RecipeError("each line must be a JSON object", file=str(path), line=lineno)
    return rows


def _read_csv(path: Path) -> list[tuple[int, Any]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, strict=True)
            rows: list[tuple[int, Any]] = []
            for row in reader:
                if None in row:
                    raise RecipeError(
                        "row has more cells than the header", file=str(path), line=reader.line_num
                    )
                rows.append((reader.line_num, row))
            return rows
    except (csv.Error, UnicodeDecodeError) as exc:
        raise RecipeError(f"invalid CSV: {exc}", file=str(path)) from None


def _read_parquet(path: Path) -> list[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        table: list[Any] = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise RecipeError(f"invalid Parquet: {exc}", file=str(path)) from None
    return list(enumerate(table, start=1))  # Parquet has no lines: the row number
