"""The whole kitchen DB as one JSON file: ``chefbot library export`` / ``import``.

Export reads one consistent snapshot (a single read transaction) and writes the file
atomically (``chefbot.io.atomic_write_json``: a temporary sibling renamed into place), so
a backup on disk is always complete.  A stored column that is not JSON is exported as its
text, so an export never loses a row (the import then reports it).

Import checks every row first, with the models the API validates requests with
(``rows.RecipeRow``, ``PlanRow``, ``PairRow``, ``ShoppingListRow``; recipes also through ``check_recipe``, the one
normalization): a bad row is named by kind, index and field (``recipes[3].source: ...``) and
either the whole import is refused before anything is written (the default), or, with
``skip_bad``, that row is skipped and counted; a bad row is never stored.  Then everything
is added in one transaction with new ids.

**Identity.** A row is the same as one already in the DB when its whole content is: a
recipe's title, servings, lines, source, times, tags and category (its
``version`` and previous ``versions`` travel with it, and a recipe already in the DB keeps its own history); a plan's title, times, form and
planner's answer; a tasting pair's ingredients, sides, answers and time; a shopping list's title,
recipes and creation time (with its items, own ones and ticks; a list already in the DB keeps its own,
the newer, items and ticks).  Rows are
matched as a multiset: a backup that holds the same content twice adds a second copy only
when the DB does not hold two already.  So export -> import into an empty DB -> export gives
the same content (ids aside), same-second rows with the same title stay apart, and
importing a backup twice adds nothing.  A plan's progress and a pair's votes are merged
into the row they match (one progress row per task and status, one vote per rater).

**People** (``kitchen.people``): the household's name and each account with its password's argon2id hash and
its API tokens' SHA-256 (no password or token is ever in a backup in clear; a backup still lets someone try to
guess weak passwords offline, so keep it as private as the DB).  A person is the same as one already in the DB by
name (case-insensitively): that one keeps this DB's password and tokens.  Sessions are not exported (a restore
logs everyone out).  A vote by a person names them (``person``) and is linked to the account of that name.

**Ratings and notes** (``kitchen.ratings``) travel inside their recipe (``ratings``, ``notes``), each naming its
person; on import they are linked to the recipe as stored here and to the account of that name (a rating or note
whose person is in neither the backup nor the DB is left out: it belongs to nobody here).  Merged like votes: a
person's rating already in the DB counts, and the same note (author, text, time) is not added twice.  A tasting
pair's ``revealed_at`` travels with it (a revealed pair stays revealed).

**Photos** (``kitchen.photos``): each recipe's photos travel in its ``photos`` with the stored WebP file itself
(base64) and its SHA-256.  On import every photo's bytes are hashed first: a photo whose bytes do not match its
hash is a bad row naming it (``recipes[3].photos.0.data: ...``), so the backup is refused before anything is
written; good ones are decoded again (WebP only, the pixel limit), stored under their hash with a new thumbnail,
and added to their recipe (also to a recipe already in the DB, once per picture).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from chefbot.io import atomic_write_json
from chefbot.kitchen.db import SCHEMA_VERSION, KitchenDB, KitchenError, now_iso
from chefbot.kitchen.library import check_category, check_recipe, check_tags, insert_recipe, insert_version
from chefbot.kitchen.people import ensure_household
from chefbot.kitchen.photos import PhotoLimits, PhotoMismatch, check_bytes, read_bytes, restore
from chefbot.kitchen.photos import gc as photos_gc
from chefbot.kitchen.rows import (
    CalendarEntryRow,
    PairRow,
    PersonRow,
    PlanRow,
    RecipeError,
    RecipeRow,
    ShoppingListRow,
    first_problem,
)

FORMAT = "chefbot-kitchen"
VERSION = 1
# people first: a vote names its person; recipes before the calendar: an entry names its recipe
KINDS = ("people", "recipes", "plans", "tasting_pairs", "shopping_lists", "calendar")
MODELS: dict[str, type[BaseModel]] = {
    "people": PersonRow,
    "recipes": RecipeRow,
    "plans": PlanRow,
    "tasting_pairs": PairRow,
    "shopping_lists": ShoppingListRow,
    "calendar": CalendarEntryRow,
}
RECIPE_KEYS = (
    "title",
    "servings",
    "ingredients",
    "directions",
    "source",
    "created_at",
    "updated_at",
    "tags",
    "category",
)
VERSION_KEYS = ("version", "title", "servings", "ingredients", "directions", "tags", "category", "saved_at")
PLAN_KEYS = ("title", "serve_at", "request", "plan", "created_at")
PAIR_KEYS = ("ingredients", "side_a", "side_b", "answer_a", "answer_b", "created_at")
LIST_KEYS = ("title", "recipes", "created_at")
CALENDAR_KEYS = ("day", "meal", "title", "servings", "created_at")  # the recipe id differs between DBs
ITEM_KEYS = ("position", "aisle", "text", "detail", "own", "checked", "checked_by", "checked_at", "created_at")


class BackupError(KitchenError):
    """A backup that cannot be imported (the file, or its bad rows: ``bad``)."""

    exit_code = 1

    def __init__(self, message: str, bad: list[BadRow] | None = None) -> None:
        super().__init__(message)
        self.bad = bad or []


@dataclass(frozen=True)
class BadRow:
    kind: str  # recipes, plans, tasting_pairs
    index: int
    field: str
    message: str

    def __str__(self) -> str:
        if self.message == "missing":
            return f"{self.kind}[{self.index}]: no {self.field!r}"
        return f"{self.kind}[{self.index}]{'.' + self.field if self.field else ''}: {self.message}"


def _loads(text: Any) -> Any:
    """A JSON column; its text when it is not JSON (the import reports that row, the export keeps it)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return text


