"""Schema migrations as an ordered list of functions; the store's ``user_version`` says how many
have run. Append, never edit: a run directory written by an older synthloom upgrades in place."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def _m001_initial(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        -- content-addressed: key = hash(backend, model, params, messages, sample index)
        CREATE TABLE cache (
            key TEXT PRIMARY KEY,
            response TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE records (
            id TEXT PRIMARY KEY,
            task TEXT NOT NULL,
            row INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            error TEXT,
            data TEXT NOT NULL,
            provenance TEXT NOT NULL,
            scores TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX records_task_row ON records (task, row);
        -- the latest run's plan: which record ids (and fingerprints) make up the dataset
        CREATE TABLE plan (
            id TEXT PRIMARY KEY,
            task TEXT NOT NULL,
            row INTEGER NOT NULL,
            fingerprint TEXT NOT NULL
        );
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        );
        """
    )


def _m002_notes(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE records ADD COLUMN notes TEXT NOT NULL DEFAULT '{}'")


def _m003_reviews(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        -- the records drawn for human review, in the order they are shown
        CREATE TABLE review_sample (
            record_id TEXT PRIMARY KEY,
            position INTEGER NOT NULL UNIQUE,
            stratum TEXT NOT NULL
        );
        -- every reviewer action, appended (an audit trail): a verdict, an edit or a comment
        CREATE TABLE reviews (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            record_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            action TEXT NOT NULL,
            verdict TEXT,
            reason TEXT,
            comment TEXT,
            edit TEXT,
            ts TEXT NOT NULL
        );
        CREATE INDEX reviews_record ON reviews (record_id, seq);
        """
    )


def _m004_stages(db: sqlite3.Connection) -> None:
    """Each stage says whether its records belong to the dataset; a store from before this
    knew only one stage that did not (judge calibration), so that is what it is given."""
    db.executescript(
        """
        CREATE TABLE stages (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            in_dataset INTEGER NOT NULL,
            position INTEGER NOT NULL
        );
        INSERT INTO stages (name, kind, in_dataset, position)
            SELECT DISTINCT task, '', task != 'judge-calibration', 0 FROM plan;
        """
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m001_initial,
    _m002_notes,
    _m003_reviews,
    _m004_stages,
]


def migrate(db: sqlite3.Connection) -> int:
    """Run pending migrations, each in its own transaction. Returns the resulting version."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"store schema version {version} is newer than this synthloom knows "
            f"({len(MIGRATIONS)}); upgrade synthloom"
        )
    for index in range(version, len(MIGRATIONS)):
        with db:
            MIGRATIONS[index](db)
            db.execute(f"PRAGMA user_version = {index + 1}")
    return len(MIGRATIONS)
