"""synthloom: seed examples in, a provenance-tagged synthetic dataset out.

The Python API mirrors the CLI: :func:`load_recipe`, :func:`run`, :func:`estimate`,
:func:`export`.
"""

from synthloom.backends.base import Backend, Completion, GenerationRequest, Usage
from synthloom.backends.fake import FakeBackend
from synthloom.errors import (
    BackendError,
    GenerationFailed,
    MissingDependencyError,
    RecipeError,
    StoreError,
    SynthloomError,
)
from synthloom.estimate import Estimate, estimate
from synthloom.export.writer import export
from synthloom.recipe import ModelSettings, Recipe, load_recipe
from synthloom.records import Provenance, Record, Status
from synthloom.run import RunSummary, arun, run
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
    "Candidate",
    "Completion",
    "ConversationSpec",
    "DistillSpec",
    "EdgeCasesSpec",
    "Estimate",
    "EvolInstructSpec",
    "ExpandSpec",
    "FakeBackend",
    "GenerationFailed",
    "GenerationRequest",
    "LabelSpec",
    "MagpieSpec",
    "MissingDependencyError",
    "ModelSettings",
    "PreferenceSpec",
    "Provenance",
    "Recipe",
    "RecipeError",
    "Record",
    "RunSummary",
    "SelfInstructSpec",
    "Status",
    "StoreError",
    "SynthloomError",
    "TranslateSpec",
    "Usage",
    "arun",
    "estimate",
    "export",
    "load_recipe",
    "run",
]
