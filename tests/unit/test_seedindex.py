"""The seed indexes (quality/seedindex.py) give exactly the answers of comparing a record with
every seed in turn, which is what the seed-copy check did before them: the same closest-seed
Jaccard and seed, the same longest shared run, and the same seed named for it (the first in
seed order). The brute-force references live here, and only here."""

from __future__ import annotations

import asyncio
import json
import random
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path

import pytest

from synthloom.quality import seedindex
from synthloom.quality.base import SEED_COPY, Drop, normalise, shingles, text_of
from synthloom.quality.seedcopy import SeedCopy
from synthloom.quality.seedindex import RunIndex, ShingleIndex
from synthloom.quality.settings import PrivacySettings
from synthloom.records import Provenance, Record

FLAGSHIP = Path(__file__).parents[2] / "examples" / "post-surgical-care" / "seeds.jsonl"

# ---------------------------------------------------------------------------------------------
# the brute-force references: one seed at a time, as SeedCopy did before the indexes


def _brute_run(text: str, seeds: list[str]) -> tuple[int, int]:
    """The longest run shared with any seed, and the first seed holding a run that long."""
    best, source = 0, -1
    for s, seed in enumerate(seeds):
        size = SequenceMatcher(None, text, seed, autojunk=False).find_longest_match().size
        if size > best:
            best, source = size, s
    return best, source


def _brute_jaccard(grams: set[str], seeds: list[set[str]]) -> tuple[float, int]:
    best, source = 0.0, -1
    for s, seed in enumerate(seeds):
        union = len(grams | seed)
        j = len(grams & seed) / union if union else 0.0
        if j > best:
            best, source = j, s
    return best, source


@cache
def _loop_over_seeds(seeds: tuple[tuple[str, str], ...], text: str) -> tuple[float, str, int, str]:
    """The closest seed by Jaccard and by longest run, as SeedCopy.check found them before the
    indexes (issue 12), verbatim but for the names. Cached: difflib is slow, and each record
    is checked under several settings."""
    flat, grams = normalise(text), shingles(text, 3)
    best_j, best_j_id, best_s, best_s_id = 0.0, "", 0, ""
    for sid, seed_text in seeds:
        seed_flat, seed_grams = normalise(seed_text), shingles(seed_text, 3)
        union = len(grams | seed_grams)
        j = len(grams & seed_grams) / union if union else 0.0
        if j > best_j:
            best_j, best_j_id = j, sid
        match = SequenceMatcher(None, flat, seed_flat, autojunk=False).find_longest_match()
        if match.size > best_s:
            best_s, best_s_id = match.size, sid
    return best_j, best_j_id, best_s, best_s_id


def _loop_check(
    settings: PrivacySettings, seeds: list[tuple[str, str]], record: Record, text: str
) -> Drop | None:
    """The rest of SeedCopy.check before the indexes, verbatim but for the names."""
    max_jaccard, max_substring = settings.max_seed_similarity, settings.max_seed_substring
    best_j, best_j_id, best_s, best_s_id = _loop_over_seeds(tuple(seeds), text)
    record.scores["seed_jaccard"] = round(best_j, 4)
    if best_j_id:
        record.notes["nearest_seed"] = best_j_id
    if max_substring is not None:
        record.scores["seed_substring"] = best_s
    if max_jaccard is not None and best_j > max_jaccard:
        return Drop(
            SEED_COPY,
            f"3-gram Jaccard {best_j:.2f} > {max_jaccard} with seed {best_j_id}",
            best_j,
        )
    if max_substring is not None and best_s > max_substring:
        return Drop(
            SEED_COPY,
            f"{best_s} characters copied from seed {best_s_id} (max {max_substring})",
            float(best_s),
        )
    return None


# ---------------------------------------------------------------------------------------------
# RunIndex


def _assert_run(text: str, seeds: list[str], index: RunIndex) -> None:
    got = index.longest(text)
    assert got == _brute_run(text, seeds), (text, seeds)
    size, source = got
    if size:  # the named seed really holds a run that long
        assert any(text[i : i + size] in seeds[source] for i in range(len(text) - size + 1))


