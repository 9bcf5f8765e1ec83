"""The training set: the dataset view's records of the chosen tasks, real rows mixed in at the
share asked for, dealt into splits by family. Every export writes from here.

It reads the dataset twice rather than holding it: the first pass counts (rows per family and
stratum, synthetic rows that repeat a real row's prompt, a hash per row to draw which rows a
cap keeps), the second streams the rows out. Memory grows with the number of families, not of
records, except for one 8-byte hash per record during the first pass."""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthloom.dataset import Dataset
from synthloom.errors import SynthloomError
from synthloom.export.composition import REAL, SYNTHETIC, Composition
from synthloom.export.formats import ROLE_FORMATS, Roles
from synthloom.export.mixing import MixPlan, plan_mix, repeat_counts
from synthloom.export.real import RealRow, join, needed_fields
from synthloom.export.settings import TRAIN, MixSettings
from synthloom.export.splits import Families, shortfalls
from synthloom.records import Record, Status

LABEL_KINDS = frozenset({"label"})


@dataclass(frozen=True, slots=True)
class Request:
    """What to assemble: the format decides which real rows fit; the seed makes it repeatable."""

    format: str
    tasks: list[str]  # the tasks whose records are written, in run order
    shapes: dict[str, dict[str, Any]]  # task -> its export shape (fields, roles, kind)
    mix: MixSettings | None
    real: tuple[str, list[RealRow]] | None  # (source, rows) when mix is set
    splits: dict[str, float]
    seed: int
    recipe: str


