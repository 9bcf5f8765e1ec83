"""``kind:`` → the module that builds it. Importing a kind's module is the only cost of a kind."""

from __future__ import annotations

import importlib
from typing import Any

from synthloom.tasks.base import Task, TaskKit

KINDS: dict[str, tuple[str, str]] = {
    "expand": ("synthloom.tasks.expand", "ExpandTask"),
    "label": ("synthloom.tasks.label", "LabelTask"),
    "conversation": ("synthloom.tasks.conversation", "ConversationTask"),
    "edge_cases": ("synthloom.tasks.edge_cases", "EdgeCasesTask"),
    "translate": ("synthloom.tasks.translate", "TranslateTask"),
    "preference": ("synthloom.tasks.preference", "PreferenceTask"),
    "distill": ("synthloom.tasks.distill", "DistillTask"),
    "self_instruct": ("synthloom.tasks.self_instruct", "SelfInstructTask"),
    "evol_instruct": ("synthloom.tasks.evol_instruct", "EvolInstructTask"),
    "magpie": ("synthloom.tasks.magpie", "MagpieTask"),
}


def build_task(spec: Any, kit: TaskKit) -> Task:
    module, cls = KINDS[spec.kind]
    task: Task = getattr(importlib.import_module(module), cls)(spec, kit)
    return task
