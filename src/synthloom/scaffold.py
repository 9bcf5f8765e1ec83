"""``synthloom init``: draft a runnable recipe from the user's own examples.

What the seeds hold decides the kind: a list of ``{role, content}`` turns is a conversation;
one document field beside a field of few distinct short values is classification data
(``label``); two or more document fields are pairs to expand. Short fields with few distinct
values become variation axes (their values come from the seeds), and every document field's
type and length bounds come from the seeds too, so the first run already rejects output far
outside what the user wrote. The draft is validated by loading it before it is reported."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthloom.errors import RecipeError, SynthloomError
from synthloom.export.formats import PROMPT_NAMES, RESPONSE_NAMES
from synthloom.seeds import read_rows

RECIPE_FILE = "recipe.yaml"
LABEL_NAMES = ("label", "labels", "intent", "category", "class", "tag", "sentiment", "topic")
_MAX_AXIS_VALUES = 30
_SHORT_WORDS = 5  # a value of at most this many words (on average) can be an axis or a label


@dataclass(slots=True)
class FieldInfo:
    name: str
    kind: str  # string, integer, number, boolean, messages, list, object
    filled: int  # rows where it has a value
    distinct: int
    min_chars: int = 0
    max_chars: int = 0
    mean_words: float = 0.0
    question_share: float = 0.0  # share of values ending in "?"
    values: list[str] = field(default_factory=list)  # distinct values, most common first

    @property
    def document(self) -> bool:
        """Free text a model should write: longer than a few words."""
        return self.kind == "string" and self.mean_words > _SHORT_WORDS

    def categorical(self, rows: int) -> bool:
        """Few distinct short values: a label, or an axis to vary."""
        return (
            self.kind in ("string", "boolean", "integer")
            and not self.document
            and 2 <= self.distinct <= max(2, min(_MAX_AXIS_VALUES, rows // 2 or 1))
        )


@dataclass(slots=True)
class Inferred:
    kind: str  # expand, label or conversation
    rows: int
    fields: list[FieldInfo]
    documents: list[str]  # the fields a model writes (expand), in the seeds' order
    prompt_field: str | None = None
    response_field: str | None = None
    text_field: str | None = None  # label
    label_field: str | None = None
    labels: dict[str, str] = field(default_factory=dict)  # label -> a seed example
    messages_field: str | None = None  # conversation
    axes: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class Drafted:
    path: Path
    inferred: Inferred


def init(seeds: str | Path, outdir: str | Path = ".") -> Drafted:
    """Write ``outdir/recipe.yaml`` drafted from ``seeds``; an existing recipe is refused."""
    source = Path(seeds)
    if not source.is_file():
        raise SynthloomError(f"{source}: no such file of examples")
    folder = Path(outdir)
    target = folder / RECIPE_FILE
    if target.exists():
        raise SynthloomError(
            f"{target} exists; init never overwrites a recipe (remove it or pick another -o)"
        )
    rows = [row for _, row in read_rows(source)]
    if not rows:
        raise RecipeError("no rows: init needs a few examples", file=str(source))
    inferred = infer(rows)
    folder.mkdir(parents=True, exist_ok=True)
    seeds_path = Path(os.path.relpath(source.resolve(), folder.resolve()))
    text = draft(inferred, seeds_path.as_posix(), _name(source, folder))
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        from synthloom.recipe import load_recipe

        load_recipe(tmp).require_generation()  # a draft that does not load is our bug
    except RecipeError:
        tmp.unlink()
        raise
    os.replace(tmp, target)
    return Drafted(target, inferred)


def infer(rows: list[dict[str, Any]]) -> Inferred:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(k for k in row if k != "id"))
    fields = [_describe(name, [row.get(name) for row in rows]) for name in names]
    n = len(rows)
    messages = next((f.name for f in fields if f.kind == "messages"), None)
    documents = [f.name for f in fields if f.document]
    categorical = [f for f in fields if f.categorical(n)]
    if messages is not None:
        found = Inferred("conversation", n, fields, [], messages_field=messages)
    elif len(documents) == 1 and categorical:
        label = _label_field(categorical)
        found = Inferred("label", n, fields, documents, text_field=documents[0])
        found.label_field = label.name
        found.labels = _label_examples(rows, documents[0], label.name)
        categorical = [f for f in categorical if f is not label]
    elif documents:
        found = Inferred("expand", n, fields, documents)
        found.prompt_field = _pick(documents, PROMPT_NAMES) or documents[0]
        rest = [d for d in documents if d != found.prompt_field]
        found.response_field = _pick(rest, RESPONSE_NAMES) or (rest[0] if rest else None)
    else:
        raise SynthloomError(
            "no field holds free text (more than a few words) or a conversation; init needs "
            f"examples of what the model should write (fields: {', '.join(names)})"
        )
    found.axes = {f.name: f.values for f in categorical}
    skipped = [f.name for f in fields if f.name not in found.axes and f.name not in documents]
    skipped = [s for s in skipped if s not in (found.label_field, found.messages_field)]
    if skipped:
        found.notes.append(f"not used: {', '.join(skipped)} (neither text nor a few values)")
    return found


def _describe(name: str, values: list[Any]) -> FieldInfo:
    present = [v for v in values if v is not None and v != ""]
    kinds = Counter(_kind(v) for v in present)
    kind = kinds.most_common(1)[0][0] if kinds else "string"
    counts = Counter(str(v) for v in present if not isinstance(v, list | dict))
    info = FieldInfo(
        name, kind, len(present), len(counts), values=[v for v, _ in counts.most_common()]
    )
    texts = [v for v in present if isinstance(v, str)]
    if texts:
        info.min_chars = min(map(len, texts))
        info.max_chars = max(map(len, texts))
        info.mean_words = sum(len(t.split()) for t in texts) / len(texts)
        info.question_share = sum(t.rstrip().endswith("?") for t in texts) / len(texts)
    return info


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        turns = all(isinstance(t, dict) and {"role", "content"} <= set(t) for t in value)
        return "messages" if value and turns else "list"
    if isinstance(value, dict):
        return "object"
    return "string"


def _label_field(candidates: list[FieldInfo]) -> FieldInfo:
    named = [f for f in candidates if f.name.lower() in LABEL_NAMES]
    if named:
        return min(named, key=lambda f: LABEL_NAMES.index(f.name.lower()))
    return min(candidates, key=lambda f: f.distinct)


def _label_examples(rows: list[dict[str, Any]], text: str, label: str) -> dict[str, str]:
    """Each label's meaning, drafted as its shortest seed example: runnable now, and worth
    rewriting in words."""
    found: dict[str, str] = {}
    for row in rows:
        name, example = row.get(label), row.get(text)
        if name is None or not isinstance(example, str):
            continue
        key = str(name)
        if key not in found or len(example) < len(found[key]):
            found[key] = example
    return {k: f'texts like "{clip(v, 80)}"' for k, v in found.items()}


def _pick(names: list[str], preferred: tuple[str, ...]) -> str | None:
    lowered = {n.lower(): n for n in names}
    return next((lowered[p] for p in preferred if p in lowered), None)


def _name(source: Path, folder: Path) -> str:
    base = folder.resolve().name if folder.resolve().name not in ("", ".") else source.stem
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "my-dataset"
    return cleaned


def clip(text: str, n: int) -> str:
    """One line of at most ``n`` characters, for a terminal or a drafted recipe."""
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def draft(found: Inferred, seeds: str, name: str) -> str:
    from synthloom.recipe_draft import recipe_text

    return recipe_text(found, seeds, name)


def init_lines(done: Drafted, seeds: str | Path) -> list[str]:
    """What init inferred, in words, and the next two commands."""
    found = done.inferred
    lines = [f"drafted {done.path} from {seeds} ({found.rows} examples)"]
    if found.kind == "expand":
        pair = f"{found.prompt_field} → {found.response_field}" if found.response_field else ""
        lines.append(f"  kind: expand ({pair or ', '.join(found.documents)})")
    elif found.kind == "label":
        lines.append(
            f"  kind: label (text in {found.text_field!r}, {len(found.labels)} labels from "
            f"{found.label_field!r}: {', '.join(list(found.labels)[:8])})"
        )
    else:
        lines.append(f"  kind: conversation (turns in {found.messages_field!r})")
    for info in found.fields:
        if info.document:
            what = f"text, {info.min_chars}–{info.max_chars} chars"
        elif info.name in found.axes:
            what = f"{info.distinct} values → axis"
        else:
            what = info.kind
        lines.append(f"  {info.name}: {what}")
    lines.extend(f"  note: {note}" for note in found.notes)
    recipe = done.path
    lines += [
        "next:",
        f"  synthloom preview {recipe} -n 3",
        f"  synthloom run {recipe} -o {recipe.parent / 'out'} -n 20",
    ]
    return lines
