"""``synthloom check`` on data made anywhere: a recipe with only a name and a quality section,
the input's own ids, and provenance that says where each row came from and claims no model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthloom import FakeBackend, check
from synthloom.errors import RecipeError
from synthloom.records import Origin
from tests.helpers import cli, read_jsonl, write_seeds

ROWS = [
    {"id": "q-17", "question": "Can I climb stairs?", "answer": "Yes, one step at a time."},
    {"id": "q-18", "question": "can I  CLIMB stairs?", "answer": "yes, one step at a time."},
    {"id": "q-20", "question": "Can I drive?", "answer": "Not for six weeks."},
]


def _data(tmp_path: Path, rows: list[dict[str, Any]] = ROWS) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n" + "".join(json.dumps(r) + "\n" for r in rows))  # rows on lines 2-4
    return path


def _recipe(tmp_path: Path, **keys: Any) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"name": "cleaning", **keys}, sort_keys=False))
    return path


@pytest.mark.parametrize("with_seeds", [True, False])
def test_check_runs_with_a_recipe_of_name_and_quality_only(
    tmp_path: Path, with_seeds: bool
) -> None:
    keys: dict[str, Any] = {"quality": {"dedup": {"exact": True}}}
    if with_seeds:
        write_seeds(tmp_path / "seeds.jsonl")
        keys = {"seeds": "seeds.jsonl", **keys}
    recipe = _recipe(tmp_path, **keys)
    data = _data(tmp_path)
    out = tmp_path / "out"
    result = cli("check", data, "--recipe", recipe, "-o", out, check=0)
    assert "2 kept" in result.stdout.replace("\n", " ") or "accepted" in result.stdout
    kept = read_jsonl(out / "dataset.jsonl")
    assert [r["id"] for r in kept] == ["q-17", "q-20"]
    (dropped,) = read_jsonl(out / "rejected.jsonl")
    assert dropped["id"] == "q-18"
    assert dropped["reason"] == "exact_duplicate"
    assert dropped["error"] == "same normalised text as q-17"
    prov = kept[1]["provenance"]
    assert prov["origin"] == Origin.IMPORTED
    assert prov["source"] == str(data)
    assert prov["line"] == 4
    # no model wrote this text: provenance claims none
    assert prov["backend"] == ""
    assert prov["model"] == ""
    assert prov["params"] == {}


def test_check_takes_ids_from_the_id_field(tmp_path: Path) -> None:
    rows = [
        {"key": f"k{i}", **{k: v for k, v in r.items() if k != "id"}} for i, r in enumerate(ROWS)
    ]
    recipe = _recipe(tmp_path, quality={"dedup": {"exact": True}})
    out = tmp_path / "out"
    check(_data(tmp_path, rows), recipe, out, id_field="key", backend=FakeBackend())
    kept = read_jsonl(out / "dataset.jsonl")
    assert [r["id"] for r in kept] == ["k0", "k2"]
    assert kept[0]["data"] == {
        "question": ROWS[0]["question"],
        "answer": ROWS[0]["answer"],
    }


def test_rows_without_an_id_are_named_by_their_line(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "id"} for r in ROWS]
    recipe = _recipe(tmp_path, quality={"dedup": {"exact": True}})
    out = tmp_path / "out"
    check(_data(tmp_path, rows), recipe, out, backend=FakeBackend())
    assert [r["id"] for r in read_jsonl(out / "dataset.jsonl")] == ["line-2", "line-4"]


def test_duplicate_and_missing_ids_name_the_file_and_line(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, quality={"dedup": {"exact": True}})
    twice = [ROWS[0], {**ROWS[2], "id": "q-17"}]
    with pytest.raises(RecipeError, match=r"data.jsonl:3: duplicate id 'q-17' \(first on line 2\)"):
        check(_data(tmp_path, twice), recipe, tmp_path / "a", backend=FakeBackend())
    with pytest.raises(RecipeError, match=r"data.jsonl:2: row has no id field 'key'"):
        check(_data(tmp_path), recipe, tmp_path / "b", id_field="key", backend=FakeBackend())


def test_run_still_needs_a_target_and_tasks(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, quality={"dedup": {"exact": True}})
    result = cli("run", recipe, "-o", tmp_path / "out", "--dry-run")
    assert result.returncode == 2
    assert "target" in result.stderr
    assert not (tmp_path / "out" / "dataset.jsonl").exists()
