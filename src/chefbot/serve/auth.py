"""Who may talk to the server: bearer keys, accounts (sessions, personal tokens), the Host check, the
public-bind rule, CORS.

* **Keys** (``serve.api_keys``, ``--api-key``): none configured, the API is open (it binds to
  127.0.0.1 by default, so only this machine can reach it).  With keys, every ``/v1/*`` and
  ``/api/*`` (the kitchen) request needs ``Authorization: Bearer <key>``; anything else is 401.
  ``/health`` and the web pages stay open (a page asks for the key and sends it).  Keys are
  compared in constant time.  ``api_keys`` gives the one normalized list (stripped; an empty or
  blank key is a usage error, never "no key"), which both the check and ``/openapi.json`` use.
* **Accounts** (``_Gate``; ``kitchen.people``): once the kitchen DB holds an account, ``/v1/*`` and ``/api/*`` also
  need credentials without config keys: a personal token (bearer), the login's session cookie (a change also
  needs the session's ``X-CSRF-Token``), or a config key.  The gate resolves who the request is once, as a
  ``Principal`` in the request's state (``deps.Caller``).  docs/KITCHEN.md, *Security model*.
* **Public binds** (``exposure_warning``): a non-loopback ``serve.host`` without keys is refused
  (exit 2) unless ``serve.allow_insecure_public`` is true, which prints a warning instead.
* **Host** (``HostCheck``, against DNS rebinding): a request whose ``Host`` header is not a name
  of this server gets 421 on every route: a page on ``attacker.example`` whose name resolves to
  127.0.0.1 would otherwise be same-origin with the kitchen.
* **CORS** is off unless origins are listed in ``serve.cors_origins``; bodies sent to ``/v1/*`` and
  ``/api/*`` must be JSON (``JsonOnly``, 415), so that another site's form or no-cors request (no
  preflight) changes nothing (CSRF); the one exception, a photo upload (multipart), must carry
  ``X-Requested-With``, a header such requests cannot send.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any, Protocol

import anyio.to_thread
from fastapi import FastAPI
from starlette.requests import cookie_parser

from chefbot.config import ServeConfig
from chefbot.errors import ChefbotError, UsageError
from chefbot.kitchen import people
from chefbot.kitchen.db import KitchenDB, StorageError
from chefbot.kitchen.people import ANONYMOUS, CONFIG_KEY, OPEN, Principal
from chefbot.serve.api_errors import PHOTO_UPLOAD
from chefbot.serve.schemas import error_body

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def api_keys(keys: Iterable[str]) -> list[str]:
    """The keys the server accepts, stripped; an empty or whitespace-only key is a ``UsageError`` (an
    unset shell variable in ``--api-key "$KEY"`` must not turn authentication off)."""
    out = []
    for n, key in enumerate(keys, 1):
        if not isinstance(key, str) or not key.strip():
            raise UsageError(
                f"API key {n} (--api-key / serve.api_keys) is empty or blank: give a real key, e.g. "
                '--api-key "$(openssl rand -hex 16)" (is the shell variable you passed set?), or leave '
                "--api-key out to serve without keys on 127.0.0.1"
            )
        out.append(key.strip())
    return out


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: ``localhost``, 127.0.0.0/8, ``::1``."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name other than localhost: it may resolve to any interface


def exposure_warning(serve: ServeConfig) -> str | None:
    """Check ``chefbot serve``'s keys and address before anything starts; the warning to print, if any.

    A blank key is a ``UsageError``; so is a non-loopback ``serve.host`` without keys, unless
    ``serve.allow_insecure_public`` says that is meant (then the warning)."""
    serve.api_keys = api_keys(serve.api_keys)
    if serve.api_keys or is_loopback(serve.host):
        return None
    if not serve.allow_insecure_public:
        raise UsageError(
            f"refusing to serve on {serve.host} without an API key: anyone who can reach this machine "
            "could use the model and read and change the kitchen. Add --api-key KEY (or serve.api_keys), "
            "bind --host 127.0.0.1, or set serve.allow_insecure_public=true if the network is trusted"
        )
    return (
        f"serving on {serve.host} without an API key (serve.allow_insecure_public): anyone who can reach this "
        "machine can use the model and read and change the kitchen"
    )


class KeyCheck:
    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = [k.encode() for k in api_keys(keys)]

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def allows(self, header: str | bytes | None) -> bool:
        if not self.enabled:
            return True
        raw = header.encode() if isinstance(header, str) else header  # the header's bytes: UTF-8 keys work too
        if not raw or not raw[:7].lower() == b"bearer ":
            return False
        given = raw[7:].strip()
        # compare_digest against every key: no early exit that leaks timing.
        return any([hmac.compare_digest(given, k) for k in self.keys])


def protected(path: str) -> bool:
    """Routes that hold or change data: the model API, the kitchen API and a saved recipe's page."""
    return path.startswith(("/v1/", "/api/", "/library/"))


