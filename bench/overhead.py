"""CPU time synthloom itself spends per record, the quality gate off (goal: <= 1 ms).

Runs the flagship recipe (real templates, axes, schema, SQLite store) on the fake backend with
zero latency, so nearly all CPU is synthloom's own. The fake backend's own cost is measured on
its own in the same run and subtracted. The gate is switched off: what its checks cost is
measured by their own benchmarks (bench/dedup.py, bench/semantic.py), and with it on, the
fake backend's near-identical replies would be dropped as duplicates.

    python bench/overhead.py [--records 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from synthloom import FakeBackend, load_recipe, run
from synthloom.pipeline import prepare
from synthloom.quality.settings import QualitySettings

FLAGSHIP = Path(__file__).parents[1] / "examples" / "post-surgical-care" / "recipe.yaml"


def fake_only_cpu(count: int) -> float:
    """CPU seconds the fake backend alone needs for ``count`` calls on the same requests."""
    recipe = load_recipe(FLAGSHIP)
    prepared = prepare(recipe, backend="fake", model_id="fake-1")
    requests = [prepared.tasks[0].job(row).first for row in prepared.planner.rows(count)]
    backend = FakeBackend()

    async def calls() -> None:
        for request in requests:
            await backend.generate(request)

    start = time.process_time()
    asyncio.run(calls())
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    recipe = load_recipe(FLAGSHIP)
    recipe.model.concurrency = 64
    recipe.quality = QualitySettings()  # the gate off: this measures the pipeline itself

    with tempfile.TemporaryDirectory() as tmp:
        profiler = cProfile.Profile() if args.profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        summary = run(recipe, Path(tmp) / "out", n=args.records, backend=FakeBackend())
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if summary.accepted != args.records:
        raise SystemExit(f"expected {args.records} accepted records: {summary.to_dict()}")
    fake = fake_only_cpu(args.records)
    own = cpu - fake
    n = args.records
    print(f"records                     {n:,}")
    print(f"wall time                   {wall:.2f} s  ({n / wall:,.0f} records/s)")
    print(f"total CPU per record        {cpu / n * 1e3:.3f} ms")
    print(f"fake backend CPU per record {fake / n * 1e3:.3f} ms  (baseline, same run)")
    print(f"synthloom CPU per record    {own / n * 1e3:.3f} ms  (goal <= 1.000 ms)")
    print(f"ratio to goal               {own / n * 1e3 / 1.0:.2f}x")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
