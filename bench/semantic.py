"""The semantic checks' costs, measured in one run on this machine.

1. Embedding N record texts with all-MiniLM-L6-v2: one ``encode`` call per text (the baseline,
   what a naive per-record check does) against synthloom's ``Embedder.one`` with every record
   in flight at once (micro-batched on one worker thread).
2. The exact cosine index: ms per nearest-neighbour query at growing sizes.

    .venv/bin/python bench/semantic.py [--texts 1000] [--index 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

import numpy as np

from synthloom.quality.embed import Embedder, VectorIndex, minilm_encoder

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


def bench_index(largest: int, queries: int = 500) -> None:
    rng = np.random.default_rng(0)
    print(f"exact cosine index, {queries} queries each (384 dims)")
    size = 1000
    while size <= largest:
        rows = rng.standard_normal((size, 384)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        index = VectorIndex()
        start = time.perf_counter()
        for i, row in enumerate(rows):
            index.add(f"r{i}", row)
        added = time.perf_counter() - start
        start = time.perf_counter()
        for row in rows[:queries]:
            index.nearest(row)
        per = (time.perf_counter() - start) / queries * 1000
        print(f"  {size:>7} rows: add {size / added:9.0f} rows/s, query {per:6.2f} ms")
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
