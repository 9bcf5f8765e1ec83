"""Review statistics and sampling design, checked against scipy and by simulation."""

from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
import pytest
from scipy import stats as sps

from synthloom.review.sample import allocate, draw, score_band
from synthloom.review.stats import (
    cohen_kappa,
    estimate,
    reviews_for_rule_of_three,
    rule_of_three,
    sample_size,
    stratified,
    wilson,
)

# ---------------------------------------------------------------- Wilson


def _cases() -> list[tuple[int, int]]:
    rng = random.Random(20240601)
    cases = []
    for n in (1, 2, 3, 5, 10, 17, 50, 100, 200, 1000, 12345):
        ks = {0, 1, n // 2, n - 1, n} | {rng.randint(0, n) for _ in range(3)}
        cases.extend((k, n) for k in sorted(ks) if 0 <= k <= n)
    return cases


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(confidence: float) -> None:
    for k, n in _cases():
        ref = sps.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        low, high = wilson(k, n, confidence)
        assert low == pytest.approx(ref.low, abs=1e-9), (k, n)
        assert high == pytest.approx(ref.high, abs=1e-9), (k, n)


def test_wilson_edges_and_errors() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(0, 10)[0] == 0.0
    assert wilson(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="successes"):
        wilson(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        wilson(1, 10, confidence=1.0)
    e = estimate(9, 10)
    assert (e.rate, e.n, e.successes) == (0.9, 10, 9)
    assert (e.low, e.high) == wilson(9, 10)


@pytest.mark.parametrize("acceptance", [0.99, 0.95, 0.90])
def test_wilson_exact_coverage(acceptance: float) -> None:
    n = 200
    covered = [
        sps.binom.pmf(k, n, acceptance)
        for k in range(n + 1)
        if wilson(k, n)[0] <= acceptance <= wilson(k, n)[1]
    ]
    assert sum(covered) >= 0.94


@pytest.mark.parametrize("draws", [2_000, 20_000])
@pytest.mark.parametrize("acceptance", [0.99, 0.95, 0.90])
def test_wilson_simulated_coverage(acceptance: float, draws: int) -> None:
    """Error rates 1%, 5%, 10%: 2,000 draws as the issue asks, and 20,000, whose Monte Carlo
    error (sd ~0.0016) settles the 1% case too, where the exact coverage (about 0.948, see
    above) is close to 0.94. The seed is fixed, and was not chosen for the result."""
    n = 200
    rng = np.random.default_rng(12345)
    accepted = rng.binomial(n, acceptance, size=draws)
    intervals = {k: wilson(k, n) for k in set(accepted.tolist())}
    hits = sum(intervals[k][0] <= acceptance <= intervals[k][1] for k in accepted.tolist())
    assert hits / draws >= 0.94


# ---------------------------------------------------------------- stratified


def _wilson_formula(p: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_single_stratum_is_plain_wilson() -> None:
    for k, n in [(0, 7), (3, 7), (7, 7), (180, 200), (1, 3)]:
        e = stratified({"all": (k, n, 5000)})
        assert (e.low, e.high) == wilson(k, n)
        assert (e.rate, e.n, e.successes, e.n_effective) == (k / n, n, k, n)


def test_stratified_weighting_hand_computed() -> None:
    e = stratified({"a": (90, 100, 6000), "b": (40, 50, 4000)})
    # Weights 0.6 / 0.4: 0.6 * 0.9 + 0.4 * 0.8, not the pooled 130 / 150.
    assert e.rate == pytest.approx(0.86)
    variance = 0.6**2 * 0.9 * 0.1 / 100 + 0.4**2 * 0.8 * 0.2 / 50  # 0.000836
    n_eff = 0.86 * 0.14 / variance  # 144.02, below the cap 1 / (0.36/100 + 0.16/50) = 147.06
    assert e.n_effective == pytest.approx(n_eff)
    low, high = _wilson_formula(0.86, n_eff)
    assert e.low == pytest.approx(low, abs=1e-12)
    assert e.high == pytest.approx(high, abs=1e-12)
    assert (e.n, e.successes) == (150, 130)
    assert e.strata["a"].rate == 0.9
    assert (e.strata["b"].low, e.strata["b"].high) == wilson(40, 50)


def test_stratified_cap_when_variance_understated() -> None:
    # The heavy stratum's ten reviews were all accepted: its variance estimate is 0, which
    # must not be read as near-certainty about 90% of the population.
    e = stratified({"big": (10, 10, 9000), "small": (5, 10, 1000)})
    assert e.rate == pytest.approx(0.95)
    assert e.n_effective == pytest.approx(1 / (0.81 / 10 + 0.01 / 10))
    all_ok = stratified({"a": (50, 50, 100), "b": (30, 30, 300)})
    assert all_ok.rate == 1.0
    assert all_ok.high == 1.0
    assert all_ok.low < 1.0


def test_stratified_unreviewed_and_fpc() -> None:
    e = stratified({"a": (9, 10, 100), "b": (0, 0, 50)})
    assert e.unreviewed == ("b",)
    assert (e.rate, e.low, e.high) == (0.9, *wilson(9, 10))
    assert (e.strata["b"].n, e.strata["b"].low, e.strata["b"].high) == (0, 0.0, 1.0)
    nothing = stratified({"a": (0, 0, 10)})
    assert (nothing.low, nothing.high, nothing.unreviewed) == (0.0, 1.0, ("a",))

    census = stratified({"a": (9, 10, 10), "b": (4, 5, 5)}, fpc=True)
    assert census.low == census.high == census.rate == pytest.approx(13 / 15)
    plain = stratified({"a": (80, 100, 200), "b": (45, 50, 100)})
    corrected = stratified({"a": (80, 100, 200), "b": (45, 50, 100)}, fpc=True)
    assert corrected.high - corrected.low < plain.high - plain.low
    with pytest.raises(ValueError, match="population"):
        stratified({"a": (1, 5, 4)})


@pytest.mark.parametrize(
    ("rates", "sizes", "fpc"),
    [
        ((0.99, 0.95, 0.90), (6000, 3000, 1000), False),
        ((0.98, 0.92, 0.80), (6000, 3000, 1000), False),
        ((0.98, 0.92, 0.80), (500, 300, 200), True),  # half of every stratum reviewed
    ],
)
def test_stratified_simulated_coverage(
    rates: tuple[float, ...], sizes: tuple[int, ...], fpc: bool
) -> None:
    draws = 4000
    n = 200 if not fpc else 500
    alloc = allocate({f"s{h}": size for h, size in enumerate(sizes)}, n)
    good = [round(size * rate) for size, rate in zip(sizes, rates, strict=True)]
    truth = sum(good) / sum(sizes)
    rng = np.random.default_rng(777)
    samples = [
        rng.hypergeometric(g, size - g, alloc[f"s{h}"], size=draws).tolist()
        for h, (g, size) in enumerate(zip(good, sizes, strict=True))
    ]
    hits = 0
    for i in range(draws):
        strata = {f"s{h}": (samples[h][i], alloc[f"s{h}"], size) for h, size in enumerate(sizes)}
        e = stratified(strata, fpc=fpc)
        hits += e.low <= truth <= e.high
    assert hits / draws >= 0.94


# ---------------------------------------------------------------- kappa


def _kappa_reference(pairs: list[tuple[str, str]]) -> float:
    labels = sorted({x for pair in pairs for x in pair})
    index = {label: i for i, label in enumerate(labels)}
    table = np.zeros((len(labels), len(labels)))
    for a, b in pairs:
        table[index[a], index[b]] += 1
    table /= table.sum()
    observed = np.trace(table)
    chance = float(table.sum(axis=1) @ table.sum(axis=0))
    return float((observed - chance) / (1 - chance))


def test_cohen_kappa_hand_computed() -> None:
    # The textbook 2x2: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> po 0.7, pe 0.5, kappa 0.4.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    # Three labels: po = 37/50, pe = (15*15 + 15*15 + 20*20) / 50^2 = 0.34 -> 0.40 / 0.66.
    counts = {
        ("a", "a"): 10, ("a", "b"): 2, ("a", "c"): 3,
        ("b", "a"): 1, ("b", "b"): 12, ("b", "c"): 2,
        ("c", "a"): 4, ("c", "b"): 1, ("c", "c"): 15,
    }  # fmt: skip
    three = [pair for pair, c in counts.items() for _ in range(c)]
    assert cohen_kappa(iter(three)) == pytest.approx(20 / 33)


def test_cohen_kappa_edges_and_reference() -> None:
    assert cohen_kappa([]) is None
    assert cohen_kappa([("ok", "ok")] * 5) == 1.0
    assert cohen_kappa([(1, 1), (2, 2), (None, None)]) == pytest.approx(1.0)
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)
    rng = random.Random(3)
    for _ in range(50):
        labels = "abcde"[: rng.randint(2, 5)]
        pairs = [
            (a, a if rng.random() < 0.6 else rng.choice(labels))
            for a in (rng.choice(labels) for _ in range(rng.randint(5, 80)))
        ]
        if len({a for a, _ in pairs}) > 1:
            assert cohen_kappa(pairs) == pytest.approx(_kappa_reference(pairs))


# ---------------------------------------------------------------- sample size, rule of three


def test_sample_size() -> None:
    assert sample_size(0.05) == 385
    assert sample_size(0.02) == 2401
    assert sample_size(0.05, confidence=0.99) == 664
    small = sample_size(0.05, population=1000)
    assert small == 278
    assert sample_size(0.05, population=40) <= 40
    assert sample_size(0.05, expected_rate=0.1) < 385
    for margin in (0.01, 0.03, 0.05, 0.1):
        n = sample_size(margin)
        z = 1.959963984540054
        assert z * math.sqrt(0.25 / n) <= margin < z * math.sqrt(0.25 / (n - 1))


def test_rule_of_three() -> None:
    assert rule_of_three(100) == pytest.approx(0.0295, abs=1e-4)
    assert (1 - rule_of_three(100)) ** 100 == pytest.approx(0.05)
    assert rule_of_three(1000) * 1000 == pytest.approx(3.0, rel=0.01)
    assert rule_of_three(0) == 1.0
    for n in (1, 5, 30, 300):
        ref = sps.binomtest(0, n, alternative="less").proportion_ci(0.95, method="exact")
        assert rule_of_three(n) == pytest.approx(ref.high, rel=1e-9)
    for rate in (0.2, 0.05, 0.01, 0.001):
        n = reviews_for_rule_of_three(rate)
        assert rule_of_three(n) <= rate < rule_of_three(n - 1)
    assert reviews_for_rule_of_three(0.01) == 299


# ---------------------------------------------------------------- sampling design


def _items(sizes: dict[str, int]) -> list[tuple[str, str]]:
    return [(f"{name}-{i:05d}", name) for name, size in sizes.items() for i in range(size)]


def _id(item: tuple[str, str]) -> str:
    return item[0]


def _stratum(item: tuple[str, str]) -> str:
    return item[1]


def test_draw_simple_random() -> None:
    items = _items({"x": 500})
    first = draw(items, 20, seed=1, id_of=_id)
    assert first == draw(items, 20, seed=1, id_of=_id)
    assert first != draw(items, 20, seed=2, id_of=_id)
    assert len(set(first)) == 20
    assert set(first) <= set(items)
    shuffled = items[:]
    random.Random(9).shuffle(shuffled)
    assert draw(shuffled, 20, seed=1, id_of=_id) == first
    assert draw(items, 10_000, seed=1, id_of=_id) == sorted(items)
    assert draw(items, 0, seed=1, id_of=_id) == []
    with pytest.raises(ValueError, match="duplicate"):
        draw([*items, items[0]], 5, seed=1, id_of=_id)


def test_draw_simple_random_is_uniform() -> None:
    items = _items({"x": 20})
    counts = Counter(item for seed in range(2000) for item in draw(items, 5, seed, id_of=_id))
    assert all(400 <= counts[item] <= 600 for item in items)  # expected 500 each


def test_draw_stratified() -> None:
    items = _items({"a": 600, "b": 300, "c": 100})
    chosen = draw(items, 50, seed=4, key=_stratum, id_of=_id)
    assert Counter(map(_stratum, chosen)) == {"a": 30, "b": 15, "c": 5}
    assert len(set(chosen)) == 50
    shuffled = items[::-1]
    assert draw(shuffled, 50, seed=4, key=_stratum, id_of=_id) == chosen
    assert draw(items, 50, seed=5, key=_stratum, id_of=_id) != chosen

    rare = _items({"common": 990, "rare1": 5, "rare2": 5})
    picked = Counter(map(_stratum, draw(rare, 10, seed=0, key=_stratum, id_of=_id)))
    assert picked == {"common": 8, "rare1": 1, "rare2": 1}
    assert draw(rare, 5000, seed=0, key=_stratum, id_of=_id) == sorted(rare)


def test_allocate_properties() -> None:
    rng = random.Random(11)
    for _ in range(500):
        sizes = {f"s{h}": rng.choice([0, 1, 2, 5, 40, 300]) for h in range(rng.randint(1, 6))}
        total = sum(sizes.values())
        n = rng.randint(0, total + 5)
        alloc = allocate(sizes, n)
        assert sum(alloc.values()) == min(n, total)
        assert all(0 <= alloc[s] <= sizes[s] for s in sizes)
        nonempty = [s for s in sizes if sizes[s]]
        if n >= len(nonempty):
            assert all(alloc[s] >= 1 for s in nonempty)
        if total and all(alloc[s] >= 1 for s in nonempty) and n < total:
            quota = {s: n * sizes[s] / total for s in sizes}
            if all(q >= 1 for s, q in quota.items() if sizes[s]):
                assert all(abs(alloc[s] - quota[s]) < 1 for s in sizes)


def test_score_band() -> None:
    assert score_band(None) == "unscored"
    assert score_band(math.nan) == "unscored"
    assert [score_band(s) for s in (1.0, 1.99, 2.0, 3.5, 4.0, 4.99, 5.0)] == [
        "1-2",
        "1-2",
        "2-3",
        "3-4",
        "4-5",
        "4-5",
        "4-5",
    ]
    for bad in (0.5, 5.1):
        with pytest.raises(ValueError, match="1-5"):
            score_band(bad)
