"""The webhook's HTTP server on aiohttp, on its own event loop in a background thread.

Imported only when a ControlServer is built (aiohttp is the ``control`` extra's dependency, not the
core's). Which limits aiohttp enforces and which are added here: see ``_webhook``'s docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import hmac
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from packaging.version import Version

from agentvitals.control._controller import Controller
from agentvitals.control._webhook import ACTION_PATHS, PATH, ServerLimits, apply_notification

_logger = logging.getLogger("agentvitals.control")

__all__ = ["WebhookServer"]

_T = TypeVar("_T")
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_HEADER_DEADLINE_SINCE = Version("3.14.4")  # aiohttp closes connections that never finish their headers


def _reply(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers=headers or None)


class _Slot:
    """One connection's place among max_connections, given back exactly once."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots: asyncio.Semaphore | None = slots

    def release(self) -> None:
        if self._slots is not None:
            self._slots.release()
            self._slots = None


class _Counted(asyncio.Protocol):
    """Wraps a connection's protocol to give its slot back when the connection ends."""

    def __init__(self, inner: asyncio.Protocol, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    @classmethod
    def around(cls, factory: Callable[[], asyncio.Protocol], release: Callable[[], None]) -> _Counted:
        return cls(factory(), release)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._inner.connection_lost(exc)
        finally:
            self._release()


class WebhookServer:
    def __init__(self, listener: socket.socket, controller: Controller, secret: str, limits: ServerLimits) -> None:
        if Version(aiohttp.__version__) < _HEADER_DEADLINE_SINCE:
            _logger.warning("agentvitals control: aiohttp %s does not close connections that never send their "
                            "request headers; use aiohttp >= 3.14.4", aiohttp.__version__)
        self._listener = listener
        self._controller = controller
        self._expected = f"Bearer {secret}".encode()
        self._limits = limits
        self._workers = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="agentvitals-control")
        self._thread = threading.Thread(target=self._run, daemon=True, name="agentvitals-control")
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stopped = False

    # --- lifecycle (caller's thread) -------------------------------------------------------------------
    def start(self) -> None:
        if self._stopped or self._thread.is_alive():
            raise RuntimeError("the control server was already started")
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise RuntimeError("the control server failed to start") from self._failure

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
            self._thread.join(timeout_s)
        self._listener.close()
        self._workers.shutdown(wait=False, cancel_futures=True)

    # --- the server's thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # deliberate: reported to start(), or logged once serving
            if self._ready.is_set():
                _logger.exception("agentvitals control: the webhook server stopped")
            self._failure = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=self._limits.max_body)
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        # keepalive_timeout is aiohttp's deadline for a request's headers as well as for idle connections;
        # no lingering: a body we stopped reading (408, 413) ends the connection at once.
        runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=self._limits.timeout_s,
                               lingering_time=0, shutdown_timeout=1.0)
        await runner.setup()
        assert runner.server is not None
        accepting = asyncio.create_task(self._accept(runner.server))
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await accepting
            self._listener.close()
            await runner.cleanup()

    async def _accept(self, factory: Callable[[], asyncio.Protocol]) -> None:
        """Accept while fewer than max_connections are open; beyond, clients wait in the listen queue."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self._limits.max_connections)
        warned = False
        while True:
            await slots.acquire()
            try:
                connection, _ = await loop.sock_accept(self._listener)
            except OSError as exc:
                slots.release()
                if exc.errno in _OUT_OF_RESOURCES:
                    if not warned:
                        _logger.warning("agentvitals control: cannot accept connections (%s); retrying", exc)
                        warned = True
                    await asyncio.sleep(0.5)
                continue  # ECONNABORTED and the like: that client gave up
            slot = _Slot(slots)
            protocol = functools.partial(_Counted.around, factory, slot.release)
            try:
                await loop.connect_accepted_socket(protocol, connection)
            except Exception:  # deliberate: one client's broken socket must not stop the server
                _logger.debug("agentvitals control: dropped a connection", exc_info=True)
                connection.close()
                slot.release()

    # --- requests ----------------------------------------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        supplied = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(supplied, self._expected)

    async def _in_worker(self, call: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        work: Awaitable[_T] = loop.run_in_executor(self._workers, call)
        return await asyncio.wait_for(work, self._limits.handler_timeout_s)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        if path == "/healthz":
            if method not in ("GET", "HEAD"):
                return _reply(405, {"error": "use GET"}, Allow="GET, HEAD")
            return _reply(200, {"status": "ok"})
        if path not in (PATH, "/state") and path not in ACTION_PATHS:
            return _reply(404, {"error": "not found"})
        wanted = "GET" if path == "/state" else "POST"
        if method != wanted and not (wanted == "GET" and method == "HEAD"):
            return _reply(405, {"error": f"use {wanted}"}, Allow=wanted)
        if not self._authorized(request):
            return _reply(401, {"error": "missing or wrong bearer token"}, **{"WWW-Authenticate": "Bearer"})
        try:
            if path == "/state":
                return _reply(200, await self._in_worker(self._controller.state))
            return await self._notification(request, ACTION_PATHS.get(path))
        except asyncio.TimeoutError:
            return _reply(503, {"error": "the controller did not answer in time; retry"}, **{"Retry-After": "10"})

    async def _notification(self, request: web.Request, action: str | None) -> web.StreamResponse:
        content_type = (request.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if content_type.lower() != "application/json":
            return _reply(415, {"error": "Content-Type must be application/json"})
        length = request.content_length
        if length is None:
            return _closing(_reply(411, {"error": "Content-Length required"}))
        if length > self._limits.max_body:
            return _closing(_reply(413, {"error": f"body over {self._limits.max_body} bytes"}))
        try:
            body = await asyncio.wait_for(request.read(), self._limits.timeout_s)
        except asyncio.TimeoutError:
            return _closing(_reply(408, {"error": f"body not received within {self._limits.timeout_s:g} s"}))
        except web.HTTPRequestEntityTooLarge:
            return _closing(_reply(413, {"error": f"body over {self._limits.max_body} bytes"}))
        except Exception as exc:  # deliberate: the body was cut short or badly framed; the client's fault
            return _closing(_reply(400, {"error": f"malformed body: {type(exc).__name__}"}))
        limits = self._limits
        status, reply = await self._in_worker(
            lambda: apply_notification(self._controller, body, max_depth=limits.max_depth, action=action))
        return _reply(status, reply)


def _closing(response: web.Response) -> web.Response:
    """The request's body was not read to its end: the connection cannot carry another request."""
    response.force_close()
    return response
