"""``synthloom export``: a run directory's dataset (see :mod:`synthloom.dataset`) in a chosen
format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from synthloom.dataset import Dataset
from synthloom.errors import SynthloomError
from synthloom.export.formats import FORMATS, RAW_FORMATS, ROLE_FORMATS, Roles
from synthloom.store.sqlite import STORE_FILE, RunStore


def export(
    outdir: str | Path,
    format: str,
    path: str | Path,
    *,
    tasks: list[str] | None = None,
) -> int:
    """Write the run's dataset to ``path``; returns how many rows were written.

    ``tasks`` picks which tasks' records to write (default: all; for ``dpo``, every preference
    task)."""
    if format not in FORMATS:
        raise SynthloomError(
            f"unknown export format {format!r} (choose from: {', '.join(FORMATS)})"
        )
    store_path = Path(outdir) / STORE_FILE
    if not store_path.is_file():
        raise SynthloomError(f"{outdir}: not a synthloom run directory (no {STORE_FILE})")
    path = Path(path)
    with RunStore(store_path) as store:
        roles_info: dict[str, Any] = store.get_meta("export") or {}
        chosen = _chosen_tasks(roles_info, format, tasks)
        roles: dict[str, Roles] = {}
        rows: list[dict[str, Any]] = []
        for record in Dataset(store).records(chosen):
            if format in ROLE_FORMATS:
                if record.task not in roles:
                    roles[record.task] = Roles.resolve(record.task, roles_info.get(record.task, {}))
                rows.append(ROLE_FORMATS[format](record, roles[record.task]))
            else:
                rows.append(RAW_FORMATS[format](record, None))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), tmp)
    else:
        with tmp.open("wb") as fh:
            for row in rows:
                fh.write(orjson.dumps(row) + b"\n")
    os.replace(tmp, path)
    return len(rows)


def _chosen_tasks(info: dict[str, Any], format: str, tasks: list[str] | None) -> set[str] | None:
    if tasks:
        unknown = sorted(set(tasks) - set(info))
        if unknown:
            raise SynthloomError(
                f"no task {unknown[0]!r} in this run (tasks: {', '.join(info) or 'none'})"
            )
        return set(tasks)
    if format == "dpo":
        preference = {name for name, shape in info.items() if shape.get("kind") == "preference"}
        if not preference:
            listing = ", ".join(f"{name} ({shape.get('kind')})" for name, shape in info.items())
            raise SynthloomError(
                "the dpo format needs preference records, and this run has no preference task "
                f"(tasks: {listing or 'none'})"
            )
        return preference
    return None
