"""The dataset card (``README.md``) of a Hugging Face export folder.

A card is where a reader of the Hub decides whether to train on a set, so it states what the
run measured and nothing it did not: every figure comes from the recipe, the export's
composition, the run summary, the review and the report. Strings from the recipe or the data
are user text: they are flattened and escaped where they could break the Markdown, and no
record text is ever copied in (a card is read by people who never opened the rows)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from synthloom.errors import SynthloomError
from synthloom.export.composition import REAL, SYNTHETIC, Composition

# HF's size_categories in order: bucket i holds the counts below 10 ** (i + 3)
_SIZES: tuple[str, ...] = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M")
_SIZES += ("100M<n<1B", "1B<n<10B", "10B<n<100B", "100B<n<1T")
_CATEGORY = {"label": "text-classification", "translate": "translation"}
_MAX_AXIS_VALUES = 8
_SHARE_GAP = 0.05  # a real share further than this from the asked one is a limitation
_SMALL_MODELS = ("embedded", "SmolLM2-135M")
_METRICS = (
    ("lexical.distinct_2", "distinct-2 (share of unique word pairs)"),
    ("lexical.self_bleu", "self-BLEU (phrase reuse between records)"),
    ("embedding.vendi", "Vendi score (effective number of distinct meanings)"),
    ("collapse.coverage", "coverage of the reference's clusters"),
    ("collapse.tail_retention", "tail retention (rare reference clusters kept)"),
    ("realism.precision", "precision (records that look like the reference)"),
    ("realism.recall", "recall (share of the reference the records cover)"),
    ("realism.mauve.value", "MAUVE"),
    ("realism.c2st_auc", "classifier two-sample AUC (0.5: indistinguishable)"),
)


@dataclass(frozen=True, slots=True)
class CardInfo:
    """Everything the card states, gathered by the exporter, so rendering stays a pure
    function that tests can feed by hand."""

    recipe: dict[str, Any]
    composition: Composition
    split_files: dict[str, str]
    row_format: str
    task_kinds: dict[str, str]
    template_hashes: dict[str, list[str]]
    models: list[str]
    summary: dict[str, Any] | None
    review: dict[str, Any] | None
    metrics: dict[str, Any] | None
    language: list[str] | None
    synthloom_version: str


def size_category(rows: int) -> str:
    """HF's bucket for ``rows``: the Hub filters on these exact strings."""
    for i, name in enumerate(_SIZES):
        if rows < 10 ** (i + 3):
            return name
    return "n>1T"


def task_categories(kinds: Iterable[str]) -> list[str]:
    """Only labelling and translation have narrower Hub categories; every other task writes
    free text, which the Hub files under text-generation."""
    return sorted({_CATEGORY.get(kind, "text-generation") for kind in kinds})


def dataset_card(info: CardInfo) -> str:
    """The card's text. A licence is required: the Hub shows it first and nobody can
    reuse a set without one, so it is not guessed."""
    license_id = info.recipe.get("license")
    if not license_id:
        raise SynthloomError(
            "the hf export needs the recipe's top-level license: key (an id such as cc-by-4.0 "
            "or apache-2.0) for the dataset card"
        )
    front: dict[str, Any] = {"license": license_id}
    if info.language:
        front["language"] = list(info.language)
    # every run writes text, so a run with no task kinds still has the broadest text category
    front["task_categories"] = task_categories(info.task_kinds.values()) or ["text-generation"]
    front["size_categories"] = [size_category(info.composition.rows)]
    front["tags"] = ["synthetic", "synthloom"]
    front["pretty_name"] = info.recipe.get("name")
    files = [{"split": s, "path": p} for s, p in info.split_files.items()]
    front["configs"] = [{"config_name": "default", "data_files": files}]
    head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
    sections = (_intro, _splits, _making, _gate, _review, _metrics, _limitations)
    body = "\n\n".join(block for section in sections for block in section(info))
    return f"---\n{head}---\n\n{body}\n"


def _inline(value: Any) -> str:
    """One line: a newline in user text would end a table row or start a new block."""
    return " ".join(str(value).split())


def _cell(value: Any) -> str:
    """An unescaped pipe would add a column; backslashes go first so that a value's own
    backslash cannot cancel the escape."""
    return _inline(value).replace("\\", "\\\\").replace("|", "\\|")


