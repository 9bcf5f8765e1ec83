"""How far to trust an acceptance rate measured on a reviewed sample.

Reviewers see a sample, not the run, so every rate shown carries an interval. Wilson's score
interval is used throughout because the rates of interest sit near 0 or 1 (a good run rejects
few records), where the textbook Wald interval collapses to zero width and under-covers.
Wilson too dips below nominal coverage when the sample expects fewer than about one
rejection; for the all-clean case :func:`rule_of_three` gives the exact one-sided bound.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from statistics import NormalDist


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")


def _z(confidence: float) -> float:
    """Two-sided normal quantile; the stdlib's inverse CDF is accurate to double precision."""
    _check_confidence(confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _wilson_at(rate: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's interval for an observed ``rate`` over a possibly fractional ``n``.

    ``n`` may be an effective sample size (see :func:`stratified`), hence a float.
    """
    z2 = z * z
    denom = n + z2
    center = (n * rate + z2 / 2.0) / denom
    half = z * math.sqrt(n * rate * (1.0 - rate) + z2 / 4.0) / denom
    # At rate 0 (or 1) the bound is 0 (or 1) in exact arithmetic; clamp the rounding.
    low = 0.0 if rate <= 0.0 else max(0.0, center - half)
    high = 1.0 if rate >= 1.0 else min(1.0, center + half)
    return low, high


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` out of ``n``.

    With nothing reviewed nothing is known, so the interval is the whole of [0, 1].
    """
    z = _z(confidence)
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return 0.0, 1.0
    return _wilson_at(successes / n, n, z)


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rate with its interval and the counts behind it.

    ``rate`` is 0.0 when ``n`` is 0; the interval (0, 1) is what says "unknown" then.
    For a stratified estimate, ``n_effective`` is the sample size the interval was built on,
    ``strata`` holds each stratum's own estimate and ``unreviewed`` the strata that had no
    reviews, whose records the overall rate therefore does not speak for.
    """

    rate: float
    low: float
    high: float
    n: int
    successes: int
    n_effective: float = 0.0
    strata: Mapping[str, Estimate] = field(default_factory=dict)
    unreviewed: tuple[str, ...] = ()


def estimate(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """A plain (unstratified) estimate with its Wilson interval."""
    low, high = wilson(successes, n, confidence)
    rate = successes / n if n else 0.0
    return Estimate(rate, low, high, n, successes, n_effective=float(n))


def stratified(
    strata: Mapping[str, tuple[int, int, int]],
    confidence: float = 0.95,
    *,
    fpc: bool = False,
) -> Estimate:
    """Acceptance rate over strata given as ``name -> (accepted, reviewed, population_size)``.

    The rate is the population-weighted mean of the stratum rates, so a stratum reviewed more
    heavily than its share does not pull the figure towards itself.

    The interval is Wilson's, built on the effective sample size
    ``n_eff = p (1 - p) / Var(p_st)`` with ``Var(p_st) = sum W_h^2 p_h (1 - p_h) / n_h``
    (times ``1 - n_h / N_h`` when ``fpc``): the stratified sample is treated as a simple random
    sample as informative as it is. This is the approach of Korn & Graubard (1998, "Confidence
    intervals for proportions with small expected number of positive counts estimated from
    survey data", Survey Methodology) and of Kott & Liu (2009, "One-sided coverage intervals
    for a proportion estimated from a stratified simple random sample", International
    Statistical Review); Franco, Little, Louis & Slud (2019, Journal of Survey Statistics and
    Methodology) compare the alternatives and recommend the Wilson form. It keeps Wilson's good
    behaviour near 0 and 1, which a Wald interval on ``Var(p_st)`` loses.

    ``n_eff`` is capped at ``1 / sum W_h^2 (1 - f_h) / n_h``, the effective size the design
    would have if every stratum had the same rate (Kish's weighting effect). Why: the variance
    estimate is noisy with small strata, and a stratum whose sample happens to be all accepted
    contributes zero variance, which would otherwise inflate ``n_eff`` and narrow the interval
    exactly when it should not (Korn & Graubard likewise keep the effective size from
    exceeding the actual one). The same value is the fallback when ``Var(p_st)`` is 0 (every
    reviewed stratum at 0 or 1), where the ratio is undefined. Under proportional allocation
    without ``fpc`` the cap is simply the number reviewed, and a single stratum gives exactly
    the plain Wilson interval. The price is conservatism under deliberately disproportionate
    (Neyman-style) allocation, whose precision gain the cap does not credit.

    ``fpc`` is off by default: review samples are usually a small fraction of a stratum, where
    the correction changes little, and leaving it off errs towards a wider interval. Turn it
    on when whole strata (or most of them) are reviewed; a fully reviewed stratum then adds no
    uncertainty.

    Strata with no reviews are left out and the weights renormalised over the rest; they are
    listed in ``unreviewed`` so the caller can say the rate does not cover them.
    """
    z = _z(confidence)
    per: dict[str, Estimate] = {}
    reviewed: dict[str, tuple[int, int, int]] = {}
    for name, (accepted, n_h, size) in strata.items():
        if n_h < 0 or not 0 <= accepted <= n_h:
            raise ValueError(f"stratum {name!r}: need 0 <= accepted <= reviewed")
        if n_h > size:
            raise ValueError(f"stratum {name!r}: {n_h} reviewed out of a population of {size}")
        per[name] = estimate(accepted, n_h, confidence)
        if n_h > 0:
            reviewed[name] = (accepted, n_h, size)
    unreviewed = tuple(name for name in strata if name not in reviewed)
    n = sum(n_h for _, n_h, _ in reviewed.values())
    successes = sum(a for a, _, _ in reviewed.values())
    if not reviewed:
        return Estimate(0.0, 0.0, 1.0, 0, 0, 0.0, per, unreviewed)

    total = sum(size for _, _, size in reviewed.values())
    rate = 0.0
    variance = 0.0
    homogeneous = 0.0  # sum W_h^2 (1 - f_h) / n_h
    for accepted, n_h, size in reviewed.values():
        w = size / total
        p_h = accepted / n_h
        shrink = (1.0 - n_h / size) if fpc else 1.0
        rate += w * p_h
        variance += w * w * p_h * (1.0 - p_h) * shrink / n_h
        homogeneous += w * w * shrink / n_h
    rate = min(1.0, max(0.0, rate))
    if homogeneous == 0.0:  # every stratum fully reviewed with fpc: the rate is exact
        return Estimate(rate, rate, rate, n, successes, math.inf, per, unreviewed)
    cap = 1.0 / homogeneous
    if math.isclose(cap, n, rel_tol=1e-12):
        cap = float(n)  # proportional allocation: snap rounding so one stratum is plain Wilson
    # n_eff falls below the cap only when Var(p_st) exceeds p (1 - p) / cap beyond rounding.
    limit = rate * (1.0 - rate) / cap
    n_eff = rate * (1.0 - rate) / variance if variance > limit * (1.0 + 1e-12) else cap
    low, high = _wilson_at(rate, n_eff, z)
    return Estimate(rate, low, high, n, successes, n_eff, per, unreviewed)


def cohen_kappa(pairs: Iterable[tuple[Hashable, Hashable]]) -> float | None:
    """Cohen's kappa between two reviewers, any number of categories.

    None when there are no pairs (nothing to agree on). When chance agreement is 1 both
    reviewers used one and the same label throughout: they agree fully, so 1.0 rather than
    the 0/0 of the formula.
    """
    first: Counter[Hashable] = Counter()
    second: Counter[Hashable] = Counter()
    agree = total = 0
    for a, b in pairs:
        first[a] += 1
        second[b] += 1
        agree += a == b
        total += 1
    if total == 0:
        return None
    observed = agree / total
    chance = sum(count * second[label] for label, count in first.items()) / (total * total)
    if chance >= 1.0:
        return 1.0
    return (observed - chance) / (1.0 - chance)


def sample_size(
    margin: float,
    confidence: float = 0.95,
    expected_rate: float = 0.5,
    population: int | None = None,
) -> int:
    """Reviews needed for a ``±margin`` interval (normal approximation, Cochran).

    ``expected_rate`` 0.5 is the worst case, the safe choice before anything is known. With a
    ``population`` the finite-population correction ``n0 / (1 + (n0 - 1) / N)`` applies, and
    the answer never exceeds the population.
    """
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must lie strictly between 0 and 1, got {margin}")
    if not 0.0 <= expected_rate <= 1.0:
        raise ValueError(f"expected_rate must lie in [0, 1], got {expected_rate}")
    z = _z(confidence)
    n = z * z * expected_rate * (1.0 - expected_rate) / (margin * margin)
    if population is not None:
        if population < 0:
            raise ValueError(f"population must be >= 0, got {population}")
        if population == 0:
            return 0
        n = n / (1.0 + (n - 1.0) / population)
    # The tolerance stops float noise (384.00000000001) from costing a whole extra review.
    needed = max(1, math.ceil(n - 1e-9))
    return needed if population is None else min(needed, population)


def rule_of_three(n: int, confidence: float = 0.95) -> float:
    """Upper bound on the error rate after ``n`` reviews found no error.

    Exact (Clopper-Pearson, one-sided): the rate ``r`` with ``(1 - r)^n = 1 - confidence``,
    i.e. ``1 - (1 - confidence)^(1/n)``. At 95 % this is close to the folk ``3 / n`` (since
    ``-ln 0.05 ≈ 3``), hence the name; the exact form stays right for small ``n`` and other
    confidence levels. With no reviews the bound is 1.
    """
    _check_confidence(confidence)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n == 0:
        return 1.0
    return -math.expm1(math.log(1.0 - confidence) / n)


def reviews_for_rule_of_three(max_error_rate: float, confidence: float = 0.95) -> int:
    """Fewest error-free reviews that bound the error rate at ``max_error_rate`` or below.

    Why: it answers "how many must we read, all clean, to claim under 1 % bad?" before the
    review starts.
    """
    if not 0.0 < max_error_rate < 1.0:
        raise ValueError(f"max_error_rate must lie strictly between 0 and 1, got {max_error_rate}")
    _check_confidence(confidence)
    n = max(1, math.ceil(math.log(1.0 - confidence) / math.log1p(-max_error_rate)))
    # The closed form can land one off through rounding; settle on the exact smallest n.
    while n > 1 and rule_of_three(n - 1, confidence) <= max_error_rate:
        n -= 1
    while rule_of_three(n, confidence) > max_error_rate:
        n += 1
    return n
