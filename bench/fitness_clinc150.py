"""Train on synthetic, test on real, on CLINC150 (real crowdsourced intent queries, CC BY 3.0,
read from ../shared/data/clinc150; nothing is copied into the repository).

A few intents, a few real training queries each as the seeds; the ``label`` task writes new
queries for those intents with the chosen model (default: the embedded SmolLM2, offline);
``synthloom fitness`` then trains the probe on the seeds, the synthetic queries and both, and
tests each on the intents' real test split.

    .venv/bin/python bench/fitness_clinc150.py [--intents 5] [--seeds 5] [-n 100] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import yaml

DATA = Path(__file__).parents[2] / "shared" / "data" / "clinc150"
INTENTS = {  # what each intent means, for the prompt (from the intent names and their queries)
    "translate": "asks how to say a word or phrase in another language",
    "weather": "asks what the weather is or will be like",
    "alarm": "asks to set, change or check an alarm",
    "pay_bill": "asks to pay a bill",
    "book_flight": "asks to book a plane ticket",
    "calories": "asks how many calories a food has",
    "credit_score": "asks what their credit score is",
    "change_language": "asks the assistant to switch to another language",
}


def rows(split: str, intents: list[str]) -> list[dict[str, str]]:
    with (DATA / f"{split}.csv").open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["label"] in intents]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--intents", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5, help="real queries per intent")
    parser.add_argument("-n", type=int, default=100, help="synthetic queries to make")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--backend", default="embedded")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA}: not found (the shared data folder sits beside the checkout)")
    intents = list(INTENTS)[: args.intents]
    work = args.out or Path(tempfile.mkdtemp(prefix="clinc150-"))
    work.mkdir(parents=True, exist_ok=True)
    train = rows("train", intents)
    seeds = [r for i in intents for r in [t for t in train if t["label"] == i][: args.seeds]]
    (work / "seeds.jsonl").write_bytes(
        b"\n".join(orjson.dumps({"id": f"s{k}", **r}) for k, r in enumerate(seeds))
    )
    (work / "test.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows("test", intents)))
    recipe = {
        "name": "clinc150-fitness",
        "seeds": "seeds.jsonl",
        "target": args.n,
        "random_seed": 7,
        "model": {"backend": args.backend, "temperature": 0.9, "max_tokens": 80},
        "tasks": [
            {
                "kind": "label",
                "labels": {i: INTENTS[i] for i in intents},
                "few_shot": 3,
                "min_length": 8,
                "max_length": 200,
            }
        ],
        "quality": {"dedup": {"exact": True, "near": 0.9}},
    }
    (work / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    synthloom = [sys.executable, "-m", "synthloom.cli"]
    out = work / "out"
    subprocess.run([*synthloom, "run", str(work / "recipe.yaml"), "-o", str(out)], check=True)
    subprocess.run(
        [*synthloom, "fitness", str(out), "--real", str(work / "test.jsonl")], check=True
    )
    print(f"files: {work}")


if __name__ == "__main__":
    main()
