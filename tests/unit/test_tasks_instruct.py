"""Instruction and preference task kinds: preference, self_instruct, evol_instruct, magpie; their
chaining through ``input:``, the dpo export, and resuming multi-call rows."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthloom import FakeBackend, RecipeError, SynthloomError, export, run
from synthloom.backends.base import Completion, GenerationRequest, Usage
from synthloom.errors import BackendError
from synthloom.records import Status
from synthloom.tasks.evol_instruct import ANSWER_SYSTEM
from synthloom.tasks.evol_instruct import OPERATIONS as EVOL_OPERATIONS
from synthloom.tasks.evol_instruct import SYSTEM as EVOL_SYSTEM
from synthloom.tasks.preference import JUDGE_SYSTEM, WEAKER
from synthloom.tasks.preference import SYSTEM as CANDIDATE_SYSTEM
from synthloom.tasks.rouge import InstructionPool, lcs, rouge_l, tokens
from synthloom.tasks.self_instruct import SYSTEM as SELF_INSTRUCT_SYSTEM
from tests.helpers import cli, read_jsonl, records, system_of, user_of

Responder = Callable[[GenerationRequest], "str | Completion"]

QUESTIONS = [
    {"id": f"q{i}", "question": f"How should I water plant number {i} in summer?"} for i in range(6)
]
TASK_SEEDS = [
    {
        "id": "t1",
        "instruction": "Translate the following sentence into French",
        "input": "Good morning",
        "output": "Bonjour",
    },
    {
        "id": "t2",
        "instruction": "List three benefits of regular physical exercise",
        "output": "Better sleep, more energy, a stronger heart.",
    },
    {
        "id": "t3",
        "instruction": "Summarize the paragraph below in a single sentence",
        "input": "The meeting moved to Friday because the room was booked.",
        "output": "The meeting is now on Friday.",
    },
]
EVOL_SEEDS = [
    {"id": "e1", "instruction": "Explain how photosynthesis works in plants"},
    {"id": "e2", "instruction": "Describe the causes of ocean tides"},
]


# -- helpers ------------------------------------------------------------------------------------
def write_recipe(
    folder: Path,
    tasks: list[dict[str, Any]],
    *,
    seeds: list[dict[str, Any]] | None = None,
    model: dict[str, Any] | None = None,
    target: int = 10,
) -> Path:
    recipe: dict[str, Any] = {
        "name": "instruct",
        "target": target,
        "random_seed": 7,
        "model": {"backend": "fake", **(model or {})},
        "tasks": tasks,
    }
    if seeds is not None:
        recipe["seeds"] = seeds
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def is_judge(request: GenerationRequest) -> bool:
    return system_of(request).startswith(JUDGE_SYSTEM)


def is_candidate(request: GenerationRequest) -> bool:
    return system_of(request).startswith(CANDIDATE_SYSTEM)


_PAIR = re.compile(r"Response A:\n(.*?)\n\nResponse B:\n(.*?)\n\nExplain", re.S)


def judged_pair(request: GenerationRequest) -> tuple[str, str]:
    match = _PAIR.search(user_of(request))
    assert match is not None, user_of(request)
    return match.group(1), match.group(2)


def quality(text: str) -> int:
    match = re.search(r"quality (\d)", text)
    assert match is not None, text
    return int(match.group(1))


def candidate_answer(request: GenerationRequest) -> str:
    """Quality 1 for a weaker candidate, 3 at a low temperature, else 2."""
    if WEAKER in system_of(request):
        q = 1
    elif request.temperature < 0.5:
        q = 3
    else:
        q = 2
    return f"Answer of quality {q} to: {user_of(request)}"


def preference_responder(
    *, judge: str = "quality", answer: Callable[[GenerationRequest], str] = candidate_answer
) -> Responder:
    """Candidates from ``answer``; a judge that prefers the higher quality (whatever the order),
    or one that always says "A" (pure position bias)."""

    def respond(request: GenerationRequest) -> str:
        if is_judge(request):
            a, b = judged_pair(request)
            biased = judge == "A"
            winner = "A" if biased or quality(a) > quality(b) else "B"
            rationale = f"{winner} wins: quality {quality(a)} vs quality {quality(b)}"
            return json.dumps({"rationale": rationale, "winner": winner})
        if is_candidate(request):
            return json.dumps({"response": answer(request)})
        return FakeBackend._synthesize(request)

    return respond


def preference_recipe(folder: Path, **task: Any) -> Path:
    return write_recipe(folder, [{"kind": "preference", **task}], seeds=QUESTIONS)


# -- preference ---------------------------------------------------------------------------------
def test_preference_second_candidate_is_asked_to_be_weaker(tmp_path: Path) -> None:
    backend = FakeBackend(preference_responder())
    run(preference_recipe(tmp_path), tmp_path / "out", n=1, backend=backend)
    candidates = [r for r in backend.calls if is_candidate(r)]
    assert len(candidates) == 2
    first, second = candidates
    assert WEAKER not in system_of(first)
    assert WEAKER in system_of(second)
    assert first.messages != second.messages
    assert first.seed != second.seed
    # both answer the same prompt, the row's seed question
    assert user_of(first) == user_of(second) == QUESTIONS[0]["question"]


def test_preference_candidate_temperatures_reach_the_requests(tmp_path: Path) -> None:
    backend = FakeBackend(preference_responder())
    recipe = preference_recipe(tmp_path, candidates=[{"temperature": 0.2}, {"temperature": 1.2}])
    run(recipe, tmp_path / "out", n=1, backend=backend)
    candidates = [r for r in backend.calls if is_candidate(r)]
    assert [r.temperature for r in candidates] == [0.2, 1.2]
    assert all(WEAKER not in system_of(r) for r in candidates)
    assert all(r.temperature == 0.0 for r in backend.calls if is_judge(r))
    [record] = records(tmp_path / "out")
    assert record.status is Status.ACCEPTED
    assert [c["temperature"] for c in record.data["candidates"]] == [0.2, 1.2]
    assert record.data["chosen_candidate"] == 0  # quality 3 at 0.2 beats quality 2 at 1.2


def test_preference_judges_each_pair_in_both_orders(tmp_path: Path) -> None:
    backend = FakeBackend(preference_responder())
    run(preference_recipe(tmp_path), tmp_path / "out", n=2, backend=backend)
    judged = [judged_pair(r) for r in backend.calls if is_judge(r)]
    assert len(judged) == 4  # one pair per row, two orders
    assert len(set(judged)) == 4
    for a, b in judged:
        assert a != b
        assert (b, a) in judged


def test_preference_consistent_judge_gives_a_pair(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run(
        preference_recipe(tmp_path), out, n=3, backend=FakeBackend(preference_responder())
    )
    assert summary.accepted == 3
    rows = read_jsonl(out / "dataset.jsonl")
    assert len(rows) == 3
    for row, seed in zip(rows, QUESTIONS, strict=False):
        data = row["data"]
        assert data["prompt"] == seed["question"]
        assert data["chosen"] != data["rejected"]
        assert quality(data["chosen"]) == 2  # the normal candidate
        assert quality(data["rejected"]) == 1  # the weaker one
        assert data["rationale"] == "A wins: quality 2 vs quality 1"
        assert (data["chosen_candidate"], data["rejected_candidate"]) == (0, 1)
        assert [j["winner"] for j in data["judgments"]] == [0]
        assert row["provenance"]["parent"] == seed["id"]


def test_preference_position_bias_is_a_tie_that_keeps_the_candidates(tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run(
        preference_recipe(tmp_path), out, n=2, backend=FakeBackend(preference_responder(judge="A"))
    )
    assert summary.accepted == 0
    assert summary.rejected == {"judge_tie": 2}
    rejected = read_jsonl(out / "rejected.jsonl")
    assert len(rejected) == 2
    for row in rejected:
        assert row["status"] == "rejected"
        assert row["reason"] == "judge_tie"
        data = row["data"]
        assert len(data["candidates"]) == 2
        assert [quality(c["response"]) for c in data["candidates"]] == [2, 1]
        assert data["candidates"][1]["weaker"] is True
        assert data["judgments"][0]["winner"] is None
        assert "chosen" not in data
    assert read_jsonl(out / "dataset.jsonl") == []


def test_preference_identical_candidates_are_dropped(tmp_path: Path) -> None:
    backend = FakeBackend(preference_responder(answer=lambda r: "Water it at dawn, quality 2."))
    out = tmp_path / "out"
    summary = run(preference_recipe(tmp_path), out, n=2, backend=backend)
    assert summary.rejected == {"identical_candidates": 2}
    assert not any(is_judge(r) for r in backend.calls)  # nothing to judge
    for record in records(out):
        assert record.reason == "identical_candidates"
        assert [c["response"] for c in record.data["candidates"]] == [
            "Water it at dawn, quality 2."
        ] * 2


def test_preference_three_candidates_six_judge_calls(tmp_path: Path) -> None:
    backend = FakeBackend(preference_responder())
    recipe = preference_recipe(
        tmp_path, candidates=[{"temperature": 0.9}, {"weaker": True}, {"temperature": 0.1}]
    )
    out = tmp_path / "out"
    run(recipe, out, n=1, backend=backend)
    judges = [r for r in backend.calls if is_judge(r)]
    assert len(judges) == 6
    assert len({judged_pair(r) for r in judges}) == 6  # 3 pairs x 2 orders, all distinct
    assert len(backend.calls) == 3 + 6
    [record] = records(out)
    assert record.status is Status.ACCEPTED
    assert record.data["chosen_candidate"] == 2  # quality 3 (temperature 0.1)
    assert record.data["rejected_candidate"] == 1  # quality 1 (weaker)
    assert quality(record.data["chosen"]) == 3
    assert quality(record.data["rejected"]) == 1
    assert len(record.data["judgments"]) == 3
    assert record.provenance.attempts == 9


# -- dpo export ---------------------------------------------------------------------------------
MIXED_TASKS: list[dict[str, Any]] = [
    {
        "kind": "expand",
        "name": "qa",
        "template": "Write a question like: {{ seed.question }}",
        "schema": {"question": "string", "answer": "string"},
    },
    {"kind": "preference", "name": "prefs"},
]


@pytest.fixture
def mixed_run(tmp_path: Path) -> Path:
    """An expand task and a preference task in one run."""
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path, MIXED_TASKS, seeds=QUESTIONS)
    summary = run(recipe, out, n=3, backend=FakeBackend(preference_responder()))
    assert summary.accepted == 6
    return out


def test_dpo_export_writes_only_preference_pairs(mixed_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "dpo.jsonl"
    assert export(mixed_run, "dpo", path).rows == 3
    rows = read_jsonl(path)
    assert len(rows) == 3
    for row, seed in zip(rows, QUESTIONS, strict=False):
        assert set(row) == {"prompt", "chosen", "rejected", "origin", "record_id"}
        assert row["record_id"].startswith("prefs-")
        # TRL's conversational preference format: one user turn, then each assistant turn
        assert row["prompt"] == [{"role": "user", "content": seed["question"]}]
        ((chosen,), (rejected,)) = row["chosen"], row["rejected"]
        assert chosen["role"] == rejected["role"] == "assistant"
        assert quality(chosen["content"]) == 2
        assert quality(rejected["content"]) == 1


def test_dpo_export_without_a_preference_task_fails(tmp_path: Path) -> None:
    tasks = [
        {
            "kind": "expand",
            "template": "Write a question like: {{ seed.question }}",
            "schema": {"question": "string", "answer": "string"},
        }
    ]
    out = tmp_path / "out"
    run(write_recipe(tmp_path, tasks, seeds=QUESTIONS), out, n=2, backend=FakeBackend())
    with pytest.raises(SynthloomError, match="preference"):
        export(out, "dpo", tmp_path / "dpo.jsonl")
    assert not (tmp_path / "dpo.jsonl").exists()


def test_dpo_export_from_the_cli(mixed_run: Path, tmp_path: Path) -> None:
    path = tmp_path / "cli-dpo.jsonl"
    result = cli("export", str(mixed_run), "-f", "dpo", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert "3 rows" in result.stdout
    export(mixed_run, "dpo", tmp_path / "api-dpo.jsonl")
    assert read_jsonl(path) == read_jsonl(tmp_path / "api-dpo.jsonl")
    assert all({"prompt", "chosen", "rejected"} <= set(row) for row in read_jsonl(path))


# -- ROUGE-L ------------------------------------------------------------------------------------
def test_rouge_l_known_values() -> None:
    same = tokens("Write a poem about the sea")
    assert rouge_l(same, same) == 1.0
    assert rouge_l(tokens("write a poem"), tokens("list three colours")) == 0.0
    assert rouge_l([], same) == 0.0
    assert rouge_l(same, []) == 0.0
    # LCS "a c" = 2; precision 2/5, recall 2/3; F = 2PR / (P + R) = 0.5
    a, b = tokens("a b c d e"), tokens("a c x")
    assert lcs(a, b) == 2
    assert rouge_l(a, b) == pytest.approx(0.5)
    assert rouge_l(b, a) == pytest.approx(0.5)
    # LCS "the cat on mat" = 4 of 6 and 6 words: F = 4/6
    cat = rouge_l(tokens("The cat sat on the mat."), tokens("the cat lay on a MAT"))
    assert cat == pytest.approx(2 / 3)
    # the classic LCS example: BCBA
    assert lcs(list("ABCBDAB"), list("BDCABA")) == 4
    assert tokens("Don't STOP, now!") == ["don", "t", "stop", "now"]


def test_instruction_pool_closest_matches_brute_force() -> None:
    rng = random.Random(11)
    vocab = ["write", "a", "poem", "about", "the", "sea", "list", "three", "facts", "cats", "why"]
    for _ in range(200):
        texts = [
            " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 9)))
            for _ in range(rng.randint(1, 12))
        ]
        pool = InstructionPool()
        for text in texts:
            pool.add(text)
        assert len(pool) == len(texts)
        candidate = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 9)))
        truth = max(rouge_l(tokens(candidate), tokens(t)) for t in texts)
        score, nearest = pool.closest(candidate)
        assert score == pytest.approx(truth)
        if truth > 0:
            assert nearest is not None
            assert rouge_l(tokens(candidate), tokens(nearest)) == pytest.approx(truth)
        for floor in (0.3, 0.5, 0.7, 0.9):
            bounded, _ = pool.closest(candidate, floor=floor)
            if truth >= floor:  # at or above the floor the exact best is found
                assert bounded == pytest.approx(truth)
            else:
                assert bounded < floor
    assert InstructionPool().closest("anything at all") == (0.0, None)


# -- self_instruct ------------------------------------------------------------------------------
def self_instruct_responder(instruction: Callable[[GenerationRequest], str]) -> Responder:
    def respond(request: GenerationRequest) -> str:
        assert system_of(request).startswith(SELF_INSTRUCT_SYSTEM)
        return json.dumps({"instruction": instruction(request), "input": "", "output": "Done."})

    return respond


def in_turn(*texts: str) -> Callable[[GenerationRequest], str]:
    """The texts, one per call, in call order."""
    counter = itertools.count()
    return lambda request: texts[next(counter) % len(texts)]


def self_instruct_recipe(folder: Path) -> Path:
    return write_recipe(folder, [{"kind": "self_instruct"}], seeds=TASK_SEEDS)


def test_self_instruct_drops_a_copy_of_a_seed(tmp_path: Path) -> None:
    seed = TASK_SEEDS[1]["instruction"]
    backend = FakeBackend(self_instruct_responder(lambda r: seed))
    out = tmp_path / "out"
    summary = run(self_instruct_recipe(tmp_path), out, n=1, backend=backend)
    assert summary.accepted == 0
    assert summary.rejected == {"too_similar": 1}
    [record] = records(out)
    assert record.reason == "too_similar"
    assert record.error is not None
    assert "ROUGE-L 1.00" in record.error
    assert ">= 0.7" in record.error
    assert record.scores["too_similar_score"] == 1.0
    assert record.notes["nearest_instruction"] == seed
    # the prompt shows the seed tasks
    assert "Instruction: Translate the following sentence into French" in user_of(backend.calls[0])


def test_self_instruct_accepts_distinct_instructions(tmp_path: Path) -> None:
    texts = (
        "Write a haiku about autumn leaves falling",
        "Explain how a bicycle gear system works mechanically",
    )
    out = tmp_path / "out"
    backend = FakeBackend(self_instruct_responder(in_turn(*texts)))
    summary = run(self_instruct_recipe(tmp_path), out, n=2, backend=backend)
    assert summary.accepted == 2
    assert {r.data["instruction"] for r in records(out)} == set(texts)
    assert all(r.data["output"] == "Done." for r in records(out))


def test_self_instruct_never_accepts_two_similar_instructions(tmp_path: Path) -> None:
    verbs = ["write", "compose", "draft"]
    things = ["poem", "story", "song"]
    topics = ["the ocean at night", "a quiet mountain village", "an old lighthouse keeper"]

    def instruction(request: GenerationRequest) -> str:
        rng = random.Random(request.seed)
        return (
            f"Please {rng.choice(verbs)} a short {rng.choice(things)} about "
            f"{rng.choice(topics)} for children"
        )

    out = tmp_path / "out"
    backend = FakeBackend(self_instruct_responder(instruction))
    summary = run(self_instruct_recipe(tmp_path), out, n=30, backend=backend)
    assert summary.accepted >= 1
    assert summary.rejected["too_similar"] >= 1
    assert summary.accepted + summary.rejected["too_similar"] == 30
    accepted = [r.data["instruction"] for r in records(out) if r.status is Status.ACCEPTED]
    pool = accepted + [s["instruction"] for s in TASK_SEEDS]
    for a, b in itertools.combinations(pool, 2):
        assert rouge_l(tokens(a), tokens(b)) < 0.7, (a, b)
    for record in records(out):
        if record.status is Status.REJECTED:
            assert record.scores["too_similar_score"] >= 0.7
            assert record.notes["nearest_instruction"] in pool


def test_self_instruct_resume_keeps_the_pool(tmp_path: Path) -> None:
    first_text = "Describe the water cycle for a ten year old student"
    out = tmp_path / "out"
    recipe = self_instruct_recipe(tmp_path)
    summary = run(
        recipe, out, n=1, backend=FakeBackend(self_instruct_responder(lambda r: first_text))
    )
    assert summary.accepted == 1

    near = "Describe the water cycle for a curious ten year old student"
    assert rouge_l(tokens(near), tokens(first_text)) >= 0.7
    backend = FakeBackend(self_instruct_responder(lambda r: near))
    summary = run(recipe, out, n=3, backend=backend)
    assert summary.resumed == 1
    assert len(backend.calls) == 2  # rows 1 and 2 only
    assert summary.accepted == 1
    assert summary.rejected == {"too_similar": 2}
    for record in records(out)[1:]:
        assert record.reason == "too_similar"
        assert record.notes["nearest_instruction"] == first_text


# -- evol_instruct ------------------------------------------------------------------------------
_CURRENT = re.compile(r"The instruction:\n(.*?)\n\n", re.S)
GOOD_ANSWER = "Light energy is captured by chlorophyll and turned into sugar in several steps."


def evol_responder(
    evolve: Callable[[str], str] = lambda current: f"{current} and give one concrete example",
    answer: str = GOOD_ANSWER,
) -> Responder:
    def respond(request: GenerationRequest) -> str:
        system = system_of(request)
        if system.startswith(EVOL_SYSTEM):
            match = _CURRENT.search(user_of(request))
            assert match is not None
            return json.dumps({"instruction": evolve(match.group(1))})
        assert system.startswith(ANSWER_SYSTEM)
        return json.dumps({"response": answer})

    return respond


def evol_recipe(folder: Path, **task: Any) -> Path:
    return write_recipe(folder, [{"kind": "evol_instruct", **task}], seeds=EVOL_SEEDS)


def test_evol_instruct_two_rounds_then_an_answer(tmp_path: Path) -> None:
    backend = FakeBackend(evol_responder())
    out = tmp_path / "out"
    recipe = evol_recipe(tmp_path, rounds=2, operations=["deepen", "reasoning"])
    summary = run(recipe, out, n=1, backend=backend)
    assert summary.accepted == 1
    assert len(backend.calls) == 3
    [record] = records(out)
    ops = record.provenance.params["operations"]
    assert len(ops) == 2
    assert set(ops) <= {"deepen", "reasoning"}
    original = EVOL_SEEDS[0]["instruction"]
    once = f"{original} and give one concrete example"
    twice = f"{once} and give one concrete example"
    first, second, answer = backend.calls
    # each round's prompt carries its operation and the instruction so far
    assert EVOL_OPERATIONS[ops[0]] in user_of(first)
    assert user_of(first).startswith(f"The instruction:\n{original}\n")
    assert EVOL_OPERATIONS[ops[1]] in user_of(second)
    assert user_of(second).startswith(f"The instruction:\n{once}\n")
    assert system_of(answer).startswith(ANSWER_SYSTEM)
    assert user_of(answer) == twice
    assert record.data == {
        "instruction": twice,
        "original": original,
        "evolutions": [
            {"operation": ops[0], "instruction": once},
            {"operation": ops[1], "instruction": twice},
        ],
        "response": GOOD_ANSWER,
    }


def test_evol_instruct_uses_only_the_listed_operation(tmp_path: Path) -> None:
    backend = FakeBackend(evol_responder())
    run(
        evol_recipe(tmp_path, rounds=3, operations=["breadth"]),
        tmp_path / "out",
        n=1,
        backend=backend,
    )
    evolutions = [r for r in backend.calls if system_of(r).startswith(EVOL_SYSTEM)]
    assert len(evolutions) == 3
    for request in evolutions:
        assert EVOL_OPERATIONS["breadth"] in user_of(request)
        others = [text for op, text in EVOL_OPERATIONS.items() if op != "breadth"]
        assert not any(text in user_of(request) for text in others)
    [record] = records(tmp_path / "out")
    assert [e["operation"] for e in record.data["evolutions"]] == ["breadth"] * 3


def test_evol_instruct_unchanged_instruction_fails_round_one(tmp_path: Path) -> None:
    backend = FakeBackend(evol_responder(evolve=lambda current: current))
    out = tmp_path / "out"
    summary = run(evol_recipe(tmp_path, rounds=2), out, n=1, backend=backend)
    assert summary.rejected == {"evolution_failed": 1}
    assert len(backend.calls) == 1  # no second round, no answer
    [record] = records(out)
    assert record.reason == "evolution_failed"
    assert record.error is not None
    assert "round 1" in record.error
    assert "unchanged" in record.error
    assert record.data["original"] == EVOL_SEEDS[0]["instruction"]
    assert len(record.data["evolutions"]) == 1


def test_evol_instruct_failure_names_the_later_round(tmp_path: Path) -> None:
    def evolve(current: str) -> str:  # evolves once, then gives the text back unchanged
        return current if "example" in current else f"{current} with one worked example"

    backend = FakeBackend(evol_responder(evolve=evolve))
    out = tmp_path / "out"
    run(evol_recipe(tmp_path, rounds=3), out, n=1, backend=backend)
    [record] = records(out)
    assert record.reason == "evolution_failed"
    assert record.error is not None
    assert "round 2" in record.error
    assert len(backend.calls) == 2
    assert [e["instruction"] for e in record.data["evolutions"]] == [
        f"{EVOL_SEEDS[0]['instruction']} with one worked example"
    ] * 2


def test_evol_instruct_leaked_scaffolding_fails(tmp_path: Path) -> None:
    backend = FakeBackend(
        evol_responder(evolve=lambda current: f"Rewritten Instruction: {current} in detail")
    )
    out = tmp_path / "out"
    summary = run(evol_recipe(tmp_path, rounds=2), out, n=1, backend=backend)
    assert summary.rejected == {"evolution_failed": 1}
    [record] = records(out)
    assert record.error is not None
    assert "round 1" in record.error
    assert "copied the rewriting instructions" in record.error


def test_evol_instruct_refused_answer_fails(tmp_path: Path) -> None:
    backend = FakeBackend(evol_responder(answer="Sorry, I cannot help with that request."))
    out = tmp_path / "out"
    summary = run(evol_recipe(tmp_path, rounds=2), out, n=1, backend=backend)
    assert summary.accepted == 0
    assert summary.rejected == {"evolution_failed": 1}
    assert len(backend.calls) == 3
    [record] = records(out)
    assert record.reason == "evolution_failed"
    assert record.data["response"] == "Sorry, I cannot help with that request."
    assert len(record.data["evolutions"]) == 2


# -- magpie -------------------------------------------------------------------------------------
MAGPIE_SYSTEM = "You are a patient gardening expert."
TOMATO = "How do I prune tomato plants in summer?"


def magpie_responder(instruction: Callable[[GenerationRequest], str | Completion]) -> Responder:
    def respond(request: GenerationRequest) -> str | Completion:
        if request.is_raw:
            return instruction(request)
        return json.dumps({"response": f"Answer to: {user_of(request)}"})

    return respond


def magpie_recipe(folder: Path, **task: Any) -> Path:
    return write_recipe(folder, [{"kind": "magpie", "system": MAGPIE_SYSTEM, **task}], target=3)


def test_magpie_samples_the_instruction_raw_then_answers_it(tmp_path: Path) -> None:
    backend = FakeBackend(magpie_responder(lambda r: f"{TOMATO}<|im_end|>"))
    out = tmp_path / "out"
    summary = run(magpie_recipe(tmp_path), out, n=1, backend=backend)
    assert summary.accepted == 1
    raw, chat = backend.calls
    assert raw.prompt is not None
    assert raw.prompt.startswith("<|im_start|>system")
    assert MAGPIE_SYSTEM in raw.prompt
    assert raw.prompt.endswith("<|im_start|>user\n")
    assert raw.messages == ()
    assert "<|im_end|>" in raw.stop
    assert raw.json_schema is None
    assert raw.temperature == 1.0
    assert raw.max_tokens == 128
    assert chat.prompt is None
    assert chat.messages[0]["role"] == "system"
    assert chat.messages[0]["content"].startswith(MAGPIE_SYSTEM)
    assert chat.messages[1] == {"role": "user", "content": TOMATO}  # the marker cut off
    [record] = records(out)
    assert record.data == {
        "instruction": TOMATO,
        "response": f"Answer to: {TOMATO}",
        "system": MAGPIE_SYSTEM,
    }


def test_magpie_llama3_preset(tmp_path: Path) -> None:
    backend = FakeBackend(magpie_responder(lambda r: TOMATO))
    run(magpie_recipe(tmp_path, pre_query="llama3"), tmp_path / "out", n=1, backend=backend)
    raw = backend.calls[0]
    assert raw.prompt is not None
    assert raw.prompt.startswith("<|begin_of_text|>")
    assert MAGPIE_SYSTEM in raw.prompt
    assert "<|eot_id|>" in raw.stop


def test_magpie_too_short_instruction(tmp_path: Path) -> None:
    backend = FakeBackend(magpie_responder(lambda r: "Hi there"))
    out = tmp_path / "out"
    summary = run(magpie_recipe(tmp_path), out, n=2, backend=backend)
    assert summary.rejected == {"instruction_too_short": 2}
    assert all(r.is_raw for r in backend.calls)  # nothing was answered
    for record in records(out):
        assert record.data == {"instruction": "Hi there"}
        assert record.error is not None
        assert "2 words" in record.error


def test_magpie_cut_off_instruction(tmp_path: Path) -> None:
    backend = FakeBackend(
        magpie_responder(
            lambda r: Completion("How do I prune tomato plants and", Usage(), "length")
        )
    )
    out = tmp_path / "out"
    summary = run(magpie_recipe(tmp_path), out, n=2, backend=backend)
    assert summary.rejected == {"instruction_cut_off": 2}
    assert len(backend.calls) == 2
    assert {r.reason for r in records(out)} == {"instruction_cut_off"}


def test_magpie_runs_without_seeds(tmp_path: Path) -> None:
    recipe = magpie_recipe(tmp_path)
    assert "seeds" not in yaml.safe_load(recipe.read_text())
    out = tmp_path / "out"
    summary = run(recipe, out, n=3, backend=FakeBackend(magpie_responder(lambda r: TOMATO)))
    assert summary.accepted == 3
    rows = read_jsonl(out / "dataset.jsonl")
    assert len(rows) == 3
    assert all(row["provenance"]["seed_ids"] == [] for row in rows)
    assert all(row["data"]["instruction"] == TOMATO for row in rows)


def test_magpie_unknown_preset_is_a_recipe_error(tmp_path: Path) -> None:
    backend = FakeBackend(magpie_responder(lambda r: TOMATO))
    with pytest.raises(RecipeError, match=r"tasks\[0\]\.pre_query") as caught:
        run(magpie_recipe(tmp_path, pre_query="vicuna"), tmp_path / "out", n=1, backend=backend)
    assert caught.value.field == "tasks[0].pre_query"
    assert "vicuna" in caught.value.cause
    assert backend.calls == []


# -- chaining -----------------------------------------------------------------------------------
def test_chain_self_instruct_distill_preference(tmp_path: Path) -> None:
    unique = [
        "Write a haiku about autumn leaves falling",
        "Explain how a bicycle gear system works mechanically",
        "Plan a vegetarian dinner menu for six guests",
    ]
    texts = iter([TASK_SEEDS[0]["instruction"], *unique])  # the first is a copy: too similar
    broken = unique[1]  # the teacher fails on this one

    def respond(request: GenerationRequest) -> str:
        system = system_of(request)
        if system.startswith(SELF_INSTRUCT_SYSTEM):
            return json.dumps({"instruction": next(texts), "input": "", "output": "Done."})
        if system.startswith("You are an expert teacher"):
            if user_of(request) == broken:
                return "not json at all"
            return json.dumps({"response": f"Teacher answer to: {user_of(request)}"})
        return preference_responder()(request)

    tasks = [
        {"kind": "self_instruct"},
        {"kind": "distill", "input": "self_instruct", "prompt_field": "instruction"},
        {"kind": "preference", "input": "distill", "prompt_field": "prompt"},
    ]
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path, tasks, seeds=TASK_SEEDS, model={"max_reasks": 0})
    run(recipe, out, n=4, backend=FakeBackend(respond))

    upstream = records(out, "self_instruct")
    assert len(upstream) == 4
    accepted_si = {r.id: r for r in upstream if r.status is Status.ACCEPTED}
    assert len(accepted_si) == 3
    assert [r.reason for r in upstream if r.status is not Status.ACCEPTED] == ["too_similar"]

    distilled = records(out, "distill")
    assert len(distilled) == 3
    assert {r.provenance.parent for r in distilled} == set(accepted_si)
    accepted_distill = {r.id: r for r in distilled if r.status is Status.ACCEPTED}
    failed = [r for r in distilled if r.status is Status.FAILED]
    assert len(accepted_distill) == 2
    for record in accepted_distill.values():
        parent = accepted_si[record.provenance.parent]
        assert record.data["prompt"] == parent.data["instruction"]
    assert accepted_si[failed[0].provenance.parent].data["instruction"] == broken
    assert [r.data.get("last_output") for r in failed] == ["not json at all"]

    prefs = records(out, "preference")
    assert len(prefs) == 2
    assert {r.provenance.parent for r in prefs} == set(accepted_distill)
    assert failed[0].id not in {r.provenance.parent for r in prefs}
    for record in prefs:
        assert record.status is Status.ACCEPTED
        parent = accepted_distill[record.provenance.parent]
        assert record.data["prompt"] == parent.data["prompt"]


# -- resume -------------------------------------------------------------------------------------
def test_resume_makes_no_new_calls_for_multi_call_rows(tmp_path: Path) -> None:
    def respond(request: GenerationRequest) -> str:
        if system_of(request).startswith((EVOL_SYSTEM, ANSWER_SYSTEM)):
            return evol_responder()(request)
        biased = is_judge(request) and "plant number 1 " in user_of(request)
        return preference_responder(judge="A" if biased else "quality")(request)

    tasks = [
        {"kind": "preference", "input": "seeds"},
        {"kind": "evol_instruct", "input": "seeds", "instruction_field": "question", "rounds": 2},
    ]
    out = tmp_path / "out"
    recipe = write_recipe(tmp_path, tasks, seeds=QUESTIONS)
    first = FakeBackend(respond)
    summary = run(recipe, out, n=3, backend=first)
    assert summary.planned == 6
    assert summary.accepted == 5
    assert summary.rejected == {"judge_tie": 1}
    assert len(first.calls) == 3 * 4 + 3 * 3
    assert summary.model_calls == len(first.calls)
    dataset = read_jsonl(out / "dataset.jsonl")
    rejected = read_jsonl(out / "rejected.jsonl")

    again = FakeBackend(respond)
    summary = run(recipe, out, n=3, backend=again)
    assert again.calls == []
    assert summary.model_calls == 0
    assert summary.resumed == 6
    assert summary.accepted == 5
    assert read_jsonl(out / "dataset.jsonl") == dataset
    assert read_jsonl(out / "rejected.jsonl") == rejected


def test_resume_repeats_only_the_calls_a_failed_row_lacks(tmp_path: Path) -> None:
    working = preference_responder()

    def judge_down(request: GenerationRequest) -> str:
        if is_judge(request):
            raise BackendError("judge unavailable", retryable=False)
        return working(request)

    out = tmp_path / "out"
    recipe = preference_recipe(tmp_path)
    summary = run(recipe, out, n=2, backend=FakeBackend(judge_down))
    assert summary.failed == {"BackendError": 2}

    backend = FakeBackend(working)
    summary = run(recipe, out, n=2, backend=backend)
    assert summary.accepted == 2
    assert backend.calls
    assert all(is_judge(r) for r in backend.calls)  # the candidates came from the cache
    assert len(backend.calls) == 4
    assert summary.cache_hits == 4
