"""The Hugging Face dataset folder: one Parquet file per split under ``data/`` and a
``README.md`` dataset card whose ``configs`` name them, so ``datasets.load_dataset(DIR)`` and
the Hub read the splits without a loading script. ``push_to_hub`` uploads the folder as is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from synthloom.errors import MissingDependencyError, SynthloomError
from synthloom.export.card import CardInfo, dataset_card
from synthloom.export.files import write_rows
from synthloom.export.formats import training_row
from synthloom.export.settings import TRAIN
from synthloom.export.trainingset import TrainingSet
from synthloom.records import Origin, Record
from synthloom.report.source import review_summary
from synthloom.review.book import ReviewBook
from synthloom.rundir import METRICS_FILE

CARD = "README.md"
DATA = "data"


def write_folder(
    training: TrainingSet, folder: Path, *, outdir: Path
) -> tuple[dict[str, str], int]:
    """Write every non-empty split and the card; returns (split -> file, rows written)."""
    if folder.exists() and not folder.is_dir():
        raise SynthloomError(f"{folder}: the hf export writes a folder, and this is a file")
    store = training.dataset.store
    recipe: dict[str, Any] = store.get_meta("recipe") or {}
    if not recipe.get("license"):  # checked before any file is written
        raise SynthloomError(
            "the hf export needs the recipe's top-level license: key (an id such as cc-by-4.0 "
            "or apache-2.0) for the dataset card"
        )
    if not training.composition.rows:
        raise SynthloomError("nothing to export: the training set has no rows")
    data = folder / DATA
    data.mkdir(parents=True, exist_ok=True)
    for stale in data.glob("*.parquet"):  # a split an earlier export wrote and this one has not
        stale.unlink()
    seen = _Seen()
    files: dict[str, str] = {}
    total = 0
    schema: Any = None
    splits = training.composition.splits
    for name in [TRAIN, *(n for n in splits if n != TRAIN)]:
        if not sum(splits.get(name, {}).values()):
            continue
        path = data / f"{name}.parquet"
        rows = (
            training_row(training.request.format, record, training.role_of(record))
            for _, record in seen.watch(training.rows(name))
        )
        total += write_rows(rows, path, parquet=True, schema=schema)
        if schema is None:
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
        files[name] = f"{DATA}/{path.name}"
    ends = store.events("run_end")
    metrics_path = outdir / METRICS_FILE
    info = CardInfo(
        recipe=recipe,
        composition=training.composition,
        split_files=files,
        row_format=training.request.format,
        task_kinds={t: str(training.request.shapes[t].get("kind")) for t in training.request.tasks},
        template_hashes={t: sorted(h) for t, h in seen.templates.items()},
        models=sorted(seen.models),
        summary=ends[-1] if ends else None,
        review=review_summary(ReviewBook(store)),
        metrics=orjson.loads(metrics_path.read_bytes()) if metrics_path.is_file() else None,
        language=_language(recipe),
        synthloom_version=seen.version,
    )
    (folder / CARD).write_text(dataset_card(info), encoding="utf-8")
    return files, total


def push_to_hub(folder: Path, repo_id: str, *, private: bool = False) -> str:
    """Upload the folder to a dataset repository; returns its URL. The token is whatever
    ``huggingface_hub`` finds (``HF_TOKEN``, or a saved login): synthloom never reads it."""
    try:
        from huggingface_hub import HfApi
    except ImportError:
        raise MissingDependencyError("huggingface_hub", "--push-to-hub", "synthloom[hub]") from None
    if not (folder / CARD).is_file():
        raise SynthloomError(f"{folder}: no {CARD}; write it with --format hf first")
    api = HfApi()
    repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        repo_type="dataset",
        commit_message="synthloom export",
    )
    return str(repo)


class _Seen:
    """What the card says about how the rows were made, gathered while they are written."""

    def __init__(self) -> None:
        self.templates: dict[str, set[str]] = defaultdict(set)
        self.models: set[str] = set()
        self.version = ""

    def watch(self, rows: Iterator[tuple[str, Record]]) -> Iterator[tuple[str, Record]]:
        for split, record in rows:
            p = record.provenance
            if p.origin != Origin.REAL:
                if p.template_hash:
                    self.templates[record.task].add(p.template_hash)
                if p.model:
                    self.models.add(f"{p.backend}:{p.model}" if p.backend else p.model)
                self.version = self.version or p.synthloom_version
            yield split, record


def _language(recipe: dict[str, Any]) -> list[str] | None:
    wanted = ((recipe.get("quality") or {}).get("validators") or {}).get("language")
    if isinstance(wanted, str):
        return [wanted]
    if isinstance(wanted, list):
        return [str(w) for w in wanted]
    return None
