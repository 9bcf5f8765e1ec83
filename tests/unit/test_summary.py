"""The run summary reports the closest-seed similarity distribution over checked records."""

from __future__ import annotations

import json
from pathlib import Path

from synthloom import FakeBackend, GenerationRequest, run
from tests.helpers import write_recipe


def test_seed_similarity_distribution_covers_every_record_the_privacy_step_saw(
    tmp_path: Path,
) -> None:
    replies = iter(
        [
            # a verbatim seed (see tests/helpers.write_seeds): the maximum, and a seed_copy drop
            (
                "Question number 1 about recovery?",
                "Answer number 1: rest, hydrate and call your team if worse.",
            ),
            (
                "Is swelling normal on day three?",
                "Some swelling is normal; elevate the leg and use ice.",
            ),
            (
                "Can I climb stairs after a hip replacement?",
                "Yes, slowly, one step at a time, with the rail.",
            ),
        ]
    )

    def responder(request: GenerationRequest) -> str:
        question, answer = next(replies)
        return json.dumps({"question": question, "answer": answer})

    path = write_recipe(
        tmp_path,
        model={"concurrency": 1},
        quality={"fields": ["question", "answer"], "privacy": {"pii": None}},
    )
    summary = run(path, tmp_path / "out", n=3, backend=FakeBackend(responder))
    assert summary.rejected == {"seed_copy": 1}
    jaccard = summary.seed_similarity["seed_jaccard"]
    assert jaccard["n"] == 3
    assert jaccard["max"] == 1.0
    assert 0 <= jaccard["p50"] <= jaccard["p90"] <= jaccard["max"]
    assert summary.seed_similarity["seed_substring"]["max"] >= 60
    assert summary.to_dict()["seed_similarity"] == summary.seed_similarity
