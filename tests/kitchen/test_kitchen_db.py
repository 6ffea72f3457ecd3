"""The kitchen's SQLite file: migrations, refusal of a newer file, durability under SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chefbot.kitchen.db import (
    MIGRATIONS,
    SCHEMA_VERSION,
    KitchenDB,
    KitchenError,
    resolve_db_path,
)
from chefbot.kitchen.library import get_recipe, search_recipes

SRC = Path(__file__).resolve().parents[2] / "src"


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as c:
        return {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_new_file_is_migrated_from_version_0(tmp_path):
    path = tmp_path / "k.db"
    sqlite3.connect(path).close()  # an empty SQLite file: version 0
    with KitchenDB(path) as db:
        assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.integrity() == "ok"
    assert {"recipes", "plans", "plan_progress", "tasting_pairs", "tastings"} <= tables(path)


def test_an_older_file_keeps_its_rows_through_the_migration(tmp_path):
    path = tmp_path / "k.db"
    with KitchenDB(path, upto=1) as old:
        assert "tastings" not in tables(path)
        with old.write() as c:  # a row as version 1 wrote it (its LIKE column `search` included)
            rid = c.execute(
                "INSERT INTO recipes (title, servings, ingredients, directions, search, created_at, updated_at) "
                "VALUES ('Soup', 4, '[\"2 onions\"]', '[\"Simmer 20 minutes.\"]', 'soup', 'T', 'T')"
            ).lastrowid
    with KitchenDB(path) as db:
        assert db.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        got = get_recipe(db, rid)
        assert (got["title"], got["version"], got["tags"], got["category"]) == ("Soup", 1, [], None)
        assert [r["id"] for r in search_recipes(db, "onion")["data"]] == [rid]  # indexed by the migration
    assert {"tastings", "recipe_versions", "recipes_fts"} <= tables(path)


def test_a_failed_migration_leaves_the_old_version(tmp_path):
    path = tmp_path / "k.db"
    KitchenDB(path, upto=1).close()
    good = MIGRATIONS[1]
    MIGRATIONS[1] = [good[0], "CREATE TABLE broken (x"]  # its second statement fails
    try:
        with pytest.raises(KitchenError):
            KitchenDB(path)
    finally:
        MIGRATIONS[1] = good
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "tasting_pairs" not in tables(path)  # the first statement was rolled back with the second


def test_a_newer_file_is_refused(tmp_path):
    path = tmp_path / "k.db"
    KitchenDB(path).close()
    with sqlite3.connect(path) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    with pytest.raises(KitchenError, match=rf"schema version {SCHEMA_VERSION + 3}, newer than this chefbot's"):
        KitchenDB(path)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "k.db"
    path.write_text("not a database, just text " * 100)
    with pytest.raises(KitchenError, match="is it a chefbot kitchen DB"):
        KitchenDB(path)


def test_the_path_comes_from_the_override_the_config_or_the_user_data_dir(tmp_path, monkeypatch):
    assert resolve_db_path("/a/k.db", tmp_path / "b.db") == tmp_path / "b.db"
    assert resolve_db_path("/a/k.db") == Path("/a/k.db")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert resolve_db_path(None) == tmp_path / "data" / "chefbot" / "kitchen.db"


def test_a_write_that_fails_leaves_nothing(kdb):
    with pytest.raises(RuntimeError):
        with kdb.write() as c:
            c.execute(
                "INSERT INTO recipes (title, servings, ingredients, directions, created_at, updated_at) "
                "VALUES ('Half', 2, '[]', '[]', 'x', 'x')"
            )
            raise RuntimeError("killed between two statements")
    assert search_recipes(kdb)["total"] == 0


WRITER = """
import sys
sys.path.insert(0, {src!r})
from chefbot.kitchen.db import KitchenDB
from chefbot.kitchen.library import save_recipe
db = KitchenDB({path!r})
i = 0
while True:
    # 50 ingredient lines: a row big enough to span pages, so a torn write would show
    save_recipe(db, f"Recipe {{i}}", [f"{{k}} cups flour, batch {{i}}" for k in range(1, 51)], [f"Step {{i}}."] * 20, 4)
    print(i, flush=True)  # printed only after the commit returned
    i += 1
"""


@pytest.mark.timeout(120)
def test_every_committed_row_survives_a_sigkill_in_the_middle_of_writing(tmp_path):
    path = tmp_path / "k.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(src=str(SRC), path=str(path))], stdout=subprocess.PIPE, text=True
    )
    committed = -1
    deadline = time.time() + 60
    while committed < 30 and time.time() < deadline:  # let it write for a while, then kill it mid-loop
        line = proc.stdout.readline()
        if not line:
            break
        committed = int(line)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert committed >= 30, "the writer did not get going"
    with KitchenDB(path) as db:
        assert db.integrity() == "ok"
        rows = db.conn.execute("SELECT title, ingredients, directions FROM recipes ORDER BY id").fetchall()
    titles = [r["title"] for r in rows]
    # every commit that returned is there; at most the one in flight more; nothing half-written
    assert titles[: committed + 1] == [f"Recipe {i}" for i in range(committed + 1)]
    assert len(titles) in (committed + 1, committed + 2)
    for i, r in enumerate(rows):
        assert r["ingredients"].count("cups flour") == 50 and r["directions"].count(f"Step {i}.") == 20


def test_tests_never_use_the_users_own_kitchen_db():
    """conftest points platformdirs' data dir at a fresh folder: a test cannot migrate or read ~/.local/share."""
    from chefbot.kitchen.db import default_db_path

    assert not default_db_path().is_relative_to(Path.home() / ".local" / "share")
    assert default_db_path().parent.parent == Path(os.environ["XDG_DATA_HOME"])