class PeopleStore(Protocol):
    """Where the gate finds accounts, sessions and tokens (``routes_kitchen.KitchenStore``)."""

    def existing(self) -> KitchenDB | None:
        """The kitchen DB when its file exists, else None (no file: no accounts); a ChefbotError if it cannot open."""
        ...


SESSION_COOKIE = "chefbot_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/api/login"
ANONYMOUS_PATHS = (LOGIN_PATH, "/api/session")  # reached without credentials: log in, who am I
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
NO_CREDENTIALS = "missing or wrong API key: send 'Authorization: Bearer <key>'"
NO_LOGIN = "not logged in: log in (POST /api/login), or send 'Authorization: Bearer <API key or personal token>'"


def _refusal(status: int, message: str, type_: str, code: str, **headers: str) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(error_body(message, type_, code=code), status_code=status, headers=headers or None)


class _Gate:
    """Pure ASGI middleware (BaseHTTPMiddleware would wrap streams and hide client disconnects) that resolves who
    a ``/v1/*`` or ``/api/*`` request is, once, before the body is read: a ``Principal`` put in the request's
    state (``deps.get_principal`` reads it), or the refusal.

    * a config key (``serve.api_keys``) -> ``config_key``;
    * no keys and no accounts -> ``open``, as before accounts existed (credentials sent are ignored);
    * a personal token (``Authorization: Bearer cbt_...``) -> its person; any other bearer -> 401;
    * the session cookie -> its person; a state-changing request also needs the session's CSRF token in
      ``X-CSRF-Token`` (else 403 ``csrf_failed``);
    * nothing -> 401, except on ``/api/login`` and ``/api/session`` (who am I), which get ``anonymous``."""

    def __init__(self, app, check: KeyCheck, people: PeopleStore | None) -> None:
        self.app, self.check, self.people = app, check, people

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] != "OPTIONS" and protected(scope["path"]):
            headers = dict(scope.get("headers") or [])
            try:
                if self.people is None:
                    outcome = self.resolve(scope["method"], scope["path"], headers)
                else:  # SQLite reads: off the event loop
                    outcome = await anyio.to_thread.run_sync(self.resolve, scope["method"], scope["path"], headers)
            except StorageError as e:  # read-only, locked, damaged, full: the kitchen's own storage codes
                outcome = _refusal(e.status, f"cannot check who you are: {e}", "server_error", e.code)
            except ChefbotError as e:  # the DB cannot be opened: whether accounts exist is unknown, so refuse
                outcome = _refusal(503, f"cannot check who you are: {e}", "server_error", "kitchen_db")
            if not isinstance(outcome, Principal):
                await outcome(scope, receive, send)
                return
            scope.setdefault("state", {})["principal"] = outcome
        await self.app(scope, receive, send)

    def resolve(self, method: str, path: str, headers: dict[bytes, bytes]) -> Any:
        """The request's Principal, or the response refusing it."""
        auth = headers.get(b"authorization")
        bearer = auth[7:].strip() if auth and auth[:7].lower() == b"bearer " else None
        if bearer and self.check.enabled and self.check.allows(auth):
            return CONFIG_KEY
        db = self.people.existing() if self.people is not None else None
        accounts = db is not None and people.has_people(db)
        if not (self.check.enabled or accounts):
            return OPEN  # no keys, no accounts: open (on 127.0.0.1 unless allow_insecure_public), as before
        unauthorized = NO_LOGIN if accounts else NO_CREDENTIALS
        if auth is not None:  # credentials given must be right, also on the login path
            found = people.token_principal(db, bearer.decode("utf-8", "replace")) if bearer and db else None
            if found is None:
                return _refusal(
                    401, unauthorized, "authentication_error", "invalid_api_key", **{"WWW-Authenticate": "Bearer"}
                )
            return found
        sid = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get(SESSION_COOKIE)
        session = people.session_of(db, sid) if sid and db is not None else None
        if session is not None:
            principal, csrf = session
            login = path == LOGIN_PATH  # logging in again needs no token
            if method in STATE_CHANGING and not login:
                given = headers.get(CSRF_HEADER.lower().encode())
                if not given or not hmac.compare_digest(given, csrf.encode()):
                    return _refusal(
                        403,
                        f"missing or wrong {CSRF_HEADER} header: a request authenticated by the session cookie that "
                        "changes something must carry the session's CSRF token (GET /api/session gives it)",
                        "permission_error",
                        "csrf_failed",
                    )
            return principal
        if path in ANONYMOUS_PATHS:
            return ANONYMOUS
        return _refusal(401, unauthorized, "authentication_error", "invalid_api_key", **{"WWW-Authenticate": "Bearer"})


