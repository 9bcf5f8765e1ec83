"""Presidio's recognisers as extra PII detectors (``privacy.presidio: true``, extra ``pii``):
checksum-validated identifiers (US bank and passport numbers, ITIN, UK NHS numbers, medical
licences, crypto wallets, MAC addresses, ...) that a handful of regexes would miss.

Presidio normally wants a spaCy model with named-entity recognition, which the package
registries do not carry; its pattern recognisers only need a tokenizer, so a blank English
spaCy pipeline is enough. The recognisers that need a NER model, or that fetch the public
suffix list from the internet on first use (e-mail and URL, via tldextract), are left out: the
built-in e-mail detector covers addresses offline."""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from typing import Any

from synthloom.errors import MissingDependencyError
from synthloom.quality.pii import Finding

PIP_NAME = "synthloom[pii]"
# need a NER model (none offline) or the network (tldextract)
_LEFT_OUT = {
    "SpacyRecognizer",
    "StanzaRecognizer",
    "TransformersRecognizer",
    "GLiNERRecognizer",
    "HuggingFaceNerRecognizer",
    "EmailRecognizer",
    "UrlRecognizer",
}
# a date is rarely personal on its own, and care instructions are full of them
_DEFAULT_OFF = {"date_time"}


def require_presidio() -> None:
    for module in ("presidio_analyzer", "spacy"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(
                "presidio-analyzer", "PII detection with Presidio (privacy.presidio)", PIP_NAME
            )


class PresidioDetector:
    """Built once per gate, on the first record (loading takes about a second)."""

    def __init__(self, kinds: list[str] | None, min_score: float) -> None:
        self.kinds = {k.lower() for k in kinds} if kinds is not None else None
        self.min_score = min_score
        self._analyzer: Any = None

    def _load(self) -> Any:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        with tempfile.TemporaryDirectory() as folder:
            spacy.blank("en").to_disk(folder)  # a tokenizer, no statistical model
            engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": folder}])
            engine.load()
        registry = RecognizerRegistry()
        # it warns about every recognizer for another language it skips: say nothing
        log = logging.getLogger("presidio-analyzer")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            registry.load_predefined_recognizers(nlp_engine=engine, languages=["en"])
        finally:
            log.setLevel(level)
        recognizers: list[Any] = list(registry.recognizers)
        for recognizer in recognizers:
            if type(recognizer).__name__ in _LEFT_OUT:
                registry.remove_recognizer(recognizer.name)
        return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])

    def entities(self) -> list[str]:
        """Every kind the loaded recognisers can report, lower-case (as in ``pii_types``)."""
        if self._analyzer is None:
            self._analyzer = self._load()
        return sorted({e.lower() for e in self._analyzer.get_supported_entities(language="en")})

    def find(self, text: str) -> list[Finding]:
        if self._analyzer is None:
            self._analyzer = self._load()
        found = []
        for result in self._analyzer.analyze(text, language="en"):
            kind = str(result.entity_type).lower()
            wanted = kind in self.kinds if self.kinds is not None else kind not in _DEFAULT_OFF
            if wanted and result.score >= self.min_score:
                found.append(
                    Finding(kind, result.start, result.end, text[result.start : result.end])
                )
        return found
