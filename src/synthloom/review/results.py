"""What the review says about the whole dataset: the acceptance rate per stratum and overall
(weighted by stratum size) with Wilson 95% intervals, how often two reviewers agree, how often
the judge agrees with people, and why records were rejected. The web app's summary page and
``synthloom review --summary`` print the same figures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from synthloom.review.book import ReviewBook
from synthloom.review.log import Outcome
from synthloom.review.stats import Estimate, cohen_kappa, rule_of_three, stratified

DEFAULT_JUDGE_PASS = 3.5  # the judge's default min_score, when the recipe named none


@dataclass(slots=True)
class Agreement:
    pairs: int
    accuracy: float | None
    kappa: float | None


@dataclass(slots=True)
class StratumRow:
    name: str
    population: int
    reviewed: int
    accepted: int
    rate: float | None
    low: float
    high: float


@dataclass(slots=True)
class ReviewSummary:
    sample: int
    population: int
    reviewed: int
    accepted: int
    overall: Estimate
    strata: list[StratumRow]
    reviewers: dict[str, int]  # name -> verdicts given
    reviewer_agreement: Agreement
    judge_agreement: Agreement
    reasons: list[tuple[str, int]]
    edited: int
    upper_error_if_clean: float | None  # rule of three: no rejection in ``reviewed``
    stratify_by: list[str] = field(default_factory=list)


def summarize(book: ReviewBook, confidence: float = 0.95) -> ReviewSummary:
    design = book.design()
    outcomes = [o for o in book.outcomes() if o.stratum]  # this sample only
    sizes = dict(design.strata) if design is not None else {}
    counts: dict[str, list[int]] = {name: [0, 0] for name in sizes}
    reasons: Counter[str] = Counter()
    reviewers: Counter[str] = Counter()
    for outcome in outcomes:
        tally = counts.setdefault(outcome.stratum, [0, 0])
        if outcome.reviewed:
            tally[1] += 1
            tally[0] += outcome.accepted
        for who, (verdict, why) in outcome.verdicts.items():
            reviewers[who] += 1
            if verdict == "reject":
                reasons[why or "unspecified"] += 1
    overall = stratified(
        {name: (a, n, max(sizes.get(name, n), n)) for name, (a, n) in counts.items()},
        confidence,
    )
    rows = [
        StratumRow(
            name,
            sizes.get(name, 0),
            n,
            a,
            a / n if n else None,
            overall.strata[name].low,
            overall.strata[name].high,
        )
        for name, (a, n) in sorted(counts.items())
    ]
    reviewed = sum(n for _, n in counts.values())
    accepted = sum(a for a, _ in counts.values())
    clean = reviewed > 0 and accepted == reviewed
    return ReviewSummary(
        sample=book.size(),
        population=design.population if design is not None else 0,
        reviewed=reviewed,
        accepted=accepted,
        overall=overall,
        strata=rows,
        reviewers=dict(reviewers.most_common()),
        reviewer_agreement=_between_reviewers(outcomes),
        judge_agreement=_with_judge(book, outcomes),
        reasons=reasons.most_common(),
        edited=sum(o.edit is not None for o in outcomes),
        upper_error_if_clean=rule_of_three(reviewed, confidence) if clean else None,
        stratify_by=design.stratify_by if design is not None else [],
    )


def _between_reviewers(outcomes: list[Outcome]) -> Agreement:
    """Kappa over records with two or more verdicts: the first two reviewers by name."""
    pairs = []
    for outcome in outcomes:
        if len(outcome.verdicts) >= 2:
            first, second = sorted(outcome.verdicts)[:2]
            pairs.append((outcome.verdicts[first][0], outcome.verdicts[second][0]))
    return _agreement_of(pairs)


def _with_judge(book: ReviewBook, outcomes: list[Outcome]) -> Agreement:
    """The judge's pass/fail (mean score against the recipe's ``min_score``) against the
    people's verdict, on reviewed records the judge scored."""
    recipe = book.store.get_meta("recipe") or {}
    judge = (recipe.get("quality") or {}).get("judge") or {}
    threshold = judge.get("min_score") or DEFAULT_JUDGE_PASS
    pairs = []
    for outcome in outcomes:
        if not outcome.reviewed:
            continue
        record = book.store.record(outcome.record_id)
        mean = record.scores.get("judge_mean") if record is not None else None
        if mean is not None:
            judged = "accept" if float(mean) >= threshold else "reject"
            pairs.append((judged, "accept" if outcome.accepted else "reject"))
    return _agreement_of(pairs)


def _agreement_of(pairs: list[tuple[str, str]]) -> Agreement:
    if not pairs:
        return Agreement(0, None, None)
    accuracy = sum(a == b for a, b in pairs) / len(pairs)
    return Agreement(len(pairs), accuracy, cohen_kappa(pairs))


def text_lines(summary: ReviewSummary) -> list[str]:
    """The summary as plain lines, for the terminal."""
    pct = "{:.1%}".format
    lines = [
        f"reviewed {summary.reviewed} of {summary.sample} sampled "
        f"({summary.population} records in the dataset)",
    ]
    if summary.reviewed:
        o = summary.overall
        weighted = " (weighted by stratum size)" if len(summary.strata) > 1 else ""
        lines.append(
            f"acceptance {pct(o.rate)}{weighted}, 95% interval {pct(o.low)} - {pct(o.high)}"
        )
    else:
        lines.append("acceptance: no verdicts yet")
    if summary.reviewed and summary.overall.unreviewed:
        missing = ", ".join(summary.overall.unreviewed)
        lines.append(f"not covered (no review yet): {missing}")
    if summary.upper_error_if_clean is not None:
        lines.append(
            f"no rejection in {summary.reviewed}: the error rate is below "
            f"{pct(summary.upper_error_if_clean)} at 95% (rule of three)"
        )
    if len(summary.strata) > 1:
        for s in summary.strata:
            rate = pct(s.rate) if s.rate is not None else "-"
            lines.append(
                f"  {s.name}: {s.accepted}/{s.reviewed} accepted ({rate}, "
                f"{pct(s.low)} - {pct(s.high)}) of {s.population} records"
            )
    ra, ja = summary.reviewer_agreement, summary.judge_agreement
    lines.append(_agreement_line("reviewer agreement", ra, "records with two reviews"))
    lines.append(_agreement_line("judge vs reviewers", ja, "judged records"))
    if summary.reasons:
        shown = ", ".join(f"{why} ({n})" for why, n in summary.reasons[:5])
        lines.append(f"rejection reasons: {shown}")
    if summary.edited:
        lines.append(f"edited: {summary.edited} (exported as edited)")
    if summary.reviewers:
        lines.append("reviewers: " + ", ".join(f"{w} ({n})" for w, n in summary.reviewers.items()))
    return lines


def _agreement_line(label: str, a: Agreement, what: str) -> str:
    if not a.pairs:
        return f"{label}: no {what} yet"
    kappa = f"{a.kappa:.2f}" if a.kappa is not None else "undefined"
    acc = f"{a.accuracy:.0%}" if a.accuracy is not None else "-"
    return f"{label}: {acc} agree, Cohen's kappa {kappa} over {a.pairs} {what}"
