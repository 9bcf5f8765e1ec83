"""The dataset view: the one definition of which records make up "the dataset".

A record belongs to the dataset when it is in the latest plan, its stage belongs to the dataset
(judge calibration rows do not), the gate accepted it, and no reviewer's latest verdict rejects
it; its data is a reviewer's latest edit when there is one. ``dataset.jsonl``, every export, the
review population and everything after (report, mixing) read it from here, so they cannot
disagree. Nothing else filters records by status, stage or review.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from synthloom.errors import SynthloomError
from synthloom.records import Record, Status
from synthloom.review.log import Overrides, overrides
from synthloom.store.sqlite import STORE_FILE, RunStore

REVIEW_REJECTED = "review_rejected"  # the reason a record rejected in review is listed under


class Dataset:
    def __init__(self, store: RunStore) -> None:
        self.store = store

    @classmethod
    @contextmanager
    def open(cls, outdir: str | Path) -> Iterator[Dataset]:
        """The dataset of a run directory, for as long as the ``with`` block lasts."""
        path = Path(outdir) / STORE_FILE
        if not path.is_file():
            raise SynthloomError(f"{outdir}: not a synthloom run directory (no {STORE_FILE})")
        with RunStore(path) as store:
            yield cls(store)

    def tasks(self) -> list[str]:
        """The stages whose records belong to the dataset, in run order."""
        return [name for name, _, in_dataset in self.store.stages() if in_dataset]

    def produced(self, tasks: Iterable[str] | None = None) -> Iterator[Record]:
        """Every record the dataset's stages produced, whatever its status (the run summary,
        the funnel): what review did is not applied."""
        yield from self._of(self.store.planned_records(in_dataset=True), tasks)

    def candidates(self, tasks: Iterable[str] | None = None) -> Iterator[Record]:
        """What the gate accepted, before review: the population a review sample is drawn
        from (drawing from the reviewed dataset would shrink it with every rejection)."""
        records = self.store.planned_records(Status.ACCEPTED, in_dataset=True)
        yield from self._of(records, tasks)

    def records(self, tasks: Iterable[str] | None = None) -> Iterator[Record]:
        """The dataset: accepted, minus what review rejected, with review's edits applied."""
        review = self.review()
        for record in self.candidates(tasks):
            if record.id in review.rejected:
                continue
            edit = review.edits.get(record.id)
            yield record if edit is None else replace(record, data=edit)

    def excluded(self) -> Iterator[Record]:
        """Every record of the dataset's stages that is not in it, each with its reason: the
        gate's drops and failures, and what review rejected (``review_rejected``, with the
        reviewers' reasons). Nothing produced is silently missing from both lists."""
        review = self.review()
        for record in self.produced():
            if record.status is not Status.ACCEPTED:
                yield record
            elif record.id in review.rejected:
                yield replace(
                    record,
                    status=Status.REJECTED,
                    reason=REVIEW_REJECTED,
                    error="; ".join(review.rejected[record.id]),
                )

    def review(self) -> Overrides:
        return overrides(self.store.connection)

    @staticmethod
    def _of(records: Iterator[Record], tasks: Iterable[str] | None) -> Iterator[Record]:
        if tasks is None:
            yield from records
            return
        wanted = set(tasks)
        yield from (r for r in records if r.task in wanted)
