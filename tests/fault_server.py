"""A real OpenAI-compatible chat-completions server on 127.0.0.1 that misbehaves on purpose.

Each request draws one outcome from the configured rates: a 500, a 429 with Retry-After, a hang
past the client's timeout, a 200 whose content is malformed JSON (the model "said" garbage), a
200 whose HTTP body is cut short, or a good schema-valid reply. Every request is logged with a
digest of what was asked, so tests can check what was retried and what was repeated.

In-process: ``with FaultServer(FaultConfig(...)) as server: server.url``. As a process (for
kill tests): ``python -m tests.fault_server --port 0 --log calls.jsonl --port-file port``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from synthloom.backends.base import GenerationRequest
from synthloom.backends.fake import FakeBackend


@dataclass
class FaultConfig:
    latency: float = 0.0
    p500: float = 0.0
    p429: float = 0.0
    retry_after: float = 0.05
    p_hang: float = 0.0
    hang_seconds: float = 30.0
    p_malformed: float = 0.0  # a 200 whose message content is not JSON
    p_truncated: float = 0.0  # a 200 whose HTTP body is cut off mid-JSON
    seed: int = 0


@dataclass
class LoggedCall:
    digest: str  # hash of the messages + seed: the same row and attempt gives the same digest
    outcome: str
    api_key: str | None = None
    n_messages: int = 0
    t: float = 0.0  # monotonic arrival time


def request_digest(body: dict[str, Any]) -> str:
    key = json.dumps({"messages": body.get("messages"), "seed": body.get("seed")}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:24]


@dataclass
class _State:
    config: FaultConfig
    rng: random.Random
    log: list[LoggedCall] = field(default_factory=list)
    log_file: Path | None = None


STATE = web.AppKey("state", _State)


def _outcome(state: _State) -> str:
    c, r = state.config, state.rng.random()
    for name, p in (
        ("500", c.p500),
        ("429", c.p429),
        ("hang", c.p_hang),
        ("malformed", c.p_malformed),
        ("truncated", c.p_truncated),
    ):
        if r < p:
            return name
        r -= p
    return "ok"


async def _chat(request: web.Request) -> web.StreamResponse:
    state: _State = request.app[STATE]
    body = await request.json()
    outcome = _outcome(state)
    auth = request.headers.get("Authorization", "")
    call = LoggedCall(
        request_digest(body),
        outcome,
        auth.removeprefix("Bearer ") or None,
        len(body.get("messages", [])),
        time.monotonic(),
    )
    state.log.append(call)
    if state.log_file is not None:
        with state.log_file.open("a") as fh:
            fh.write(json.dumps(asdict(call)) + "\n")
    if state.config.latency:
        await asyncio.sleep(state.config.latency)
    if outcome == "500":
        return web.json_response({"error": {"message": "internal error"}}, status=500)
    if outcome == "429":
        return web.json_response(
            {"error": {"message": "rate limited"}},
            status=429,
            headers={"Retry-After": f"{state.config.retry_after:g}"},
        )
    if outcome == "hang":
        await asyncio.sleep(state.config.hang_seconds)
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
    fake = GenerationRequest(
        messages=tuple(body["messages"]), json_schema=schema, seed=body.get("seed")
    )
    content = FakeBackend._synthesize(fake)
    if outcome == "malformed":
        content = content[: len(content) // 2] + " <<garbage"
    payload = {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "model": body.get("model", "fault"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": len(content) // 4 + 1},
    }
    text = json.dumps(payload)
    if outcome == "truncated":
        text = text[: len(text) // 2]
    return web.Response(text=text, content_type="application/json")


def make_app(config: FaultConfig, log_file: Path | None = None) -> web.Application:
    app = web.Application()
    app[STATE] = _State(config, random.Random(config.seed), log_file=log_file)
    app.router.add_post("/v1/chat/completions", _chat)
    return app


class FaultServer:
    """Runs the server on its own event loop in a thread, so a test's run can call it."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self.app = make_app(config or FaultConfig())
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log(self) -> list[LoggedCall]:
        state: _State = self.app[STATE]
        return state.log

    def __enter__(self) -> FaultServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        await self._runner.cleanup()
        # handlers still hanging (the "hang" fault) are cancelled, not left to the GC
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening and drop every connection (a server that dies); once is enough."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


def spawn(
    folder: Path, *, latency: float = 0.05, log: Path | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server as its own process (so its CPU is not the client's); returns it and
    its base URL once it listens. The caller terminates it."""
    port_file = folder / "fault-server.port"
    command = [
        sys.executable,
        "-m",
        "tests.fault_server",
        "--port",
        "0",
        "--port-file",
        str(port_file),
        "--latency",
        str(latency),
    ]
    if log is not None:
        command += ["--log", str(log)]
    proc = subprocess.Popen(
        command,
        cwd=Path(__file__).parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (port_file.exists() and port_file.read_text()):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("fault server did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}/v1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    parser.add_argument("--log", type=Path)
    for name, value in asdict(FaultConfig()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    config = FaultConfig(**{k: getattr(args, k) for k in asdict(FaultConfig())})

    async def serve() -> None:
        runner = web.AppRunner(make_app(config, args.log))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if args.port_file:
            args.port_file.write_text(str(port))
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
