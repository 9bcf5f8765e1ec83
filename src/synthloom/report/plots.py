"""The report's plots as inline SVG, drawn with matplotlib's object API (``Figure``, never
pyplot: no global backend or figure registry, so drawing a report changes nothing for a
program that imported synthloom). Text stays text in the SVG (``svg.fonttype: none``):
smaller files, and nothing to fetch, since the browser draws it with a local font."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure

DATASET, REFERENCE = "#3b6fb6", "#d08a2c"
_STYLE: Any = {"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False}


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with rc_context(_STYLE):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and doctype: inline in HTML


def _figure(width: float = 6.0, height: float = 2.6) -> Figure:
    with rc_context(_STYLE):
        return Figure(figsize=(width, height))


def histograms(dataset: Sequence[float], reference: Sequence[float], label: str) -> str:
    """Two distributions on one axis, each normalised, so sets of different sizes compare."""
    with rc_context(_STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        both = [*dataset, *reference]
        bins = 30 if both else 1
        span = (min(both), max(both)) if both else (0, 1)
        for values, colour, name in (
            (dataset, DATASET, "dataset"),
            (reference, REFERENCE, "reference"),
        ):
            if values:
                ax.hist(
                    values,
                    bins=bins,
                    range=span,
                    density=True,
                    alpha=0.6,
                    color=colour,
                    label=f"{name} ({len(values)})",
                )
        ax.set_xlabel(label)
        ax.set_yticks([])
        ax.legend(frameon=False)
        return _svg(fig)


def bars(groups: Mapping[str, Mapping[str, float]], ylabel: str, *, limit: int = 20) -> str:
    """Side-by-side bars: one group per category, one bar per series (planned vs kept)."""
    with rc_context(_STYLE):
        series = list(groups)
        cats: list[str] = []
        for values in groups.values():
            for cat in values:
                if cat not in cats:
                    cats.append(cat)
        cats = cats[:limit]
        fig = _figure(6.0, 2.4 + 0.05 * len(cats))
        ax = fig.add_subplot()
        width = 0.8 / max(len(series), 1)
        colours = [DATASET, REFERENCE, "#6a9f58", "#a05195"]
        for i, name in enumerate(series):
            xs = [j + i * width for j in range(len(cats))]
            ax.bar(
                xs,
                [groups[name].get(c, 0.0) for c in cats],
                width,
                label=name,
                color=colours[i % len(colours)],
            )
        ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(cats))])
        ax.set_xticklabels(
            [c[:24] for c in cats],
            rotation=30 if len(cats) > 4 else 0,
            ha="right" if len(cats) > 4 else "center",
        )
        ax.set_ylabel(ylabel)
        if len(series) > 1:
            ax.legend(frameon=False)
        return _svg(fig)


def scatter(projection: Mapping[str, Sequence[Sequence[float]]]) -> str:
    """The embedding map: dataset and reference in one 2-D projection."""
    with rc_context(_STYLE):
        fig = _figure(5.0, 4.0)
        ax = fig.add_subplot()
        for key, colour in (("reference", REFERENCE), ("dataset", DATASET)):
            points = projection.get(key) or []
            if points:
                ax.scatter(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    s=6,
                    alpha=0.5,
                    color=colour,
                    label=f"{key} ({len(points)})",
                    linewidths=0,
                )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(frameon=False)
        return _svg(fig)


def intervals(rows: Sequence[tuple[str, float, float, float]], xlabel: str) -> str:
    """Point estimates with their intervals, one row each (fitness, rates per value)."""
    with rc_context(_STYLE):
        fig = _figure(6.0, 0.6 + 0.35 * len(rows))
        ax = fig.add_subplot()
        for i, (_, value, low, high) in enumerate(rows):
            ax.errorbar(
                [value],
                [i],
                xerr=[[value - low], [high - value]],
                fmt="o",
                color=DATASET,
                capsize=3,
            )
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([r[0] for r in rows])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        return _svg(fig)


def funnel(steps: Sequence[Sequence[Any]]) -> str:
    """What each gate step dropped, after the number generated."""
    with rc_context(_STYLE):
        fig = _figure(6.0, 0.6 + 0.3 * len(steps))
        ax = fig.add_subplot()
        names = [str(s[0]) for s in steps]
        ax.barh(names, [float(s[1]) for s in steps], color=DATASET)
        ax.invert_yaxis()
        ax.set_xlabel("records")
        return _svg(fig)
