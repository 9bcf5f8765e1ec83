"""Which records reviewers see: a reproducible sample, optionally stratified.

The same seed must give the same sample on any machine and whatever order the store returns
rows in, so that a review can be audited and repeated; items are therefore put in id order
before any random draw.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")


def allocate(sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Split ``n`` reviews over strata of the given sizes, proportionally.

    Largest-remainder rounding keeps the split as close to proportional as whole numbers
    allow. When ``n`` reaches the number of non-empty strata each gets at least one review,
    taken from the most over-allocated stratum: a stratum with no review has no estimate at
    all, which costs more than a slightly less proportional split. No stratum gets more than
    it holds; ties go to the stratum whose name sorts first, so the split is deterministic.
    """
    if n < 0 or any(size < 0 for size in sizes.values()):
        raise ValueError("sample size and stratum sizes must be >= 0")
    names = sorted(sizes)
    total = sum(sizes.values())
    if n >= total:
        return {name: sizes[name] for name in names}
    quota = {name: n * sizes[name] / total for name in names}
    alloc = {name: math.floor(quota[name]) for name in names}
    by_remainder = sorted(names, key=lambda name: -(quota[name] - alloc[name]))
    for name in by_remainder[: n - sum(alloc.values())]:
        alloc[name] += 1  # quota is not whole here, so ceil(quota) <= size still holds
    nonempty = [name for name in names if sizes[name] > 0]
    if n >= len(nonempty):
        for name in sorted(nonempty, key=lambda name: -quota[name]):
            if alloc[name] == 0:
                # Some stratum holds two or more, or n would be below the number of strata.
                donor = max(
                    (other for other in names if alloc[other] >= 2),
                    key=lambda other: alloc[other] - quota[other],
                )
                alloc[donor] -= 1
                alloc[name] = 1
    return alloc


def draw(
    items: Sequence[T],
    n: int,
    seed: int,
    key: Callable[[T], str] | None = None,
    *,
    id_of: Callable[[T], str],
) -> list[T]:
    """A sample of ``n`` items without replacement, returned in id order.

    Without ``key`` it is a simple random sample; with ``key`` it is stratified by
    ``key(item)`` with the allocation of :func:`allocate`. ``id_of`` must give each item a
    unique id: sorting by it is what makes the sample independent of input order. Asking for
    more than there is returns everything. Results come back in id order so two draws can be
    compared line by line; shuffle for presentation if reading order might bias reviewers.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    ordered = sorted(items, key=id_of)
    ids = [id_of(item) for item in ordered]
    for before, after in itertools.pairwise(ids):
        if before == after:
            raise ValueError(f"duplicate id {before!r}: ids must be unique")
    rng = random.Random(seed)
    if key is None:
        chosen = ordered if n >= len(ordered) else rng.sample(ordered, n)
    else:
        groups: dict[str, list[T]] = {}
        for item in ordered:
            groups.setdefault(key(item), []).append(item)
        alloc = allocate({name: len(group) for name, group in groups.items()}, n)
        chosen = []
        for name in sorted(groups):  # fixed order so the one rng is consumed reproducibly
            chosen.extend(rng.sample(groups[name], alloc[name]))
    return sorted(chosen, key=id_of)


def score_band(score: float | None) -> str:
    """The band of a 1-5 judge mean, for stratifying review by how the judge scored.

    Bands are half-open ``[k, k+1)`` except the top one, which includes 5. A mean outside
    1-5 means the judge scale changed or a bug crept in, so it raises rather than being
    quietly put in an end band.
    """
    if score is None or math.isnan(score):
        return "unscored"
    if not 1.0 <= score <= 5.0:
        raise ValueError(f"judge mean {score} is outside the 1-5 scale")
    low = min(int(score), 4)
    return f"{low}-{low + 1}"
