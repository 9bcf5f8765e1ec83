"""The ``synthloom`` command line: a thin shell over the Python API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from synthloom.check import check as check_data
from synthloom.errors import RecipeError, ReviewError, SynthloomError
from synthloom.estimate import estimate as estimate_run
from synthloom.export.formats import FORMATS
from synthloom.export.writer import export as export_run
from synthloom.hooks import OnRecord, OnStart
from synthloom.records import Record, Status
from synthloom.run import run as run_recipe
from synthloom.summary_view import demo_model_note, print_summary

app = typer.Typer(
    help="Turn a few dozen real examples into a provenance-tagged synthetic dataset.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)
out = Console()


def _error(message: str) -> None:
    # soft_wrap: one error is one line, even in a narrow or non-TTY stderr
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def _errors() -> Iterator[None]:
    """One clear line per failure; exit 2 for bad input, 1 for anything else we expected."""
    try:
        yield
    except (RecipeError, ReviewError) as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    except SynthloomError as exc:
        _error(str(exc))
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print(
            "[yellow]interrupted[/]: everything finished so far is stored; run again to resume"
        )
        raise typer.Exit(130) from None


def _progress() -> tuple[Progress, OnStart, OnRecord]:
    """A bar per task, started only when the first task starts: a recipe that fails
    validation prints its error, not an empty bar."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[bad]} dropped/failed[/]"),
        console=err,
        transient=False,
    )
    bars: dict[str, TaskID] = {}
    counts: dict[str, list[int]] = {}

    def on_start(task: str, todo: int, resumed: int) -> None:
        # only now: a recipe that fails validation prints its error, not an empty bar
        if resumed:
            err.print(f"{escape(task)}: resuming, {resumed} rows already done")
        bars[task] = progress.add_task(task, total=todo, ok=0, bad=0, rate="")
        counts[task] = [0, 0]
        if not progress.live.is_started:
            progress.start()

    def on_record(record: Record) -> None:
        tally = counts[record.task]
        tally[0 if record.status is Status.ACCEPTED else 1] += 1
        bar = bars[record.task]
        task = next(t for t in progress.tasks if t.id == bar)
        speed = task.finished_speed or task.speed
        rate = f"{speed:.1f} rows/s" if speed else ""
        progress.update(bar, advance=1, rate=rate, ok=tally[0], bad=tally[1])

    return progress, on_start, on_record


_FORCE_HELP = "If OUTDIR holds another recipe's run, delete it and start over."


def _say_reset(message: str) -> None:
    err.print(f"[yellow]--force[/]: {escape(message)}", soft_wrap=True)


@app.command()
def init(
    seeds: Annotated[Path, typer.Argument(help="Your examples: JSONL, CSV or Parquet.")],
    outdir: Annotated[
        Path, typer.Option("-o", "--out", help="Folder for recipe.yaml (made if missing).")
    ] = Path("."),
) -> None:
    """Draft a runnable recipe from your own examples (never overwrites one)."""
    from synthloom.scaffold import init as draft_recipe
    from synthloom.scaffold import init_lines

    with _errors():
        done = draft_recipe(seeds, outdir)
    for line in init_lines(done, seeds):
        out.print(escape(line), highlight=False, soft_wrap=True)


