"""synthloom: seed examples in, a provenance-tagged synthetic dataset out.

The Python API mirrors the CLI: :func:`load_recipe`, :func:`run`, :func:`check`,
:func:`estimate`, :func:`export` (and :func:`export_declared`, the recipe's ``export:`` list);
:class:`Dataset` is what a run directory's dataset is.
"""

from synthloom.backends.base import Backend, Completion, GenerationRequest, Usage
from synthloom.backends.fake import FakeBackend
from synthloom.check import check
from synthloom.dataset import Dataset
from synthloom.errors import (
    BackendError,
    BudgetExhausted,
    GenerationFailed,
    MissingDependencyError,
    RecipeError,
    ReviewError,
    StoreError,
    SynthloomError,
)
from synthloom.estimate import Estimate, estimate
from synthloom.export.composition import Composition
from synthloom.export.settings import ExportTarget, MixSettings
from synthloom.export.writer import Exported, export, export_declared
from synthloom.finalize import RunSummary
from synthloom.recipe import ModelSettings, Recipe, load_recipe
from synthloom.records import Origin, Provenance, Record, Status
from synthloom.run import arun, run
from synthloom.taskspecs import (
    Candidate,
    ConversationSpec,
    DistillSpec,
    EdgeCasesSpec,
    EvolInstructSpec,
    ExpandSpec,
    LabelSpec,
    MagpieSpec,
    PreferenceSpec,
    SelfInstructSpec,
    TranslateSpec,
)

__all__ = [
    "Backend",
    "BackendError",
    "BudgetExhausted",
    "Candidate",
    "Completion",
    "Composition",
    "ConversationSpec",
    "Dataset",
    "DistillSpec",
    "EdgeCasesSpec",
    "Estimate",
    "EvolInstructSpec",
    "ExpandSpec",
    "ExportTarget",
    "Exported",
    "FakeBackend",
    "GenerationFailed",
    "GenerationRequest",
    "LabelSpec",
    "MagpieSpec",
    "MissingDependencyError",
    "MixSettings",
    "ModelSettings",
    "Origin",
    "PreferenceSpec",
    "Provenance",
    "Recipe",
    "RecipeError",
    "Record",
    "ReviewError",
    "RunSummary",
    "SelfInstructSpec",
    "Status",
    "StoreError",
    "SynthloomError",
    "TranslateSpec",
    "Usage",
    "arun",
    "check",
    "estimate",
    "export",
    "export_declared",
    "load_recipe",
    "run",
]
