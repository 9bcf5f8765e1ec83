"""Privacy, personal data: found in generated text, then dropped, redacted or reported. (The
other half of privacy, no record copying a seed, is :mod:`synthloom.quality.seedcopy`: it needs
numpy and a suffix array library that a recipe checking only for PII never loads.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthloom.calls import Calls
from synthloom.quality.base import Check, Drop
from synthloom.quality.pii import Finding, find_pii, redact
from synthloom.quality.settings import PrivacySettings
from synthloom.records import Record


class Pii(Check):
    """Runs first in the gate: every later check (and rejected.jsonl) sees redacted text, so
    dedup indexes the same text live and on resume, and no raw personal data is stored."""

    name = "pii"
    reasons = ("pii",)

    def __init__(
        self,
        settings: PrivacySettings,
        fields: list[str] | None,
        extra: Callable[[str], list[Finding]] | None = None,
    ) -> None:
        assert settings.pii is not None
        self.mode = settings.pii
        self.kinds = settings.pii_types
        self.fields = fields
        self.extra = extra  # Presidio's recognisers, when the recipe asks for them

    def find(self, text: str) -> list[Finding]:
        return find_pii(text, self.kinds, self.extra)

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        findings = self.find(text)
        record.scores["pii_found"] = len(findings)
        if not findings:
            return None
        kinds = sorted({f.kind for f in findings})
        if self.mode == "drop":
            shown = ", ".join(f"{f.kind} {f.text!r}" for f in findings[:3])
            return Drop("pii", f"{len(findings)} personal data finding(s): {shown}", len(findings))
        if self.mode == "redact":
            record.data = {k: self._redact(k, v) for k, v in record.data.items()}
            record.scores["pii_redacted"] = len(findings)
        record.scores["pii_types"] = len(kinds)
        return None

    def _redact(self, key: str, value: Any) -> Any:
        if self.fields is not None and key not in self.fields:
            return value
        if isinstance(value, str):
            return redact(value, self.find(value))
        if isinstance(value, list):
            return [
                {**m, "content": redact(str(m["content"]), self.find(str(m["content"])))}
                if isinstance(m, dict) and "content" in m
                else m
                for m in value
            ]
        return value
