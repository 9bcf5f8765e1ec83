"""Labelled documents for a classifier. The label of each row is decided by the plan, not by the
model, so the dataset is balanced by construction (or in the recipe's proportions); a share of
rows are hard negatives: documents of one label written to look like another."""

from __future__ import annotations

from typing import Any

from synthloom.engine.job import Job, single_call
from synthloom.plan import PlannedRow
from synthloom.tasks.base import ExportShape, Task, TaskKit, object_schema, string
from synthloom.taskspecs import LabelSpec

SYSTEM = "You write realistic documents for training a text classifier."
TEMPLATE = """\
Write one new, realistic text whose correct label is "{{ label }}".
"{{ label }}" means: {{ description }}
{% if near_label %}Make it a hard case: it must clearly belong to "{{ label }}", yet share topic \
and wording with "{{ near_label }}" ({{ near_description }}), so a careless classifier could \
confuse the two.
{% endif %}{% if label_examples %}Texts with this label, for style (do not copy them):
{% for text in label_examples %}- {{ text }}
{% endfor %}{% endif %}{% for name, value in axes.items() %}{{ name }}: {{ value }}
{% endfor %}"""

_BLOCK = 100  # proportions are met exactly over each block of this many rows


def label_schedule(weights: dict[str, float], block: int) -> list[str]:
    """One block of labels in exact proportion (largest remainder), unshuffled."""
    total = sum(weights.values())
    quotas = {name: w * block / total for name, w in weights.items()}
    counts = {name: int(q) for name, q in quotas.items()}
    short = block - sum(counts.values())
    for name in sorted(quotas, key=lambda n: quotas[n] - counts[n], reverse=True)[:short]:
        counts[name] += 1
    return [name for name in weights for _ in range(counts[name])]


class LabelTask(Task):
    kind = "label"

    def __init__(self, spec: LabelSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.spec = spec
        self.labels = spec.labels
        weights = spec.proportions or dict.fromkeys(spec.labels, 1.0)
        equal = len(set(weights.values())) == 1 and all(name in weights for name in self.labels)
        self._block = label_schedule(
            {n: w for n, w in weights.items() if w > 0}, len(weights) if equal else _BLOCK
        )
        self.template = kit.template(spec.template, TEMPLATE, "template")
        self.system = kit.template(spec.system, SYSTEM, "system")
        self.schema = object_schema({"text": string(spec.min_length, spec.max_length)})
        self.shape = ExportShape(
            "label", ("text", "label", "hard_negative", "near_label"), "text", "label"
        )
        self._by_label: dict[str, list[str]] = {}
        if kit.seeds:
            kit.need_seeds(spec.text_field)
            if spec.label_field and spec.label_field in kit.seeds[0].fields:
                for seed in kit.seeds:
                    label = str(seed.fields.get(spec.label_field))
                    text = str(seed.fields.get(spec.text_field, ""))
                    self._by_label.setdefault(label, []).append(text)
                unknown = sorted(set(self._by_label) - set(self.labels))
                if unknown:
                    raise kit.error(
                        "labels", f"the seeds use labels not listed here: {unknown[:5]}"
                    )

    def label_of(self, row: PlannedRow) -> tuple[str, str | None]:
        """The row's label (from the balanced schedule) and, for a hard negative, the label it
        should be confusable with."""
        label = self.kit.spread(row, self._block, "labels")
        rng = self.kit.rng(row, "hard")
        near = None
        if rng.random() < self.spec.hard_negatives:
            near = rng.choice([n for n in self.labels if n != label])
        return label, near

    def context(self, row: PlannedRow) -> dict[str, Any]:
        label, near = self.label_of(row)
        pool = self._by_label.get(label)
        if pool is None:  # seeds without labels: show the row's seeds as style examples
            pool = [str(e.get(self.spec.text_field, "")) for e in self.kit.examples(row)]
        rng = self.kit.rng(row, "examples")
        shown = rng.sample(pool, min(self.spec.few_shot, len(pool))) if pool else []
        return self.kit.context(
            row,
            label=label,
            description=self.labels[label],
            near_label=near,
            near_description=self.labels[near] if near else None,
            label_examples=shown,
        )

    def job(self, row: PlannedRow) -> Job:
        ctx = self.context(row)
        messages = self.kit.messages(
            self.system.render(ctx), self.template.render(ctx), self.schema
        )
        request = self.kit.request(messages, self.schema, seed=self.kit.seed_for(row))
        parse = single_call(request, self.schema)
        label, near = ctx["label"], ctx["near_label"]

        async def program(calls: Any) -> dict[str, Any]:
            data = await parse(calls)
            return {
                "text": data["text"],
                "label": label,
                "hard_negative": near is not None,
                "near_label": near,
            }

        return self.kit.job(
            row,
            first=request,
            program=program,
            templates=(self.template, self.system),
            extra_params={"label": label, "near_label": near},
        )
