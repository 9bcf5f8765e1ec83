"""What each task kind accepts in a recipe: one small pydantic model per kind, chosen by
``kind:``. This is the boundary; the task modules turn a validated spec into a runnable task.
A kind is listed once, in :mod:`synthloom.tasks.registry`, next to the class that runs it.

Shared keys: ``name`` (default: the kind), ``input`` (where rows come from), ``template`` and
``system`` (override the kind's built-in prompts: inline Jinja2, or a file next to the recipe),
``few_shot`` (seeds shown per row), ``temperature``/``max_tokens`` (override ``model:``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TaskSpecBase(_Strict):
    """What every kind accepts. Each kind's spec narrows ``kind`` to its own literal, which
    is the tag pydantic chooses the spec by."""

    kind: str
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    # None: rows planned from the seeds (``target`` of them, seeds balanced, axes sampled).
    # "seeds": each seed once. An earlier task's name: each of its accepted records once.
    # A .jsonl/.csv/.parquet path: each of its rows once. ``-n``/``target`` caps input rows.
    input: str | None = Field(default=None, min_length=1)
    template: str | None = Field(default=None, min_length=1)
    system: str | None = None
    few_shot: int = Field(default=3, ge=1, le=64)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=131072)
    # the longest free-text field a reply may have, in characters. Checked on every reply, and
    # enforced while decoding by the embedded model (up to 1000), which keeps a small model
    # from rambling into the token limit.
    max_length: int | None = Field(default=None, ge=2)
    quality: bool = True  # run the recipe's quality gate on this task's records

    @property
    def task_name(self) -> str:
        return self.name or self.kind


class ExpandSpec(TaskSpecBase):
    """Few-shot seed expansion into the output schema (the flagship)."""

    kind: Literal["expand"] = "expand"
    template: str = Field(min_length=1)
    output_schema: dict[str, Any] = Field(alias="schema", min_length=1)
    prompt_field: str | None = None  # which output field is the user turn when exporting
    response_field: str | None = None  # which output field is the assistant turn


class LabelSpec(TaskSpecBase):
    """Documents for a classifier, balanced per label (or in given proportions)."""

    kind: Literal["label"] = "label"
    labels: dict[str, str] = Field(min_length=2)  # label -> what it means
    proportions: dict[str, float] | None = None  # label -> weight; default: equal
    hard_negatives: float = Field(default=0.0, ge=0, le=1)  # share of rows near a boundary
    text_field: str = "text"  # the seed field holding an example document
    label_field: str | None = "label"  # the seed field holding its label, if seeds have one
    min_length: int = Field(default=20, ge=1)
    max_length: int | None = Field(default=1000, ge=2)

    @model_validator(mode="after")
    def _known_proportions(self) -> LabelSpec:
        if self.proportions is not None:
            unknown = sorted(set(self.proportions) - set(self.labels))
            if unknown:
                raise ValueError(f"proportions name labels not in 'labels': {unknown}")
            if any(w < 0 for w in self.proportions.values()) or not any(
                w > 0 for w in self.proportions.values()
            ):
                raise ValueError("proportions must be >= 0 with at least one > 0")
        return self


class ConversationSpec(TaskSpecBase):
    """Multi-turn dialogues between a simulated user with a persona and an assistant."""

    kind: Literal["conversation"] = "conversation"
    turns: int | tuple[int, int] = 3  # user+assistant exchanges; [low, high] draws per row
    user: str | None = None  # who the simulated user is (template); default: the persona axis
    user_template: str | None = None  # the simulator's instructions (template)
    include_system: bool = False  # put the assistant's system prompt in the exported messages

    @field_validator("turns")
    @classmethod
    def _turn_range(cls, value: int | tuple[int, int]) -> int | tuple[int, int]:
        low, high = (value, value) if isinstance(value, int) else value
        if not 1 <= low <= high <= 50:
            raise ValueError("turns must be 1..50, or [low, high] with low <= high")
        return value


class EdgeCasesSpec(TaskSpecBase):
    """Rare, adversarial or boundary scenarios for a specification, each with why it is hard."""

    kind: Literal["edge_cases"] = "edge_cases"
    spec: str = Field(min_length=1)  # the behaviour under test: inline text or a file
    categories: list[str] = Field(
        default_factory=lambda: ["adversarial", "boundary", "rare", "ambiguous"], min_length=1
    )


class TranslateSpec(TaskSpecBase):
    """Seeds or an earlier task's records into target languages, other fields preserved."""

    kind: Literal["translate"] = "translate"
    input: str | None = "seeds"
    languages: list[str] = Field(min_length=1)
    fields: list[str] | None = None  # default: every text field of the input


