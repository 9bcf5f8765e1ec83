"""How close synthloom gets to the transport's ceiling against a real server.

Against the fault server (no faults, fixed 50 ms latency) running in its own process, the same
N requests at the same concurrency, in one run:

1. a bare aiohttp loop (session + semaphore, nothing else): the practical ceiling;
2. the loop a user would write with the openai SDK's AsyncOpenAI (default transport, and the
   aiohttp transport where the SDK has it);
3. synthloom: a full run (template render, cache lookup, the call, JSON-schema validation,
   SQLite commit of the cache entry and the record), so its figure includes all of that.

    .venv/bin/python bench/orchestration.py [--requests 2000] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT))  # for tests.helpers / tests.fault_server

BODY = {
    "model": "bench",
    "messages": [{"role": "user", "content": "Write one patient question as JSON."}],
    "max_tokens": 64,
    "temperature": 0.8,
}


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = folder / "port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fault_server",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--latency",
            "0.05",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("fault server did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}/v1"


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

    kwargs = {"http_client": openai.DefaultAioHttpClient()} if aiohttp_transport else {}
    sem = asyncio.Semaphore(concurrency)
    async with openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, **kwargs) as c:

        async def one() -> None:
            async with sem:
                await c.chat.completions.create(  # type: ignore[call-overload]
                    model="bench", messages=BODY["messages"], max_tokens=64, temperature=0.8
                )

        await asyncio.gather(*(one() for _ in range(n)))


def measure(fn: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    n, c = args.requests, args.concurrency
    os.environ["SYNTHLOOM_ALLOW_MODEL_REQUESTS"] = "1"

    from tests.helpers import write_recipe

    from synthloom import run

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, url = start_server(folder)
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
                results[name] = measure(lambda fn=fn: fn(n))  # type: ignore[misc]
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


if __name__ == "__main__":
    main()