@app.command()
def preview(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    n: Annotated[int, typer.Option("-n", help="Rows to try.", min=1, max=100)] = 5,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Use the fake backend: no model calls.")
    ] = False,
) -> None:
    """Try a few rows through the whole pipeline in a throw-away directory; show each beside
    its seed with the gate's verdict, and estimate the full run."""
    from synthloom.preview import preview as try_rows
    from synthloom.preview import preview_lines

    progress, on_start, on_record = _progress()
    with _errors():
        try:
            found = try_rows(recipe, n=n, dry_run=dry_run, on_start=on_start, on_record=on_record)
        finally:
            if progress.live.is_started:
                progress.stop()
    for line in preview_lines(found):
        out.print(escape(line), highlight=False, soft_wrap=True)
    note = demo_model_note(found.summary)
    if note:
        err.print(f"[yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)


class Executor(StrEnum):
    local = "local"
    ray = "ray"


@app.command()
def run(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    outdir: Annotated[Path, typer.Option("-o", "--out", help="Run directory (resumable).")],
    n: Annotated[
        int | None, typer.Option("-n", help="Rows to generate (overrides target).", min=1)
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Use the fake backend: no model calls.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
    report: Annotated[
        bool, typer.Option("--report/--no-report", help="Write metrics.json and report.html.")
    ] = True,
    executor: Annotated[
        Executor | None,
        typer.Option(
            "--executor",
            help="Where rows run (overrides the recipe's executor.kind): local, or ray "
            "(shards on a Ray cluster; pip install 'synthloom\\[ray]').",
        ),
    ] = None,
) -> None:
    """Generate a dataset into OUTDIR; running it again resumes where it stopped."""
    progress, on_start, on_record = _progress()
    with _errors():
        try:
            summary = run_recipe(
                recipe,
                outdir,
                n=n,
                dry_run=dry_run,
                on_start=on_start,
                on_record=on_record,
                force=force,
                on_reset=_say_reset,
                executor=executor.value if executor is not None else None,
            )
        finally:
            if progress.live.is_started:
                progress.stop()
    print_summary(out, summary)
    if report and summary.accepted:
        from synthloom.report.build import write_report
        from synthloom.report.cli import TOP, report_lines

        with _errors():
            written = write_report(outdir)
        for line in report_lines(written, top=TOP):
            out.print(escape(line), highlight=False, soft_wrap=True)
    if summary.accepted:
        from synthloom.export.cli import exported_lines
        from synthloom.export.writer import export_declared

        with _errors():
            files = export_declared(outdir)
        for i, done in enumerate(files):  # the set's splits and mix once, after the last file
            for line in exported_lines(done, detail=i == len(files) - 1):
                out.print(escape(line), highlight=False, soft_wrap=True)
    if summary.stopped:
        err.print(
            f"[yellow]stopped early[/] by the {escape(summary.stopped)}. Everything produced "
            "so far is kept; raise the budget and run again to continue.",
            soft_wrap=True,
        )
        raise typer.Exit(3)


@app.command()
def check(
    data: Annotated[Path, typer.Argument(help="Records to check: JSONL, CSV or Parquet.")],
    recipe: Annotated[Path, typer.Option("--recipe", "-r", help="Recipe with a quality: section.")],
    outdir: Annotated[Path, typer.Option("-o", "--out", help="Run directory (resumable).")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="A text field the checks read (repeatable)."),
    ] = None,
    id_field: Annotated[
        str | None,
        typer.Option("--id-field", help="The field holding each row's id (default: id)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Fake backend for the judge: no model calls.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help=_FORCE_HELP)] = False,
) -> None:
    """Run a recipe's quality gate on records made anywhere; same outputs and funnel as run.

    The recipe needs only a name and a quality: section (seeds optional)."""
    progress, on_start, on_record = _progress()
    with _errors():
        try:
            summary = check_data(
                data,
                recipe,
                outdir,
                fields=field,
                id_field=id_field,
                dry_run=dry_run,
                on_start=on_start,
                on_record=on_record,
                force=force,
                on_reset=_say_reset,
            )
        finally:
            if progress.live.is_started:
                progress.stop()
    print_summary(out, summary, "check")


@app.command()
def estimate(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    n: Annotated[int | None, typer.Option("-n", help="Rows (overrides target).", min=1)] = None,
) -> None:
    """Calls, tokens and cost a run would need, without calling a model."""
    with _errors():
        est = estimate_run(recipe, n=n)
    table = Table(show_header=True, title="synthloom estimate", title_justify="left")
    table.add_column("")
    table.add_column("expected", justify="right")
    table.add_column("worst case", justify="right")
    table.add_row("rows", f"{est.rows:,}", f"{est.rows:,}")
    table.add_row("model calls", f"{est.calls:,}", f"{est.worst_case_calls:,}")
    table.add_row("prompt tokens", f"{est.prompt_tokens:,}", "")
    table.add_row("completion tokens", f"{est.completion_tokens:,}", "")
    table.add_row(
        "total tokens",
        f"{est.prompt_tokens + est.completion_tokens:,}",
        f"{est.worst_case_tokens:,}",
    )
    if est.cost is not None and est.worst_case_cost is not None:
        table.add_row("cost (USD)", f"${est.cost:,.4f}", f"${est.worst_case_cost:,.4f}")
    else:
        table.add_row("cost (USD)", "set model.prices to see cost", "")
    out.print(table)


@app.command()
def export(
    outdir: Annotated[Path, typer.Argument(help="A run directory.")],
    format: Annotated[
        str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}, hf.")
    ],
    path: Annotated[Path, typer.Option("-o", "--out", help="File to write (hf: a folder).")],
    task: Annotated[
        list[str] | None,
        typer.Option("--task", "-t", help="Only this task's records (repeatable)."),
    ] = None,
    real: Annotated[
        Path | None, typer.Option("--real", help="Real rows to mix in (default: the seeds).")
    ] = None,
    real_fraction: Annotated[
        float | None,
        typer.Option("--real-fraction", min=0, max=0.999, help="Share of real rows (0: none)."),
    ] = None,
    upsample: Annotated[
        bool | None,
        typer.Option(
            "--upsample/--no-upsample", help="Repeat real rows when few (else cap synthetic)."
        ),
    ] = None,
    max_real_repeats: Annotated[
        int | None, typer.Option("--max-real-repeats", min=1, help="Most copies of a real row.")
    ] = None,
    split: Annotated[
        list[str] | None,
        typer.Option("--split", help="A held-out split, NAME=SHARE (repeatable)."),
    ] = None,
    only: Annotated[
        str | None, typer.Option("--only", help="Write only this split (file formats).")
    ] = None,
    rows: Annotated[
        str | None, typer.Option("--rows", help="hf: the row format in the Parquet files.")
    ] = None,
    push_to_hub: Annotated[
        str | None,
        typer.Option("--push-to-hub", help="hf: upload to this dataset repo (token: HF_TOKEN)."),
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="hf: a private repo.")] = False,
) -> None:
    """Write a run's training set (accepted records, real rows mixed in, split) in a
    fine-tuning format, or as a Hugging Face dataset folder with a dataset card."""
    from synthloom.export.cli import exported_lines, parse_splits

    with _errors():
        if push_to_hub is not None and format != "hf":
            raise SynthloomError("--push-to-hub uploads an hf folder: use --format hf")
        done = export_run(
            outdir,
            format,
            path,
            tasks=task,
            real=real,
            real_fraction=real_fraction,
            upsample=upsample,
            max_real_repeats=max_real_repeats,
            splits=parse_splits(split),
            split=only,
            rows=rows,
        )
        for line in exported_lines(done):
            out.print(escape(line), highlight=False, soft_wrap=True)
        if push_to_hub is not None:
            from synthloom.export.hf import push_to_hub as push

            url = push(path, push_to_hub, private=private)
            out.print(f"pushed to {escape(url)}", highlight=False, soft_wrap=True)


@app.command()
def review(
    outdir: Annotated[Path, typer.Argument(help="A run directory.")],
    sample: Annotated[
        int | None,
        typer.Option(
            "--sample", "-n", min=1, help="Records to review (default: what --margin needs)."
        ),
    ] = None,
    stratify_by: Annotated[
        list[str] | None,
        typer.Option(
            "--stratify-by", "-s", help="task, judge (score band) or an axis (repeatable)."
        ),
    ] = None,
    margin: Annotated[
        float,
        typer.Option(
            "--margin", min=0.001, max=0.5, help="Wanted +- of the 95% interval (0.02 = 2 points)."
        ),
    ] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample draw.")] = 0,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0 = any free")] = 8765,
    resample: Annotated[
        bool, typer.Option("--resample", help="Draw a new sample (reviews are kept).")
    ] = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print the review results and exit.")
    ] = False,
) -> None:
    """Review a sample of a run's records in a local web app (127.0.0.1, token-protected)."""
    from synthloom.review.cli import prepare, print_summary, start

    with _errors():
        if summary:
            for line in print_summary(outdir):
                out.print(line, highlight=False, soft_wrap=True)
            return
        for line in prepare(outdir, sample, stratify_by or [], margin, seed, resample):
            out.print(line, highlight=False, soft_wrap=True)
        start(outdir, port, lambda url: out.print(f"review at [bold]{url}[/]", soft_wrap=True))
    out.print(
        f"review stopped: {escape(str(outdir / 'dataset.jsonl'))} now holds the reviewed "
        "dataset (rejections out, edits in), as every export does",
        soft_wrap=True,
    )


