"""The training set through the public API and the CLI: origin on every row, the real share,
real/synthetic duplicates, leak-free splits, the recipe's mix/splits/export keys and the Hub
upload up to its call."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthloom import FakeBackend, RecipeError, SynthloomError, export, load_recipe, run
from synthloom.backends.base import GenerationRequest
from tests.helpers import cli, read_jsonl, write_recipe

SEED_QUESTION = "Question number 3 about recovery?"


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    run(write_recipe(tmp_path, license="cc-by-4.0"), out, n=40, backend=FakeBackend())
    return out


def _seed_questions(tmp_path: Path) -> set[str]:
    return {row["question"] for row in read_jsonl(tmp_path / "seeds.jsonl")}


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5, 0.75])
def test_every_row_has_its_origin_and_the_share_holds(
    outdir: Path, tmp_path: Path, share: float
) -> None:
    path = tmp_path / f"chat-{share}.jsonl"
    done = export(outdir, "openai-chat", path, real_fraction=share)
    rows = read_jsonl(path)
    origins = Counter(row["origin"] for row in rows)
    assert set(origins) <= {"real", "synthetic"}
    assert len(rows) == done.rows == origins["real"] + origins["synthetic"]
    assert abs(origins["real"] - share * len(rows)) <= 1
    ids = {r["id"] for r in read_jsonl(outdir / "dataset.jsonl")}
    seeds = _seed_questions(tmp_path)
    for row in rows:
        if row["origin"] == "real":
            assert row["record_id"] is None
            assert row["messages"][0]["content"] in seeds
        else:
            assert row["record_id"] in ids
    assert done.composition.real_rows == origins["real"]


def test_without_a_mix_the_set_is_synthetic_only(outdir: Path, tmp_path: Path) -> None:
    done = export(outdir, "alpaca", tmp_path / "a.jsonl")
    assert {r["origin"] for r in read_jsonl(tmp_path / "a.jsonl")} == {"synthetic"}
    assert done.composition.real_source is None


def test_upsampling_and_capping_as_documented(outdir: Path, tmp_path: Path) -> None:
    # 40 synthetic rows, 12 real ones: 50% real needs 40 real rows
    up = export(outdir, "jsonl", tmp_path / "up.jsonl", real_fraction=0.5, max_real_repeats=5)
    assert (up.composition.real_rows, up.rows) == (40, 80)
    copies = Counter(
        r["data"]["question"] for r in read_jsonl(tmp_path / "up.jsonl") if r["origin"] == "real"
    )
    assert len(copies) == 12
    assert max(copies.values()) - min(copies.values()) <= 1  # as even as 40 / 12 allows
    low = export(outdir, "jsonl", tmp_path / "low.jsonl", real_fraction=0.5, max_real_repeats=2)
    assert (low.composition.real_rows, low.composition.synthetic_capped, low.rows) == (24, 16, 48)
    off = export(outdir, "jsonl", tmp_path / "off.jsonl", real_fraction=0.5, upsample=False)
    assert (off.composition.real_rows, off.rows) == (12, 24)
    assert any("upsample is off" in note for note in off.composition.notes)
    kept = {r["id"] for r in read_jsonl(tmp_path / "off.jsonl") if r["origin"] == "synthetic"}
    again = export(outdir, "jsonl", tmp_path / "again.jsonl", real_fraction=0.5, upsample=False)
    assert again.rows == 24
    assert kept == {r["id"] for r in read_jsonl(tmp_path / "again.jsonl") if r["origin"] != "real"}


def test_a_synthetic_row_repeating_a_real_prompt_gives_way_to_the_real_row(
    tmp_path: Path,
) -> None:
    def responder(request: GenerationRequest) -> str:
        text = str(request.messages)
        question = SEED_QUESTION if "caregiver" in text else f"Fresh question {hash(text)}?"
        return json.dumps({"question": question, "answer": f"An answer {hash(text)}."})

    out = tmp_path / "out"
    summary = run(write_recipe(tmp_path), out, n=30, backend=FakeBackend(responder))
    copies = [
        r for r in read_jsonl(out / "dataset.jsonl") if r["data"]["question"] == SEED_QUESTION
    ]
    assert copies, "the responder should have copied a seed's question"
    done = export(out, "openai-chat", tmp_path / "chat.jsonl", real_fraction=0.5)
    assert done.composition.synthetic_duplicates == len(copies)
    assert done.composition.synthetic_available == summary.accepted
    rows = read_jsonl(tmp_path / "chat.jsonl")
    with_seed = [r for r in rows if r["messages"][0]["content"] == SEED_QUESTION]
    assert with_seed
    assert {r["origin"] for r in with_seed} == {"real"}


def _family(row: dict[str, Any]) -> str:
    return str(row["provenance"]["seed_ids"][0])


def test_no_split_puts_a_seed_family_on_both_sides(outdir: Path, tmp_path: Path) -> None:
    shares = {"validation": 0.25, "test": 0.15}
    whole = export(outdir, "jsonl", tmp_path / "all.jsonl", real_fraction=0.3, splits=shares)
    families: dict[str, set[str]] = {}
    rows: list[dict[str, Any]] = []
    for name in ("train", "validation", "test"):
        path = tmp_path / f"{name}.jsonl"
        part = export(outdir, "jsonl", path, real_fraction=0.3, splits=shares, split=name)
        got = read_jsonl(path)
        assert len(got) == part.rows == sum(whole.composition.splits[name].values()) > 0
        families[name] = {_family(r) for r in got}
        rows += got
    assert not families["train"] & families["validation"]
    assert not families["train"] & families["test"]
    assert not families["validation"] & families["test"]
    assert sorted(json.dumps(r, sort_keys=True) for r in rows) == sorted(
        json.dumps(r, sort_keys=True) for r in read_jsonl(tmp_path / "all.jsonl")
    )
    # a real row (a seed) sits with what was made from it
    for name, fams in families.items():
        real = [r for r in read_jsonl(tmp_path / f"{name}.jsonl") if r["origin"] == "real"]
        assert all(_family(r) in fams for r in real)


def test_splits_are_reproducible_from_the_recipe_seed(outdir: Path, tmp_path: Path) -> None:
    def validation(path: Path) -> list[str]:
        export(outdir, "jsonl", path, splits={"validation": 0.3}, split="validation")
        return [r["id"] for r in read_jsonl(path)]

    assert validation(tmp_path / "a.jsonl") == validation(tmp_path / "b.jsonl")


def test_label_data_is_stratified_by_label(tmp_path: Path) -> None:
    recipe = Path(__file__).parents[2] / "examples" / "label" / "recipe.yaml"
    out = tmp_path / "out"
    run(recipe, out, n=80, dry_run=True)
    done = export(out, "parquet", tmp_path / "v.parquet", splits={"validation": 0.3})
    held = done.composition.splits["validation"]["synthetic"]
    assert 0 < held < done.rows
    import pyarrow.parquet as pq

    export(out, "parquet", tmp_path / "v.parquet", splits={"validation": 0.3}, split="validation")
    labels = Counter(pq.read_table(tmp_path / "v.parquet").column("label").to_pylist())
    assert len(labels) > 1  # more than one label held out, not one label's families


def test_dpo_with_a_mix_says_why_real_rows_cannot_join(
    preference_run: Path, tmp_path: Path
) -> None:
    done = export(preference_run, "dpo", tmp_path / "dpo.jsonl", real_fraction=0.2)
    assert done.composition.real_available == 0
    ((reason, count),) = done.composition.real_left_out.items()
    assert count == 6
    assert "'prompt'" in reason
    assert "'chosen'" in reason
    assert "prefs" in reason
    assert {r["origin"] for r in read_jsonl(tmp_path / "dpo.jsonl")} == {"synthetic"}
    # the chat formats need a prompt and a response too, and these seeds hold questions only
    chat = export(preference_run, "openai-chat", tmp_path / "chat.jsonl", real_fraction=0.2)
    assert chat.composition.real_left_out == {"no 'answer' field (task 'qa' needs it)": 6}
    assert "synthetic only" in chat.composition.notes[0]


def test_a_real_file_with_other_columns(outdir: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text(
        "question,answer\nHow long until I drive?,Ask your surgeon; often 2-6 weeks.\n"
        "Can I swim?,Not until the wound has closed.\n"
        "text,\n"
    )
    done = export(outdir, "sharegpt", tmp_path / "sg.jsonl", real=real, real_fraction=0.2)
    assert done.composition.real_source == str(real)
    assert done.composition.real_available == 2
    assert sum(done.composition.real_left_out.values()) == 1
    values = [r["conversations"][0]["value"] for r in read_jsonl(tmp_path / "sg.jsonl")]
    assert "Can I swim?" in values


def _recipe_with_training_set(tmp_path: Path, **extra: Any) -> Path:
    return write_recipe(
        tmp_path,
        license="cc-by-4.0",
        description="Post-surgical recovery questions with answers, for a support assistant.",
        mix={"real_fraction": 0.2},
        splits={"validation": 0.2},
        export=[
            {"format": "openai-chat", "path": "train.jsonl", "split": "train"},
            {"format": "openai-chat", "path": "validation.jsonl", "split": "validation"},
            {"format": "hf", "path": "hf"},
        ],
        **extra,
    )


def test_run_writes_the_declared_exports(tmp_path: Path) -> None:
    recipe = _recipe_with_training_set(tmp_path)
    result = cli("run", recipe, "-o", tmp_path / "out", "-n", "30", "--no-report")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    train, validation = read_jsonl(out / "train.jsonl"), read_jsonl(out / "validation.jsonl")
    assert train
    assert validation
    assert "wrote" in result.stdout
    assert "validation:" in result.stdout
    card = (out / "hf" / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\n")
    assert "Post-surgical recovery questions" in card
    real = sum(r["origin"] == "real" for r in train + validation)
    assert abs(real - 0.2 * (len(train) + len(validation))) <= 1


def test_recipe_errors_name_the_key(tmp_path: Path) -> None:
    bad = {
        "mix": ({"real_fraction": 1.5}, "mix.real_fraction"),
        "splits": ({"train": 0.8}, "splits"),
        "export": ([{"format": "openai-chat", "path": "x.jsonl", "split": "dev"}], "export"),
    }
    path = write_recipe(tmp_path, export=[{"format": "hf", "path": "hf"}])
    with pytest.raises(RecipeError, match="license") as caught:
        load_recipe(path)  # before a single row is generated, not at the end of the run
    assert caught.value.field == "export"
    for key, (value, field) in bad.items():
        path = write_recipe(tmp_path, **{key: value})
        with pytest.raises(RecipeError) as caught:
            load_recipe(path)
        assert caught.value.field == field, caught.value
    fine = load_recipe(_recipe_with_training_set(tmp_path))
    assert fine.mix is not None
    assert fine.mix.real_fraction == 0.2
    assert fine.splits == {"validation": 0.2}


def test_hf_without_a_license_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(write_recipe(tmp_path), out, n=4, backend=FakeBackend())
    with pytest.raises(SynthloomError, match="license"):
        export(out, "hf", tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_cli_export_prints_the_composition_and_rejects_bad_splits(
    outdir: Path, tmp_path: Path
) -> None:
    args = ["export", outdir, "-f", "openai-chat", "-o", tmp_path / "c.jsonl"]
    result = cli(*args, "--real-fraction", "0.2", "--split", "validation=0.25")
    assert result.returncode == 0, result.stderr
    assert "train:" in result.stdout
    assert "validation:" in result.stdout
    assert "real share" in result.stdout
    bad = cli(*args, "--split", "validation")
    assert bad.returncode == 1
    assert "NAME=SHARE" in bad.stderr
    assert bad.stderr.count("\n") == 1
    only = cli(*args, "--only", "holdout")
    assert "no split 'holdout'" in only.stderr


class _Hub:
    """Stands in for huggingface_hub.HfApi: records the calls up to the upload."""

    calls: list[tuple[str, dict[str, Any]]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        assert (args, kwargs) == ((), {}), "synthloom must not pass a token itself"

    def create_repo(self, repo_id: str, **kwargs: Any) -> str:
        _Hub.calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/datasets/{repo_id}"

    def upload_folder(self, **kwargs: Any) -> None:
        _Hub.calls.append(("upload_folder", kwargs))


def test_push_to_hub_uploads_the_folder_and_never_shows_the_token(
    outdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub
    from typer.testing import CliRunner

    from synthloom.cli import app

    _Hub.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", _Hub)
    monkeypatch.setenv("HF_TOKEN", "hf_secret_token_value")
    folder = tmp_path / "hf"
    result = CliRunner().invoke(
        app,
        [
            "export",
            str(outdir),
            "-f",
            "hf",
            "-o",
            str(folder),
            "--push-to-hub",
            "me/post-op",
            "--private",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "hf_secret_token_value" not in result.output
    assert "pushed to https://huggingface.co/datasets/me/post-op" in result.output
    (create, created), (upload, uploaded) = _Hub.calls
    assert (create, created["repo_id"], created["repo_type"], created["private"]) == (
        "create_repo",
        "me/post-op",
        "dataset",
        True,
    )
    assert upload == "upload_folder"
    assert (uploaded["folder_path"], uploaded["repo_type"]) == (str(folder), "dataset")
    assert (folder / "README.md").is_file()
    assert (folder / "data" / "train.parquet").is_file()
    bad = cli("export", outdir, "-f", "jsonl", "-o", tmp_path / "x.jsonl", "--push-to-hub", "a/b")
    assert "use --format hf" in bad.stderr


def test_the_card_states_the_mix_and_loads_in_the_hub_client(outdir: Path, tmp_path: Path) -> None:
    from huggingface_hub import DatasetCard

    done = export(outdir, "hf", tmp_path / "hf", real_fraction=0.25, splits={"test": 0.2})
    card = DatasetCard.load(tmp_path / "hf" / "README.md")
    meta = card.data.to_dict()
    assert meta["license"] == "cc-by-4.0"
    assert meta["tags"] == ["synthetic", "synthloom"]
    paths = {f["split"]: f["path"] for f in meta["configs"][0]["data_files"]}
    assert paths == done.files == {"train": "data/train.parquet", "test": "data/test.parquet"}
    real = done.composition.real_rows
    assert f"| total | {done.rows} | {real} | {done.rows - real} |" in card.text
    assert yaml.safe_load(card.content.split("---")[1])["size_categories"] == ["n<1K"]
