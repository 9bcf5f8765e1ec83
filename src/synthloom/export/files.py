"""Write rows to one file, streaming: JSON Lines, or Parquet in row groups.

Rows are written to a temporary name and moved into place, so an interrupted export never
leaves a half file where a training job would read it."""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from synthloom.errors import SynthloomError

_BATCH = 10_000  # rows per Parquet row group: a few MB of chat rows


def write_rows(
    rows: Iterable[dict[str, Any]], path: Path, *, parquet: bool, schema: Any = None
) -> int:
    """``schema`` (a pyarrow schema) fixes a Parquet file's columns, as splits of one dataset
    must share them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        count = _parquet(rows, tmp, schema) if parquet else _jsonl(rows, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return count


def _jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    count = 0
    with path.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row) + b"\n")
            count += 1
    return count


def _parquet(rows: Iterable[dict[str, Any]], path: Path, schema: Any) -> int:
    """Unless given, the schema is read from the first row group, with columns that are empty
    there typed as strings (``record_id`` is null on real rows); a later row that does not fit
    it is an error naming the column, not a silently re-typed file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = iter(rows)
    writer: pq.ParquetWriter | None = None
    count = 0
    try:
        while batch := list(islice(source, _BATCH)):
            if schema is None:
                inferred = pa.Table.from_pylist(batch).schema
                schema = pa.schema(
                    [
                        pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f
                        for f in inferred
                    ]
                )
            if writer is None:
                writer = pq.ParquetWriter(path, schema)
            extra = {name for row in batch for name in row} - set(schema.names)
            if extra:
                raise SynthloomError(
                    f"{path.name}: some rows have columns the first rows do not "
                    f"({', '.join(sorted(extra))}); export as jsonl"
                )
            try:
                table = pa.Table.from_pylist(batch, schema=schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise SynthloomError(
                    f"{path.name}: rows do not share one column type ({exc}); export as jsonl"
                ) from None
            assert writer is not None
            writer.write_table(table)
            count += len(batch)
        if writer is None:  # no rows: an empty table, with the columns when they are known
            pq.write_table(schema.empty_table() if schema is not None else pa.table({}), path)
    finally:
        if writer is not None:
            writer.close()
    return count
