"""The model-free heuristics (repetition, debris, echoes, placeholders, field shapes) and the
relevance check with a small deterministic encoder. Real SmolLM2-135M junk that a gate once
accepted (tests/data/smollm2_junk.jsonl) must fail with its reason; the examples' own seeds
must pass with the examples' own settings. The real all-MiniLM-L6-v2 model is exercised in
tests/integration/test_relevance_minilm.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthloom import load_recipe
from synthloom.errors import MissingDependencyError, RecipeError
from synthloom.quality import embed
from synthloom.quality.embed import Embedder
from synthloom.quality.gate import build_gate
from synthloom.quality.heuristics import Heuristics, reads_as_question
from synthloom.quality.relevance import Relevance
from synthloom.quality.settings import HeuristicSettings, QualitySettings, RelevanceSettings
from synthloom.records import Provenance, Record
from synthloom.seeds import Seed
from tests.unit.test_semantic import _Encoder

ROOT = Path(__file__).resolve().parents[2]
JUNK = [
    json.loads(line) for line in (ROOT / "tests/data/smollm2_junk.jsonl").read_text().splitlines()
]
EXAMPLES = {
    name: load_recipe(ROOT / "examples" / name / "recipe.yaml")
    for name in ("post-surgical-care", "label")
}


def _error(field: str, cause: str) -> RecipeError:
    return RecipeError(cause, file="recipe.yaml", field=field)


def _example(name: str) -> Heuristics:
    quality = EXAMPLES[name].quality
    assert quality.heuristics is not None
    return Heuristics(quality.heuristics, quality.fields, _error)


def _check(settings: dict[str, Any] | None = None, fields: list[str] | None = None) -> Heuristics:
    return Heuristics(HeuristicSettings.model_validate(settings or {}), fields, _error)


def _reason(data: dict[str, Any], settings: dict[str, Any] | None = None) -> str | None:
    drop = _check(settings).inspect(data)
    return None if drop is None else drop.reason


def _seeds(name: str) -> list[dict[str, Any]]:
    path = ROOT / "examples" / name / "seeds.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------
# real junk fails, real seeds pass


@pytest.mark.parametrize("case", JUNK, ids=[f"{i}-{c['expect']}" for i, c in enumerate(JUNK)])
def test_smollm2_junk_fails_with_its_reason(case: dict[str, Any]) -> None:
    drop = _example(case["example"]).inspect(case["data"])
    assert drop is not None, case["why"]
    assert drop.reason == case["expect"], (drop.detail, case["why"])
    assert drop.detail.startswith(case["field"])  # the evidence names the field
    assert len(drop.detail) <= 200  # quotes the evidence, never the whole record


def test_the_junk_file_stays_small_and_explained() -> None:
    assert len(JUNK) <= 60
    assert all(case["why"] and case["expect"] and case["field"] in case["data"] for case in JUNK)


def test_every_flagship_seed_passes_with_the_flagship_settings() -> None:
    check = _example("post-surgical-care")
    drops = {s["id"]: check.inspect(s) for s in _seeds("post-surgical-care")}
    assert len(drops) == 50
    assert {sid: d for sid, d in drops.items() if d is not None} == {}


def test_every_label_seed_passes_with_the_label_settings() -> None:
    check = _example("label")
    for seed in _seeds("label"):
        assert check.inspect(seed) is None, seed


def test_every_other_example_seed_passes_the_default_rules() -> None:
    check = _check()
    for name in ("conversation", "preference", "self_instruct"):
        for seed in _seeds(name):
            assert check.inspect(seed) is None, (name, seed)


# ---------------------------------------------------------------------------------------------
# repetition

LONG_ANSWER = (
    "Leave the adhesive strips in place and let them fall off on their own, which usually "
    "happens within 7 to 14 days. If the edges start curling up, you can trim the loose ends "
    "with clean scissors (do not peel them off). Keep the area clean and dry, and pat it gently "
    "after showering. Call your surgical team if you notice increasing redness, warmth, "
    "swelling, or drainage that looks cloudy; call your surgical team at once for a fever."
)


@pytest.mark.parametrize(
    "text",
    [
        "Can I shower after my knee surgery?",
        "How strict does she need to be, and does she need to limit fluids too?",  # a pair
        "It is very, very sore at night. Is that normal?",
        LONG_ANSWER,
        "Walk a little every day.\nRest when you are tired.\nDrink plenty of water.",
    ],
)
def test_ordinary_texts_do_not_count_as_repetition(text: str) -> None:
    assert _reason({"text": text}) is None


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("Rest well.\nRest well.\nCall us if worse.", "line repeated"),
        ("Call the team. Drink water. Call the team.", "sentence repeated"),
        ("set the alarm alarm alarm for noon", "'alarm' said 3 times"),
        ("what should I do, what should I do after surgery", "'what should i do' said 2 times"),
        (
            LONG_ANSWER + " You may need surgery you may need surgery.",
            "'you may need surgery' said 2",
        ),
    ],
)
def test_loops_and_repeated_lines_are_repetition(text: str, evidence: str) -> None:
    drop = _check().inspect({"text": text})
    assert drop is not None
    assert drop.reason == "repetition"
    assert evidence in drop.detail


def test_ngram_shares_apply_only_to_texts_long_enough_to_measure() -> None:
    short = "Take your pain pills with food. In the morning, take your pain pills early."
    assert _reason({"text": short}) is None  # 14 words: two copies of a phrase are ordinary
    long = (
        "Take your pills with food. In the morning, take your pills before breakfast. "
        "At night, take your pills after dinner, and rest with your leg raised on two "
        "pillows whenever you can manage it."
    )
    drop = _check().inspect({"text": long})  # 34 words: a 3-word phrase is a quarter of it
    assert drop is not None
    assert drop.reason == "repetition"
    assert drop.detail.startswith("text: 'take your pills' 3 times")
    assert _reason({"text": long}, {"ngram_min_words": 50}) is None


def test_a_four_word_phrase_three_times_is_a_loop_at_any_length() -> None:
    """SmolLM2's flagship answer (tests/integration/test_first_minutes.py found it): on topic,
    under Gopher's shares, and a loop; the report's looping_share counts the same thing."""
    answer = (
        "Sleep matters after surgery. It is very important for us. It is very important for "
        "a heart surgeon. It is very important for everyone."
    )  # 23 words: too short for the shares
    drop = _check().inspect({"answer": answer})
    assert drop is not None
    assert drop.detail == "answer: 'it is very important' said 3 times"
    assert _reason({"answer": answer.replace("It is very important for a", "So is a")}) is None


def test_an_answer_that_repeats_its_question_is_repetition() -> None:
    drop = _check().inspect({"question": "Can I drive?", "answer": "can I drive"})
    assert drop is not None
    assert drop.reason == "repetition"
    assert drop.detail.startswith("answer repeats question")


# ---------------------------------------------------------------------------------------------
# debris, echoes, placeholders


@pytest.mark.parametrize(
    "text",
    [
        "Call if your temperature is 100.4 F (38 C) or higher [see the sheet].",
        "Read the leaflet at https://example.org/care_after_surgery?lang=en before you go.",
        "Some foods, e.g. (see below) soups, are easier to swallow.",
        "Two steps: 1) rest, 2) ice. Then a) walk and b) stretch.",
        'The nurse said "keep it dry" and left a 6" dressing.',
        "It hurts a little :) but I am fine (mostly).",
        "Keep the strips on; they fall off by themselves.",
        "Here is an example: lie on your back and bend one knee.",
        "Input from your physical therapist matters: ask at every visit.",
    ],
)
def test_ordinary_punctuation_is_not_debris(text: str) -> None:
    assert _reason({"text": text}) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Rest for two days (see the leaflet", "debris"),
        ("Rest for two days] and walk", "debris"),
        ('{"answer": "rest"', "template_echo"),  # a field's name as a JSON key comes first
        ('{"note": "rest"}', "debris"),
        ("Rest.</p>", "debris"),
        ("```json rest", "debris"),
        ("Rest\\nWalk", "debris"),
        (", and then rest", "debris"),
        ("You should rest,", "debris"),
        ('He said "rest', "debris"),
        ("Question: can I walk?", "template_echo"),
        ("See Example 2 above.", "template_echo"),
        ("Rest after {{ seed.surgery }}.", "template_echo"),
        ("Rest after {surgery}.", "template_echo"),
        ("My story was: I fell.", "template_echo"),
        ("A text in the style of a patient", "template_echo"),
        ("question", "template_echo"),  # a field's name as the text
        ("Call Dr. [insert name] tomorrow", "placeholder"),
        ("Lorem ipsum dolor sit amet", "placeholder"),
        ("Call TODO before surgery", "placeholder"),
        ("Dear <placeholder>, rest", "placeholder"),
        ("Call 555-XXXX today", "placeholder"),
        ("book_flight", "label_echo"),
        ("weather.in.chicago", "label_echo"),
        ("payBillRewards", "label_echo"),
        ("alarm_3am", "label_echo"),
    ],
)
def test_scaffolding_and_fragments_are_dropped(text: str, reason: str) -> None:
    assert _reason({"question": "Can I walk?", "text": text}) == reason


@pytest.mark.parametrize(
    ("text", "label", "reason"),
    [
        ("pay_bill", "pay_bill", "label_echo"),
        ("Pay bill.", "pay_bill", "label_echo"),
        ("alarmset", "alarm", "label_echo"),
        ("please pay my electricity bill today", "pay_bill", None),
        ("I want to book a flight to Boston", "book_flight", None),
        ("bug", "feature_request", "label_echo"),  # the near label of a hard negative
        ("Paris", "A", None),  # a one-letter label is in many words: not an echo
        ("Pay bill: my invoice is wrong again this month", "pay_bill", "label_echo"),  # heading
        ("Billing. I was charged twice this month.", "billing", "label_echo"),
        ("Note: my invoice is wrong again this month", "pay_bill", None),  # another heading
        ("Billing is wrong again: I was charged twice.", "billing", None),  # the label in prose
    ],
)
def test_a_label_name_is_not_a_text(text: str, label: str, reason: str | None) -> None:
    data = {"text": text, "label": label, "near_label": "bug", "hard_negative": True}
    assert _reason(data) == reason


def test_label_fields_are_not_read_as_text_and_can_be_renamed() -> None:
    data = {"text": "Please refund the second charge", "label": "billing_refund"}
    assert _reason(data) is None  # "billing_refund" is a label, not an identifier as text
    assert _reason(data, {"label_fields": []}) == "label_echo"
    renamed = {"text": "intent_name", "intent": "intent_name"}
    assert _reason(renamed, {"label_fields": ["intent"]}) == "label_echo"


def test_each_rule_family_can_be_turned_off() -> None:
    assert _reason({"text": "Rest (see below"}, {"debris": False}) is None
    assert _reason({"text": "Question: rest"}, {"echo": False}) is None
    assert _reason({"text": "TODO rest"}, {"placeholder": False}) is None
    assert _reason({"text": "rest rest rest"}, {"repetition": False}) is None


def test_quality_fields_choose_what_the_rules_read() -> None:
    data = {"question": "Can I walk?", "notes": "TODO"}
    assert _check().inspect(data) is not None
    assert _check(fields=["question"]).inspect(data) is None


def test_conversation_turns_are_read_one_by_one() -> None:
    turns = [{"role": "user", "content": "Can I walk?"}, {"role": "assistant", "content": "}"}]
    drop = _check().inspect({"messages": turns})
    assert drop is not None
    assert drop.detail.startswith("messages[1]: ")


# ---------------------------------------------------------------------------------------------
# the shape of each field


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("My incision itches. Is that normal?", True),
        ("Is it okay to shower", True),
        ("how soon can I drive after my hip replacement", True),
        ("Please explain how to change the dressing.", True),
        ("I was wondering when the stitches come out.", True),
        ("I have a fever (is that bad?)", True),
        ("What\u2019s the best way to sleep after shoulder surgery", True),
        ("Sleep after tonsillectomy", False),
        ("Returning to activity after hernia repair, diet and hydration", False),
        ("You will not be allowed to ask about the reason for the surgery.", False),
    ],
)
def test_what_reads_as_a_question(text: str, ok: bool) -> None:
    assert reads_as_question(text) is ok


def test_word_bounds_and_patterns_apply_to_their_own_field() -> None:
    shapes = {
        "fields": {
            "question": {"question": True, "min_words": 4, "max_words": 12},
            "answer": {"must_match": [r"\bteam\b"], "must_not_match": [r"(?i)\bguarantee"]},
        }
    }
    good = {"question": "Can I walk after surgery?", "answer": "Yes; ask your team first."}
    assert _reason(good, shapes) is None
    cases = [
        ({"question": "Can I walk?"}, "too_few_words"),
        (
            {"question": "Can I walk to the shop, the park and the pool on my own after surgery?"},
            "too_many_words",
        ),
        ({"question": "Walking after surgery for me"}, "not_a_question"),
        ({"answer": "Yes, just walk."}, "field_pattern"),
        ({"answer": "Ask the team; we guarantee it heals."}, "field_pattern"),
        # the pattern is on the answer alone: the word in the question does not satisfy it
        ({"question": "Can my team walk now?", "answer": "Yes, walk."}, "field_pattern"),
    ]
    for change, reason in cases:
        assert _reason({**good, **change}, shapes) == reason, change


def test_a_field_the_record_lacks_is_not_judged_by_its_shape() -> None:
    shapes = {"fields": {"question": {"question": True, "min_words": 4}}}
    assert _reason({"text": "Keep the dressing dry for two days."}, shapes) is None
    assert _reason({"question": ""}, shapes) == "not_a_question"


def test_a_bad_field_regex_names_its_place() -> None:
    with pytest.raises(RecipeError) as info:
        _check({"fields": {"answer": {"must_match": ["(unclosed"]}}})
    assert info.value.field == "quality.heuristics.fields.answer.must_match[0]"


def test_min_words_above_max_words_is_refused() -> None:
    with pytest.raises(ValueError, match="min_words 5 > max_words 3"):
        HeuristicSettings.model_validate({"fields": {"q": {"min_words": 5, "max_words": 3}}})


def test_a_misspelt_heuristics_key_gets_a_suggestion(tmp_path: Path) -> None:
    (tmp_path / "seeds.jsonl").write_text('{"id": "s1", "text": "a seed"}\n')
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: t\nseeds: seeds.jsonl\nquality:\n  heuristics: {repetiton: false}\n")
    with pytest.raises(RecipeError, match="did you mean 'repetition'"):
        load_recipe(recipe)


def test_label_field_names_the_one_label_field_as_the_label_task_spells_it() -> None:
    settings = HeuristicSettings.model_validate({"label_field": "intent"})
    assert settings.label_fields == ["intent"]
    assert _reason({"text": "pay bill", "intent": "pay_bill"}, {"label_field": "intent"}) == (
        "label_echo"
    )


# ---------------------------------------------------------------------------------------------
# in the gate


def test_the_heuristics_step_runs_after_validators_and_before_dedup() -> None:
    gate = build_gate(
        QualitySettings.model_validate(
            {"validators": {"min_chars": 1}, "heuristics": {}, "dedup": {}}
        ),
        [],
        ROOT,
        _error,
        ["text"],
    )
    assert gate is not None
    assert gate.steps == ["validators", "heuristics", "dedup"]
    assert gate.step_of("label_echo") == "heuristics"
    record = _record({"text": "book_flight", "label": "book_flight"})
    asyncio.run(gate.apply(record, None))  # type: ignore[arg-type]
    assert (record.reason, record.error) == (
        "label_echo",
        "text: the label 'book_flight' as the text: 'book_flight'",
    )


# ---------------------------------------------------------------------------------------------
# relevance, with a hashed bag-of-words encoder (cosine tracks shared words)


SEEDS = [
    Seed(
        "s1",
        {
            "question": "When can I shower after knee surgery?",
            "answer": "You can shower after knee surgery once the dressing is waterproof.",
        },
    ),
    Seed(
        "s2",
        {
            "question": "How do I manage pain after hip surgery?",
            "answer": "Manage hip pain after surgery with the pills you were given, on a schedule.",
        },
    ),
    Seed(
        "s3",
        {
            "question": "When can I drive after shoulder surgery?",
            "answer": "Drive after shoulder surgery once off opioids and able to turn the wheel.",
        },
    ),
    Seed(
        "s4",
        {
            "question": "What should I eat after gallbladder surgery?",
            "answer": "Eat small low-fat meals after gallbladder surgery for a few weeks.",
        },
    ),
]


def _record(data: dict[str, Any], seed: str | None = None, rid: str = "r1") -> Record:
    prov = Provenance("unit", "t", 0, [seed] if seed else [], {}, "", "fake", "fake-1", {})
    return Record(rid, "t", data, prov)


def _relevance(seeds: list[Seed] = SEEDS, **settings: Any) -> Relevance:
    s = RelevanceSettings.model_validate({"prompt": "question", "response": "answer", **settings})
    texts = [(seed.id, f"{seed.fields['question']}\n{seed.fields['answer']}") for seed in seeds]
    return Relevance(Embedder(load=_Encoder), s, seeds, texts, _error)


def _verdict(check: Relevance, data: dict[str, str], seed: str | None = None) -> str | None:
    record = _record(data, seed)
    drop = asyncio.run(check.check(record, f"{data['question']}\n{data['answer']}", None))  # type: ignore[arg-type]
    return None if drop is None else drop.reason


def _cos(a: str, b: str) -> float:
    v = _Encoder()([a, b])
    return float(v[0] @ v[1])


def test_an_answer_about_something_else_is_off_topic() -> None:
    check = _relevance(seed=False)
    on_topic = {
        "question": "When can I shower after hip surgery?",
        "answer": "Shower after hip surgery once the dressing is waterproof.",
    }
    elsewhere = {
        "question": "When can I shower after hip surgery?",
        "answer": "Preheat the oven and bake the bread for forty minutes.",
    }
    assert _verdict(check, on_topic) is None
    assert _verdict(check, elsewhere) == "off_topic_answer"
    record = _record(elsewhere)
    drop = asyncio.run(check.check(record, "", None))  # type: ignore[arg-type]
    assert drop is not None
    assert "percentile 5 of the seeds' question-answer cosines" in drop.detail
    assert record.scores["answer_cosine"] == pytest.approx(drop.score, abs=1e-4)


def test_the_answer_threshold_is_calibrated_on_the_seeds() -> None:
    cosines = [_cos(s.fields["question"], s.fields["answer"]) for s in SEEDS]
    check = _relevance(seed=False)
    asyncio.run(check.calibrate())
    assert check.answer_min == pytest.approx(float(np.percentile(cosines, 5)) * 0.8, abs=1e-5)
    # seeds whose answers echo their questions closely ask more of every record
    tight = [
        Seed(s.id, {"question": s.fields["question"], "answer": s.fields["question"] + " Yes."})
        for s in SEEDS
    ]
    strict = _relevance(tight, seed=False)
    asyncio.run(strict.calibrate())
    assert strict.answer_min is not None
    assert strict.answer_min > check.answer_min
    loose = {
        "question": "When can I drive after hip surgery?",
        "answer": "You can usually drive after hip surgery in six weeks, once off opioids.",
    }
    assert _verdict(check, loose) is None
    assert _verdict(strict, loose) == "off_topic_answer"
    # an explicit number replaces the calibration
    assert _verdict(_relevance(tight, seed=False, min_answer_cosine=0.0), loose) is None


def test_a_record_far_from_its_own_seed_is_off_topic() -> None:
    check = _relevance(min_answer_cosine=-1)
    asyncio.run(check.calibrate())
    near = {
        "question": "When can I shower after my knee surgery?",
        "answer": "Shower after knee surgery once the dressing is waterproof and dry.",
    }
    far = {
        "question": "Which bread should I bake?",
        "answer": "Bake rye bread in a hot oven for forty minutes.",
    }
    assert _verdict(check, near, "s1") is None
    assert _verdict(check, far, "s1") == "off_topic"
    assert _verdict(check, far) is None  # no seed to compare with (an imported record)
    nearest = []
    texts = [f"{s.fields['question']}\n{s.fields['answer']}" for s in SEEDS]
    for i, a in enumerate(texts):
        nearest.append(max(_cos(a, b) for j, b in enumerate(texts) if j != i))
    assert check.seed_min == pytest.approx(float(np.percentile(nearest, 5)) * 0.8, abs=1e-5)


def test_relevance_needs_seeds_to_calibrate_or_a_number() -> None:
    with pytest.raises(RecipeError, match="at least 3 seeds with both 'question' and 'answer'"):
        _relevance(SEEDS[:2], seed=False)
    with pytest.raises(RecipeError, match="or give min_seed_cosine"):
        _relevance(SEEDS[:2], min_answer_cosine=0.2)
    _relevance(SEEDS[:2], min_answer_cosine=0.2, min_seed_cosine=0.1)


def test_relevance_without_the_embed_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embed.importlib.util, "find_spec", lambda name: None)
    settings = QualitySettings.model_validate(
        {"heuristics": {"relevance": {"prompt": "question", "response": "answer"}}}
    )
    with pytest.raises(MissingDependencyError, match=r"heuristics\.relevance.*synthloom\[embed\]"):
        build_gate(settings, [], ROOT, _error, ["question", "answer"])


def test_the_relevance_step_runs_after_the_seed_copy_checks_and_before_the_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embed, "Embedder", lambda lane: Embedder(load=_Encoder, lane=lane))
    settings = QualitySettings.model_validate(
        {
            "heuristics": {"relevance": {"prompt": "question", "response": "answer"}},
            "privacy": {"pii": None},
            "judge": {"criteria": {"useful": "useful"}},
        }
    )
    gate = build_gate(settings, SEEDS, ROOT, _error, ["question", "answer"])
    assert gate is not None
    assert gate.steps == ["heuristics", "privacy", "relevance", "judge"]
    assert gate.step_of("off_topic") == gate.step_of("off_topic_answer") == "relevance"