ALPHABETS = ["ab", "abc", "ab ", "a\x00b", "aé😀", "abcdefgh ", "一二三ab"]


def test_the_longest_run_is_the_one_of_a_loop_over_the_seeds_on_random_text() -> None:
    rng = random.Random(12)
    for _ in range(200):
        alphabet = rng.choice(ALPHABETS)

        def word(most: int, alphabet: str = alphabet) -> str:
            return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, most)))

        seeds = [word(40) for _ in range(rng.randint(1, 6))]
        texts = [word(70) for _ in range(3)]
        if seeds[0]:  # splice in a piece of a seed, long repeats
            a = rng.randrange(len(seeds[0]))
            texts.append(word(10) + seeds[0][a : a + rng.randint(1, 40)] + word(10))
        for levels in [(8, 16, 64), (2, 4)] if rng.random() < 0.5 else [(4,), (2, 16)]:
            index = RunIndex(seeds, levels)
            for text in texts:
                _assert_run(text, seeds, index)


SEED_TEXT = "keep the incision clean and dry, and call the ward if it turns red"
ADVERSARIAL = [
    ("a" * 300, ["a" * 40, "b" * 50, "a" * 60]),  # long repeats, the longer seed later
    ("a" * 30, ["a" * 300, "a" * 30]),  # a record shorter than the seed
    ("ab" * 100, ["ba" * 30, "ab" * 30]),  # periodic; the first seed holds it too
    (SEED_TEXT, ["the incision", SEED_TEXT]),  # one seed inside another, record = a seed
    (SEED_TEXT, [SEED_TEXT, "the incision"]),
    (SEED_TEXT, [SEED_TEXT]),  # the record is the seed
    ("keep the in", [SEED_TEXT]),  # the run at the very start of both
    ("zz turns red", [SEED_TEXT]),  # at the very end of both
    ("zz turns red", ["turns re", "urns red"]),  # equal runs in two seeds: the first wins
    ("x" + SEED_TEXT * 5 + "y", [SEED_TEXT[:30], SEED_TEXT]),  # longer than every seed
    ("", [SEED_TEXT]),  # empty record
    (SEED_TEXT, [""]),  # empty seed text
    (SEED_TEXT, ["", "", "the ward"]),
    ("", [""]),
    ("qqq", [SEED_TEXT]),  # no character in common
    ("xa\x00by", ["xa", "by", "a longer seed"]),  # NUL in the record: it joins no seeds
    ("a\x00b", ["xa\x00by", "a"]),  # NUL inside a seed and the record
    ("a\x01b", ["a\x00b", "\x01"]),  # the separators the index picks
    ("l'incisión está limpia", ["incisión", "la incision esta limpia", "está limpia"]),
    ("術後の傷は清潔に保つ", ["傷は清潔", "術後の傷", "清潔に保つこと"]),
    ("call 🚑 now 😀😀", ["😀😀😀", "call 🚑", "🚑 now 😀"]),
    ("\ud800lone\udfff", ["lone\udfff", "\ud800l"]),  # lone surrogates (JSON allows them)
]


@pytest.mark.parametrize(("text", "seeds"), ADVERSARIAL)
def test_the_longest_run_is_the_one_of_a_loop_over_the_seeds_on_hard_cases(
    text: str, seeds: list[str]
) -> None:
    for levels in [(8, 16, 64), (2, 4)]:
        _assert_run(text, seeds, RunIndex(seeds, levels))


def test_hash_collisions_cost_time_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # with P = 1 a k-gram's hash is the sum of its code points: every anagram collides
    monkeypatch.setattr(seedindex, "_P", 1)
    rng = random.Random(5)
    for _ in range(60):
        seeds = ["".join(rng.choice("abc ") for _ in range(rng.randint(0, 60))) for _ in range(4)]
        index = RunIndex(seeds, (2, 4))
        for _ in range(3):
            _assert_run(
                "".join(rng.choice("abc ") for _ in range(rng.randint(0, 80))), seeds, index
            )


