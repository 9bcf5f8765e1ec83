"""Integration tests run the real embedded model (and, later, real local servers)."""

from __future__ import annotations

import pytest

from synthloom.backends.base import ALLOW_MODEL_REQUESTS_ENV


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _allow_model_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_MODEL_REQUESTS_ENV, "1")
