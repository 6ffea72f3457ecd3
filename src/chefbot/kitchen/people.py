"""People of the kitchen: a household's accounts, their login sessions and API tokens (the storage and the rules).

* **One household per database** (``households`` row 1, made with the first account): everyone in it shares
  the library, the plans, the shopping lists and the tastings; a person belongs to it.
* **Passwords** are hashed by argon2-cffi's ``PasswordHasher`` with its default parameters, which are RFC 9106's
  second recommended option (argon2id, t=3, m=64 MiB, p=4: ``argon2.profiles.RFC_9106_LOW_MEMORY``,
  https://argon2-cffi.readthedocs.io/en/stable/api.html).  A stored hash made with other parameters is
  replaced at the next good login (``check_needs_rehash``).  Length rules from NIST SP 800-63B 5.1.1.2: at least
  8 characters, at least 64 permitted, never truncated (here: up to ``MAX_PASSWORD``, a bound on the work
  one request can ask for).
* **Sessions**: a random 32-byte id in the cookie; the database keeps only its SHA-256 (a stolen backup or DB
  holds no usable session), an expiry (``SESSION_S``) and the session's CSRF token.  Logout deletes the row.
* **API tokens**: ``cbt_`` + 32 random bytes (URL-safe base64), shown once; stored as SHA-256, which is enough
  for a high-entropy random secret (no salt or slow hash: nothing to brute-force, and a slow hash would cost
  every request; https://security.stackexchange.com/questions/151257).  Revocable, listed with name, created
  and last used.
* **Who is who** (``Principal``): what a request is authenticated as: a person (by session or token), a
  config key (``serve.api_keys``: scripts, no person), ``open`` (no accounts and no keys: as before), or
  ``anonymous`` (not logged in: only the login route lets it through).
* **Login attempts** are limited per account name and per client address (``LoginLimiter``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import BaseModel, ConfigDict

from chefbot.kitchen.db import KitchenDB, KitchenError, NotFound, now_iso
from chefbot.kitchen.rows import RecipeError, clean_text

HASHER = PasswordHasher()  # argon2-cffi's defaults: RFC 9106's second recommended parameters (argon2id)
MIN_PASSWORD, MAX_PASSWORD = 8, 1024  # NIST SP 800-63B 5.1.1.2: at least 8 characters, permit at least 64
MAX_NAME = 60
HOUSEHOLD_ID = 1
SESSION_S = 30 * 24 * 3600  # a login lasts 30 days (then log in again); logout ends it at once
TOKEN_PREFIX = "cbt_"  # tells a personal token from a config key in logs and secret scanners


@functools.cache
def _dummy_hash() -> str:
    """A hash of a password nobody has: verified against when the name is unknown, so an unknown name costs the
    same time as a wrong password (no account enumeration by timing).  Made at the first login, not at import
    (an argon2id hash costs tens of milliseconds and most commands never log anyone in)."""
    return HASHER.hash(secrets.token_urlsafe(16))


class AccountError(KitchenError):
    """A name or password the kitchen refuses; ``field`` names the part at fault."""

    exit_code = 2

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class NameTaken(AccountError):
    """There is already a person with this name (names are unique, case-insensitively)."""

    exit_code = 1


class Principal(BaseModel):
    """Who a request is: resolved once per request (``serve.auth``), read by routes through a dependency."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["person", "config_key", "open", "anonymous"]
    via: Literal["session", "token", "config_key", "none"]
    person_id: int | None = None
    name: str | None = None
    household_id: int | None = None

    @property
    def is_person(self) -> bool:
        return self.kind == "person"


