"""The security model of issue 23 (docs/SERVING.md, "Security model"): keys that cannot be switched off
by accident, no public bind without a key unless asked for, the Host check against DNS rebinding on
every route, and slow clients cut off (``serve.read_timeout_s``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from serve_support import SHORT_RECIPE, FastGenerator, _Handle, live_app, serve_cfg, stub_plan

from chefbot.errors import UsageError
from chefbot.serve.app import create_app
from chefbot.serve.auth import HostCheck, KeyCheck, api_keys, exposure_warning, is_loopback

REPO = Path(__file__).resolve().parents[2]
CHAT = "/v1/chat/completions"
ONE = [{"role": "user", "content": "hello"}]
# Every kind of route: the pages, static files, health, the schema, the model API and the kitchen.
ROUTES = [
    ("GET", "/"),
    ("GET", "/library"),
    ("GET", "/plan"),
    ("GET", "/cook"),
    ("GET", "/tasting"),
    ("GET", "/static/app.js"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/v1/models"),
    ("POST", CHAT),
    ("POST", "/v1/recipes"),
    ("GET", "/api/recipes"),
    ("POST", "/api/recipes"),
    ("GET", "/api/plans"),
    ("GET", "/no/such/page"),
]


def app_for(tmp_path: Path, **serve):
    cfg = serve_cfg(Path("unused"), **serve)
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    return create_app(cfg, FastGenerator())


# -- keys ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("keys", [[""], ["  "], ["good", "\t"]])
def test_a_blank_key_is_a_usage_error_not_an_open_api(keys, tmp_path):
    with pytest.raises(UsageError, match="empty or blank"):
        api_keys(keys)
    with pytest.raises(UsageError):  # nor can a server be built with one: no "bearer declared, nothing checked"
        app_for(tmp_path, api_keys=keys)


def test_one_normalized_key_list_for_the_check_and_the_schema(tmp_path):
    with TestClient(app_for(tmp_path, api_keys=[" k-1 "])) as c:
        assert "bearer" in c.get("/openapi.json").json()["components"]["securitySchemes"]
        assert c.get("/v1/models").status_code == 401
        assert c.get("/v1/models", headers={"Authorization": "Bearer k-1"}).status_code == 200
    with TestClient(app_for(tmp_path, api_keys=[])) as c:
        assert "securitySchemes" not in c.get("/openapi.json").json()["components"]
        assert c.get("/v1/models").status_code == 200
    check = KeyCheck(["clé-ünïcode"])  # the header's bytes are compared: a UTF-8 key works
    assert check.allows("Bearer clé-ünïcode".encode()) and not check.allows(b"Bearer cle")


def _serve_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "chefbot.cli",
            "serve",
            "configs/quickstart.yaml",
            "--db",
            str(tmp_path / "k.db"),
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_refuses_an_empty_key_with_exit_2(tmp_path):
    r = _serve_cli(tmp_path, "--api-key", "")  # the docs' --api-key "$KEY" with KEY unset
    assert r.returncode == 2, r.stderr
    assert "empty or blank" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "k.db").exists()  # refused before anything started


def test_cli_refuses_a_public_bind_without_keys_with_exit_2(tmp_path):
    r = _serve_cli(tmp_path, "--host", "0.0.0.0")
    assert r.returncode == 2, r.stderr
    assert "without an API key" in r.stderr and "allow_insecure_public" in r.stderr


def test_public_bind_rules():
    from chefbot.config import ServeConfig

    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2", "[::1]"):
        assert is_loopback(host) and exposure_warning(ServeConfig(host=host)) is None
    for host in ("0.0.0.0", "::", "192.168.1.5", "myhost"):
        assert not is_loopback(host)
        with pytest.raises(UsageError, match="allow_insecure_public"):
            exposure_warning(ServeConfig(host=host))
        assert exposure_warning(ServeConfig(host=host, api_keys=["k"])) is None
        warning = exposure_warning(ServeConfig(host=host, allow_insecure_public=True))
        assert warning and "without an API key" in warning


# -- Host ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", ROUTES)
def test_a_foreign_host_gets_421_on_every_route(tmp_path, method, path):
    with TestClient(app_for(tmp_path, allowed_hosts=[]), base_url="http://127.0.0.1:8000") as c:
        r = c.request(method, path, headers={"Host": "attacker.example:8000"}, json={})
        assert r.status_code == 421, r.text
        assert r.json()["error"]["code"] == "misdirected_request" and "serve.allowed_hosts" in r.text
        assert c.request(method, path, json={}).status_code != 421  # Host 127.0.0.1:8000


def test_a_foreign_host_is_refused_before_the_key_is_asked_for(tmp_path):
    with TestClient(app_for(tmp_path, allowed_hosts=[], api_keys=["k"]), base_url="http://localhost") as c:
        assert c.get("/api/recipes", headers={"Host": "evil.example"}).status_code == 421
        assert c.get("/api/recipes").status_code == 401


def test_which_hosts_are_allowed(monkeypatch):
    from chefbot.config import ServeConfig

    default = HostCheck(ServeConfig())  # 127.0.0.1, no allowed_hosts: the production default
    for host in (
        b"localhost",
        b"LOCALHOST.:8000",
        b"127.0.0.1",
        b"127.0.0.1:8000",
        b"[::1]:8000",
        b"[::1]",
        b"::1",
        b"[0:0:0:0:0:0:0:1]:80",
    ):
        assert default.allows(host), host
    for host in (
        b"attacker.example",
        b"attacker.example:8000",
        b"localhost.attacker.example",
        b"127.0.0.1.nip.io",
        b"testserver",
        b"",
        b"0.0.0.0",
        b"10.0.0.1",
    ):
        assert not default.allows(host), host
    # the address the connection arrived on (a client that dialled this machine by IP), never a name
    assert default.allows(b"10.1.2.3:8000", ("10.1.2.3", 8000))
    assert not default.allows(b"10.9.9.9", ("10.1.2.3", 8000)) and not default.allows(b"evil.example", ("10.1.2.3", 80))
    assert not default.allows(b"testserver", ("testserver", 80))  # a name as "server" (TestClient) proves nothing
    configured = HostCheck(ServeConfig(host="192.168.7.7", allowed_hosts=["Chefbot.LAN", "*.example.org"]))
    for host in (b"192.168.7.7:8000", b"chefbot.lan", b"chefbot.lan:8000", b"kitchen.example.org"):
        assert configured.allows(host), host
    for host in (b"example.org", b"evilexample.org", b"chefbot.lan.evil"):
        assert not configured.allows(host), host
    assert HostCheck(ServeConfig(allowed_hosts=["*"])).allows(b"anything.example")
    monkeypatch.setattr(socket, "gethostname", lambda: "Kitchen-PC")
    public = HostCheck(ServeConfig(host="0.0.0.0"))  # every interface: the machine's own name is one of its names
    assert public.allows(b"kitchen-pc:8000") and not public.allows(b"attacker.example")
    for bad in ("", "http://chefbot.lan", "chefbot.lan/x"):
        with pytest.raises(UsageError, match="allowed_hosts"):
            HostCheck(ServeConfig(allowed_hosts=[bad]))


def test_dns_rebinding_against_a_real_server(tmp_path):
    """The issue's probe: ``curl -H 'Host: attacker.example:P' http://127.0.0.1:P/api/recipes``."""
    cfg = serve_cfg(Path("unused"), allowed_hosts=[])
    cfg.kitchen.db_path = str(tmp_path / "kitchen.db")
    with live_app(cfg, FastGenerator()) as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        for path in ("/api/recipes", "/health", "/"):
            r = c.get(path, headers={"Host": f"attacker.example:{srv.port}"})
            assert r.status_code == 421 and r.json()["error"]["code"] == "misdirected_request"
        saved = c.post(
            "/api/recipes",
            headers={"Host": "attacker.example"},
            json={"title": "Pwned", "ingredients": ["1 egg"], "directions": ["Boil."]},
        )
        assert saved.status_code == 421
        assert c.get("/api/recipes").status_code == 200  # Host 127.0.0.1:P
        assert c.get("/api/recipes", headers={"Host": f"localhost:{srv.port}"}).json()["total"] == 0


