"""A new user's first minutes on the real embedded SmolLM2 model, offline, through the CLI:
the flagship with its junk heuristics keeps only records that pass plain sanity rules and counts
its drops by reason; ``init`` then ``preview`` works from the flagship's own seeds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synthloom.quality.heuristics import Heuristics
from tests.helpers import read_jsonl
from tests.integration.test_embedded_flagship import FLAGSHIP, _synthloom

pytestmark = pytest.mark.integration

QUESTION_WORDS = re.compile(
    r"^(how|what|when|where|why|which|who|can|could|should|would|will|is|are|am|do|does|did|"
    r"may|might|has|have|any)\b",
    re.IGNORECASE,
)
DEBRIS = re.compile(
    r"[{}\[\]]|\]\)|```|</?\w+>|\b(?:Question|Answer|Example \d)\s*:", re.IGNORECASE
)


def _loops(text: str) -> bool:
    """A four-word phrase three times or more: the loop SmolLM2 falls into."""
    words = re.findall(r"\w+", text.lower())
    grams = [" ".join(words[i : i + 4]) for i in range(len(words) - 3)]
    return any(grams.count(g) >= 3 for g in set(grams))


def _sane(question: str, answer: str) -> list[str]:
    """The rules this test holds every kept record to, written apart from the gate's own."""
    broken = []
    sentences = re.split(r"(?<=[.!?])\s+", question.strip())
    if not (question.rstrip().endswith("?") or any(QUESTION_WORDS.match(s) for s in sentences)):
        broken.append("the question is not a question")
    if len(question.split()) < 4:
        broken.append("the question has under 4 words")
    if len(answer.split()) < 8:
        broken.append("the answer has under 8 words")
    if DEBRIS.search(question) or DEBRIS.search(answer):
        broken.append("brackets, markup or prompt words in the text")
    if _loops(question) or _loops(answer):
        broken.append("a phrase loops")
    if " ".join(answer.lower().split()) == " ".join(question.lower().split()):
        broken.append("the answer repeats the question")
    return broken


def test_flagship_on_the_embedded_model_keeps_only_sane_records(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _synthloom("run", str(FLAGSHIP), "-o", str(out), "-n", "20", "--no-report")
    assert result.returncode == 0, result.stderr
    kept = read_jsonl(out / "dataset.jsonl")
    dropped = read_jsonl(out / "rejected.jsonl")
    assert len(kept) + len(dropped) == 20
    for row in kept:
        data = row["data"]
        assert _sane(data["question"], data["answer"]) == [], data
    # the heuristics do the dropping, and the summary counts the drops by reason
    reasons = {row["reason"] for row in dropped}
    heuristic = {*Heuristics.reasons, "off_topic_answer", "off_topic"}
    assert reasons & heuristic, reasons
    for reason in reasons:
        assert reason in result.stdout
    assert "heuristics -" in result.stdout  # the funnel's step
    assert "small offline demo model" in result.stdout


def test_init_then_preview_on_the_embedded_model(tmp_path: Path) -> None:
    seeds = FLAGSHIP.parent / "seeds.jsonl"
    made = _synthloom("init", str(seeds), "-o", str(tmp_path / "mine"))
    assert made.returncode == 0, made.stderr
    recipe = tmp_path / "mine" / "recipe.yaml"
    assert "kind: expand (question → answer)" in made.stdout
    shown = _synthloom("preview", str(recipe), "-n", "3")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("── row") == 3
    assert "seed psc-" in shown.stdout  # each record beside the seed it was made from
    assert re.search(r"preview: 3 rows, \d kept", shown.stdout)
    estimate = r"full run of 1,000 rows: about [\d.]+ (s|min|h) \([\d.]+ s a row"
    assert re.search(estimate, shown.stdout)
    assert "one at a time" in shown.stdout
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["recipe.yaml"]
