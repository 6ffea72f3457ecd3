"""``chefbot library``: back up, restore and fill the kitchen DB from the command line; import recipes from
schema.org JSON-LD, saved web pages, Mealie and Tandoor exports, export them as JSON-LD (``schema_org.py``);
``chefbot kitchen user``: the household's accounts.

The DB is the one ``chefbot serve`` uses: ``--db PATH``, else ``kitchen.db_path`` of
``--config``, else ``kitchen.db`` in the user data directory.  Writing to it while a
server runs is safe (SQLite's WAL and busy timeout; each command is one transaction).
Every failure is one line naming the file, row or field (a ``ChefbotError``: exit 1 for
data and storage, 2 for usage), never a traceback.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import typer

from chefbot.config import KitchenConfig, load_config
from chefbot.errors import DataError
from chefbot.io import atomic_write_json
from chefbot.kitchen import people, schema_org
from chefbot.kitchen.backup import FORMAT, export_db, import_file
from chefbot.kitchen.db import KitchenDB, resolve_db_path
from chefbot.kitchen.library import (
    RecipeError,
    check_recipe,
    imported_labels,
    insert_recipe,
    recipes_from_file,
    saved_recipes,
)
from chefbot.kitchen.photos import PhotoLimits
from chefbot.progress import console

library_app = typer.Typer(no_args_is_help=True, help="The kitchen's recipe library: export, import, add recipe files.")

DbOption = Annotated[
    Path | None,
    typer.Option(help="The kitchen's SQLite file (default: kitchen.db_path of --config, else the user data dir)."),
]
ConfigOption = Annotated[Path | None, typer.Option(help="Experiment config YAML (for kitchen.db_path).")]


def open_db(db: Path | None, config: Path | None) -> KitchenDB:
    configured = load_config(config).kitchen.db_path if config else None
    return KitchenDB(resolve_db_path(configured, db))


def counted(counts: dict) -> str:
    return (
        f"{counts['recipes']} recipes, {counts['plans']} plans, {counts['tasting_pairs']} tasting pairs, "
        f"{counts['shopping_lists']} shopping lists, {counts['calendar']} calendar entries, {counts['people']} people"
    )


@library_app.command("export")
def export_cmd(
    file: Path = typer.Argument(..., help="JSON file to write (atomically: a complete file or none)."),
    format: Literal["backup", "jsonld"] = typer.Option(
        "backup",
        "--format",
        help="backup: the whole DB (recipes, plans, tastings) for `library import`; jsonld: the recipes as "
        "schema.org Recipe JSON-LD (an @graph) for other recipe apps.",
    ),
    base_url: str | None = typer.Option(
        None, "--base-url", help="jsonld: the server's address, so each recipe names its page (BASE/library/ID)."
    ),
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the whole kitchen DB as a JSON backup, or its recipes as schema.org JSON-LD."""
    with open_db(db, config) as kdb:
        if format == "backup":
            console.print(f"wrote {file}: {counted(export_db(kdb, file))} (from {kdb.path})")
            return
        doc = schema_org.library_jsonld(saved_recipes(kdb), base_url)
        try:
            atomic_write_json(file, doc)
        except OSError as e:
            raise DataError(f"{file}: cannot write it: {e.strerror or e}; nothing written") from None
        console.print(
            f"wrote {file}: {len(doc['@graph'])} recipes as schema.org JSON-LD (from {kdb.path})",
            highlight=False,
            soft_wrap=True,
        )


def read_import(file: Path) -> bytes:
    """The file's bytes, at most ``schema_org.MAX_FILE_BYTES``; DataError naming the file otherwise."""
    try:
        with file.open("rb") as f:
            data = f.read(schema_org.MAX_FILE_BYTES + 1)
    except OSError as e:
        raise DataError(f"{file}: cannot read it: {e.strerror or e}") from None
    if len(data) > schema_org.MAX_FILE_BYTES:
        raise DataError(f"{file}: over {schema_org.MAX_FILE_BYTES} bytes; not imported")
    return data


def is_backup(data: bytes) -> bool:
    """A JSON object that names chefbot's backup format (``backup.FORMAT``; anything else is read as recipes)."""
    return data.lstrip()[:1] == b"{" and re.search(rb'"format"\s*:\s*"' + FORMAT.encode() + rb'"', data) is not None


