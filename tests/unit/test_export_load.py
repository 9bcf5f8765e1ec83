"""Every export format as its consumer reads it: ``datasets.load_dataset`` loads each file
format and the hf folder (splits, counts, real rows), and the openai-chat rows pass OpenAI's
published fine-tuning format rules.

Nothing here may reach the network: the Hub is set offline, ``datasets`` gets a cache of its
own under the test's tmp dir, and a socket that tries to connect fails the test."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthloom import export, run
from tests.conftest import Loader
from tests.helpers import read_jsonl

EXAMPLES = Path(__file__).parents[2] / "examples"


def with_license(recipe: Path, folder: Path) -> Path:
    """A copy of an example recipe with ``license:`` added, its seed path made absolute so the
    copy can live anywhere."""
    raw = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    raw["license"] = "cc-by-4.0"
    raw["seeds"] = str((recipe.parent / raw["seeds"]).resolve())
    path = folder / f"{recipe.parent.name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def by_id(outdir: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in read_jsonl(outdir / "dataset.jsonl")}


def seed_pairs(folder: Path) -> set[tuple[str, str]]:
    return {(s["question"], s["answer"]) for s in read_jsonl(folder / "seeds.jsonl")}


# -- file formats -------------------------------------------------------------------------------
# format -> (loader builder, the columns, the row's (prompt, response) as loaded)
FILE_FORMATS: dict[str, tuple[str, list[str], Callable[[dict[str, Any]], tuple[str, str]]]] = {
    "openai-chat": (
        "json",
        ["messages", "origin", "record_id"],
        lambda r: (r["messages"][0]["content"], r["messages"][1]["content"]),
    ),
    "sharegpt": (
        "json",
        ["conversations", "origin", "record_id"],
        lambda r: (r["conversations"][0]["value"], r["conversations"][1]["value"]),
    ),
    "alpaca": (
        "json",
        ["instruction", "input", "output", "origin", "record_id"],
        lambda r: (r["instruction"], r["output"]),
    ),
    "jsonl": (
        "json",
        ["id", "task", "data", "provenance", "origin", "record_id"],
        lambda r: (r["data"]["question"], r["data"]["answer"]),
    ),
    "parquet": (
        "parquet",
        ["id", "task", "question", "answer", "provenance", "origin", "record_id"],
        lambda r: (r["question"], r["answer"]),
    ),
}


@pytest.mark.parametrize("fmt", list(FILE_FORMATS))
def test_file_format_loads_with_real_rows_mixed_in(
    fmt: str, qa_run: Path, tmp_path: Path, load: Loader
) -> None:
    """Each file loads as one table of every row written; every synthetic row holds its
    record's text and every real row a seed's, so nothing was lost or re-typed on the way."""
    builder, columns, pair = FILE_FORMATS[fmt]
    exported = export(qa_run, fmt, tmp_path / f"rows.{fmt}", real_fraction=0.25)
    assert exported.composition.real_rows > 0
    ds = load(builder, data_files=str(exported.path), split="train")
    assert ds.num_rows == exported.rows == exported.composition.rows
    assert ds.column_names == columns
    records, seeds = by_id(qa_run), seed_pairs(qa_run.parent)
    origins = Counter(ds["origin"])
    assert origins == {"real": exported.composition.real_rows, "synthetic": 20}
    for row in ds:
        if row["origin"] == "synthetic":
            data = records[row["record_id"]]["data"]
            assert pair(row) == (data["question"], data["answer"])
        else:
            assert row["record_id"] is None
            assert pair(row) in seeds


def test_jsonl_keeps_the_records_provenance(qa_run: Path, tmp_path: Path, load: Loader) -> None:
    """The nested provenance survives the json loader's struct typing."""
    exported = export(qa_run, "jsonl", tmp_path / "rows.jsonl")
    ds = load("json", data_files=str(exported.path), split="train")
    records = by_id(qa_run)
    first = ds[0]
    assert first["provenance"]["seed_ids"] == records[first["id"]]["provenance"]["seed_ids"]
    assert (
        first["provenance"]["template_hash"] == records[first["id"]]["provenance"]["template_hash"]
    )


