"""Unit tests never reach a real model: the embedded and openai backends refuse to run."""

from __future__ import annotations

import pytest

from synthloom.backends.base import ALLOW_MODEL_REQUESTS_ENV


@pytest.fixture(autouse=True)
def _no_model_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_MODEL_REQUESTS_ENV, "0")
