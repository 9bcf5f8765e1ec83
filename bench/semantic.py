"""The semantic checks' costs, measured in one run on this machine.

1. Embedding N record texts with all-MiniLM-L6-v2: one ``encode`` call per text (the baseline,
   what a naive per-record check does) against synthloom's ``Embedder.one`` with every record
   in flight at once (micro-batched on one worker thread).
2. The cosine index: exact throughout (the baseline) against synthloom's index, which moves to
   an HNSW graph past 20,000 rows: add rate, ms per query, and how often the graph returns the
   exact nearest row (recall@1).

    .venv/bin/python bench/semantic.py [--texts 1000] [--index 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import numpy as np

from synthloom.quality.embed import Embedder, minilm_encoder
from synthloom.quality.vindex import VectorIndex

WORDS = [
    "incision",
    "dressing",
    "shower",
    "knee",
    "hip",
    "shoulder",
    "pain",
    "swelling",
    "fever",
    "walk",
    "stairs",
    "drive",
    "sleep",
    "bruise",
    "stitches",
    "staples",
    "opioid",
    "nausea",
    "constipation",
    "appetite",
    "wound",
    "drain",
    "brace",
    "crutches",
    "physio",
    "ice",
    "elevate",
    "redness",
    "warm",
    "clot",
    "breath",
    "dizzy",
    "medicine",
    "dose",
    "bandage",
    "scar",
    "itch",
]


def _texts(n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return [
        f"Day {i}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))) + "?"
        for i in range(n)
    ]


def bench_embedding(n: int) -> None:
    encode = minilm_encoder()
    encode(["warm up"])
    texts = _texts(n)
    start = time.perf_counter()
    for text in texts:
        encode([text])
    single = time.perf_counter() - start

    embedder = Embedder(load=lambda: encode)

    async def batched() -> None:
        await asyncio.gather(*(embedder.one(t) for t in texts))

    start = time.perf_counter()
    asyncio.run(batched())
    micro = time.perf_counter() - start
    print(f"embedding {n} texts (all-MiniLM-L6-v2, CPU)")
    print(f"  one encode per text : {n / single:8.1f} texts/s")
    print(f"  Embedder.one, batched: {n / micro:8.1f} texts/s  ({single / micro:.1f}x)")


def _clustered(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    """Unit vectors around 500 topics: real record embeddings cluster by topic, and uniform
    random vectors would be the graph's worst case, not its usual one."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((500, dim)).astype(np.float32)
    rows = centres[rng.integers(0, 500, n)] + 0.6 * rng.standard_normal((n, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def bench_index(largest: int, queries: int = 500) -> None:
    print(f"cosine index, {queries} queries each (384 dims, clustered vectors)")
    print("  rows      | exact: add/s  query ms | synthloom: add/s  query ms  mode   recall@1")
    size = 10_000
    while size <= largest:
        rows = _clustered(size + queries)
        stored, probes = rows[:size], rows[size:]
        timings = []
        for limit in (10**9, None):  # exact throughout; synthloom's default switch
            index = VectorIndex() if limit is None else VectorIndex(exact_limit=limit)
            start = time.perf_counter()
            for i, row in enumerate(stored):
                index.add(f"r{i}", row)
            added = size / (time.perf_counter() - start)
            start = time.perf_counter()
            found = [index.nearest(q)[1] for q in probes]
            per = (time.perf_counter() - start) / queries * 1000
            timings.append((added, per, found, "exact" if index.exact else "graph"))
        (ea, eq, truth, _), (sa, sq, got, mode) = timings
        recall = sum(a == b for a, b in zip(truth, got, strict=True)) / queries
        print(
            f"  {size:>9,} | {ea:12,.0f} {eq:9.2f} | {sa:16,.0f} {sq:9.2f}  {mode:5}  {recall:.3f}"
        )
        size *= 10


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--index", type=int, default=100_000)
    args = parser.parse_args()
    bench_embedding(args.texts)
    bench_index(args.index)


if __name__ == "__main__":
    main()