OPEN = Principal(kind="open", via="none")  # no accounts and no keys: whoever can connect, as before accounts
ANONYMOUS = Principal(
    kind="anonymous", via="none"
)  # not logged in on a closed server: reaches /api/login and /api/session only
CONFIG_KEY = Principal(kind="config_key", via="config_key")


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def random_secret(nbytes: int = 32) -> str:
    """``nbytes`` from the OS's CSPRNG, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(nbytes)).rstrip(b"=").decode()


# -- accounts ---------------------------------------------------------------------------------------
def check_name(name: object, empty: str = "give a name with a visible character") -> str:
    """A person's or a token's name, normalized (``rows.clean_text``); AccountError naming ``name`` if refused."""
    try:
        clean = clean_text(name, "name", MAX_NAME)
    except RecipeError as e:
        raise AccountError(str(e), "name") from None
    if not clean:
        raise AccountError(f"name: {empty}", "name")
    return clean


def check_password(password: object) -> str:
    if not isinstance(password, str):
        raise AccountError("password: expected a string", "password")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters (NIST SP 800-63B)", "password")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password: at most {MAX_PASSWORD} characters", "password")
    return password


def ensure_household(c: sqlite3.Connection, name: str = "Household") -> int:
    c.execute(
        "INSERT INTO households (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        (HOUSEHOLD_ID, name, now_iso()),
    )
    return HOUSEHOLD_ID


def _person(row: sqlite3.Row) -> dict:
    return {"id": row["id"], "name": row["name"], "household_id": row["household_id"], "created_at": row["created_at"]}


def add_person(db: KitchenDB, name: str, password: str) -> dict:
    """A new account in the household (made with the first account); NameTaken when the name is in use."""
    name, password = check_name(name), check_password(password)
    hashed = HASHER.hash(password)  # before the write: the slow part holds no lock
    try:
        with db.write() as c:
            household = ensure_household(c)
            cur = c.execute(
                "INSERT INTO people (household_id, name, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (household, name, hashed, now_iso()),
            )
            row = c.execute("SELECT * FROM people WHERE id = ?", (cur.lastrowid,)).fetchone()
    except sqlite3.IntegrityError:
        raise NameTaken(f"name: there is already a person called {name!r}", "name") from None
    return _person(row)


def list_people(db: KitchenDB) -> list[dict]:
    with db.read() as c:
        return [_person(r) for r in c.execute("SELECT * FROM people ORDER BY name COLLATE NOCASE")]


def remove_person(db: KitchenDB, name: str) -> None:
    """Delete an account, its sessions and tokens (their votes stay, under their name); NotFound if none."""
    with db.write() as c:
        if c.execute("DELETE FROM people WHERE name = ?", (name,)).rowcount == 0:
            raise NotFound("person", name, "name")


def has_people(db: KitchenDB) -> bool:
    with db.read() as c:
        return c.execute("SELECT EXISTS (SELECT 1 FROM people)").fetchone()[0] == 1


def household(db: KitchenDB) -> dict | None:
    with db.read() as c:
        row = c.execute("SELECT * FROM households WHERE id = ?", (HOUSEHOLD_ID,)).fetchone()
    return None if row is None else {"id": row["id"], "name": row["name"], "created_at": row["created_at"]}


def check_login(db: KitchenDB, name: str, password: str) -> dict | None:
    """The person when ``password`` is theirs, else None (an unknown name takes as long as a wrong password).
    A good login whose stored hash used other parameters is rehashed with today's."""
    if not isinstance(name, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
        return None
    with db.read() as c:
        row = c.execute("SELECT * FROM people WHERE name = ?", (name.strip(),)).fetchone()
    try:
        HASHER.verify(row["password_hash"] if row else _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if HASHER.check_needs_rehash(row["password_hash"]):
        with db.write() as c:
            c.execute("UPDATE people SET password_hash = ? WHERE id = ?", (HASHER.hash(password), row["id"]))
    return _person(row)


def set_password(db: KitchenDB, name: str, password: str) -> None:
    hashed = HASHER.hash(check_password(password))
    with db.write() as c:
        if c.execute("UPDATE people SET password_hash = ? WHERE name = ?", (hashed, name)).rowcount == 0:
            raise NotFound("person", name, "name")
        c.execute("DELETE FROM sessions WHERE person_id = (SELECT id FROM people WHERE name = ?)", (name,))


def principal_of(person: dict, via: Literal["session", "token"]) -> Principal:
    return Principal(
        kind="person", via=via, person_id=person["id"], name=person["name"], household_id=person["household_id"]
    )


# -- sessions ---------------------------------------------------------------------------------------
def start_session(db: KitchenDB, person_id: int, now: float | None = None) -> dict:
    """A new session: ``id`` for the cookie (only its hash is stored), ``csrf_token``, ``expires_at`` (Unix)."""
    sid, csrf = random_secret(), random_secret()
    now = time.time() if now is None else now
    expires = now + SESSION_S
    with db.write() as c:
        c.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))  # the expired ones, while here
        c.execute(
            "INSERT INTO sessions (id_sha256, person_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (sha256_hex(sid), person_id, csrf, now_iso(), expires),
        )
    return {"id": sid, "csrf_token": csrf, "expires_at": expires}


def session_of(db: KitchenDB, sid: str, now: float | None = None) -> tuple[Principal, str] | None:
    """(the person, the session's CSRF token) for a live session id; None when unknown, ended or expired."""
    now = time.time() if now is None else now
    with db.read() as c:
        row = c.execute(
            "SELECT p.*, s.csrf_token FROM sessions s JOIN people p ON p.id = s.person_id "
            "WHERE s.id_sha256 = ? AND s.expires_at > ?",
            (sha256_hex(sid), now),
        ).fetchone()
    return None if row is None else (principal_of(_person(row), "session"), row["csrf_token"])


