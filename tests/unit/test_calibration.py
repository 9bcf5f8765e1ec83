"""Judge calibration: agreement with human verdicts is measured before the run trusts the
judge, reported, kept out of the dataset, and stops the run when too low."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom import FakeBackend, GenerationRequest, run
from synthloom.errors import RecipeError, SynthloomError
from synthloom.quality.calibration import STAGE, agreement
from synthloom.records import Provenance, Record
from tests.helpers import read_jsonl, write_recipe

PROV = Provenance("r", STAGE, 0, [], {}, "", "", "", {})


def _pairs(*pairs: tuple[bool, bool]) -> list[Record]:
    return [
        Record(f"c{i}", STAGE, {"human": h, "judge": j, "judge_mean": 3.0}, PROV)
        for i, (h, j) in enumerate(pairs)
    ]


def test_agreement_is_accuracy_and_cohens_kappa() -> None:
    perfect = agreement(_pairs((True, True), (False, False), (True, True), (False, False)))
    assert perfect == {"items": 4, "accuracy": 1.0, "kappa": 1.0}
    # 2 of 4 agree, as chance would (both accept half the time): kappa 0
    three = agreement(_pairs((True, True), (True, False), (False, False), (False, True)))
    assert three["accuracy"] == 0.5
    assert three["kappa"] == 0.0
    # 3 of 4 agree; chance 0.5*0.75 + 0.5*0.25 = 0.5, so kappa (0.75 - 0.5) / 0.5 = 0.5
    mostly = agreement(_pairs((True, True), (True, True), (False, False), (False, True)))
    assert mostly["accuracy"] == 0.75
    assert mostly["kappa"] == 0.5
    assert agreement([]) == {"items": 0, "accuracy": None, "kappa": None}


def _calibrated(tmp_path: Path, verdicts: list[str], min_kappa: float | None) -> Path:
    rows = [
        {
            "id": f"h{i}",
            "question": f"Question {i} about rest?",
            "answer": f"Answer {i}.",
            "verdict": v,
        }
        for i, v in enumerate(verdicts)
    ]
    (tmp_path / "human.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    judge = {"criteria": {"accuracy": "correct"}, "min_score": 3, "calibration": "human.jsonl"}
    if min_kappa is not None:
        judge["min_kappa"] = min_kappa
    return write_recipe(tmp_path, quality={"fields": ["question", "answer"], "judge": judge})


def _judge(*liked: str) -> FakeBackend:
    """A judge that scores 5 when the text contains one of ``liked`` and 1 otherwise;
    generation replies are the pair "How long?" / "Rest well."."""

    def responder(request: GenerationRequest) -> str:
        props = (request.json_schema or {}).get("properties", {})
        if "accuracy" in props:
            good = any(word in request.messages[-1]["content"] for word in liked)
            return json.dumps({"accuracy": {"rationale": "r", "score": 5 if good else 1}})
        return json.dumps({"question": "How long?", "answer": "Rest well."})

    return FakeBackend(responder)


def test_a_judge_that_agrees_runs_and_the_exam_stays_out_of_the_dataset(tmp_path: Path) -> None:
    path = _calibrated(tmp_path, ["accept", "reject", "accept", "reject"], min_kappa=0.5)
    # the human accepted h0 and h2; this judge likes exactly those, and "Rest well."
    summary = run(path, tmp_path / "out", n=3, backend=_judge("Answer 0.", "Answer 2.", "well"))
    assert summary.calibration == {"items": 4, "accuracy": 1.0, "kappa": 1.0}
    assert summary.planned == 3  # the four exam rows are not dataset rows
    rows = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert all(r["task"] != STAGE for r in rows)
    assert len(rows) == 3


def test_a_judge_that_disagrees_stops_the_run_before_generating(tmp_path: Path) -> None:
    path = _calibrated(tmp_path, ["accept", "accept", "reject", "reject"], min_kappa=0.5)
    backend = _judge("nothing matches this")  # rejects everything: kappa 0
    with pytest.raises(SynthloomError, match=r"kappa 0\.0 < min_kappa 0\.5"):
        run(path, tmp_path / "out", n=3, backend=backend)
    generation = [
        c for c in backend.calls if "accuracy" not in (c.json_schema or {}).get("properties", {})
    ]
    assert generation == []  # nothing was generated with an untrusted judge


def test_a_row_without_a_verdict_is_a_recipe_error_before_any_call(tmp_path: Path) -> None:
    path = _calibrated(tmp_path, ["accept", "maybe"], min_kappa=None)
    backend = FakeBackend()
    with pytest.raises(RecipeError, match="needs a 'verdict' of accept or reject"):
        run(path, tmp_path / "out", n=1, backend=backend)
    assert backend.calls == []
