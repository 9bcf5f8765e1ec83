"""The flagship recipe on the real embedded SmolLM2 model, offline, through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import jsonschema
import yaml

from synthloom.backends.embedded import DEFAULT_GGUF
from synthloom.pipeline import prepare
from synthloom.recipe import load_recipe
from synthloom.store.sqlite import RunStore
from synthloom.tasks.expand import ExpandTask
from tests.helpers import Result, cli, read_jsonl

FLAGSHIP = Path(__file__).parents[2] / "examples" / "post-surgical-care" / "recipe.yaml"
PROVENANCE_KEYS = {
    "recipe",
    "task",
    "row",
    "seed_ids",
    "axes",
    "template_hash",
    "backend",
    "model",
    "params",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cached_calls",
    "started_at",
    "finished_at",
    "synthloom_version",
    "parent",
    "origin",
    "source",
    "line",
}


# offline: no hub, every proxied request to a dead port, no API key
OFFLINE: dict[str, str | None] = {
    "HF_HUB_OFFLINE": "1",
    "NO_PROXY": "*",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "OPENAI_API_KEY": None,
}


def _synthloom(*args: str) -> Result:
    return cli(*args, env=OFFLINE)


def _without_heuristics(tmp_path: Path) -> Path:
    """The flagship less its junk heuristics: they drop most of what SmolLM2-135M writes (see
    tests/data/smollm2_junk.jsonl), and this test needs ten kept rows to inspect."""
    folder = tmp_path / "recipe"
    shutil.copytree(FLAGSHIP.parent, folder)
    recipe = yaml.safe_load((folder / "recipe.yaml").read_text())
    del recipe["quality"]["heuristics"]
    (folder / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    return folder / "recipe.yaml"


def test_flagship_makes_ten_schema_valid_records_with_full_provenance(tmp_path: Path) -> None:
    out = tmp_path / "out"
    flagship = _without_heuristics(tmp_path)
    result = _synthloom("run", str(flagship), "-o", str(out), "-n", "10")
    assert result.returncode == 0, result.stderr

    recipe = load_recipe(FLAGSHIP)
    task = prepare(recipe, backend="embedded", model_id=DEFAULT_GGUF).tasks[0]
    assert isinstance(task, ExpandTask)
    validator = jsonschema.Draft202012Validator(task.schema.json_schema)
    rows = read_jsonl(out / "dataset.jsonl")
    assert len(rows) == 10, (out / "rejected.jsonl").read_text()
    seed_ids = {
        line.split('"id": "')[1].split('"')[0]
        for line in (FLAGSHIP.parent / "seeds.jsonl").read_text().splitlines()
    }
    for row in rows:
        validator.validate(row["data"])
        prov = row["provenance"]
        assert set(prov) == PROVENANCE_KEYS
        assert prov["origin"] == "generated"
        assert prov["backend"] == "embedded"
        assert prov["model"] == DEFAULT_GGUF
        assert set(prov["seed_ids"]) <= seed_ids
        assert len(prov["seed_ids"]) == 2
        assert set(prov["axes"]) == set(recipe.axes)
        assert prov["prompt_tokens"] > 100
        assert prov["completion_tokens"] > 5
        assert prov["attempts"] >= 1
        assert prov["params"]["max_tokens"] == 400
    assert len({r["data"]["question"] for r in rows}) == 10  # distinct samples per row
    assert "accepted" in result.stdout
    assert "wall time" in result.stdout

    # Re-running into the same directory loads no model and makes no call.
    again = _synthloom("run", str(flagship), "-o", str(out), "-n", "10")
    assert again.returncode == 0, again.stderr
    assert read_jsonl(out / "dataset.jsonl") == rows
    with RunStore.in_dir(out) as store:
        assert len(store.events("model_call")) == sum(r["provenance"]["attempts"] for r in rows)

    # and the dataset exports for fine-tuning
    chat = _synthloom(
        "export", str(out), "--format", "openai-chat", "-o", str(tmp_path / "c.jsonl")
    )
    assert chat.returncode == 0, chat.stderr
    exported = read_jsonl(tmp_path / "c.jsonl")
    # the flagship mixes in its seeds (5%), real rows first; every record is there once
    synthetic = [r for r in exported if r["origin"] == "synthetic"]
    assert [r["record_id"] for r in synthetic] == [r["id"] for r in rows]
    first = synthetic[0]["messages"]
    assert [m["role"] for m in first] == ["user", "assistant"]
    assert first[0]["content"] == rows[0]["data"]["question"]
    assert "real share" in chat.stdout
