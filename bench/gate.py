"""The quality gate's speed against the hardware's ceiling, measured in one run.

(a) The ceiling: all-MiniLM-L6-v2 ``encode`` over the gate's record texts, batched; every
    semantic check needs each record's vector, so the gate cannot be faster than this.
(b) The flagship gate (every check the flagship recipe configures, semantic ones included) over
    the same records, made by the fake backend, applied as the engine applies it: many records
    in flight, stateful checks (dedup indexes) learning each kept record.
(c) (b) / (a): goal >= 0.8.
(d) The same gate with the semantic checks off: goal >= 1,000 records/s.
(e) Per-record cost of (d) with the flagship's 50 seeds and with 2,000 seeds (the flagship's,
    their words reshuffled): goal within 1.3x of each other. Seed-copy, closest-seed and
    dedup-against-seeds checks all read every seed; their cost must not grow with them.

    .venv/bin/python bench/gate.py [--records 2000] [--seeds 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from synthloom import FakeBackend, load_recipe
from synthloom.backends.base import Completion, GenerationRequest
from synthloom.pipeline import prepare
from synthloom.quality.base import text_of
from synthloom.quality.gate import Gate
from synthloom.recipe import Recipe
from synthloom.records import Record
from synthloom.schema import OutputSchema

FLAGSHIP = Path(__file__).parents[1] / "examples" / "post-surgical-care" / "recipe.yaml"
IN_FLIGHT = 64  # records the engine has in flight at once (the flagship's concurrency)


class NoCalls:
    """The flagship's gate makes no model call (no judge): any call is a bench bug."""

    async def complete(self, request: GenerationRequest) -> Completion:
        raise AssertionError("the flagship gate made a model call")

    async def json(self, request: GenerationRequest, schema: OutputSchema) -> dict[str, Any]:
        raise AssertionError("the flagship gate made a model call")


def recipe(*, semantic: bool, seeds: list[dict[str, Any]] | None = None) -> Recipe:
    loaded = load_recipe(FLAGSHIP)
    if seeds is not None:
        loaded.seeds = seeds
    quality = loaded.quality
    if not semantic:
        if quality.dedup is not None:
            quality.dedup.semantic = None
        if quality.decontaminate is not None:
            quality.decontaminate.semantic = None
        if quality.privacy is not None:
            quality.privacy.max_seed_cosine = None
    return loaded


def more_seeds(count: int) -> list[dict[str, Any]]:
    """The flagship's seeds, then variants with each field's words reshuffled: the same
    vocabulary and length, so a per-seed cost shows as it would with real seeds."""
    lines = (FLAGSHIP.parent / "seeds.jsonl").read_bytes().splitlines()
    base = [orjson.loads(line) for line in lines if line.strip()]
    rng = random.Random(7)
    out = [dict(s) for s in base]
    while len(out) < count:
        seed = dict(rng.choice(base))
        for key in ("question", "answer"):
            words = str(seed[key]).split()
            rng.shuffle(words)
            seed[key] = " ".join(words)
        seed["id"] = f"v{len(out):05d}"
        out.append(seed)
    return out


def records(prepared_recipe: Recipe, count: int) -> list[Record]:
    """The fake backend's replies for the flagship's first ``count`` rows, as records."""
    prepared = prepare(prepared_recipe, backend="fake", model_id="fake-1")
    task, backend = prepared.tasks[0], FakeBackend()

    async def make() -> list[Record]:
        out = []
        for row in prepared.planner.rows(count):
            job = task.job(row)
            reply = await backend.generate(job.first)
            data = OutputSchema(job.first.json_schema or {}).parse(reply.text)
            out.append(Record(job.record_id, job.task, data, job.provenance))
        return out

    return asyncio.run(make())


def copies(batch: list[Record]) -> Iterator[Record]:
    for r in batch:
        yield Record(r.id, r.task, dict(r.data), r.provenance, scores={}, notes={})


async def through(gate: Gate, batch: list[Record]) -> float:
    """Seconds to apply the gate to every record with IN_FLIGHT at once, as the engine does;
    the gate's indexes (and the embedding model) are built and warmed before the clock."""
    calls = NoCalls()
    await gate.apply(next(copies(batch[:1])), calls)  # loads lazily built models
    pending = list(copies(batch[1:]))
    start = time.perf_counter()

    async def worker() -> None:
        while pending:
            await gate.apply(pending.pop(), calls)

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return time.perf_counter() - start


def gate_rate(semantic: bool, batch: list[Record], seeds: list[dict[str, Any]] | None) -> float:
    built = prepare(recipe(semantic=semantic, seeds=seeds), backend="fake", model_id="fake-1")
    assert built.gate is not None
    seconds = asyncio.run(through(built.gate, batch))
    return (len(batch) - 1) / seconds


def ceiling(texts: list[str]) -> float:
    from synthloom.quality.embed import minilm_encoder

    encode = minilm_encoder()
    encode(texts[:64])  # warm-up: first call pays for lazy initialisation
    start = time.perf_counter()
    encode(texts)
    return len(texts) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=2000)
    args = parser.parse_args()
    flagship = recipe(semantic=True)
    batch = records(flagship, args.records)
    fields = flagship.quality.fields
    texts = [text_of(r.data, fields) for r in batch]
    chars = sum(map(len, texts)) / len(texts)
    print(f"records                          {len(batch):,} (fake backend, {chars:.0f} chars)")

    top = ceiling(texts)
    print(f"(a) MiniLM encode, batched       {top:,.1f} texts/s  (the ceiling)")
    full = gate_rate(True, batch, None)
    print(f"(b) flagship gate                {full:,.1f} records/s")
    print(f"(c) gate / ceiling               {full / top:.2f}x  (goal >= 0.80)")
    plain = gate_rate(False, batch, None)
    print(f"(d) gate, semantic checks off    {plain:,.0f} records/s  (goal >= 1,000)")
    many = gate_rate(False, batch, more_seeds(args.seeds))
    small_ms, big_ms = 1e3 / plain, 1e3 / many
    print(f"(e) per record, 50 seeds         {small_ms:.3f} ms")
    print(f"    per record, {args.seeds:,} seeds      {big_ms:.3f} ms")
    print(f"    ratio                        {big_ms / small_ms:.2f}x  (goal <= 1.30)")


if __name__ == "__main__":
    main()
