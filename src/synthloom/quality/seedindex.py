"""Indexes over the seeds, built once, for the privacy step's seed-copy check (issue 12).

The check used to compare each record with every seed in turn (a shingle Jaccard and a
difflib longest match per seed), so its cost grew with the number of seeds. These indexes
answer the same two questions with per-record work that barely depends on how many seeds
there are, and give exactly the answers of those loops: tests/unit/test_seedindex.py checks
them against the loops on random and adversarial text.
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray
from pydivsufsort import divsufsort

_P = 0x9E3779B97F4A7C15  # odd multiplier of the polynomial k-gram hash (mod 2**64)
_MIX = 0xBF58476D1CE4E5B9  # the hash is multiplied by it last, to spread the top bits
_SPARE_BITS = 3  # the filter has 8 to 16 bits per k-gram (of every level) of the seeds
_BIT = np.left_shift(1, np.arange(8)).astype(np.uint8)  # a byte's bits, lowest first


class ShingleIndex:
    """Inverted index from shingle to the seeds that hold it. A record's intersection with
    every seed is one ``bincount`` over the postings of its own shingles, so only seeds
    sharing a shingle cost anything."""

    def __init__(self, seeds: Sequence[set[str]]) -> None:
        vocab: dict[str, int] = {}
        terms: list[int] = []
        owners: list[int] = []
        for s, grams in enumerate(seeds):
            for gram in grams:
                terms.append(vocab.setdefault(gram, len(vocab)))
                owners.append(s)
        order = np.argsort(np.asarray(terms, dtype=np.int64), kind="stable")
        self._vocab = vocab
        self._postings = np.asarray(owners, dtype=np.int64)[order]  # seed ids, by shingle
        self._start = np.searchsorted(
            np.asarray(terms, dtype=np.int64)[order], np.arange(len(vocab) + 1)
        )
        self._sizes = np.asarray([len(grams) for grams in seeds], dtype=np.int64)

    def nearest(self, grams: set[str]) -> tuple[float, int]:
        """(Jaccard, seed index) of the closest seed; the first seed in order wins a tie, as
        in a loop keeping the strictly greatest. (0.0, -1) when no seed shares a shingle."""
        ids = [i for g in grams if (i := self._vocab.get(g)) is not None]
        if not ids:
            return 0.0, -1
        term = np.asarray(ids, dtype=np.int64)
        lo, hi = self._start[term], self._start[term + 1]
        lens = hi - lo
        # every posting of every shingle of the record, gathered without a Python loop
        at = np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        inter = np.bincount(self._postings[at], minlength=len(self._sizes))
        jaccard = inter / (self._sizes + len(grams) - inter)  # the union is >= len(grams) > 0
        best = int(np.argmax(jaccard))
        return float(jaccard[best]), best


def _codes(text: str) -> NDArray[np.uint32]:
    """Code points: they order like Python compares str, which the suffix array relies on."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _hashes(codes: NDArray[np.uint32], levels: Sequence[int]) -> Iterator[NDArray[np.uint64]]:
    """A hash of every k-gram for each k in ``levels`` (increasing powers of two): polynomial
    mod 2**64, each length from the one half as long (h[2w][i] = h[w][i] * P**w + h[w][i + w]),
    then times an odd constant so that the top bits, which pick a filter's bit, are uniform.
    Two k-grams sharing a hash only cost one more exact search, never a wrong answer."""
    h, width, power = codes.astype(np.uint64), 1, _P
    while width < levels[-1]:
        h = h[:-width] * np.uint64(power) + h[width:]
        power, width = power * power % 2**64, 2 * width
        if width in levels:
            yield h * np.uint64(_MIX)


class _Filter:
    """Which k-grams occur in the seeds, as a bitmap on the top bits of their hashes: a k-gram
    in no seed passes 5 to 15% of the time, which only loosens a bound. Four megabytes for
    the 8-, 16- and 64-grams of 1.4 M characters of seeds: a lookup rarely misses the cache,
    where a sorted array or a table of the hashes misses it at nearly every lookup once it is
    large (measured: a searchsorted over 1.3 M hashes cost 3 to 5 times one over 30,000)."""

    def __init__(self, size: int, levels: Iterable[NDArray[np.uint64]]) -> None:
        """``size``: how many hashes ``levels`` will give, one array a level."""
        bits = max(size.bit_length() + _SPARE_BITS, 6)
        self.shift = np.uint64(64 - bits)
        flags = np.zeros(1 << bits, dtype=np.bool_)
        for hashes in levels:
            flags[(hashes >> self.shift).astype(np.intp)] = True
        self.bitmap = np.packbits(flags, bitorder="little")

    def holds(self, hashes: NDArray[np.uint64]) -> NDArray[np.bool_]:
        """False: in no seed; True: in some seed, or (rarely) not."""
        at = (hashes >> self.shift).astype(np.intp)
        return np.asarray(np.bitwise_and(self.bitmap[at >> 3], _BIT[at & 7]), dtype=np.bool_)


