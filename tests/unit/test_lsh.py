"""The compact LSH index near-dedup moves to past ``fast_up_to`` texts: it finds what rensa's
index finds (every key sharing a band), through growth, and dedup decides the same with it."""

from __future__ import annotations

import asyncio
import random

import numpy as np

from synthloom.quality.dedup import NearDedup
from synthloom.quality.lsh import BandIndex
from synthloom.quality.settings import DedupSettings
from synthloom.records import Provenance, Record


def _sharing_a_band(rows: np.ndarray, query: np.ndarray, bands: int) -> set[int]:
    """Brute force: the keys whose values equal the query's in some whole band."""
    width = rows.shape[1] // bands
    same = (rows == query).reshape(len(rows), bands, width).all(axis=2).any(axis=1)
    return set(np.flatnonzero(same).tolist())


def test_query_returns_every_key_sharing_a_band_through_growth() -> None:
    rng = np.random.default_rng(4)
    index = BandIndex(128, 32)
    rows = rng.integers(0, 2**16, size=(5000, 128), dtype=np.uint16)
    rows[100:200] = rows[:100]  # exact copies
    rows[200:300, :64] = rows[:100, :64]  # half the bands copied
    rows[300:400, :4] = rows[:100, :4]  # one band copied
    for row in rows:
        index.insert(row)
    assert len(index) == 5000
    for key in [0, 7, 99, 250, 350, 4999]:
        found = index.query(rows[key])
        assert _sharing_a_band(rows, rows[key], 32) <= found
        assert key in found
    assert index.query(rows[0]) >= {0, 100, 200, 300}
    fresh = rng.integers(0, 2**16, size=128, dtype=np.uint16)
    assert index.query(fresh) == _sharing_a_band(rows, fresh, 32)


def test_bands_of_eight_rows_and_32_bit_values() -> None:
    rng = np.random.default_rng(5)
    index = BandIndex(128, 16)
    rows = rng.integers(0, 2**32, size=(300, 128), dtype=np.uint32)
    rows[1, :8] = rows[0, :8]
    for row in rows:
        index.insert(row)
    assert index.query(rows[0]) == {0, 1}


def _corpus(n: int) -> list[str]:
    rng = random.Random(2)
    vocab = [f"w{i}" for i in range(3000)]
    docs: list[str] = []
    for i in range(n):
        if docs and i % 4 == 0:  # an edited copy of an earlier document
            words = rng.choice(docs).split()
            for j in range(len(words)):
                if rng.random() < rng.choice([0.0, 0.02, 0.05, 0.2]):
                    words[j] = rng.choice(vocab)
            docs.append(" ".join(words))
        else:
            docs.append(" ".join(rng.choices(vocab, k=rng.randint(40, 80))))
    return docs


def _decisions(docs: list[str], fast_up_to: int) -> list[str | None]:
    check = NearDedup(DedupSettings(near=0.8), [("s0", docs[0])], fast_up_to=fast_up_to)
    prov = Provenance("u", "t", 0, [], {}, "h", "fake", "fake-1", {})
    out: list[str | None] = []

    async def go() -> None:
        for i, text in enumerate(docs):
            record = Record(f"r{i}", "t", {}, prov)
            drop = await check.check(record, text, None)  # type: ignore[arg-type]
            if drop is None:
                check.admit(record, text)
            out.append(None if drop is None else drop.detail)

    asyncio.run(go())
    return out


def test_dedup_decides_the_same_after_moving_to_the_compact_index() -> None:
    docs = _corpus(3000)
    fast = _decisions(docs, fast_up_to=10**9)
    moved = _decisions(docs, fast_up_to=200)  # moves after 200 kept texts
    assert moved == fast
    dropped = [d for d in fast if d is not None]
    assert any("seed s0" in d for d in dropped)  # the seed itself comes back as a copy
    assert len(dropped) > 50
    assert sum(d is not None for d in fast[1000:]) > 20  # found by the compact index
