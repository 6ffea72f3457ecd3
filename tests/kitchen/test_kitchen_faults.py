"""Storage faults, the friends of the SIGKILL test: a full disk (a small tmpfs), a read-only file system (a
read-only bind mount) and a damaged file, through the API, ``chefbot library`` and ``chefbot serve --db``.

The API answers 507 (disk full) or 503 (read-only, damaged) with SQLite's cause, never a generic 500, and
loses no acknowledged write; the commands print one line naming the file and exit 1, never a traceback; on
a full disk the import says "database or disk is full", not "cannot rollback". Mounting needs root (and
the right to mount): elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from test_kitchen_api import make_client

from chefbot.kitchen.db import KitchenDB, KitchenError, StorageError
from chefbot.kitchen.library import save_recipe

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
BIG = {
    "title": "Big",
    "servings": 4,
    "ingredients": [f"{k} cups flour, sifted {'x' * 400}" for k in range(150)],
    "directions": ["Mix."],
}


def mount_or_skip(*cmd: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"mounting a tmpfs or a read-only bind needs root (this test runs as uid {os.geteuid()})")
    r = subprocess.run(["mount", *cmd], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount here (mount {' '.join(cmd)}: {r.stderr.strip()})")


@pytest.fixture()
def small_disk(tmp_path):
    """A 512 KiB tmpfs: a few big recipes fill it."""
    d = tmp_path / "small"
    d.mkdir()
    mount_or_skip("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(d))
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)


@pytest.fixture()
def read_only(tmp_path):
    """(a folder, the same folder bind-mounted read-only)."""
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    mount_or_skip("--bind", str(rw), str(ro))
    r = subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True, text=True)
    if r.returncode:
        subprocess.run(["umount", "-l", str(ro)], check=False)
        pytest.skip(f"cannot make a read-only bind mount here: {r.stderr.strip()}")
    yield rw, ro
    subprocess.run(["umount", "-l", str(ro)], check=False)


def chefbot(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run ``chefbot ARGS`` as the console script does (``chefbot.cli.main``); (exit code, stderr)."""
    from chefbot.cli import main

    monkeypatch.setattr(sys, "argv", ["chefbot", *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    return code, capsys.readouterr().err


def one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def damage(path: Path) -> None:
    """Overwrite the middle of a closed DB file with garbage (the header stays: it is SQLite, but damaged)."""
    with KitchenDB(path) as db:
        for i in range(40):
            save_recipe(db, f"R{i}", [f"{k} eggs {i}" for k in range(30)], ["Boil."], 2)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xff\x00garbage" * 800)


# -- a full disk --------------------------------------------------------------------------------------------
def test_a_full_disk_is_507_with_the_cause_and_loses_no_acknowledged_write(small_disk):
    db = small_disk / "kitchen.db"
    saved = []
    with make_client(db) as c:
        for _ in range(40):
            r = c.post("/api/recipes", json=BIG)
            if r.status_code != 201:
                break
            saved.append(r.json()["id"])
        assert r.status_code == 507, r.text
        err = r.json()["error"]
        assert (
            err["code"] == "storage_full" and "database or disk is full" in err["message"] and str(db) in err["message"]
        )
        assert saved, "the disk was full before the first recipe"
        r = c.get("/api/recipes", params={"limit": 500})  # reads still work
        assert r.status_code == 200 and [x["id"] for x in r.json()["data"]] == saved[::-1]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM recipes").fetchone()[0] == len(saved)


def test_an_import_onto_a_full_disk_says_so_and_adds_nothing(small_disk, tmp_path, monkeypatch, capsys):
    backup = {
        "format": "chefbot-kitchen",
        "version": 1,
        "plans": [],
        "tasting_pairs": [],
        "recipes": [
            {**BIG, "title": f"Big {i}", "source": {"kind": "manual"}, "created_at": "2026-11-25T10:00:00"}
            for i in range(30)
        ],
    }
    (tmp_path / "b.json").write_text(json.dumps(backup))
    db = small_disk / "kitchen.db"
    code, err = chefbot(monkeypatch, capsys, "library", "import", str(tmp_path / "b.json"), "--db", str(db))
    line = one_line(err)
    assert code == 1 and "database or disk is full" in line and "rollback" not in line and str(db) in line
    with KitchenDB(db) as kdb:
        assert kdb.integrity() == "ok"
        with kdb.read() as c:
            assert c.execute("SELECT count(*) FROM recipes").fetchone()[0] == 0  # one transaction: nothing


def test_an_export_onto_a_full_disk_writes_nothing(small_disk, tmp_path, monkeypatch, capsys):
    db = tmp_path / "kitchen.db"
    with KitchenDB(db) as kdb:
        for i in range(20):
            save_recipe(kdb, f"Big {i}", BIG["ingredients"], ["Mix."], 4)
    out = small_disk / "backup.json"
    code, err = chefbot(monkeypatch, capsys, "library", "export", str(out), "--db", str(db))
    line = one_line(err)
    assert code == 1 and str(out) in line and "No space left on device" in line
    assert list(small_disk.iterdir()) == []  # neither the backup nor its temporary file


# -- a read-only file system --------------------------------------------------------------------------------
def test_a_read_only_file_system_is_named_as_such(read_only, monkeypatch, capsys):
    rw, ro = read_only
    with KitchenDB(rw / "kitchen.db") as db:
        save_recipe(db, "Soup", ["1 onion"], ["Simmer."], 2)
    with pytest.raises(StorageError) as e:
        KitchenDB(ro / "kitchen.db")
    message = str(e.value)
    assert "read-only" in message and "is it a chefbot kitchen DB" not in message and str(ro) in message

    with make_client(ro / "kitchen.db") as c:
        r = c.get("/api/recipes")
        assert r.status_code == 503 and r.json()["error"]["code"] == "storage_unavailable"
        assert "read-only" in r.json()["error"]["message"]
        assert c.post("/api/recipes", json=BIG).status_code == 503

    code, err = chefbot(monkeypatch, capsys, "serve", str(CONFIG), "--db", str(ro / "kitchen.db"))
    line = one_line(err)
    assert code == 1 and "read-only" in line and "is it a chefbot kitchen DB" not in line
    code, err = chefbot(monkeypatch, capsys, "library", "export", str(rw / "b.json"), "--db", str(ro / "new" / "k.db"))
    line = one_line(err)
    assert code == 1 and f"cannot create its folder {ro / 'new'}" in line and "Read-only file system" in line


# -- a damaged file -----------------------------------------------------------------------------------------
def test_a_damaged_db_is_refused_at_start_up_with_one_line(tmp_path, monkeypatch, capsys):
    db = tmp_path / "kitchen.db"
    damage(db)
    with pytest.raises(KitchenError) as e:
        KitchenDB(db)
    assert "damaged" in str(e.value) or "malformed" in str(e.value)
    code, err = chefbot(monkeypatch, capsys, "serve", str(CONFIG), "--db", str(db))
    line = one_line(err)
    assert code in (1, 2) and str(db) in line and ("damaged" in line or "malformed" in line)
    code, err = chefbot(monkeypatch, capsys, "library", "export", str(tmp_path / "b.json"), "--db", str(db))
    assert code in (1, 2) and str(db) in one_line(err)
    assert not (tmp_path / "b.json").exists()
    with make_client(db) as c:  # a server started without the CLI's check: 503 with the cause, not a 500
        r = c.get("/api/recipes")
        assert r.status_code == 503 and (
            "damaged" in r.json()["error"]["message"] or "malformed" in r.json()["error"]["message"]
        )


def test_a_file_that_is_not_sqlite_is_named(tmp_path):
    (tmp_path / "notes.db").write_text("shopping: eggs, flour\n" * 100)
    with pytest.raises(KitchenError, match="is it a chefbot kitchen DB"):
        KitchenDB(tmp_path / "notes.db")
