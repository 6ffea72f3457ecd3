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
* **Refused at open, named when it fails**: a folder that cannot be created, a file that is
  not SQLite, a damaged file (``PRAGMA quick_check`` and the schema's tables are read at
  open), a read-only file or file system: each one ``KitchenError`` line naming the file,
  so ``chefbot serve --db`` and ``chefbot library`` stop before doing anything.  Storage
  faults later on (disk full, read-only, locked, I/O error, damage found by a query) are
  ``StorageError`` (``StorageFull`` for a full disk) with SQLite's own words: the API answers
  them 507 / 503, the CLI with one line.  A failed write's rollback never hides its cause.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    # -- 2 -> 3: people (kitchen/people.py): one household per DB, its accounts, login sessions, API tokens,
    # and a tasting vote's person.  Secrets are stored only as hashes: argon2id strings for passwords (the
    # CHECK refuses anything else), SHA-256 hex digests of session ids and tokens.
    [
        """CREATE TABLE households (
            id INTEGER PRIMARY KEY CHECK (id = 1),  -- one household per database for now
            name TEXT NOT NULL CHECK (length(name) > 0),
            created_at TEXT NOT NULL)""",
        """CREATE TABLE people (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            household_id INTEGER NOT NULL REFERENCES households (id),
            name TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (length(name) > 0),
            password_hash TEXT NOT NULL CHECK (substr(password_hash, 1, 10) = '$argon2id$'),
            created_at TEXT NOT NULL)""",
        """CREATE TABLE sessions (
            id_sha256 TEXT PRIMARY KEY,         -- SHA-256 hex of the cookie's random id
            person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at REAL NOT NULL)           -- Unix time""",
        "CREATE INDEX sessions_person ON sessions (person_id)",
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            name TEXT NOT NULL CHECK (length(name) > 0),
            token_sha256 TEXT NOT NULL UNIQUE,  -- SHA-256 hex of the token; the token itself is shown once
            created_at TEXT NOT NULL,
            last_used_at TEXT)""",
        "CREATE INDEX api_tokens_person ON api_tokens (person_id)",
        "ALTER TABLE tastings ADD COLUMN person_id INTEGER REFERENCES people (id) ON DELETE SET NULL",
    ],
    [  # 3 -> 4: saved shopping lists (kitchen/saved_lists.py)
        """CREATE TABLE shopping_lists (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL CHECK (length(title) > 0),
            version INTEGER NOT NULL DEFAULT 1,  -- +1 on every change (a tick, an item, the title)
            recipes TEXT NOT NULL DEFAULT '[]',  -- JSON: [{id, title, servings}] it was made from
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        """CREATE TABLE shopping_items (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            list_id INTEGER NOT NULL REFERENCES shopping_lists (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            aisle TEXT NOT NULL,
            text TEXT NOT NULL CHECK (length(text) > 0),
            detail TEXT NOT NULL DEFAULT '{}',  -- JSON: name, quantity, amounts, recipes, lines
            own INTEGER NOT NULL CHECK (own IN (0, 1)),  -- 1: added by the cook, not from a recipe
            checked INTEGER NOT NULL DEFAULT 0 CHECK (checked IN (0, 1)),
            checked_by TEXT,
            checked_at TEXT,
            created_at TEXT NOT NULL)""",
        "CREATE INDEX shopping_items_list ON shopping_items (list_id, position)",
    ],
    # -- 4 -> 5: editing, tags and full-text search (kitchen/library.py).  Every edit bumps ``version`` and keeps
    # the row it replaced in recipe_versions; tags are a JSON list of normalized tags; the FTS5 index (porter stems
    # over unicode61 tokens, diacritics folded) is an external-content table over recipes kept in sync by triggers,
    # so it changes in the same transaction as the row.  The old substring column ``search`` goes.
    [
        "ALTER TABLE recipes ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1)",
        "ALTER TABLE recipes ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",  # JSON list of normalized tags
        "ALTER TABLE recipes ADD COLUMN category TEXT",
        "ALTER TABLE recipes DROP COLUMN search",
        "CREATE INDEX recipes_category ON recipes (category COLLATE NOCASE)",
        """CREATE TABLE recipe_versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recipe_id INTEGER NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
            version INTEGER NOT NULL CHECK (version >= 1),
            title TEXT NOT NULL,
            servings INTEGER NOT NULL,
            ingredients TEXT NOT NULL,          -- JSON list of lines
            directions TEXT NOT NULL,           -- JSON list of steps
            tags TEXT NOT NULL DEFAULT '[]',
            category TEXT,
            saved_at TEXT NOT NULL,             -- when this version was saved (the recipe's updated_at then)
            UNIQUE (recipe_id, version))""",
        """CREATE VIRTUAL TABLE recipes_fts USING fts5(
            title, ingredients, directions, tags,
            content='recipes', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER recipes_fts_insert AFTER INSERT ON recipes BEGIN
            INSERT INTO recipes_fts (rowid, title, ingredients, directions, tags)
            VALUES (new.id, new.title, new.ingredients, new.directions, new.tags);
        END""",
        """CREATE TRIGGER recipes_fts_delete AFTER DELETE ON recipes BEGIN
            INSERT INTO recipes_fts (recipes_fts, rowid, title, ingredients, directions, tags)
            VALUES ('delete', old.id, old.title, old.ingredients, old.directions, old.tags);
        END""",
        """CREATE TRIGGER recipes_fts_update AFTER UPDATE ON recipes BEGIN
            INSERT INTO recipes_fts (recipes_fts, rowid, title, ingredients, directions, tags)
            VALUES ('delete', old.id, old.title, old.ingredients, old.directions, old.tags);
            INSERT INTO recipes_fts (rowid, title, ingredients, directions, tags)
            VALUES (new.id, new.title, new.ingredients, new.directions, new.tags);
        END""",
        "INSERT INTO recipes_fts (recipes_fts) VALUES ('rebuild')",
    ],
    # -- the meal calendar (kitchen/calendar.py): 5 -> 6, after recipe versions; one self-contained step.
    # A library recipe on a day and a meal at servings; ``title`` is the recipe's title when it was put there,
    # shown when the recipe has left the library (``recipe_id`` is then NULL: ON DELETE SET NULL).
    [
        """CREATE TABLE calendar_entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            day TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
            meal TEXT NOT NULL CHECK (length(meal) > 0),  -- breakfast, lunch, dinner or the cook's own name
            recipe_id INTEGER REFERENCES recipes (id) ON DELETE SET NULL,
            title TEXT NOT NULL CHECK (length(title) > 0),
            servings INTEGER NOT NULL CHECK (servings BETWEEN 1 AND 100),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX calendar_entries_day ON calendar_entries (day, meal)",
        "CREATE INDEX calendar_entries_recipe ON calendar_entries (recipe_id)",
    ],
    # -- ratings and notes per person (kitchen/ratings.py), and a tasting pair's reveal (kitchen/tastings.py); one
    # self-contained step.  A person rates a recipe once (1-5, changeable) and keeps notes of their own; both go with
    # the recipe or the person (ON DELETE CASCADE).  A pair's votes may change until ``revealed_at`` is set.
    [
        """CREATE TABLE recipe_ratings (
            recipe_id INTEGER NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
            updated_at TEXT NOT NULL,
            PRIMARY KEY (recipe_id, person_id))""",
        "CREATE INDEX recipe_ratings_person ON recipe_ratings (person_id)",
        """CREATE TABLE recipe_notes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recipe_id INTEGER NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
            person_id INTEGER NOT NULL REFERENCES people (id) ON DELETE CASCADE,
            text TEXT NOT NULL CHECK (length(text) > 0),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX recipe_notes_recipe ON recipe_notes (recipe_id, id)",
        "CREATE INDEX recipe_notes_person ON recipe_notes (person_id)",
        "ALTER TABLE tasting_pairs ADD COLUMN revealed_at TEXT",  # NULL: votes may still change
    ],
    # -- recipe photos (kitchen/photos.py): one self-contained step.  A row names a file beside the DB by its
    # content hash (photos/<2 hex>/<sha256>.webp and its thumbnail); files no row names are removed by photos.gc.
    [
        """CREATE TABLE recipe_photos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            recipe_id INTEGER NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
            hash TEXT NOT NULL CHECK (length(hash) = 64 AND hash NOT GLOB '*[^0-9a-f]*'),  -- SHA-256 of the file
            width INTEGER NOT NULL CHECK (width > 0),
            height INTEGER NOT NULL CHECK (height > 0),
            position INTEGER NOT NULL,          -- the first (lowest) is the recipe's picture
            created_at TEXT NOT NULL,
            UNIQUE (recipe_id, hash))""",
        "CREATE INDEX recipe_photos_recipe ON recipe_photos (recipe_id, position)",
        "CREATE INDEX recipe_photos_hash ON recipe_photos (hash)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)
# The version that adds the calendar, found by its table (the step's place may move when branches merge).
CALENDAR_SCHEMA = next(i + 1 for i, step in enumerate(MIGRATIONS) if "CREATE TABLE calendar_entries" in step[0])
# The version that adds ratings, notes and the tasting reveal, found the same way.
RATINGS_SCHEMA = next(i + 1 for i, step in enumerate(MIGRATIONS) if "CREATE TABLE recipe_ratings" in step[0])
PHOTOS_SCHEMA = next(i + 1 for i, step in enumerate(MIGRATIONS) if "CREATE TABLE recipe_photos" in step[0])


class KitchenError(ChefbotError):
    """The kitchen DB cannot be used (a newer schema, not a SQLite file, a bad backup)."""


class StorageError(KitchenError):
    """The DB's storage failed: read-only, locked, I/O error, damaged (HTTP 503), or full (``StorageFull``, 507)."""

    exit_code = 1
    status, code = 503, "storage_unavailable"


class StorageFull(StorageError):
    status, code = 507, "storage_full"


class UnreadableRow(KitchenError):
    """A stored row this chefbot cannot read (written by another version, or edited by hand): ``what``, ``ident``, ``field``."""

    def __init__(self, what: str, ident: object, field: str, detail: str) -> None:
        super().__init__(
            f"{what} {ident} cannot be read: {field}: {detail} (written by another version or edited "
            "by hand; delete it, or fix it in an export and import that)"
        )
        self.what, self.ident, self.field, self.detail = what, ident, field, detail

    def as_dict(self) -> dict:
        return {"id": self.ident, "field": self.field, "message": str(self)}


# SQLite's primary result codes that mean "the storage", not "this statement".
SQLITE_PERM, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT = 3, 5, 6, 8, 10, 11
SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 13, 14, 26


def unwritable(path: Path) -> str | None:
    """Why the DB file cannot be written, when the file system says so (read-only mount, folder, file); else None."""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return f"its file system (the one holding {folder}) is mounted read-only"
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable"
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if f.exists() and not os.access(f, os.W_OK):
            return f"{f} is read-only"
    return None


def storage_error(e: sqlite3.Error, path: object) -> StorageError | None:
    """SQLite's error as a StorageError naming the file and the cause; None when it is not about the storage."""
    code = getattr(e, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(e)
    if primary is None:  # sqlite3 built without error codes: go by SQLite's fixed messages
        primary = next(
            (
                c
                for c, m in (
                    (SQLITE_FULL, "disk is full"),
                    (SQLITE_READONLY, "readonly database"),
                    (SQLITE_BUSY, "database is locked"),
                    (SQLITE_IOERR, "disk I/O error"),
                    (SQLITE_CORRUPT, "malformed"),
                    (SQLITE_NOTADB, "not a database"),
                    (SQLITE_CANTOPEN, "unable to open"),
                )
                if m in text
            ),
            None,
        )
    if primary == SQLITE_FULL:
        return StorageFull(f"kitchen DB {path}: {text} (free some space; nothing of this change was saved)")
    if primary in (SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN):
        why = unwritable(Path(str(path)))
        if why:
            return StorageError(
                f"kitchen DB {path}: {text}: {why} (chefbot writes the DB and its -wal and -shm files beside it)"
            )
        if primary == SQLITE_CANTOPEN:
            return StorageError(f"kitchen DB {path}: {text} (does its folder exist and may chefbot write there?)")
        return StorageError(
            f"kitchen DB {path}: {text}: the file, its folder or its file system is read-only "
            "(chefbot writes the DB and its -wal and -shm files beside it)"
        )
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return StorageError(f"kitchen DB {path}: {text} (another process holds it; try again)")
    if primary == SQLITE_IOERR:
        return StorageError(f"kitchen DB {path}: {text} (the disk or file system failed)")
    if primary in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return StorageError(
            f"kitchen DB {path}: {text}: the file is damaged (restore a backup with `chefbot library import`)"
        )
    return None


class NotFound(KitchenError):
    """No row with this id: ``what`` (recipe, plan, task, pair) and the request ``field`` that named it."""

    def __init__(self, what: str, ident: object, field: str) -> None:
        super().__init__(f"no {what} {ident!r}")
        self.what, self.field = what, field


def require_recipe(c: sqlite3.Connection, recipe_id: int) -> None:
    """NotFound naming ``recipe_id`` when the library has no such recipe (before adding a row that belongs to one)."""
    if c.execute("SELECT 1 FROM recipes WHERE id = ?", (recipe_id,)).fetchone() is None:
        raise NotFound("recipe", recipe_id, "recipe_id")


def now_iso() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat()


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: str, upto: int = SCHEMA_VERSION) -> int:
    """Bring the file to version ``upto`` one migration (and one transaction) at a time; the version reached."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise KitchenError(
            f"kitchen DB {path} has schema version {version}, newer than this chefbot's {SCHEMA_VERSION}: "
            "use the newer chefbot (its `chefbot library export` writes JSON this one can import)"
        )
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
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # never hide why the migration failed
                    conn.execute("ROLLBACK")
            raise
        version += 1
    return version


class KitchenDB:
    """One SQLite file; ``read()`` and ``write()`` hand out its connection (a write is one transaction)."""

    def __init__(self, path: str | Path, *, upto: int = SCHEMA_VERSION) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(
                f"kitchen DB {self.path}: cannot create its folder {self.path.parent}: {e.strerror or e}"
            ) from None
        if self.path.is_dir():
            raise KitchenError(f"kitchen DB {self.path} is a folder; give a file name, e.g. {self.path / 'kitchen.db'}")
        self._lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise storage_error(e, self.path) or KitchenError(f"kitchen DB {self.path}: {e}") from None
        try:
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA busy_timeout = 10000")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            migrate(self.conn, str(self.path), upto)
            self._check()
        except sqlite3.Error as e:
            self.conn.close()
            code = getattr(e, "sqlite_errorcode", 0) & 0xFF
            if code == SQLITE_NOTADB:
                raise KitchenError(f"kitchen DB {self.path}: {e} (is it a chefbot kitchen DB?)") from None
            raise storage_error(e, self.path) or KitchenError(f"kitchen DB {self.path}: {e}") from None
        except BaseException:
            self.conn.close()
            raise
        if str(mode).lower() != "wal":
            self.conn.close()
            raise KitchenError(f"kitchen DB {self.path}: SQLite refused WAL mode ({mode}); put it on a local disk")

    def _check(self) -> None:
        """Refuse a damaged file now rather than at some later request: SQLite's quick check, and the schema's tables."""
        problems = [" ".join(str(r[0]).split()) for r in self.conn.execute("PRAGMA quick_check(3)")]  # one line each
        if problems != ["ok"]:
            raise StorageError(
                f"kitchen DB {self.path} is damaged (PRAGMA quick_check: {'; '.join(problems)}); "
                "restore a backup with `chefbot library import`"
            )
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = schema_version(self.conn)
        expected = {"recipes", "plans", "plan_progress"} if version >= 1 else set()
        expected |= {"tasting_pairs", "tastings"} if version >= 2 else set()
        expected |= {"households", "people", "sessions", "api_tokens"} if version >= 3 else set()
        expected |= {"shopping_lists", "shopping_items"} if version >= 4 else set()
        expected |= {"recipe_versions", "recipes_fts"} if version >= 5 else set()
        expected |= {"calendar_entries"} if version >= CALENDAR_SCHEMA else set()
        expected |= {"recipe_ratings", "recipe_notes"} if version >= RATINGS_SCHEMA else set()
        expected |= {"recipe_photos"} if version >= PHOTOS_SCHEMA else set()
        missing = sorted(expected - tables)
        if missing:
            raise KitchenError(
                f"kitchen DB {self.path} has schema version {version} but no table {missing[0]} "
                "(damaged, or not a chefbot kitchen DB)"
            )

    def _storage(self, e: sqlite3.Error) -> Exception:
        return storage_error(e, self.path) or e

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self.conn
            except sqlite3.Error as e:
                err = self._storage(e)
                if err is e:
                    raise
                raise err from e

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything in the block commits together, or nothing does."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                    self.conn.execute("COMMIT")
                except BaseException:
                    self._rollback()
                    raise
            except sqlite3.Error as e:
                err = self._storage(e)
                if err is e:
                    raise
                raise err from e

    def _rollback(self) -> None:
        """Roll back what is left: SQLite may already have (a full disk, an I/O error), and its "cannot rollback -
        no transaction is active" must not replace the error that made the write fail."""
        if self.conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def integrity(self) -> str:
        with self.read() as c:
            return str(c.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> KitchenDB:
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
