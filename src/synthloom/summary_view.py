"""The run summary as the CLI prints it (``run`` and ``check``), and the one line that says
when the bundled demo model wrote the data."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthloom.finalize import RunSummary


def demo_model_note(summary: RunSummary) -> str | None:
    """One honest line when the bundled demo model wrote the data."""
    if summary.backend != "embedded" or "SmolLM2-135M" not in summary.model:
        return None
    return (
        "SmolLM2-135M is a small offline demo model: expect junk and many drops. For real "
        "data set model: {backend: openai, base_url: ..., model: ...} to a capable model "
        "(README: OpenAI-compatible servers)."
    )


def print_summary(out: Console, summary: RunSummary, command: str = "run") -> None:
    table = Table(
        title=f"synthloom {command} → {summary.outdir}", show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row("planned rows", str(summary.planned))
    table.add_row("accepted", f"[green]{summary.accepted}[/]")
    rejected = sum(summary.rejected.values())
    table.add_row("rejected", str(rejected))
    for reason, count in summary.rejected.most_common():
        table.add_row(f"  {reason}", str(count))
    table.add_row("failed", f"[red]{sum(summary.failed.values())}[/]")
    for reason, count in summary.failed.most_common():
        table.add_row(f"  {reason}", str(count))
    if summary.calibration is not None:
        c = summary.calibration
        table.add_row(
            "judge calibration",
            f"accuracy {c['accuracy']}, Cohen's kappa {c['kappa']} on {c['items']} human verdicts",
        )
    labels = {
        "seed_jaccard": "3-gram Jaccard",
        "seed_substring": "longest shared run (chars)",
        "seed_cosine": "embedding cosine",
    }
    for name, d in summary.seed_similarity.items():
        table.add_row(
            "closest seed",
            f"{labels.get(name, name)}: p50 {d['p50']:g}, p90 {d['p90']:g}, "
            f"p99 {d['p99']:g}, max {d['max']:g} over {d['n']:g} records",
        )
    if summary.funnel:
        (_, generated), *steps = summary.funnel
        left, parts = generated, [f"{generated} generated"]
        for step, dropped in steps:
            left -= dropped
            parts.append(f"{step} -{dropped}")
        table.add_row("quality funnel", " → ".join(parts) + f" → {left} kept")
    table.add_row("model calls", f"{summary.model_calls} (+{summary.cache_hits} from cache)")
    for url, counts in summary.endpoints.items():
        taken_out = counts.get("taken_out", 0)
        table.add_row(
            f"  {escape(url)}",
            f"{counts.get('calls', 0)} calls, {counts.get('failed', 0)} failed"
            + (f", taken out {taken_out}x" if taken_out else ""),
        )
    table.add_row(
        "tokens", f"{summary.prompt_tokens:,} prompt / {summary.completion_tokens:,} completion"
    )
    if summary.cost is not None:
        table.add_row("cost", f"${summary.cost:,.4f}")
    table.add_row("wall time", f"{summary.wall_seconds:.1f}s")
    out.print(table)
    folder = summary.outdir
    out.print(f"dataset: {folder / 'dataset.jsonl'}  rejected: {folder / 'rejected.jsonl'}")
    note = demo_model_note(summary)
    if note:
        out.print(f"[yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)
