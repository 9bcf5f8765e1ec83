"""The quality gate's speed against the hardware's ceiling, measured in one run.

(a) The ceiling: all-MiniLM-L6-v2 ``encode`` over the gate's record texts, batched; every
    semantic check needs each record's vector, so the gate cannot be faster than this.
    (a) and (b) are measured in alternating rounds, so both see the machine's drift.
(b) The flagship gate (every check the flagship recipe configures, semantic ones included) over
    the same records, made by the fake backend, applied as the engine applies it: many records
    in flight, stateful checks (dedup indexes) learning each kept record.
(c) (b) / (a): goal >= 0.8.
(d) The same gate with the semantic checks off: goal >= 1,000 records/s.
    (d) and (e) are measured in alternating rounds too.
(e) Per-record cost of (d) with the flagship's 50 seeds and with 2,000 seeds (the flagship's,
    their words reshuffled): goal within 1.3x of each other. Seed-copy, closest-seed and
    dedup-against-seeds checks all read every seed; their cost must not grow with them.

    .venv/bin/python bench/gate.py [--records 2000] [--seeds 2000] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
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
    # The relevance rule embeds each record's prompt and response apart: two more texts a
    # record, so it would move (b) away from one embedding per record, which is what (c)
    # compares with the encoder's ceiling. Its cheap heuristics stay on.
    if quality.heuristics is not None:
        quality.heuristics.relevance = None
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


@dataclass(frozen=True)
class Made:
    warm: list[Record]  # the first IN_FLIGHT records: warm-up, off the clock
    timed: list[Record]


def copies(batch: list[Record]) -> Iterator[Record]:
    for r in batch:
        yield Record(r.id, r.task, dict(r.data), r.provenance, scores={}, notes={})


async def drain(gate: Gate, pending: list[Record]) -> None:
    """Apply the gate to every record with IN_FLIGHT at once, as the engine does."""
    calls = NoCalls()

    async def worker() -> None:
        while pending:
            await gate.apply(pending.pop(), calls)

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


def built_gate(semantic: bool, seeds: list[dict[str, Any]] | None = None) -> Gate:
    built = prepare(recipe(semantic=semantic, seeds=seeds), backend="fake", model_id="fake-1")
    assert built.gate is not None
    return built.gate


Step = Callable[[list[Record]], Awaitable[object]]


def alternating(made: Made, rounds: int, steps: dict[str, Step]) -> dict[str, float]:
    """Each step's rate (records/s) over ``made.timed``, measured in alternating rounds: the
    records in ``rounds`` chunks, every step over a chunk before the next chunk. This
    machine's speed drifts by +-6% from one stretch of a few seconds to the next, so two
    figures measured one after the other moved their ratio by 0.1 to 0.6 from run to run;
    alternating, they see the same drift. ``made.warm`` goes through every step first, off
    the clock: it builds the gates' indexes and loads their models."""
    size = -(-len(made.timed) // rounds)
    chunks = [made.timed[i : i + size] for i in range(0, len(made.timed), size)]

    async def measure() -> dict[str, float]:
        for step in steps.values():
            await step(made.warm)
        seconds = dict.fromkeys(steps, 0.0)
        for chunk in chunks:
            for name, step in steps.items():
                start = time.perf_counter()
                await step(chunk)
                seconds[name] += time.perf_counter() - start
        return {name: len(made.timed) / s for name, s in seconds.items()}

    return asyncio.run(measure())


def gating(gate: Gate) -> Step:
    return lambda chunk: drain(gate, list(copies(chunk)))


def encoding(fields: list[str] | None) -> Step:
    from synthloom.quality.embed import minilm_encoder

    encode = minilm_encoder()

    async def step(chunk: list[Record]) -> None:
        encode([text_of(r.data, fields) for r in chunk])

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4, help="alternations of (a) and (b)")
    args = parser.parse_args()
    flagship = recipe(semantic=True)
    every = records(flagship, IN_FLIGHT + args.records)
    made = Made(every[:IN_FLIGHT], every[IN_FLIGHT:])
    fields = flagship.quality.fields
    texts = [text_of(r.data, fields) for r in made.timed]
    chars = sum(map(len, texts)) / len(texts)
    print(f"records                          {len(texts):,} (fake backend, {chars:.0f} chars)")

    gate = built_gate(True)
    with gate.running():  # as the engine runs it (numpy's BLAS on one thread)
        rate = alternating(made, args.rounds, {"ceiling": encoding(fields), "gate": gating(gate)})
    top, full = rate["ceiling"], rate["gate"]
    print(f"(a) MiniLM encode, batched       {top:,.1f} texts/s  (the ceiling)")
    print(f"(b) flagship gate                {full:,.1f} records/s")
    print(f"(c) gate / ceiling               {full / top:.2f}x  (goal >= 0.80)")
    rate = alternating(
        made,
        args.rounds,
        {
            "50": gating(built_gate(False)),
            "many": gating(built_gate(False, more_seeds(args.seeds))),
        },
    )
    plain, many = rate["50"], rate["many"]
    print(f"(d) gate, semantic checks off    {plain:,.0f} records/s  (goal >= 1,000)")
    small_ms, big_ms = 1e3 / plain, 1e3 / many
    print(f"(e) per record, 50 seeds         {small_ms:.3f} ms")
    print(f"    per record, {args.seeds:,} seeds      {big_ms:.3f} ms")
    print(f"    ratio                        {big_ms / small_ms:.2f}x  (goal <= 1.30)")


if __name__ == "__main__":
    main()
