"""What a caller (the CLI's progress bars, a notebook) is told while a run goes."""

from __future__ import annotations

from collections.abc import Callable

from synthloom.records import Record

OnStart = Callable[[str, int, int], None]  # (stage, rows to run now, rows already done)
OnRecord = Callable[[Record], None]  # each record as it is stored
