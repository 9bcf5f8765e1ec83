"""Several servers behind one backend: each call goes to the live endpoint with the fewest calls
in flight, and an endpoint that keeps failing is taken out for a cool-down.

Fewest-in-flight rather than round-robin: a slower server (a smaller GPU, a longer queue) holds
its calls longer and so is sent fewer, with nothing measured. Taking a failing endpoint out is
what makes that safe: a dead server refuses connections at once, so it would always have the
fewest calls in flight and draw every retry the engine makes. While out, its calls go to the
others; when every endpoint is out, the one back soonest is used anyway, so a run never waits on
the pool itself (the engine's back-off paces it). One endpoint is a pool of one: the same path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit, urlunsplit


class Outcome(Enum):
    OK = "ok"
    FAULT = "fault"  # the server's fault (refused, reset, 5xx, 429, no reply): counts against it
    REFUSED = "refused"  # the request's fault (a 400): says nothing about the server's health


@dataclass(slots=True)
class Endpoint:
    url: str
    cooldown: float  # the length of its next cool-down: doubles while it keeps failing
    in_flight: int = 0
    calls: int = 0
    ok: int = 0
    failed: int = 0
    taken_out: int = 0
    streak: int = 0  # failures since its last success
    back_at: float = float("-inf")  # the clock time its current cool-down ends
    last_pick: int = 0  # the pool's pick count when it was last picked
    out_at_pick: int = 0  # ... and when it was last taken out

    def counts(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "ok": self.ok,
            "failed": self.failed,
            "taken_out": self.taken_out,
        }


@dataclass(slots=True, frozen=True)
class Lease:
    """One call's hold on an endpoint, handed back to :meth:`Endpoints.release`."""

    endpoint: Endpoint
    pick: int  # the pool's pick count when it was handed out: orders calls and take-outs

    @property
    def url(self) -> str:
        return self.endpoint.url


class Endpoints:
    """The pool. Not thread-safe: it lives on the event loop of the backend that owns it."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        take_out_after: int = 3,
        cooldown: float = 30.0,
        max_cooldown: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("an endpoint pool needs at least one URL")
        self._all = [Endpoint(url, cooldown) for url in urls]
        self.take_out_after = take_out_after
        self.base_cooldown = cooldown
        self.max_cooldown = max_cooldown
        self._clock = clock
        self._picks = 0

    def __len__(self) -> int:
        return len(self._all)

    @property
    def urls(self) -> list[str]:
        return [e.url for e in self._all]

    def acquire(self) -> Lease:
        """The endpoint for the next call, counted in flight until released."""
        now = self._clock()
        usable = [e for e in self._all if self._usable(e, now)]
        if usable:  # ties go to the least recently picked, so equal servers alternate
            chosen = min(usable, key=lambda e: (e.in_flight, e.last_pick))
        else:
            chosen = min(self._all, key=lambda e: (e.back_at, e.in_flight, e.last_pick))
        self._picks += 1
        chosen.last_pick = self._picks
        chosen.in_flight += 1
        chosen.calls += 1
        return Lease(chosen, self._picks)

    def _usable(self, endpoint: Endpoint, now: float) -> bool:
        if now < endpoint.back_at:
            return False
        # back from a cool-down but not yet proven: one trial call at a time, so a server
        # still down costs one failed call, not a wave of them
        return endpoint.streak < self.take_out_after or endpoint.in_flight == 0

    def release(self, lease: Lease, outcome: Outcome) -> None:
        endpoint = lease.endpoint
        endpoint.in_flight -= 1
        if outcome is Outcome.OK:
            endpoint.ok += 1
            endpoint.streak = 0
            endpoint.cooldown = self.base_cooldown
            return
        endpoint.failed += 1
        # a call sent before the endpoint was taken out may fail late (a hang ends only at the
        # engine's timeout): that was already acted on, so it neither extends the cool-down nor
        # takes the endpoint out again after it is back
        if outcome is Outcome.REFUSED or lease.pick <= endpoint.out_at_pick:
            return
        endpoint.streak += 1
        now = self._clock()
        if endpoint.streak >= self.take_out_after and now >= endpoint.back_at:
            endpoint.taken_out += 1
            endpoint.out_at_pick = self._picks
            endpoint.back_at = now + endpoint.cooldown
            endpoint.cooldown = min(self.max_cooldown, endpoint.cooldown * 2)

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts per endpoint, keyed by its URL less any user:password or query string."""
        return {display_url(e.url): e.counts() for e in self._all}


def display_url(url: str) -> str:
    """A URL safe to print or store: credentials in it (user:key@host, ?api-key=) are dropped."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