class Candidate(_Strict):
    temperature: float | None = Field(default=None, ge=0, le=2)
    model: str | None = None  # another model on the same server (openai backend)
    weaker: bool = False  # instructed to write a plausible but worse answer


class PreferenceSpec(TaskSpecBase):
    """Candidate responses per prompt and a judged choice: prompt/chosen/rejected for DPO."""

    kind: Literal["preference"] = "preference"
    input: str | None = "seeds"
    prompt_field: str | None = None  # default: question/instruction/prompt/... in the input
    candidates: list[Candidate] = Field(
        default_factory=lambda: [Candidate(), Candidate(weaker=True)], min_length=2, max_length=6
    )
    judge: str | None = None  # the judge's prompt (template with prompt, a, b, criteria)
    criteria: str = "accuracy, helpfulness and clarity"
    judge_model: str | None = None


class DistillSpec(TaskSpecBase):
    """A teacher model answers given prompts, optionally with step-by-step reasoning."""

    kind: Literal["distill"] = "distill"
    input: str | None = "seeds"
    prompt_field: str | None = None
    explain: bool = False  # also ask for the reasoning, kept in its own field


class SelfInstructSpec(TaskSpecBase):
    """New instructions bootstrapped from seed tasks, filtered by ROUGE-L against the pool."""

    kind: Literal["self_instruct"] = "self_instruct"
    instruction_field: str = "instruction"
    input_field: str | None = "input"
    output_field: str = "output"
    max_rouge: float = Field(default=0.7, gt=0, le=1)


Operation = Literal["constraints", "deepen", "concretize", "reasoning", "breadth"]
OPERATIONS: tuple[Operation, ...] = ("constraints", "deepen", "concretize", "reasoning", "breadth")


def _all_operations() -> list[Operation]:
    return list(OPERATIONS)


class EvolInstructSpec(TaskSpecBase):
    """Instructions evolved in depth and breadth over rounds; failed evolutions are dropped."""

    kind: Literal["evol_instruct"] = "evol_instruct"
    instruction_field: str | None = None  # default: instruction/question/prompt/... in seeds
    rounds: int = Field(default=2, ge=1, le=8)
    operations: list[Operation] = Field(default_factory=_all_operations, min_length=1)
    answer: bool = True  # also answer the final instruction


class MagpieSpec(TaskSpecBase):
    """Instructions sampled from an aligned model's own pre-query template, then answered."""

    kind: Literal["magpie"] = "magpie"
    pre_query: str = "chatml"  # a preset (chatml, llama3) or the literal text, {system} inside
    stop: list[str] | None = None  # default: the preset's end-of-turn markers
    instruction_temperature: float = Field(default=1.0, ge=0, le=2)
    instruction_tokens: int = Field(default=128, ge=8, le=4096)
    min_words: int = Field(default=3, ge=1)


def kind_of(value: Any) -> str | None:
    """A task without ``kind:`` is an expand task, as it was before there were other kinds."""
    if isinstance(value, dict):
        kind = value.get("kind", "expand")
        return kind if isinstance(kind, str) else None
    return getattr(value, "kind", None)
