"""Generating task kinds: label, conversation, edge_cases, translate, distill. Their prompts (as
the backend receives them), the fields of their records, the reasons they drop rows, label
balance, and the recipe errors each kind reports before any model call."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthloom import FakeBackend, RecipeError, Status, run
from synthloom.backends.base import Completion, GenerationRequest
from synthloom.pipeline import prepare
from synthloom.recipe import load_recipe
from synthloom.records import Record
from synthloom.tasks.conversation import ASSISTANT_SYSTEM
from synthloom.tasks.distill import EXPLAIN
from synthloom.tasks.distill import SYSTEM as DISTILL_SYSTEM
from synthloom.tasks.edge_cases import SYSTEM as EDGE_SYSTEM
from synthloom.tasks.label import SYSTEM as LABEL_SYSTEM
from synthloom.tasks.translate import SYSTEM as TRANSLATE_SYSTEM
from tests.helpers import read_jsonl, records, system_of, user_of, write_seeds

Responder = Callable[[GenerationRequest], "str | Completion"]

LABELS = {
    "spam": "unsolicited advertising or a scam",
    "ham": "an ordinary personal or work message",
}
LABEL_SEEDS = [
    {"id": "l0", "text": "WIN a free cruise now, click this link today!!!", "label": "spam"},
    {"id": "l1", "text": "Cheap watches, limited offer, reply with your card", "label": "spam"},
    {"id": "l2", "text": "The team meeting moved to Friday at ten, same room.", "label": "ham"},
    {"id": "l3", "text": "Can you pick up milk on the way home tonight?", "label": "ham"},
]
PERSONAS = ["retired-teacher", "night-shift-nurse"]
SIMULATOR_SYSTEM = "You simulate realistic users."


# -- helpers ------------------------------------------------------------------------------------
def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_recipe(
    folder: Path,
    tasks: list[dict[str, Any]],
    *,
    seeds: list[dict[str, Any]] | None = None,
    axes: dict[str, Any] | None = None,
    target: int = 10,
) -> Path:
    """A fake-backend recipe in ``folder``; seeds go to a file next to it (the helper's
    question/answer seeds unless others are given)."""
    if seeds is None:
        write_seeds(folder / "seeds.jsonl")
    else:
        write_jsonl(folder / "seeds.jsonl", seeds)
    recipe: dict[str, Any] = {
        "name": "generate",
        "seeds": "seeds.jsonl",
        "target": target,
        "random_seed": 5,
        "model": {"backend": "fake", "concurrency": 1},
        "tasks": tasks,
    }
    if axes is not None:
        recipe["axes"] = axes
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def request_of(backend: FakeBackend, record: Record) -> GenerationRequest:
    """The first call a record's row made (matched by the row's sampling seed)."""
    seed = record.provenance.params["seed"]
    [request] = [c for c in backend.calls if c.seed == seed]
    return request


def prepare_error(path: Path) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        prepare(load_recipe(path), backend="fake", model_id="fake-1")
    return info.value


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


# -- label --------------------------------------------------------------------------------------
def label_recipe(folder: Path, **task: Any) -> Path:
    return write_recipe(
        folder, [{"kind": "label", "labels": LABELS, **task}], seeds=LABEL_SEEDS, target=40
    )


def test_label_prompt_names_the_label_and_its_description(tmp_path: Path) -> None:
    backend = FakeBackend()
    run(label_recipe(tmp_path), tmp_path / "out", n=6, backend=backend)
    rows = records(tmp_path / "out")
    assert len(rows) == 6
    assert len(backend.calls) == 6
    for record in rows:
        label = record.data["label"]
        request = request_of(backend, record)
        assert system_of(request).startswith(LABEL_SYSTEM)
        assert "exactly these fields: text." in system_of(request)
        prompt = user_of(request)
        assert f'correct label is "{label}"' in prompt
        assert f'"{label}" means: {LABELS[label]}' in prompt
        assert "hard case" not in prompt  # hard_negatives defaults to 0
        other = next(n for n in LABELS if n != label)
        assert LABELS[other] not in prompt
        assert record.provenance.params["label"] == label


def test_label_prompt_shows_only_seed_texts_of_the_rows_label(tmp_path: Path) -> None:
    backend = FakeBackend()
    run(label_recipe(tmp_path, few_shot=2), tmp_path / "out", n=6, backend=backend)
    for record in records(tmp_path / "out"):
        prompt = user_of(request_of(backend, record))
        label = record.data["label"]
        shown = [s for s in LABEL_SEEDS if f"- {s['text']}" in prompt]
        assert len(shown) == 2
        assert all(s["label"] == label for s in shown)


def test_label_records_have_the_documented_fields(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> str:
        label = re.search(r'correct label is "(\w+)"', user_of(request))
        assert label is not None
        return json.dumps({"text": f"A realistic {label.group(1)} document for the classifier."})

    out = tmp_path / "out"
    summary = run(label_recipe(tmp_path), out, n=4, backend=FakeBackend(responder))
    assert summary.accepted == 4
    for row in read_jsonl(out / "dataset.jsonl"):
        data = row["data"]
        assert set(data) == {"text", "label", "hard_negative", "near_label"}
        assert data["label"] in LABELS
        assert data["text"] == f"A realistic {data['label']} document for the classifier."
        assert data["hard_negative"] is False
        assert data["near_label"] is None


def test_label_equal_weights_balance_exactly(tmp_path: Path) -> None:
    summary = run(label_recipe(tmp_path), tmp_path / "out", n=40, backend=FakeBackend())
    assert summary.accepted == 40
    rows = records(tmp_path / "out")
    assert Counter(r.data["label"] for r in rows) == {"spam": 20, "ham": 20}
    # balanced within every block of len(labels) rows, not only overall
    by_row = {r.provenance.row: r.data["label"] for r in rows}
    for start in range(0, 40, 2):
        assert {by_row[start], by_row[start + 1]} == {"spam", "ham"}


def test_label_proportions_are_met_exactly(tmp_path: Path) -> None:
    labels = {"a": "the first kind of text", "b": "the second kind of text"}
    path = write_recipe(
        tmp_path,
        [{"kind": "label", "labels": labels, "proportions": {"a": 3, "b": 1}}],
        seeds=[{"id": f"x{i}", "text": f"An example document number {i}."} for i in range(4)],
        target=100,
    )
    summary = run(path, tmp_path / "out", n=100, backend=FakeBackend())
    assert summary.accepted == 100
    labels_drawn = [r.data["label"] for r in records(tmp_path / "out")]
    assert Counter(labels_drawn) == {"a": 75, "b": 25}
    assert labels_drawn != ["a"] * 75 + ["b"] * 25  # shuffled, not in runs


def test_label_hard_negatives(tmp_path: Path) -> None:
    backend = FakeBackend()
    run(label_recipe(tmp_path, hard_negatives=0.5), tmp_path / "out", n=40, backend=backend)
    rows = records(tmp_path / "out")
    assert len(rows) == 40
    hard = [r for r in rows if r.data["hard_negative"]]
    easy = [r for r in rows if not r.data["hard_negative"]]
    assert hard
    assert easy
    assert 8 <= len(hard) <= 32  # about half
    for record in hard:
        label, near = record.data["label"], record.data["near_label"]
        assert near in LABELS
        assert near != label
        prompt = user_of(request_of(backend, record))
        assert "Make it a hard case" in prompt
        assert f'"{near}" ({LABELS[near]})' in prompt
        assert f'correct label is "{label}"' in prompt
        assert record.provenance.params["near_label"] == near
    for record in easy:
        assert record.data["near_label"] is None
        assert "hard case" not in user_of(request_of(backend, record))
    # hard negatives do not disturb the balance
    assert Counter(r.data["label"] for r in rows) == {"spam": 20, "ham": 20}


def test_label_too_short_text_is_reasked(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> str:
        if len(request.messages) == 2:
            return json.dumps({"text": "short"})
        return json.dumps({"text": "A document long enough to pass the minimum length."})

    backend = FakeBackend(responder)
    summary = run(label_recipe(tmp_path, min_length=30), tmp_path / "out", n=3, backend=backend)
    assert summary.accepted == 3
    assert len(backend.calls) == 6
    assert all(r.provenance.attempts == 2 for r in records(tmp_path / "out"))


# -- conversation -------------------------------------------------------------------------------
def is_simulator(request: GenerationRequest) -> bool:
    return system_of(request).startswith(SIMULATOR_SYSTEM)


def conversation_responder(*, echo: bool = False) -> Responder:
    """The user says "user message k" (k = exchanges so far); the assistant answers it, or
    repeats it when ``echo``."""

    def respond(request: GenerationRequest) -> str:
        if is_simulator(request):
            turn = user_of(request).count("\nAssistant: ")
            return json.dumps({"message": f"  user message {turn}  "})
        said = request.messages[-1]["content"]
        return json.dumps({"message": said if echo else f"Assistant answer to {said}"})

    return respond


def conversation_recipe(folder: Path, **task: Any) -> Path:
    return write_recipe(
        folder,
        [{"kind": "conversation", **task}],
        axes={"persona": PERSONAS},
    )


def test_conversation_simulator_sees_persona_and_scenario(tmp_path: Path) -> None:
    backend = FakeBackend(conversation_responder())
    run(conversation_recipe(tmp_path, turns=2), tmp_path / "out", n=4, backend=backend)
    rows = records(tmp_path / "out")
    seeds = {s["id"]: s for s in read_jsonl(tmp_path / "seeds.jsonl")}
    for record in rows:
        persona = record.provenance.axes["persona"]
        assert record.data["user"] == persona
        first = request_of(backend, record)
        assert is_simulator(first)
        prompt = user_of(first)
        assert f"Who you are: {persona}" in prompt
        assert "Write your first message" in prompt
        seed = seeds[record.provenance.seed_ids[0]]
        assert f"question: {seed['question']}" in prompt  # the scenario comes from the seed
    later = [c for c in backend.calls if is_simulator(c) and "so far" in user_of(c)]
    assert len(later) == 4  # turn 2 of each row
    for request in later:
        assert "You: user message 0" in user_of(request)
        assert "Assistant: Assistant answer to user message 0" in user_of(request)


def test_conversation_assistant_sees_only_the_conversation(tmp_path: Path) -> None:
    backend = FakeBackend(conversation_responder())
    run(conversation_recipe(tmp_path, turns=3), tmp_path / "out", n=2, backend=backend)
    assistant = [c for c in backend.calls if not is_simulator(c)]
    assert len(assistant) == 6
    assert sorted(len(c.messages) for c in assistant) == [2, 2, 4, 4, 6, 6]
    for request in assistant:
        system, *turns = request.messages
        assert system["role"] == "system"
        assert system["content"].startswith(ASSISTANT_SYSTEM)
        assert [m["role"] for m in turns] == ["user", "assistant"] * (len(turns) // 2) + ["user"]
        text = " ".join(m["content"] for m in request.messages)
        assert "role-playing" not in text
        assert "Who you are" not in text
        assert not any(p in text for p in PERSONAS)
        assert turns[-1]["content"] == f"user message {len(turns) // 2}"  # stripped


def test_conversation_makes_two_calls_per_turn(tmp_path: Path) -> None:
    backend = FakeBackend(conversation_responder())
    summary = run(conversation_recipe(tmp_path, turns=3), tmp_path / "out", n=4, backend=backend)
    assert summary.accepted == 4
    assert len(backend.calls) == 4 * 2 * 3
    assert sum(is_simulator(c) for c in backend.calls) == 12
    for record in records(tmp_path / "out"):
        assert record.provenance.attempts == 6
        assert record.data["turns"] == 3


def test_conversation_records_alternate_user_and_assistant(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(
        conversation_recipe(tmp_path, turns=2),
        out,
        n=3,
        backend=FakeBackend(conversation_responder()),
    )
    rows = read_jsonl(out / "dataset.jsonl")
    assert len(rows) == 3
    for row in rows:
        data = row["data"]
        assert set(data) == {"messages", "user", "turns"}
        assert data["messages"] == [
            {"role": "user", "content": "user message 0"},
            {"role": "assistant", "content": "Assistant answer to user message 0"},
            {"role": "user", "content": "user message 1"},
            {"role": "assistant", "content": "Assistant answer to user message 1"},
        ]


def test_conversation_include_system_adds_a_leading_system_message(tmp_path: Path) -> None:
    path = conversation_recipe(
        tmp_path, turns=1, include_system=True, system="You are a support bot for {{ persona }}s."
    )
    backend = FakeBackend(conversation_responder())
    run(path, tmp_path / "out", n=2, backend=backend)
    for record in records(tmp_path / "out"):
        messages = record.data["messages"]
        persona = record.provenance.axes["persona"]
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        # the system prompt as rendered, without the JSON instructions meant for generation
        assert messages[0] == {
            "role": "system",
            "content": f"You are a support bot for {persona}s.",
        }
        assert all(set(m) == {"role", "content"} for m in messages)


def test_conversation_turn_range(tmp_path: Path) -> None:
    backend = FakeBackend(conversation_responder())
    path = conversation_recipe(tmp_path, turns=[1, 3])
    summary = run(path, tmp_path / "out", n=12, backend=backend)
    assert summary.accepted == 12
    rows = records(tmp_path / "out")
    turns = [r.data["turns"] for r in rows]
    assert all(1 <= t <= 3 for t in turns)
    assert len(set(turns)) > 1  # drawn per row
    for record in rows:
        assert len(record.data["messages"]) == 2 * record.data["turns"]
        assert record.provenance.params["turns"] == record.data["turns"]
        assert record.provenance.attempts == 2 * record.data["turns"]
    assert len(backend.calls) == 2 * sum(turns)


def test_conversation_echoing_assistant_is_a_bad_turn(tmp_path: Path) -> None:
    backend = FakeBackend(conversation_responder(echo=True))
    out = tmp_path / "out"
    summary = run(conversation_recipe(tmp_path, turns=3), out, n=2, backend=backend)
    assert summary.accepted == 0
    assert summary.rejected == {"bad_turn": 2}
    assert len(backend.calls) == 4  # stops at the first bad turn
    for row in read_jsonl(out / "rejected.jsonl"):
        assert row["status"] == "rejected"
        assert row["reason"] == "bad_turn"
        assert row["data"]["messages"] == [{"role": "user", "content": "user message 0"}]
    assert read_jsonl(out / "dataset.jsonl") == []


# -- edge_cases ---------------------------------------------------------------------------------
SPEC = "A date parser that accepts ISO 8601 dates and rejects everything else."
CATEGORIES = ["unicode", "empty-input", "leap-year"]


def test_edge_cases_prompt_has_the_spec_and_the_category(tmp_path: Path) -> None:
    backend = FakeBackend()
    path = write_recipe(
        tmp_path,
        [{"kind": "edge_cases", "spec": SPEC, "categories": CATEGORIES}],
        axes={"audience": ["tester"]},
    )
    run(path, tmp_path / "out", n=3, backend=backend)
    rows = records(tmp_path / "out")
    assert len(rows) == 3
    for record in rows:
        request = request_of(backend, record)
        assert system_of(request).startswith(EDGE_SYSTEM)
        prompt = user_of(request)
        assert SPEC in prompt
        category = record.data["category"]
        assert f"Write one {category} test scenario" in prompt
        assert not any(c in prompt for c in CATEGORIES if c != category)
        assert "audience: tester" in prompt
        assert set(request.json_schema["properties"]) == {
            "scenario",
            "why_hard",
            "expected_behavior",
        }
        assert set(record.data) == {"scenario", "why_hard", "expected_behavior", "category"}
        assert record.provenance.params["category"] == category


def test_edge_cases_categories_are_spread_evenly(tmp_path: Path) -> None:
    path = write_recipe(
        tmp_path, [{"kind": "edge_cases", "spec": SPEC, "categories": CATEGORIES}], target=12
    )
    summary = run(path, tmp_path / "out", n=12, backend=FakeBackend())
    assert summary.accepted == 12
    by_row = {r.provenance.row: r.data["category"] for r in records(tmp_path / "out")}
    assert sorted(by_row) == list(range(12))
    blocks = [[by_row[i] for i in range(start, start + 3)] for start in range(0, 12, 3)]
    for block in blocks:
        assert sorted(block) == sorted(CATEGORIES)
    assert len({tuple(b) for b in blocks}) > 1  # shuffled per block


def test_edge_cases_spec_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "spec.md").write_text("# Spec\nThe refund endpoint accepts amounts up to 500.\n")
    backend = FakeBackend()
    path = write_recipe(tmp_path, [{"kind": "edge_cases", "spec": "spec.md"}])
    run(path, tmp_path / "out", n=1, backend=backend)
    [request] = backend.calls
    assert "The refund endpoint accepts amounts up to 500." in user_of(request)
    assert "spec.md" not in user_of(request)


# -- translate ----------------------------------------------------------------------------------
def translation(request: GenerationRequest) -> dict[str, str]:
    """A faithful fake translation: each source value prefixed with the target language."""
    prompt = user_of(request)
    language = re.search(r"into (.+?)\. Keep the keys", prompt)
    assert language is not None, prompt
    source = json.loads(prompt.splitlines()[-1])
    return {k: f"[{language.group(1)}] {v}" for k, v in source.items()}


def translate_responder(request: GenerationRequest) -> str:
    if system_of(request).startswith(TRANSLATE_SYSTEM):
        return json.dumps(translation(request))
    if system_of(request).startswith(DISTILL_SYSTEM):
        return json.dumps({"response": f"Teacher answer to: {user_of(request)}"})
    return FakeBackend._synthesize(request)


def test_translate_one_row_per_input_and_language(tmp_path: Path) -> None:
    backend = FakeBackend(translate_responder)
    path = write_recipe(
        tmp_path, [{"kind": "translate", "languages": ["French", "German"], "fields": ["question"]}]
    )
    out = tmp_path / "out"
    summary = run(path, out, n=3, backend=backend)
    assert summary.planned == 6
    assert summary.accepted == 6
    assert len(backend.calls) == 6
    seeds = {s["id"]: s for s in read_jsonl(tmp_path / "seeds.jsonl")}
    rows = records(out)
    pairs = [(r.data["source_id"], r.data["language"]) for r in rows]
    assert sorted(pairs) == sorted(
        (s, lang) for s in ("s000", "s001", "s002") for lang in ("French", "German")
    )
    for record in rows:
        seed = seeds[record.data["source_id"]]
        language = record.data["language"]
        assert record.provenance.parent == seed["id"]
        assert record.data == {
            "topic": seed["topic"],  # carried over unchanged
            "answer": seed["answer"],
            "question": f"[{language}] {seed['question']}",
            "language": language,
            "source_id": seed["id"],
        }
        request = request_of(backend, record)
        assert f"into {language}." in user_of(request)
        assert json.loads(user_of(request).splitlines()[-1]) == {"question": seed["question"]}
        assert set(request.json_schema["properties"]) == {"question"}


def test_translate_without_fields_translates_every_text_field(tmp_path: Path) -> None:
    backend = FakeBackend(translate_responder)
    path = write_recipe(tmp_path, [{"kind": "translate", "languages": ["Spanish"]}])
    run(path, tmp_path / "out", n=2, backend=backend)
    seeds = {s["id"]: s for s in read_jsonl(tmp_path / "seeds.jsonl")}
    for record in records(tmp_path / "out"):
        seed = seeds[record.data["source_id"]]
        for field in ("topic", "question", "answer"):
            assert record.data[field] == f"[Spanish] {seed[field]}"
        assert "id" not in record.data


def test_translate_repeating_the_source_is_rejected(tmp_path: Path) -> None:
    def parrot(request: GenerationRequest) -> str:
        return user_of(request).splitlines()[-1]  # the source JSON, untouched

    out = tmp_path / "out"
    path = write_recipe(
        tmp_path,
        [{"kind": "translate", "languages": ["French"], "fields": ["question", "answer"]}],
    )
    summary = run(path, out, n=3, backend=FakeBackend(parrot))
    assert summary.accepted == 0
    assert summary.rejected == {"untranslated": 3}
    rejected = read_jsonl(out / "rejected.jsonl")
    assert [r["reason"] for r in rejected] == ["untranslated"] * 3
    assert all(r["status"] == "rejected" for r in rejected)
    assert rejected[0]["data"]["source_id"] == "s000"
    assert rejected[0]["data"]["language"] == "French"


def test_translate_repeating_every_field_is_rejected_even_with_short_fields(
    tmp_path: Path,
) -> None:
    """A reply that is the source, verbatim, is untranslated, also when some of its fields
    (the seeds' topic: "diet", "pain") are too short to judge on their own."""

    def parrot(request: GenerationRequest) -> str:
        return user_of(request).splitlines()[-1]

    path = write_recipe(tmp_path, [{"kind": "translate", "languages": ["French"]}])
    summary = run(path, tmp_path / "out", n=3, backend=FakeBackend(parrot))
    assert summary.accepted == 0
    assert summary.rejected == {"untranslated": 3}


def test_translate_chains_from_an_earlier_task(tmp_path: Path) -> None:
    backend = FakeBackend(translate_responder)
    path = write_recipe(
        tmp_path,
        [
            {"kind": "distill"},
            {
                "kind": "translate",
                "input": "distill",
                "languages": ["French"],
                "fields": ["response"],
            },
        ],
    )
    out = tmp_path / "out"
    summary = run(path, out, n=3, backend=backend)
    assert summary.accepted == 6
    upstream = {r.id: r.data for r in records(out, task="distill")}
    translated = records(out, task="translate")
    assert len(translated) == 3
    assert {r.data["source_id"] for r in translated} == set(upstream)
    for record in translated:
        source = upstream[record.data["source_id"]]
        assert record.provenance.parent == record.data["source_id"]
        assert record.data == {
            "prompt": source["prompt"],
            "response": f"[French] {source['response']}",
            "language": "French",
            "source_id": record.data["source_id"],
        }
        request = request_of(backend, record)
        assert json.loads(user_of(request).splitlines()[-1]) == {"response": source["response"]}


def test_translate_unknown_field_is_a_recipe_error(tmp_path: Path) -> None:
    path = write_recipe(
        tmp_path, [{"kind": "translate", "languages": ["French"], "fields": ["nope"]}]
    )
    err = prepare_error(path)
    assert err.field == "tasks[0].fields"
    assert "'nope'" in err.cause
    assert err.line == line_of(path, "fields:")
    backend = FakeBackend()
    with pytest.raises(RecipeError):
        run(path, tmp_path / "out", n=2, backend=backend)
    assert backend.calls == []


def test_translate_non_text_field_is_a_recipe_error_naming_the_field(tmp_path: Path) -> None:
    seeds = [
        {"id": f"n{i}", "question": f"How many steps are in plan {i}?", "steps": i}
        for i in range(3)
    ]
    path = write_recipe(
        tmp_path,
        [{"kind": "translate", "languages": ["French"], "fields": ["question", "steps"]}],
        seeds=seeds,
    )
    err = prepare_error(path)
    assert "'steps' is not text" in err.cause
    assert "input row 'n0'" in err.cause
    assert err.line == line_of(path, "fields:")
    assert err.field == "tasks[0].fields"


# -- distill ------------------------------------------------------------------------------------
def test_distill_prompt_is_the_input_field(tmp_path: Path) -> None:
    backend = FakeBackend(translate_responder)
    out = tmp_path / "out"
    summary = run(write_recipe(tmp_path, [{"kind": "distill"}]), out, n=3, backend=backend)
    assert summary.accepted == 3
    seeds = {s["id"]: s for s in read_jsonl(tmp_path / "seeds.jsonl")}
    for record in records(out):
        seed = seeds[record.provenance.parent]
        request = request_of(backend, record)
        assert user_of(request) == seed["question"]
        assert system_of(request).startswith(DISTILL_SYSTEM)
        assert EXPLAIN not in system_of(request)
        assert record.data == {
            "prompt": seed["question"],
            "response": f"Teacher answer to: {seed['question']}",
        }


def test_distill_prompt_field_can_be_chosen(tmp_path: Path) -> None:
    backend = FakeBackend()
    path = write_recipe(tmp_path, [{"kind": "distill", "prompt_field": "answer"}])
    run(path, tmp_path / "out", n=2, backend=backend)
    seeds = {s["id"]: s for s in read_jsonl(tmp_path / "seeds.jsonl")}
    for record in records(tmp_path / "out"):
        assert record.data["prompt"] == seeds[record.provenance.parent]["answer"]
        assert user_of(request_of(backend, record)) == record.data["prompt"]


def test_distill_explain_adds_a_reasoning_field(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> str:
        return json.dumps({"reasoning": "Step 1, then step 2.", "response": "The answer."})

    backend = FakeBackend(responder)
    path = write_recipe(tmp_path, [{"kind": "distill", "explain": True}])
    summary = run(path, tmp_path / "out", n=2, backend=backend)
    assert summary.accepted == 2
    for request in backend.calls:
        assert EXPLAIN in system_of(request)
        assert set(request.json_schema["required"]) == {"reasoning", "response"}
    for record in records(tmp_path / "out"):
        assert set(record.data) == {"prompt", "response", "reasoning"}
        assert record.data["reasoning"] == "Step 1, then step 2."
        assert record.data["response"] == "The answer."


def test_distill_reads_a_jsonl_file(tmp_path: Path) -> None:
    prompts = [
        {"id": "p1", "instruction": "Name three primary colours."},
        {"id": "p2", "instruction": "What is the boiling point of water at sea level?"},
    ]
    write_jsonl(tmp_path / "prompts.jsonl", prompts)
    backend = FakeBackend(translate_responder)
    path = write_recipe(tmp_path, [{"kind": "distill", "input": "prompts.jsonl"}])
    summary = run(path, tmp_path / "out", n=10, backend=backend)
    assert summary.planned == 2
    assert summary.accepted == 2
    rows = records(tmp_path / "out")
    assert [r.provenance.parent for r in rows] == ["p1", "p2"]
    assert [r.data["prompt"] for r in rows] == [p["instruction"] for p in prompts]
    assert sorted(user_of(c) for c in backend.calls) == sorted(p["instruction"] for p in prompts)


def test_distill_unknown_prompt_field_is_a_recipe_error(tmp_path: Path) -> None:
    err = prepare_error(write_recipe(tmp_path, [{"kind": "distill", "prompt_field": "nope"}]))
    assert err.field == "tasks[0].prompt_field"
    assert "'nope'" in err.cause


def test_distill_input_row_without_the_prompt_field_is_a_recipe_error(tmp_path: Path) -> None:
    rows = [
        {"id": "p1", "instruction": "Name three primary colours."},
        {"id": "p2", "question": "A row without an instruction?"},
    ]
    write_jsonl(tmp_path / "prompts.jsonl", rows)
    path = write_recipe(tmp_path, [{"kind": "distill", "input": "prompts.jsonl"}])
    err = prepare_error(path)  # found before any call, as a RecipeError (not a KeyError)
    assert "instruction" in err.cause
    assert "p2" in err.cause


# -- failures shared by every kind --------------------------------------------------------------
KIND_TASKS: dict[str, tuple[dict[str, Any], int]] = {  # task, rows per input row
    "label": ({"kind": "label", "labels": {"question": "a question", "other": "not one"}}, 1),
    "conversation": ({"kind": "conversation", "turns": 2}, 1),
    "edge_cases": ({"kind": "edge_cases", "spec": SPEC}, 1),
    "translate": ({"kind": "translate", "languages": ["French", "German"]}, 2),
    "distill": ({"kind": "distill"}, 1),
}


@pytest.mark.parametrize("kind", sorted(KIND_TASKS))
def test_reply_that_never_validates_is_a_failed_record(tmp_path: Path, kind: str) -> None:
    task, variants = KIND_TASKS[kind]
    if kind == "label":
        task = {**task, "text_field": "question", "label_field": None}
    backend = FakeBackend(lambda request: "Sure! Here it is, but not as JSON.")
    out = tmp_path / "out"
    summary = run(write_recipe(tmp_path, [task]), out, n=3, backend=backend)
    rows = 3 * variants
    assert summary.accepted == 0
    assert summary.failed == {"InvalidOutput": rows}
    assert len(backend.calls) == rows * 3  # the first ask and two re-asks, per row
    stored = records(out)
    assert len(stored) == rows  # one record per planned row: no gaps
    assert all(r.status is Status.FAILED and r.reason == "InvalidOutput" for r in stored)
    assert all(r.data["last_output"].startswith("Sure!") for r in stored)
    rejected = read_jsonl(out / "rejected.jsonl")
    assert [r["status"] for r in rejected] == ["failed"] * rows
    assert read_jsonl(out / "dataset.jsonl") == []


# -- recipe errors ------------------------------------------------------------------------------
def test_label_proportions_naming_an_unknown_label(tmp_path: Path) -> None:
    path = label_recipe(tmp_path, proportions={"spam": 1, "phishing": 2})
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    err = info.value
    assert err.field is not None
    assert err.field.startswith("tasks[0]")
    assert "proportions" in err.cause
    assert "phishing" in err.cause


def test_label_seeds_with_unlisted_labels(tmp_path: Path) -> None:
    seeds = [*LABEL_SEEDS, {"id": "l9", "text": "Is this a phishing mail?", "label": "phish"}]
    path = write_recipe(tmp_path, [{"kind": "label", "labels": LABELS}], seeds=seeds)
    err = prepare_error(path)
    assert err.field == "tasks[0].labels"
    assert "phish" in err.cause


def test_label_seeds_without_the_text_field(tmp_path: Path) -> None:
    err = prepare_error(write_recipe(tmp_path, [{"kind": "label", "labels": LABELS}]))
    assert err.field == "tasks[0]"
    assert "'text'" in err.cause


def test_input_naming_a_later_task(tmp_path: Path) -> None:
    path = write_recipe(
        tmp_path,
        [
            {"kind": "translate", "input": "distill", "languages": ["French"]},
            {"kind": "distill"},
        ],
    )
    err = prepare_error(path)
    assert err.field == "tasks[0].input"
    assert "not an earlier one" in err.cause
    assert err.line == line_of(path, "input: distill")


def test_input_naming_no_task_or_file(tmp_path: Path) -> None:
    err = prepare_error(write_recipe(tmp_path, [{"kind": "distill", "input": "missing"}]))
    assert err.field == "tasks[0].input"
    assert "'missing'" in err.cause
    assert "not an earlier one" not in err.cause


def test_conversation_turn_range_must_be_ordered(tmp_path: Path) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe(conversation_recipe(tmp_path, turns=[3, 1]))
    assert info.value.field == "tasks[0].turns"


def test_edge_cases_missing_spec_file(tmp_path: Path) -> None:
    err = prepare_error(write_recipe(tmp_path, [{"kind": "edge_cases", "spec": "absent.md"}]))
    assert err.field == "tasks[0].spec"
    assert "file not found" in err.cause
