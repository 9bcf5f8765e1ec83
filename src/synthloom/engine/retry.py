"""When to try a failed call again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class RetryPolicy:
    """Full-jitter exponential back-off: many workers that fail together spread their retries
    instead of hitting a recovering server in one wave. A server's Retry-After wins."""

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_delay)
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2**retry))