def test_dpo_rows_load(preference_run: Path, tmp_path: Path, load: Loader) -> None:
    """DPO rows (prompt/chosen/rejected as message lists) load as lists of role/content
    structs, one row per preference record, the expand task's records left out."""
    exported = export(preference_run, "dpo", tmp_path / "dpo.jsonl")
    ds = load("json", data_files=str(exported.path), split="train")
    assert ds.num_rows == exported.rows == 3
    assert ds.column_names == ["prompt", "chosen", "rejected", "origin", "record_id"]
    records = by_id(preference_run)
    for row in ds:
        data = records[row["record_id"]]["data"]
        assert records[row["record_id"]]["task"] == "prefs"
        assert row["prompt"] == [{"role": "user", "content": data["prompt"]}]
        assert row["chosen"] == [{"role": "assistant", "content": data["chosen"]}]
        assert row["rejected"] == [{"role": "assistant", "content": data["rejected"]}]


# -- the hf folder ------------------------------------------------------------------------------
def front_matter(card: Path) -> dict[str, Any]:
    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return dict(yaml.safe_load(text.split("---\n", 2)[1]))


def test_hf_folder_loads_with_its_splits_and_mix(
    qa_run: Path, tmp_path: Path, load: Loader
) -> None:
    """``load_dataset(folder)`` reads the card's ``configs``: exactly train and validation,
    each as many rows (real and synthetic) as the composition and the card's table say, the
    real rows among them with no record_id."""
    folder = tmp_path / "hf"
    exported = export(qa_run, "hf", folder, real_fraction=0.25, splits={"validation": 0.2})
    comp = exported.composition
    ds = load(str(folder))
    assert set(ds) == {"train", "validation"}
    (config,) = front_matter(folder / "README.md")["configs"]
    assert {f["split"]: f["path"] for f in config["data_files"]} == exported.files
    card = (folder / "README.md").read_text(encoding="utf-8")
    total = 0
    for name, split in ds.items():
        counts = comp.splits[name]
        assert split.num_rows == sum(counts.values()) > 0
        assert split.column_names == ["messages", "origin", "record_id"]
        assert set(split["origin"]) <= {"real", "synthetic"}
        assert Counter(split["origin"]) == +Counter(counts)
        real, synthetic = counts["real"], counts["synthetic"]
        assert f"| {name} | {real + synthetic} | {real} | {synthetic} |" in card
        total += split.num_rows
    assert total == exported.rows == comp.rows
    real_rows = [row for split in ds.values() for row in split if row["origin"] == "real"]
    assert len(real_rows) == comp.real_rows > 0
    seeds = seed_pairs(qa_run.parent)
    for row in real_rows:
        assert row["record_id"] is None
        user, assistant = row["messages"]
        assert (user["content"], assistant["content"]) in seeds


def test_hf_folder_of_the_label_example_is_a_flat_table(tmp_path: Path, load: Loader) -> None:
    """Classification data defaults to one column per field: a classifier reads ``text`` and
    ``label`` straight from the loaded split."""
    recipe = with_license(EXAMPLES / "label" / "recipe.yaml", tmp_path)
    out = tmp_path / "label"
    summary = run(recipe, out, n=12, dry_run=True)
    assert summary.accepted == 12
    folder = tmp_path / "label-hf"
    exported = export(out, "hf", folder)
    ds = load(str(folder))
    assert list(ds) == ["train"]
    train = ds["train"]
    assert train.num_rows == exported.rows == 12
    assert {"text", "label", "origin", "record_id"} <= set(train.column_names)
    assert "messages" not in train.column_names
    assert train.features["text"].dtype == train.features["label"].dtype == "string"
    labels = set(yaml.safe_load(recipe.read_text())["tasks"][0]["labels"])
    assert set(train["label"]) <= labels
    records = by_id(out)
    for row in train:
        data = records[row["record_id"]]["data"]
        assert (row["text"], row["label"]) == (data["text"], data["label"])


def test_hf_folder_of_the_label_example_with_real_rows(tmp_path: Path, load: Loader) -> None:
    """Real seed tickets mixed into the flat table: their own text and label, and no value in
    the columns only synthetic rows have."""
    recipe = with_license(EXAMPLES / "label" / "recipe.yaml", tmp_path)
    out = tmp_path / "label"
    run(recipe, out, n=12, dry_run=True)
    folder = tmp_path / "label-hf"
    exported = export(out, "hf", folder, real_fraction=0.25)
    train = load(str(folder))["train"]
    assert train.num_rows == exported.rows
    seeds = {(s["text"], s["label"]) for s in read_jsonl(EXAMPLES / "label" / "seeds.jsonl")}
    real = [row for row in train if row["origin"] == "real"]
    assert len(real) == exported.composition.real_rows > 0
    for row in real:
        assert (row["text"], row["label"]) in seeds
        assert row["hard_negative"] is None


