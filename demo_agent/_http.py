"""The lifecycle the demo's HTTP servers share: an aiohttp app on host:port, started and stopped."""

from __future__ import annotations

from aiohttp import web

__all__ = ["AppServer"]


class AppServer:
    """Subclasses build their routes in ``app()``; ``start()`` returns the URL (port 0: a free one)."""

    url = ""
    _runner: web.AppRunner | None = None

    def app(self) -> web.Application:  # pragma: no cover - abstract
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound_port}"
        await self.started()
        return self.url

    async def started(self) -> None:
        """Hook for background work that needs the running loop."""

    async def stop(self) -> None:
        await self.stopping()
        if self._runner is not None:
            await self._runner.cleanup()

    async def stopping(self) -> None:
        """Hook to end background work."""

    @staticmethod
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
