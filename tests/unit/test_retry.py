from __future__ import annotations

import random

from synthloom.engine.retry import RetryPolicy


def test_backoff_is_jittered_exponential_within_its_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, rng=random.Random(1))
    for retry in range(6):
        cap = min(8.0, 0.5 * 2**retry)
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole window
        assert min(delays) < cap * 0.2  # ... not bunched at a fixed value


def test_retry_after_wins_but_is_capped() -> None:
    policy = RetryPolicy(max_delay=8.0)
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(5, 60.0) == 8.0
