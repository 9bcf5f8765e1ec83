"""Held-out splits that do not leak: whole families go to one side.

A family is a seed and everything made from it (and a real row that is that seed): a
validation set holding a paraphrase of a training seed would measure memory, not skill. Within
each stratum (a label for classification data, else a task) families are shuffled with the
recipe's random seed and dealt to the held-out splits while that brings each closer to its
share of the stratum's rows; the rest are ``train``."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable

from synthloom.export.settings import TRAIN


class Families:
    """Row counts per family and stratum, gathered in one pass over the training set."""

    def __init__(self) -> None:
        self.sizes: Counter[Hashable] = Counter()
        self._strata: dict[Hashable, Counter[str]] = defaultdict(Counter)

    def add(self, family: Hashable, stratum: str, rows: int = 1) -> None:
        self.sizes[family] += rows
        self._strata[family][stratum] += rows

    def stratum(self, family: Hashable) -> str:
        """A family spanning strata is dealt in the one most of its rows are in."""
        counts = self._strata[family]
        return max(counts, key=lambda s: (counts[s], s))

    def assign(self, shares: dict[str, float], seed: int) -> dict[Hashable, str]:
        """Each family's split; families not listed (none, when ``shares`` is empty) are
        ``train``."""
        held = {name: share for name, share in shares.items() if share > 0}
        if not held:
            return {}
        by_stratum: dict[str, list[Hashable]] = defaultdict(list)
        for family in self.sizes:
            by_stratum[self.stratum(family)].append(family)
        rng = random.Random(seed)
        chosen: dict[Hashable, str] = {}
        for stratum in sorted(by_stratum):
            families = sorted(by_stratum[stratum], key=repr)
            rng.shuffle(families)
            total = sum(self.sizes[f] for f in families)
            left = {name: share * total for name, share in held.items()}
            for family in families:
                size = self.sizes[family]
                # the split still furthest below its share takes the family if that brings it
                # closer to the share than leaving it out would
                name = max(left, key=lambda n: (left[n], n))
                if left[name] >= size / 2:
                    chosen[family] = name
                    left[name] -= size
        return chosen


def shortfalls(shares: dict[str, float], counts: dict[str, int], sizes: Iterable[int]) -> list[str]:
    """Held-out splits that came out empty, and why: the families were too large."""
    smallest = min(sizes, default=0)
    total = sum(counts.values())
    return [
        f"the {name} split is empty: {share:.0%} of {total} rows is less than half the "
        f"smallest family ({smallest} row{'' if smallest == 1 else 's'}; a family is a seed "
        "and what was made from it, "
        "and stays on one side of a split)"
        for name, share in shares.items()
        if share > 0 and counts.get(name, 0) == 0 and name != TRAIN
    ]
