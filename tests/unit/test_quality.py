"""The quality gate: validators, dedup (exact, near, retract, resume), decontamination,
privacy (seed copies, PII), the rubric judge, grounding, the funnel, and ``synthloom check``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import pytest

from synthloom import FakeBackend, GenerationRequest, run
from synthloom.check import check
from synthloom.errors import RecipeError
from synthloom.quality.base import shingles
from synthloom.quality.decontam import squeeze
from synthloom.quality.dedup import bands_for
from synthloom.quality.gate import Gate, build_gate
from synthloom.quality.judge import _Retriever
from synthloom.quality.pii import find_pii, redact
from synthloom.quality.settings import QualitySettings
from synthloom.records import Provenance, Record, Status
from synthloom.seeds import Seed
from tests.helpers import cli, read_jsonl, write_recipe

# ---------------------------------------------------------------------------------------------
# helpers


class _NoCalls:
    """The Calls a gate gets when no check may call a model: any call fails the test."""

    async def complete(self, request: GenerationRequest) -> Any:
        raise AssertionError("this check must not call a model")

    async def json(self, request: GenerationRequest, schema: Any) -> Any:
        raise AssertionError("this check must not call a model")


def _record(data: dict[str, Any], rid: str) -> Record:
    prov = Provenance(
        recipe="unit",
        task="t",
        row=0,
        seed_ids=[],
        axes={},
        template_hash="",
        backend="fake",
        model="fake-1",
        params={},
    )
    return Record(rid, "t", dict(data), prov)


def _gate(
    quality: dict[str, Any],
    *,
    seeds: Sequence[tuple[str, str]] = (),
    base_dir: Path | None = None,
    fields: list[str] | None = None,
) -> Gate:
    settings = QualitySettings.model_validate(quality)
    rows = [Seed(sid, {"text": text}) for sid, text in seeds]
    gate = build_gate(
        settings,
        rows,
        base_dir or Path.cwd(),
        lambda field, cause: RecipeError(cause, file="recipe.yaml", field=field),
        fields or ["text"],
    )
    assert gate is not None
    return gate


def _apply(gate: Gate, texts: list[str] | list[dict[str, Any]]) -> list[Record]:
    """Each record through the gate in order, as the engine does (ids r0, r1, ...)."""

    async def go() -> list[Record]:
        out = []
        for i, item in enumerate(texts):
            data = item if isinstance(item, dict) else {"text": item}
            out.append(await gate.apply(_record(data, f"r{i}"), _NoCalls()))  # type: ignore[arg-type]
        return out

    return asyncio.run(go())


def _verdicts(records: list[Record]) -> list[str | None]:
    return [r.reason if r.status is not Status.ACCEPTED else None for r in records]


def _gen(request: GenerationRequest) -> bool:
    """A request for the recipe's own rows (the write_recipe schema), not a quality check."""
    return "question" in (request.json_schema or {}).get("properties", {})


def _qa(question: str, answer: str) -> str:
    return json.dumps({"question": question, "answer": answer})


def _words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def _jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def _longest_common(a: str, b: str) -> int:
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match().size


def _kept(folder: Path) -> set[str]:
    return {r["id"] for r in read_jsonl(folder / "dataset.jsonl")}


def _by_id(folder: Path) -> dict[str, dict[str, Any]]:
    rows = read_jsonl(folder / "dataset.jsonl") + read_jsonl(folder / "rejected.jsonl")
    return {r["id"]: r for r in rows}


# ---------------------------------------------------------------------------------------------
# validators


def test_length_bounds_and_patterns() -> None:
    gate = _gate(
        {
            "validators": {
                "min_chars": 20,
                "max_chars": 60,
                "must_match": [r"\?$"],
                "must_not_match": [r"(?i)lorem ipsum"],
            }
        }
    )
    records = _apply(
        gate,
        [
            "How long is recovery?",  # 21 characters, ends with '?'
            "Too short?",
            "Is it normal to feel tired for weeks after a knee replacement operation?",
            "This one has no question mark at the end at all",
            "What does Lorem Ipsum mean in a discharge note?",
            "Can I shower the day after surgery?",
            "Is walking good now?",  # exactly min_chars
            "Is walking good now" + " ok" * 13 + "!?",  # exactly max_chars
        ],
    )
    assert [len(r.data["text"]) for r in records[-2:]] == [20, 60]
    assert _verdicts(records) == [
        None,
        "too_short",
        "too_long",
        "missing_pattern",
        "forbidden_pattern",
        None,
        None,
        None,
    ]
    assert "min_chars 20" in (records[1].error or "")
    assert "max_chars 60" in (records[2].error or "")
    assert "Lorem Ipsum" in (records[4].error or "")


def test_refusals_and_boilerplate_are_dropped_but_talk_about_ai_is_not() -> None:
    gate = _gate({"validators": {}})
    records = _apply(
        gate,
        [
            "As an AI language model, I do not have personal experience of surgery.",
            "I cannot help with that.",
            "Sure! Here is a new example: How long should I rest?",
            "AI triage tools flag wounds that look infected; a nurse then calls the patient.",
            "My surgeon said the AI scheduling system booked my follow-up for Tuesday.",
        ],
    )
    assert _verdicts(records) == ["refusal", "refusal", "refusal", None, None]
    assert "As an AI language model" in (records[0].error or "")


