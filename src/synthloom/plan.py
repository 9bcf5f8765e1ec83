"""Decide, reproducibly, which seeds and axis values each target row gets.

Row ``i``'s plan depends only on the random seed and ``i``, never on the target count, so
``-n 20`` followed by ``-n 40`` keeps the first 20 rows (and their cached calls) unchanged.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from synthloom.sampling import Axis


@dataclass(slots=True, frozen=True)
class PlannedRow:
    index: int
    seed_indices: tuple[int, ...]  # the first is the row's primary seed
    axes: dict[str, Any]
    # For a task that reads an input (each seed once, a file, an earlier task's records): the
    # input item's fields with its "id", and which of the task's variants (e.g. language) this is.
    item: dict[str, Any] | None = None
    variant: int = 0


class Planner:
    """Primary seeds walk through shuffled epochs, so every seed is used once per epoch and the
    counts stay balanced to within one; extra few-shot seeds and axis values are drawn per row."""

    def __init__(
        self, n_seeds: int, axes: Sequence[Axis], *, per_row: int = 1, random_seed: int = 0
    ) -> None:
        if n_seeds < 0:
            raise ValueError("n_seeds must not be negative")
        self.n_seeds = n_seeds
        self.axes = list(axes)
        self.per_row = min(per_row, n_seeds)
        self.random_seed = random_seed
        self._epoch_index: int | None = None
        self._epoch: list[int] = []

    def _rng(self, *parts: object) -> random.Random:
        key = ":".join(str(p) for p in (self.random_seed, *parts)).encode()
        return random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest()))

    def _primary(self, index: int) -> int:
        epoch, offset = divmod(index, self.n_seeds)
        if epoch != self._epoch_index:
            order = list(range(self.n_seeds))
            self._rng("epoch", epoch).shuffle(order)
            self._epoch_index, self._epoch = epoch, order
        return self._epoch[offset]

    def row(self, index: int) -> PlannedRow:
        rng = self._rng("row", index)
        if not self.n_seeds:  # a task that needs no seeds (magpie): axis values only
            return PlannedRow(index, (), self._draw(rng))
        primary = self._primary(index)
        seeds = [primary]
        if self.per_row > 1:
            others = [i for i in range(self.n_seeds) if i != primary]
            seeds.extend(rng.sample(others, self.per_row - 1))
        return PlannedRow(index, tuple(seeds), self._draw(rng))

    def _draw(self, rng: random.Random) -> dict[str, Any]:
        drawn: dict[str, Any] = {}
        for axis in self.axes:
            drawn[axis.name] = axis.sample(rng, drawn)
        return drawn

    def rows(self, count: int, start: int = 0) -> Iterator[PlannedRow]:
        for index in range(start, start + count):
            yield self.row(index)