class _Blocks:
    """Each k-gram of the seeds, by hash, to the block of the suffix array whose suffixes
    start with it (contiguous there): a search for a text of k or more characters looks
    only inside its first k-gram's block, a few entries, instead of bisecting the whole
    array, whose deep steps miss the cache once it is large (measured on a busy machine: 12 us
    a search over 1.4 M characters, 6 us over 34,000; 5 and 2 us inside blocks). Looked up
    only for the few positions searched. Two k-grams with one hash share the whole array as
    their block: slower, never wrong."""

    def __init__(self, hashes: NDArray[np.uint64], sa: NDArray[np.int32]) -> None:
        ranks = np.flatnonzero(sa < len(hashes))  # the suffixes at least k long, in order
        grams = hashes[sa[ranks]]
        head = np.ones(len(grams), dtype=np.bool_)
        head[1:] = grams[1:] != grams[:-1]
        first = np.flatnonzero(head)
        last = np.append(first[1:], len(grams))[: len(first)] - 1
        order = np.argsort(grams[first], kind="stable")
        keys, lo, hi = grams[first][order], ranks[first][order], ranks[last][order] + 1
        clash = np.zeros(len(keys), dtype=np.bool_)
        clash[1:] = keys[1:] == keys[:-1]
        clash[:-1] |= clash[1:]
        lo[clash], hi[clash] = 0, len(sa)
        self.keys = array("Q", keys.tobytes())
        self.lo, self.hi = array("i", lo.astype(np.int32)), array("i", hi.astype(np.int32))
        # where the keys of each value of the top bits start, so a lookup bisects a handful of
        # keys, not half a million, most of whose steps would miss the cache
        bits = max(len(keys).bit_length(), 1)
        self.shift = 64 - bits
        tops = np.arange(1 << bits, dtype=np.uint64) << np.uint64(self.shift)
        self.starts = array("i", np.append(np.searchsorted(keys, tops), len(keys)).astype(np.int32))

    def nbytes(self) -> int:
        return 8 * len(self.keys) + 4 * (len(self.lo) + len(self.hi) + len(self.starts))

    def of(self, gram: int) -> tuple[int, int]:
        """The block of the k-gram with this hash; an empty one if no seed holds it."""
        top = gram >> self.shift
        at = bisect_left(self.keys, gram, self.starts[top], self.starts[top + 1])
        if at < len(self.keys) and self.keys[at] == gram:
            return self.lo[at], self.hi[at]
        return 0, 0


