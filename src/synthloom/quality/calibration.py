"""Judge calibration: before a run trusts the judge, the judge rates a small file of examples
people have already labelled (``verdict: accept`` or ``reject``), and the run reports how often
they agree (accuracy) and how much better than chance (Cohen's kappa). Below ``min_kappa`` the
run stops before generating anything."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from synthloom.calls import Calls
from synthloom.engine.job import Job
from synthloom.errors import RecipeError
from synthloom.plan import PlannedRow
from synthloom.quality.base import text_of
from synthloom.quality.judge import RubricJudge
from synthloom.records import Provenance, Record, Status
from synthloom.tasks.base import ExportShape, Task, TaskKit

STAGE = "judge-calibration"
_TRUE = {"accept", "accepted", "good", "pass", "yes", "true", "1"}
_FALSE = {"reject", "rejected", "bad", "fail", "no", "false", "0"}


def human_verdict(item: dict[str, Any], where: str) -> bool:
    raw = item.get("verdict")
    value = str(raw).strip().lower() if raw is not None else ""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise RecipeError(
        f"row {item.get('id')!r} needs a 'verdict' of accept or reject (got {raw!r})", file=where
    )


class CalibrationTask(Task):
    """Rows that are the human-labelled examples; the program asks the judge about each."""

    kind = "calibration"

    def __init__(self, kit: TaskKit, judge: RubricJudge, fields: list[str] | None) -> None:
        self.kit = kit
        self.name = kit.name
        self.judge = judge
        self.fields = fields
        self.shape = ExportShape("calibration", ("human", "judge", "judge_mean"))

    def job(self, row: PlannedRow) -> Job:
        item = dict(row.item or {})
        human = human_verdict(item, self.kit.source_file)
        data = {k: v for k, v in item.items() if k not in ("id", "verdict")}
        text = text_of(data, self.fields)
        probe = Record(f"{self.name}-{row.index:06d}", self.name, data, _PROV)
        request = self.judge.request(probe, text)

        async def program(calls: Calls) -> dict[str, Any]:
            ratings = await calls.json(request, self.judge.schema)
            judged = Record(probe.id, probe.task, dict(data), _PROV, scores={})
            accepted = self.judge.verdict(judged, ratings) is None
            return {"human": human, "judge": accepted, "judge_mean": judged.scores["judge_mean"]}

        return self.kit.job(row, first=request, program=program, templates=())


_PROV = Provenance("calibration", STAGE, 0, [], {}, "", "", "", {})


def agreement(records: Iterable[Record]) -> dict[str, Any]:
    """Accuracy and Cohen's kappa of the judge against the human verdicts."""
    pairs = [
        (bool(r.data["human"]), bool(r.data["judge"]))
        for r in records
        if r.status is Status.ACCEPTED
    ]
    n = len(pairs)
    if not n:
        return {"items": 0, "accuracy": None, "kappa": None}
    agree = sum(h == j for h, j in pairs) / n
    p_human = sum(h for h, _ in pairs) / n
    p_judge = sum(j for _, j in pairs) / n
    chance = p_human * p_judge + (1 - p_human) * (1 - p_judge)
    kappa = 1.0 if chance == 1 else (agree - chance) / (1 - chance)
    return {"items": n, "accuracy": round(agree, 4), "kappa": round(kappa, 4)}
