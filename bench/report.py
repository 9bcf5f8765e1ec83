"""The report's metrics over 100,000 records: time and peak memory, one run.

The records are the flagship's seeds recombined: each record is a seed's question and answer
with their sentences shuffled among seeds of the same topic and a few words swapped, with
axis values drawn as the flagship's plan draws them (six axes). That gives texts of the
flagship's length and vocabulary, and axes whose effect and bias the report must measure.
The reference is the flagship's 50 seeds. Quadratic figures are computed on samples, which
the output states; the embedding model is the real all-MiniLM-L6-v2 (extra ``embed``).

    .venv/bin/python bench/report.py [--records 100000] [--no-embed]
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import time
from pathlib import Path
from typing import Any

import orjson

from synthloom.records import Provenance, Record, Status
from synthloom.report.build import encoder
from synthloom.report.metrics import EMBED_SAMPLE, compute
from synthloom.report.source import Reference, RunData

FLAGSHIP = Path(__file__).parents[1] / "examples" / "post-surgical-care"
AXES: dict[str, list[str]] = {
    "age_group": ["18-34", "35-54", "55-69", "70+"],
    "question_style": ["short and direct", "worried and detailed", "practical checklist"],
    "reading_level": ["grade 6", "grade 10", "college"],
    "persona": [f"persona {i}" for i in range(40)],
    "mobility_aid": ["none", "cane", "walker"],
}


def records(count: int, seeds: list[dict[str, Any]], seed: int = 7) -> list[Record]:
    rng = random.Random(seed)
    sentences = [re.split(r"(?<=[.!?])\s+", str(s["answer"])) for s in seeds]
    words = sorted({w for s in seeds for w in str(s["answer"]).split()})
    out = []
    for i in range(count):
        base = rng.randrange(len(seeds))
        answer = [rng.choice(sentences[rng.randrange(len(seeds))]) for _ in range(3)]
        answer.insert(0, sentences[base][0])
        text = " ".join(answer).split()
        for _ in range(3):
            text[rng.randrange(len(text))] = rng.choice(words)
        axes: dict[str, Any] = {name: rng.choice(values) for name, values in AXES.items()}
        axes["days_since_surgery"] = rng.randint(1, 42)
        prov = Provenance(
            "bench", "qa", i, [str(seeds[base]["id"])], axes, "", "fake", "fake-1", {}
        )
        dropped = rng.random() < (0.3 if axes["age_group"] == "70+" else 0.1)  # a planted bias
        record = Record(
            f"r{i:06d}",
            "qa",
            {"question": str(seeds[base]["question"]), "answer": " ".join(text)},
            prov,
            status=Status.REJECTED if dropped else Status.ACCEPTED,
            reason="near_duplicate" if dropped else None,
        )
        out.append(record)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-embed", action="store_true")
    args = parser.parse_args()
    seeds = [orjson.loads(line) for line in (FLAGSHIP / "seeds.jsonl").read_bytes().splitlines()]
    start = time.perf_counter()
    produced = records(args.records, seeds)
    kept = [r for r in produced if r.status is Status.ACCEPTED]
    run = RunData(
        FLAGSHIP,
        {"name": "bench", "axes": {name: values for name, values in AXES.items()}},
        kept,
        produced,
        ["question", "answer"],
        Reference("seeds", seeds),
        None,
        None,
        None,
        seeds,
    )
    built = time.perf_counter() - start
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    encode = None if args.no_embed else encoder()
    start = time.perf_counter()
    metrics = compute(run, encode=encode)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    chars = sum(len(t) for t in run.texts()[:1000]) / 1000
    print(
        f"records                 {len(produced):,} produced, {len(kept):,} kept "
        f"({chars:.0f} chars)"
    )
    print(f"  (made in {built:.1f} s; peak RSS before the metrics {rss_before:,.0f} MB)")
    print(f"metrics, all sections   {seconds:.1f} s  (goal: under 10 minutes)")
    print(f"peak RSS                {peak:,.0f} MB  (goal: under 4,000 MB)")
    print("samples: self-BLEU on 500 texts; embedding figures (Vendi, PRDC, MAUVE, C2ST,")
    print(f"  clusters) on {EMBED_SAMPLE:,} records a side; axis probes on 5,000 rows;")
    print("  distinct-n, compression, lengths, openings, axis counts and tests on every record")
    axes = metrics.get("axes") or {}
    print(
        f"warnings                {len(metrics['warnings'])}; axis findings "
        f"{len(axes.get('findings') or [])}"
    )
    for finding in (axes.get("findings") or [])[:3]:
        print(f"  - {finding['message']}")


if __name__ == "__main__":
    main()