def test_refusal_check_can_be_turned_off() -> None:
    gate = _gate({"validators": {"refusals": False}})
    assert _verdicts(_apply(gate, ["I cannot help with that."])) == [None]


def test_a_bad_regex_is_a_recipe_error_naming_the_field(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, quality={"validators": {"must_not_match": ["fine", "(unclosed"]}})
    with pytest.raises(RecipeError) as info:
        run(path, tmp_path / "out", n=1, backend=FakeBackend())
    assert "(unclosed" in info.value.cause
    assert info.value.file == str(path)
    # the field is the regex's own key, not just the whole quality: section
    assert (info.value.field or "").startswith("quality.validators.must_not_match")
    assert not (tmp_path / "out" / "dataset.jsonl").exists()


def test_language_check_drops_other_languages() -> None:
    """lingua's models load on the first detection (seconds): the only test that uses it."""
    gate = _gate({"validators": {"language": "en"}})
    records = _apply(
        gate,
        [
            "Après l'opération, le patient doit se reposer, boire beaucoup d'eau et appeler "
            "son médecin si la fièvre augmente.",
            "After the operation the patient should rest, drink plenty of water and call the "
            "doctor if the fever gets worse.",
        ],
    )
    assert _verdicts(records) == ["wrong_language", None]
    assert "want en" in (records[0].error or "")
    assert records[0].scores["language_confidence"] < 0.5
    assert records[1].scores["language_confidence"] >= 0.5


def test_an_unknown_language_code_is_a_recipe_error() -> None:
    with pytest.raises(RecipeError, match="unknown language code 'xx'"):
        _gate({"validators": {"language": "xx"}})


# ---------------------------------------------------------------------------------------------
# exact and near dedup


def test_exact_dedup_normalises_case_and_whitespace() -> None:
    gate = _gate({"dedup": {"near": None}})
    records = _apply(
        gate,
        [
            "Keep the wound dry for two days.",
            "  keep THE wound\n dry   for two days.  ",
            "Keep the wound dry for three days.",
        ],
    )
    assert _verdicts(records) == [None, "exact_duplicate", None]
    assert records[1].error == "same normalised text as r0"
    assert records[1].scores["exact_duplicate_score"] == 1.0


@pytest.mark.parametrize("against_seeds", [True, False])
def test_a_copy_of_a_seed_is_a_seed_copy_only_against_seeds(against_seeds: bool) -> None:
    seed = "Ice the knee for twenty minutes, three times a day."
    gate = _gate({"dedup": {"near": None, "against_seeds": against_seeds}}, seeds=[("s7", seed)])
    records = _apply(gate, [seed.upper()])
    if against_seeds:
        assert _verdicts(records) == ["seed_copy"]
        assert records[0].error == "same normalised text as seed s7"
    else:
        assert _verdicts(records) == [None]


def _shifted(tag: str, offset: int, length: int = 200) -> tuple[str, str]:
    """Two texts of ``length`` distinct words, the second starting ``offset`` words later."""
    vocab = _words(tag, length + offset)
    return " ".join(vocab[:length]), " ".join(vocab[offset : offset + length])


def _replaced(tag: str, positions: list[int], length: int = 200) -> tuple[str, str]:
    vocab = _words(tag, length)
    other = list(vocab)
    for p in positions:
        other[p] = f"{tag}x{p}"
    return " ".join(vocab), " ".join(other)


NEAR_PAIRS = {
    "shift5": _shifted("a", 5),
    "shift10": _shifted("b", 10),
    "one_word": _replaced("c", [100]),
    "two_words": _replaced("d", [50, 150]),
    "shift70": _shifted("e", 70),
    "shift100": _shifted("f", 100),
    "shift150": _shifted("g", 150),
    "disjoint": (" ".join(_words("h", 200)), " ".join(_words("i", 200))),
}


@pytest.mark.parametrize("name", list(NEAR_PAIRS))
def test_near_dedup_drops_pairs_above_the_threshold_and_keeps_pairs_below(name: str) -> None:
    first, second = NEAR_PAIRS[name]
    jaccard = _jaccard(first, second)
    assert jaccard >= 0.9 or jaccard <= 0.5, f"badly built pair: {jaccard}"
    gate = _gate({"dedup": {"exact": False, "near": 0.8, "shingle": 5, "num_perm": 128}})
    records = _apply(gate, [first, second])
    assert records[0].status is Status.ACCEPTED
    estimate = records[1].scores["near_dup_jaccard"]
    if jaccard >= 0.9:
        assert records[1].reason == "near_duplicate"
        assert "with r0" in (records[1].error or "")
        assert abs(estimate - jaccard) <= 0.15
        assert records[1].scores["near_duplicate_score"] == pytest.approx(estimate, abs=1e-3)
    else:
        assert records[1].status is Status.ACCEPTED
        assert estimate <= jaccard + 0.15  # 0 when the LSH returned no candidate


