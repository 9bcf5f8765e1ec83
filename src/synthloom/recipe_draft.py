"""The text of a drafted recipe: YAML written line by line, so it carries comments that tell
a new user what each section does and what to try next (a YAML dumper would drop them).
Every value is dumped by PyYAML, so quoting is never hand-made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from synthloom.scaffold import FieldInfo, Inferred

SUGGESTED_AXES = (
    "# persona: [a first-time user, a busy professional, an expert, a non-native speaker]",
    "# style: [short and direct, detailed, informal]",
    "# reading_level: [grade 6, grade 10, college]",
)


def _y(value: Any) -> str:
    """One YAML value on one line (flow style), quoted where YAML needs it."""
    dumped = yaml.safe_dump(
        value, default_flow_style=True, width=10_000, allow_unicode=True, sort_keys=False
    )
    return dumped.strip().removesuffix("...").strip()


def _title(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def recipe_text(found: Inferred, seeds: str, name: str) -> str:
    fields = {f.name: f for f in found.fields}
    shape = ", ".join(fields)
    lines = [
        f"# Drafted by `synthloom init` from {seeds} ({found.rows} examples): "
        f"{'an' if found.kind[0] in 'aeiou' else 'a'} {found.kind} recipe.",
        "# Read it through and edit what it guessed; then preview a few rows:",
        "#   synthloom preview recipe.yaml -n 3",
        f"name: {_y(name)}",
        f"seeds: {_y(seeds)}{' ' * 4}# fields: {shape}",
        f"target: {min(5000, max(100, 20 * found.rows))}",
        "random_seed: 0",
        "# license: cc-by-4.0          # the dataset card's licence (--format hf needs it)",
        "",
        *_model(found, fields),
        "",
        *_axes(found),
        "",
        "tasks:",
        *_task(found, fields),
        "",
        *_quality(found, fields),
    ]
    return "\n".join(lines) + "\n"


def _model(found: Inferred, fields: dict[str, FieldInfo]) -> list[str]:
    if found.kind == "expand":
        chars = sum(_max_length(fields[d]) for d in found.documents)
        tokens = min(2048, max(128, chars // 3 + 60))
    elif found.kind == "label":
        tokens = min(1024, max(96, _max_length(fields[found.text_field or ""]) // 3 + 40))
    else:
        tokens = 300
    return [
        "model:",
        "  backend: embedded            # SmolLM2-135M, offline: a small demo model. For real",
        "  # data, point at a capable model on any OpenAI-compatible server:",
        "  # backend: openai",
        "  # base_url: http://127.0.0.1:8000/v1   # vLLM, Ollama, llama.cpp server, hosted APIs",
        "  # model: Qwen2.5-7B-Instruct",
        "  # api_key_env: OPENAI_API_KEY           # the NAME of the variable holding the key",
        "  # concurrency: 64",
        "  temperature: 0.8",
        f"  max_tokens: {tokens}",
        "# executor: {kind: ray, shards: 16}    # many workers: pip install 'synthloom[ray]'",
    ]


def _axes(found: Inferred) -> list[str]:
    lines = ["axes:" if found.axes else "axes: {}"]
    if found.axes:
        lines[0] += "                          # from the seeds' own fields with few values"
    lines += [f"  {name}: {_y(values)}" for name, values in found.axes.items()]
    lines.append("  # more ways the data could vary (uncomment and edit):")
    lines += [f"  {line}" for line in SUGGESTED_AXES]
    return lines


def _max_length(info: FieldInfo) -> int:
    return max(info.max_chars + info.max_chars // 2, 20)


def _min_length(info: FieldInfo) -> int:
    return max(1, info.min_chars // 2)


def _task(found: Inferred, fields: dict[str, FieldInfo]) -> list[str]:
    if found.kind == "label":
        text = fields[found.text_field or ""]
        lines = [
            "  - kind: label",
            f"    text_field: {_y(found.text_field)}",
            f"    label_field: {_y(found.label_field)}",
            "    labels:                     # label: what it means (drafted from an example;",
            "                                # say it in words for better data)",
        ]
        lines += [f"      {_y(label)}: {_y(meaning)}" for label, meaning in found.labels.items()]
        return [
            *lines,
            "    few_shot: 2",
            f"    min_length: {_min_length(text)}",
            f"    max_length: {_max_length(text)}",
        ]
    if found.kind == "conversation":
        return _conversation(found)
    lines = [
        "  - kind: expand",
        "    few_shot: 3                 # seeds shown per row",
        "    template: |",
        *(f"      {line}" if line else "" for line in _expand_template(found).splitlines()),
        "    schema:                     # types and lengths from the seeds",
    ]
    for name in found.documents:
        info = fields[name]
        bounds = {"type": "string", "minLength": _min_length(info), "maxLength": _max_length(info)}
        lines.append(f"      {name}: {_y(bounds)}")
    if found.prompt_field and found.response_field:
        lines += [
            f"    prompt_field: {_y(found.prompt_field)}      # the user turn on export",
            f"    response_field: {_y(found.response_field)}  # the assistant turn",
        ]
    return lines


def _expand_template(found: Inferred) -> str:
    tag = ", ".join(f"{a}: {{{{ ex.{a} }}}}" for a in found.axes)
    example = "Example {{ loop.index }}" + (f" ({tag})" if tag else "") + ":"
    body = "\n".join(f"{_title(d)}: {{{{ ex.{d} }}}}" for d in found.documents)
    wants = ", ".join(f"{a.replace('_', ' ')} {{{{ {a} }}}}" for a in found.axes)
    ask = "Write ONE new, different example" + (f" with {wants}" if wants else "")
    return (
        "Here are examples written by people.\n"
        "{% for ex in examples %}\n"
        f"{example}\n{body}\n"
        "{% endfor %}\n"
        f"{ask}.\nKeep the same fields and style. Do not copy the examples."
    )


def _conversation(found: Inferred) -> list[str]:
    field = found.messages_field
    opening = (
        f'{{% for m in seed.{field} if m.role == "user" %}}'
        "{% if loop.first %}{{ m.content }}{% endif %}{% endfor %}"
    )
    template = [
        "You are role-playing a user who is talking to an AI assistant.",
        "Who you are: {{ user }}",
        "{% if transcript %}The conversation so far:",
        "{{ transcript }}",
        "",
        "Write your next message: react to the assistant's last reply or ask a follow-up.",
        "{% else %}A real conversation opened like this (do not copy it):",
        opening,
        "Write your own first message about a similar need.",
        "{% endif %}Write only the message itself, in one to three sentences.",
    ]
    return [
        "  - kind: conversation",
        "    turns: [1, 3]               # user+assistant exchanges, drawn per row",
        "    user_template: |",
        *(f"      {line}" if line else "" for line in template),
    ]


def _quality(found: Inferred, fields: dict[str, FieldInfo]) -> list[str]:
    checked = found.documents
    lines = ["quality:                       # every drop is kept, with its reason"]
    if checked:
        lines.append(f"  fields: {_y(checked)}")
    shortest = min((fields[d].min_chars for d in found.documents), default=0)
    minimum = max(10, shortest // 2)
    lines += [
        f"  validators: {{min_chars: {minimum}, refusals: true}}",
        "  # validators.language: en     # pip install 'synthloom[lang]'",
        *_heuristics(found, fields),
        "  dedup: {exact: true, near: 0.85, against_seeds: true}",
        "  privacy: {pii: redact, max_seed_similarity: 0.8}",
        "  # semantic dedup and relevance checks: pip install 'synthloom[embed]'",
        "  # judge: {criteria: {quality: what a 5 looks like}, min_score: 3.5}   # a capable model",
    ]
    return lines


def _heuristics(found: Inferred, fields: dict[str, FieldInfo]) -> list[str]:
    """The junk checks that need no model: repetition, debris, echoed labels and field
    names, and the shape of each field as the seeds have it."""
    shapes: dict[str, dict[str, Any]] = {}
    for name in found.documents:
        info = fields[name]
        shape: dict[str, Any] = {"min_words": max(1, int(info.mean_words // 3))}
        if info.question_share >= 0.8:
            shape["question"] = True
        shapes[name] = shape
    if not shapes:
        return ["  heuristics: {}"]
    return ["  heuristics:", f"    fields: {_y(shapes)}"]
