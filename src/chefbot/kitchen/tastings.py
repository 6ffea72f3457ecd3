"""Blind tastings: two answers for the same ingredients, shown as A and B, and people's votes.

A pair is stored with both sides (which model and settings wrote the answer shown as A,
and as B) and both answers, before anyone sees it; the page shows only the answers. A vote
(A, B, tie, both_bad, a rater's name, an optional note) is stored against the pair, one per
rater and pair; a logged-in person's vote carries their ``person_id`` and their name as rater
(``kitchen.people``).  A vote answers without the sides and may be changed by its voter until the pair is
revealed (``reveal``: a step of its own, after which the pair's votes are final, ``Revealed``). ``tally`` counts wins per comparison (the two sides' names, sorted), per
rater and overall; the intervals are the evaluation's job (``chefbot eval tastings``,
``chefbot.evaluate.tastings``).
"""

from __future__ import annotations

import json
import sqlite3

from pydantic import ValidationError

from chefbot.kitchen.db import KitchenDB, KitchenError, NotFound, UnreadableRow, now_iso
from chefbot.kitchen.rows import RecipeError, TastingSide, clean_text, first_problem

CHOICES = ("A", "B", "tie", "both_bad")


class AlreadyVoted(KitchenError):
    """This rater already voted on this pair."""


class Revealed(KitchenError):
    """The pair was revealed: its votes are final."""

    field = "pair_id"


