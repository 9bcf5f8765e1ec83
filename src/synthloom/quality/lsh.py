"""A MinHash LSH index in flat numpy arrays, for near-dedup over millions of kept records.

rensa's ``RMinHashLSH`` keeps a vector per band bucket, about 85 bytes per record and band:
2.7 KB a record at 32 bands, so a million kept records took 2.7 GB for the index alone. Here
each band of each record costs one slot of an open-addressing table (a 32-bit band hash and the
newest record holding it, at most half full) plus a 32-bit link to the previous record with the
same band hash: about 20 bytes. A 32-bit band hash can collide; a collision only adds a
candidate, which the caller confirms by its estimated Jaccard. It is slower per record than
rensa's (numpy calls on 32 bands instead of one Rust call), so dedup uses it only past the size
where memory starts to matter (see :class:`synthloom.quality.dedup.NearDedup`).
"""

from __future__ import annotations

from array import array
from typing import Any

import numpy as np

_MIX = np.uint64(0x9E3779B97F4A7C15)

U32 = np.ndarray[Any, np.dtype[np.uint32]]
Values = np.ndarray[Any, Any]  # one text's MinHash values (any unsigned integer type)
I32 = np.ndarray[Any, np.dtype[np.int32]]


class Rows:
    """A growable 2-D array (rows appended one at a time) with amortised doubling."""

    data: np.ndarray[Any, Any]

    def __init__(self, width: int, dtype: type[np.generic]) -> None:
        self.data = np.empty((1024, width), dtype=dtype)
        self.count = 0

    def append(self, row: np.ndarray[Any, Any]) -> int:
        if self.count == len(self.data):
            bigger = np.empty((2 * len(self.data), self.data.shape[1]), dtype=self.data.dtype)
            bigger[: self.count] = self.data
            self.data = bigger
        self.data[self.count] = row
        self.count += 1
        return self.count - 1


class BandIndex:
    """Keys are the insertion order (0, 1, 2, ...). ``query`` gives every key sharing a band
    hash with the signature.

    Each band has its own table, so a 32-bit collision can only put two values of one band on
    one chain: an extra candidate, never a lost one. The tables are ``array`` objects probed
    from Python: for 32 bands, a plain loop costs less than a dozen numpy calls."""

    def __init__(self, num_perm: int, bands: int) -> None:
        self.num_perm = num_perm
        self.bands = bands
        self.rows = num_perm // bands
        with np.errstate(over="ignore"):
            self._salt = (np.arange(bands, dtype=np.uint64) + np.uint64(1)) * _MIX
            odd = np.arange(1, 2 * self.rows, 2, dtype=np.uint64)
            self._weights = odd * np.uint64(0xC2B2AE3D27D4EB4F)
        self._size = 1 << 10
        self._tags = [array("I", bytes(4 * self._size)) for _ in range(bands)]  # 0: empty
        self._heads = [array("i", bytes(4 * self._size)) for _ in range(bands)]  # key + 1
        self._links = [array("i") for _ in range(bands)]  # key -> previous key + 1 (0: none)
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def band_tags(self, signature: Values) -> list[int]:
        """One nonzero 32-bit hash per band, salted by the band's index. The usual shape (16-bit
        values, bands of a multiple of 4 rows) reads each band as 64-bit words."""
        with np.errstate(over="ignore"):
            if signature.dtype == np.uint16 and self.rows % 4 == 0:
                words = signature.view(np.uint64).reshape(self.bands, self.rows // 4)
                if self.rows == 4:
                    h = words[:, 0]
                else:
                    h = (words * self._weights[: words.shape[1]]).sum(axis=1, dtype=np.uint64)
            else:
                rows = signature.astype(np.uint64).reshape(self.bands, self.rows)
                h = (rows * self._weights).sum(axis=1, dtype=np.uint64)
            h = ((h ^ self._salt) * _MIX) >> np.uint64(32)
        tags: list[int] = (h | np.uint64(1 << 31)).tolist()  # the top bit: never empty
        return tags

    def _slot(self, band: int, tag: int) -> int:
        """Where ``tag`` is in the band's table, or the empty slot it would take."""
        row, mask = self._tags[band], self._size - 1
        slot = tag & mask
        while True:
            seen = row[slot]
            if seen == tag or seen == 0:
                return slot
            slot = (slot + 1) & mask

    def query(self, signature: Values) -> set[int]:
        keys: set[int] = set()
        for band, tag in enumerate(self.band_tags(signature)):
            linked = self._heads[band][self._slot(band, tag)]
            links = self._links[band]
            while linked:
                keys.add(linked - 1)
                linked = links[linked - 1]
        return keys

    def insert(self, signature: Values) -> int:
        if 2 * (self.count + 1) > self._size:
            self._grow()
        key = self.count
        for band, tag in enumerate(self.band_tags(signature)):
            slot = self._slot(band, tag)
            heads = self._heads[band]
            self._links[band].append(heads[slot])
            heads[slot] = key + 1
            self._tags[band][slot] = tag
        self.count += 1
        return key

    def _grow(self) -> None:
        """Twice the slots, band by band; every used slot moves to its place in the new one."""
        size = 2 * self._size
        for band in range(self.bands):
            old_tags = np.frombuffer(self._tags[band], dtype=np.uint32)
            old_heads = np.frombuffer(self._heads[band], dtype=np.int32)
            used = np.flatnonzero(old_tags)
            tags = np.zeros(size, dtype=np.uint32)
            heads = np.zeros(size, dtype=np.int32)
            slots = _place(tags, old_tags[used])
            heads[slots] = old_heads[used]
            self._tags[band] = array("I", tags.tobytes())
            self._heads[band] = array("i", heads.tobytes())
        self._size = size


def _place(table: U32, tags: U32) -> I32:
    """Put distinct tags into an empty table row by linear probing, one probe round at a time
    for all of them (the first of several tags wanting one slot takes it); their slots."""
    mask = len(table) - 1
    slots = (tags & np.uint32(mask)).astype(np.int32)
    final = np.empty(len(tags), dtype=np.int32)
    todo = np.arange(len(tags))
    while len(todo):
        want = slots[todo]
        _, first = np.unique(want, return_index=True)
        winner = np.zeros(len(todo), dtype=bool)
        winner[first] = True
        placed = winner & (table[want] == 0)
        final[todo[placed]] = want[placed]
        table[want[placed]] = tags[todo[placed]]
        todo = todo[~placed]
        slots[todo] = (slots[todo] + 1) & mask
    return final
