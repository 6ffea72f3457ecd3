"""The kitchen's SQLite file: versioned schema, WAL, one transaction per write.

Why the standard ``sqlite3`` module and no ORM: five small tables, JSON columns for what
is read whole (a recipe's lines, a plan), and every write is a handful of statements
that must commit together; SQL in one file says exactly what is stored.

* **Schema versions**: ``MIGRATIONS[i]`` takes the file from ``PRAGMA user_version`` i to
  i + 1, in one transaction with the version bump, so a crash mid-migration leaves the
  old version. Version 0 is an empty file. A file from a newer chefbot (a version above
  ``SCHEMA_VERSION``) is refused with a clear message instead of being misread.
* **Durability**: WAL journal, ``synchronous=FULL`` (a commit is on disk before it
  returns: a SIGKILL or a power cut loses no committed row and leaves no half row),
  foreign keys on, ``BEGIN IMMEDIATE`` for writes (the writer takes the lock up front;
  ``busy_timeout`` waits for another process's write instead of failing).
* One connection per ``KitchenDB``, shared by the server's threads under a lock:
  SQLite serializes writes anyway and the statements are small.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

from chefbot.errors import ChefbotError

MIGRATIONS: list[list[str]] = [
    [  # 0 -> 1: the library and meal plans
        """CREATE TABLE recipes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL CHECK (length(title) > 0),
            servings INTEGER NOT NULL CHECK (servings BETWEEN 1 AND 100),
            ingredients TEXT NOT NULL,          -- JSON list of lines
            directions TEXT NOT NULL,           -- JSON list of steps
            source TEXT NOT NULL DEFAULT '{}',  -- JSON: kind, model, adapter, settings, ...
            search TEXT NOT NULL,               -- lower-case title and ingredient lines, for LIKE
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX recipes_created ON recipes (created_at)",
        """CREATE TABLE plans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            serve_at TEXT NOT NULL,
            request TEXT NOT NULL,              -- JSON: the form as posted
            plan TEXT NOT NULL,                 -- JSON: the planner's answer, recipes copied in
            created_at TEXT NOT NULL)""",
        """CREATE TABLE plan_progress (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            plan_id INTEGER NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            cook TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('started', 'done')),
            at TEXT NOT NULL,
            UNIQUE (plan_id, task_id, status))""",
    ],
    [  # 1 -> 2: blind tastings
        """CREATE TABLE tasting_pairs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ingredients TEXT NOT NULL,          -- JSON list
            side_a TEXT NOT NULL,               -- JSON: the side shown as A (model, settings)
            side_b TEXT NOT NULL,
            answer_a TEXT NOT NULL,
            answer_b TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE tastings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            pair_id INTEGER NOT NULL REFERENCES tasting_pairs (id) ON DELETE CASCADE,
            choice TEXT NOT NULL CHECK (choice IN ('A', 'B', 'tie', 'both_bad')),
            rater TEXT NOT NULL CHECK (length(rater) > 0),
            note TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (pair_id, rater))""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class KitchenError(ChefbotError):
    """The kitchen DB cannot be used (a newer schema, not a SQLite file, a bad backup)."""


class NotFound(KitchenError):
    """No row with this id: ``what`` (recipe, plan, task, pair) and the request ``field`` that named it."""

    def __init__(self, what: str, ident: object, field: str) -> None:
        super().__init__(f"no {what} {ident!r}")
        self.what, self.field = what, field


def now_iso() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: str, upto: int = SCHEMA_VERSION) -> int:
    """Bring the file to version ``upto`` one migration (and one transaction) at a time; the version reached."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise KitchenError(f"kitchen DB {path} has schema version {version}, newer than this chefbot's {SCHEMA_VERSION}: "
                           "use the newer chefbot (its `chefbot library export` writes JSON this one can import)")
    while version < upto:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) != version:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                version = schema_version(conn)
                continue
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version += 1
    return version


class KitchenDB:
    """One SQLite file; ``read()`` and ``write()`` hand out its connection (a write is one transaction)."""

    def __init__(self, path: str | Path, *, upto: int = SCHEMA_VERSION) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 10000")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            migrate(self.conn, str(self.path), upto)
        except sqlite3.DatabaseError as e:
            raise KitchenError(f"kitchen DB {self.path}: {e} (is it a chefbot kitchen DB?)") from None
        if str(mode).lower() != "wal":
            raise KitchenError(f"kitchen DB {self.path}: SQLite refused WAL mode ({mode}); put it on a local disk")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self.conn

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything in the block commits together, or nothing does."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def integrity(self) -> str:
        with self.read() as c:
            return str(c.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> "KitchenDB":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def default_db_path() -> Path:
    """``kitchen.db`` in the user's data directory (``platformdirs``: ~/.local/share/chefbot on Linux)."""
    import platformdirs  # small, but only the server and the library commands need it

    return Path(platformdirs.user_data_dir("chefbot")) / "kitchen.db"


def resolve_db_path(configured: str | None, override: str | Path | None = None) -> Path:
    """``--db`` over ``kitchen.db_path`` over the user data directory."""
    chosen = override or configured
    return Path(chosen).expanduser() if chosen else default_db_path()
