"""Shared builders for tests: a small recipe on the fake backend, written to disk."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
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


Env = Mapping[str, str | None]


@dataclass(frozen=True)
class Result:
    """What one ``synthloom`` command did: its exit status and what it wrote where."""

    returncode: int
    stdout: str
    stderr: str


def cli(
    *args: str | Path,
    cwd: Path | None = None,
    check: int | None = None,
    env: Env | None = None,
) -> Result:
    """Run the ``synthloom`` command line in this process (typer's CliRunner on
    ``synthloom.cli.app``, stdout and stderr kept apart).

    ``env``: variables set on top of the current environment for the call (None unsets one).
    ``cwd``: the folder the command runs in. ``check``: the exit code the test expects; any other
    fails the test with the command's output. An exception the command line did not turn into an
    exit code propagates with its traceback instead of hiding behind exit code 1.
    """
    from typer.testing import CliRunner

    from synthloom.cli import app

    if isinstance(check, bool):
        raise TypeError("check is the expected exit code (0 for success), not a bool")
    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        outcome = CliRunner().invoke(
            app, [str(a) for a in args], env=env, prog_name="synthloom", catch_exceptions=False
        )
    result = Result(outcome.exit_code, outcome.stdout, outcome.stderr)
    if check is not None and result.returncode != check:
        raise AssertionError(
            f"synthloom {' '.join(map(str, args))}: exit {result.returncode}, expected {check}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def cli_process(
    *args: str | Path,
    cwd: Path | None = None,
    env: Env | None = None,
    capture: bool = False,
) -> subprocess.Popen[str]:
    """Start the ``synthloom`` command line as its own process, for what needs one: SIGKILL,
    Ctrl+C, a server that runs until stopped. ``env`` and ``cwd`` as for :func:`cli`;
    ``capture`` pipes stdout and stderr (text) for ``communicate``, else they are discarded."""
    environ = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    stream = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "synthloom.cli", *map(str, args)],
        cwd=cwd,
        env=environ,
        stdout=stream,
        stderr=stream,
        text=True,
    )


def records(outdir: Path, task: str | None = None) -> list[Record]:
    """The run's planned records (every status), in task and row order."""
    with RunStore.in_dir(outdir) as store:
        return list(store.planned_records(task=task))


def system_of(request: GenerationRequest) -> str:
    return request.messages[0]["content"] if request.messages else ""


def user_of(request: GenerationRequest) -> str:
    return request.messages[-1]["content"]
