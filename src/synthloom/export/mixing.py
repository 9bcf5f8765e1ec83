"""How many real and synthetic rows a training set holds: the share asked for, exact to a row.

Pure arithmetic, kept apart from reading records so the documented behaviour (upsampling,
capping) is tested on its own for any size."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from synthloom.export.settings import MixSettings


@dataclass(frozen=True, slots=True)
class MixPlan:
    real_rows: int  # rows of real data in the set, repeats included
    synthetic_rows: int  # synthetic rows kept
    notes: list[str] = field(default_factory=list)


def plan_mix(synthetic: int, real: int, settings: MixSettings) -> MixPlan:
    """Real and synthetic counts whose real share is ``settings.real_fraction`` within a row.

    All synthetic rows are kept when enough real rows exist, repeating each real row up to
    ``max_real_repeats`` times if ``upsample`` allows; otherwise every available real row is
    used and the synthetic rows are capped to hold the share."""
    share = settings.real_fraction
    if share == 0 or synthetic == 0:
        return MixPlan(0, synthetic)
    if real == 0:
        return MixPlan(
            0, synthetic, [f"no real rows could join, so the set is synthetic only ({share:.0%})"]
        )
    wanted = round(share * synthetic / (1 - share))
    most = real * settings.max_real_repeats if settings.upsample else real
    notes: list[str] = []
    if wanted <= most:
        if wanted > real:
            notes.append(
                f"{real} real rows were upsampled to {wanted} (each at most "
                f"{-(-wanted // real)} times) to reach a real share of {share:.0%}"
            )
        return MixPlan(wanted, synthetic, notes)
    kept = min(synthetic, round(most * (1 - share) / share))
    how = (
        f"each repeated at most {settings.max_real_repeats} times (max_real_repeats)"
        if settings.upsample
        else "upsample is off"
    )
    notes.append(
        f"the synthetic rows were capped at {kept} of {synthetic} to hold a real share of "
        f"{share:.0%} with {real} real rows, {how}; allow more repeats, add real rows or "
        "lower real_fraction to keep more"
    )
    return MixPlan(most, kept, notes)


def repeat_counts(available: int, rows: int, seed: int) -> list[int]:
    """How often each real row appears so that ``rows`` are used in all: as evenly as possible,
    with the rows that get one more (or, below one each, the rows chosen) drawn from ``seed``."""
    base, extra = divmod(rows, available)
    lucky = set(random.Random(seed).sample(range(available), extra))
    return [base + (i in lucky) for i in range(available)]
