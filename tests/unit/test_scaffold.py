"""``synthloom init`` drafts a recipe that runs, from each example's seeds and from files with
other column names; ``synthloom preview`` tries rows in a throw-away directory and estimates the
full run from what they took."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from synthloom import FakeBackend, SynthloomError, load_recipe, run
from synthloom.preview import preview, preview_lines
from synthloom.scaffold import infer, init
from tests.helpers import cli, read_jsonl, write_recipe

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
CLINC = ROOT.parent / "shared" / "data" / "clinc150" / "train.csv"


@pytest.mark.parametrize(
    ("example", "kind"),
    [
        ("post-surgical-care", "expand"),
        ("label", "label"),
        ("self_instruct", "expand"),
        ("preference", "expand"),
        ("conversation", "expand"),  # five situations, each its own topic: nothing to classify
    ],
)
def test_init_on_each_examples_seeds_runs(example: str, kind: str, tmp_path: Path) -> None:
    done = init(EXAMPLES / example / "seeds.jsonl", tmp_path / "draft")
    assert done.inferred.kind == kind
    recipe = load_recipe(done.path)
    assert recipe.tasks[0].kind == kind
    summary = run(recipe, tmp_path / "out", n=5, dry_run=True)
    assert summary.planned == 5
    assert summary.accepted + sum(summary.rejected.values()) + sum(summary.failed.values()) == 5


def test_init_reads_the_flagship_as_question_answer_pairs(tmp_path: Path) -> None:
    done = init(EXAMPLES / "post-surgical-care" / "seeds.jsonl", tmp_path)
    found = done.inferred
    assert (found.prompt_field, found.response_field) == ("question", "answer")
    assert set(found.axes) == {"topic", "surgery"}
    raw = yaml.safe_load(done.path.read_text())
    task = raw["tasks"][0]
    seeds = read_jsonl(EXAMPLES / "post-surgical-care" / "seeds.jsonl")
    longest = max(len(s["answer"]) for s in seeds)
    shortest = min(len(s["answer"]) for s in seeds)
    assert task["schema"]["answer"]["maxLength"] > longest
    assert task["schema"]["answer"]["minLength"] < shortest
    assert "{{ ex.question }}" in task["template"]
    assert "{{ topic }}" in task["template"]
    assert raw["quality"]["heuristics"]["fields"]["question"]["question"] is True
    assert raw["model"]["backend"] == "embedded"
    assert "# backend: openai" in done.path.read_text()  # the capable alternative, commented
    # the seeds stay where they are, named relative to the recipe
    seeds_path = (done.path.parent / raw["seeds"]).resolve()
    assert seeds_path == (EXAMPLES / "post-surgical-care" / "seeds.jsonl").resolve()


def test_init_on_a_csv_with_other_column_names(tmp_path: Path) -> None:
    with CLINC.open(newline="") as fh:
        every = list(csv.DictReader(fh))
    intents = sorted({r["label"] for r in every})[:5]
    rows = [r for intent in intents for r in [r for r in every if r["label"] == intent][:12]]
    path = tmp_path / "tickets.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["utterance", "intent"])
        writer.writerows([r["text"], r["label"]] for r in rows)
    done = init(path, tmp_path / "draft")
    found = done.inferred
    assert (found.kind, found.text_field, found.label_field) == ("label", "utterance", "intent")
    assert set(found.labels) == {r["label"] for r in rows}
    summary = run(load_recipe(done.path), tmp_path / "out", n=5, dry_run=True)
    assert summary.planned == 5

    pairs = tmp_path / "faq.csv"
    with pairs.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["Ask", "Reply", "area"])
        for i, seed in enumerate(read_jsonl(EXAMPLES / "post-surgical-care" / "seeds.jsonl")):
            writer.writerow([seed["question"], seed["answer"], ["home", "clinic"][i % 2]])
    faq = init(pairs, tmp_path / "faq")
    assert (faq.inferred.kind, faq.inferred.documents) == ("expand", ["Ask", "Reply"])
    assert faq.inferred.axes == {"area": ["home", "clinic"]}
    assert run(load_recipe(faq.path), tmp_path / "faq-out", n=5, dry_run=True).planned == 5


def test_init_on_conversations(tmp_path: Path) -> None:
    path = tmp_path / "chats.jsonl"
    chats = [
        [
            {
                "role": "user",
                "content": f"My incision {i} itches a lot since yesterday, is that ok?",
            },
            {
                "role": "assistant",
                "content": "Mild itching is common while it heals; avoid scratching.",
            },
        ]
        for i in range(6)
    ]
    path.write_text("".join(json.dumps({"messages": m}) + "\n" for m in chats))
    done = init(path, tmp_path / "draft")
    assert (done.inferred.kind, done.inferred.messages_field) == ("conversation", "messages")
    summary = run(load_recipe(done.path), tmp_path / "out", n=3, dry_run=True)
    assert summary.planned == 3


def test_init_refuses_to_overwrite_and_explains_bad_input(tmp_path: Path) -> None:
    seeds = EXAMPLES / "label" / "seeds.jsonl"
    done = init(seeds, tmp_path)
    before = done.path.read_text()
    with pytest.raises(SynthloomError, match="never overwrites"):
        init(seeds, tmp_path)
    assert done.path.read_text() == before
    numbers = tmp_path / "n.jsonl"
    numbers.write_text('{"a": 1, "b": 2}\n{"a": 3, "b": 4}\n')
    with pytest.raises(SynthloomError, match="no field holds free text"):
        init(numbers, tmp_path / "x")
    result = cli("init", tmp_path / "missing.jsonl", "-o", tmp_path / "y")
    assert result.returncode == 1
    assert "no such file" in result.stderr


def test_init_prints_what_it_inferred_and_the_next_commands(tmp_path: Path) -> None:
    result = cli("init", EXAMPLES / "label" / "seeds.jsonl", "-o", tmp_path / "d")
    assert result.returncode == 0, result.stderr
    assert "kind: label" in result.stdout
    assert f"synthloom preview {tmp_path / 'd' / 'recipe.yaml'} -n 3" in result.stdout
    assert "synthloom run" in result.stdout


def test_infer_keeps_long_fields_as_text_and_short_ones_as_axes() -> None:
    rows = [
        {
            "q": f"How do I do thing number {i} well at home?",
            "a": f"Do it carefully and slowly, then rest, step {i}.",
            "lang": ["en", "fr"][i % 2],
            "n": i,
        }
        for i in range(10)
    ]
    found = infer(rows)
    assert found.kind == "expand"
    assert found.documents == ["q", "a"]
    assert found.axes == {"lang": ["en", "fr"]}
    assert any("n" in note for note in found.notes)


def test_preview_runs_in_a_throwaway_directory_and_estimates(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path, model={"latency": 0.05})
    before = sorted(p.name for p in tmp_path.iterdir())
    found = preview(recipe, n=3, backend=FakeBackend(latency=0.05))
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written here
    assert len(found.rows) == 3
    assert found.target == 30
    assert found.seconds_per_row >= 0.05
    assert found.estimate_seconds == pytest.approx(30 * found.seconds_per_row / 8)
    assert found.tokens_per_row > 0
    assert found.estimate_tokens == round(30 * found.tokens_per_row)
    for row in found.rows:
        assert row.seed is not None
        assert row.seed[0] == row.record.provenance.seed_ids[0]
    lines = preview_lines(found)
    assert sum(line.startswith("── row") for line in lines) == 3
    assert lines[-1].startswith("full run of 30 rows")


def test_preview_shows_why_a_row_was_dropped(tmp_path: Path) -> None:
    def responder(request: object) -> str:
        return '{"question": "As an AI language model I cannot help", "answer": "Sorry."}'

    recipe = write_recipe(tmp_path, quality={"validators": {"refusals": True}})
    found = preview(recipe, n=2, backend=FakeBackend(responder))
    assert [row.verdict for row in found.rows] == ["rejected: refusal"] * 2
    text = "\n".join(preview_lines(found))
    assert "why:" in text
    assert "0 kept (0%), dropped: refusal 2" in text


def test_preview_cli_dry_run(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path)
    result = cli("preview", recipe, "-n", "2", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "── row 1" in result.stdout
    assert "full run of 30 rows" in result.stdout
    assert not (tmp_path / "out").exists()