@app.command()
def report(
    outdir: Annotated[Path, typer.Argument(help="A run directory.")],
    real: Annotated[
        Path | None,
        typer.Option("--real", help="Real data to compare with (default: the seeds)."),
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("-o", "--out", help="Where to write the HTML page.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 4 when there is any warning.")
    ] = False,
) -> None:
    """Measure a run's dataset (diversity, realism, collapse, axes, bias) into metrics.json
    and report.html."""
    from synthloom.report.build import write_report
    from synthloom.report.cli import report_lines

    with _errors():
        written = write_report(outdir, real=real, html_path=html_path)
    for line in report_lines(written):
        out.print(escape(line), highlight=False, soft_wrap=True)
    if strict and written.warnings:
        raise typer.Exit(4)


@app.command()
def fitness(
    outdir: Annotated[Path, typer.Argument(help="A run directory of labelled records.")],
    real: Annotated[Path, typer.Option("--real", help="Real labelled test data.")],
    text_field: Annotated[str | None, typer.Option("--text-field")] = None,
    label_field: Annotated[str | None, typer.Option("--label-field")] = None,
    real_train: Annotated[
        Path | None, typer.Option("--real-train", help="Real training data, for comparison.")
    ] = None,
) -> None:
    """Train a probe on the seeds, the synthetic records and both; test each on real data."""
    from synthloom.report.build import write_fitness
    from synthloom.report.cli import fitness_lines

    with _errors():
        found = write_fitness(
            outdir, real, text_field=text_field, label_field=label_field, real_train=real_train
        )
    for line in fitness_lines(found, outdir):
        out.print(escape(line), highlight=False, soft_wrap=True)


def main() -> None:
    app(prog_name="synthloom")


if __name__ == "__main__":  # pragma: no cover
    main()
