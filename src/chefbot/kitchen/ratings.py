"""Ratings and notes per person on library recipes (the storage and the rules).

* **A rating** is one person's 1-5 stars for one recipe: at most one per person and recipe (rating again
  replaces it; ``unrate`` takes it back).  The library shows a recipe's household mean and count and the
  caller's own stars (``summaries``) and can sort by the mean (``MEAN_SQL``).
* **Notes** are a person's own remarks on a recipe ("less salt next time"): several per person, shown to the
  household with their author's name, changed or deleted only by their author (``NotAuthor``: 403).
* Both belong to an account (``kitchen.people``): a request that is not a person cannot rate or write a note
  (the API answers 403 ``person_required``), since a typed-in name could not say whose a note is.  They go
  with their recipe or their person (ON DELETE CASCADE) and travel in backups inside their recipe, naming
  the person (``kitchen.backup``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from chefbot.kitchen.db import KitchenDB, KitchenError, NotFound, now_iso, require_recipe
from chefbot.kitchen.rows import MAX_NOTE, RecipeError, clean_text

# A recipe's mean stars, for an ORDER BY over ``recipes`` (NULL when nobody rated it).
MEAN_SQL = "(SELECT avg(stars) FROM recipe_ratings WHERE recipe_ratings.recipe_id = recipes.id)"
COUNT_SQL = "(SELECT count(*) FROM recipe_ratings WHERE recipe_ratings.recipe_id = recipes.id)"


class RatingError(KitchenError):
    """Stars or a note the kitchen refuses; ``field`` names the part of the request at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class NotAuthor(KitchenError):
    """A note may be changed or deleted only by the person who wrote it."""

    field = "note_id"


def check_stars(stars: object) -> int:
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
        raise RatingError(f"stars: a whole number from 1 to 5, not {stars!r}", "stars")
    return stars


def check_note(text: object) -> str:
    try:
        clean = clean_text(text, "text", MAX_NOTE)
    except RecipeError as e:
        raise RatingError(str(e), "text") from None
    if not clean:
        raise RatingError("text: write something with a visible character", "text")
    return clean


def summaries(db: KitchenDB, recipe_ids: Iterable[int], person_id: int | None) -> dict[int, dict]:
    """Per recipe id: the household's mean stars (``rating_mean``, None when unrated, 2 decimals), how many rated it
    (``rating_count``) and ``person_id``'s own stars (``my_rating``, None for no rating or no person)."""
    ids = list(dict.fromkeys(recipe_ids))
    out = {i: {"rating_mean": None, "rating_count": 0, "my_rating": None} for i in ids}
    if not ids:
        return out
    marks = ",".join("?" * len(ids))
    with db.read() as c:
        rows = c.execute(
            f"SELECT recipe_id, avg(stars) AS mean, count(*) AS n, max(CASE WHEN person_id = ? THEN stars END) AS mine "
            f"FROM recipe_ratings WHERE recipe_id IN ({marks}) GROUP BY recipe_id",
            (person_id, *ids),
        ).fetchall()
    for r in rows:
        out[r["recipe_id"]] = {"rating_mean": round(r["mean"], 2), "rating_count": r["n"], "my_rating": r["mine"]}
    return out


def summary(db: KitchenDB, recipe_id: int, person_id: int | None) -> dict:
    return summaries(db, [recipe_id], person_id)[recipe_id]


def rate(db: KitchenDB, recipe_id: int, person_id: int, stars: int) -> dict:
    """Set ``person_id``'s rating of the recipe (replacing theirs); the recipe's ``summary`` after it."""
    stars = check_stars(stars)
    with db.write() as c:
        require_recipe(c, recipe_id)
        c.execute(
            "INSERT INTO recipe_ratings (recipe_id, person_id, stars, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (recipe_id, person_id) DO UPDATE SET stars = excluded.stars, updated_at = excluded.updated_at",
            (recipe_id, person_id, stars, now_iso()),
        )
    return {"object": "recipe_rating", "recipe_id": recipe_id, **summary(db, recipe_id, person_id)}


def unrate(db: KitchenDB, recipe_id: int, person_id: int) -> dict:
    """Take back ``person_id``'s rating of the recipe (nothing to take back is fine); the summary after it."""
    with db.write() as c:
        require_recipe(c, recipe_id)
        c.execute("DELETE FROM recipe_ratings WHERE recipe_id = ? AND person_id = ?", (recipe_id, person_id))
    return {"object": "recipe_rating", "recipe_id": recipe_id, **summary(db, recipe_id, person_id)}


def _note(row: sqlite3.Row, person_id: int | None) -> dict:
    return {
        "id": row["id"],
        "object": "recipe_note",
        "recipe_id": row["recipe_id"],
        "person_id": row["person_id"],
        "person": row["person"],
        "mine": person_id is not None and row["person_id"] == person_id,
        "text": row["text"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


NOTE_SQL = "SELECT n.*, p.name AS person FROM recipe_notes n JOIN people p ON p.id = n.person_id"


def recipe_notes(db: KitchenDB, recipe_id: int, person_id: int | None) -> dict:
    """Everyone's notes on the recipe, oldest first, each with its author (``mine``: written by ``person_id``)."""
    with db.read() as c:
        require_recipe(c, recipe_id)
        rows = c.execute(f"{NOTE_SQL} WHERE n.recipe_id = ? ORDER BY n.id", (recipe_id,)).fetchall()
    return {"object": "list", "recipe_id": recipe_id, "data": [_note(r, person_id) for r in rows]}


def add_note(db: KitchenDB, recipe_id: int, person_id: int, text: str) -> dict:
    text = check_note(text)
    now = now_iso()
    with db.write() as c:
        require_recipe(c, recipe_id)
        note_id = c.execute(
            "INSERT INTO recipe_notes (recipe_id, person_id, text, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (recipe_id, person_id, text, now, now),
        ).lastrowid
        row = c.execute(f"{NOTE_SQL} WHERE n.id = ?", (note_id,)).fetchone()
    return _note(row, person_id)


def _own_note(c: sqlite3.Connection, note_id: int, person_id: int) -> None:
    row = c.execute("SELECT person_id FROM recipe_notes WHERE id = ?", (note_id,)).fetchone()
    if row is None:
        raise NotFound("note", note_id, "note_id")
    if row["person_id"] != person_id:
        raise NotAuthor(f"note {note_id} is someone else's: only its author may change or delete it")


def edit_note(db: KitchenDB, note_id: int, person_id: int, text: str) -> dict:
    """Replace the text of ``person_id``'s own note; NotFound / NotAuthor otherwise."""
    text = check_note(text)
    with db.write() as c:
        _own_note(c, note_id, person_id)
        c.execute("UPDATE recipe_notes SET text = ?, updated_at = ? WHERE id = ?", (text, now_iso(), note_id))
        row = c.execute(f"{NOTE_SQL} WHERE n.id = ?", (note_id,)).fetchone()
    return _note(row, person_id)


def delete_note(db: KitchenDB, note_id: int, person_id: int) -> None:
    with db.write() as c:
        _own_note(c, note_id, person_id)
        c.execute("DELETE FROM recipe_notes WHERE id = ?", (note_id,))
