"""The flagship recipe pointed at a real OpenAI-compatible server: llama-cpp-python's own,
serving the embedded GGUF on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from synthloom import ModelSettings, load_recipe, run
from synthloom.backends.embedded import default_model_path
from synthloom.store.sqlite import RunStore
from tests.helpers import read_jsonl

FLAGSHIP = Path(__file__).parents[2] / "examples" / "post-surgical-care" / "recipe.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(default_model_path()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2):  # noqa: S310 - loopback http
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("llama_cpp.server did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_flagship_against_llama_cpp_server_gives_schema_valid_records(
    llama_server: str, tmp_path: Path
) -> None:
    recipe = load_recipe(FLAGSHIP)
    # the junk heuristics drop most of what SmolLM2-135M writes (tests/data/smollm2_junk.jsonl)
    # and this test needs its four rows kept
    recipe.quality.heuristics = None
    recipe.model = ModelSettings(
        backend="openai",
        base_url=llama_server,
        model="smollm2-135m",
        temperature=0.8,
        top_p=0.95,
        max_tokens=400,
        concurrency=2,
        timeout=120,
    )
    summary = run(recipe, tmp_path / "out", n=4)
    assert summary.accepted == 4, (tmp_path / "out" / "rejected.jsonl").read_text()
    schema = {
        "type": "object",
        "properties": {
            "question": {"type": "string", "minLength": 15, "maxLength": 300},
            "answer": {"type": "string", "minLength": 40, "maxLength": 800},
        },
        "required": ["question", "answer"],
        "additionalProperties": False,
    }
    for row in read_jsonl(tmp_path / "out" / "dataset.jsonl"):
        jsonschema.validate(row["data"], schema)
        assert row["provenance"]["backend"] == "openai"
        assert row["provenance"]["model"] == "smollm2-135m"
        assert row["provenance"]["completion_tokens"] > 0
    # this server takes the schema as {"type": "json_object", "schema": ...}: the backend
    # stepped down to it after the standard form was refused, and said so in the event log
    with RunStore.in_dir(tmp_path / "out") as store:
        retries = [e["error"] for e in store.events("retry")]
    assert any("next: json_object" in error for error in retries)


def test_magpie_uses_the_servers_raw_completions_endpoint(
    llama_server: str, tmp_path: Path
) -> None:
    recipe = load_recipe(Path(__file__).parents[2] / "examples" / "magpie" / "recipe.yaml")
    recipe.model = ModelSettings(
        backend="openai",
        base_url=llama_server,
        model="smollm2-135m",
        temperature=0.7,
        max_tokens=200,
        concurrency=2,
    )
    summary = run(recipe, tmp_path / "out", n=3)
    with RunStore.in_dir(tmp_path / "out") as store:
        records = list(store.planned_records())
    assert len(records) == 3
    assert summary.accepted >= 1, [(r.reason, r.error) for r in records]
    for record in records:
        if record.status.value == "accepted":
            # the instruction is the model's own continuation of the bare pre-query template:
            # the chat markers were stop sequences, so none is left in the text
            assert len(record.data["instruction"].split()) >= 4
            assert "<|im_" not in record.data["instruction"]
            assert record.data["response"].strip()
        else:
            assert record.reason in {"instruction_too_short", "instruction_cut_off"}