def test_no_seeds_share_nothing() -> None:
    assert RunIndex([]).longest("anything") == (0, -1)
    assert ShingleIndex([]).nearest(shingles("a b c d", 3)) == (0.0, -1)


@pytest.mark.parametrize("levels", [(), (1, 8), (8, 12)])
def test_k_gram_levels_are_powers_of_two(levels: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="powers of two"):
        RunIndex(["seed"], levels)


# ---------------------------------------------------------------------------------------------
# ShingleIndex


def test_the_nearest_seed_is_the_one_of_a_loop_over_the_seeds() -> None:
    rng = random.Random(7)
    vocab = ["wound", "dry", "keep", "call", "the", "a", "red", "Ward"]
    for _ in range(400):

        def text(most: int) -> str:
            return " ".join(rng.choice(vocab) for _ in range(rng.randint(0, most)))

        seeds = [shingles(text(12), 3) for _ in range(rng.randint(1, 8))]
        grams = shingles(text(14), 3)
        assert ShingleIndex(seeds).nearest(grams) == _brute_jaccard(grams, seeds), (grams, seeds)


def test_jaccard_ties_go_to_the_first_seed_and_empty_sets_score_zero() -> None:
    a, b = shingles("keep it dry now", 3), shingles("keep it dry today", 3)
    index = ShingleIndex([set(), b, a, a])
    assert index.nearest(a) == (1.0, 2)
    assert index.nearest(set()) == (0.0, -1)
    assert ShingleIndex([set()]).nearest(set()) == (0.0, -1)
    assert index.nearest(shingles("keep it dry", 3)) == (0.5, 1)  # 1/2 with b, 1/2 with a


# ---------------------------------------------------------------------------------------------
# SeedCopy end to end, on the flagship seeds


def _flagship() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in FLAGSHIP.read_text().splitlines() if line.strip()]
    return [(row["id"], text_of(row, ["question", "answer"])) for row in rows]


def _records(seeds: list[tuple[str, str]]) -> list[str]:
    """Records a generator might write: pieces of seeds spliced with other text."""
    rng = random.Random(3)
    texts = [t for _, t in seeds]
    filler = "Thanks for asking. Every recovery is different, so ask the team who operated."
    out = ["", "Completely unrelated: the train leaves at noon.", texts[4], texts[4].upper()]
    for n in range(46):
        t = texts[rng.randrange(len(texts))]
        a = rng.randrange(len(t) - 20)
        piece = t[a : a + rng.choice([15, 60, 110, 121, 125, 200])]
        if n % 3 == 0:
            words = t[a : a + 300].split()
            for _ in range(len(words) // 8):
                words[rng.randrange(len(words))] = rng.choice(["really", "nurse", "é"])
            piece = " ".join(words)
        elif n % 3 == 1:
            u = texts[rng.randrange(len(texts))]
            piece = piece + "\n  " + u[: rng.randint(20, 130)]
        out.append(f"{filler[: rng.randrange(len(filler))]} {piece} {filler[:20]}")
    return out


def _prov() -> Provenance:
    return Provenance("unit", "t", 0, [], {}, "", "fake", "fake-1", {})


@pytest.mark.parametrize(
    "settings",
    [
        PrivacySettings(max_seed_similarity=0.6, max_seed_substring=100),  # the recipe's
        PrivacySettings(max_seed_similarity=None, max_seed_substring=10),  # names many seeds
        PrivacySettings(max_seed_similarity=0.2, max_seed_substring=None),
    ],
)
def test_seed_copy_gives_the_answers_of_the_loop_over_the_seeds(
    settings: PrivacySettings,
) -> None:
    seeds = _flagship()
    new = SeedCopy(settings, seeds)
    drops = 0
    for i, text in enumerate(_records(seeds)):
        got, want = Record(f"r{i}", "t", {}, _prov()), Record(f"r{i}", "t", {}, _prov())
        drop = asyncio.run(new.check(got, text, None))  # type: ignore[arg-type]
        old = _loop_check(settings, seeds, want, text)
        assert (drop, got.scores, got.notes) == (old, want.scores, want.notes)
        drops += drop is not None
    assert 0 < drops < 50  # the records exercise both outcomes
