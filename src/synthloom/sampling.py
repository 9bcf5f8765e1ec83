"""Variation axes: what each generated row varies along, drawn reproducibly per row."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import orjson
import yaml

from synthloom.errors import RecipeError

# Raised with a field path relative to ``axes``; the recipe turns it into file/line.
FieldError = Callable[[str, str], RecipeError]


class Axis(ABC):
    """One variation axis. ``sample`` sees the values already drawn for the row."""

    def __init__(self, name: str, depends_on: str | None = None) -> None:
        self.name = name
        self.depends_on = depends_on

    @abstractmethod
    def sample(self, rng: random.Random, drawn: Mapping[str, Any]) -> Any: ...


class Categorical(Axis):
    def __init__(self, name: str, values: list[Any], weights: list[float]) -> None:
        super().__init__(name)
        self.values = values
        self.weights = weights
        self._cum = list(itertools.accumulate(weights))

    def sample(self, rng: random.Random, drawn: Mapping[str, Any]) -> Any:
        return self.values[bisect.bisect_right(self._cum, rng.random() * self._cum[-1])]

    def probabilities(self) -> dict[Any, float]:
        total = self._cum[-1]
        return {v: w / total for v, w in zip(self.values, self.weights, strict=True)}


class Numeric(Axis):
    def __init__(self, name: str, low: float, high: float, decimals: int | None) -> None:
        super().__init__(name)
        self.low, self.high, self.decimals = low, high, decimals

    def sample(self, rng: random.Random, drawn: Mapping[str, Any]) -> Any:
        if self.decimals is None:
            return rng.randint(int(self.low), int(self.high))
        return round(rng.uniform(self.low, self.high), self.decimals)


class Conditional(Axis):
    """An axis whose distribution depends on the value another axis drew for the same row."""

    def __init__(
        self, name: str, parent: str, cases: dict[str, Axis], default: Axis | None
    ) -> None:
        super().__init__(name, depends_on=parent)
        self.cases = cases
        self.default = default

    def sample(self, rng: random.Random, drawn: Mapping[str, Any]) -> Any:
        parent_value = str(drawn[self.depends_on or ""])
        axis = self.cases.get(parent_value, self.default)
        return None if axis is None else axis.sample(rng, drawn)


def parse_axes(raw: Mapping[str, Any], base_dir: Path, error: FieldError) -> list[Axis]:
    """Build axes from the recipe's ``axes`` mapping, ordered so parents come before children."""
    axes = {
        name: _parse(str(name), spec, f"axes.{name}", base_dir, error) for name, spec in raw.items()
    }
    ordered: list[Axis] = []
    state: dict[str, str] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            raise error(f"axes.{name}.depends_on", f"cycle: {' -> '.join([*chain, name])}")
        state[name] = "active"
        parent = axes[name].depends_on
        if parent is not None:
            if parent not in axes:
                raise error(f"axes.{name}.depends_on", f"no axis named {parent!r}")
            visit(parent, [*chain, name])
        state[name] = "done"
        ordered.append(axes[name])

    for name in axes:
        visit(name, [])
    return ordered


def _parse(name: str, spec: Any, field: str, base_dir: Path, error: FieldError) -> Axis:
    if isinstance(spec, list):
        return _categorical(name, spec, None, field, error)
    if not isinstance(spec, dict):
        raise error(
            field, "an axis is a list of values or a mapping (values/file/min+max/depends_on)"
        )
    keys = set(spec)
    if "depends_on" in keys:
        _only(keys, {"depends_on", "cases", "default"}, field, error)
        cases_raw = spec.get("cases")
        if not isinstance(cases_raw, dict) or not cases_raw:
            raise error(f"{field}.cases", "a conditional axis needs cases: {parent value: values}")
        cases = {
            str(k): _parse(name, v, f"{field}.cases.{k}", base_dir, error)
            for k, v in cases_raw.items()
        }
        default = spec.get("default")
        fallback = _parse(name, default, f"{field}.default", base_dir, error) if default else None
        return Conditional(name, str(spec["depends_on"]), cases, fallback)
    if "min" in keys or "max" in keys:
        _only(keys, {"min", "max", "decimals"}, field, error)
        low, high = spec.get("min"), spec.get("max")
        if not (_is_number(low) and _is_number(high)):
            raise error(field, "a numeric axis needs numbers for both min and max")
        if low > high:
            raise error(f"{field}.min", f"min ({low}) is greater than max ({high})")
        decimals = spec.get("decimals")
        if decimals is not None and (
            not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 12
        ):
            raise error(f"{field}.decimals", f"an integer from 0 to 12 (got {decimals!r})")
        if decimals is None and not (isinstance(low, int) and isinstance(high, int)):
            decimals = 2
        return Numeric(name, low, high, decimals)
    if "file" in keys:
        _only(keys, {"file", "weights"}, field, error)
        values = _values_from_file(base_dir / str(spec["file"]), f"{field}.file", error)
        return _categorical(name, values, spec.get("weights"), field, error)
    if "values" in keys:
        _only(keys, {"values", "weights"}, field, error)
        values = spec["values"]
        if isinstance(values, dict):
            if "weights" in keys:
                raise error(f"{field}.weights", "give weights either in values: {v: w} or here")
            return _categorical(name, list(values), list(values.values()), field, error)
        return _categorical(name, values, spec.get("weights"), field, error)
    raise error(field, "an axis needs one of: values, file, min/max, depends_on")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _only(keys: set[str], allowed: set[str], field: str, error: FieldError) -> None:
    extra = sorted(keys - allowed)
    if extra:
        raise error(
            f"{field}.{extra[0]}", f"unknown key here (allowed: {', '.join(sorted(allowed))})"
        )


def _categorical(
    name: str, values: Any, weights: Any, field: str, error: FieldError
) -> Categorical:
    if not isinstance(values, list) or not values:
        raise error(
            f"{field}.values" if isinstance(values, list | None) else field,
            "needs at least one value",
        )
    if weights is None:
        weights = [1.0] * len(values)
    if not isinstance(weights, list) or len(weights) != len(values):
        raise error(f"{field}.weights", f"needs one weight per value ({len(values)})")
    for i, w in enumerate(weights):
        if not _is_number(w) or not math.isfinite(w) or w < 0:
            raise error(f"{field}.weights[{i}]", f"weights must be finite numbers >= 0 (got {w!r})")
    if sum(weights) <= 0:
        raise error(f"{field}.weights", "at least one weight must be positive")
    return Categorical(name, list(values), [float(w) for w in weights])


def _values_from_file(path: Path, field: str, error: FieldError) -> list[Any]:
    if not path.is_file():
        raise error(field, f"file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix in {".yaml", ".yml"}:
        values = yaml.safe_load(text)
    elif path.suffix == ".json":
        values = orjson.loads(text)
    elif path.suffix == ".jsonl":
        values = [orjson.loads(line) for line in text.splitlines() if line.strip()]
    else:
        values = [line.strip() for line in text.splitlines() if line.strip()]
    if not isinstance(values, list) or not values:
        raise error(field, f"{path} must hold a non-empty list of values")
    return values
