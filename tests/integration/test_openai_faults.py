"""The openai backend against a real HTTP server on 127.0.0.1 that fails on purpose."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

from synthloom import run
from synthloom.store.sqlite import STORE_FILE
from tests.fault_server import FaultConfig, FaultServer
from tests.helpers import cli, read_jsonl, write_recipe

RETRYABLE = {"500", "429", "hang", "truncated"}


def test_a_thousand_records_through_faults_are_all_accounted_for(tmp_path: Path) -> None:
    config = FaultConfig(
        latency=0.005,
        p500=0.05,
        p_hang=0.02,
        p429=0.03,
        p_malformed=0.01,
        retry_after=0.2,
        hang_seconds=20,
        seed=11,
    )
    with FaultServer(config) as server:
        recipe = write_recipe(
            tmp_path,
            model={
                "backend": "openai",
                "base_url": server.url,
                "model": "fault-model",
                "concurrency": 64,
                "timeout": 0.5,
                "max_retries": 6,
                "max_reasks": 2,
            },
        )
        summary = run(recipe, tmp_path / "out", n=1000)
        log = list(server.log)

    accepted = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    failed = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    ids = [r["id"] for r in accepted + failed]
    assert len(ids) == 1000
    assert len(set(ids)) == 1000
    assert summary.accepted + sum(summary.failed.values()) == 1000

    outcomes = defaultdict(int)
    for call in log:
        outcomes[call.outcome] += 1
    assert all(outcomes[o] > 0 for o in ("500", "429", "hang", "malformed")), outcomes

    # every retryable fault was retried: the same request came again, later
    by_digest: dict[str, list] = defaultdict(list)
    for call in log:
        by_digest[call.digest].append(call)
    exhausted = {r["provenance"]["row"] for r in failed if r["reason"] == "RetriesExhausted"}
    assert len(exhausted) <= 2
    unretried = [
        c
        for calls in by_digest.values()
        for i, c in enumerate(calls)
        if c.outcome in RETRYABLE and i == len(calls) - 1
    ]
    assert len(unretried) <= 7 * len(exhausted), unretried
    # a 429 is retried no sooner than its Retry-After
    for calls in by_digest.values():
        for first, second in pairwise(calls):
            if first.outcome == "429":
                assert second.t - first.t >= 0.2 * 0.95
    # a malformed reply is re-asked with the error (a longer conversation), not retried as is
    reasks = sum(1 for c in log if c.n_messages > 2)
    assert reasks >= outcomes["malformed"]
    assert summary.accepted >= 995


def test_the_api_key_is_sent_but_never_stored_or_logged(tmp_path: Path) -> None:
    secret = "sk-synthloom-test-9f8e7d6c5b4a"  # noqa: S105 - a test value
    with FaultServer(FaultConfig(p500=0.3, seed=3)) as server:
        recipe = write_recipe(
            tmp_path,
            model={
                "backend": "openai",
                "base_url": server.url,
                "model": "m",
                "api_key_env": "SYNTHLOOM_TEST_KEY",
                "max_retries": 5,
            },
        )
        env = {"SYNTHLOOM_TEST_KEY": secret, "PATH": "/usr/bin:/bin"}
        result = cli("run", str(recipe), "-o", str(tmp_path / "out"), "-n", "30", env=env)
        assert result.returncode == 0, result.stderr
        assert {c.api_key for c in server.log} == {secret}
    assert secret not in result.stdout + result.stderr
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert (tmp_path / "out" / STORE_FILE).exists()


def test_a_missing_key_variable_fails_before_any_call(tmp_path: Path) -> None:
    with FaultServer() as server:
        recipe = write_recipe(
            tmp_path,
            model={
                "backend": "openai",
                "base_url": server.url,
                "model": "m",
                "api_key_env": "SYNTHLOOM_UNSET_KEY",
            },
        )
        result = cli("run", str(recipe), "-o", str(tmp_path / "out"), env={"PATH": "/usr/bin:/bin"})
        assert server.log == []
    assert result.returncode == 2
    assert "model.api_key_env: environment variable SYNTHLOOM_UNSET_KEY is not set" in result.stderr
