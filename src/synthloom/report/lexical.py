"""Lexical diversity of a dataset: how many distinct word n-grams it uses, how well it compresses,
how much each record repeats the others, how long records are, and how often they open alike.

Each text is one record's text fields joined by "\\n"; words are lower-cased ``\\w+`` runs (the
same tokens as ROUGE-L in ``synthloom.tasks.rouge``). The figures follow their references so they
can be compared with published numbers:

- distinct-n: Li et al. 2016, "A Diversity-Promoting Objective Function for Neural Conversation
  Models" (NAACL) -- unique n-grams over all n-grams, pooled over the dataset.
- compression ratio: Shaib et al. 2024, "Standardizing the Measurement of Text Diversity: A Tool
  and a Comparative Analysis of Scores", computed byte for byte as their ``diversity`` package's
  ``compression_ratio`` does (see that function here for the package's quirks).
- Self-BLEU: Zhu et al. 2018, "Texygen: A Benchmarking Platform for Text Generation Models"
  (SIGIR) -- each text scored with BLEU-4 (Papineni et al. 2002) against all the others, with
  nltk's smoothing method 1 as Texygen uses, averaged.

Everything here is a pure function of its inputs (and ``seed``); results are plain Python
numbers, and ``None`` where a figure has nothing to measure, never NaN.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np
import numpy.typing as npt

_TOKEN = re.compile(r"\w+")
_INT64_MAX = 2**63 - 1
_SMOOTHING_EPSILON = 0.1  # nltk SmoothingFunction(epsilon=0.1).method1, Texygen's choice


def tokens(text: str) -> list[str]:
    """Lower-case first, then ``\\w+``: the issue's definition and ``tasks.rouge``'s, so every
    word-level figure in synthloom counts the same words. (Lower-casing first splits the rare
    letters whose lower case adds a combining mark, such as Turkish dotted I; accepted for the
    consistency.)"""
    return _TOKEN.findall(text.lower())


# --- distinct-n -------------------------------------------------------------------------------


def distinct_n(texts: Sequence[str], n: int) -> float | None:
    """Pooled over the dataset rather than averaged per text: a per-text mean rewards every record
    for being internally varied even when all records say the same thing, which is the collapse
    this figure exists to catch. N-grams never span two texts."""
    return _distinct(texts, (n,))[n]


def _distinct(
    texts: Sequence[str], orders: Sequence[int], *, key_limit: int = _INT64_MAX
) -> dict[int, float | None]:
    """Counts distinct n-grams exactly without holding tuples: a Python set of 10 million
    3-gram tuples costs about a gigabyte. Tokens become integer ids and an n-gram becomes the
    integer ``key(first n-1 words) * vocabulary + id(last word)``, so each order costs one sort
    of an int64 array. When the next key could pass ``key_limit`` (int64; a vocabulary over two
    million words at n = 3), the keys are first replaced by their ranks, which are below the
    number of tokens: exact for up to three billion tokens. (Sorting by hand: numpy 2.4's
    ``np.unique`` takes tens of times longer than ``np.sort`` on these arrays.)"""
    if any(n < 1 for n in orders):
        raise ValueError("n-gram order must be at least 1")
    ids, lengths = _encode(texts)
    total = int(ids.size)
    result: dict[int, float | None] = {n: None for n in orders}
    if total == 0:
        return result
    vocabulary = int(ids.max()) + 1
    # tokens left in its own text from each position on, counting itself: a position starts an
    # n-gram inside its text iff remaining >= n
    ends = np.cumsum(lengths, dtype=np.int64)
    remaining = (np.repeat(ends, lengths) - np.arange(total, dtype=np.int64)).astype(np.int32)
    key, bound = ids, vocabulary  # keys of the n-grams starting at each position; keys < bound
    for n in range(1, min(max(orders), total) + 1):
        if n > 1:
            if bound > key_limit // vocabulary:
                key, bound = _ranks(key)
            key = key[:-1] * vocabulary + ids[n - 1 :]
            bound *= vocabulary
        windows = int(np.maximum(lengths - n + 1, 0).sum())  # n-grams inside texts
        if n in result and windows:
            result[n] = _count_distinct(key[remaining[: key.size] >= n]) / windows
    return result


def _count_distinct(values: npt.NDArray[np.int64]) -> int:
    ordered = np.sort(values)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1 if ordered.size else 0


def _ranks(values: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], int]:
    """Each value's rank among the distinct values, and how many distinct values there are."""
    order = np.argsort(values)
    ordered = values[order]
    step = np.empty(values.size, dtype=np.int64)
    step[0] = 0
    np.not_equal(ordered[1:], ordered[:-1], out=step[1:], casting="unsafe")
    ranks = np.empty(values.size, dtype=np.int64)
    ranks[order] = np.cumsum(step)
    return ranks, int(ranks.max()) + 1


