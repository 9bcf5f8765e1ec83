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
from synthloom.recipe import ModelSettings, Recipe, TaskSpec, load_recipe
from synthloom.records import Provenance, Record, Status
from synthloom.run import RunSummary, arun, run

__all__ = [
    "Backend",
    "BackendError",
    "Completion",
    "Estimate",
    "FakeBackend",
    "GenerationFailed",
    "GenerationRequest",
    "MissingDependencyError",
    "ModelSettings",
    "Provenance",
    "Recipe",
    "RecipeError",
    "Record",
    "RunSummary",
    "Status",
    "StoreError",
    "SynthloomError",
    "TaskSpec",
    "Usage",
    "arun",
    "estimate",
    "export",
    "load_recipe",
    "run",
]