def end_session(db: KitchenDB, sid: str) -> bool:
    with db.write() as c:
        return c.execute("DELETE FROM sessions WHERE id_sha256 = ?", (sha256_hex(sid),)).rowcount > 0


# -- API tokens -------------------------------------------------------------------------------------
def _token(row: sqlite3.Row) -> dict:
    return {"id": row["id"], "name": row["name"], "created_at": row["created_at"], "last_used_at": row["last_used_at"]}


def create_token(db: KitchenDB, person_id: int, name: str) -> dict:
    """A new token for this person: the answer holds ``token`` itself, which is never stored nor shown again."""
    name = check_name(name, "name the token (where it is used, e.g. 'laptop script')")
    token = TOKEN_PREFIX + random_secret()
    with db.write() as c:
        cur = c.execute(
            "INSERT INTO api_tokens (person_id, name, token_sha256, created_at) VALUES (?, ?, ?, ?)",
            (person_id, name, sha256_hex(token), now_iso()),
        )
        row = c.execute("SELECT * FROM api_tokens WHERE id = ?", (cur.lastrowid,)).fetchone()
    return {**_token(row), "token": token}


def list_tokens(db: KitchenDB, person_id: int) -> list[dict]:
    with db.read() as c:
        return [_token(r) for r in c.execute("SELECT * FROM api_tokens WHERE person_id = ? ORDER BY id", (person_id,))]


def revoke_token(db: KitchenDB, person_id: int, token_id: int) -> None:
    """Delete one of this person's tokens; NotFound for a token that is not theirs."""
    with db.write() as c:
        if c.execute("DELETE FROM api_tokens WHERE id = ? AND person_id = ?", (token_id, person_id)).rowcount == 0:
            raise NotFound("token", token_id, "token_id")


def token_principal(db: KitchenDB, token: str) -> Principal | None:
    """The person a bearer token belongs to (its ``last_used_at`` updated, at most once a minute), or None."""
    digest = sha256_hex(token)
    with db.read() as c:
        row = c.execute(
            "SELECT p.*, t.id AS token_id, t.last_used_at FROM api_tokens t JOIN people p ON p.id = t.person_id "
            "WHERE t.token_sha256 = ?",
            (digest,),
        ).fetchone()
    if row is None:
        return None
    now = now_iso()
    if (row["last_used_at"] or "")[:16] != now[:16]:
        with db.write() as c:
            c.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, row["token_id"]))
    return principal_of(_person(row), "token")


# -- login attempts ---------------------------------------------------------------------------------
class LoginLimiter:
    """Failed logins counted in a sliding window, per account name and per client address.

    Hand-written (about 30 lines) because what is counted is failures, a success clears the account's count,
    and the answer needs the seconds until the next try (``Retry-After``); a request-rate library (slowapi,
    limits) counts every request of a route instead.  In-process: one server process, as chefbot serve runs.
    The number of names and addresses remembered is bounded (``max_keys``, oldest forgotten first), so made-up
    names cannot grow it without end."""

    def __init__(
        self,
        per_account: int = 5,
        per_address: int = 20,
        window_s: float = 15 * 60,
        max_keys: int = 10_000,
        clock=time.monotonic,
    ) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.window_s, self.max_keys, self.clock = window_s, max_keys, clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, name: str, address: str) -> list[tuple[str, str]]:
        return [("account", name.strip().casefold()), ("address", address)]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def attempt(self, name: str, address: str) -> int | None:
        """Before checking a password: None, and the attempt counted as a failure until ``succeeded`` says
        otherwise (checked and counted under one lock, so parallel guesses cannot slip past the limit); or the
        seconds until this name may be tried from this address, nothing counted."""
        with self._lock:
            now = self.clock()
            keys = self._keys(name, address)
            waits = [
                times[0] + self.window_s - now
                for key in keys
                if len(times := self._recent(key, now)) >= self.limits[key[0]]
            ]
            if waits:
                return max(1, int(max(waits)) + 1)
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        return None

    def succeeded(self, name: str, address: str) -> None:
        """The attempt was a good login: the account's failures are forgotten, and this one is not counted."""
        with self._lock:
            self._failures.pop(("account", name.strip().casefold()), None)
            times = self._failures.get(("address", address))
            if times:
                times.pop()
