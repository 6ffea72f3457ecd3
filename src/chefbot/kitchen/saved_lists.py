"""Saved shopping lists: made once from recipes or a plan, then kept, ticked and added to by the household.

A list is a row of ``shopping_lists`` and its items rows of ``shopping_items`` (``db.py``, schema 3):
the items computed by ``shopping.list_for_recipes`` (aisle, text, and the computed detail: amounts, the
recipe lines they come from) and the cook's own ("dish soap", "2 lemons": put in an aisle by their
name, as a recipe's line would be).

**Two phones, one list.** A tick is stored on the server per item, as a *state*, not a toggle:
``set_checked(..., checked=True)`` twice is one tick, so a retried request (the page's offline
queue, a flaky connection) cannot undo itself, and two people ticking different items never touch
the same row.  Every change (a tick, an item added or removed, the title) adds 1 to the list's
``version`` in the same transaction, so a client can tell that another one changed the list (the
page re-reads it).  A change that replaces what someone else may have changed (the title; clearing
the ticked items) names the ``version`` it read and is refused with ``StaleList`` (409, the current
version in the message) when the list has moved on.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from chefbot.cooking.aisles import aisle_of, ingredient_name, is_staple
from chefbot.cooking.quantities import parse_line
from chefbot.kitchen.db import KitchenDB, KitchenError, NotFound, UnreadableRow, now_iso
from chefbot.kitchen.plans import get_plan
from chefbot.kitchen.rows import MAX_LINE, RecipeError, clean_text
from chefbot.kitchen.shopping import CANNED_AISLE, PANTRY, library_wanted, list_for_recipes


class StaleList(KitchenError):
    """The change names a version of the list that is no longer current: 409 ``stale_version``."""

    def __init__(self, list_id: int, given: int, current: int) -> None:
        super().__init__(
            f"shopping list {list_id} is at version {current}, not {given}: someone changed it since you read it; "
            "read it again (GET /api/shopping-lists/{id}) and retry"
        )
        self.field, self.current = "version", current


class ItemError(KitchenError):
    """A cook's own item that cannot be kept (a control character, nothing visible): 400, ``field`` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def own_text(text: str, field: str) -> str:
    """A cook's own item as stored: the one normalization of lines (``rows.clean_text``); ItemError naming ``field``."""
    try:
        clean = clean_text(text, field, MAX_LINE)
    except RecipeError as e:
        raise ItemError(str(e), field) from None
    if not clean:
        raise ItemError(f"{field}: no visible character", field)
    return clean


def _items_of(computed: dict) -> list[tuple[str, dict]]:
    """(aisle, item) in the order the list shows them: aisles, then the pantry staples."""
    out = [(a["aisle"], it) for a in computed["aisles"] for it in a["items"]]
    return out + [(PANTRY, it) for it in computed["pantry"]]


def own_aisle(text: str) -> str:
    """The aisle of a cook's own item, by its name as a recipe line's would be ("2 lemons" -> Produce)."""
    line = parse_line(text)
    name = ingredient_name(line)
    if is_staple(name):
        return PANTRY
    return CANNED_AISLE if line.unit in ("can", "jar") else aisle_of(name)


def _bump(c: sqlite3.Connection, list_id: int) -> None:
    """The list's version + 1 (in the caller's transaction); NotFound when there is no such list."""
    cur = c.execute(
        "UPDATE shopping_lists SET version = version + 1, updated_at = ? WHERE id = ?", (now_iso(), list_id)
    )
    if cur.rowcount == 0:
        raise NotFound("shopping list", list_id, "list_id")