@library_app.command("import")
def import_cmd(
    file: Path = typer.Argument(
        ...,
        help="A backup written by `chefbot library export`, or recipes from elsewhere: schema.org JSON-LD (.json), "
        "a saved recipe page (.html), a Mealie export (.zip or one recipe's .json), a Tandoor export (.zip).",
    ),
    url: str | None = typer.Option(
        None, "--url", help="A saved page's address (picks the site's reader in recipe-scrapers; nothing is fetched)."
    ),
    servings: int | None = typer.Option(
        None, "--servings", help="Servings of recipes that give no number of servings (default 4)."
    ),
    db: DbOption = None,
    config: ConfigOption = None,
    skip_bad: bool = typer.Option(
        False,
        "--skip-bad",
        help="Import the good rows and skip (and list) the bad ones; by default one bad row refuses the whole file.",
    ),
) -> None:
    """Add a backup's recipes, plans and tastings, or another app's or web page's recipes (one transaction;
    backup rows already there are skipped)."""
    data = read_import(file)
    with open_db(db, config) as kdb:
        if is_backup(data):
            kitchen = load_config(config).kitchen if config else KitchenConfig()
            added = import_file(kdb, file, skip_bad=skip_bad, limits=PhotoLimits.of(kitchen))
            bad = f", {added['bad']} bad rows skipped" if added["bad"] else ""
            console.print(
                f"imported {file} into {kdb.path}: {counted(added)} ({added['skipped']} already there{bad})",
                highlight=False,
                soft_wrap=True,
            )
            for row in added["bad_rows"]:
                console.print(f"  skipped {row}", highlight=False, markup=False, soft_wrap=True)
            return
        good, bad = [], []
        for imported in schema_org.import_bytes(data, str(file), url):
            r = imported.recipe
            try:
                good.append((check_recipe(r.title, r.ingredients, r.directions, r.servings or servings or 4), imported))
            except RecipeError as e:
                bad.append(f"{imported.where}: {e}")
        if bad and not skip_bad:
            raise DataError(
                f"{file}: {len(bad)} bad recipe{'s' * (len(bad) > 1)}, nothing imported: {'; '.join(bad[:5])}"
                + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
                + " (--skip-bad imports the others)"
            )
        dropped = []
        with kdb.write() as c:
            for recipe, imported in good:
                tags, category, left_out = imported_labels(imported.keywords, imported.categories)
                dropped += [f"{imported.where}: {k!r}" for k in left_out]
                insert_recipe(c, recipe, imported.source(), tags=tags, category=category)
        formats = sorted({i.format for _, i in good})
        console.print(
            f"imported {file} into {kdb.path}: {len(good)} recipes ({', '.join(formats) or 'none'})"
            + (f", {len(bad)} bad recipes skipped" if bad else ""),
            highlight=False,
            soft_wrap=True,
        )
        for line in bad:
            console.print(f"  skipped {line}", highlight=False, markup=False, soft_wrap=True)
        for line in dropped:
            console.print(f"  keyword not kept as a tag: {line}", highlight=False, markup=False, soft_wrap=True)


@library_app.command("add")
def add_cmd(
    files: list[Path] = typer.Argument(
        ...,
        help="Recipe files: chefbot's recipe text (.md, .txt), RecipeNLG rows (.json object or list, .jsonl, .csv).",
    ),
    servings: int | None = typer.Option(
        None, help='Servings the recipes are written for (default: a "Serves N" line of the recipe, else 4).'
    ),
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Save every recipe in these files (all of them in one transaction: a bad one saves nothing)."""
    found = []
    for f in files:
        for i, r in enumerate(recipes_from_file(f)):
            try:
                found.append((check_recipe(r.title, r.ingredients, r.directions, servings or r.servings or 4), f))
            except RecipeError as e:
                raise DataError(f"{f}: recipe {i + 1}: {e}") from None
    with open_db(db, config) as kdb, kdb.write() as c:
        for recipe, f in found:
            insert_recipe(c, recipe, {"kind": "file", "file": str(f)})
    console.print(f"saved {len(found)} recipes into {kdb.path}")


# -- chefbot kitchen user: the household's accounts (kitchen/people.py) --------------------------------
kitchen_app = typer.Typer(no_args_is_help=True, help="The kitchen's household: accounts.")
user_app = typer.Typer(no_args_is_help=True, help="Accounts: add (password asked, never an argument), list, remove.")
kitchen_app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="The person's name (unique, case-insensitively)."),
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a person to the household; the password is asked twice at a hidden prompt (never on the command
    line, where other users and the shell history could read it).  Once an account exists, /v1/* and /api/*
    need a login, a personal token or a config key."""
    password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    with open_db(db, config) as kdb:
        person = people.add_person(kdb, name, password)
    console.print(f"added {person['name']} to the household (in {kdb.path})", highlight=False)


@user_app.command("list")
def user_list(db: DbOption = None, config: ConfigOption = None) -> None:
    """The household's people, with when each was added."""
    with open_db(db, config) as kdb:
        found = people.list_people(kdb)
    if not found:
        console.print(f"no accounts in {kdb.path}: the kitchen is open to whoever can connect (serve.host)")
    for p in found:
        console.print(f"{p['name']}\tadded {p['created_at']}", highlight=False, markup=False)


@user_app.command("remove")
def user_remove(
    name: str = typer.Argument(..., help="The person to remove."), db: DbOption = None, config: ConfigOption = None
) -> None:
    """Remove a person: their sessions and API tokens stop working at once; their votes stay, under their name."""
    with open_db(db, config) as kdb:
        people.remove_person(kdb, name)
    console.print(f"removed {name} (from {kdb.path})", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(library_app, name="library")
    app.add_typer(kitchen_app, name="kitchen")
