"""Shared builders for tests: a small recipe on the fake backend, written to disk."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

from synthloom.backends.base import GenerationRequest
from synthloom.records import Record
from synthloom.store.sqlite import RunStore


def write_seeds(path: Path, count: int = 12) -> Path:
    with path.open("w") as fh:
        for i in range(count):
            fh.write(
                json.dumps(
                    {
                        "id": f"s{i:03d}",
                        "topic": ["wound care", "pain", "diet"][i % 3],
                        "question": f"Question number {i} about recovery?",
                        "answer": f"Answer number {i}: rest, hydrate and call your team if worse.",
                    }
                )
                + "\n"
            )
    return path


def write_recipe(folder: Path, *, model: dict[str, Any] | None = None, **overrides: Any) -> Path:
    """A valid fake-backend recipe in ``folder``; keyword arguments replace top-level keys."""
    write_seeds(folder / "seeds.jsonl")
    recipe: dict[str, Any] = {
        "name": "unit",
        "seeds": "seeds.jsonl",
        "target": 30,
        "random_seed": 3,
        "model": {"backend": "fake", **(model or {})},
        "axes": {
            "persona": {"values": ["patient", "caregiver"], "weights": [3, 1]},
            "style": ["terse", "detailed"],
        },
        "tasks": [
            {
                "kind": "expand",
                "name": "qa",
                "template": textwrap.dedent(
                    """\
                    {% for ex in examples %}Q: {{ ex.question }}
                    A: {{ ex.answer }}
                    {% endfor %}Write a {{ style }} question from a {{ persona }}
                    about {{ seed.topic }}.
                    """
                ),
                "few_shot": 2,
                "schema": {"question": "string", "answer": "string"},
            }
        ],
    }
    recipe.update(overrides)
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


CLI = [sys.executable, "-m", "synthloom.cli"]


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Run the ``synthloom`` command line in a fresh process, capturing its output."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


def records(outdir: Path, task: str | None = None) -> list[Record]:
    """The run's planned records (every status), in task and row order."""
    with RunStore.in_dir(outdir) as store:
        return list(store.planned_records(task=task))


def system_of(request: GenerationRequest) -> str:
    return request.messages[0]["content"] if request.messages else ""


def user_of(request: GenerationRequest) -> str:
    return request.messages[-1]["content"]
