"""Nearest neighbour by cosine over unit vectors, for the semantic checks.

Exact while it is small: one BLAS matrix-vector product per query, so the threshold means
exactly what it says, and 20,000 rows cost well under a millisecond. Past ``exact_limit`` rows
an exact query grows with every kept record (6 ms at 100,000 on two cores), so the index
moves to an HNSW graph (usearch, in the ``embed`` extra) whose queries stay near a
millisecond; its recall of the true nearest row is measured by ``bench/semantic.py``.
Without usearch it stays exact.

While a gate runs, numpy's BLAS has one thread (``Gate.running``)."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from synthloom.quality.embed import Vectors

EXACT_LIMIT = 20_000


class VectorIndex:
    """One row per label. A removed row is masked (exact) or deleted from the graph; labels
    never shift."""

    def __init__(self, dim: int = 384, exact_limit: int = EXACT_LIMIT) -> None:
        self.dim = dim
        self.exact_limit = exact_limit
        self._rows: Vectors | None = np.zeros((256, dim), dtype=np.float32)
        self._alive = np.zeros(256, dtype=bool)
        self._labels: list[str] = []
        self._key_of: dict[str, int] = {}
        self._graph: Any = None
        self._can_grow_graph = importlib.util.find_spec("usearch") is not None

    @property
    def exact(self) -> bool:
        return self._graph is None

    def __len__(self) -> int:
        return len(self._key_of)

    def add(self, label: str, vector: Vectors) -> None:
        key = len(self._labels)
        if key >= len(self._alive):
            alive = np.zeros(2 * len(self._alive), dtype=bool)
            alive[:key] = self._alive
            self._alive = alive
        row = vector.reshape(-1).astype(np.float32, copy=False)
        if self._graph is not None:
            self._graph.add(key, row)
        else:
            assert self._rows is not None
            if key >= len(self._rows):
                rows = np.zeros((2 * len(self._rows), self.dim), dtype=np.float32)
                rows[:key] = self._rows
                self._rows = rows
            self._rows[key] = row
        self._alive[key] = True
        self._labels.append(label)
        self._key_of[label] = key
        if self._graph is None and self._can_grow_graph and key + 1 > self.exact_limit:
            self._to_graph()

    def remove(self, label: str) -> None:
        key = self._key_of.pop(label, None)
        if key is None:
            return
        self._alive[key] = False
        if self._graph is not None:
            self._graph.remove(key)

    def nearest(self, vector: Vectors) -> tuple[float, str]:
        """The closest live row's cosine and label; (-1.0, "") when the index is empty."""
        if not self._key_of:
            return -1.0, ""
        query = vector.reshape(-1).astype(np.float32, copy=False)
        if self._graph is not None:
            found = self._graph.search(query, 1)
            if len(found.keys) == 0:
                return -1.0, ""
            key = int(found.keys[0])
            return 1.0 - float(found.distances[0]), self._labels[key]  # ip distance = 1 - cos
        assert self._rows is not None
        n = len(self._labels)
        scores = self._rows[:n] @ query
        scores[~self._alive[:n]] = -2.0
        best = int(np.argmax(scores))
        return float(scores[best]), self._labels[best]

    def _to_graph(self) -> None:
        from usearch.index import Index

        graph = Index(
            ndim=self.dim,
            metric="ip",  # unit vectors: inner product is the cosine
            dtype="f32",
            connectivity=16,
            expansion_add=64,
            expansion_search=64,
        )
        n = len(self._labels)
        live = np.flatnonzero(self._alive[:n])
        assert self._rows is not None
        if len(live):
            graph.add(live.astype(np.uint64), self._rows[live])
        self._graph, self._rows = graph, None  # the rows now live in the graph only