def _encode(texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Token ids in one int64 array (8 bytes a token) and the token count of each text, so a
    100,000-record dataset never holds its tokens as Python strings all at once. A defaultdict
    whose factory is its own ``len`` numbers new words inside C code, about 1.5 times as fast
    as ``setdefault`` in a comprehension."""
    vocabulary: defaultdict[str, int] = defaultdict()
    vocabulary.default_factory = vocabulary.__len__
    number = vocabulary.__getitem__
    ids: array[int] = array("q")
    lengths: array[int] = array("q")
    for text in texts:
        words = _TOKEN.findall(text.lower())
        lengths.append(len(words))
        ids.extend(map(number, words))
    return np.frombuffer(ids, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64)


# --- compression ratio ------------------------------------------------------------------------


def compression_ratio(texts: Sequence[str]) -> float | None:
    """Reproduces ``diversity.compression_ratio(texts)`` (diversity 0.3.1, Shaib et al. 2024)
    exactly, quirks included, so the figure matches the paper's tool rather than a cleaner
    variant nobody else reports:

    - texts are joined with a space (not a newline), UTF-8;
    - the package gzips the data (level 9) and then writes that gzip member through a second
      ``GzipFile`` (level 9, file name ``compressed`` in the header), and divides by the size of
      that file: the ratio is original bytes / doubly gzipped bytes, some 35 bytes more than a
      single gzip (0.03% more on megabytes, 12% more on one short text);
    - the result is rounded to three decimals.

    The package stamps the inner gzip header with the current time, and those four bytes go
    through the second compression, which can move the size by a byte on tiny inputs; this
    stamps 0, so the figure is reproducible (and equal to the package's run with the clock
    at 0). Higher means more repetitive text. ``None`` when there is no text at all.
    """
    if not any(text.strip() for text in texts):
        return None
    original, compressed = _gzip_sizes(" ".join(texts).encode("utf-8", "surrogatepass"))
    return round(original / compressed, 3)


def _gzip_sizes(data: bytes) -> tuple[int, int]:
    """(size of the data, size of the package's ``compressed.gz``), without touching the disk."""
    level = 9
    # gzip.compress(data) in Python 3.11: simple header (flags 0, mtime, xfl 2 for level 9,
    # OS 255), raw deflate, CRC-32 and length
    inner = b"".join(
        (
            struct.pack("<BBBBLBB", 0x1F, 0x8B, 8, 0, 0, 2, 255),
            zlib.compress(data, level=level, wbits=-zlib.MAX_WBITS),
            struct.pack("<LL", zlib.crc32(data), len(data) & 0xFFFFFFFF),
        )
    )
    # gzip.GzipFile("compressed.gz", "w+").write(inner): the compressor GzipFile builds, a
    # 10-byte header plus the FNAME field b"compressed\0", and an 8-byte trailer
    outer = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
    body = len(outer.compress(inner)) + len(outer.flush())
    return len(data), 10 + len(b"compressed\0") + body + 8


# --- Self-BLEU --------------------------------------------------------------------------------


def self_bleu(
    texts: Sequence[str], *, sample: int = 500, seed: int = 0, max_n: int = 4
) -> dict[str, float | int | None]:
    """Texygen's Self-BLEU on a sample of 500 texts, Texygen's own sample size, so figures
    compare with published ones (Self-BLEU over 500 texts is not Self-BLEU over 100,000: each
    text meets more references). Texygen takes the first 500; a random sample, drawn without
    replacement from ``numpy.random.default_rng(seed)``, does not depend on the dataset's order.
    ``value`` is ``None`` when fewer than two texts are sampled or none has a word."""
    if sample < 2:
        raise ValueError("self_bleu needs a sample of at least 2 texts")
    if len(texts) > sample:
        picked = np.random.default_rng(seed).choice(len(texts), size=sample, replace=False)
        chosen = [texts[int(i)] for i in np.sort(picked)]
    else:
        chosen = list(texts)
    docs = [tokens(text) for text in chosen]
    if len(docs) < 2 or not any(docs):
        return {"value": None, "sample": len(docs)}
    scores = self_bleu_scores(docs, max_n=max_n)
    return {"value": math.fsum(scores) / len(scores), "sample": len(docs)}


def self_bleu_scores(docs: Sequence[Sequence[str]], *, max_n: int = 4) -> list[float]:
    """BLEU of each tokenised text against all the others, equal to
    ``nltk.translate.bleu_score.sentence_bleu(others, doc, weights=(1/max_n,) * max_n,
    smoothing_function=SmoothingFunction().method1)`` but in time linear in the total length
    instead of quadratic.

    nltk clips a hypothesis n-gram's count by its largest count in any reference. Keeping, per
    n-gram, the largest count over all texts, which text holds it, and the second largest gives
    the largest count over the *other* texts in O(1). The brevity penalty's reference length is
    the other texts' length closest to the hypothesis's, ties going to the shorter, as in nltk.
    Method 1 adds 0.1 to the matches of an order with none (Texygen's choice, and it keeps one
    missing 4-gram from zeroing a score); as in nltk, a text with no matching word scores 0."""
    if max_n < 1:
        raise ValueError("max_n must be at least 1")
    if len(docs) < 2:
        raise ValueError("Self-BLEU needs at least two texts")
    counts = [[_ngrams(doc, n) for n in range(1, max_n + 1)] for doc in docs]
    # per order: n-gram -> [largest count, index of the text holding it, second largest count]
    top: list[dict[tuple[str, ...], list[int]]] = [{} for _ in range(max_n)]
    for index, per_order in enumerate(counts):
        for order, counter in enumerate(per_order):
            best = top[order]
            for gram, count in counter.items():
                entry = best.get(gram)
                if entry is None:
                    best[gram] = [count, index, 0]
                elif count > entry[0]:
                    entry[2] = entry[0]
                    entry[0], entry[1] = count, index
                elif count > entry[2]:
                    entry[2] = count
    lengths = sorted(len(doc) for doc in docs)
    weight = 1 / max_n
    scores: list[float] = []
    for index, per_order in enumerate(counts):
        hyp_len = len(docs[index])
        precisions: list[float] = []
        for order, counter in enumerate(per_order):
            best = top[order]
            matches = 0
            for gram, count in counter.items():
                entry = best[gram]
                matches += min(count, entry[2] if entry[1] == index else entry[0])
            total = max(1, hyp_len - order)  # nltk: at least 1, so short texts divide by 1
            if order == 0 and matches == 0:
                break
            precisions.append(matches / total if matches else _SMOOTHING_EPSILON / total)
        if not precisions:  # no word in common with any other text, or no word at all
            scores.append(0.0)
            continue
        closest = _closest_other_length(lengths, hyp_len)
        penalty = 1.0 if hyp_len > closest else math.exp(1 - closest / hyp_len)
        scores.append(penalty * math.exp(math.fsum(weight * math.log(p) for p in precisions)))
    return scores


def _ngrams(doc: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(zip(*(doc[i:] for i in range(n)), strict=False))


def _closest_other_length(lengths: list[int], hyp_len: int) -> int:
    """nltk's ``closest_ref_length`` over the sorted lengths of all texts minus the hypothesis
    itself (one occurrence of ``hyp_len``)."""
    low, high = bisect_left(lengths, hyp_len), bisect_right(lengths, hyp_len)
    if high - low >= 2:
        return hyp_len
    candidates = [lengths[i] for i in (low - 1, high) if 0 <= i < len(lengths)]
    return min(candidates, key=lambda length: (abs(length - hyp_len), length))


# --- lengths, openings, bundle ----------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    """5th, 50th and 95th percentiles (numpy's default linear interpolation): the middle and
    the tails say more about a length distribution than a mean that one runaway record drags."""
    if len(values) == 0:
        return None
    p5, p50, p95 = np.percentile(np.asarray(values, dtype=np.float64), [5, 50, 95])
    return {"p5": float(p5), "p50": float(p50), "p95": float(p95)}


def openings(texts: Sequence[str], words: int = 5) -> dict[str, str | float | int | None]:
    """The commonest opening (first ``words`` tokens) and its share of all texts: a generator
    stuck on one template shows it first in how records begin. Texts without a word have no
    opening but still count in the share's denominator; ties go to the opening seen first."""
    if words < 1:
        raise ValueError("words must be at least 1")
    counter: Counter[str] = Counter()
    for text in texts:
        first = [m.group() for m in islice(_TOKEN.finditer(text.lower()), words)]
        if first:
            counter[" ".join(first)] += 1
    if not counter:
        return {"opening": None, "share": None, "count": 0}
    opening, count = counter.most_common(1)[0]
    return {"opening": opening, "share": count / len(texts), "count": count}


def looping_share(texts: Sequence[str], *, n: int = 4, times: int = 3) -> float | None:
    """Share of texts in which one word n-gram occurs ``times`` times or more: a model stuck in
    a loop ("how to avoid the machine, how to avoid it, how to avoid the machine, ..."). The
    set-level figures miss it: such a record stays on topic, so its embedding sits among the
    real ones, and its words are the seeds' words. Three repeats of a 4-gram is rare in
    written prose and common in a small model's degenerate output."""
    if not texts:
        return None
    looping = 0
    for text in texts:
        words = tokens(text)
        counts = Counter(zip(*(words[i:] for i in range(n)), strict=False))
        looping += bool(counts) and max(counts.values()) >= times
    return looping / len(texts)


def lexical_metrics(
    texts: Sequence[str], *, sample: int = 500, seed: int = 0
) -> dict[str, float | int | None]:
    """The lexical block of metrics.json. One tokenisation pass serves distinct-1, -2 and -3;
    the gzip pass, the other big cost, runs meanwhile on a second thread (zlib releases the GIL),
    so the two overlap when a second core is free."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        ratio = pool.submit(compression_ratio, texts)
        distinct = _distinct(texts, (1, 2, 3))
        bleu = self_bleu(texts, sample=sample, seed=seed)
        return {
            "records": len(texts),
            "distinct_1": distinct[1],
            "distinct_2": distinct[2],
            "distinct_3": distinct[3],
            "compression_ratio": ratio.result(),
            "self_bleu": bleu["value"],
            "self_bleu_sample": bleu["sample"],
            "looping_share": looping_share(texts),
        }