def test_near_dedup_against_seeds_names_the_seed() -> None:
    seed, copy = _replaced("s", [30], length=60)
    gate = _gate({"dedup": {"exact": False, "near": 0.8}}, seeds=[("s3", seed)])
    records = _apply(gate, [copy])
    assert _verdicts(records) == ["seed_copy"]
    assert "with seed s3" in (records[0].error or "")


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.85, 0.9, 0.95])
def test_lsh_bands_return_a_pair_at_the_threshold_with_high_probability(threshold: float) -> None:
    num_perm = 128
    bands = bands_for(threshold, num_perm)
    assert num_perm % bands == 0

    def hit(b: int) -> float:
        return 1 - (1 - threshold ** (num_perm // b)) ** b

    assert hit(bands) >= 0.97
    # and it is the fewest such bands: any smaller divisor misses more often
    smaller = [b for b in range(1, bands) if num_perm % b == 0]
    assert all(hit(b) < 0.97 for b in smaller)


# ---------------------------------------------------------------------------------------------
# retract: a record a later check drops leaves no trace in the dedup indexes

_BASE = " ".join(_words("tok", 60))


def _retract_run(tmp_path: Path, judge_rejects_flagged: bool) -> dict[str, dict[str, Any]]:
    answers = iter(
        [
            _BASE + " zzflag",  # judged low when judge_rejects_flagged
            _BASE + " zzflag",  # the same text again
            _BASE + " other",  # a near copy of both
        ]
    )

    def responder(request: GenerationRequest) -> str:
        if _gen(request):
            return _qa("About the text?", next(answers))
        low = judge_rejects_flagged and "zzflag" in request.messages[-1]["content"]
        return json.dumps({"usefulness": {"rationale": "r", "score": 1 if low else 5}})

    tmp_path.mkdir()
    path = write_recipe(
        tmp_path,
        model={"concurrency": 1},
        quality={
            "dedup": {"exact": True, "near": 0.8},
            "judge": {"criteria": {"usefulness": "useful"}, "min_score": 3},
        },
    )
    run(path, tmp_path / "out", n=3, backend=FakeBackend(responder))
    return _by_id(tmp_path / "out")


def test_a_record_dropped_by_a_later_check_is_retracted_from_the_dedup_index(
    tmp_path: Path,
) -> None:
    assert _jaccard(_BASE + " zzflag", _BASE + " other") > 0.9
    rows = _retract_run(tmp_path / "judged", judge_rejects_flagged=True)
    assert [rows[f"qa-00000{i}"].get("reason") for i in range(3)] == [
        "low_score",
        "low_score",  # judged again, not an exact duplicate of a dropped record
        None,  # accepted: not a near duplicate of a dropped record
    ]
    # the same records with nothing dropped by the judge: the dedup indexes do catch them
    rows = _retract_run(tmp_path / "kept", judge_rejects_flagged=False)
    assert [rows[f"qa-00000{i}"].get("reason") for i in range(3)] == [
        None,
        "exact_duplicate",
        "near_duplicate",
    ]


_PII_ANSWER = "Write to jane.doe@example.com about the dressing change on Monday."


def test_retract_forgets_a_record_that_a_later_check_redacted(tmp_path: Path) -> None:
    """Dedup admits the record's text as it was; privacy then redacts it; the judge drops it.
    The exact index must forget it all the same, as it does without redaction."""
    judged = iter([1, 5])  # the first judgement is low, the second high

    def responder(request: GenerationRequest) -> str:
        if _gen(request):
            return _qa("Who?", _PII_ANSWER)
        return json.dumps({"usefulness": {"rationale": "r", "score": next(judged)}})

    path = write_recipe(
        tmp_path,
        model={"concurrency": 1},
        quality={
            "dedup": {"near": None},
            "privacy": {"pii": "redact"},
            "judge": {"criteria": {"usefulness": "useful"}, "min_score": 3},
        },
    )
    run(path, tmp_path / "out", n=2, backend=FakeBackend(responder))
    rows = _by_id(tmp_path / "out")
    assert rows["qa-000000"]["reason"] == "low_score"
    # not "exact_duplicate ... as qa-000000": that record was dropped, it is in no dataset
    assert rows["qa-000001"].get("reason") is None
    assert rows["qa-000001"]["data"]["answer"] == (
        "Write to [EMAIL] about the dressing change on Monday."
    )


# ---------------------------------------------------------------------------------------------
# decontamination

EVAL_TEXT = (
    "A patient on warfarin asks whether it is safe to take ibuprofen for knee pain "
    "after surgery. If you can see it then go to bed and rest now ok said the nurse. "
    "Pharmacokinetic interactions between anticoagulants and antiplatelets matter."
)


def _decontam_gate(tmp_path: Path) -> Gate:
    evals = tmp_path / "evals"
    evals.mkdir()
    with (evals / "test.jsonl").open("w") as fh:
        fh.write(json.dumps({"id": "q1", "question": "What is a fever?", "answer": "Heat."}) + "\n")
        fh.write(json.dumps({"id": "q7", "question": EVAL_TEXT, "answer": "No."}) + "\n")
    return _gate({"decontaminate": {"files": ["evals/test.jsonl"]}}, base_dir=tmp_path)


def test_a_shared_13_word_ngram_is_contamination_naming_the_item(tmp_path: Path) -> None:
    gate = _decontam_gate(tmp_path)
    shared13 = "if you can see it then go to bed and rest now ok"
    assert len(shared13.split()) == 13
    text = f"Morning routine: {shared13}, she repeated twice."
    # under 50 shared letters: the n-gram test fires, not the substring one
    assert _longest_common(squeeze(EVAL_TEXT), squeeze(text)) < 50
    records = _apply(gate, [text])
    assert _verdicts(records) == ["contaminated"]
    assert "13-gram" in (records[0].error or "")
    assert "evals/test.jsonl#q7" in (records[0].error or "")


def test_a_shared_50_character_run_with_other_punctuation_is_contamination(
    tmp_path: Path,
) -> None:
    gate = _decontam_gate(tmp_path)
    # exactly 50 letters of the eval item (a few words: no 13-gram), in other case and
    # punctuation
    text = "Quiz: PHARMACO-KINETIC interactions, between Anti-coagulants, AN-tibiotics?"
    assert _longest_common(squeeze(EVAL_TEXT), squeeze(text)) == 50
    records = _apply(gate, [text])
    assert _verdicts(records) == ["contaminated"]
    assert "50-character run" in (records[0].error or "")
    assert "evals/test.jsonl#q7" in (records[0].error or "")


def test_sharing_only_12_words_or_40_characters_is_not_contamination(tmp_path: Path) -> None:
    gate = _decontam_gate(tmp_path)
    shared12 = "you can see it then go to bed and rest now ok"
    assert len(shared12.split()) == 12
    # 40 letters of the eval item, in other case and punctuation, between other letters
    shared40 = "INTERACTIONS between anticoagulants, and ANTI-"
    assert len(squeeze(shared40)) == 40
    text40 = f"Quiz: {shared40}viral drugs - discuss them with your pharmacist."
    assert _longest_common(squeeze(EVAL_TEXT), squeeze(text40)) == 40
    records = _apply(
        gate,
        [
            f"Morning routine: {shared12}, she repeated twice.",
            text40,
        ],
    )
    assert _verdicts(records) == [None, None]


# ---------------------------------------------------------------------------------------------
# privacy: seed copies and personal data

SEED = (
    "After my hip replacement the physiotherapist told me to walk ten minutes every hour, "
    "keep a pillow between my knees at night, never cross my legs, use the raised toilet "
    "seat for six weeks and call the ward straight away if the calf became hot, red or "
    "swollen because that could mean a clot in the deep veins of the leg."
)


def test_a_near_copy_of_a_seed_is_dropped_as_seed_copy() -> None:
    gate = _gate({"privacy": {"pii": None}}, seeds=[("s1", SEED)])
    near = SEED.replace("ten minutes", "twelve minutes")
    assert _jaccard(near, SEED, 3) > 0.8
    records = _apply(gate, [near])
    assert _verdicts(records) == ["seed_copy"]
    assert "3-gram Jaccard" in (records[0].error or "")
    assert "seed s1" in (records[0].error or "")
    assert records[0].scores["seed_jaccard"] > 0.8


def test_a_long_verbatim_passage_of_a_seed_is_dropped_and_a_short_one_is_not() -> None:
    gate = _gate({"privacy": {"pii": None}}, seeds=[("s1", SEED)])
    long_part, short_part = SEED[40:180], SEED[40:140]  # 140 and 100 characters
    records = _apply(
        gate,
        [
            f"Question from a reader of the newsletter this week: {long_part} Is that right?",
            f"Question from a reader of the newsletter this week: {short_part} Is that right?",
        ],
    )
    assert _verdicts(records) == ["seed_copy", None]
    assert records[0].scores["seed_jaccard"] < 0.8  # caught by the substring test alone
    assert "copied from seed s1" in (records[0].error or "")
    assert records[0].scores["seed_substring"] > 120
    assert records[1].scores["seed_substring"] <= 120


PII_TEXT = (
    "Write to jane.doe@example.com or call +1 415-555-0132. Card 4111 1111 1111 1111, "
    "SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00, server 192.168.1.20, "
    "home 221 Baker Street, London."
)


def test_find_pii_finds_each_planted_kind() -> None:
    found = {(f.kind, f.text) for f in find_pii(PII_TEXT)}
    assert found == {
        ("email", "jane.doe@example.com"),
        ("phone", "+1 415-555-0132"),
        ("credit_card", "4111 1111 1111 1111"),
        ("us_ssn", "123-45-6789"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("ip_address", "192.168.1.20"),
        ("street_address", "221 Baker Street"),
    }
    for f in find_pii(PII_TEXT):
        assert PII_TEXT[f.start : f.end] == f.text


def test_a_luhn_invalid_card_number_is_not_personal_data() -> None:
    text = "Order number 4111 1111 1111 1112 shipped."
    assert find_pii(text) == []
    assert [f.kind for f in find_pii("Order number 4111 1111 1111 1111 shipped.")] == [
        "credit_card"
    ]


def test_find_pii_can_be_limited_to_some_kinds() -> None:
    assert {f.kind for f in find_pii(PII_TEXT, ["email", "us_ssn"])} == {"email", "us_ssn"}


def test_redact_replaces_each_finding_with_its_kind() -> None:
    text = "Mail jane.doe@example.com, IP 10.0.0.7."
    assert redact(text, find_pii(text)) == "Mail [EMAIL], IP [IP_ADDRESS]."


def test_pii_modes_drop_redact_and_report() -> None:
    data = {"question": "Can you email jane.doe@example.com?", "answer": "Call 415-555-0132."}
    clean = {"question": "How long do I rest?", "answer": "Two weeks."}

    dropped = _apply(_gate({"privacy": {"pii": "drop"}}), [data, clean])
    assert _verdicts(dropped) == ["pii", None]
    assert "jane.doe@example.com" in (dropped[0].error or "")

    redacted = _apply(_gate({"privacy": {"pii": "redact"}}), [data])[0]
    assert redacted.status is Status.ACCEPTED
    assert redacted.data == {"question": "Can you email [EMAIL]?", "answer": "Call [PHONE]."}
    assert redacted.scores["pii_found"] == 2

    reported = _apply(_gate({"privacy": {"pii": "report"}}), [data])[0]
    assert reported.status is Status.ACCEPTED
    assert reported.data == data
    assert reported.scores["pii_found"] == 2


def test_redaction_reaches_the_stored_dataset(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, quality={"privacy": {"pii": "redact"}})
    data = tmp_path / "data.jsonl"
    data.write_text(
        json.dumps(
            {
                "id": "d1",
                "question": "Mail jane.doe@example.com?",
                "answer": "Or call +1 415-555-0132, card 4111 1111 1111 1111.",
            }
        )
        + "\n"
    )
    summary = check(data, path, tmp_path / "out")
    assert summary.accepted == 1
    stored = (tmp_path / "out" / "dataset.jsonl").read_text()
    row = json.loads(stored)
    assert row["data"] == {
        "question": "Mail [EMAIL]?",
        "answer": "Or call [PHONE], card [CREDIT_CARD].",
    }
    assert row["scores"]["pii_found"] == 3
    for secret in ("jane.doe@example.com", "415-555-0132", "4111 1111 1111 1111"):
        assert secret not in stored
        assert secret not in (tmp_path / "out" / "rejected.jsonl").read_text()


# ---------------------------------------------------------------------------------------------
# rubric judge and grounding


def test_the_rubric_judge_scores_and_drops(tmp_path: Path) -> None:
    answers = iter(["case-low: rest.", "case-high: rest and hydrate.", "case-one: walk daily."])
    ratings = {
        "case-low": {"accuracy": (2, "Dose is wrong."), "clarity": (3, "Muddled.")},
        "case-high": {"accuracy": (5, "Correct."), "clarity": (4, "Clear.")},
        "case-one": {"accuracy": (3, "Omits the limit."), "clarity": (5, "Very clear.")},
    }

    def responder(request: GenerationRequest) -> str:
        if _gen(request):
            return _qa("What should I do?", next(answers))
        prompt = request.messages[-1]["content"]
        case = next(c for c in ratings if c in prompt)
        return json.dumps(
            {k: {"rationale": why, "score": score} for k, (score, why) in ratings[case].items()}
        )

    path = write_recipe(
        tmp_path,
        model={"concurrency": 1},
        quality={
            "judge": {
                "criteria": {
                    "accuracy": "medically correct advice",
                    "clarity": "a patient understands it at once",
                },
                "min_score": 3.5,
                "min_per_criterion": {"accuracy": 4},
            }
        },
    )
    backend = FakeBackend(responder)
    summary = run(path, tmp_path / "out", n=3, backend=backend)
    assert summary.accepted == 1
    rows = _by_id(tmp_path / "out")

    low = rows["qa-000000"]
    assert low["reason"] == "low_score"
    assert "Dose is wrong." in low["error"]  # accuracy 2 < 4 comes first
    assert low["scores"]["judge_mean"] == 2.5

    high = rows["qa-000001"]
    assert high["id"] in _kept(tmp_path / "out")
    assert high["scores"]["judge_accuracy"] == 5
    assert high["scores"]["judge_clarity"] == 4
    assert high["scores"]["judge_mean"] == 4.5

    one = rows["qa-000002"]  # mean 4.0 passes min_score; accuracy 3 < 4 does not
    assert one["reason"] == "low_score"
    assert "accuracy scored 3 < 4" in one["error"]
    assert "Omits the limit." in one["error"]

    judge_calls = [c for c in backend.calls if not _gen(c)]
    assert len(judge_calls) == 3
    prompt = judge_calls[1].messages[-1]["content"]
    assert "- accuracy: medically correct advice" in prompt
    assert "- clarity: a patient understands it at once" in prompt
    assert "What should I do?" in prompt
    assert "case-high: rest and hydrate." in prompt
    assert set(judge_calls[1].json_schema["properties"]) == {"accuracy", "clarity"}


def test_the_judge_mean_threshold_alone(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> str:
        if _gen(request):
            return _qa("Q?", "Rest.")
        return json.dumps(
            {
                "accuracy": {"rationale": "Vague about timing.", "score": 2},
                "clarity": {"rationale": "Fine.", "score": 4},
            }
        )

    path = write_recipe(
        tmp_path,
        quality={
            "judge": {"criteria": {"accuracy": "a", "clarity": "c"}, "min_score": 3.5},
        },
    )
    run(path, tmp_path / "out", n=1, backend=FakeBackend(responder))
    (row,) = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert row["reason"] == "low_score"
    assert "mean score 3.00 < 3.5" in row["error"]
    assert "accuracy 2: Vague about timing." in row["error"]
    assert row["scores"]["low_score_score"] == 3.0


GROUND_SEEDS = [
    {
        "id": "ibu",
        "topic": "pain",
        "question": "How should I take ibuprofen?",
        "answer": "Take ibuprofen with food to protect the stomach lining.",
    },
    {
        "id": "wound",
        "topic": "wound care",
        "question": "When may the surgical wound get wet?",
        "answer": "Keep the surgical wound dry for forty eight hours after the operation.",
    },
    {
        "id": "walk",
        "topic": "mobility",
        "question": "Why walk after surgery?",
        "answer": "Walking short distances every day helps prevent blood clots after surgery.",
    },
]


def test_grounding_checks_claims_against_the_nearest_seed(tmp_path: Path) -> None:
    seeds = tmp_path / "ground.jsonl"
    seeds.write_text("".join(json.dumps(s) + "\n" for s in GROUND_SEEDS))
    answers = iter(
        [
            ("When can my surgical wound get wet?", "Keep the wound dry for forty eight hours."),
            ("Why should I walk every day?", "Walking short distances prevents blood clots."),
        ]
    )
    replies = {
        "forty eight": [
            {"claim": "Keep the wound dry for 48 hours.", "supported": True},
            {"claim": "Showering is fine after two hours.", "supported": False},
            {"claim": "Antibiotic cream is required.", "supported": False},
        ],
        "blood clots": [
            {"claim": "Walking prevents blood clots.", "supported": True},
            {"claim": "Walk short distances daily.", "supported": True},
        ],
    }

    def responder(request: GenerationRequest) -> str:
        if _gen(request):
            return _qa(*next(answers))
        text = request.messages[-1]["content"].split("Text to check:")[1]
        key = next(k for k in replies if k in text)
        return json.dumps({"claims": replies[key]})

    path = write_recipe(
        tmp_path,
        seeds="ground.jsonl",
        model={"concurrency": 1},
        quality={"grounding": {"k": 1, "min_support": 0.5}},
    )
    backend = FakeBackend(responder)
    run(path, tmp_path / "out", n=2, backend=backend)
    rows = _by_id(tmp_path / "out")

    bad = rows["qa-000000"]
    assert bad["reason"] == "ungrounded"
    assert "2 of 3 claims unsupported" in bad["error"]
    assert "Showering is fine after two hours." in bad["error"]
    assert "Antibiotic cream is required." in bad["error"]
    assert bad["scores"]["grounding_support"] == pytest.approx(1 / 3, abs=1e-3)
    assert bad["scores"]["ungrounded_score"] == pytest.approx(1 / 3, abs=1e-3)

    good = rows["qa-000001"]
    assert good["id"] in _kept(tmp_path / "out")
    assert good["scores"]["grounding_support"] == 1.0

    prompts = [
        c.messages[-1]["content"] for c in backend.calls if "claims" in c.json_schema["properties"]
    ]
    assert len(prompts) == 2
    refs = [p.split("Text to check:")[0] for p in prompts]
    assert "[wound]" in refs[0]
    assert "forty eight hours after the operation" in refs[0]
    assert "[ibu]" not in refs[0]
    assert "[walk]" not in refs[0]
    assert "[walk]" in refs[1]
    assert "[wound]" not in refs[1]
    assert "Keep the wound dry for forty eight hours." in prompts[0].split("Text to check:")[1]


def test_the_retriever_ranks_by_shared_words() -> None:
    docs = [(s["id"], f"{s['question']} {s['answer']}") for s in GROUND_SEEDS]
    retriever = _Retriever(docs)
    assert [d for d, _ in retriever.nearest("does ibuprofen hurt the stomach", 1)] == ["ibu"]
    assert [d for d, _ in retriever.nearest("blood clots and walking", 1)] == ["walk"]
    assert len(retriever.nearest("anything", 3)) == 3


# ---------------------------------------------------------------------------------------------
# the funnel


def test_the_funnel_counts_each_step_in_gate_order(tmp_path: Path) -> None:
    outputs = iter(
        [
            "Rest with the leg raised on two pillows.",
            "As an AI language model, I cannot give medical advice.",
            "Rest with the leg raised on two pillows.",
            "zzflag Drink two litres of water a day.",
            "Swap the dressing when it gets wet.",
            "I cannot help with that.",
            "swap the dressing   when it gets WET.",
            "Call the ward if the calf is hot or swollen.",
            None,  # not JSON: a failed row, which the funnel does not count as generated
        ]
    )

    def responder(request: GenerationRequest) -> str:
        if _gen(request):
            answer = next(outputs)
            return "no json here" if answer is None else _qa("Advice?", answer)
        low = "zzflag" in request.messages[-1]["content"]
        return json.dumps({"usefulness": {"rationale": "r", "score": 1 if low else 5}})

    path = write_recipe(
        tmp_path,
        model={"concurrency": 1, "max_reasks": 0},
        quality={
            "validators": {"min_chars": 5},
            "dedup": {},
            "privacy": {"pii": "report"},
            "judge": {"criteria": {"usefulness": "useful"}, "min_score": 3},
        },
    )
    summary = run(path, tmp_path / "out", n=9, backend=FakeBackend(responder))
    assert summary.funnel == [
        ("generated", 8),
        ("pii", 0),  # first, so every later check and rejected.jsonl see redacted text
        ("validators", 2),
        ("privacy", 0),
        ("judge", 1),
        ("dedup", 2),  # last: the one stateful step, run in row order where records merge
    ]
    assert summary.accepted == 3
    assert summary.failed == {"InvalidOutput": 1}
    generated, *steps = summary.funnel
    assert generated[1] - sum(n for _, n in steps) == summary.accepted
    assert summary.to_dict()["funnel"] == [list(step) for step in summary.funnel]


def test_a_run_without_quality_has_no_funnel(tmp_path: Path) -> None:
    summary = run(write_recipe(tmp_path), tmp_path / "out", n=2, backend=FakeBackend())
    assert summary.funnel == []


# ---------------------------------------------------------------------------------------------
# resume


_TOPICS = [" ".join(_words(prefix, 40)) for prefix in ("knee", "diet", "sleep")]


def _hashed(request: GenerationRequest) -> str:
    """A pure function of the prompt: one of three texts, each with its own last word."""
    digest = hashlib.sha256(request.messages[-1]["content"].encode()).digest()
    return _qa("Which?", f"{_TOPICS[digest[0] % 3]} v{digest[1:5].hex()}")


def test_resume_gives_the_same_files_and_rebuilds_the_dedup_index(tmp_path: Path) -> None:
    path = write_recipe(tmp_path, quality={"dedup": {"near": 0.8}})
    out = tmp_path / "out"
    run(path, out, n=6, backend=FakeBackend(_hashed))
    dataset, rejected = (out / "dataset.jsonl").read_text(), (out / "rejected.jsonl").read_text()
    first = {r["id"] for r in read_jsonl(out / "dataset.jsonl")}
    assert 1 <= len(first) <= 3

    again = FakeBackend(_hashed)
    run(path, out, n=6, backend=again)
    assert again.calls == []
    assert (out / "dataset.jsonl").read_text() == dataset
    assert (out / "rejected.jsonl").read_text() == rejected

    run(path, out, n=12, backend=FakeBackend(_hashed))
    resumed = _by_id(out)
    fresh = tmp_path / "fresh"
    run(path, fresh, n=12, backend=FakeBackend(_hashed))
    at_once = _by_id(fresh)
    assert {k: (r["data"], r.get("reason")) for k, r in resumed.items()} == {
        k: (r["data"], r.get("reason")) for k, r in at_once.items()
    }
    # at most one record per text survives, and every later row was checked against the
    # records the first run kept (the index was rebuilt from the store, not started empty)
    kept = [r for r in resumed.values() if "reason" not in r]
    assert len(kept) == len({r["data"]["answer"].split(" v")[0] for r in kept})
    assert {r["id"] for r in kept} == first
    later = [r for r in resumed.values() if r["provenance"]["row"] >= 6]
    assert len(later) == 6
    assert all(r.get("reason") in ("near_duplicate", "exact_duplicate") for r in later)
    assert all(r["error"].split()[-1] in first for r in later)


def test_resume_with_redaction_drops_the_same_duplicates_as_one_run(tmp_path: Path) -> None:
    """Records kept by the first run were stored redacted; a later raw copy of one must still
    be the exact duplicate it is in a single run, not a second copy in the dataset."""
    path = write_recipe(tmp_path, quality={"dedup": {"near": None}, "privacy": {"pii": "redact"}})

    def backend() -> FakeBackend:
        return FakeBackend(lambda request: _qa("Who?", _PII_ANSWER))

    run(path, tmp_path / "fresh", n=2, backend=backend())
    at_once = _by_id(tmp_path / "fresh")
    assert at_once["qa-000001"]["reason"] == "exact_duplicate"

    run(path, tmp_path / "out", n=1, backend=backend())
    run(path, tmp_path / "out", n=2, backend=backend())
    resumed = _by_id(tmp_path / "out")
    assert resumed["qa-000001"].get("reason") == "exact_duplicate"
    assert len(read_jsonl(tmp_path / "out" / "dataset.jsonl")) == 1


# ---------------------------------------------------------------------------------------------
# synthloom check


def _check_inputs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "bench.jsonl").write_text(
        json.dumps({"id": "b42", "question": EVAL_TEXT, "answer": "No."}) + "\n"
    )
    quality = {
        "dedup": {"near": 0.8},
        "decontaminate": {"files": ["evals/bench.jsonl"]},
        "privacy": {"pii": "drop"},
    }
    recipe = write_recipe(tmp_path, quality=quality)
    rows = [
        {"id": "d1", "question": "Can I climb stairs?", "answer": "Yes, one step at a time."},
        {"id": "d2", "question": "can I  CLIMB stairs?", "answer": "yes, one step at a time."},
        {"id": "d3", "question": "Who do I ask?", "answer": "Write to nurse.kim@example.org."},
        {"id": "d4", "question": EVAL_TEXT, "answer": "Ask your doctor."},
        {"id": "d5", "question": "Can I drive?", "answer": "Not for six weeks."},
    ]
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data, recipe


def test_check_runs_the_gate_over_a_file(tmp_path: Path) -> None:
    data, recipe = _check_inputs(tmp_path)
    summary = check(data, recipe, tmp_path / "out")
    kept = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert [r["id"] for r in kept] == ["d1", "d5"]  # the input's own ids
    assert kept[0]["data"] == {
        "question": "Can I climb stairs?",
        "answer": "Yes, one step at a time.",
    }
    rows = _by_id(tmp_path / "out")
    assert rows["d2"]["reason"] == "exact_duplicate"
    assert rows["d2"]["error"] == f"same normalised text as {rows['d1']['id']}"
    assert rows["d3"]["reason"] == "pii"
    assert "nurse.kim@example.org" in rows["d3"]["error"]
    assert rows["d4"]["reason"] == "contaminated"
    assert "evals/bench.jsonl#b42" in rows["d4"]["error"]
    assert len(read_jsonl(tmp_path / "out" / "rejected.jsonl")) == 3
    assert summary.accepted == 2
    assert summary.funnel == [
        ("generated", 5),
        ("pii", 1),
        ("decontaminate", 1),
        ("privacy", 0),
        ("dedup", 1),
    ]
    # the check is resumable like a run: again, nothing changes
    before = (tmp_path / "out" / "dataset.jsonl").read_text()
    check(data, recipe, tmp_path / "out")
    assert (tmp_path / "out" / "dataset.jsonl").read_text() == before


def test_check_reads_only_the_fields_it_is_given(tmp_path: Path) -> None:
    data, recipe = _check_inputs(tmp_path)
    summary = check(data, recipe, tmp_path / "out", fields=["answer"])
    rows = _by_id(tmp_path / "out")
    # the eval text is only in the question, which the checks no longer read
    assert rows["d4"].get("reason") is None
    assert rows["d2"]["reason"] == "exact_duplicate"
    assert summary.accepted == 3


def test_check_takes_the_data_of_synthloom_records(tmp_path: Path) -> None:
    """A run's own dataset.jsonl can be checked: each record's data is what is checked."""
    path = write_recipe(tmp_path, quality={"dedup": {}})
    run(path, tmp_path / "gen", n=3, backend=FakeBackend())
    made = read_jsonl(tmp_path / "gen" / "dataset.jsonl")
    data = tmp_path / "again.jsonl"
    lines = [json.dumps(r) for r in made]
    copy = {**made[0], "id": "copy"}
    data.write_text("\n".join([*lines, json.dumps(copy)]) + "\n")
    summary = check(data, path, tmp_path / "chk")
    assert summary.accepted == 3
    rows = _by_id(tmp_path / "chk")
    assert [rows[r["id"]]["data"] for r in made] == [r["data"] for r in made]
    assert rows["copy"]["reason"] == "exact_duplicate"


def test_check_with_a_missing_field_is_an_error(tmp_path: Path) -> None:
    data, recipe = _check_inputs(tmp_path)
    with pytest.raises(RecipeError, match="'nope'"):
        check(data, recipe, tmp_path / "out", fields=["nope"])


def test_check_from_the_command_line(tmp_path: Path) -> None:
    data, recipe = _check_inputs(tmp_path)
    out = tmp_path / "out"
    wide = {**os.environ, "COLUMNS": "200"}  # the funnel on one line
    result = cli("check", str(data), "-r", str(recipe), "-o", str(out), env=wide)
    assert result.returncode == 0, result.stderr
    assert "quality funnel" in result.stdout
    assert "5 generated" in result.stdout
    assert "2 kept" in result.stdout
    assert len(read_jsonl(out / "dataset.jsonl")) == 2

    missing = cli("check", str(data), "-r", str(recipe), "-o", str(out), "--field", "nope")
    assert missing.returncode == 2
    assert "nope" in missing.stderr


def test_check_needs_a_quality_section(tmp_path: Path) -> None:
    data, _ = _check_inputs(tmp_path)
    bare = tmp_path / "bare"
    bare.mkdir()
    recipe = write_recipe(bare)
    result = cli("check", str(data), "-r", str(recipe), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "quality" in result.stderr
    assert not (tmp_path / "out" / "dataset.jsonl").exists()
    with pytest.raises(RecipeError, match="no quality"):
        check(data, recipe, tmp_path / "out2")
