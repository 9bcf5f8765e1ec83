"""The flagship recipe with the full quality gate (validators, dedup, decontamination, privacy,
rubric judge, grounding) on the real embedded model, through the CLI: the funnel is printed
and every row that is not kept is stored with its reason, detail and score."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from synthloom.store.sqlite import RunStore
from tests.helpers import cli, read_jsonl

FLAGSHIP = Path(__file__).parents[2] / "examples" / "post-surgical-care"
GATE_REASONS = {
    "too_short",
    "too_long",
    "missing_pattern",
    "forbidden_pattern",
    "refusal",
    "wrong_language",
    "exact_duplicate",
    "near_duplicate",
    "semantic_duplicate",
    "contaminated",
    "seed_copy",
    "pii",
    "low_score",
    "ungrounded",
}


def test_flagship_with_the_full_gate_prints_the_funnel_and_explains_every_drop(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "recipe"
    shutil.copytree(FLAGSHIP, folder)
    recipe = yaml.safe_load((folder / "recipe.yaml").read_text())
    # the junk heuristics would drop most of SmolLM2-135M's four rows before the judge sees one
    # (tests/data/smollm2_junk.jsonl); tests/unit/test_heuristics.py covers them
    del recipe["quality"]["heuristics"]
    recipe["quality"]["judge"] = {
        "criteria": {
            "accuracy": "the answer is medically sound and safe",
            "helpfulness": "the answer addresses the question concretely",
        },
        "min_score": 3,
        "max_tokens": 300,
    }
    recipe["quality"]["grounding"] = {"against": "seeds", "k": 2, "min_support": 0.5}
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    out = tmp_path / "out"
    seed_ids = {row["id"] for row in read_jsonl(folder / "seeds.jsonl")}

    result = cli("run", str(folder / "recipe.yaml"), "-o", str(out), "-n", "4")

    assert result.returncode == 0, result.stderr
    assert "quality funnel" in result.stdout
    assert "generated" in result.stdout
    with RunStore.in_dir(out) as store:
        records = list(store.planned_records())
    assert len(records) == 4
    kept = read_jsonl(out / "dataset.jsonl")
    dropped = read_jsonl(out / "rejected.jsonl")
    assert len(kept) + len(dropped) == 4
    for row in kept:  # a kept record went through every check, and carries their scores
        scores = row["scores"]
        assert {"near_dup_jaccard", "seed_jaccard", "pii_found", "judge_mean"} <= set(scores)
        assert {"semantic_dup_cosine", "eval_cosine", "seed_cosine"} <= set(scores)
        assert "grounding_support" in scores
        assert scores["judge_mean"] >= 3
        # what a reviewer is shown: the judge's reasons, the claims, the closest seed
        notes = row["notes"]
        assert set(notes["judge"]) == {"accuracy", "helpfulness"}
        assert all(isinstance(why, str) and why for why in notes["judge"].values())
        assert isinstance(notes["claims"], list)
        assert notes["nearest_seed"] in seed_ids
    for row in dropped:
        assert row["reason"], row
        assert row["error"], row  # the detail: what exactly was wrong
        if row["status"] == "rejected":
            assert row["reason"] in GATE_REASONS, row["reason"]
            assert f"{row['reason']}_score" in row["scores"] or row["reason"] in {
                "missing_pattern",
                "forbidden_pattern",
                "refusal",
                "contaminated",
            }
        else:  # generation or a judge call that never gave valid JSON: the data is kept
            assert row["status"] == "failed"
    judged = [r for r in records if "judge_mean" in r.scores]
    assert judged, "the judge ran on no record"