class VoteError(KitchenError):
    """A vote that cannot be stored; ``field`` names the part of the request at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def side_name(side: dict) -> str:
    """A side as people read it: its model, then the settings that differ from the defaults."""
    extras = [f"{k}={side[k]:g}" for k in ("temperature", "seed", "max_tokens") if side.get(k) is not None]
    return " ".join([str(side.get("model") or "served"), *extras])


def save_pair(db: KitchenDB, ingredients: list[str], side_a: dict, side_b: dict, answer_a: str, answer_b: str) -> int:
    """Store a pair as shown (``side_a`` wrote the answer shown as A); its id."""
    with db.write() as c:
        cur = c.execute(
            "INSERT INTO tasting_pairs (ingredients, side_a, side_b, answer_a, answer_b, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                json.dumps(ingredients, ensure_ascii=False),
                json.dumps(side_a),
                json.dumps(side_b),
                answer_a,
                answer_b,
                now_iso(),
            ),
        )
        return int(cur.lastrowid)


def pair_dict(row: sqlite3.Row) -> dict:
    return {
        "pair_id": row["id"],
        "ingredients": json.loads(row["ingredients"]),
        "side_a": json.loads(row["side_a"]),
        "side_b": json.loads(row["side_b"]),
        "answer_a": row["answer_a"],
        "answer_b": row["answer_b"],
        "created_at": row["created_at"],
        "revealed_at": row["revealed_at"],
    }


def get_pair(db: KitchenDB, pair_id: int) -> dict | None:
    with db.read() as c:
        row = c.execute("SELECT * FROM tasting_pairs WHERE id = ?", (pair_id,)).fetchone()
    return None if row is None else pair_dict(row)


def vote(
    db: KitchenDB, pair_id: int, choice: str, rater: str, note: str | None = None, person_id: int | None = None
) -> dict:
    """Store or change one vote (one transaction); the vote, without the sides (they stay hidden until the pair
    is revealed: ``reveal``).  ``person_id``: the account that voted (then ``rater`` is that person's name),
    None for a vote by a typed-in name.  The same voter (the same account, or the same typed-in name without
    one) voting again changes their vote (``changed``: True) until the pair is revealed (then ``Revealed``);
    a vote under that name by someone else is ``AlreadyVoted``."""
    if choice not in CHOICES:
        raise KitchenError(f"choice must be one of {', '.join(CHOICES)}, not {choice!r}")
    try:
        rater = clean_text(rater, "rater", 60)
    except RecipeError as e:
        raise VoteError(str(e), "rater") from None
    if not rater:
        raise VoteError("rater: give a name", "rater")
    with db.write() as c:
        pair = c.execute("SELECT revealed_at FROM tasting_pairs WHERE id = ?", (pair_id,)).fetchone()
        if pair is None:
            raise NotFound("tasting pair", pair_id, "pair_id")
        if pair["revealed_at"] is not None:
            raise Revealed(f"pair {pair_id} was revealed at {pair['revealed_at']}: its votes can no longer change")
        mine = c.execute("SELECT * FROM tastings WHERE pair_id = ? AND rater = ?", (pair_id, rater)).fetchone()
        if mine is not None and mine["person_id"] != person_id:
            raise AlreadyVoted(f"{rater!r} already voted on pair {pair_id} (someone else: only they may change it)")
        if mine is None:
            vote_id = c.execute(
                "INSERT INTO tastings (pair_id, choice, rater, note, created_at, person_id) VALUES (?, ?, ?, ?, ?, ?)",
                (pair_id, choice, rater, note, now_iso(), person_id),
            ).lastrowid
        else:
            vote_id = mine["id"]
            c.execute("UPDATE tastings SET choice = ?, note = ? WHERE id = ?", (choice, note, vote_id))
        row = c.execute("SELECT * FROM tastings WHERE id = ?", (vote_id,)).fetchone()
    return {
        "id": row["id"],
        "object": "tasting",
        "pair_id": pair_id,
        "choice": row["choice"],
        "rater": rater,
        "person_id": person_id,
        "note": row["note"],
        "created_at": row["created_at"],
        "changed": mine is not None,
    }


def reveal(db: KitchenDB, pair_id: int) -> dict:
    """Reveal which side wrote A and which B (from now on the pair's votes are final); the pair's sides, their
    names and its votes.  Revealing again answers the same (``revealed_at`` is the first time)."""
    with db.write() as c:
        row = c.execute("SELECT * FROM tasting_pairs WHERE id = ?", (pair_id,)).fetchone()
        if row is None:
            raise NotFound("tasting pair", pair_id, "pair_id")
        if row["revealed_at"] is None:
            c.execute("UPDATE tasting_pairs SET revealed_at = ? WHERE id = ?", (now_iso(), pair_id))
            row = c.execute("SELECT * FROM tasting_pairs WHERE id = ?", (pair_id,)).fetchone()
        rows = c.execute(
            "SELECT choice, rater, person_id, note, created_at FROM tastings WHERE pair_id = ? ORDER BY id", (pair_id,)
        ).fetchall()
    pair = pair_dict(row)
    sides = {"A": pair["side_a"], "B": pair["side_b"]}
    return {
        "object": "tasting_reveal",
        "pair_id": pair_id,
        "revealed_at": pair["revealed_at"],
        "revealed": sides,
        "names": {k: side_name(v) for k, v in sides.items()},
        "votes": [dict(r) for r in rows],
    }


def _side(row: sqlite3.Row, column: str) -> str:
    """A stored side's name; UnreadableRow when it is not a side (``rows.TastingSide``, the API's model)."""
    try:
        side = json.loads(row[column])
    except (TypeError, ValueError, RecursionError):
        raise UnreadableRow("tasting pair", row["pair_id"], column, "not JSON") from None
    try:
        TastingSide.model_validate(side)
    except ValidationError as e:
        field, msg = first_problem(e)
        raise UnreadableRow("tasting pair", row["pair_id"], f"{column}.{field}" if field else column, msg) from None
    return side_name(side)


def votes(db: KitchenDB, unreadable: list[dict] | None = None) -> list[dict]:
    """Every vote with the names of the sides shown as A and B, oldest first.  A vote whose pair cannot be read
    (a row written by another version or by hand) is left out, and described in ``unreadable`` when given."""
    with db.read() as c:
        rows = c.execute(
            "SELECT t.id, t.pair_id, t.choice, t.rater, t.person_id, t.note, t.created_at, p.side_a, p.side_b "
            "FROM tastings t JOIN tasting_pairs p ON p.id = t.pair_id ORDER BY t.id"
        ).fetchall()
    out = []
    for r in rows:
        try:
            a, b = _side(r, "side_a"), _side(r, "side_b")
            if r["choice"] not in CHOICES:
                raise UnreadableRow("tasting pair", r["pair_id"], f"vote {r['id']}.choice", f"{r['choice']!r}")
        except UnreadableRow as e:
            if unreadable is not None:
                unreadable.append(e.as_dict())
            continue
        out.append(
            {
                "id": r["id"],
                "pair_id": r["pair_id"],
                "choice": r["choice"],
                "rater": r["rater"],
                "person_id": r["person_id"],
                "note": r["note"],
                "created_at": r["created_at"],
                "a": a,
                "b": b,
            }
        )
    return out


def _counts(sides: list[str], rows: list[dict]) -> dict:
    wins = {s: 0 for s in sides}
    out = {"n": len(rows), "wins": wins, "tie": 0, "both_bad": 0}
    for v in rows:
        if v["choice"] in ("A", "B"):
            wins[v["a"] if v["choice"] == "A" else v["b"]] += 1
        else:
            out[v["choice"]] += 1
    out["win_rate"] = {s: round(w / len(rows), 3) if rows else None for s, w in wins.items()}
    return out


def tally(all_votes: list[dict]) -> dict:
    """Counts and win rates per comparison (pair of side names), overall and per rater.  Ties and
    "both bad" are votes in which neither side won: a win rate is wins over all votes."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for v in all_votes:
        groups.setdefault(tuple(sorted((v["a"], v["b"]))), []).append(v)  # type: ignore[arg-type]
    comparisons = []
    for sides, rows in sorted(groups.items()):
        names = list(dict.fromkeys(sides))
        raters = sorted({v["rater"] for v in rows})
        comparisons.append(
            {
                "sides": names,
                "n": len(rows),
                "overall": _counts(names, rows),
                "per_rater": {r: _counts(names, [v for v in rows if v["rater"] == r]) for r in raters},
            }
        )
    return {"object": "tasting_summary", "n": len(all_votes), "comparisons": comparisons}
