"""The whole kitchen DB as one JSON file: ``chefbot library export`` / ``import``.

Export reads one consistent snapshot (a single read transaction) and writes the file
atomically (``chefbot.io.atomic_write_json``: a temporary sibling renamed into place), so
a backup on disk is always complete.  Import checks the whole file first, then adds
everything in one transaction: a bad file changes nothing.  Rows get new ids (the
target may already hold recipes); what is already there (same title, lines and creation
time; same plan; same tasting pair) is skipped, so importing a backup twice adds nothing.
The format is versioned (``FORMAT``, ``version``) apart from the SQLite schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chefbot.io import atomic_write_json
from chefbot.kitchen.db import SCHEMA_VERSION, KitchenDB, KitchenError, now_iso
from chefbot.kitchen.library import check_recipe, insert_recipe

FORMAT = "chefbot-kitchen"
VERSION = 1


def snapshot(db: KitchenDB) -> dict:
    """Everything in the DB as JSON types, read in one transaction."""
    with db.read() as c:
        c.execute("BEGIN")
        try:
            recipes = [dict(r) for r in c.execute("SELECT * FROM recipes ORDER BY id")]
            plans = [dict(r) for r in c.execute("SELECT * FROM plans ORDER BY id")]
            progress = [dict(r) for r in c.execute("SELECT * FROM plan_progress ORDER BY id")]
            pairs = [dict(r) for r in c.execute("SELECT * FROM tasting_pairs ORDER BY id")]
            tastings = [dict(r) for r in c.execute("SELECT * FROM tastings ORDER BY id")]
        finally:
            c.execute("COMMIT")
    for r in recipes:
        r.pop("search")
        for k in ("ingredients", "directions", "source"):
            r[k] = json.loads(r[k])
    for p in plans:
        p["request"], p["plan"] = json.loads(p["request"]), json.loads(p["plan"])
        p["progress"] = [{k: x[k] for k in ("task_id", "cook", "status", "at")} for x in progress if x["plan_id"] == p["id"]]
    for t in pairs:
        t["ingredients"], t["side_a"], t["side_b"] = (json.loads(t[k]) for k in ("ingredients", "side_a", "side_b"))
        t["votes"] = [{k: v[k] for k in ("choice", "rater", "note", "created_at")} for v in tastings if v["pair_id"] == t["id"]]
    return {"format": FORMAT, "version": VERSION, "schema_version": SCHEMA_VERSION, "exported_at": now_iso(),
            "recipes": recipes, "plans": plans, "tasting_pairs": pairs}


def export_db(db: KitchenDB, path: str | Path) -> dict:
    """Write the backup atomically; the counts written."""
    data = snapshot(db)
    atomic_write_json(path, data)
    return {k: len(data[k]) for k in ("recipes", "plans", "tasting_pairs")}


def _need(obj: Any, key: str, kind: type | tuple, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise KitchenError(f"{where}: no {key!r}")
    if not isinstance(obj[key], kind) or (kind is int and isinstance(obj[key], bool)):
        raise KitchenError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(obj[key]).__name__}")
    return obj[key]


def check_backup(data: Any, where: str) -> None:
    """Every part a backup needs, with the first problem named (``file: recipes[3].title: ...``)."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KitchenError(f"{where}: not a chefbot kitchen backup (no \"format\": \"{FORMAT}\")")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise KitchenError(f"{where}: backup format version {data.get('version')!r}; this chefbot reads up to {VERSION}")
    for i, r in enumerate(_need(data, "recipes", list, where)):
        w = f"{where}: recipes[{i}]"
        try:
            check_recipe(_need(r, "title", str, w), _need(r, "ingredients", list, w), _need(r, "directions", list, w),
                         _need(r, "servings", int, w))
        except KitchenError:
            raise
        except Exception as e:  # RecipeError and friends: name the row
            raise KitchenError(f"{w}: {e}") from None
        _need(r, "created_at", str, w)
    for i, p in enumerate(_need(data, "plans", list, where)):
        w = f"{where}: plans[{i}]"
        for key, kind in (("title", str), ("serve_at", str), ("request", dict), ("plan", dict), ("created_at", str),
                          ("progress", list)):
            _need(p, key, kind, w)
        for j, x in enumerate(p["progress"]):
            for key in ("task_id", "cook", "status", "at"):
                _need(x, key, str, f"{w}.progress[{j}]")
    for i, t in enumerate(_need(data, "tasting_pairs", list, where)):
        w = f"{where}: tasting_pairs[{i}]"
        for key, kind in (("ingredients", list), ("side_a", dict), ("side_b", dict), ("answer_a", str),
                          ("answer_b", str), ("created_at", str), ("votes", list)):
            _need(t, key, kind, w)
        for j, v in enumerate(t["votes"]):
            if v.get("choice") not in ("A", "B", "tie", "both_bad") or not isinstance(v.get("rater"), str):
                raise KitchenError(f"{w}.votes[{j}]: needs choice (A, B, tie, both_bad) and rater")


