"""Slow clients are cut off (``serve.read_timeout_s``), so that a few idle sockets cannot hold the server.

uvicorn's h11 server has no deadline for a request's headers (only for an idle keep-alive
connection) and none for its body.  Two parts add them:

* ``uvicorn_options(cfg)``: the keyword arguments ``chefbot serve`` (and the tests' live servers)
  give ``uvicorn``: an h11 protocol that closes a connection whose request headers are not complete
  ``read_timeout_s`` after it opened or after its previous answer (a raw 408 if part of them came),
  and a keep-alive timeout no longer than that;
* ``ReadTimeout``: ASGI middleware that gives the body ``read_timeout_s`` from the app's first read:
  a client still sending then gets 408 (``Connection: close``) and the app sees a disconnect.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from chefbot.config import ExperimentConfig
from chefbot.serve.schemas import error_body

KEEP_ALIVE_S = 5.0  # uvicorn's default for an idle connection between requests


def _late_body(seconds: float) -> bytes:
    return json.dumps(
        error_body(f"the request was not received within {seconds:g} s (serve.read_timeout_s)", code="request_timeout")
    ).encode()


class ReadTimeout:
    """Cut off a request whose body has not fully arrived ``seconds`` after the app began to read it."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        body_done = cut_off = started = False

        async def timed_receive() -> dict:
            nonlocal deadline, body_done, cut_off
            if body_done or cut_off:
                return await receive() if not cut_off else {"type": "http.disconnect"}
            if deadline is None:
                deadline = loop.time() + self.seconds
            try:
                # A chunk that is already here is always taken (the floor): only a silent client is cut off.
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.05))
            except TimeoutError:
                cut_off = True
                if not started:
                    body = _late_body(self.seconds)
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 408,
                            "headers": [
                                (b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if cut_off:
                return  # the 408 went out; whatever the app answers to the "disconnect" is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not cut_off:
                raise
            # The app failed on the body it never got (e.g. a ClientDisconnect); the client has its 408.


def uvicorn_options(cfg: ExperimentConfig) -> dict:
    """``uvicorn.run``/``uvicorn.Config`` keyword arguments for chefbot's time limits."""
    seconds = cfg.serve.read_timeout_s
    return {"http": header_timeout_protocol(seconds), "timeout_keep_alive": min(KEEP_ALIVE_S, seconds)}


def header_timeout_protocol(seconds: float) -> type:
    """uvicorn's h11 protocol, with a deadline for each request's headers."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    late = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n" % len(_late_body(seconds))
    ) + _late_body(seconds)

    class HeaderTimeoutH11(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None
        _partial = False

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:
                self._partial = bool(data) or self._partial
            else:
                self._disarm()  # this request's headers are in

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._arm()  # the next request's headers get as long again

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._partial = False
                self._header_timer = self.loop.call_later(seconds, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                if self._partial:
                    self.transport.write(late)
                self.transport.close()

    return HeaderTimeoutH11
