"""The mix arithmetic and the split dealing, on their own: the documented behaviour for any
size, not only the sizes a run happens to produce."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from synthloom.export.mixing import plan_mix, repeat_counts
from synthloom.export.settings import MixSettings
from synthloom.export.splits import Families

SIZES = [1, 7, 50, 333, 1000, 4999]
REAL = [1, 3, 10, 100, 5000]
SHARES = [0.05, 0.2, 0.5, 0.9]


@pytest.mark.parametrize("upsample", [True, False])
def test_the_real_share_holds_within_one_row_for_every_size(upsample: bool) -> None:
    for synthetic, real, share in itertools.product(SIZES, REAL, SHARES):
        settings = MixSettings(real_fraction=share, upsample=upsample, max_real_repeats=4)
        plan = plan_mix(synthetic, real, settings)
        total = plan.real_rows + plan.synthetic_rows
        assert abs(plan.real_rows - share * total) <= 1, (synthetic, real, share, plan)
        assert plan.synthetic_rows <= synthetic
        assert plan.real_rows <= (real * 4 if upsample else real)


def test_enough_real_rows_keep_every_synthetic_row() -> None:
    plan = plan_mix(800, 500, MixSettings(real_fraction=0.2))
    assert (plan.real_rows, plan.synthetic_rows, plan.notes) == (200, 800, [])


def test_upsampling_repeats_real_rows_up_to_the_limit_and_says_so() -> None:
    plan = plan_mix(800, 50, MixSettings(real_fraction=0.2, max_real_repeats=5))
    assert (plan.real_rows, plan.synthetic_rows) == (200, 800)
    assert "upsampled to 200" in plan.notes[0]
    assert "each at most 4 times" in plan.notes[0]


def test_past_the_repeat_limit_the_synthetic_rows_are_capped() -> None:
    plan = plan_mix(5000, 50, MixSettings(real_fraction=0.2, max_real_repeats=5))
    assert plan.real_rows == 250  # every real row five times
    assert plan.synthetic_rows == 1000  # 250 is 20% of 1,250
    assert "capped at 1000 of 5000" in plan.notes[0]
    assert "max_real_repeats" in plan.notes[0]


def test_without_upsampling_each_real_row_is_used_once_and_synthetic_is_capped() -> None:
    plan = plan_mix(5000, 50, MixSettings(real_fraction=0.2, upsample=False))
    assert (plan.real_rows, plan.synthetic_rows) == (50, 200)
    assert "upsample is off" in plan.notes[0]


def test_share_zero_or_no_real_rows_leaves_the_synthetic_rows_alone() -> None:
    assert plan_mix(100, 10, MixSettings(real_fraction=0)).real_rows == 0
    none = plan_mix(100, 0, MixSettings(real_fraction=0.3))
    assert (none.real_rows, none.synthetic_rows) == (0, 100)
    assert "synthetic only" in none.notes[0]


def test_repeat_counts_are_even_and_reproducible() -> None:
    counts = repeat_counts(50, 173, seed=7)
    assert sum(counts) == 173
    assert set(counts) == {3, 4}
    assert counts == repeat_counts(50, 173, seed=7)
    assert counts != repeat_counts(50, 173, seed=8)
    few = repeat_counts(50, 20, seed=1)  # fewer rows than real rows: 20 distinct ones
    assert sorted(Counter(few).items()) == [(0, 30), (1, 20)]


def test_families_stay_whole_and_each_stratum_gets_its_share() -> None:
    families = Families()
    for label, count in (("billing", 40), ("login", 40), ("refund", 20)):
        for i in range(count):
            families.add((label, i), label, rows=5)  # 5 rows per family
    chosen = families.assign({"validation": 0.1, "test": 0.2}, seed=3)
    by = Counter((family[0], split) for family, split in chosen.items())
    for label, count in (("billing", 40), ("login", 40), ("refund", 20)):
        assert by[(label, "validation")] == round(0.1 * count)
        assert by[(label, "test")] == round(0.2 * count)
    assert chosen == families.assign({"validation": 0.1, "test": 0.2}, seed=3)
    assert chosen != families.assign({"validation": 0.1, "test": 0.2}, seed=4)


def test_a_family_spanning_strata_is_dealt_where_most_of_it_is() -> None:
    families = Families()
    families.add("seed-1", "billing", rows=3)
    families.add("seed-1", "login", rows=1)
    assert families.stratum("seed-1") == "billing"


def test_no_held_out_split_means_everything_trains() -> None:
    families = Families()
    families.add("a", "x")
    assert families.assign({}, seed=0) == {}
    assert families.assign({"test": 0.0}, seed=0) == {}


def test_settings_refuse_impossible_values() -> None:
    from pydantic import ValidationError

    from synthloom.export.settings import ExportTarget, check_splits

    with pytest.raises(ValidationError, match="real_fraction"):
        MixSettings(real_fraction=1.0)
    with pytest.raises(ValueError, match="'train' takes every row"):
        check_splits({"train": 0.9})
    with pytest.raises(ValueError, match=r"add up to 1\.2"):
        check_splits({"validation": 0.6, "test": 0.6})
    with pytest.raises(ValueError, match="must be a letter"):
        check_splits({"val idation": 0.1})
    with pytest.raises(ValidationError, match="unknown export format 'csv'"):
        ExportTarget(format="csv", path="x.csv")
    with pytest.raises(ValidationError, match="holds every split"):
        ExportTarget(format="hf", path="hf/", split="train")
