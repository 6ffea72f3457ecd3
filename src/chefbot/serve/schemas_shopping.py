"""Request and response shapes of the saved shopping lists (``routes_shopping.py``, docs/KITCHEN.md
"Shopping lists"), by the rules of ``schemas_kitchen.py``: strict types, unknown fields refused, every limit
in the schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chefbot.kitchen.rows import Line, Name, Title
from chefbot.serve.schemas import EXACT_INT, SEMANTIC, ErrorResponse, Int, ValidationErrorResponse
from chefbot.serve.schemas_kitchen import KITCHEN_ERRORS, Id, KitchenRequest, ShoppingAmount, ShoppingItem

Version = Int(ge=1, le=EXACT_INT)


class ShoppingListCreate(KitchenRequest):
    """A list to save: library recipes at servings, the recipes of a saved plan, items of the cook's own; any of
    them (none: an empty list to add to)."""

    title: Title | None = Field(None, description='default: "For" and the recipes\' titles')
    recipes: list[ShoppingItem] = Field(default_factory=list, max_length=50, description="library recipes")
    plan_id: Id | None = Field(None, description="a saved plan: its recipes at the plan's servings")
    own: list[Line] = Field(default_factory=list, max_length=200, description="items of the cook's own")


class ShoppingListRename(KitchenRequest):
    title: Title
    version: Version = Field(description="the version read: a list changed since is a 409 (stale_version)")


class ShoppingListClear(KitchenRequest):
    version: Version = Field(description="the version read: a list changed since is a 409 (stale_version)")


class OwnItem(KitchenRequest):
    text: Line = Field(description='"dish soap", "2 lemons": put in an aisle by its name')


class Tick(KitchenRequest):
    checked: bool = Field(description="the state to set (not a toggle: sending it twice is one tick)")
    by: Name | None = Field(None, description="who ticked it, shown to the others")


class SavedItem(BaseModel):
    id: int
    text: str
    aisle: str
    own: bool = Field(description="added by the cook, not from a recipe")
    checked: bool
    checked_by: str | None
    checked_at: str | None
    name: str | None = Field(description="the item's name (null for the cook's own)")
    amounts: list[ShoppingAmount]
    recipes: list[int]
    lines: list[str]


class SavedAisle(BaseModel):
    aisle: str
    items: list[SavedItem]


class SavedShoppingList(BaseModel):
    id: int
    object: Literal["saved_shopping_list"]
    title: str
    version: int = Field(description="+1 on every change (a tick, an item, the title): re-read when it moved")
    recipes: list[dict] = Field(description="[{id, title, servings}] the list was made from")
    aisles: list[SavedAisle]
    total: int
    checked: int
    created_at: str
    updated_at: str


class ShoppingListSummary(BaseModel):
    id: int
    title: str
    version: int
    total: int
    checked: int
    created_at: str
    updated_at: str


class ShoppingLists(BaseModel):
    object: Literal["list"]
    data: list[ShoppingListSummary]


class ShoppingListDeleted(BaseModel):
    id: int
    object: Literal["saved_shopping_list"]
    deleted: Literal[True]


SHOPPING_ERRORS = {
    **KITCHEN_ERRORS,
    400: SEMANTIC + "the kitchen refuses the list or the change (kitchen_error: an own item's text with a control "
    "character); or a body that cannot be read as JSON text",
    404: "no such row (error.code: shopping_list_not_found, shopping_item_not_found, recipe_not_found, "
    "plan_not_found); param names the field",
    409: "the list changed since the version given (stale_version): the message says the current version",
}


def shopping_errors(*statuses: int) -> dict[int | str, dict]:
    """The OpenAPI ``responses`` entries of these refusals, worded for the shopping lists."""
    return {
        s: {"model": ValidationErrorResponse if s == 422 else ErrorResponse, "description": SHOPPING_ERRORS[s]}
        for s in statuses
    }
