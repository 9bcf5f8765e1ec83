"""Person names and Presidio's recognisers in the PII step: what they find, what they leave
alone, how they combine with the built-in detectors, and that Presidio runs offline."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from synthloom.errors import RecipeError
from synthloom.quality.gate import build_gate
from synthloom.quality.pii import Finding, find_pii, redact
from synthloom.quality.presidio import PresidioDetector
from synthloom.quality.settings import QualitySettings
from synthloom.records import Provenance, Record, Status


def _names(text: str) -> list[str]:
    return [f.text for f in find_pii(text, ["person_name"])]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Dr. Jane Smith said to rest.", ["Jane Smith"]),
        ("Ask Mrs Patel at the desk.", ["Patel"]),
        ("Hi, my name is Omar O'Neil and I had surgery.", ["Omar O'Neil"]),
        ("My name is Anna Smith-Jones.", ["Anna Smith-Jones"]),
        ("Prof Li reviewed it", ["Li"]),
    ],
)
def test_names_after_a_title_or_an_introduction_are_found(text: str, names: list[str]) -> None:
    assert _names(text) == names


@pytest.mark.parametrize(
    "text",
    [
        "Call your surgeon if the Wound Looks Red.",
        "The doctor said walking helps. Monday is fine.",
        "Take Tylenol, not Advil, for the first week.",
        "my name is not important here",
    ],
)
def test_capitalised_words_without_a_title_are_not_names(text: str) -> None:
    assert _names(text) == []


def test_a_redacted_name_keeps_the_title_readable() -> None:
    text = "Dr. Jane Smith will call you."
    assert redact(text, find_pii(text)) == "Dr. [PERSON_NAME] will call you."


def test_extra_detectors_add_spans_and_win_over_the_loose_patterns_only() -> None:
    text = "Mail a@b.org, ref ZX-99, id 943 476 5919"

    def extra(t: str) -> list[Finding]:
        spans = [("email_again", "a@b.org"), ("ref", "ZX-99"), ("uk_nhs", "943 476 5919")]
        return [Finding(kind, t.index(s), t.index(s) + len(s), s) for kind, s in spans]

    found = find_pii(text, None, extra)
    assert [(f.kind, f.text) for f in found] == [
        ("email", "a@b.org"),  # a built-in checksum/shape-exact detector keeps its span
        ("ref", "ZX-99"),
        ("uk_nhs", "943 476 5919"),  # not reported as a phone number
    ]
    assert [f.kind for f in find_pii(text)] == ["email", "phone"]


@pytest.fixture(scope="module")
def presidio() -> PresidioDetector:
    return PresidioDetector(None, 0.5)


def test_presidio_finds_identifiers_the_regexes_do_not(presidio: PresidioDetector) -> None:
    text = "My MAC is 00:1B:44:11:3A:B7 and the NHS number is 943 476 5919."
    kinds = {f.kind: f.text for f in presidio.find(text)}
    assert kinds["mac_address"] == "00:1B:44:11:3A:B7"
    assert kinds["uk_nhs"] == "943 476 5919"
    assert [f.kind for f in find_pii(text)] == ["phone"]  # the NHS number, misnamed
    combined = find_pii(text, None, presidio.find)
    assert [f.kind for f in combined] == ["mac_address", "uk_nhs"]


def test_presidio_leaves_ordinary_care_text_and_dates_alone(presidio: PresidioDetector) -> None:
    text = "Keep the dressing dry for 2 weeks after 03/04/2024, then shower normally."
    assert presidio.find(text) == []
    assert [f.kind for f in PresidioDetector(["date_time"], 0.5).find(text)] == ["date_time"]


def test_presidio_runs_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    detector = PresidioDetector(None, 0.5)
    assert [f.kind for f in detector.find("card 4111 1111 1111 1111 at 10.0.0.7")] == [
        "credit_card",
        "ip_address",
    ]


def _gate(privacy: dict[str, Any]) -> Any:
    settings = QualitySettings.model_validate({"privacy": privacy})
    return build_gate(
        settings,
        [],
        Path.cwd(),
        lambda field, cause: RecipeError(cause, file="recipe.yaml", field=field),
        ["text"],
    )


def test_the_pii_step_redacts_presidio_findings_in_the_record() -> None:
    gate = _gate({"pii": "redact", "presidio": True, "max_seed_similarity": None})
    prov = Provenance("unit", "t", 0, [], {}, "", "fake", "fake-1", {})
    record = Record("r0", "t", {"text": "Dr. Ana Ruiz, NHS 943 476 5919."}, prov)
    kept = asyncio.run(gate.apply(record, None))
    assert kept.status is Status.ACCEPTED
    assert kept.data["text"] == "Dr. [PERSON_NAME], NHS [UK_NHS]."
    assert kept.scores["pii_redacted"] == 2


def test_an_unknown_pii_type_is_a_recipe_error_listing_the_known_ones() -> None:
    with pytest.raises(RecipeError, match=r"pii_types.*unknown PII type\(s\) \['emial'\]"):
        _gate({"pii": "drop", "pii_types": ["emial"]})
    with pytest.raises(RecipeError, match="presidio: true"):
        _gate({"pii": "drop", "pii_types": ["uk_nhs"]})
    assert _gate({"pii": "drop", "pii_types": ["uk_nhs"], "presidio": True}) is not None
