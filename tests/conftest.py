"""Fixtures shared by the unit and integration tests of the export: an offline
``datasets.load_dataset`` and two small fake-backend runs."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from synthloom import FakeBackend, run
from tests.helpers import write_recipe
from tests.unit.test_tasks_instruct import MIXED_TASKS, QUESTIONS, preference_responder
from tests.unit.test_tasks_instruct import write_recipe as instruct_recipe

Loader = Callable[..., Any]


# -- offline loading ----------------------------------------------------------------------------
@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Loader:
    """``datasets.load_dataset``, offline and with a cache under ``tmp_path``.

    The variables are set for anything that reads them late; ``datasets`` and
    ``huggingface_hub`` read them once at import, so their constants are set too (another test
    may have imported them first). ``cache_dir`` is passed on every call for the same reason."""
    cache = tmp_path / "hf-cache"
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(name, "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    import datasets
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)

    def refuse(sock: socket.socket, address: Any) -> None:
        if sock.family != socket.AF_UNIX:
            raise AssertionError(f"a network connection was attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)

    def load_dataset(*args: Any, **kwargs: Any) -> Any:
        return datasets.load_dataset(*args, cache_dir=str(cache), **kwargs)

    return load_dataset


# -- runs ---------------------------------------------------------------------------------------
@pytest.fixture
def qa_run(tmp_path: Path) -> Path:
    """20 accepted question/answer records from 12 seeds (tests/helpers.py's recipe), with a
    license so the hf folder can be written."""
    out = tmp_path / "qa"
    summary = run(write_recipe(tmp_path, license="cc-by-4.0"), out, n=20, backend=FakeBackend())
    assert summary.accepted == 20
    return out


@pytest.fixture
def preference_run(tmp_path: Path) -> Path:
    """An expand task and a preference task in one run (as test_tasks_instruct's mixed_run),
    in folders of its own so a test can use qa_run beside it."""
    out = tmp_path / "pref"
    folder = tmp_path / "pref-recipe"
    folder.mkdir()
    summary = run(
        instruct_recipe(folder, MIXED_TASKS, seeds=QUESTIONS),
        out,
        n=3,
        backend=FakeBackend(preference_responder()),
    )
    assert summary.accepted == 6
    return out