class TrainingSet:
    def __init__(self, dataset: Dataset, request: Request) -> None:
        self.dataset = dataset
        self.request = request
        self.roles = {task: _roles(task, request) for task in request.tasks}
        self.composition = Composition()
        self._real: list[tuple[Record, int, Hashable]] = []  # record, copies, family
        self._duplicates: set[str] = set()
        self._keep_below: int | None = None  # a synthetic row is kept when its hash is below
        self._split: dict[Hashable, str] = {}
        self._upstream: dict[str, tuple[str | None, str | None]] | None = None
        self._seeds = set(dataset.store.get_meta("seeds") or {})
        self._count()

    def rows(self, split: str | None = None) -> Iterator[tuple[str, Record]]:
        """(split, record) for every row of the set, or of one split: real rows first (each as
        often as the mix repeats it), then synthetic rows in dataset order."""
        for record, copies, family in self._real:
            where = self._split.get(family, TRAIN)
            if split is None or where == split:
                for _ in range(copies):
                    yield where, record
        for record in self.dataset.records(self.request.tasks):
            if record.id in self._duplicates:
                continue
            if self._keep_below is not None and self._hash(record.id) >= self._keep_below:
                continue
            where = self._split.get(self._family(record), TRAIN)
            if split is None or where == split:
                yield where, record

    def role_of(self, record: Record) -> Roles | None:
        return self.roles.get(record.task)

    # -- the counting pass -----------------------------------------------------------------

    def _count(self) -> None:
        request, comp = self.request, self.composition
        joined: list[tuple[RealRow, Record]] = []
        if request.mix is not None and request.real is not None:
            comp.real_source, rows = request.real
            comp.real_fraction = request.mix.real_fraction
            needs = {t: needed_fields(request.format, r) for t, r in self.roles.items() if r}
            keep = {t: list(request.shapes.get(t, {}).get("fields") or []) for t in needs}
            joined, left_out = join(rows, needs, keep, request.recipe)
            comp.real_left_out = dict(left_out)
            comp.real_available = len(joined)
        real_keys = {self._prompt_key(record) for _, record in joined}
        hashes, families, strata = array("Q"), array("l"), array("l")
        names: dict[Hashable, int] = {}
        labels: dict[str, int] = {}
        for record in self.dataset.records(request.tasks):
            comp.synthetic_available += 1
            if real_keys and self._prompt_key(record) in real_keys:
                self._duplicates.add(record.id)
                continue
            hashes.append(self._hash(record.id))
            families.append(names.setdefault(self._family(record), len(names)))
            strata.append(labels.setdefault(self._stratum(record), len(labels)))
        comp.synthetic_duplicates = len(self._duplicates)
        plan = MixPlan(0, len(hashes))
        if request.mix is not None and comp.real_fraction > 0:
            plan = plan_mix(len(hashes), len(joined), request.mix)
        comp.notes.extend(plan.notes)
        if plan.synthetic_rows < len(hashes):
            k = plan.synthetic_rows  # the k-th smallest hash, without a list of a million ints
            values = np.frombuffer(hashes, dtype=np.uint64)
            self._keep_below = int(np.partition(values, k)[k]) if k else 0
            comp.synthetic_capped = len(hashes) - plan.synthetic_rows
        copies = repeat_counts(len(joined), plan.real_rows, request.seed) if joined else []
        self._real = [
            (record, n, self._real_family(row))
            for (row, record), n in zip(joined, copies, strict=True)
            if n
        ]
        comp.real_distinct = len(self._real)
        self._deal(hashes, families, strata, names, labels)

    def _deal(
        self,
        hashes: array[int],
        families: array[int],
        strata: array[int],
        names: dict[Hashable, int],
        labels: dict[str, int],
    ) -> None:
        """Assign families to splits and count each split's rows by origin."""
        family_of = list(names)
        stratum_of = list(labels)
        counts = Families()
        kept: Counter[int] = Counter()  # rows kept per family (not a tuple per row)
        for h, f, s in zip(hashes, families, strata, strict=True):
            if self._keep_below is None or h < self._keep_below:
                counts.add(family_of[f], stratum_of[s])
                kept[f] += 1
        for record, copies, family in self._real:
            counts.add(family, self._stratum(record), copies)
        self._split = counts.assign(self.request.splits, self.request.seed)
        splits: dict[str, dict[str, int]] = {
            name: {REAL: 0, SYNTHETIC: 0}
            for name in [TRAIN, *(n for n, v in self.request.splits.items() if v > 0)]
        }
        for f, rows in kept.items():
            splits[self._split.get(family_of[f], TRAIN)][SYNTHETIC] += rows
        for _, copies, family in self._real:
            splits[self._split.get(family, TRAIN)][REAL] += copies
        self.composition.splits = splits
        totals = {name: sum(by.values()) for name, by in splits.items()}
        self.composition.notes.extend(
            shortfalls(self.request.splits, totals, counts.sizes.values())
        )

    # -- families, strata, keys ---------------------------------------------------------------

    def _family(self, record: Record) -> Hashable:
        """The seed a record was made from, following ``parent`` through earlier tasks."""
        p = record.provenance
        parent: str | None = p.parent
        primary = p.seed_ids[0] if p.seed_ids else None
        for _ in range(64):  # a chain of tasks, each reading the one before
            if parent is None:
                return ("seed", primary) if primary is not None else ("record", record.id)
            if self._is_seed(parent):
                return ("seed", parent)
            upstream = self._upstream_index().get(parent)
            if upstream is None:
                return ("input", parent)  # a row of an input file the task read
            parent, primary = upstream
        return ("input", parent)

    def _real_family(self, row: RealRow) -> Hashable:
        return ("seed", row.id) if row.seed else ("real", row.source, row.line)

    def _is_seed(self, name: str) -> bool:
        return name in self._seeds

    def _upstream_index(self) -> dict[str, tuple[str | None, str | None]]:
        """Accepted records of every stage: what a later task's ``parent`` points at."""
        if self._upstream is None:
            self._upstream = {
                r.id: (r.provenance.parent, next(iter(r.provenance.seed_ids), None))
                for r in self.dataset.store.planned_records(Status.ACCEPTED)
            }
        return self._upstream

    def _stratum(self, record: Record) -> str:
        shape = self.request.shapes.get(record.task, {})
        if shape.get("kind") in LABEL_KINDS:
            return f"label:{record.data.get(shape.get('response_field') or 'label')}"
        return f"task:{record.task}"

    def _prompt_key(self, record: Record) -> str:
        """What makes a synthetic row a duplicate of a real one: the same prompt (the same
        user turns for a conversation), ignoring case and spacing."""
        roles = self.roles.get(record.task)
        if roles is None:
            text = " ".join(str(v) for v in record.data.values())
        elif roles.messages is not None:
            turns = record.data.get(roles.messages) or []
            text = " ".join(str(t.get("content")) for t in turns if t.get("role") == "user")
        else:
            text = str(record.data.get(roles.prompt, ""))
        return " ".join(text.casefold().split())

    def _hash(self, record_id: str) -> int:
        digest = hashlib.blake2b(f"{self.request.seed}:{record_id}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big")


def _roles(task: str, request: Request) -> Roles | None:
    """The task's prompt and response fields. A raw format writes any record, so there an
    unresolvable task only means no real row can join it."""
    try:
        return Roles.resolve(task, request.shapes.get(task, {}))
    except SynthloomError:
        if request.format in ROLE_FORMATS:
            raise
        return None
