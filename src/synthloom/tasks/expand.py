"""Seed expansion: show the model a few real seeds plus the row's axis values, ask for a new
example in the output schema."""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import orjson

from synthloom.backends.base import GenerationRequest
from synthloom.engine.job import Job
from synthloom.plan import PlannedRow
from synthloom.recipe import ModelSettings
from synthloom.records import Provenance
from synthloom.schema import OutputSchema
from synthloom.seeds import Seed
from synthloom.tasks.base import Task
from synthloom.templates import PromptTemplate

DEFAULT_SYSTEM = (
    "You write realistic, varied synthetic training examples that follow the user's "
    "instructions and read like real data."
)
# Names the template sees besides the axis values; an axis may not shadow them.
RESERVED = frozenset({"seed", "examples", "axes", "fields", "row", "schema_json"})


def _synthloom_version() -> str:
    try:
        return version("synthloom")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


class ExpandTask(Task):
    def __init__(
        self,
        *,
        name: str,
        recipe_name: str,
        template: PromptTemplate,
        system: PromptTemplate | None,
        schema: OutputSchema,
        seeds: list[Seed],
        model: ModelSettings,
        backend: str,
        model_id: str,
        random_seed: int,
        few_shot: int,
    ) -> None:
        self.name = name
        self.few_shot = few_shot
        self.recipe_name = recipe_name
        self.template = template
        self.system = system
        self.schema = schema
        self.seeds = seeds
        self.model = model
        self.backend = backend
        self.model_id = model_id
        self.random_seed = random_seed
        self.template_hash = hashlib.sha256(
            (template.hash + (system.hash if system else "")).encode()
        ).hexdigest()[:16]
        self._schema_json = orjson.dumps(schema.json_schema).decode()
        self._json_rule = (
            "Reply with only one JSON object with exactly these fields: "
            + ", ".join(schema.fields)
            + "."
        )
        self._params: dict[str, Any] = {
            "temperature": model.temperature,
            "top_p": model.top_p,
            "max_tokens": model.max_tokens,
        }
        self._version = _synthloom_version()

    def context(self, row: PlannedRow) -> dict[str, Any]:
        chosen = [self.seeds[i] for i in row.seed_indices[: self.few_shot]]
        examples = [{"id": s.id, **s.fields} for s in chosen]
        return {
            **row.axes,
            "axes": row.axes,
            "seed": examples[0],
            "examples": examples,
            "fields": self.schema.fields,
            "schema_json": self._schema_json,
            "row": row.index,
        }

    def messages(self, row: PlannedRow) -> tuple[dict[str, str], ...]:
        ctx = self.context(row)
        system = self.system.render(ctx) if self.system else DEFAULT_SYSTEM
        return (
            {"role": "system", "content": f"{system}\n{self._json_rule}"},
            {"role": "user", "content": self.template.render(ctx)},
        )

    def job(self, row: PlannedRow) -> Job:
        seed = (
            int.from_bytes(
                hashlib.blake2b(
                    f"{self.random_seed}:{self.name}:{row.index}".encode(), digest_size=4
                ).digest()
            )
            & 0x7FFFFFFF
        )
        request = GenerationRequest(
            messages=self.messages(row),
            json_schema=self.schema.json_schema,
            temperature=self.model.temperature,
            top_p=self.model.top_p,
            max_tokens=self.model.max_tokens,
            seed=seed,
        )
        fingerprint = hashlib.sha256(
            orjson.dumps(
                {
                    "backend": self.backend,
                    "model": self.model_id,
                    "max_reasks": self.model.max_reasks,
                    "request": request.payload(),
                },
                option=orjson.OPT_SORT_KEYS,
            )
        ).hexdigest()[:32]
        provenance = Provenance(
            recipe=self.recipe_name,
            task=self.name,
            row=row.index,
            seed_ids=[self.seeds[i].id for i in row.seed_indices[: self.few_shot]],
            axes=dict(row.axes),
            template_hash=self.template_hash,
            backend=self.backend,
            model=self.model_id,
            params={**self._params, "seed": seed},
            synthloom_version=self._version,
        )
        return Job(
            record_id=f"{self.name}-{row.index:06d}",
            task=self.name,
            fingerprint=fingerprint,
            sample=row.index,
            request=request,
            schema=self.schema,
            provenance=provenance,
        )
