"""How close synthloom gets to the transport's ceiling against a real server.

Against the fault server (no faults, fixed 50 ms latency) running in its own process, the same
N requests at the same concurrency, in one run:

1. a bare aiohttp loop (session + semaphore, nothing else): the practical ceiling;
2. the loop a user would write with the openai SDK's AsyncOpenAI (default transport, and the
   aiohttp transport where the SDK has it);
3. synthloom: a full run (template render, cache lookup, the call, JSON-schema validation,
   SQLite commit of the cache entry and the record), so its figure includes all of that.

    .venv/bin/python bench/orchestration.py [--requests 2000] [--concurrency 64] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))  # for tests.helpers / tests.fault_server

BODY = {
    "model": "bench",
    "messages": [{"role": "user", "content": "Write one patient question as JSON."}],
    "max_tokens": 64,
    "temperature": 0.8,
}


async def bare_aiohttp(url: str, n: int, concurrency: int) -> None:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with sem, session.post(f"{url}/chat/completions", json=BODY) as resp:
                await resp.json()

        await asyncio.gather(*(one() for _ in range(n)))


async def openai_sdk(url: str, n: int, concurrency: int, aiohttp_transport: bool) -> None:
    import openai

    kwargs: dict[str, Any] = (
        {"http_client": openai.DefaultAioHttpClient()} if aiohttp_transport else {}
    )
    sem = asyncio.Semaphore(concurrency)
    async with openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, **kwargs) as c:

        async def one() -> None:
            async with sem:
                await c.chat.completions.create(  # type: ignore[call-overload]
                    model="bench", messages=BODY["messages"], max_tokens=64, temperature=0.8
                )

        await asyncio.gather(*(one() for _ in range(n)))


def measure(
    fn: Callable[[], None], profiler: cProfile.Profile | None = None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process only) for one call of ``fn``."""
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    fn()
    if profiler:
        profiler.disable()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--profile", action="store_true", help="profile the synthloom run")
    args = parser.parse_args()
    n, c = args.requests, args.concurrency
    os.environ["SYNTHLOOM_ALLOW_MODEL_REQUESTS"] = "1"
    profiler = cProfile.Profile() if args.profile else None

    from tests.fault_server import spawn
    from tests.helpers import write_recipe

    from synthloom import run

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, url = spawn(folder, latency=0.05)
        try:
            recipe = write_recipe(
                folder,
                model={
                    "backend": "openai",
                    "base_url": url,
                    "model": "bench",
                    "concurrency": c,
                    "timeout": 30,
                    "max_retries": 2,
                },
            )
            counter = iter(range(10**6))

            def synthloom_run(count: int) -> None:
                # A fresh outdir each time (no cache hits). The figure covers everything a run
                # does per row, not only the HTTP call: template render, SQLite cache lookup
                # and the commit of cache entry + record, JSON-schema validation, plus the
                # run's setup (plan written up front) and the dataset files at the end.
                summary = run(recipe, folder / f"out{next(counter)}", n=count)
                assert summary.accepted == count, summary.to_dict()

            def loop(make: Callable[[int], Awaitable[None]], count: int) -> None:
                asyncio.run(make(count))  # type: ignore[arg-type]

            contenders: dict[str, Callable[[int], None]] = {
                "bare aiohttp loop": lambda k: loop(lambda m: bare_aiohttp(url, m, c), k),
                "openai SDK (httpx)": lambda k: loop(lambda m: openai_sdk(url, m, c, False), k),
                "openai SDK (aiohttp)": lambda k: loop(lambda m: openai_sdk(url, m, c, True), k),
                "synthloom run": synthloom_run,
            }
            results: dict[str, tuple[float, float]] = {}
            for name, fn in contenders.items():
                try:
                    fn(min(n, 2 * c))  # warm up: connections, imports
                except Exception as exc:  # e.g. an SDK without the aiohttp transport
                    print(f"{name}: skipped ({type(exc).__name__}: {exc})")
                    continue
                prof = profiler if name == "synthloom run" else None
                results[name] = measure(lambda fn=fn: fn(n), prof)  # type: ignore[misc]
        finally:
            server.terminate()
            server.wait(10)

    print(f"\n{n:,} requests, concurrency {c}, server latency 50 ms (own process)\n")
    print(f"{'':24} {'req/s':>8} {'wall s':>8} {'CPU ms/req':>11}")
    for name, (wall, cpu) in results.items():
        print(f"{name:24} {n / wall:8.0f} {wall:8.2f} {cpu / n * 1e3:11.3f}")
    ours = n / results["synthloom run"][0]
    for name in ("bare aiohttp loop", "openai SDK (httpx)", "openai SDK (aiohttp)"):
        if name in results:
            print(f"synthloom / {name:21} {ours / (n / results[name][0]):.2f}x")
    print("goal: synthloom >= 0.90x the bare aiohttp loop, well ahead of the SDK loop")
    if profiler:
        print()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)


if __name__ == "__main__":
    main()
