"""Near-duplicate removal at scale: synthloom's dedup step against rensa and datasketch used
directly, on the same generated corpus with planted near-duplicates of known Jaccard.

Each method streams the corpus the way a run does (for each document: MinHash it, query the
LSH index of the documents kept so far, keep and insert it if nothing is similar enough) in its
own process, so peak memory is its own. Speed is docs/s over the whole corpus; recall and
precision are measured on a 5,000-document subsample against exact 5-shingle Jaccard >= 0.8.

    python bench/dedup.py [--docs 100000] [--sample 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import time
from typing import Any

THRESHOLD = 0.8
NUM_PERM = 128
SHINGLE = 5


def corpus(n: int, seed: int = 7) -> list[str]:
    """Documents of 80-160 words from a 20,000-word vocabulary; a fifth of them are edited
    copies of an earlier original (a random share of words replaced), so their Jaccard to the
    original spans roughly 0.3-1.0."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20_000)]
    docs: list[str] = []
    originals: list[int] = []
    for i in range(n):
        if originals and rng.random() < 0.2:
            words = docs[rng.choice(originals)].split()
            rate = rng.choice([0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12])
            for j in range(len(words)):
                if rng.random() < rate:
                    words[j] = rng.choice(vocab)
            docs.append(" ".join(words))
        else:
            docs.append(" ".join(rng.choices(vocab, k=rng.randint(80, 160))))
            originals.append(i)
    return docs


def shingle_set(text: str) -> set[str]:
    """The baselines' shingling: split on whitespace (synthloom also lower-cases and strips
    punctuation, a pass the baselines skip)."""
    toks = text.split()
    return set(map(" ".join, zip(*(toks[i:] for i in range(SHINGLE)), strict=False)))


def run_synthloom(docs: list[str]) -> list[bool]:
    from synthloom.quality.dedup import NearDedup
    from synthloom.quality.settings import DedupSettings
    from synthloom.records import Provenance, Record

    check = NearDedup(DedupSettings(near=THRESHOLD, num_perm=NUM_PERM, shingle=SHINGLE), [])
    prov = Provenance("bench", "t", 0, [], {}, "", "fake", "fake", {})
    dropped: list[bool] = []

    async def stream() -> None:
        for i, text in enumerate(docs):
            record = Record(f"r{i}", "t", {"text": text}, prov)
            drop = await check.check(record, text, None)  # type: ignore[arg-type]
            if drop is None:
                check.admit(record, text)
            dropped.append(drop is not None)

    asyncio.run(stream())
    return dropped


def run_rensa(docs: list[str]) -> list[bool]:
    from rensa import RMinHash, RMinHashLSH

    from synthloom.quality.dedup import bands_for

    lsh = RMinHashLSH(
        threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=bands_for(THRESHOLD, NUM_PERM)
    )
    kept: dict[int, Any] = {}
    dropped = []
    for i, text in enumerate(docs):
        m = RMinHash(num_perm=NUM_PERM, seed=42)
        m.update(shingle_set(text))
        dup = any(m.jaccard(kept[k]) >= THRESHOLD for k in lsh.query(m))
        if not dup:
            lsh.insert(i, m)
            kept[i] = m
        dropped.append(dup)
    return dropped


def run_datasketch(docs: list[str]) -> list[bool]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    kept: dict[str, Any] = {}
    dropped = []
    for i, text in enumerate(docs):
        m = MinHash(num_perm=NUM_PERM, seed=42)
        m.update_batch([s.encode() for s in shingle_set(text)])
        dup = any(m.jaccard(kept[k]) >= THRESHOLD for k in lsh.query(m))
        if not dup:
            lsh.insert(str(i), m)
            kept[str(i)] = m
        dropped.append(dup)
    return dropped


METHODS = {"synthloom": run_synthloom, "rensa": run_rensa, "datasketch": run_datasketch}


def truth(docs: list[str]) -> list[bool]:
    """Exact: a document is a duplicate when an earlier one has 5-shingle Jaccard >= 0.8.
    Candidate pairs come from an inverted index of shingles, so only pairs sharing one count."""
    sets = [shingle_set(d) for d in docs]
    index: dict[str, list[int]] = {}
    out = []
    for i, s in enumerate(sets):
        seen: set[int] = set()
        for sh in s:
            seen.update(index.get(sh, ()))
        out.append(any(len(s & sets[j]) / len(s | sets[j]) >= THRESHOLD for j in seen))
        for sh in s:
            index.setdefault(sh, []).append(i)
    return out


def child(method: str, n: int, sample: int) -> None:
    docs = corpus(n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    METHODS[method](docs)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    sub = corpus(n)[:sample]
    predicted = METHODS[method](sub)
    actual = truth(sub)
    tp = sum(p and a for p, a in zip(predicted, actual, strict=True))
    print(
        json.dumps(
            {
                "docs_per_s": n / elapsed,
                "seconds": elapsed,
                "peak_mb": peak / 1024,
                "recall": tp / max(1, sum(actual)),
                "precision": tp / max(1, sum(predicted)),
                "duplicates": sum(actual),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--child", choices=list(METHODS))
    args = parser.parse_args()
    if args.child:
        child(args.child, args.docs, args.sample)
        return
    results = {}
    for method in METHODS:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                method,
                "--docs",
                str(args.docs),
                "--sample",
                str(args.sample),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        results[method] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{args.docs:,} documents, threshold {THRESHOLD}, {NUM_PERM} permutations, "
        f"{SHINGLE}-word shingles; quality on the first {args.sample:,}"
    )
    print(f"{'method':<12}{'docs/s':>10}{'peak MB':>10}{'recall':>9}{'precision':>11}")
    for method, r in results.items():
        print(
            f"{method:<12}{r['docs_per_s']:>10,.0f}{r['peak_mb']:>10.1f}"
            f"{r['recall']:>9.3f}{r['precision']:>11.3f}"
        )
    ratio = results["synthloom"]["docs_per_s"] / results["rensa"]["docs_per_s"]
    print(
        f"synthloom / rensa speed: {ratio:.2f}x (goal >= 0.9x); "
        f"recall {results['synthloom']['recall']:.3f} (goal >= 0.95); "
        f"planted duplicates in the sample: {results['synthloom']['duplicates']}"
    )


if __name__ == "__main__":
    main()
