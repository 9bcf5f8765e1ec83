"""Personal data detectors that run offline: e-mail addresses, phone numbers, payment card
numbers (Luhn-checked), US social security numbers, IBANs, IP addresses, street addresses and
person names introduced by a title or "my name is". Each finding is typed and located, so it can
be reported, redacted or cause a drop.

Names in general need a named-entity model, and none installs offline from the package
registries; the two patterns here catch how names usually appear in patient questions and
clinician answers, and leave ordinary capitalised words alone."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and _luhn(digits)


def _phone(match: re.Match[str]) -> bool:
    return 9 <= len(re.sub(r"\D", "", match.group(0))) <= 15


def _ip(match: re.Match[str]) -> bool:
    return all(int(part) <= 255 for part in match.group(0).split("."))


_LOOSE_FROM = "phone"  # this detector and the ones after it match shapes, not checksums

# a capitalised name part: Anna, Smith-Jones, O'Neil
_NAME = r"[A-Z](?:[a-z]+(?:-[A-Z][a-z]+)?|'[A-Z][a-z]+)"

# kind -> (pattern, extra test); the order resolves overlaps (the first kind wins a span)
DETECTORS: dict[str, tuple[re.Pattern[str], Callable[[re.Match[str]], bool] | None]] = {
    "email": (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.IGNORECASE), None),
    "iban": (re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"), None),
    "credit_card": (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _card),
    "us_ssn": (re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"), None),
    "ip_address": (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _ip),
    "phone": (
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){2,4}\b"
        ),
        _phone,
    ),
    "street_address": (
        re.compile(
            r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|"
            r"Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace)\b\.?"
        ),
        None,
    ),
    # only the name is the finding: "Dr. [PERSON_NAME]" still reads as a sentence
    "person_name": (
        re.compile(
            r"(?:\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Doctor)\.?\s+|(?i:\bmy name is)\s+)"
            rf"(?P<name>{_NAME}(?:\s+{_NAME})?)"
        ),
        None,
    ),
}


def find_pii(
    text: str,
    kinds: list[str] | None = None,
    extra: Callable[[str], list[Finding]] | None = None,
) -> list[Finding]:
    """Every finding, without overlaps. Checksum-validated detectors (built-in, then
    ``extra``: Presidio's recognisers) claim a span before the loose patterns (phone, address,
    name), so an NHS number is reported as one, not as a phone number."""
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(finding: Finding) -> None:
        if not any(finding.start < e and s < finding.end for s, e in taken):
            taken.append((finding.start, finding.end))
            found.append(finding)

    for kind, (pattern, accept) in DETECTORS.items():
        if kind == _LOOSE_FROM and extra is not None:
            for finding in sorted(extra(text), key=lambda f: (f.start, -f.end)):
                add(finding)
            extra = None
        if kinds is not None and kind not in kinds:
            continue
        for match in pattern.finditer(text):
            if accept is not None and not accept(match):
                continue
            group = "name" if "name" in pattern.groupindex else 0
            start, end = match.span(group)
            add(Finding(kind, start, end, match.group(group)))
    return sorted(found, key=lambda f: f.start)


def redact(text: str, findings: list[Finding]) -> str:
    out, last = [], 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[last : f.start])
        out.append(f"[{f.kind.upper()}]")
        last = f.end
    out.append(text[last:])
    return "".join(out)
