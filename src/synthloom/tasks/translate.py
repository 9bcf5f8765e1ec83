"""Translation of seeds or an earlier task's records. One row per (input, language): the chosen
fields are translated, every other field is carried over unchanged, and the source is linked."""

from __future__ import annotations

from typing import Any

import orjson

from synthloom.calls import Calls
from synthloom.engine.job import Dropped, Job
from synthloom.plan import PlannedRow
from synthloom.tasks.base import ExportShape, Task, TaskKit, object_schema, string
from synthloom.taskspecs import TranslateSpec

SYSTEM = "You are a professional translator. You translate meaning faithfully and naturally."
TEMPLATE = """\
Translate every value of this JSON object into {{ language }}. Keep the keys exactly as they are. \
Keep names, numbers, units and formatting; do not add or drop information.
{{ source_json }}"""


class TranslateTask(Task):
    kind = "translate"

    def __init__(self, spec: TranslateSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.languages = spec.languages
        self.variants = len(spec.languages)
        available = kit.item_fields()
        self.fields = spec.fields  # None: every text field of each input row
        if self.fields is not None:
            missing = [f for f in self.fields if f not in available]
            if missing:
                raise kit.error("fields", f"{missing[0]!r} is not an input field ({available})")
        self.template = kit.template(spec.template, TEMPLATE, "template")
        self.system = kit.template(spec.system, SYSTEM, "system")
        # exports keep the upstream's roles: a translated Q&A is still question -> answer
        self.shape = ExportShape("translate", (*available, "language", "source_id"))

    def job(self, row: PlannedRow) -> Job:
        item = self.kit.item(row)
        language = self.languages[row.variant]
        fields = self.fields or [k for k, v in item.items() if k != "id" and isinstance(v, str)]
        source = {f: item[f] for f in fields if isinstance(item.get(f), str)}
        if len(source) < len(fields) or not source:
            missing = [f for f in fields if f not in source]
            what = f"{missing[0]!r} is not text" if missing else "nothing to translate"
            raise self.kit.error("fields", f"{what} in input row {item.get('id')!r}")
        # a translation is rarely over twice its source: a bound that stops a runaway reply
        schema = object_schema({f: string(1, 2 * len(v) + 40) for f, v in source.items()})
        ctx = self.kit.context(
            row, language=language, source_json=orjson.dumps(source).decode(), source=source
        )
        messages = self.kit.messages(self.system.render(ctx), self.template.render(ctx), schema)
        request = self.kit.request(messages, schema, seed=self.kit.seed_for(row))
        kept = {k: v for k, v in item.items() if k != "id" and k not in source}

        async def program(calls: Calls) -> dict[str, Any]:
            out = await calls.json(request, schema)
            data = {**kept, **out, "language": language, "source_id": item.get("id")}
            # short values (a topic, a name) may rightly stay the same; judge the long ones
            judged = [f for f in source if len(source[f]) > 20]
            same = [f for f in judged if out[f].strip() == source[f].strip()]
            if judged and len(same) == len(judged):
                raise Dropped(
                    "untranslated", f"the reply repeats the source text ({language})", data
                )
            return data

        return self.kit.job(
            row,
            first=request,
            program=program,
            templates=(self.template, self.system),
            extra_params={"language": language},
        )
