"""The one list of task kinds: each kind's recipe spec and the class that runs it.

Adding a kind is one line in ``KINDS`` (plus its spec in :mod:`synthloom.taskspecs` and its
module here). Everything else reads this list: the recipe's ``tasks:`` union that pydantic
validates against, the "unknown task kind" message, the key suggestions, and ``build_task``.
A kind's module is imported only when a recipe uses it.

This module must not import :mod:`synthloom.tasks.base` at run time: that module imports the
recipe, and the recipe builds its ``tasks:`` field from this list.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Discriminator, Tag

from synthloom.taskspecs import (
    ConversationSpec,
    DistillSpec,
    EdgeCasesSpec,
    EvolInstructSpec,
    ExpandSpec,
    LabelSpec,
    MagpieSpec,
    PreferenceSpec,
    SelfInstructSpec,
    TaskSpecBase,
    TranslateSpec,
    kind_of,
)

if TYPE_CHECKING:
    from synthloom.tasks.base import Task, TaskKit


@dataclass(frozen=True, slots=True)
class TaskKind:
    spec: type[TaskSpecBase]
    task: str  # "module:Class" of the implementation

    @property
    def name(self) -> str:
        """The spec's own ``kind`` literal, so the name is written once, in the spec."""
        return str(self.spec.model_fields["kind"].default)


def _by_name(*kinds: TaskKind) -> dict[str, TaskKind]:
    return {k.name: k for k in kinds}


KINDS: dict[str, TaskKind] = _by_name(
    TaskKind(ExpandSpec, "synthloom.tasks.expand:ExpandTask"),
    TaskKind(LabelSpec, "synthloom.tasks.label:LabelTask"),
    TaskKind(ConversationSpec, "synthloom.tasks.conversation:ConversationTask"),
    TaskKind(EdgeCasesSpec, "synthloom.tasks.edge_cases:EdgeCasesTask"),
    TaskKind(TranslateSpec, "synthloom.tasks.translate:TranslateTask"),
    TaskKind(PreferenceSpec, "synthloom.tasks.preference:PreferenceTask"),
    TaskKind(DistillSpec, "synthloom.tasks.distill:DistillTask"),
    TaskKind(SelfInstructSpec, "synthloom.tasks.self_instruct:SelfInstructTask"),
    TaskKind(EvolInstructSpec, "synthloom.tasks.evol_instruct:EvolInstructTask"),
    TaskKind(MagpieSpec, "synthloom.tasks.magpie:MagpieTask"),
)

if TYPE_CHECKING:
    # statically a task is its common base; code that needs a kind's own keys narrows it
    TaskSpec = TaskSpecBase
else:
    # one tagged member per kind, chosen by ``kind:`` (absent: expand)
    TaskSpec = Annotated[
        Union[tuple(Annotated[k.spec, Tag(name)] for name, k in KINDS.items())],  # noqa: UP007
        Discriminator(kind_of),
    ]


def build_task(spec: TaskSpecBase, kit: TaskKit) -> Task:
    module, cls = KINDS[spec.kind].task.split(":")
    task: Task = getattr(importlib.import_module(module), cls)(spec, kit)
    return task