# -- CSRF ---------------------------------------------------------------------------------------------
SIMPLE_TYPES = [
    None,
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
]  # what another site's page may send without a CORS preflight


@pytest.mark.parametrize("content_type", SIMPLE_TYPES)
def test_cross_site_simple_requests_change_nothing(tmp_path, monkeypatch, content_type):
    from chefbot.serve import routes_plan

    planned = []
    monkeypatch.setattr(routes_plan, "plan_meal_dict", lambda data: planned.append(data) or stub_plan(data))
    recipe = json.dumps({"title": "Planted", "ingredients": ["1 egg"], "directions": ["Boil."]}).encode()
    headers = {"Origin": "https://evil.example", **({"Content-Type": content_type} if content_type else {})}
    with TestClient(app_for(tmp_path)) as c:
        for path, body in (
            ("/api/recipes", recipe),
            ("/v1/plan", json.dumps(routes_plan.EXAMPLE).encode()),
            (CHAT, json.dumps({"messages": ONE}).encode()),
        ):
            request = c.build_request("POST", path, content=body, headers=headers)
            assert request.headers.get("content-type") == content_type  # None: no Content-Type at all
            r = c.send(request)
            assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", (path, r.text)
            assert "access-control-allow-origin" not in r.headers
        assert planned == [] and c.get("/api/recipes").json()["total"] == 0
        assert c.post("/v1/plan", json=routes_plan.EXAMPLE).status_code == 200 and len(planned) == 1
        ok = c.post("/api/recipes", content=recipe, headers={"Content-Type": "application/json; charset=utf-8"})
        assert ok.status_code == 201


