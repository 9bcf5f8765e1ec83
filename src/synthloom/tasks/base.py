"""The task extension point, and the kit every task kind builds its jobs with.

A kind writes one method, ``job(row)``: the row's first request and the small async program that
makes the rest of its calls. The kit (composition, not a base class to inherit behaviour from)
owns what all kinds share: templates, per-row seeds, requests, provenance and fingerprints.
"""

from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson

from synthloom.backends.base import GenerationRequest, Message
from synthloom.engine.job import Job, Program
from synthloom.errors import RecipeError
from synthloom.export.formats import PROMPT_NAMES
from synthloom.plan import PlannedRow
from synthloom.quality.base import Check
from synthloom.recipe import ModelSettings
from synthloom.records import Provenance, Record
from synthloom.schema import OutputSchema
from synthloom.seeds import Seed
from synthloom.templates import PromptTemplate, load_template

# Names templates see besides the axis values; an axis may not shadow them.
RESERVED = frozenset({"seed", "examples", "axes", "fields", "row", "schema_json", "item"})


@dataclass(slots=True, frozen=True)
class ExportShape:
    """How a kind's records map onto fine-tuning formats; stored in the run for ``export``."""

    kind: str
    fields: tuple[str, ...]
    prompt_field: str | None = None
    response_field: str | None = None
    messages_field: str | None = None  # a whole conversation: a list of {role, content}

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fields": list(self.fields),
            "prompt_field": self.prompt_field,
            "response_field": self.response_field,
            "messages_field": self.messages_field,
        }


class Task(ABC):
    name: str
    kind: str
    kit: TaskKit
    shape: ExportShape  # ``shape.fields`` is what a later task reading this one's output gets
    variants: int = 1  # rows per input item (translate: one per language)

    @abstractmethod
    def job(self, row: PlannedRow) -> Job: ...

    def resume(self, accepted: Iterable[Record]) -> None:  # noqa: B027 - optional hook
        """See the rows an earlier run into the same directory accepted (stateful kinds)."""

    def stateful_checks(self) -> list[Check]:
        """Checks of this kind that compare a record with the ones accepted before it (the
        self-instruct pool). They run where records are merged, in row order, after the
        gate's stateful checks, so sharding does not change which records they keep."""
        return []


def _synthloom_version() -> str:
    try:
        return version("synthloom")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def guess_field(
    fields: Iterable[str], wanted: str | None, error: Callable[[str], RecipeError]
) -> str:
    """``wanted`` if given, else the first conventional prompt-like name among ``fields``."""
    names = list(fields)
    if wanted is not None:
        if wanted not in names:
            raise error(f"{wanted!r} is not an input field (fields: {names})")
        return wanted
    found = next((n for n in PROMPT_NAMES if n in names), None)
    if found is None:
        raise error(f"cannot tell which input field holds the prompt; set it (fields: {names})")
    return found


