"""The kitchen behind a real server process: SIGKILLed while clients save recipes, then started again.

Every recipe whose POST was answered 201 must be there after the restart, the file must pass
``PRAGMA integrity_check``, and nothing half-written may appear (at most the one request in
flight when the server died, whole or not at all).  The server runs ``create_app`` with the
serving tests' scripted generator under uvicorn, in its own process, so the kill is real.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

TESTS = Path(__file__).resolve().parents[1]
SERVER = """
import sys
sys.path[:0] = [{serve!r}, {tests!r}]
import uvicorn
from pathlib import Path
from serve_support import FastGenerator, serve_cfg
from chefbot.serve.app import create_app
cfg = serve_cfg(Path("unused"))
cfg.kitchen.db_path = {db!r}
uvicorn.run(create_app(cfg, FastGenerator()), host="127.0.0.1", port={port}, log_level="warning")
"""


def start(db: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = SERVER.format(serve=str(TESTS / "serve"), tests=str(TESTS), db=str(db), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail("the server did not start")


def recipe(i: int) -> dict:
    return {
        "title": f"Recipe {i}",
        "servings": 4,
        "ingredients": [f"{k} cups flour, batch {i}" for k in range(1, 41)],
        "directions": [f"Step {i}."] * 15,
    }


@pytest.mark.timeout(300)
def test_every_saved_recipe_survives_a_sigkill_of_the_server_and_a_restart(tmp_path):
    db = tmp_path / "kitchen.db"
    proc, url = start(db)
    saved: dict[int, int] = {}  # recipe number -> id, for every 201
    stop = threading.Event()

    failures: list[BaseException] = []  # a failed assert in a client thread, raised again in the test

    def client(first: int) -> None:
        try:
            with httpx.Client(timeout=10) as c:
                i = first
                while not stop.is_set():
                    try:
                        r = c.post(url + "/api/recipes", json=recipe(i))
                    except httpx.HTTPError:
                        return  # the server is gone
                    assert r.status_code == 201, r.text
                    saved[i] = r.json()["id"]
                    i += 2
        except BaseException as e:  # raised again below: an exception in a thread alone fails nothing
            failures.append(e)
            stop.set()

    threads = [threading.Thread(target=client, args=(k,)) for k in (0, 1)]  # two clients: writes overlap
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while len(saved) < 40 and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # while both clients are still posting
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(15)
    assert not any(t.is_alive() for t in threads), "a client thread did not stop"
    if failures:
        raise failures[0]
    assert len(saved) >= 40, "the clients did not get going"

    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = c.execute("SELECT id, title, ingredients, directions FROM recipes").fetchall()
    assert len(saved) <= len(rows) <= len(saved) + 2  # at most the requests in flight, each whole
    for _id, title, ingredients, directions in rows:
        i = int(title.split()[1])
        assert ingredients.count(f"batch {i}") == 40 and directions.count(f"Step {i}.") == 15

    proc, url = start(db)  # the restart
    try:
        for i, rid in saved.items():
            r = httpx.get(f"{url}/api/recipes/{rid}", timeout=10)
            assert r.status_code == 200 and r.json()["title"] == f"Recipe {i}"
        assert httpx.get(url + "/api/recipes", params={"limit": 500}, timeout=10).json()["total"] == len(rows)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


@pytest.mark.timeout(300)
def test_a_server_on_a_full_disk_answers_507_keeps_every_saved_recipe_and_restarts(tmp_path):
    """A real server whose DB's disk (a small tmpfs) fills up: 507 with the cause, never a 500; after a SIGKILL
    and a restart every recipe answered 201 is there.  Needs root to mount (skipped with the reason otherwise)."""
    from test_kitchen_faults import mount_or_skip

    disk = tmp_path / "small"
    disk.mkdir()
    mount_or_skip("-t", "tmpfs", "-o", "size=768k", "tmpfs", str(disk))
    try:
        db = disk / "kitchen.db"
        proc, url = start(db)
        saved: dict[int, int] = {}
        try:
            with httpx.Client(timeout=10) as c:
                for i in range(200):
                    r = c.post(url + "/api/recipes", json=recipe(i))
                    if r.status_code != 201:
                        break
                    saved[i] = r.json()["id"]
                assert r.status_code == 507, r.text
                assert r.json()["error"]["code"] == "storage_full" and "disk is full" in r.json()["error"]["message"]
                assert c.get(url + "/api/recipes", params={"limit": 500}).json()["total"] == len(saved)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        assert saved
        with sqlite3.connect(db) as c:
            assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        proc, url = start(db)
        try:
            for i, rid in saved.items():
                assert httpx.get(f"{url}/api/recipes/{rid}", timeout=10).json()["title"] == f"Recipe {i}"
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
