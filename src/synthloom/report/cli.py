"""What ``synthloom report``, ``synthloom fitness`` and the end of ``synthloom run`` print:
where the files are and the findings that matter most, in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthloom.report.build import Written

TOP = 3  # findings a run's summary repeats; the page has them all


def report_lines(written: Written, *, top: int | None = None) -> list[str]:
    warnings = written.warnings
    lines = [f"report: {written.html_path}  metrics: {written.metrics_path}"]
    if not warnings:
        lines.append("no warnings: nothing in the metrics looks wrong")
        return lines
    shown = warnings if top is None else warnings[:top]
    lines.append(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}:")
    lines.extend(f"  - {w['message']}" for w in shown)
    if len(shown) < len(warnings):
        lines.append(f"  ... and {len(warnings) - len(shown)} more in the report")
    return lines


def fitness_lines(found: dict[str, Any], outdir: Path) -> list[str]:
    lines = [f"fitness: {outdir / 'fitness.json'}  (probe: {found['probe'].get('name', '')})"]
    for name, result in (found.get("sets") or {}).items():
        f1 = result.get("macro_f1") or {}
        if f1.get("value") is None:
            lines.append(f"  {name}: not scored ({result.get('skipped')})")
            continue
        lines.append(
            f"  {name}: macro-F1 {f1['value']:.3f} [{f1['low']:.3f}, {f1['high']:.3f}]"
            f" on {found['test']['records']} real test records"
        )
    diff = found.get("difference") or {}
    if diff.get("value") is not None:
        lines.append(
            f"  seeds+synthetic - seeds: {diff['value']:+.3f} [{diff['low']:+.3f}, "
            f"{diff['high']:+.3f}]"
        )
    lines.append(f"verdict: {found.get('verdict')}")
    return lines