def snapshot(db: KitchenDB) -> dict:
    """Everything in the DB as JSON types, read in one transaction."""
    with db.read() as c:
        c.execute("BEGIN")
        try:
            recipes = [dict(r) for r in c.execute("SELECT * FROM recipes ORDER BY id")]
            plans = [dict(r) for r in c.execute("SELECT * FROM plans ORDER BY id")]
            progress = [dict(r) for r in c.execute("SELECT * FROM plan_progress ORDER BY id")]
            pairs = [dict(r) for r in c.execute("SELECT * FROM tasting_pairs ORDER BY id")]
            tastings = [
                dict(r)
                for r in c.execute(
                    "SELECT t.*, p.name AS person FROM tastings t LEFT JOIN people p ON p.id = t.person_id ORDER BY t.id"
                )
            ]
            people = [dict(r) for r in c.execute("SELECT * FROM people ORDER BY id")]
            tokens = [dict(r) for r in c.execute("SELECT * FROM api_tokens ORDER BY id")]
            home = c.execute("SELECT name, created_at FROM households").fetchone()
            lists = [dict(r) for r in c.execute("SELECT * FROM shopping_lists ORDER BY id")]
            versions = [dict(r) for r in c.execute("SELECT * FROM recipe_versions ORDER BY recipe_id, version")]
            list_items = [dict(r) for r in c.execute("SELECT * FROM shopping_items ORDER BY list_id, position, id")]
            calendar = [dict(r) for r in c.execute("SELECT * FROM calendar_entries ORDER BY day, id")]
            stars = [
                dict(r)
                for r in c.execute(
                    "SELECT r.recipe_id, p.name AS person, r.stars, r.updated_at FROM recipe_ratings r "
                    "JOIN people p ON p.id = r.person_id ORDER BY r.recipe_id, p.id"
                )
            ]
            notes = [
                dict(r)
                for r in c.execute(
                    "SELECT n.recipe_id, p.name AS person, n.text, n.created_at, n.updated_at FROM recipe_notes n "
                    "JOIN people p ON p.id = n.person_id ORDER BY n.recipe_id, n.id"
                )
            ]
            photos = [dict(r) for r in c.execute("SELECT * FROM recipe_photos ORDER BY recipe_id, position, id")]
            for ph in photos:  # the files in the same transaction: gc (which takes a write one) cannot remove them
                ph["data"] = base64.b64encode(read_bytes(db, ph["hash"])).decode("ascii")
        finally:
            if c.in_transaction:
                c.execute("COMMIT")
    by_plan: dict[int, list[dict]] = defaultdict(list)
    for x in progress:
        by_plan[x["plan_id"]].append({k: x[k] for k in ("task_id", "cook", "status", "at")})
    by_pair: dict[int, list[dict]] = defaultdict(list)
    for v in tastings:
        vote = {k: v[k] for k in ("choice", "rater", "note", "created_at")}
        by_pair[v["pair_id"]].append({**vote, "person": v["person"]} if v["person"] else vote)
    by_person: dict[int, list[dict]] = defaultdict(list)
    for x in tokens:
        by_person[x["person_id"]].append({k: x[k] for k in ("name", "token_sha256", "created_at", "last_used_at")})
    for person in people:
        person.pop("household_id")
        person["tokens"] = by_person[person["id"]]
    by_list: dict[int, list[dict]] = defaultdict(list)
    for it in list_items:
        row = {k: it[k] for k in ITEM_KEYS}
        row.update(detail=_loads(it["detail"]), own=bool(it["own"]), checked=bool(it["checked"]))
        by_list[it["list_id"]].append(row)
    for sl in lists:
        sl["recipes"] = _loads(sl["recipes"])
        sl["items"] = by_list[sl["id"]]
    by_recipe: dict[int, list[dict]] = defaultdict(list)
    for v in versions:
        by_recipe[v["recipe_id"]].append(
            {k: _loads(v[k]) if k in ("ingredients", "directions", "tags") else v[k] for k in VERSION_KEYS}
        )
    ratings_of: dict[int, list[dict]] = defaultdict(list)
    for x in stars:
        ratings_of[x.pop("recipe_id")].append(x)
    notes_of: dict[int, list[dict]] = defaultdict(list)
    for x in notes:
        notes_of[x.pop("recipe_id")].append(x)
    by_recipe_photos: dict[int, list[dict]] = defaultdict(list)
    for ph in photos:  # a file the DB names that is gone: KitchenError naming it (read_bytes)
        by_recipe_photos[ph["recipe_id"]].append(
            {k: ph[k] for k in ("hash", "width", "height", "position", "created_at", "data")}
        )
    for r in recipes:
        for k in ("ingredients", "directions", "source", "tags"):
            r[k] = _loads(r[k])
        r["versions"] = by_recipe[r["id"]]
        r["ratings"], r["notes"] = ratings_of[r["id"]], notes_of[r["id"]]
        if by_recipe_photos[r["id"]]:  # only where there are some: a backup without photos reads as before
            r["photos"] = by_recipe_photos[r["id"]]
    for p in plans:
        p["request"], p["plan"] = _loads(p["request"]), _loads(p["plan"])
        p["progress"] = by_plan[p["id"]]
    for t in pairs:
        t["ingredients"], t["side_a"], t["side_b"] = (_loads(t[k]) for k in ("ingredients", "side_a", "side_b"))
        t["votes"] = by_pair[t["id"]]
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema_version": SCHEMA_VERSION,
        "exported_at": now_iso(),
        "household": dict(home) if home else None,
        "people": people,
        "recipes": recipes,
        "plans": plans,
        "tasting_pairs": pairs,
        "shopping_lists": lists,
        "calendar": calendar,
    }