# -- OpenAI's fine-tuning format ----------------------------------------------------------------
# From OpenAI's published chat fine-tuning format and its cookbook's format checks ("Data
# preparation and analysis for chat model fine-tuning"): each line a JSON object with a
# ``messages`` list; each message an object with a role and a string content and no keys other
# than role/content/name/weight; roles system, user or assistant; at least one assistant
# message per example; at least 10 examples per file. The cookbook looks only at ``messages``,
# so the export's ``origin`` and ``record_id`` are not checked here.
MESSAGE_KEYS = {"role", "content", "name", "weight"}
ROLES = {"system", "user", "assistant"}
MIN_EXAMPLES = 10


def openai_format_errors(lines: list[str]) -> list[str]:
    errors: list[str] = []
    if len(lines) < MIN_EXAMPLES:
        errors.append(f"{len(lines)} examples, at least {MIN_EXAMPLES} needed")
    for n, line in enumerate(lines, 1):
        try:
            example = json.loads(line)
        except json.JSONDecodeError:
            errors.append(f"line {n}: not JSON")
            continue
        if not isinstance(example, dict):
            errors.append(f"line {n}: not an object")
            continue
        messages = example.get("messages")
        if not isinstance(messages, list) or not messages:
            errors.append(f"line {n}: no messages list")
            continue
        for m in messages:
            if not isinstance(m, dict):
                errors.append(f"line {n}: a message is not an object")
                continue
            if "role" not in m or "content" not in m:
                errors.append(f"line {n}: a message lacks role or content")
            if set(m) - MESSAGE_KEYS:
                errors.append(
                    f"line {n}: unrecognized message keys {sorted(set(m) - MESSAGE_KEYS)}"
                )
            if m.get("role") not in ROLES:
                errors.append(f"line {n}: unrecognized role {m.get('role')!r}")
            if not isinstance(m.get("content"), str):
                errors.append(f"line {n}: content is not a string")
        if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
            errors.append(f"line {n}: no assistant message")
    return errors


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_openai_chat_export_with_real_rows_meets_openai_format(
    qa_run: Path, tmp_path: Path
) -> None:
    exported = export(qa_run, "openai-chat", tmp_path / "chat.jsonl", real_fraction=0.25)
    assert exported.composition.real_rows > 0
    lines = lines_of(exported.path)
    assert len(lines) == exported.rows
    assert openai_format_errors(lines) == []


def test_conversation_export_meets_openai_format(tmp_path: Path) -> None:
    """Multi-turn rows with the recipe's system message (include_system: true)."""
    out = tmp_path / "conversation"
    summary = run(EXAMPLES / "conversation" / "recipe.yaml", out, n=12, dry_run=True)
    assert summary.accepted == 12
    exported = export(out, "openai-chat", tmp_path / "conv.jsonl")
    lines = lines_of(exported.path)
    assert len(lines) == exported.rows == 12
    assert openai_format_errors(lines) == []
    messages = [json.loads(line)["messages"] for line in lines]
    assert all(m[0]["role"] == "system" for m in messages)
    assert max(len(m) for m in messages) > 3  # some rows have more than one exchange


GOOD = {"messages": [{"role": "user", "content": "q?"}, {"role": "assistant", "content": "a."}]}


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("not json", "not JSON"),
        (json.dumps([GOOD]), "not an object"),
        (json.dumps({"conversations": GOOD["messages"]}), "no messages list"),
        (json.dumps({"messages": [{"role": "user", "content": "q?"}]}), "no assistant message"),
        (
            json.dumps({"messages": [{"from": "human", "value": "q?"}, GOOD["messages"][1]]}),
            "lacks role or content",
        ),
        (
            json.dumps({"messages": [{"role": "gpt", "content": "a."}, GOOD["messages"][1]]}),
            "unrecognized role 'gpt'",
        ),
        (
            json.dumps({"messages": [GOOD["messages"][0], {"role": "assistant", "content": 3}]}),
            "content is not a string",
        ),
        (
            json.dumps({"messages": [{**GOOD["messages"][0], "origin": "real"}]}),
            "unrecognized message keys ['origin']",
        ),
    ],
)
def test_openai_validator_rejects_a_bad_row(bad: str, error: str) -> None:
    good = [json.dumps(GOOD)] * MIN_EXAMPLES
    assert openai_format_errors(good) == []
    errors = openai_format_errors([*good, bad])
    assert errors
    assert all(e.startswith(f"line {MIN_EXAMPLES + 1}: ") for e in errors)
    assert any(error in e for e in errors), errors
    assert openai_format_errors(good[:-1]) == [f"9 examples, at least {MIN_EXAMPLES} needed"]
