"""Load and validate a recipe: the one boundary where user input becomes typed objects.

Every problem is reported as a single :class:`RecipeError` naming the file, the field, the line
(where YAML gives one) and the cause, before any model is called.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from synthloom.errors import RecipeError
from synthloom.export.settings import ExportTarget, MixSettings, check_splits
from synthloom.quality.settings import (
    DecontamSettings,
    DedupSettings,
    FieldShape,
    GroundingSettings,
    HeuristicSettings,
    JudgeSettings,
    PrivacySettings,
    QualitySettings,
    RelevanceSettings,
    ValidatorSettings,
)
from synthloom.report.settings import ReportSettings
from synthloom.tasks.registry import KINDS, TaskSpec
from synthloom.taskspecs import Candidate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Prices(_Strict):
    """USD per million tokens, used by ``estimate`` and the run summary."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s):// URL, e.g. http://127.0.0.1:8000/v1")
    return value


def _url_list(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("give at least one URL")
    urls = [url.rstrip("/") for url in value]
    repeated = sorted({url for url in urls if urls.count(url) > 1})
    if repeated:
        raise ValueError(f"give each URL once (repeated: {', '.join(repeated)})")
    return value


# A tagged union, so that a bad item is reported as model.base_url[i] and a bad single URL
# without the list's errors beside it; _field_path leaves the tags out of the field's name.
_ONE_URL, _URL_LIST = "one URL", "URL list"
_UNION_TAGS = frozenset({_ONE_URL, _URL_LIST})
HttpUrl = Annotated[str, AfterValidator(_http_url)]
BaseUrl = Annotated[
    Annotated[HttpUrl, Tag(_ONE_URL)]
    | Annotated[list[HttpUrl], AfterValidator(_url_list), Tag(_URL_LIST)],
    Discriminator(lambda value: _URL_LIST if isinstance(value, list) else _ONE_URL),
]


class ModelSettings(_Strict):
    backend: Literal["embedded", "openai", "fake"] = "embedded"
    model: str | None = None  # embedded: a GGUF path (default: bundled SmolLM2); openai: a name
    # openai: one server, or several serving the same model (each call goes to the least busy)
    base_url: BaseUrl | None = None
    api_key_env: str | None = None  # the *name* of the variable; the key is never in a recipe
    temperature: float = Field(default=0.8, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int = Field(default=400, ge=1, le=131072)
    concurrency: int = Field(default=8, ge=1, le=4096)
    rpm: float | None = Field(default=None, gt=0)  # requests per minute, shared by all workers
    tpm: float | None = Field(default=None, gt=0)  # tokens per minute (prompt + completion)
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=100)
    max_reasks: int = Field(default=2, ge=0, le=20)
    n_ctx: int = Field(default=2048, ge=256)  # embedded only
    latency: float = Field(default=0.0, ge=0)  # fake only: simulated seconds per call
    call_log: str | None = None  # fake only: append one line per real call (for resume tests)
    prices: Prices | None = None

    @model_validator(mode="after")
    def _backend_keys(self) -> ModelSettings:
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend 'openai' needs base_url (e.g. http://127.0.0.1:8000/v1)")
        return self

    @property
    def base_urls(self) -> list[str]:
        """``base_url`` as a list, however the recipe gave it."""
        if self.base_url is None:
            return []
        return [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)


class ExecutorSettings(_Strict):
    """Where rows run: ``local`` (one asyncio engine in this process) or ``ray`` (the plan's
    row ranges as shards, each a Ray task running the local engine; merged here in row order,
    so the dataset is the same as a local run's)."""

    kind: Literal["local", "ray"] = "local"
    # ray: "auto" joins the cluster this machine belongs to, "ray://host:10001" a remote one;
    # none starts a cluster on this machine for the run
    address: str | None = None
    shards: int | None = Field(default=None, ge=1)  # none: two per CPU the cluster has


class BudgetSettings(_Strict):
    """Run-wide limits, counted over every call ever made into the run directory."""

    max_tokens: int | None = Field(default=None, ge=1)
    max_cost: float | None = Field(default=None, gt=0)  # USD; needs model.prices


class Recipe(_Strict):
    """A recipe as typed objects: what YAML loads into, and what Python users build directly."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str | None = None  # what the data is for: the dataset card's first lines
    license: str | None = None  # the dataset's licence (an SPDX-style id): the hf export needs it
    # a JSONL/CSV/Parquet path, or the seeds themselves; only magpie runs without seeds
    seeds: str | list[dict[str, Any]] | None = None
    # records to plan; ``run`` needs it and ``tasks`` (see require_generation), ``check`` not
    target: int | None = Field(default=None, ge=1)
    random_seed: int = 0
    model: ModelSettings = Field(default_factory=ModelSettings)
    axes: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskSpec] = Field(default_factory=list)  # in order; one may read another's output
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    mix: MixSettings | None = None  # real rows beside the synthetic ones in every export
    splits: dict[str, float] = Field(default_factory=dict)  # held-out shares; train takes the rest
    export: list[ExportTarget] = Field(default_factory=list)  # written at the end of run
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    _source: _SourceMap | None = PrivateAttr(default=None)

    @field_validator("splits")
    @classmethod
    def _splits(cls, value: dict[str, float]) -> dict[str, float]:
        return check_splits(value)

    @field_validator("export")
    @classmethod
    def _export_splits_exist(
        cls, value: list[ExportTarget], info: ValidationInfo
    ) -> list[ExportTarget]:
        known = ["train", *(info.data.get("splits") or {})]
        for target in value:
            if target.format == "hf" and not info.data.get("license"):
                raise ValueError(
                    f"export to {target.path!r}: the hf folder's dataset card needs the recipe's "
                    "top-level license: key (e.g. cc-by-4.0 or apache-2.0)"
                )
            if target.split is not None and target.split not in known:
                raise ValueError(
                    f"export to {target.path!r}: no split {target.split!r} "
                    f"(splits: {', '.join(known)})"
                )
        return value

    @model_validator(mode="after")
    def _cost_needs_prices(self) -> Recipe:
        if self.budget.max_cost is not None and self.model.prices is None:
            raise ValueError("budget.max_cost needs model.prices (USD per million tokens)")
        return self

    @model_validator(mode="after")
    def _unique_task_names(self) -> Recipe:
        names = [t.task_name for t in self.tasks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"task names must be unique; give each a 'name' (repeated: {dupes})")
        return self

    def require_generation(self) -> None:
        """Generating needs ``target`` and ``tasks``; a recipe that only runs the quality gate
        over a file (``synthloom check``) may leave them out, so the model cannot require them
        and the run path asks here, with the same file:line error a missing key always had."""
        needed = " (synthloom run needs it; check does not)"
        if self.target is None:
            raise self.error("target", "required field is missing" + needed)
        if not self.tasks:
            given = "tasks" in self.model_fields_set
            cause = "needs at least one task" if given else "required field is missing"
            raise self.error("tasks", cause + needed)

    @property
    def source_file(self) -> str:
        return self._source.file if self._source else "<recipe>"

    def error(self, field: str, cause: str) -> RecipeError:
        """A RecipeError pointing at ``field`` (dotted, ``[i]`` for list items) in this recipe."""
        line = self._source.line_of(field) if self._source else None
        return RecipeError(cause, file=self.source_file, field=field, line=line)

    def resolve(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.base_dir / path


class _SourceMap:
    """Maps a field path to the YAML line it came from, for error messages."""

    def __init__(self, file: str, root: yaml.Node) -> None:
        self.file = file
        self.root = root

    def line_of(self, field: str) -> int | None:
        """The line of the field's key (not of its value, which may be a block below it)."""
        node: yaml.Node | None = self.root
        best: int | None = None
        for part in _split_field(field):
            if node is None:
                break
            best = node.start_mark.line + 1
            key, node = _child(node, part)
            if key is not None:
                best = key.start_mark.line + 1
        return best


def _split_field(field: str) -> list[str | int]:
    parts: list[str | int] = []
    for chunk in field.replace("]", "").split("."):
        name, *indices = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indices)
    return parts


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(key node, value node) for a mapping key; (item, item) for a list index."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return key, value
    elif (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        item = node.value[part]
        return item, item
    return None, None


def _field_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    # a task's errors carry its kind as a union tag after the index: tasks.0.label.labels
    loc = tuple(
        p
        for i, p in enumerate(loc)
        if not (p in KINDS and i >= 2 and loc[i - 2] == "tasks" and isinstance(loc[i - 1], int))
    )
    for part in loc:
        if part in _UNION_TAGS:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


_MODELS: list[type[BaseModel]] = [
    Recipe,
    ModelSettings,
    Prices,
    BudgetSettings,
    Candidate,
    QualitySettings,
    ValidatorSettings,
    HeuristicSettings,
    FieldShape,
    RelevanceSettings,
    DedupSettings,
    DecontamSettings,
    PrivacySettings,
    JudgeSettings,
    GroundingSettings,
    MixSettings,
    ExportTarget,
    *(kind.spec for kind in KINDS.values()),
]
_KNOWN_KEYS = sorted({f.alias or name for cls in _MODELS for name, f in cls.model_fields.items()})


def _describe(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, _KNOWN_KEYS, n=1)
        return "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        kind = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else None
        return f"unknown task kind {kind!r} (choose from: {', '.join(KINDS)})"
    if err["type"] == "missing":
        return "required field is missing"
    value = repr(err.get("input"))
    if len(value) > 60:
        value = value[:57] + "..."
    return f"{msg} (got {value})"


def _first(errors: list[ErrorDetails]) -> ErrorDetails:
    """The error to report. An unknown key comes before everything else: a misspelt
    ``templte`` also makes ``template`` missing, and only the unknown key (with its
    suggestion) says what to fix. Otherwise pydantic's order, which follows the recipe's."""
    return min(errors, key=lambda err: err["type"] != "extra_forbidden")


def recipe_from_dict(
    raw: dict[str, Any], *, base_dir: Path, source: _SourceMap | None = None
) -> Recipe:
    file = source.file if source else "<recipe>"
    try:
        recipe = Recipe.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        err = _first(exc.errors())
        loc = tuple(p for p in err["loc"] if p != "base_dir")
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "kind")
        field = _field_path(loc) or "<top level>"
        line = source.line_of(field) if source else None
        raise RecipeError(_describe(err), file=file, field=field, line=line) from None
    recipe._source = source
    return recipe


def load_recipe(path: str | Path) -> Recipe:
    """Parse and validate a YAML recipe; relative paths in it resolve against its folder."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError("file not found", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read: {exc}", file=file) from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            raw = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RecipeError(f"invalid YAML: {exc.problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:  # e.g. a control character
        line = text[: exc.position].count("\n") + 1
        raise RecipeError(
            f"invalid YAML: {exc.reason} ({exc.character!r})", file=file, line=line
        ) from None
    if not isinstance(raw, dict) or node is None:
        raise RecipeError("a recipe must be a YAML mapping (name:, seeds:, tasks:, ...)", file=file)
    return recipe_from_dict(raw, base_dir=path.parent.resolve(), source=_SourceMap(file, node))
