"""The review's state in the store: the sample (reproducible, stratified, kept across
restarts), the actions and their validation, the results, and what export takes from review."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthloom import FakeBackend, export, run
from synthloom.errors import ReviewError
from synthloom.review.book import ReviewBook, stratum_of
from synthloom.review.log import overrides
from synthloom.review.results import summarize, text_lines
from synthloom.review.stats import sample_size, wilson
from synthloom.store.sqlite import RunStore
from tests.helpers import cli, read_jsonl, write_recipe


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("review")
    run(write_recipe(folder), folder / "out", n=40, backend=FakeBackend())
    return folder / "out"


@pytest.fixture
def outdir(made: Path, tmp_path: Path) -> Path:
    """A fresh copy per test: reviews are written into the store."""
    import shutil

    copy = tmp_path / "out"
    shutil.copytree(made, copy)
    return copy


def _ids(book: ReviewBook) -> list[str]:
    return [book.entry(i)[0].id for i in range(book.size())]


def test_the_sample_is_reproducible_and_kept_until_resampled(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        design = book.draw(10, [], seed=7)
        first = _ids(book)
        assert design.n == 10 == len(set(first))
        assert design.population == 40
        assert book.draw(None, [], seed=99).n == 10  # a restart keeps the sample
        assert _ids(book) == first
        with pytest.raises(ReviewError, match="--resample"):
            book.draw(12, [], seed=7)
        book.draw(10, [], seed=8, replace=True)
        other = _ids(book)
        book.draw(10, [], seed=7, replace=True)
        assert _ids(book) == first  # the same seed draws the same records, in the same order
        assert set(other) != set(first)


def test_the_default_size_comes_from_the_margin(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        design = ReviewBook(store).draw(None, [], seed=1, margin=0.1)
    assert design.n == sample_size(0.1, population=40) < 40


def test_a_stratified_sample_covers_every_stratum_in_proportion(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        design = book.draw(12, ["persona"], seed=3)
        records = book.population()
        drawn = [book.entry(i) for i in range(book.size())]
    # persona is weighted 3:1 in the recipe
    assert set(design.strata) == {"persona=patient", "persona=caregiver"}
    assert sum(design.strata.values()) == 40
    for record, stratum in drawn:
        assert stratum == stratum_of(record, ["persona"])
    share = {name: size / 40 for name, size in design.strata.items()}
    for name, weight in share.items():
        got = sum(1 for _, s in drawn if s == name)
        assert abs(got - 12 * weight) <= 1
    assert len(records) == 40


def test_stratifying_by_an_unknown_field_names_the_choices(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store, pytest.raises(ReviewError, match="persona, style"):
        ReviewBook(store).draw(5, ["mood"], seed=1)


def test_actions_are_validated_and_nothing_bad_is_stored(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        book.draw(5, [], seed=1)
        record, _ = book.entry(0)
        rid = record.id
        bad = [
            ({"action": "verdict", "verdict": "maybe"}, "accept' or 'reject"),
            ({"action": "verdict", "verdict": "reject"}, "needs a reason"),
            ({"action": "verdict", "verdict": "reject", "reason": "  "}, "needs a reason"),
            ({"action": "comment", "comment": ""}, "empty"),
            ({"action": "edit", "edit": {"nope": "x"}}, "does not have"),
            ({"action": "edit", "edit": {"question": 3}}, "is text"),
            ({"action": "edit", "edit": {"question": "   "}}, "cannot be empty"),
            ({"action": "shout"}, "unknown review action"),
        ]
        for kwargs, message in bad:
            action = str(kwargs.pop("action"))
            with pytest.raises(ReviewError, match=message):
                book.add(rid, "ana", action, **kwargs)  # type: ignore[arg-type]
        with pytest.raises(ReviewError, match="reviewer name"):
            book.add(rid, " ", "verdict", verdict="accept")
        with pytest.raises(ReviewError, match="not in the review sample"):
            book.add("nope", "ana", "verdict", verdict="accept")
        assert book.history(rid) == []


def test_latest_verdict_per_reviewer_counts_and_edits_keep_the_original(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        book.draw(5, [], seed=1)
        record, _ = book.entry(0)
        book.add(record.id, "ana", "verdict", verdict="reject", reason="unrealistic")
        book.add(record.id, "ana", "verdict", verdict="accept")  # changed her mind
        book.add(record.id, "ana", "edit", edit={"answer": "Rest, then walk."})
        book.add(record.id, "ana", "comment", comment="fine after the edit")
        (outcome,) = [o for o in book.outcomes() if o.record_id == record.id]
        assert outcome.verdicts == {"ana": ("accept", None)}
        assert outcome.accepted
        assert outcome.edit == {**record.data, "answer": "Rest, then walk."}
        assert store.record(record.id).data == record.data  # type: ignore[union-attr]
        assert [r.action for r in book.history(record.id)] == [
            "verdict",
            "verdict",
            "edit",
            "comment",
        ]
        assert book.progress("ana") == (1, 1, 5)
        assert book.next_for("ana") == 1
        assert book.next_for("bo") == 0


def test_export_drops_rejected_records_and_writes_edits(outdir: Path, tmp_path: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        book.draw(5, [], seed=1)
        kept, _ = book.entry(0)
        dropped, _ = book.entry(1)
        split, _ = book.entry(2)
        book.add(kept.id, "ana", "edit", edit={"answer": "EDITED answer"})
        book.add(kept.id, "ana", "verdict", verdict="accept")
        book.add(dropped.id, "ana", "verdict", verdict="reject", reason="unsafe advice")
        book.add(split.id, "ana", "verdict", verdict="accept")
        book.add(split.id, "bo", "verdict", verdict="reject", reason="off-topic")
        review = overrides(store.connection)
    # one reviewer's objection is enough
    assert review.rejected == {dropped.id: ["ana: unsafe advice"], split.id: ["bo: off-topic"]}
    assert set(review.edits) == {kept.id}
    count = export(outdir, "jsonl", tmp_path / "x.jsonl").rows
    rows = {r["id"]: r for r in read_jsonl(tmp_path / "x.jsonl")}
    assert count == 38
    assert dropped.id not in rows
    assert split.id not in rows
    assert rows[kept.id]["data"]["answer"] == "EDITED answer"
    chat = tmp_path / "chat.jsonl"
    export(outdir, "openai-chat", chat)
    assert "EDITED answer" in chat.read_text()


def test_results_weight_strata_and_compare_reviewers_and_the_judge(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        design = book.draw(12, ["persona"], seed=3)
        entries = [book.entry(i) for i in range(book.size())]
        verdicts: dict[str, list[str]] = {}
        for i, (record, stratum) in enumerate(entries):
            reject = stratum == "persona=caregiver" and i % 2 == 0
            verdict = "reject" if reject else "accept"
            book.add(
                record.id,
                "ana",
                "verdict",
                verdict=verdict,
                reason="unrealistic" if reject else None,
            )
            verdicts.setdefault(stratum, []).append(verdict)
            if i < 4:  # a second reviewer on four records, disagreeing once
                other = "reject" if i == 0 and verdict == "accept" else verdict
                book.add(record.id, "bo", "verdict", verdict=other, reason="off-topic")
        summary = summarize(book)
    assert summary.reviewed == 12
    strata = {s.name: s for s in summary.strata}
    for name, got in verdicts.items():
        row = strata[name]
        assert row.reviewed == len(got)
        assert row.population == design.strata[name]
        assert (row.low, row.high) == pytest.approx(wilson(row.accepted, row.reviewed))
    # the overall rate weights each stratum by its share of the 40 records
    expected = sum(
        design.strata[n] / 40 * (strata[n].accepted / strata[n].reviewed) for n in strata
    )
    assert summary.overall.rate == pytest.approx(expected)
    assert summary.overall.low < summary.overall.rate < summary.overall.high
    assert summary.reviewer_agreement.pairs == 4
    assert summary.reasons[0][0] in {"unrealistic", "off-topic"}
    assert summary.judge_agreement.pairs == 0  # this run had no judge
    lines = "\n".join(text_lines(summary))
    assert "reviewed 12 of 12 sampled (40 records in the dataset)" in lines
    assert "weighted by stratum size" in lines
    assert "Cohen's kappa" in lines


def test_a_clean_review_reports_the_rule_of_three(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        book.draw(10, [], seed=2)
        for i in range(10):
            book.add(book.entry(i)[0].id, "ana", "verdict", verdict="accept")
        summary = summarize(book)
    assert summary.upper_error_if_clean == pytest.approx(1 - 0.05 ** (1 / 10))
    assert "rule of three" in "\n".join(text_lines(summary))


def test_review_summary_from_the_command_line(outdir: Path) -> None:
    missing = cli("review", str(outdir), "--summary")
    assert missing.returncode == 2
    assert "no review yet" in missing.stderr
    with RunStore.in_dir(outdir) as store:
        book = ReviewBook(store)
        book.draw(4, ["task"], seed=1)
        book.add(book.entry(0)[0].id, "ana", "verdict", verdict="reject", reason="factually wrong")
    result = cli("review", str(outdir), "--summary")
    assert result.returncode == 0, result.stderr
    assert "reviewed 1 of 4 sampled" in result.stdout
    assert "factually wrong (1)" in result.stdout
    bad = cli("review", str(outdir), "--stratify-by", "mood", "--resample", "--port", "0")
    assert bad.returncode == 2
    assert "cannot stratify by 'mood'" in bad.stderr


def test_notes_and_seeds_are_in_the_store_for_the_reviewer(outdir: Path) -> None:
    with RunStore.in_dir(outdir) as store:
        seeds = store.get_meta("seeds")
    assert isinstance(seeds, dict)
    assert json.dumps(seeds)
    assert len(seeds) == 12