class RunIndex:
    """The longest run of characters a text shares with any seed, and a seed holding it: the
    ``find_longest_match().size`` of difflib (no junk) maximised over the seeds.

    The seeds are joined, by a separator character that occurs in none of them, into one
    suffix array; "does any seed hold p" is then a binary search over it, cheap however many
    seeds there are. Few positions of a text are searched at all: the seeds' characters and
    k-grams bound from above the run that can start at each position (every k-gram of a
    shared run is in the seed), the positions are tried from the highest bound down, and the
    search stops once no bound reaches the best run found. Longer k-grams matter with many
    seeds: nearly every 8-gram of ordinary text is in some seed of 2,000 (16-grams cut the
    searches there from about 130 a record to 10), and where seeds share whole sentences,
    16-grams chain across them (64-grams halve the searches there). No searched run crosses
    two seeds: it holds only characters some seed holds, never the separator.
    """

    def __init__(self, texts: Sequence[str], levels: Sequence[int] = (8, 16, 64)) -> None:
        """``levels``: the k-gram lengths of the filters, powers of two from 2."""
        if not levels or any(k < 2 or k & (k - 1) for k in levels):
            raise ValueError(f"k-gram levels must be powers of two from 2, not {levels}")
        seen = set("".join(texts))
        sep = next(c for c in map(chr, itertools.count()) if c not in seen)
        self._joined = sep.join(texts)
        self._starts = np.cumsum([0] + [len(t) + 1 for t in texts[:-1]]).tolist()
        self._longest = max((len(t) for t in texts), default=0)
        self._chars = np.asarray(sorted(map(ord, seen)), dtype=np.uint32)
        codes = _codes(self._joined)
        sa = divsufsort(codes).astype(np.int32) if len(codes) else np.zeros(0, np.int32)
        self._sa = array("i", sa.tobytes())  # int indexing from Python is far faster
        self._sa_np = np.frombuffer(self._sa, dtype=np.int32)  # the same memory
        self._levels = sorted(levels)
        # one level's hashes at a time (11 MB each for 1.4 M characters)
        grams = _hashes(codes, self._levels)
        shortest = next(grams)
        self._blocks = _Blocks(shortest, sa)
        size = sum(max(len(codes) - k + 1, 0) for k in self._levels)
        self._filter = _Filter(size, itertools.chain([shortest], grams))

    def nbytes(self) -> int:
        """Memory held by the index (the joined text counted at 4 bytes a character)."""
        arrays = self._sa_np.nbytes + self._chars.nbytes + self._filter.bitmap.nbytes
        return arrays + self._blocks.nbytes() + 4 * len(self._joined)

    def _bounds(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """An upper bound of the run shared with a seed at each position of ``text`` (a run
        from i ends at the latest before the first character from i on that no seed holds,
        and before the last character of the first k-gram from i on that no seed holds), and
        the hash of the shortest level's k-gram at each position."""
        codes, n = _codes(text), len(text)
        at = np.arange(n)
        spot = np.minimum(np.searchsorted(self._chars, codes), len(self._chars) - 1)
        end = np.where(self._chars[spot] == codes, n, at)  # the end of a run over each position
        hashes = list(_hashes(codes, self._levels))
        known = self._filter.holds(np.concatenate(hashes))
        for k, h in zip(self._levels, hashes, strict=True):
            m = len(h)
            np.minimum(end[:m], np.where(known[:m], n, at[:m] + (k - 1)), out=end[:m])
            known = known[m:]
        bound = np.minimum(np.minimum.accumulate(end[::-1])[::-1] - at, self._longest)
        return bound, hashes[0]

    def longest(self, text: str) -> tuple[int, int]:
        """(length, seed index) of the longest run ``text`` shares with a seed; the seed is
        the first in seed order holding a run of that length, as a loop over the seeds keeping
        the strictly longest names. (0, -1) when none shares a character."""
        if not text or not self._longest:  # no seed holds a single character
            return 0, -1
        sa, joined, k = self._sa, self._joined, self._levels[0]
        bound, grams = self._bounds(text)

        def block(i: int, m: int) -> tuple[int, int]:  # where text[i : i + m] may be in sa
            return self._blocks.of(int(grams[i])) if m >= k else (0, len(sa))

        def has(i: int, m: int) -> bool:  # does a seed hold text[i : i + m]?
            p, (lo, hi) = text[i : i + m], block(i, m)
            at = bisect_left(sa, p, lo, hi, key=lambda j: joined[j : j + m])
            return at < hi and joined.startswith(p, sa[at])

        best, runs = 0, {}  # runs: the distinct texts of length ``best`` in a seed, and where
        order = np.argsort(-bound, kind="stable")
        for i, u in zip(order.tolist(), bound[order].tolist(), strict=True):
            if u < best or u == 0:
                break
            if best and text[i : i + best] not in runs and not has(i, best):
                continue  # shorter here than the best so far
            if u > best and has(i, best + 1):
                lo, hi = best + 1, u  # longer here: the longest present prefix, by bisection
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    lo, hi = (mid, hi) if has(i, mid) else (lo, mid - 1)
                best, runs = lo, {text[i : i + lo]: i}
            else:
                runs.setdefault(text[i : i + best], i)
        if not best:
            return 0, -1

        def first(p: str, i: int) -> int:  # the first seed (smallest offset) holding p
            key = lambda j: joined[j : j + best]  # noqa: E731
            lo, hi = block(i, best)
            lo = bisect_left(sa, p, lo, hi, key=key)
            hi = bisect_right(sa, p, lo, hi, key=key)
            return bisect_right(self._starts, int(self._sa_np[lo:hi].min())) - 1

        return best, min(first(p, i) for p, i in runs.items())