def create_list(
    db: KitchenDB,
    title: str | None,
    wanted: list[tuple[int, int | None]],
    plan_id: int | None = None,
    own: list[str] | None = None,
) -> dict:
    """Save a list for library recipes at servings (``wanted``), the recipes of a saved plan, and the cook's own
    items; NotFound names ``recipes.N.recipe_id`` or ``plan_id``."""
    chosen = library_wanted(db, wanted, "recipes")
    if plan_id is not None:
        plan = get_plan(db, plan_id)
        if plan is None:
            raise NotFound("plan", plan_id, "plan_id")
        for r in plan["request"].get("recipes") or []:
            try:
                chosen += library_wanted(db, [(int(r["recipe_id"]), r.get("servings"))])
            except NotFound:
                err = NotFound("recipe", r["recipe_id"], "plan_id")
                err.args = (f"plan {plan_id} was made with recipe {r['recipe_id']}, which is no longer in the library",)
                raise err from None
    computed = list_for_recipes(chosen)
    now = now_iso()
    name = title or ("For " + ", ".join(r["title"] for r in computed["recipes"]) if computed["recipes"] else "")
    name = (name or "Shopping list")[:200]
    with db.write() as c:
        lid = int(
            c.execute(
                "INSERT INTO shopping_lists (title, recipes, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (name, json.dumps(computed["recipes"], ensure_ascii=False), now, now),
            ).lastrowid
        )
        rows = [(aisle, it["text"], it, 0) for aisle, it in _items_of(computed)]
        own_texts = [own_text(t, f"own.{i}") for i, t in enumerate(own or [])]
        rows += [(own_aisle(t), t, {}, 1) for t in own_texts]
        for pos, (aisle, text, detail, is_own) in enumerate(rows):
            c.execute(
                "INSERT INTO shopping_items (list_id, position, aisle, text, detail, own, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (lid, pos, aisle, text, json.dumps(detail, ensure_ascii=False), is_own, now),
            )
    return get_list(db, lid)  # type: ignore[return-value]


def _loads(value: Any, list_id: int, column: str, kind: type) -> Any:
    try:
        out = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        raise UnreadableRow("shopping list", list_id, column, "not JSON") from None
    if not isinstance(out, kind):
        raise UnreadableRow("shopping list", list_id, column, f"expected a JSON {kind.__name__}")
    return out


def _item_dict(r: sqlite3.Row, list_id: int) -> dict:
    detail = _loads(r["detail"], list_id, f"items.{r['id']}.detail", dict)
    return {
        "id": r["id"],
        "text": r["text"],
        "aisle": r["aisle"],
        "own": bool(r["own"]),
        "checked": bool(r["checked"]),
        "checked_by": r["checked_by"],
        "checked_at": r["checked_at"],
        "name": detail.get("name"),
        "amounts": detail.get("amounts", []),
        "recipes": detail.get("recipes", []),
        "lines": detail.get("lines", []),
    }


