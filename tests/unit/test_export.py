"""Export formats, each exactly as its ecosystem reads it."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthloom import FakeBackend, SynthloomError, export, run
from tests.helpers import cli, read_jsonl, write_recipe


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    def responder(request: object) -> str:
        return '{"question": "Can I shower?", "answer": "After 48 hours, keep it dry."}'

    run(
        write_recipe(tmp_path, model={"max_reasks": 0}),
        tmp_path / "out",
        n=4,
        backend=FakeBackend(responder),
    )
    return tmp_path / "out"


def test_openai_chat(outdir: Path, tmp_path: Path) -> None:
    assert export(outdir, "openai-chat", tmp_path / "chat.jsonl").rows == 4
    rows = read_jsonl(tmp_path / "chat.jsonl")
    assert rows[0] == {
        "messages": [
            {"role": "user", "content": "Can I shower?"},
            {"role": "assistant", "content": "After 48 hours, keep it dry."},
        ],
        "origin": "synthetic",
        "record_id": "qa-000000",
    }


def test_sharegpt(outdir: Path, tmp_path: Path) -> None:
    export(outdir, "sharegpt", tmp_path / "sg.jsonl")
    assert read_jsonl(tmp_path / "sg.jsonl")[0] == {
        "conversations": [
            {"from": "human", "value": "Can I shower?"},
            {"from": "gpt", "value": "After 48 hours, keep it dry."},
        ],
        "origin": "synthetic",
        "record_id": "qa-000000",
    }


def test_alpaca(outdir: Path, tmp_path: Path) -> None:
    export(outdir, "alpaca", tmp_path / "a.jsonl")
    assert read_jsonl(tmp_path / "a.jsonl")[0] == {
        "instruction": "Can I shower?",
        "input": "",
        "output": "After 48 hours, keep it dry.",
        "origin": "synthetic",
        "record_id": "qa-000000",
    }


def test_jsonl_keeps_provenance(outdir: Path, tmp_path: Path) -> None:
    export(outdir, "jsonl", tmp_path / "r.jsonl")
    rows = read_jsonl(tmp_path / "r.jsonl")
    assert [r.pop("origin") for r in rows] == ["synthetic"] * 4
    assert [r.pop("record_id") for r in rows] == [r["id"] for r in rows]
    assert rows == read_jsonl(outdir / "dataset.jsonl")
    assert rows[0]["provenance"]["seed_ids"]


def test_parquet_has_one_column_per_field(outdir: Path, tmp_path: Path) -> None:
    export(outdir, "parquet", tmp_path / "d.parquet")
    table = pq.read_table(tmp_path / "d.parquet")
    assert table.column_names == [
        "id",
        "task",
        "question",
        "answer",
        "provenance",
        "origin",
        "record_id",
    ]
    assert table.num_rows == 4
    assert table.column("question").to_pylist()[0] == "Can I shower?"


def test_failed_records_are_not_exported(tmp_path: Path) -> None:
    def responder(request: object) -> str:
        text = str(request)
        return "no json" if "caregiver" in text else '{"question": "q?", "answer": "a."}'

    out = tmp_path / "out"
    summary = run(
        write_recipe(tmp_path, model={"max_reasks": 0}), out, n=12, backend=FakeBackend(responder)
    )
    assert 0 < summary.accepted < 12
    assert export(out, "openai-chat", tmp_path / "c.jsonl").rows == summary.accepted


def test_ambiguous_fields_need_explicit_roles(tmp_path: Path) -> None:
    recipe = write_recipe(tmp_path)
    import yaml

    raw = yaml.safe_load(recipe.read_text())
    raw["tasks"][0]["schema"] = {"alpha": "string", "beta": "string", "gamma": "string"}
    recipe.write_text(yaml.safe_dump(raw))
    run(recipe, tmp_path / "out", n=2, backend=FakeBackend())
    with pytest.raises(SynthloomError, match="prompt_field"):
        export(tmp_path / "out", "alpaca", tmp_path / "x.jsonl")
    raw["tasks"][0]["prompt_field"] = "beta"
    raw["tasks"][0]["response_field"] = "gamma"
    recipe.write_text(yaml.safe_dump(raw))
    run(recipe, tmp_path / "out", n=2, backend=FakeBackend())
    export(tmp_path / "out", "alpaca", tmp_path / "x.jsonl")
    row = read_jsonl(tmp_path / "x.jsonl")[0]
    assert row["instruction"].startswith("beta ")
    assert row["output"].startswith("gamma ")


def test_cli_export_errors_are_one_line(tmp_path: Path) -> None:
    result = cli(
        "export",
        str(tmp_path),
        "--format",
        "alpaca",
        "-o",
        str(tmp_path / "x.jsonl"),
    )
    assert result.returncode == 1
    assert "not a synthloom run directory" in result.stderr
    assert result.stderr.count("\n") == 1
    result = cli(
        "export",
        str(tmp_path),
        "--format",
        "csv",
        "-o",
        str(tmp_path / "x.jsonl"),
    )
    assert "unknown export format" in result.stderr