def _table(header: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> str:
    lines = [header, *rows]
    out = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in lines]
    out.insert(1, "|" + "---|" * len(header))
    return "\n".join(out)


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _pct(share: float) -> str:
    return f"{share:.1%}"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "n/a"
    return _inline(value)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _counts(counts: Mapping[str, int]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return ", ".join(f"{_inline(reason)} ({n})" for reason, n in ordered)


def _models(info: CardInfo) -> str:
    if info.models:
        return ", ".join(_inline(m) for m in info.models)
    model = info.recipe.get("model") or {}
    return _inline(f"{model.get('backend')}:{model.get('model') or 'its default model'}")


def _intro(info: CardInfo) -> list[str]:
    description = str(info.recipe.get("description") or "").strip()
    if not description:
        kinds = ", ".join(sorted({_inline(k) for k in info.task_kinds.values()})) or "text"
        seeds = info.recipe.get("seeds")
        if isinstance(seeds, list):
            source = f"from {_plural(len(seeds), 'seed example')}"
        else:
            source = "from seed examples" if seeds else "without seed examples"
        description = f"Synthetic {kinds} data made by synthloom {source}."
    return [
        f"# {_inline(info.recipe.get('name'))}",
        description,
        f"Every row is synthetic unless its `origin` column says `{REAL}`. "
        f"The synthetic rows were generated by {_models(info)}.",
    ]


def _splits(info: CardInfo) -> list[str]:
    comp = info.composition
    rows = [
        (s, sum(n.values()), n.get(REAL, 0), n.get(SYNTHETIC, 0)) for s, n in comp.splits.items()
    ]
    rows.append(("total", comp.rows, comp.real_rows, comp.rows - comp.real_rows))
    files = ", ".join(f"{_inline(s)} in `{_inline(p)}`" for s, p in info.split_files.items())
    facts = [
        f"Files: {files}. Rows are in the {_inline(info.row_format)} format, with an `origin` "
        "column (real or synthetic) and a `record_id` column.",
        "A synthetic record and the seed it was made from are always on the same side of a "
        "split, so no held-out split tests on a paraphrase of a training seed.",
    ]
    if comp.real_source is None:
        facts.append("No real rows were asked for: the set is synthetic only.")
    else:
        facts.append(
            f"Real rows make up {_pct(comp.real_share)} of the set ({_pct(comp.real_fraction)} "
            f"was asked for). They come from {_inline(comp.real_source)}: "
            f"{_plural(comp.real_rows, 'row')} from {comp.real_distinct} distinct real "
            f"{'example' if comp.real_distinct == 1 else 'examples'} "
            f"({comp.real_available} usable)."
        )
    if comp.real_left_out:
        left = sum(comp.real_left_out.values())
        facts.append(f"{left} real rows were left out: {_counts(comp.real_left_out)}.")
    if comp.synthetic_duplicates:
        facts.append(
            f"{comp.synthetic_duplicates} synthetic rows were dropped because a real row has "
            "the same prompt."
        )
    if comp.synthetic_capped:
        facts.append(
            f"{comp.synthetic_capped} synthetic rows were left out to hold the real share."
        )
    facts += [_inline(note) for note in comp.notes]
    header = ("split", "rows", REAL, SYNTHETIC)
    return ["## Splits and the real/synthetic mix", _table(header, rows), _bullets(facts)]


def _axis_values(spec: Any) -> str:
    """One line per axis, whichever of its forms the recipe used."""
    if isinstance(spec, dict):
        if "file" in spec:
            return f"from {_inline(spec['file'])}"
        if "min" in spec and "max" in spec:
            return f"{_number(spec['min'])}–{_number(spec['max'])}"
        if "depends_on" in spec:
            seen: dict[str, None] = {}
            for case in [*(spec.get("cases") or {}).values(), spec.get("default") or []]:
                seen.update(dict.fromkeys(_listed(case)))
            return f"depends on {_inline(spec['depends_on'])}: {_shorten(list(seen))}"
    return _shorten(_listed(spec))


def _listed(spec: Any) -> list[str]:
    values = spec.get("values", []) if isinstance(spec, dict) else spec
    return [_inline(v) for v in (values if isinstance(values, dict | list) else [values])]


def _shorten(values: list[str]) -> str:
    more = len(values) - _MAX_AXIS_VALUES
    shown = ", ".join(values[:_MAX_AXIS_VALUES])
    return f"{shown} …and {more} more" if more > 0 else shown


def _making(info: CardInfo) -> list[str]:
    model = info.recipe.get("model") or {}
    sampling = [f"temperature {_number(model.get('temperature'))}"]
    if model.get("top_p") is not None:
        sampling.append(f"top_p {_number(model['top_p'])}")
    if model.get("max_tokens") is not None:
        sampling.append(f"at most {_number(model['max_tokens'])} tokens a reply")
    recipe_tasks = info.recipe.get("tasks") or []
    templates = {t.get("name") or t.get("kind"): t.get("template") for t in recipe_tasks}
    hashes = info.template_hashes
    tasks = [
        (name, kind, templates.get(name) or "built in", ", ".join(hashes.get(name, [])))
        for name, kind in info.task_kinds.items()
    ]
    blocks = [
        "## How it was made",
        f"Model: {_models(info)}; sampling: {', '.join(sampling)}.",
        _table(("task", "kind", "template", "template hash"), tasks),
    ]
    axes = [(name, _axis_values(spec)) for name, spec in (info.recipe.get("axes") or {}).items()]
    if axes:
        blocks += ["Each record was planned from one value of each axis:"]
        blocks += [_table(("axis", "values"), axes)]
    blocks.append(
        f"Random seed: {_number(info.recipe.get('random_seed'))}. "
        f"Made with synthloom {_inline(info.synthloom_version)}."
    )
    return blocks


def _gate(info: CardInfo) -> list[str]:
    summary = info.summary
    if summary is None:
        return ["## Quality gate", "There is no run summary, so the gate's figures are unknown."]
    kept = summary.get("accepted")
    blocks = ["## Quality gate", f"The run planned {summary.get('planned')} records, kept {kept}."]
    steps = summary.get("funnel") or []
    if steps:
        flow = [f"{_inline(steps[0][0])} {steps[0][1]}"]
        flow += [f"{_inline(step)} −{n}" for step, n in steps[1:]]
        blocks.append(f"Funnel: {' → '.join(flow)} → kept {kept}.")
    drops = [("rejected", r, n) for r, n in (summary.get("rejected") or {}).items()]
    drops += [("failed", r, n) for r, n in (summary.get("failed") or {}).items()]
    if drops:
        drops.sort(key=lambda d: (-d[2], d[0], str(d[1])))
        blocks.append(_table(("outcome", "reason", "records"), drops))
    return blocks


def _review(info: CardInfo) -> list[str]:
    review = info.review
    if review is None:
        return ["## Human review", "No human review was recorded."]
    blocks = [
        "## Human review",
        f"Reviewers were given a random sample of {review.get('sample')} of the "
        f"{review.get('population')} records.",
    ]
    if review.get("rate") is None:
        return [*blocks, "No record of the sample has been reviewed yet."]
    blocks.append(
        f"Acceptance rate {_pct(review['rate'])} (95% interval {_pct(review['low'])}–"
        f"{_pct(review['high'])}): {review.get('accepted')} of {review.get('reviewed')} "
        f"reviewed records accepted, {review.get('edited', 0)} edited."
    )
    if review.get("reasons"):
        blocks.append(f"Reasons given for rejecting: {_counts(review['reasons'])}.")
    return blocks


def _lookup(metrics: Mapping[str, Any], dotted: str) -> Any:
    node: Any = metrics
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _metrics(info: CardInfo) -> list[str]:
    metrics = info.metrics
    if metrics is None:
        return [
            "## Metrics",
            "No quality report was computed for this set; `synthloom report OUTDIR` computes "
            "one from the run directory.",
        ]
    source = (metrics.get("reference") or {}).get("source")
    blocks = [
        "## Metrics",
        f"From synthloom's report, against the reference {_inline(source)}."
        if source
        else "From synthloom's report, with no reference set.",
    ]
    found = [
        (label, _number(v)) for key, label in _METRICS if (v := _lookup(metrics, key)) is not None
    ]
    if found:
        blocks.append(_table(("metric", "value"), found))
    warnings = metrics.get("warnings") or []
    blocks.append("### Warnings")
    if not warnings:
        return [*blocks, "The report raised no warnings."]
    items = [
        # a finding without a single figure (an axis with no effect) is said in words only
        f"{_inline(w.get('metric'))}"
        + (
            f" = {_number(w.get('value'))} (threshold {_number(w.get('threshold'))})"
            if w.get("value") is not None
            else ""
        )
        + f": {_inline(w.get('message'))}"
        for w in warnings
    ]
    return [*blocks, _bullets(items)]


def _limitations(info: CardInfo) -> list[str]:
    comp = info.composition
    items = [
        f"Synthetic data from {_models(info)} may contain errors or bias that the automated "
        "checks did not catch."
    ]
    if any(small in m for m in info.models for small in _SMALL_MODELS):
        items.append("A small demo model wrote the synthetic rows: expect weak answers.")
    if info.review is None:
        items.append("No human review was recorded: no person has checked a sample of the rows.")
    warnings = (info.metrics or {}).get("warnings") or []
    if warnings:
        items.append(f"The report raised {_plural(len(warnings), 'warning')} (above).")
    if comp.real_source is not None and abs(comp.real_share - comp.real_fraction) > _SHARE_GAP:
        items.append(
            f"The real share reached ({_pct(comp.real_share)}) is far from the share asked "
            f"({_pct(comp.real_fraction)})."
        )
    if comp.synthetic_capped:
        items.append(f"{comp.synthetic_capped} synthetic rows were capped to hold the real share.")
    if info.language is None:
        items.append("The language of the data is not declared.")
    return ["## Known limitations", _bullets(items)]
