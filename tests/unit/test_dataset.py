"""The dataset view is the one definition of the dataset: dataset.jsonl, every export and the
review population read it, so after a review they agree."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

import synthloom
from synthloom.dataset import REVIEW_REJECTED, Dataset
from synthloom.review.app import TOKEN_HEADER, create_app
from synthloom.review.book import ReviewBook
from synthloom.store.sqlite import RunStore
from tests.helpers import cli, read_jsonl, write_recipe

TOKEN = "dataset-test-token-0123456789"  # noqa: S105 (a test's token)
CALIBRATION = [
    {
        "id": "c1",
        "question": "Can I shower?",
        "answer": "Yes, after two days.",
        "verdict": "accept",
    },
    {"id": "c2", "question": "Can I run?", "answer": "Run a marathon today.", "verdict": "reject"},
]


def _run(tmp_path: Path, n: int = 10) -> Path:
    recipe = write_recipe(tmp_path)
    outdir = tmp_path / "out"
    synthloom.run(recipe, outdir, n=n, backend=synthloom.FakeBackend())
    return outdir


def test_review_in_the_app_reaches_dataset_jsonl_and_every_export(tmp_path: Path) -> None:
    """One reject and one edit in the app; once the app stops, dataset.jsonl and the jsonl
    export hold the same records with the same data."""
    outdir = _run(tmp_path)
    with RunStore.in_dir(outdir) as store:
        ReviewBook(store).draw(4, [], seed=1)
    with TestClient(create_app(outdir, TOKEN), follow_redirects=False) as client:
        client.headers[TOKEN_HEADER] = TOKEN
        assert client.post("/reviewer", data={"name": "ana"}).status_code == 303
        with RunStore.in_dir(outdir) as store:
            book = ReviewBook(store)
            (first, _), (second, _) = book.entry(0), book.entry(1)
        reject = client.post(
            "/r/0/verdict", data={"verdict": "reject", "reason": "factually wrong"}
        )
        assert reject.status_code == 303, reject.text
        edited = {"question": "Edited question?", "answer": second.data["answer"]}
        edit = client.post("/r/1/edit", data={f"text:{k}": v for k, v in edited.items()})
        assert edit.status_code == 303, edit.text
    # the app has stopped
    dataset = read_jsonl(outdir / "dataset.jsonl")
    cli("export", outdir, "--format", "jsonl", "-o", tmp_path / "export.jsonl", check=0)
    exported = read_jsonl(tmp_path / "export.jsonl")
    assert [{k: v for k, v in r.items() if k not in ("origin", "record_id")} for r in exported] == (
        dataset
    )
    ids = [r["id"] for r in dataset]
    assert first.id not in ids
    assert len(ids) == 9
    assert next(r for r in dataset if r["id"] == second.id)["data"] == edited
    rejected = {r["id"]: r for r in read_jsonl(outdir / "rejected.jsonl")}
    assert rejected[first.id]["reason"] == REVIEW_REJECTED
    assert "ana: factually wrong" in rejected[first.id]["error"]


def test_every_produced_record_is_in_the_dataset_or_excluded_with_a_reason(
    tmp_path: Path,
) -> None:
    outdir = _run(tmp_path, n=12)
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        book.draw(3, [], seed=2)
        victim, _ = book.entry(0)
        book.add(victim.id, "bo", "verdict", verdict="reject", reason="off-topic")
        view = Dataset(store)
        produced = {r.id for r in view.produced()}
        kept = {r.id for r in view.records()}
        excluded = {r.id: r for r in view.excluded()}
        # review speaks for what the gate accepted, before its own rejections
        assert {r.id for r in view.candidates()} == {r.id for r in book.population()}
        assert victim.id in {r.id for r in book.population()}
    assert victim.id not in kept
    assert kept | set(excluded) == produced
    assert not kept & set(excluded)
    assert all(r.reason for r in excluded.values())


def test_stages_outside_the_dataset_are_out_of_every_reader(tmp_path: Path) -> None:
    """Judge calibration rows are stored, but the stage is saved as not in the dataset, and no
    reader has to know its name to leave it out."""
    import json

    (tmp_path / "calibration.jsonl").write_text("".join(json.dumps(r) + "\n" for r in CALIBRATION))
    quality = {
        "judge": {
            "criteria": {"accuracy": "is right"},
            "min_score": 1,
            "calibration": "calibration.jsonl",
        }
    }
    recipe = write_recipe(tmp_path, quality=quality)
    outdir = tmp_path / "out"
    synthloom.run(recipe, outdir, n=4, backend=synthloom.FakeBackend())
    with RunStore.in_dir(outdir) as store:
        stages = store.stages()
        assert ("judge-calibration", "calibration", False) in stages
        assert ("qa", "expand", True) in stages
        assert Dataset(store).tasks() == ["qa"]
        assert len(list(store.planned_records(task="judge-calibration"))) == 2
        assert {r.task for r in Dataset(store).produced()} == {"qa"}
    assert {r["task"] for r in read_jsonl(outdir / "dataset.jsonl")} == {"qa"}
    assert {r["task"] for r in read_jsonl(outdir / "rejected.jsonl")} <= {"qa"}


def test_dataset_open_reads_a_run_directory_and_refuses_anything_else(tmp_path: Path) -> None:
    import pytest

    from synthloom.errors import SynthloomError

    outdir = _run(tmp_path, n=3)
    with synthloom.Dataset.open(outdir) as dataset:
        records = list(dataset.records())
    assert [r.id for r in records] == [r["id"] for r in read_jsonl(outdir / "dataset.jsonl")]
    nowhere = synthloom.Dataset.open(tmp_path / "nowhere")
    with pytest.raises(SynthloomError, match="not a synthloom run directory"), nowhere:
        pass
