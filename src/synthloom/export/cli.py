"""What ``synthloom export`` (and the exports at the end of ``run``) print, and its option
parsing: kept apart from the typer shell so the wording is tested as text."""

from __future__ import annotations

from synthloom.errors import SynthloomError
from synthloom.export.composition import REAL, SYNTHETIC
from synthloom.export.writer import Exported


def parse_splits(values: list[str] | None) -> dict[str, float] | None:
    """``--split validation=0.05`` (repeatable) as ``{"validation": 0.05}``."""
    if not values:
        return None
    found: dict[str, float] = {}
    for value in values:
        name, sep, share = value.partition("=")
        try:
            found[name.strip()] = float(share)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise SynthloomError(f"--split {value!r}: write NAME=SHARE, e.g. validation=0.05")
    return found


def exported_lines(done: Exported, *, detail: bool = True) -> list[str]:
    """The rows written, then (with ``detail``) the whole set's splits, mix and notes."""
    comp = done.composition
    where = f"{done.path}" + (f" ({done.split} split)" if done.split else "")
    lines = [f"wrote {done.rows:,} rows ({done.format}) to {where}"]
    if not detail:
        return lines
    if len(comp.splits) > 1 or comp.real_source is not None:
        for name, by in comp.splits.items():
            lines.append(
                f"  {name}: {by.get(REAL, 0) + by.get(SYNTHETIC, 0):,} rows "
                f"({by.get(REAL, 0):,} real, {by.get(SYNTHETIC, 0):,} synthetic)"
            )
    if comp.real_source is not None:
        rows = "row" if comp.real_distinct == 1 else "rows"
        lines.append(
            f"  real share {comp.real_share:.1%} (asked {comp.real_fraction:.0%}), "
            f"{comp.real_distinct:,} distinct real {rows} from {comp.real_source}"
        )
        for reason, count in comp.real_left_out.items():
            lines.append(f"  {count:,} real rows left out: {reason}")
    if comp.synthetic_duplicates:
        lines.append(
            f"  {comp.synthetic_duplicates:,} synthetic rows dropped: a real row has the same "
            "prompt (the real row is kept)"
        )
    lines.extend(f"  note: {note}" for note in comp.notes)
    return lines
