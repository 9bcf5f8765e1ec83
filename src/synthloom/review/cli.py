"""``synthloom review``: draw (or keep) the sample, say what it can show, start the app."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from synthloom.errors import ReviewError
from synthloom.review.book import ReviewBook
from synthloom.review.results import summarize, text_lines
from synthloom.review.stats import reviews_for_rule_of_three, rule_of_three, sample_size
from synthloom.store.sqlite import STORE_FILE, RunStore


def _store(outdir: Path) -> RunStore:
    if not (outdir / STORE_FILE).is_file():
        raise ReviewError(f"{outdir}: not a synthloom run directory (no {STORE_FILE})")
    return RunStore.in_dir(outdir)


def prepare(
    outdir: Path,
    sample: int | None,
    stratify_by: list[str],
    margin: float,
    seed: int,
    resample: bool,
) -> list[str]:
    """Draw the sample; the lines say how much it can tell, so the reviewer knows whether the
    stakes need more reviews before starting."""
    with _store(outdir) as store:
        book = ReviewBook(store)
        design = book.draw(sample, stratify_by, seed, margin=margin, replace=resample)
        _, anyone, _ = book.progress("")
    needed = sample_size(margin, population=design.population)
    strata = f", stratified by {', '.join(design.stratify_by)}" if design.stratify_by else ""
    lines = [
        f"sample: {design.n} of {design.population} records{strata} (seed {design.seed}); "
        f"{anyone} reviewed so far",
        f"a +-{margin:.0%} interval at 95% needs about {needed} reviews",
        f"if none of the {design.n} is rejected, the error rate is below "
        f"{rule_of_three(design.n):.2%} at 95% (rule of three; "
        f"{reviews_for_rule_of_three(0.01)} clean reviews show < 1%)",
    ]
    if design.n < needed:
        lines.append(f"note: {design.n} reviews give a wider interval than +-{margin:.0%}")
    return lines


def print_summary(outdir: Path) -> list[str]:
    with _store(outdir) as store:
        book = ReviewBook(store)
        if book.design() is None:
            raise ReviewError(f"{outdir}: no review yet; start one with: synthloom review {outdir}")
        return text_lines(summarize(book))


def start(outdir: Path, port: int, announce: Callable[[str], None]) -> None:
    from synthloom.review.server import serve

    serve(outdir, port=port, announce=announce)