def json_media(content_type: bytes | None) -> bool:
    """True for ``application/json`` and ``application/*+json`` (parameters such as charset aside)."""
    media = (content_type or b"").split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


UPLOAD_HEADER = "X-Requested-With"


def photo_upload(scope: dict, headers: dict[bytes, bytes]) -> bool:
    """A photo upload (``multipart/form-data`` to ``/api/recipes/{id}/photos``) that carries ``X-Requested-With``:
    a header no form or no-cors request can send (it needs a CORS preflight), so the upload is as safe from CSRF
    as a JSON body.  Any method: only POST is routed there, so another one is the router's 405, not a 415."""
    media = (headers.get(b"content-type") or b"").split(b";", 1)[0].strip().lower()
    return (
        media == b"multipart/form-data"
        and bool(headers.get(UPLOAD_HEADER.lower().encode(), b"").strip())
        and PHOTO_UPLOAD.fullmatch(scope["path"]) is not None
    )


class JsonOnly:
    """A request with a body to ``/v1/*`` or ``/api/*`` must say it is JSON, else 415 (against CSRF).

    A page on another site can send a "simple" request without asking (no CORS preflight): a form post
    or ``fetch(..., {mode: "no-cors"})`` with a ``text/plain``, form or missing content type.  FastAPI's
    models refuse those bodies already; this guard refuses them for every route, also one that reads its
    body by hand (``/v1/plan``), before anything runs.  ``application/json`` itself needs a preflight,
    which CORS (off unless ``serve.cors_origins``) does not grant."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
            and protected(scope["path"])
        ):
            headers = dict(scope.get("headers") or [])
            has_body = (
                headers.get(b"content-length", b"0").strip() not in (b"0", b"") or b"transfer-encoding" in headers
            )
            if has_body and not json_media(headers.get(b"content-type")) and not photo_upload(scope, headers):
                from fastapi.responses import JSONResponse

                given = (headers.get(b"content-type") or b"none").decode("latin-1")[:100]
                response = JSONResponse(
                    error_body(
                        f"the body must be JSON, sent with 'Content-Type: application/json' (got {given})",
                        param="Content-Type",
                        code="unsupported_media_type",
                    ),
                    status_code=415,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_auth(app: FastAPI, keys: list[str], people_store: PeopleStore | None = None) -> KeyCheck:
    """The gate of ``/v1/*`` and ``/api/*``: config keys, and with ``people_store`` accounts (sessions, tokens)."""
    check = KeyCheck(keys)
    if check.enabled or people_store is not None:
        app.add_middleware(_Gate, check=check, people=people_store)
    return check


# -- the Host check ---------------------------------------------------------------------------------
def host_name(value: str) -> str:
    """The name in a ``Host`` header (or an ``allowed_hosts`` entry): lower case, without the port,
    the brackets of an IPv6 address or a final dot."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # name:port (more colons: a bare IPv6 address)
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def _ip(name: str) -> str | None:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return None


class HostCheck:
    """The names a client may put in ``Host``: ``localhost``, 127.0.0.1, ::1, the bound address
    (``serve.host``), the IP address the connection arrived on (a client that dials this machine by
    address), the machine's own host name when bound to every interface (0.0.0.0 or ::), and
    ``serve.allowed_hosts`` (exact names, ``*.example.org`` for its subdomains, ``*`` for any)."""

    def __init__(self, serve: ServeConfig) -> None:
        names = {*LOOPBACK_NAMES, host_name(serve.host)}
        if serve.host.strip() in WILDCARD_BINDS:
            names.add(socket.gethostname().lower())
        self.any = False
        self.suffixes: list[str] = []
        for entry in serve.allowed_hosts:
            if not isinstance(entry, str) or not entry.strip() or "/" in entry:
                raise UsageError(
                    f"serve.allowed_hosts entry {entry!r}: give a host name as clients type it in the "
                    "URL, e.g. chefbot.lan or *.example.org (no scheme, no path)"
                )
            name = entry.strip().lower()
            if name == "*":
                self.any = True
            elif name.startswith("*."):
                self.suffixes.append(name[1:].rstrip("."))
            else:
                names.add(host_name(name))
        self.names = {_ip(n) or n for n in names if n}

    def allows(self, host: bytes | None, server: Any = None) -> bool:
        if host is None or self.any:
            return True  # no Host at all (HTTP/1.0): no browser sends that, so no rebinding page either
        name = host_name(host.decode("latin-1"))
        ip = _ip(name)
        if (ip or name) in self.names or any(name.endswith(s) for s in self.suffixes):
            return True
        # An address literal equal to the local address of this connection: the client dialled this machine
        # by its IP (e.g. 192.168.1.5 on a 0.0.0.0 bind), which no other site's page can be same-origin with.
        local = server[0] if isinstance(server, (tuple, list)) and server else None
        return ip is not None and isinstance(local, str) and _ip(local) == ip


class _CheckHost:
    """Pure ASGI middleware, the outermost: 421 before anything else looks at the request."""

    def __init__(self, app, check: HostCheck) -> None:
        self.app, self.check = app, check

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope.get("headers") or []).get(b"host")
            if not self.check.allows(host, scope.get("server")):
                from fastapi.responses import JSONResponse

                shown = host.decode("latin-1")[:100] if host is not None else ""
                response = JSONResponse(
                    error_body(
                        f"Host {shown!r} is not a name of this server (a guard against DNS rebinding): "
                        "if clients reach it under that name, add it to serve.allowed_hosts",
                        param="Host",
                        code="misdirected_request",
                    ),
                    status_code=421,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_host_check(app: FastAPI, serve: ServeConfig) -> HostCheck:
    """Add the Host check; call it after every other middleware so that it runs first."""
    check = HostCheck(serve)
    app.add_middleware(_CheckHost, check=check)
    return check


def install_cors(app: FastAPI, origins: list[str]) -> None:
    if not origins:
        return  # off by default: browsers on other sites cannot call a local model
    from fastapi.middleware.cors import CORSMiddleware

    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
    )