def export_db(db: KitchenDB, path: str | Path) -> dict:
    """Write the backup atomically (a complete file or none); the counts written."""
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a folder: give the backup's file name, e.g. {path / 'kitchen-backup.json'}")
    data = snapshot(db)
    try:
        atomic_write_json(path, data)
    except RecursionError:
        raise BackupError(f"{path}: a stored row is nested too deeply to write as JSON; nothing written") from None
    except OSError as e:
        raise BackupError(f"{path}: cannot write the backup: {e.strerror or e}; nothing written") from None
    return {k: len(data[k]) for k in KINDS}


# -- checking a backup --------------------------------------------------------------------------
def _key(row: dict, keys: tuple[str, ...]) -> str:
    """A row's identity: a hash of its whole content (canonical JSON)."""
    text = json.dumps({k: row.get(k) for k in keys}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _check_row(kind: str, row: Any) -> dict:
    """The row as it will be stored (recipes normalized by ``check_recipe``), with its identity ``key``;
    ValidationError / RecipeError / RecursionError for a bad one."""
    MODELS[kind].model_validate(row)
    if kind == "recipes":
        clean = check_recipe(row["title"], row["ingredients"], row["directions"], row["servings"])
        out = {
            "title": clean.title,
            "ingredients": clean.ingredients,
            "directions": clean.directions,
            "servings": clean.servings,
            "source": row.get("source", {"kind": "import"}),
            "created_at": row["created_at"],
            "updated_at": row.get("updated_at") or row["created_at"],
            "tags": check_tags(row.get("tags")),
            "category": check_category(row.get("category")),
        }
        versions = []
        for i, v in enumerate(row.get("versions", [])):
            try:
                old = check_recipe(v["title"], v["ingredients"], v["directions"], v["servings"])
                tags, category = check_tags(v.get("tags")), check_category(v.get("category"))
            except RecipeError as e:
                raise RecipeError(str(e), f"versions.{i}.{e.field}") from None
            versions.append(
                {k: getattr(old, k) for k in ("title", "servings", "ingredients", "directions")}
                | {"version": v["version"], "tags": tags, "category": category, "saved_at": v["saved_at"]}
            )
        photos = []
        for i, ph in enumerate(row.get("photos", [])):
            try:
                data = base64.b64decode(ph["data"], validate=True)
            except (binascii.Error, ValueError):
                raise RecipeError("not base64", f"photos.{i}.data") from None
            try:
                check_bytes(data, ph["hash"], f"photo {i}")
            except PhotoMismatch as e:
                raise RecipeError(str(e), f"photos.{i}.data") from None
            photos.append({"hash": ph["hash"], "created_at": ph["created_at"], "bytes": data})
        return {
            **out,
            "recipe": clean,
            "version": row.get("version", 1),
            "versions": versions,
            "ratings": list(row.get("ratings", [])),
            "notes": list(row.get("notes", [])),
            "photos": photos,
            "key": _key(out, RECIPE_KEYS),
            "backup_id": row.get("id"),
        }
    if kind == "people":
        return {**row, "tokens": [{"last_used_at": None, **t} for t in row.get("tokens", [])]}
    if kind == "plans":
        out = {k: row[k] for k in PLAN_KEYS}
        out["progress"] = list(row.get("progress", []))
        return {**out, "key": _key(out, PLAN_KEYS)}
    if kind == "shopping_lists":
        out = {k: row[k] for k in (*LIST_KEYS, "version", "updated_at")}
        out["items"] = [{"detail": {}, "checked_by": None, "checked_at": None, **it} for it in row.get("items", [])]
        return {**out, "key": _key(out, LIST_KEYS)}
    if kind == "calendar":
        out = {**{k: row[k] for k in (*CALENDAR_KEYS, "updated_at")}, "recipe_id": row.get("recipe_id")}
        return {**out, "key": _key(out, CALENDAR_KEYS)}
    out = {k: row[k] for k in PAIR_KEYS}
    out["votes"] = [{"note": None, **v} for v in row.get("votes", [])]
    return {**out, "revealed_at": row.get("revealed_at"), "key": _key(out, PAIR_KEYS)}


def check_backup(data: Any, where: str) -> tuple[dict, list[BadRow]]:
    """The backup's good rows per kind, and its bad rows named (kind, index, field, message).  A file that is
    not a backup at all is BackupError."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BackupError(f'{where}: not a chefbot kitchen backup (no "format": "{FORMAT}")')
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise BackupError(f"{where}: backup format version {version!r}; this chefbot reads up to {VERSION}")
    good: dict[str, Any] = {}
    bad: list[BadRow] = []
    for kind in KINDS:
        rows = data.get(kind, [])
        if not isinstance(rows, list):
            raise BackupError(f"{where}: {kind}: expected a list, got {type(rows).__name__}")
        good[kind] = []
        for i, row in enumerate(rows):
            try:
                good[kind].append(_check_row(kind, row))
            except ValidationError as e:
                bad.append(BadRow(kind, i, *first_problem(e)))
            except RecipeError as e:
                bad.append(BadRow(kind, i, e.field, str(e).removeprefix(f"{e.field}: ")))
            except RecursionError:
                bad.append(BadRow(kind, i, "", "nested too deeply"))
    home = data.get("household")
    good["household"] = home if isinstance(home, dict) and isinstance(home.get("name"), str) and home["name"] else None
    return good, bad


def describe(bad: list[BadRow], most: int = 3) -> str:
    shown = "; ".join(str(b) for b in bad[:most])
    return shown + (f"; and {len(bad) - most} more" if len(bad) > most else "")


# -- adding it ----------------------------------------------------------------------------------
def _existing(c: Any) -> dict[str, dict[str, list[int]]]:
    """Ids of the rows already in the DB, per kind and identity (oldest first)."""
    found: dict[str, dict[str, list[int]]] = {k: defaultdict(list) for k in KINDS}
    for r in c.execute("SELECT * FROM recipes ORDER BY id"):
        row = {**dict(r), **{k: _loads(r[k]) for k in ("ingredients", "directions", "source", "tags")}}
        found["recipes"][_key(row, RECIPE_KEYS)].append(r["id"])
    for r in c.execute("SELECT * FROM plans ORDER BY id"):
        row = {**dict(r), "request": _loads(r["request"]), "plan": _loads(r["plan"])}
        found["plans"][_key(row, PLAN_KEYS)].append(r["id"])
    for r in c.execute("SELECT * FROM tasting_pairs ORDER BY id"):
        row = {**dict(r), **{k: _loads(r[k]) for k in ("ingredients", "side_a", "side_b")}}
        found["tasting_pairs"][_key(row, PAIR_KEYS)].append(r["id"])
    for r in c.execute("SELECT * FROM shopping_lists ORDER BY id"):
        found["shopping_lists"][_key({**dict(r), "recipes": _loads(r["recipes"])}, LIST_KEYS)].append(r["id"])
    for r in c.execute("SELECT * FROM calendar_entries ORDER BY id"):
        found["calendar"][_key(dict(r), CALENDAR_KEYS)].append(r["id"])
    return found


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def import_data(db: KitchenDB, good: dict, bad: int = 0, limits: PhotoLimits | None = None) -> dict:
    """Add checked rows in one transaction; the counts added (rows already there are skipped, ``bad`` is carried).
    Photo files are written before the rows that name them (``photos.gc`` removes them if the rows are not)."""
    try:
        return _import_data(db, good, bad, limits or PhotoLimits())
    except BaseException:
        photos_gc(db)
        raise


def _import_data(db: KitchenDB, good: dict, bad: int, limits: PhotoLimits) -> dict:
    added = {k: 0 for k in KINDS} | {"skipped": 0, "bad": bad}
    recipe_ids: dict[int, int] = {}  # the backup's recipe id -> this DB's (the calendar's entries name them)
    with db.write() as c:
        there = _existing(c)
        if good["people"]:  # the backup's household name, unless this DB has one already
            ensure_household(c, **({"name": good["household"]["name"]} if good.get("household") else {}))
        for person in good["people"]:  # a person already here (by name) keeps this DB's password and tokens
            if c.execute("SELECT 1 FROM people WHERE name = ?", (person["name"],)).fetchone():
                added["skipped"] += 1
                continue
            pid = c.execute(
                "INSERT INTO people (household_id, name, password_hash, created_at) VALUES (1, ?, ?, ?)",
                (person["name"], person["password_hash"], person["created_at"]),
            ).lastrowid
            for t in person["tokens"]:
                c.execute(
                    "INSERT INTO api_tokens (person_id, name, token_sha256, created_at, last_used_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (token_sha256) DO NOTHING",
                    (pid, t["name"], t["token_sha256"], t["created_at"], t["last_used_at"]),
                )
            added["people"] += 1
        for r in good["recipes"]:
            if there["recipes"][r["key"]]:
                rid = there["recipes"][r["key"]].pop(0)
                added["skipped"] += 1
            else:
                rid = insert_recipe(
                    c,
                    r["recipe"],
                    r["source"],
                    r["created_at"],
                    r["updated_at"],
                    tags=r["tags"],
                    category=r["category"],
                    version=r["version"],
                )
                for v in r["versions"]:  # a recipe already in the DB keeps its own history
                    insert_version(c, rid, v["version"], v, v["saved_at"])
                added["recipes"] += 1
            for ph in r["photos"]:  # added once per picture, also to a recipe already here
                restore(c, db, rid, ph, limits)
            if isinstance(r["backup_id"], int):
                recipe_ids[r["backup_id"]] = rid
            for x in r["ratings"]:  # merged: a person's rating already in the DB counts; no such person: left out
                c.execute(
                    "INSERT INTO recipe_ratings (recipe_id, person_id, stars, updated_at) "
                    "SELECT ?, id, ?, ? FROM people WHERE name = ? ON CONFLICT (recipe_id, person_id) DO NOTHING",
                    (rid, x["stars"], x["updated_at"], x["person"]),
                )
            for x in r["notes"]:  # merged: the same note (author, text, time) is not added twice
                c.execute(
                    "INSERT INTO recipe_notes (recipe_id, person_id, text, created_at, updated_at) "
                    "SELECT ?, p.id, ?, ?, ? FROM people p WHERE p.name = ? AND NOT EXISTS (SELECT 1 FROM "
                    "recipe_notes n WHERE n.recipe_id = ? AND n.person_id = p.id AND n.text = ? AND n.created_at = ?)",
                    (rid, x["text"], x["created_at"], x["updated_at"], x["person"], rid, x["text"], x["created_at"]),
                )
        for p in good["plans"]:
            if there["plans"][p["key"]]:
                pid = there["plans"][p["key"]].pop(0)
                added["skipped"] += 1
            else:
                pid = c.execute(
                    "INSERT INTO plans (title, serve_at, request, plan, created_at) VALUES (?, ?, ?, ?, ?)",
                    (p["title"], p["serve_at"], _dumps(p["request"]), _dumps(p["plan"]), p["created_at"]),
                ).lastrowid
                added["plans"] += 1
            for x in p["progress"]:  # merged: the first time a task was started or done counts
                c.execute(
                    "INSERT INTO plan_progress (plan_id, task_id, cook, status, at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (plan_id, task_id, status) DO NOTHING",
                    (pid, x["task_id"], x["cook"], x["status"], x["at"]),
                )
        for t in good["tasting_pairs"]:
            if there["tasting_pairs"][t["key"]]:
                tid = there["tasting_pairs"][t["key"]].pop(0)
                added["skipped"] += 1
            else:
                tid = c.execute(
                    "INSERT INTO tasting_pairs (ingredients, side_a, side_b, answer_a, answer_b, created_at, "
                    "revealed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        _dumps(t["ingredients"]),
                        json.dumps(t["side_a"]),
                        json.dumps(t["side_b"]),
                        t["answer_a"],
                        t["answer_b"],
                        t["created_at"],
                        t["revealed_at"],
                    ),
                ).lastrowid
                added["tasting_pairs"] += 1
            for v in t["votes"]:  # merged: one vote per rater and pair, the one already there counts
                c.execute(
                    "INSERT INTO tastings (pair_id, choice, rater, note, created_at, person_id) "
                    "VALUES (?, ?, ?, ?, ?, (SELECT id FROM people WHERE name = ?)) "
                    "ON CONFLICT (pair_id, rater) DO NOTHING",
                    (tid, v["choice"], v["rater"], v["note"], v["created_at"], v.get("person")),
                )
        for sl in good["shopping_lists"]:  # a list already there keeps its own items and ticks
            if there["shopping_lists"][sl["key"]]:
                there["shopping_lists"][sl["key"]].pop(0)
                added["skipped"] += 1
                continue
            lid = c.execute(
                "INSERT INTO shopping_lists (title, version, recipes, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (sl["title"], sl["version"], _dumps(sl["recipes"]), sl["created_at"], sl["updated_at"]),
            ).lastrowid
            for it in sl["items"]:
                c.execute(
                    "INSERT INTO shopping_items (list_id, position, aisle, text, detail, own, checked, checked_by, "
                    "checked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (lid, *(_dumps(it[k]) if k == "detail" else it[k] for k in ITEM_KEYS)),
                )
            added["shopping_lists"] += 1
        for e in good["calendar"]:  # an entry whose recipe is not in the backup keeps its title, out of the library
            if there["calendar"][e["key"]]:
                there["calendar"][e["key"]].pop(0)
                added["skipped"] += 1
                continue
            c.execute(
                "INSERT INTO calendar_entries (day, meal, recipe_id, title, servings, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    e["day"],
                    e["meal"],
                    recipe_ids.get(e["recipe_id"]),
                    e["title"],
                    e["servings"],
                    e["created_at"],
                    e["updated_at"],
                ),
            )
            added["calendar"] += 1
    return added


def read_backup(path: str | Path) -> Any:
    """The backup file's JSON, or BackupError naming the file and why (missing, a folder, not UTF-8 or JSON,
    nested too deeply)."""
    p = Path(path)
    if p.is_dir():
        raise BackupError(f"{p}: a folder, not a backup file")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except RecursionError:
        raise BackupError(f"{p}: cannot read a backup: JSON nested too deeply") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise BackupError(f"{p}: cannot read a backup: {reason}") from None


def import_file(db: KitchenDB, path: str | Path, skip_bad: bool = False, limits: PhotoLimits | None = None) -> dict:
    """Import a backup file: refused whole when a row is bad (BackupError naming them), unless ``skip_bad``
    (then bad rows are skipped and counted in ``bad``; ``bad_rows`` lists them)."""
    data = read_backup(path)
    good, bad = check_backup(data, str(path))
    if bad and not skip_bad:
        raise BackupError(
            f"{path}: {len(bad)} bad row{'s' * (len(bad) > 1)}, nothing imported: {describe(bad)} "
            "(--skip-bad imports the others)",
            bad,
        )
    added = import_data(db, good, len(bad), limits)
    added["bad_rows"] = [str(b) for b in bad]
    return added
