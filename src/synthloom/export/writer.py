"""``synthloom export``: a run directory's training set (see :mod:`.trainingset`) in a chosen
format, as one file or, for ``hf``, a Hugging Face dataset folder with its card.

Settings come from the recipe the run stored (``mix``, ``splits``, ``random_seed``); an
argument given here overrides its key for this export only."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthloom.dataset import Dataset
from synthloom.errors import SynthloomError
from synthloom.export.composition import Composition
from synthloom.export.files import write_rows
from synthloom.export.formats import FORMATS, training_row
from synthloom.export.real import read_real
from synthloom.export.settings import HF, TRAIN, MixSettings, check_splits
from synthloom.export.trainingset import Request, TrainingSet


@dataclass(slots=True)
class Exported:
    format: str
    path: Path
    rows: int
    composition: Composition
    split: str | None = None  # the one split written, when one was chosen
    files: dict[str, str] = field(default_factory=dict)  # hf: split -> file in the folder


def export(
    outdir: str | Path,
    format: str,
    path: str | Path,
    *,
    tasks: list[str] | None = None,
    real: str | Path | None = None,
    real_fraction: float | None = None,
    upsample: bool | None = None,
    max_real_repeats: int | None = None,
    splits: dict[str, float] | None = None,
    split: str | None = None,
    rows: str | None = None,
) -> Exported:
    """Write the run's training set to ``path`` (a folder for ``hf``).

    ``tasks`` picks which tasks' records to write (default: all; for ``dpo``, every preference
    task). ``real``/``real_fraction``/``upsample``/``max_real_repeats`` mix real rows in (default:
    the recipe's ``mix:``; ``real_fraction=0`` for synthetic only). ``splits`` sets held-out
    shares (default: the recipe's); ``split`` writes one split only (file formats); ``rows`` is
    the row format inside an ``hf`` folder (default: chosen from the task kinds)."""
    if format not in (*FORMATS, HF):
        raise SynthloomError(
            f"unknown export format {format!r} (choose from: {', '.join(FORMATS)}, {HF})"
        )
    if format == HF and split is not None:
        raise SynthloomError(
            "an hf folder holds every split; picking one (split=, --only) is for file formats"
        )
    if format != HF and rows is not None:
        raise SynthloomError("--rows picks the row format inside an hf folder; use --format")
    with Dataset.open(outdir) as dataset:
        store = dataset.store
        recipe: dict[str, Any] = store.get_meta("recipe") or {}
        shapes: dict[str, dict[str, Any]] = store.get_meta("export") or {}
        row_format = _row_format(rows, shapes, tasks) if format == HF else format
        chosen = _chosen_tasks(shapes, row_format, tasks)
        mix = _mix(recipe, real, real_fraction, upsample, max_real_repeats)
        shares = _splits(recipe, splits)
        if split is not None and split not in (TRAIN, *shares):
            raise SynthloomError(f"no split {split!r} (splits: {', '.join([TRAIN, *shares])})")
        source = None
        if mix is not None and mix.real_fraction > 0:
            source = read_real(_real_path(mix, real, store.get_meta("recipe_dir")), _seeds(store))
        request = Request(
            format=row_format,
            tasks=chosen,
            shapes=shapes,
            mix=mix,
            real=source,
            splits=shares,
            seed=int(recipe.get("random_seed") or 0),
            recipe=str(recipe.get("name") or ""),
        )
        training = TrainingSet(dataset, request)
        target = Path(path)
        if format == HF:
            from synthloom.export.hf import write_folder

            files, count = write_folder(training, target, outdir=Path(outdir))
            return Exported(format, target, count, training.composition, files=files)
        count = write_rows(
            (
                training_row(row_format, record, training.role_of(record))
                for _, record in training.rows(split)
            ),
            target,
            parquet=row_format == "parquet",
        )
    return Exported(format, target, count, training.composition, split=split)


def export_declared(outdir: str | Path) -> list[Exported]:
    """Every export the run's recipe declares (``export:``), paths relative to ``outdir``."""
    with Dataset.open(outdir) as dataset:
        recipe: dict[str, Any] = dataset.store.get_meta("recipe") or {}
    written: list[Exported] = []
    for target in recipe.get("export") or []:
        path = Path(target["path"])
        written.append(
            export(
                outdir,
                target["format"],
                path if path.is_absolute() else Path(outdir) / path,
                tasks=target.get("tasks"),
                split=target.get("split"),
                rows=target.get("rows"),
            )
        )
    return written


def _mix(
    recipe: dict[str, Any],
    real: str | Path | None,
    real_fraction: float | None,
    upsample: bool | None,
    max_real_repeats: int | None,
) -> MixSettings | None:
    declared = recipe.get("mix")
    given = {
        key: value
        for key, value in {
            "real": str(real) if real is not None else None,
            "real_fraction": real_fraction,
            "upsample": upsample,
            "max_real_repeats": max_real_repeats,
        }.items()
        if value is not None
    }
    if declared is None and not given:
        return None
    try:
        return MixSettings.model_validate({**(declared or {}), **given})
    except ValueError as exc:
        raise SynthloomError(f"mixing: {_first_error(exc)}") from None


def _splits(recipe: dict[str, Any], splits: dict[str, float] | None) -> dict[str, float]:
    if splits is None:
        return dict(recipe.get("splits") or {})
    try:
        return check_splits(dict(splits))
    except ValueError as exc:
        raise SynthloomError(f"splits: {exc}") from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        err = errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"
    return str(exc)


def _real_path(mix: MixSettings, given: str | Path | None, recipe_dir: str | None) -> Path | None:
    """A ``--real`` path as given; the recipe's ``mix.real`` from the recipe's folder; or None
    for the seeds."""
    if given is not None:
        return Path(given)
    if mix.real is None:
        return None
    path = Path(mix.real)
    return path if path.is_absolute() or recipe_dir is None else Path(recipe_dir) / path


def _seeds(store: Any) -> dict[str, dict[str, Any]]:
    return dict(store.get_meta("seeds") or {})


def _row_format(
    rows: str | None, shapes: dict[str, dict[str, Any]], tasks: list[str] | None
) -> str:
    """An hf folder's rows: chat messages for generation data, a flat table for
    classification, preference pairs for preference data, unless ``rows`` says otherwise."""
    if rows is not None:
        if rows not in FORMATS:
            raise SynthloomError(f"unknown row format {rows!r} (choose from: {', '.join(FORMATS)})")
        return rows
    kinds = {shape.get("kind") for name, shape in shapes.items() if not tasks or name in tasks}
    if kinds == {"label"}:
        return "parquet"
    if kinds == {"preference"}:
        return "dpo"
    return "openai-chat"


def _chosen_tasks(
    info: dict[str, dict[str, Any]], format: str, tasks: list[str] | None
) -> list[str]:
    if tasks:
        unknown = sorted(set(tasks) - set(info))
        if unknown:
            raise SynthloomError(
                f"no task {unknown[0]!r} in this run (tasks: {', '.join(info) or 'none'})"
            )
        return [name for name in info if name in tasks]
    if format == "dpo":
        preference = [name for name, shape in info.items() if shape.get("kind") == "preference"]
        if not preference:
            listing = ", ".join(f"{name} ({shape.get('kind')})" for name, shape in info.items())
            raise SynthloomError(
                "the dpo format needs preference records, and this run has no preference task "
                f"(tasks: {listing or 'none'})"
            )
        return preference
    return list(info)
