"""The generation engine: bounded concurrency, cache-first calls, retries, validate and re-ask.

It streams: each record is committed to the store the moment its row is done, so a crash loses
at most the calls in flight, and a re-run serves every completed call from the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from synthloom.backends.base import Backend, Completion, GenerationRequest, Message
from synthloom.engine.job import Dropped, Job
from synthloom.engine.limits import AdaptiveLimit, Budget, Pacer, Pacing
from synthloom.engine.retry import RetryPolicy
from synthloom.engine.storage import CacheEntry, EngineStore, RecordSink, StoreSink
from synthloom.errors import BackendError, BudgetExhausted, GenerationFailed
from synthloom.records import Provenance, Record, Status, utcnow
from synthloom.schema import OutputSchema
from synthloom.tokens import count_request_tokens

if TYPE_CHECKING:
    from synthloom.quality.gate import Gate

REASK = (
    "Your reply could not be used: {problem}. Reply again with only one JSON object that "
    "matches the schema, with no other text."
)


class Engine:
    def __init__(
        self,
        backend: Backend,
        store: EngineStore,
        *,
        concurrency: int = 8,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        max_reasks: int = 2,
        on_record: Callable[[Record], None] | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        budget: Budget | None = None,
        gate: Gate | None = None,
        gated: set[str] | None = None,
        pacing: Pacing | None = None,
        sink: RecordSink | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        limit = backend.max_concurrency
        self.concurrency = max(1, min(concurrency, limit) if limit else concurrency)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_reasks = max_reasks
        self.on_record = on_record
        local = Pacer(rpm, tpm, budget)
        # ``pacing``: limits shared with other engines (a Ray run's shards); else this one's own
        chosen = pacing or local
        idle = isinstance(chosen, Pacer) and not chosen.active
        self.pacing: Pacing | None = None if idle else chosen  # nothing to ask: skip the awaits
        self.sink: RecordSink = sink if sink is not None else StoreSink(store)
        self.gate = gate  # the quality checks, applied to each record of the ``gated`` tasks
        self.gated = gated or set()
        self.adaptive = AdaptiveLimit(self.concurrency)
        self.model_calls = 0
        self.cache_hits = 0
        self._identity = {"backend": backend.name, "model": backend.model_id}

    async def run(self, jobs: Iterator[Job]) -> None:
        """Run every job. Workers pull from one shared iterator, so jobs are built lazily and
        memory stays flat however large the plan is."""

        async def worker() -> None:
            for job in jobs:  # next() is synchronous: no two workers get the same job
                try:
                    record = await self.run_job(job)
                except BudgetExhausted:
                    await self.sink.abandon(job)
                    return  # the row stays unstarted; a re-run with more budget resumes it
                if self.on_record is not None:
                    self.on_record(record)

        with self.gate.running() if self.gate is not None else nullcontext():
            async with asyncio.TaskGroup() as group:
                for _ in range(self.concurrency):
                    group.create_task(worker())

    async def stopped(self) -> str | None:
        """Why the budget stopped this engine, or None."""
        return await self.pacing.stopped() if self.pacing is not None else None

    async def run_job(self, job: Job) -> Record:
        """Produce the row's record and hand it (with the call that made it) to the sink."""
        record, pending = await self._produce(job)
        return await self.sink.put(job, record, pending)

    async def _produce(self, job: Job) -> tuple[Record, CacheEntry | None]:
        prov = job.provenance
        prov.started_at = utcnow()
        session = _RowCalls(self, job)
        try:
            data = await job.program(session)
        except BudgetExhausted:
            raise
        except Dropped as drop:
            prov.finished_at = utcnow()
            record = Record(
                job.record_id,
                job.task,
                drop.data,
                prov,
                status=Status.REJECTED,
                reason=drop.reason,
                error=drop.detail,
            )
            return record, session.pending
        except GenerationFailed as exc:
            failed = self._failed(job, exc.error_class, str(exc), session.last_text)
            return failed, session.pending  # its completed calls are kept, like any others
        except Exception as exc:  # a bug or an unexpected backend fault: a failed row, not a gap
            failed = self._failed(job, type(exc).__name__, str(exc), session.last_text)
            return failed, session.pending
        record = Record(job.record_id, job.task, data, prov)
        if self.gate is not None and job.task in self.gated:
            try:
                record = await self.gate.screen(record, session)
            except BudgetExhausted:
                raise
            except Exception as exc:  # a broken check fails the row; its data is kept
                record.status = Status.FAILED
                record.reason = type(exc).__name__
                record.error = f"quality check failed: {type(exc).__name__}: {exc}"
        prov.finished_at = utcnow()
        return record, session.pending

    def _failed(self, job: Job, error_class: str, message: str, last: str | None) -> Record:
        job.provenance.finished_at = utcnow()
        data = {"last_output": last} if last is not None else {}
        return Record(
            job.record_id,
            job.task,
            data,
            job.provenance,
            status=Status.FAILED,
            reason=error_class,
            error=f"{error_class}: {message}",
        )

    def cache_key(self, request: GenerationRequest, sample: int, step: int = 0) -> str:
        payload = {**self._identity, "sample": sample, **request.payload()}
        if step:  # absent for a row's first call, so single-call rows keep their keys
            payload["step"] = step
        return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()

    async def _call(
        self, request: GenerationRequest, sample: int, prov: Provenance, step: int = 0
    ) -> tuple[Completion, CacheEntry | None]:
        """The completion, and the cache entry still to commit when it came from the backend."""
        key = self.cache_key(request, sample, step)
        cached = self.store.cache_get(key)
        if cached is not None:
            self.cache_hits += 1
            prov.cached_calls += 1
            return Completion.from_dict(cached), None
        prompt_estimate = count_request_tokens(request)
        retry = 0
        while True:
            completion, error = await self._attempt(request, prompt_estimate)
            if completion is not None:
                self.model_calls += 1
                return completion, (key, completion.to_dict())
            assert error is not None
            if not error.retryable or retry >= self.retry.max_retries:
                raise GenerationFailed(
                    str(error),
                    error_class="BackendError" if not error.retryable else "RetriesExhausted",
                    attempts=retry + 1,
                )
            self.store.log_event(
                "retry", key=key, retry=retry + 1, error=str(error), status=error.status
            )
            await asyncio.sleep(self.retry.delay(retry, error.retry_after))
            retry += 1

    async def _attempt(
        self, request: GenerationRequest, prompt_estimate: int
    ) -> tuple[Completion | None, BackendError | None]:
        """One paced call: budget reserved, rate limits waited for, in-flight limit held."""
        pacing = self.pacing
        ticket = await pacing.admit(prompt_estimate, request.max_tokens) if pacing else None
        completion: Completion | None = None
        error: BackendError | None = None
        started = time.monotonic()
        async with self.adaptive:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # (Ctrl-C) that lands as the call completes, and the run would go on
                async with asyncio.timeout(self.timeout):
                    completion = await self.backend.generate(request)
            except TimeoutError:
                error = BackendError(
                    f"no reply within {self.timeout:g}s ({time.monotonic() - started:.1f}s)",
                    retryable=True,
                )
            except BackendError as exc:
                error = exc
        used = (0, 0)
        if completion is not None:
            used = (completion.usage.prompt_tokens, completion.usage.completion_tokens)
            self.adaptive.succeeded()
        elif error is not None and error.status == 429:
            self.adaptive.throttled()
        if pacing is not None and ticket is not None:
            await pacing.settle(ticket, *used)
        return completion, error


