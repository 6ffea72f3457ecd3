"""Optional bearer keys and CORS.

No keys configured: the API is open (it binds to 127.0.0.1 by default, so only this
machine can reach it).  With keys: every ``/v1/*`` and ``/api/*`` (the kitchen) request needs
``Authorization: Bearer <key>``; anything else is 401.  ``/health`` and the web page
stay open (the page asks for the key and sends it).  CORS is off unless origins are
listed in ``serve.cors_origins``.
"""

from __future__ import annotations

import hmac
from fastapi import FastAPI

from chefbot.serve.schemas import error_body


class KeyCheck:
    def __init__(self, keys: list[str]) -> None:
        self.keys = [k.encode() for k in keys if k]

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def allows(self, header: str | None) -> bool:
        if not self.enabled:
            return True
        if not header or not header.lower().startswith("bearer "):
            return False
        given = header[7:].strip().encode()
        # compare_digest against every key: no early exit that leaks timing.
        return any([hmac.compare_digest(given, k) for k in self.keys])


def protected(path: str) -> bool:
    return path.startswith(("/v1/", "/api/"))


class _RequireKey:
    """Pure ASGI middleware (BaseHTTPMiddleware would wrap streams and hide client disconnects):
    a wrong key is refused before the body is even read."""

    def __init__(self, app, check: KeyCheck) -> None:
        self.app = app
        self.check = check

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] != "OPTIONS" and protected(scope["path"]):
            headers = dict(scope.get("headers") or [])
            header = headers.get(b"authorization", b"").decode("latin-1") or None
            if not self.check.allows(header):
                from fastapi.responses import JSONResponse

                response = JSONResponse(
                    error_body("missing or wrong API key: send 'Authorization: Bearer <key>'", "authentication_error",
                               code="invalid_api_key"),
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_auth(app: FastAPI, keys: list[str]) -> KeyCheck:
    check = KeyCheck(keys)
    if check.enabled:
        app.add_middleware(_RequireKey, check=check)
    return check


def install_cors(app: FastAPI, origins: list[str]) -> None:
    if not origins:
        return  # off by default: browsers on other sites cannot call a local model
    from fastapi.middleware.cors import CORSMiddleware

    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["Authorization", "Content-Type"])
