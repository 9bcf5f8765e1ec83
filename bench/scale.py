"""Whether a run scales to a million records: memory flat, throughput steady, in one run.

The whole path runs: plan, generate (the in-package fake backend, so the model costs nothing
and synthloom's own cost shows), the label example's cheap checks (its model-free heuristics;
every check that needs the embedding model off), exact and near (MinHash) dedup, the SQLite
store, dataset.jsonl written at the end of the run, then an export to JSONL.

(a) 100k, 300k and 1M records: wall time (run + export), records/s, peak RSS.
    Goals: peak RSS at the largest size < 2 GiB; records/s at the largest >= 0.8x the
    smallest's (time grows linearly: nothing per record grows with the records made so far).
(b) Dedup off, at the smallest and the largest size: peak RSS of each. Goal: within 1.5x of
    each other. The dedup indexes must grow with the records (they hold one entry per kept
    record); everything else must not, and (b) shows what grows without them.
(c) Local vs Ray (2 shards) on this machine, at one size: run seconds of each and Ray / local.
    Printed, no goal: Ray starts worker processes and merges the shards' stores afterwards,
    which a 2-core machine cannot win back.

Each measurement runs in its own process (this script, re-invoked with --child), so every
peak RSS is that run's own. For Ray it is the driver's: the workers are separate processes.

    .venv/bin/python bench/scale.py [--sizes 100000,300000,1000000] [--ray-rows 100000]
                                    [--no-ray] [--parts a,b,c]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LABEL = Path(__file__).parents[1] / "examples" / "label" / "recipe.yaml"
MAX_RSS_MIB = 2048  # 2 GiB, at the largest size
MIN_RATE_RATIO = 0.8  # records/s at the largest size over the smallest's
MAX_RSS_GROWTH = 1.5  # dedup off: peak RSS at the largest size over the smallest's


def recipe(dedup: bool) -> Any:
    """The label example with its cheap checks, the embedding ones off, dedup as asked."""
    from synthloom import load_recipe
    from synthloom.quality.settings import DedupSettings

    loaded = load_recipe(LABEL)
    quality = loaded.quality
    update: dict[str, Any] = {
        "dedup": DedupSettings(exact=True, near=0.8, semantic=None) if dedup else None,
        "judge": None,
        "grounding": None,
    }
    if quality.heuristics is not None:
        update["heuristics"] = quality.heuristics.model_copy(update={"relevance": None})
    if quality.privacy is not None:
        update["privacy"] = quality.privacy.model_copy(update={"max_seed_cosine": None})
    if quality.decontaminate is not None:
        update["decontaminate"] = quality.decontaminate.model_copy(update={"semantic": None})
    quality = quality.model_copy(update=update)
    if quality.semantic:
        raise SystemExit("a check still needs the embedding model")
    executor = loaded.executor.model_copy(update={"shards": 2})
    return loaded.model_copy(update={"quality": quality, "executor": executor, "export": []})


def child(rows: int, dedup: bool, executor: str) -> None:
    """One measurement, printed as one JSON line (the last line of stdout)."""
    from synthloom import run
    from synthloom.export.writer import export

    loaded = recipe(dedup)
    startup = 0.0
    if executor == "ray":
        import ray

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - started
    try:
        with tempfile.TemporaryDirectory() as tmp:
            outdir = Path(tmp) / "run"
            started = time.perf_counter()
            summary = run(loaded, outdir, n=rows, dry_run=True, executor=executor)
            run_s = time.perf_counter() - started
            if not (outdir / "dataset.jsonl").is_file():
                raise SystemExit("the run wrote no dataset.jsonl")
            started = time.perf_counter()
            exported = export(outdir, "jsonl", Path(tmp) / "train.jsonl")
            export_s = time.perf_counter() - started
    finally:
        if executor == "ray":
            ray.shutdown()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    figures = {
        "rows": rows,
        "accepted": summary.accepted,
        "exported": exported.rows,
        "run_s": run_s,
        "export_s": export_s,
        "startup_s": startup,
        "peak_mib": peak_kib / 1024,
    }
    print(json.dumps(figures))


def measure(rows: int, *, dedup: bool = True, executor: str = "local") -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(rows), "--executor", executor]
    if not dedup:
        command.append("--dedup-off")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {executor} run of {rows:,} records failed")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["exported"] != figures["accepted"]:
        raise SystemExit(f"exported {figures['exported']:,} of {figures['accepted']:,} records")
    figures["total_s"] = figures["run_s"] + figures["export_s"]
    figures["rate"] = rows / figures["total_s"]
    return figures


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,300000,1000000", help="comma-separated")
    parser.add_argument("--ray-rows", type=int, default=100_000)
    parser.add_argument("--no-ray", action="store_true", help="skip local vs Ray")
    parser.add_argument("--parts", default="a,b,c", help="which of (a), (b), (c) to run")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--executor", default="local", help=argparse.SUPPRESS)
    parser.add_argument("--dedup-off", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, not args.dedup_off, args.executor)
        return
    sizes = sorted(int(size) for size in args.sizes.split(","))
    failed = False
    parts = set(args.parts.split(","))
    by_size: dict[int, dict[str, Any]] = {}
    if "a" in parts:
        failed |= part_a(sizes, by_size)
    if "b" in parts:
        failed |= part_b(sizes[0], sizes[-1])
    if "c" in parts and not args.no_ray:
        failed |= part_c(args.ray_rows, by_size)
    if failed:
        sys.exit(1)


def part_a(sizes: list[int], by_size: dict[int, dict[str, Any]]) -> bool:
    small, large = sizes[0], sizes[-1]
    failed = False
    print("(a) label recipe, fake backend, cheap checks, exact + near dedup (0.8)")
    print("          rows   accepted    run s export s    rec/s  peak MiB")
    for size in sizes:
        f = by_size[size] = measure(size)
        print(
            f"    {size:>10,} {f['accepted']:>10,} {f['run_s']:>8.1f} {f['export_s']:>8.1f} "
            f"{f['rate']:>8,.0f} {f['peak_mib']:>9,.0f}"
        )
    peak = by_size[large]["peak_mib"]
    ok = peak < MAX_RSS_MIB
    failed |= not ok
    print(
        f"    peak RSS at {large:,}: {peak:,.0f} MiB  (goal < {MAX_RSS_MIB:,} MiB)  {verdict(ok)}"
    )
    ratio = by_size[large]["rate"] / by_size[small]["rate"]
    ok = ratio >= MIN_RATE_RATIO
    failed |= not ok
    print(
        f"    records/s at {large:,} / at {small:,}: {ratio:.2f}x  "
        f"(goal >= {MIN_RATE_RATIO:.2f})  {verdict(ok)}"
    )
    return failed


def part_b(small: int, large: int) -> bool:
    failed = False
    print("(b) dedup off, same checks otherwise")
    off = {size: measure(size, dedup=False) for size in dict.fromkeys((small, large))}
    for size, f in off.items():
        print(f"    {size:>10,} rows: peak RSS {f['peak_mib']:,.0f} MiB ({f['rate']:,.0f} rec/s)")
    growth = off[large]["peak_mib"] / off[small]["peak_mib"]
    ok = growth <= MAX_RSS_GROWTH
    failed |= not ok
    print(
        f"    peak RSS at {large:,} / at {small:,}: {growth:.2f}x  "
        f"(goal <= {MAX_RSS_GROWTH:.2f})  {verdict(ok)}"
    )
    return failed


def part_c(rows: int, by_size: dict[int, dict[str, Any]]) -> bool:
    failed = False
    print(f"(c) local vs Ray (2 shards, num_cpus=2), {rows:,} rows, {os.cpu_count()} CPUs here")
    local = by_size.get(rows) or measure(rows)
    ray = measure(rows, executor="ray")
    print(f"    local  run {local['run_s']:>7.1f} s  peak RSS {local['peak_mib']:,.0f} MiB")
    print(
        f"    Ray    run {ray['run_s']:>7.1f} s  peak RSS {ray['peak_mib']:,.0f} MiB "
        f"(driver only)  + ray.init {ray['startup_s']:.1f} s"
    )
    print(f"    Ray / local run seconds: {ray['run_s'] / local['run_s']:.2f}x  (no goal)")
    ok = ray["accepted"] == local["accepted"]
    failed |= not ok
    print(
        f"    accepted: local {local['accepted']:,}, Ray {ray['accepted']:,}  "
        f"(the same dataset)  {verdict(ok)}"
    )
    return failed


if __name__ == "__main__":
    main()