# -- slow clients -------------------------------------------------------------------------------------
def _raw(port: int, data: bytes, wait: float = 15.0) -> tuple[bytes, float]:
    """Send ``data`` and stop; what the server answers until it closes the connection, and after how long."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        if data:
            s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except TimeoutError:
            pytest.fail(f"the server still held the connection after {wait} s: {got[:200]!r}")
    return got, time.monotonic() - t0


def test_a_slow_body_is_cut_off_with_408(tmp_path):
    with live_app(serve_cfg(Path("unused"), read_timeout_s=1.0), FastGenerator()) as srv:
        head = (
            f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 500\r\n\r\n"
        ).encode()
        got, took = _raw(srv.port, head + b'{"messages": [{"role": "us')
        assert got.startswith(b"HTTP/1.1 408"), got
        assert b"read_timeout_s" in got and 0.9 < took < 8
        # a body without Content-Length (chunked) that stops half-way: the same
        chunked = (
            f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            'Transfer-Encoding: chunked\r\n\r\n5\r\n{"mes\r\n'
        ).encode()
        got, took = _raw(srv.port, chunked)
        assert got.startswith(b"HTTP/1.1 408") and took < 8
        assert httpx.get(srv.url + "/health").status_code == 200  # the server is fine


def test_slow_headers_and_silent_connections_are_cut_off(tmp_path):
    with live_app(serve_cfg(Path("unused"), read_timeout_s=1.0), FastGenerator()) as srv:
        got, took = _raw(srv.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert got.startswith(b"HTTP/1.1 408") and 0.9 < took < 8, got
        got, took = _raw(srv.port, b"")  # connects and sends nothing
        assert got == b"" and took < 8
        # a keep-alive connection: the next request's headers get the same deadline
        with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            first = b""
            while b"}" not in first:  # the whole health answer (JSON)
                first += s.recv(65536)
            assert first.startswith(b"HTTP/1.1 200")
            t0 = time.monotonic()
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 1")
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        assert got.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 8, got


class _SlowStream(FastGenerator):
    """A stream that takes longer than the read timeout: answers are not limited by it."""

    def stream_from_ids(self, prompt, settings_override=None):
        handle = super().stream_from_ids(prompt, settings_override)

        class Slow(_Handle):
            def __iter__(self):
                for delta in handle:
                    time.sleep(0.25)
                    yield delta
                self.completion = handle.completion

        return Slow([], None)


def test_a_client_that_is_in_time_is_not_cut_off(tmp_path):
    with live_app(serve_cfg(Path("unused"), read_timeout_s=1.0), _SlowStream()) as srv:
        body = json.dumps({"messages": ONE, "stream": True}).encode()
        head = (
            f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=20) as s:
            s.sendall(head)
            for k in range(0, len(body), 16):  # the body in pieces over ~0.5 s: slow, but in time
                s.sendall(body[k : k + 16])
                time.sleep(0.5 / (len(body) / 16))
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        assert got.startswith(b"HTTP/1.1 200"), got[:300]
        assert b"[DONE]" in got and SHORT_RECIPE.splitlines()[-1].encode()[:20] in got  # streamed > 1 s, all of it
