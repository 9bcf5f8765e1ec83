"""One SQLite file per run directory: request cache, records, the current plan, an event log.

WAL mode with ``synchronous=NORMAL`` keeps each record's commit cheap while surviving a killed
process: a committed transaction is never lost on SIGKILL, only on power loss before checkpoint.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from synthloom.errors import StoreError
from synthloom.records import Provenance, Record, Status, utcnow
from synthloom.store.migrations import migrate

STORE_FILE = "synthloom.sqlite"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _record(row: tuple[Any, ...]) -> Record:
    rid, task_name, st, reason, error, data, prov, scores, notes = row
    return Record(
        id=rid,
        task=task_name,
        data=orjson.loads(data),
        provenance=Provenance.from_dict(orjson.loads(prov)),
        status=Status(st),
        reason=reason,
        error=error,
        scores=orjson.loads(scores),
        notes=orjson.loads(notes),
    )


class RunStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            migrate(self._db)
        except (sqlite3.Error, RuntimeError, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open run store: {exc}") from exc

    @property
    def connection(self) -> sqlite3.Connection:
        """For the store's sibling modules (reviews); autocommit, use ``with`` for a
        transaction."""
        return self._db

    def record(self, record_id: str) -> Record | None:
        row = self._db.execute(
            "SELECT id, task, status, reason, error, data, provenance, scores, notes"
            " FROM records WHERE id = ?",
            (record_id,),
        ).fetchone()
        return None if row is None else _record(row)

    @classmethod
    def in_dir(cls, outdir: str | Path) -> RunStore:
        return cls(Path(outdir) / STORE_FILE)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta ---------------------------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, _dumps(value))
            )

    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    # -- cache --------------------------------------------------------------------------------
    def cache_get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT response FROM cache WHERE key = ?", (key,)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def cache_put(self, key: str, response: dict[str, Any]) -> None:
        """The completed call and its event land in one transaction: once this returns, a
        re-run will never repeat the call."""
        with self._db:
            self._insert_cache(key, response)

    def _insert_cache(self, key: str, response: dict[str, Any]) -> None:
        now = utcnow()
        self._db.execute(
            "INSERT OR REPLACE INTO cache (key, response, created_at) VALUES (?, ?, ?)",
            (key, _dumps(response), now),
        )
        self._db.execute(
            "INSERT INTO events (ts, kind, payload) VALUES (?, 'model_call', ?)",
            (now, _dumps({"key": key})),
        )

    # -- records ------------------------------------------------------------------------------
    def put_record(
        self,
        record: Record,
        fingerprint: str,
        cache: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """Store a record; ``cache`` is the call that produced it, committed in the same
        transaction (one commit per row instead of two, and never one without the other)."""
        with self._db:
            if cache is not None:
                self._insert_cache(*cache)
            self._db.execute(
                "INSERT OR REPLACE INTO records (id, task, row, fingerprint, status, reason, error,"
                " data, provenance, scores, notes, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.task,
                    record.provenance.row,
                    fingerprint,
                    str(record.status),
                    record.reason,
                    record.error,
                    _dumps(record.data),
                    _dumps(record.provenance.to_dict()),
                    _dumps(record.scores),
                    _dumps(record.notes),
                    utcnow(),
                ),
            )

    def set_plan(
        self,
        task: str,
        entries: Iterable[tuple[str, int, str]],
        *,
        kind: str,
        in_dataset: bool,
        position: int,
    ) -> None:
        """Replace one stage's part of the plan with (id, row, fingerprint) rows, and say
        whether its records belong to the dataset, atomically."""
        with self._db:
            self._db.execute("DELETE FROM plan WHERE task = ?", (task,))
            self._db.executemany(
                "INSERT INTO plan (id, task, row, fingerprint) VALUES (?, ?, ?, ?)",
                ((rid, task, row, fp) for rid, row, fp in entries),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO stages (name, kind, in_dataset, position)"
                " VALUES (?, ?, ?, ?)",
                (task, kind, int(in_dataset), position),
            )

    def retain_plan(self, tasks: Iterable[str]) -> None:
        """Drop the plan of stages no longer in the recipe (their records stay in the store)."""
        names = list(tasks)
        marks = ",".join("?" * len(names))
        with self._db:
            # only "?" placeholders are formatted in; the names are bound parameters
            self._db.execute(f"DELETE FROM plan WHERE task NOT IN ({marks})", names)  # noqa: S608
            self._db.execute(f"DELETE FROM stages WHERE name NOT IN ({marks})", names)  # noqa: S608

    def stages(self) -> list[tuple[str, str, bool]]:
        """(name, kind, in_dataset) of every stage of the latest plan, in run order."""
        rows = self._db.execute("SELECT name, kind, in_dataset FROM stages ORDER BY position, name")
        return [(name, kind, bool(flag)) for name, kind, flag in rows]

    def completed_ids(self, task: str | None = None, rows: range | None = None) -> set[str]:
        """Planned rows (of ``task``, at ``rows``) already finished under the same fingerprint.
        Failed rows are not finished: a re-run tries them again (their successful calls come
        from the cache)."""
        sql = (
            "SELECT r.id FROM records r JOIN plan p"
            " ON p.id = r.id AND p.fingerprint = r.fingerprint WHERE r.status != ?"
        )
        params: list[str | int] = [str(Status.FAILED)]
        if task is not None:
            sql += " AND p.task = ?"
            params.append(task)
        if rows is not None:
            sql += " AND p.row >= ? AND p.row < ?"
            params += [rows.start, rows.stop]
        return {row[0] for row in self._db.execute(sql, params)}

    def planned_records(
        self,
        status: Status | None = None,
        task: str | None = None,
        *,
        in_dataset: bool | None = None,
    ) -> Iterator[Record]:
        """Records of the latest plan, in task and row order. A query primitive: which of them
        make up the dataset is decided once, in :mod:`synthloom.dataset`."""
        sql = (
            "SELECT r.id, r.task, r.status, r.reason, r.error, r.data, r.provenance, r.scores,"
            " r.notes FROM records r JOIN plan p ON p.id = r.id AND p.fingerprint = r.fingerprint"
        )
        params: list[str | int] = []
        if in_dataset is not None:
            sql += " JOIN stages s ON s.name = p.task AND s.in_dataset = ?"
            params.append(int(in_dataset))
        sql += " WHERE 1 = 1"
        if status is not None:
            sql += " AND r.status = ?"
            params.append(str(status))
        if task is not None:
            sql += " AND p.task = ?"
            params.append(task)
        sql += " ORDER BY r.task, r.row"
        for row in self._db.execute(sql, params):
            yield _record(row)

    # -- shards -------------------------------------------------------------------------------
    def plan_digest(self, task: str, rows: range) -> str:
        """A digest of the plan's rows at ``rows``: a shard's store is named by it, so a shard
        made for another plan (the recipe changed) is never mistaken for this one's."""
        digest = hashlib.blake2b(digest_size=8)
        for rid, fingerprint in self._db.execute(
            "SELECT id, fingerprint FROM plan WHERE task = ? AND row >= ? AND row < ? ORDER BY row",
            (task, rows.start, rows.stop),
        ):
            digest.update(f"{rid}:{fingerprint}\n".encode())
        return digest.hexdigest()

    def finished_ids(self, task: str) -> set[str]:
        """Ids of this store's finished (not failed) records of ``task``, plan or not: a
        shard's own store holds only its plan's rows."""
        sql = "SELECT id FROM records WHERE task = ? AND status != ?"
        return {row[0] for row in self._db.execute(sql, (task, str(Status.FAILED)))}

    def rows_in_order(self, task: str) -> Iterator[tuple[Record, str]]:
        """Every record of ``task`` with its fingerprint, in row order (a shard's, to merge)."""
        sql = (
            "SELECT id, task, status, reason, error, data, provenance, scores, notes, fingerprint"
            " FROM records WHERE task = ? ORDER BY row"
        )
        for row in self._db.execute(sql, (task,)):
            yield _record(row[:-1]), row[-1]

    def import_cache(self, other: Path) -> int:
        """Copy another store's completed calls into this one (a merged shard's): a later run
        into this directory, sharded or not, repeats none of them. Returns how many were new."""
        before = self.count_cache()
        self._db.execute("ATTACH DATABASE ? AS other", (str(other),))
        try:
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO cache SELECT * FROM other.cache")
        finally:
            self._db.execute("DETACH DATABASE other")
        return self.count_cache() - before

    # -- events -------------------------------------------------------------------------------
    def log_event(self, kind: str, **payload: Any) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO events (ts, kind, payload) VALUES (?, ?, ?)",
                (utcnow(), kind, _dumps(payload)),
            )

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT seq, ts, kind, payload FROM events", []
        if kind is not None:
            sql, params = sql + " WHERE kind = ?", [kind]
        return [
            {"seq": seq, "ts": ts, "kind": k, **orjson.loads(payload)}
            for seq, ts, k, payload in self._db.execute(sql + " ORDER BY seq", params)
        ]

    def cache_usage(self) -> tuple[int, int]:
        """Prompt and completion tokens of every call ever completed into this store."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(json_extract(response, '$.prompt_tokens')), 0),"
            " COALESCE(SUM(json_extract(response, '$.completion_tokens')), 0) FROM cache"
        ).fetchone()
        return int(row[0]), int(row[1])

    def count_cache(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM cache").fetchone()[0])
