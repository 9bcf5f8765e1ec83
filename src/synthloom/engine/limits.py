"""Pacing for a run against a shared server: rate limits, adaptive concurrency, a budget.

All three are plain asyncio objects owned by one engine (no global state): a run sized for
one server never throttles another. A sharded run shares one ``Pacer`` across its shards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from synthloom.errors import BudgetExhausted


class TokenBucket:
    """``rate_per_minute`` units refill continuously; a burst of up to one second's worth (at
    least one unit) may go at once. ``acquire`` waits; ``adjust`` settles an estimate."""

    def __init__(
        self,
        rate_per_minute: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self._sleep = sleep
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self._clock = clock
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, units: float = 1.0) -> None:
        units = min(units, self.capacity)  # one oversized request still gets through, alone
        while True:
            self._refill()
            if self.level >= units - 1e-9:  # float refill can land a hair short of exact
                self.level -= units
                return
            await self._sleep((units - self.level) / self.rate)

    def adjust(self, units: float) -> None:
        """Debit (or credit, if negative) the difference between an estimate and the truth."""
        self.level -= units


class AdaptiveLimit:
    """Additive increase, multiplicative decrease: halve the calls in flight when the server
    throttles, grow back by one per window of successes. One cut per window, so a burst of
    simultaneous 429s does not collapse the limit to 1."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.active = 0
        self._ok_since_cut = 0  # a throttle only cuts again after a success since the last cut
        self._ok_window = 0  # successes counted towards the next +1
        self._cond = asyncio.Condition()
        self.cuts = 0

    async def __aenter__(self) -> None:
        async with self._cond:
            await self._cond.wait_for(lambda: self.active < self.limit)
            self.active += 1

    async def __aexit__(self, *exc: object) -> None:
        async with self._cond:
            self.active -= 1
            self._cond.notify_all()

    def throttled(self) -> None:
        if self.cuts and self._ok_since_cut == 0:
            return  # the calls that were already in flight when we cut: same episode
        self.limit = max(1, self.limit // 2)
        self._ok_since_cut = self._ok_window = 0
        self.cuts += 1

    def succeeded(self) -> None:
        self._ok_since_cut += 1
        self._ok_window += 1
        if self.limit < self.maximum and self._ok_window >= self.limit:
            self.limit += 1
            self._ok_window = 0


@dataclass(slots=True)
class Budget:
    """Stops a run *before* a call could take it past ``max_tokens`` or ``max_cost``: each call
    reserves its worst case (prompt estimate + max_tokens) and settles to what it used."""

    max_tokens: int | None = None
    max_cost: float | None = None
    input_price: float = 0.0  # USD per million tokens
    output_price: float = 0.0
    spent_tokens: int = 0
    spent_cost: float = 0.0
    reserved_tokens: int = 0
    reserved_cost: float = 0.0
    stopped: str | None = None

    def reserve(self, prompt_tokens: int, max_completion: int) -> tuple[int, float]:
        tokens = prompt_tokens + max_completion
        cost = (prompt_tokens * self.input_price + max_completion * self.output_price) / 1e6
        if self.max_tokens is not None and (
            self.spent_tokens + self.reserved_tokens + tokens > self.max_tokens
        ):
            self.stopped = (
                f"token budget: {self.spent_tokens:,} of max_tokens {self.max_tokens:,} used; "
                f"the next call could need {tokens:,} more"
            )
        elif self.max_cost is not None and (
            self.spent_cost + self.reserved_cost + cost > self.max_cost
        ):
            self.stopped = (
                f"cost budget: ${self.spent_cost:.4f} of max_cost ${self.max_cost:.4f} spent; "
                f"the next call could cost ${cost:.4f} more"
            )
        if self.stopped:
            raise BudgetExhausted(self.stopped)
        self.reserved_tokens += tokens
        self.reserved_cost += cost
        return tokens, cost

    def settle(self, reserved: tuple[int, float], prompt: int, completion: int) -> None:
        self.reserved_tokens -= reserved[0]
        self.reserved_cost -= reserved[1]
        self.spent_tokens += prompt + completion
        self.spent_cost += (prompt * self.input_price + completion * self.output_price) / 1e6


Ticket = tuple[int, tuple[int, float] | None]  # (worst-case tokens, the budget's reservation)


class Pacing(Protocol):
    """What the engine asks before and after each model call. One engine owns a ``Pacer``; the
    shards of a Ray run share one through an actor, so limits hold across all of them."""

    async def admit(self, prompt_tokens: int, max_completion: int) -> Ticket:
        """Wait for the rate limits and reserve the budget; raise ``BudgetExhausted``."""
        ...

    async def settle(self, ticket: Ticket, prompt: int, completion: int) -> None:
        """Settle the reservation to what the call used (zeros when it failed)."""
        ...

    async def stopped(self) -> str | None:
        """Why the budget stopped the run, or None."""
        ...


class Pacer:
    """Rate limits and a budget, each optional."""

    def __init__(
        self, rpm: float | None = None, tpm: float | None = None, budget: Budget | None = None
    ) -> None:
        self.rpm = TokenBucket(rpm) if rpm else None
        self.tpm = TokenBucket(tpm) if tpm else None
        self.budget = budget

    @property
    def active(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.budget is not None

    async def admit(self, prompt_tokens: int, max_completion: int) -> Ticket:
        budget = self.budget
        reserved = budget.reserve(prompt_tokens, max_completion) if budget is not None else None
        worst = prompt_tokens + max_completion
        if self.rpm is not None:
            await self.rpm.acquire()
        if self.tpm is not None:
            await self.tpm.acquire(worst)
        return worst, reserved

    async def settle(self, ticket: Ticket, prompt: int, completion: int) -> None:
        worst, reserved = ticket
        if self.tpm is not None:
            self.tpm.adjust(prompt + completion - worst)
        if self.budget is not None and reserved is not None:
            self.budget.settle(reserved, prompt, completion)

    async def stopped(self) -> str | None:
        return self.budget.stopped if self.budget is not None else None
