"""Serving the review app: on 127.0.0.1 only, behind a fresh token, with the URL announced
once the server really listens.

The listening socket is bound here, not by uvicorn, for three reasons: the host cannot be
anything but loopback (there is no parameter to get wrong), a busy port is a clear error
instead of uvicorn's ``sys.exit``, and port 0 (any free port) is known before the URL is
printed."""

from __future__ import annotations

import asyncio
import errno
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from synthloom.errors import SynthloomError
from synthloom.review.app import create_app

HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(slots=True)
class Running:
    """A server started by :func:`start_in_thread`; ``stop()`` shuts it down and waits."""

    url: str  # with the token: what a reviewer opens
    base: str  # without it
    token: str
    port: int
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)


def serve(
    outdir: Path,
    *,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until interrupted (Ctrl+C returns normally); ``announce`` gets the URL to open."""
    token = token or secrets.token_urlsafe(24)
    server, sock = _prepare(outdir, port, token)
    url = _url(sock, token)
    server.on_ready = lambda: announce(url)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:  # uvicorn hands Ctrl+C back after its graceful shutdown
        pass
    finally:
        sock.close()


def start_in_thread(
    outdir: Path, port: int = 0, *, token: str | None = None, timeout: float = 10.0
) -> Running:
    """The same server in a background thread, for tests and the screenshot script."""
    token = token or secrets.token_urlsafe(24)
    server, sock = _prepare(outdir, port, token)
    url, bound = _url(sock, token), _port(sock)
    ready = threading.Event()
    failure: list[BaseException] = []
    server.on_ready = ready.set

    def main() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the starting thread below
            failure.append(exc)
            ready.set()
        finally:
            sock.close()

    thread = threading.Thread(target=main, name="synthloom-review", daemon=True)
    thread.start()
    if not ready.wait(timeout) or failure:
        server.should_exit = True
        thread.join(timeout)
        cause = f": {failure[0]!r}" if failure else f" within {timeout:.0f} s"
        raise SynthloomError(f"the review server did not start{cause}")
    return Running(url, f"http://{HOST}:{bound}", token, bound, server, thread)


class _Server(uvicorn.Server):
    """Calls ``on_ready`` once the app has started and the socket accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.on_ready: Callable[[], None] = lambda: None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self.on_ready()


def _prepare(outdir: Path, port: int, token: str) -> tuple[_Server, socket.socket]:
    app = create_app(Path(outdir), token)  # a bad run directory fails before binding
    sock = _bind(port)
    config = uvicorn.Config(
        app,
        host=HOST,
        port=_port(sock),
        log_level="warning",
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return _Server(config), sock


def _bind(port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise SynthloomError(f"--port must be between 0 and 65535, got {port}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SynthloomError(
                f"port {port} on {HOST} is in use: choose another with --port (0 picks a free one)"
            ) from exc
        raise SynthloomError(f"cannot listen on {HOST}:{port}: {exc}") from exc
    sock.listen(128)
    return sock


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def _url(sock: socket.socket, token: str) -> str:
    return f"http://{HOST}:{_port(sock)}/?token={token}"