class _RowCalls:
    """The ``Calls`` a job's program gets: every call goes through the engine's cache, retries
    and pacing, and is counted into the row's provenance. A completed call is made durable
    before the next one starts; the row's last call is committed with its record."""

    def __init__(self, engine: Engine, job: Job) -> None:
        self.engine = engine
        self.job = job
        self.pending: CacheEntry | None = None
        self.last_text: str | None = None
        self._step = 0

    async def complete(self, request: GenerationRequest) -> Completion:
        if self.pending is not None:
            self.engine.store.cache_put(*self.pending)
            self.pending = None
        prov = self.job.provenance
        # the step keeps two equal requests of one row apart (two candidates at one setting)
        step, self._step = self._step, self._step + 1
        completion, self.pending = await self.engine._call(request, self.job.sample, prov, step)
        prov.attempts += 1
        prov.prompt_tokens += completion.usage.prompt_tokens
        prov.completion_tokens += completion.usage.completion_tokens
        self.last_text = completion.text
        return completion

    async def json(self, request: GenerationRequest, schema: OutputSchema) -> dict[str, Any]:
        messages: list[Message] = list(request.messages)
        problem = ""
        for attempt in range(self.engine.max_reasks + 1):
            ask = request if attempt == 0 else replace(request, messages=tuple(messages))
            completion = await self.complete(ask)
            try:
                return schema.parse(completion.text)
            except ValueError as exc:
                problem = str(exc)
            if completion.finish_reason == "length":
                problem += " (the reply was cut off at the token limit; be shorter)"
            if request.is_raw:
                break  # a raw continuation has no conversation to re-ask in
            messages.append({"role": "assistant", "content": completion.text})
            messages.append({"role": "user", "content": REASK.format(problem=problem)})
        raise GenerationFailed(
            f"no valid output after {self.job.provenance.attempts} attempts: {problem}",
            error_class="InvalidOutput",
            attempts=self.job.provenance.attempts,
            last_output=self.last_text,
        )
