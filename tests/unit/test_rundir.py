"""A run directory belongs to one recipe and one process: another recipe, or a second process,
is refused before anything already produced is touched."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import synthloom
from synthloom.errors import StoreError
from synthloom.store.sqlite import RunStore
from tests.helpers import cli, write_recipe


def _two_recipes(tmp_path: Path) -> tuple[Path, Path]:
    first = write_recipe(tmp_path)
    raw = yaml.safe_load(first.read_text())
    raw["name"] = "other-recipe"
    second = tmp_path / "other.yaml"
    second.write_text(yaml.safe_dump(raw, sort_keys=False))
    return first, second


def _snapshot(outdir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(outdir.iterdir()) if p.suffix == ".jsonl"}


def test_another_recipe_into_a_used_directory_is_refused(tmp_path: Path) -> None:
    first, second = _two_recipes(tmp_path)
    outdir = tmp_path / "out"
    synthloom.run(first, outdir, n=4, backend=synthloom.FakeBackend())
    before = _snapshot(outdir)
    result = cli("run", second, "-o", outdir, "--dry-run")
    assert result.returncode == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert str(outdir) in message
    assert "'unit'" in message
    assert "'other-recipe'" in message
    assert "--force" in message
    assert _snapshot(outdir) == before
    with RunStore.in_dir(outdir) as store:
        assert store.get_meta("recipe")["name"] == "unit"
    # the same recipe again is a resume, as before
    synthloom.run(first, outdir, n=4, backend=synthloom.FakeBackend())
    assert _snapshot(outdir) == before


def test_force_starts_the_directory_over_and_says_so(tmp_path: Path) -> None:
    first, second = _two_recipes(tmp_path)
    outdir = tmp_path / "out"
    synthloom.run(first, outdir, n=4, backend=synthloom.FakeBackend())
    result = cli("run", second, "-o", outdir, "--dry-run", "-n", "3", "--force", check=0)
    assert "removed the run of recipe 'unit'" in result.stderr
    with RunStore.in_dir(outdir) as store:
        assert store.get_meta("recipe")["name"] == "other-recipe"
        records = list(store.planned_records())
    assert len(records) == 3
    assert {r.provenance.recipe for r in records} == {"other-recipe"}


def test_a_second_process_into_the_same_directory_is_refused_with_the_holders_pid(
    tmp_path: Path,
) -> None:
    recipe = write_recipe(tmp_path)
    outdir = tmp_path / "out"
    synthloom.run(recipe, outdir, n=2, backend=synthloom.FakeBackend())
    before = _snapshot(outdir)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from synthloom.rundir import claim
                with claim({str(outdir)!r}, "unit"):
                    print("held", flush=True)
                    sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            StoreError, match=rf"in use by another synthloom process \(pid {holder.pid}\)"
        ):
            synthloom.run(recipe, outdir, n=4, backend=synthloom.FakeBackend())
        assert _snapshot(outdir) == before
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
        if holder.stdout is not None:
            holder.stdout.close()
    # once the holder is gone, the directory is free again (the lock dies with its process)
    summary = synthloom.run(recipe, outdir, n=4, backend=synthloom.FakeBackend())
    assert summary.accepted == 4