@dataclass(slots=True)
class TaskKit:
    """Everything a task kind needs from the recipe and the run, and the helpers that use it."""

    name: str
    kind: str
    field: str  # "tasks[2]": where this task is in the recipe, for errors
    recipe_name: str
    seeds: list[Seed]
    model: ModelSettings
    backend: str
    model_id: str
    random_seed: int
    base_dir: Path
    source_file: str
    error_at: Callable[[str, str], RecipeError]
    temperature: float
    max_tokens: int
    few_shot: int
    config: dict[str, Any]  # the task's spec: part of every fingerprint
    input_fields: tuple[str, ...] | None = None  # when rows come from an input, its fields
    version: str = ""

    def __post_init__(self) -> None:
        self.version = _synthloom_version()

    # -- recipe helpers -------------------------------------------------------------------------
    def error(self, key: str, cause: str) -> RecipeError:
        return self.error_at(f"{self.field}.{key}" if key else self.field, cause)

    def template(self, value: str | None, default: str, key: str) -> PromptTemplate:
        """The recipe's template for ``key`` when it gives one, else the kind's built-in."""
        if value is None:
            return PromptTemplate(default, f"<built-in {self.kind} {key}>")
        return load_template(value, self.base_dir, f"{self.field}.{key}", self.source_file)

    def text_or_file(self, value: str, key: str) -> str:
        """Inline text, or the contents of a file next to the recipe."""
        if "\n" not in value and value.strip().endswith((".md", ".txt")):
            path = Path(value.strip())
            path = path if path.is_absolute() else self.base_dir / path
            if not path.is_file():
                raise self.error(key, f"file not found: {path}")
            return path.read_text(encoding="utf-8")
        return value

    def need_seeds(self, *fields: str) -> None:
        if not self.seeds:
            raise self.error("", f"a {self.kind} task needs seeds (set 'seeds:' in the recipe)")
        missing = [f for f in fields if f not in self.seeds[0].fields]
        if missing:
            raise self.error(
                "", f"the seeds have no field {missing[0]!r} (fields: {list(self.seeds[0].fields)})"
            )

    def item_fields(self) -> list[str]:
        """Fields of the row's item: the input's when the task reads one, else the seeds'."""
        if self.input_fields is not None:
            return [f for f in self.input_fields if f != "id"]
        return list(self.seeds[0].fields) if self.seeds else []

    # -- per-row helpers ------------------------------------------------------------------------
    def rng(self, row: PlannedRow, *salt: object) -> random.Random:
        key = ":".join(str(p) for p in (self.random_seed, self.name, row.index, *salt))
        return random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest()))

    def seed_for(self, row: PlannedRow, *salt: object) -> int:
        """A sampling seed per row (and per call of the row): reproducible, distinct."""
        key = ":".join(str(p) for p in (self.random_seed, self.name, row.index, *salt))
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest()) & 0x7FFFFFFF

    def spread(self, row: PlannedRow, block: list[str], salt: str) -> str:
        """The row's value from ``block``, reshuffled every ``len(block)`` rows: each value
        comes up exactly as often as it is in the block, in no fixed order."""
        number, offset = divmod(row.index, len(block))
        order = list(block)
        random.Random(f"{self.random_seed}:{self.name}:{salt}:{number}").shuffle(order)
        return order[offset]

    def examples(self, row: PlannedRow) -> list[dict[str, Any]]:
        return [{"id": self.seeds[i].id, **self.seeds[i].fields} for i in row.seed_indices]

    def item(self, row: PlannedRow) -> dict[str, Any]:
        """What the row is about: its input item, else its primary seed ({} without seeds)."""
        if row.item is not None:
            return row.item
        examples = self.examples(row)
        return examples[0] if examples else {}

    def value(self, row: PlannedRow, field: str, key: str) -> str:
        """The row item's ``field`` as text; an input row without it is a recipe error."""
        item = self.item(row)
        if field not in item or item[field] is None:
            raise self.error(key, f"input row {item.get('id')!r} has no field {field!r}")
        return str(item[field])

    def context(self, row: PlannedRow, **extra: Any) -> dict[str, Any]:
        examples = self.examples(row)[: self.few_shot]
        item = self.item(row)
        return {
            **row.axes,
            "axes": row.axes,
            "seed": item,
            "item": item,
            "examples": examples,
            "row": row.index,
            **extra,
        }

    def messages(
        self, system: str, user: str, schema: OutputSchema | None = None
    ) -> tuple[Message, ...]:
        if schema is not None:
            system += (
                "\nReply with only one JSON object with exactly these fields: "
                + ", ".join(schema.fields)
                + "."
            )
        return ({"role": "system", "content": system}, {"role": "user", "content": user})

    def request(
        self,
        messages: tuple[Message, ...],
        schema: OutputSchema | None,
        *,
        seed: int,
        temperature: float | None = None,
        max_tokens: int | None = None,
        model: str | None = None,
    ) -> GenerationRequest:
        return GenerationRequest(
            messages=messages,
            json_schema=schema.json_schema if schema is not None else None,
            temperature=self.temperature if temperature is None else temperature,
            top_p=self.model.top_p,
            max_tokens=max_tokens or self.max_tokens,
            seed=seed,
            model=model,
        )

    def job(
        self,
        row: PlannedRow,
        *,
        first: GenerationRequest,
        program: Program,
        templates: Iterable[PromptTemplate],
        calls: int = 1,
        extra_params: dict[str, Any] | None = None,
    ) -> Job:
        item = row.item
        fingerprint = hashlib.sha256(
            orjson.dumps(
                {
                    "backend": self.backend,
                    "model": self.model_id,
                    "max_reasks": self.model.max_reasks,
                    "config": self.config,
                    "request": first.payload(),
                    "item": item,
                    "axes": row.axes,
                },
                option=orjson.OPT_SORT_KEYS,
                default=str,
            )
        ).hexdigest()[:32]
        template_hash = hashlib.sha256("".join(t.hash for t in templates).encode()).hexdigest()[:16]
        params: dict[str, Any] = {
            "temperature": first.temperature,
            "top_p": first.top_p,
            "max_tokens": first.max_tokens,
            "seed": first.seed,
            **(extra_params or {}),
        }
        provenance = Provenance(
            recipe=self.recipe_name,
            task=self.name,
            row=row.index,
            seed_ids=[self.seeds[i].id for i in row.seed_indices[: self.few_shot]],
            axes=dict(row.axes),
            template_hash=template_hash,
            backend=self.backend,
            model=self.model_id,
            params=params,
            synthloom_version=self.version,
            parent=str(item["id"]) if item is not None and "id" in item else None,
        )
        return Job(
            record_id=f"{self.name}-{row.index:06d}",
            task=self.name,
            fingerprint=fingerprint,
            sample=row.index,
            provenance=provenance,
            program=program,
            first=first,
            calls=calls,
        )


def object_schema(properties: dict[str, dict[str, Any]]) -> OutputSchema:
    """A kind's built-in output schema: every property required, nothing else allowed."""
    return OutputSchema(
        {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
    )


def string(min_length: int = 1, max_length: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "string", "minLength": min_length}
    if max_length is not None:
        spec["maxLength"] = max_length
    return spec