def import_data(db: KitchenDB, data: dict) -> dict:
    """Add a checked backup in one transaction; the counts added (rows already there are skipped)."""
    added = {"recipes": 0, "plans": 0, "tasting_pairs": 0, "skipped": 0}
    with db.write() as c:
        for r in data["recipes"]:
            if c.execute("SELECT 1 FROM recipes WHERE title = ? AND ingredients = ? AND directions = ? AND created_at = ?",
                         (r["title"], json.dumps(r["ingredients"], ensure_ascii=False),
                          json.dumps(r["directions"], ensure_ascii=False), r["created_at"])).fetchone():
                added["skipped"] += 1
                continue
            insert_recipe(c, r, r.get("source") or {"kind": "import"}, r["created_at"])
            added["recipes"] += 1
        for p in data["plans"]:
            if c.execute("SELECT 1 FROM plans WHERE title = ? AND serve_at = ? AND created_at = ?",
                         (p["title"], p["serve_at"], p["created_at"])).fetchone():
                added["skipped"] += 1
                continue
            pid = c.execute("INSERT INTO plans (title, serve_at, request, plan, created_at) VALUES (?, ?, ?, ?, ?)",
                            (p["title"], p["serve_at"], json.dumps(p["request"], ensure_ascii=False),
                             json.dumps(p["plan"], ensure_ascii=False), p["created_at"])).lastrowid
            for x in p["progress"]:
                c.execute("INSERT OR IGNORE INTO plan_progress (plan_id, task_id, cook, status, at) VALUES (?, ?, ?, ?, ?)",
                          (pid, x["task_id"], x["cook"], x["status"], x["at"]))
            added["plans"] += 1
        for t in data["tasting_pairs"]:
            if c.execute("SELECT 1 FROM tasting_pairs WHERE created_at = ? AND answer_a = ? AND answer_b = ?",
                         (t["created_at"], t["answer_a"], t["answer_b"])).fetchone():
                added["skipped"] += 1
                continue
            tid = c.execute("INSERT INTO tasting_pairs (ingredients, side_a, side_b, answer_a, answer_b, created_at) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (json.dumps(t["ingredients"], ensure_ascii=False), json.dumps(t["side_a"]),
                             json.dumps(t["side_b"]), t["answer_a"], t["answer_b"], t["created_at"])).lastrowid
            for v in t["votes"]:
                c.execute("INSERT OR IGNORE INTO tastings (pair_id, choice, rater, note, created_at) VALUES (?, ?, ?, ?, ?)",
                          (tid, v["choice"], v["rater"], v.get("note"), v.get("created_at") or now_iso()))
            added["tasting_pairs"] += 1
    return added


def import_file(db: KitchenDB, path: str | Path) -> dict:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise KitchenError(f"{p}: cannot read a backup: {e}") from None
    check_backup(data, str(p))
    return import_data(db, data)
