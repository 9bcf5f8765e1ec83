"""A run directory belongs to one recipe and one process at a time.

Running another recipe into a used directory would silently replace its ``dataset.jsonl``, and
two processes writing one store would interleave their plans; both are refused before anything
is touched. The lock is an advisory ``flock`` on a file in the directory: the kernel releases
it when the holder exits, however it exits, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from synthloom.errors import StoreError
from synthloom.store.sqlite import STORE_FILE, RunStore

LOCK_FILE = ".synthloom.lock"
DATASET_FILE = "dataset.jsonl"
REJECTED_FILE = "rejected.jsonl"
METRICS_FILE, REPORT_FILE, FITNESS_FILE = "metrics.json", "report.html", "fitness.json"
OWNER_KEY = "recipe_name"
# what a run leaves in its directory; --force removes exactly these to start over
_RUN_FILES = (
    STORE_FILE,
    f"{STORE_FILE}-wal",
    f"{STORE_FILE}-shm",
    DATASET_FILE,
    REJECTED_FILE,
)


@contextmanager
def claim(
    outdir: str | Path,
    recipe: str,
    *,
    force: bool = False,
    on_reset: Callable[[str], None] | None = None,
) -> Iterator[RunStore]:
    """The directory's store, held for this process and owned by ``recipe``.

    A directory that holds another recipe's run is refused, unless ``force``: then that run's
    files are removed and ``on_reset`` is told what was there."""
    outdir = Path(outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        lock = (outdir / LOCK_FILE).open("a+")
    except OSError as exc:
        raise StoreError(f"{outdir}: cannot use this run directory: {exc}") from exc
    try:
        _lock(lock, outdir)
        owner = _owner(outdir)
        if owner is not None and owner != recipe:
            if not force:
                raise StoreError(
                    f"{outdir} holds a run of recipe {owner!r}, not {recipe!r}; choose another "
                    "directory, or pass --force to delete that run and start over"
                )
            for name in _RUN_FILES:
                (outdir / name).unlink(missing_ok=True)
            if on_reset is not None:
                on_reset(f"{outdir}: removed the run of recipe {owner!r}; starting {recipe!r} over")
        with RunStore.in_dir(outdir) as store:
            store.set_meta(OWNER_KEY, recipe)
            yield store
    finally:
        lock.close()  # releases the flock


def _lock(fh: IO[str], outdir: Path) -> None:
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        raise StoreError(
            f"{outdir} is in use by another synthloom process (pid {holder}); wait for it to "
            "finish or choose another directory"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()))
    fh.flush()


def _owner(outdir: Path) -> str | None:
    """The recipe whose run the directory holds (stores from before the owner key was kept
    name it in the saved recipe)."""
    if not (outdir / STORE_FILE).is_file():
        return None
    with RunStore.in_dir(outdir) as store:
        owner = store.get_meta(OWNER_KEY)
        if owner is None:
            saved = store.get_meta("recipe")
            owner = saved.get("name") if isinstance(saved, dict) else None
    return str(owner) if owner is not None else None