def get_list(db: KitchenDB, list_id: int) -> dict | None:
    """The list with its items grouped by aisle (in the order made, the cook's own last), or None."""
    with db.read() as c:
        c.execute("BEGIN")  # the list and its items from one snapshot
        try:
            row = c.execute("SELECT * FROM shopping_lists WHERE id = ?", (list_id,)).fetchone()
            items = c.execute(
                "SELECT * FROM shopping_items WHERE list_id = ? ORDER BY position, id", (list_id,)
            ).fetchall()
        finally:
            if c.in_transaction:
                c.execute("COMMIT")
    if row is None:
        return None
    aisles: dict[str, list[dict]] = {}
    for r in items:
        aisles.setdefault(r["aisle"], []).append(_item_dict(r, list_id))
    return {
        "id": row["id"],
        "object": "saved_shopping_list",
        "title": row["title"],
        "version": row["version"],
        "recipes": _loads(row["recipes"], list_id, "recipes", list),
        "aisles": [{"aisle": a, "items": v} for a, v in aisles.items()],
        "total": len(items),
        "checked": sum(1 for r in items if r["checked"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _must_get(db: KitchenDB, list_id: int) -> dict:
    out = get_list(db, list_id)
    if out is None:
        raise NotFound("shopping list", list_id, "list_id")
    return out


def list_lists(db: KitchenDB, limit: int = 50) -> dict:
    """The newest lists with their counts (no items)."""
    with db.read() as c:
        rows = c.execute(
            "SELECT l.id, l.title, l.version, l.created_at, l.updated_at, COUNT(i.id) AS total, "
            "COALESCE(SUM(i.checked), 0) AS checked FROM shopping_lists l "
            "LEFT JOIN shopping_items i ON i.list_id = l.id GROUP BY l.id ORDER BY l.id DESC LIMIT ?",
            (limit,),
        ).fetchall()
    return {"object": "list", "data": [dict(r) for r in rows]}


def _at_version(c: sqlite3.Connection, list_id: int, version: int) -> None:
    """NotFound when there is no such list, StaleList when it is no longer at ``version`` (in the caller's
    transaction, so nothing can change it between this check and the change)."""
    row = c.execute("SELECT version FROM shopping_lists WHERE id = ?", (list_id,)).fetchone()
    if row is None:
        raise NotFound("shopping list", list_id, "list_id")
    if row["version"] != version:
        raise StaleList(list_id, version, row["version"])


def rename(db: KitchenDB, list_id: int, title: str, version: int) -> dict:
    """A new title, when ``version`` is still the list's (StaleList otherwise: someone changed it since)."""
    with db.write() as c:
        _at_version(c, list_id, version)
        c.execute("UPDATE shopping_lists SET title = ? WHERE id = ?", (title, list_id))
        _bump(c, list_id)
    return _must_get(db, list_id)


def clear_checked(db: KitchenDB, list_id: int, version: int) -> dict:
    """Remove the ticked items, when ``version`` is still the list's: what the cook saw ticked is what goes."""
    with db.write() as c:
        _at_version(c, list_id, version)
        c.execute("DELETE FROM shopping_items WHERE list_id = ? AND checked = 1", (list_id,))
        _bump(c, list_id)
    return _must_get(db, list_id)


def add_item(db: KitchenDB, list_id: int, text: str) -> dict:
    """The cook's own item, at the end of the list (in its aisle)."""
    text = own_text(text, "text")
    with db.write() as c:
        _bump(c, list_id)
        pos = c.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM shopping_items WHERE list_id = ?", (list_id,)
        ).fetchone()[0]
        c.execute(
            "INSERT INTO shopping_items (list_id, position, aisle, text, detail, own, created_at) "
            "VALUES (?, ?, ?, ?, '{}', 1, ?)",
            (list_id, pos, own_aisle(text), text, now_iso()),
        )
    return _must_get(db, list_id)


def remove_item(db: KitchenDB, list_id: int, item_id: int) -> dict:
    with db.write() as c:
        _bump(c, list_id)
        if c.execute("DELETE FROM shopping_items WHERE id = ? AND list_id = ?", (item_id, list_id)).rowcount == 0:
            raise NotFound("shopping item", item_id, "item_id")
    return _must_get(db, list_id)


def set_checked(db: KitchenDB, list_id: int, item_id: int, checked: bool, by: str | None = None) -> dict:
    """Tick or untick one item (a state: the same request twice changes nothing the second time)."""
    with db.write() as c:
        row = c.execute(
            "SELECT checked FROM shopping_items WHERE id = ? AND list_id = ?", (item_id, list_id)
        ).fetchone()
        if row is None:
            if c.execute("SELECT 1 FROM shopping_lists WHERE id = ?", (list_id,)).fetchone() is None:
                raise NotFound("shopping list", list_id, "list_id")
            raise NotFound("shopping item", item_id, "item_id")
        if bool(row["checked"]) != checked:
            c.execute(
                "UPDATE shopping_items SET checked = ?, checked_by = ?, checked_at = ? WHERE id = ?",
                (int(checked), by if checked else None, now_iso() if checked else None, item_id),
            )
            _bump(c, list_id)
    return _must_get(db, list_id)


def delete_list(db: KitchenDB, list_id: int) -> bool:
    with db.write() as c:
        return c.execute("DELETE FROM shopping_lists WHERE id = ?", (list_id,)).rowcount > 0
