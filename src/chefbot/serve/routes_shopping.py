"""``/api/shopping-lists``: saved shopping lists, shared by the household's devices (docs/KITCHEN.md,
"Shopping lists").

The work is ``chefbot.kitchen.saved_lists`` (one transaction per change; a tick is a state, so a retried
request is harmless; every change moves the list's ``version``); this is the HTTP side, with the kitchen's
DB from ``routes_kitchen.Kitchen`` and its refusals answered by ``api_errors.ERROR_STATUS`` (unknown list,
item, recipe or plan 404; a stale ``version`` 409 ``stale_version``; a bad own item 400).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from chefbot.kitchen import saved_lists
from chefbot.kitchen.db import NotFound
from chefbot.serve.routes_kitchen import Kitchen, RowId
from chefbot.serve.schemas import EXACT_INT
from chefbot.serve.schemas_kitchen import STORAGE
from chefbot.serve.schemas_shopping import (
    OwnItem,
    SavedShoppingList,
    ShoppingListClear,
    ShoppingListCreate,
    ShoppingListDeleted,
    ShoppingListRename,
    ShoppingLists,
    Tick,
    shopping_errors,
)

router = APIRouter(prefix="/api/shopping-lists", tags=["kitchen"])
ItemId = Annotated[int, Path(ge=1, le=EXACT_INT, description="the item's id")]
LIST = {200: {"description": "the list as it now stands, with its new version"}}


def _found(kitchen_list: dict | None, list_id: int) -> SavedShoppingList:
    if kitchen_list is None:
        raise NotFound("shopping list", list_id, "list_id")
    return SavedShoppingList.model_validate(kitchen_list)


@router.post(
    "",
    status_code=201,
    response_model=SavedShoppingList,
    responses={201: {"description": "the saved list"}, **shopping_errors(400, 404, 413, 422, 500, *STORAGE)},
)
def create_list(req: ShoppingListCreate, kitchen: Kitchen) -> SavedShoppingList:
    """Make a list from library recipes, a saved plan's recipes and items of your own, and save it."""
    wanted = [(r.recipe_id, r.servings) for r in req.recipes]
    return SavedShoppingList.model_validate(
        saved_lists.create_list(kitchen.db, req.title, wanted, req.plan_id, req.own)
    )


@router.get("", response_model=ShoppingLists, responses=shopping_errors(422, *STORAGE))
def list_lists(
    kitchen: Kitchen, limit: Annotated[int, Query(ge=1, le=500, description="the newest this many")] = 50
) -> ShoppingLists:
    return ShoppingLists.model_validate(saved_lists.list_lists(kitchen.db, limit))


@router.get("/{list_id:int}", response_model=SavedShoppingList, responses=shopping_errors(404, 422, 500, *STORAGE))
def get_list(list_id: RowId, kitchen: Kitchen) -> SavedShoppingList:
    return _found(saved_lists.get_list(kitchen.db, list_id), list_id)


@router.patch(
    "/{list_id:int}",
    response_model=SavedShoppingList,
    responses={**LIST, **shopping_errors(400, 404, 409, 413, 422, 500, *STORAGE)},
)
def rename_list(req: ShoppingListRename, list_id: RowId, kitchen: Kitchen) -> SavedShoppingList:
    """A new title, given the version read (409 when someone changed the list since)."""
    return _found(saved_lists.rename(kitchen.db, list_id, req.title, req.version), list_id)


@router.post(
    "/{list_id:int}/clear-checked",
    response_model=SavedShoppingList,
    responses={**LIST, **shopping_errors(400, 404, 409, 413, 422, 500, *STORAGE)},
)
def clear_checked(req: ShoppingListClear, list_id: RowId, kitchen: Kitchen) -> SavedShoppingList:
    """Remove the ticked items, given the version read: what you saw ticked is what goes (409 otherwise)."""
    return _found(saved_lists.clear_checked(kitchen.db, list_id, req.version), list_id)


@router.delete("/{list_id:int}", response_model=ShoppingListDeleted, responses=shopping_errors(404, 422, *STORAGE))
def delete_list(list_id: RowId, kitchen: Kitchen) -> ShoppingListDeleted:
    if not saved_lists.delete_list(kitchen.db, list_id):
        raise NotFound("shopping list", list_id, "list_id")
    return ShoppingListDeleted(id=list_id, object="saved_shopping_list", deleted=True)


@router.post(
    "/{list_id:int}/items",
    status_code=201,
    response_model=SavedShoppingList,
    responses={201: LIST[200], **shopping_errors(400, 404, 413, 422, 500, *STORAGE)},
)
def add_item(req: OwnItem, list_id: RowId, kitchen: Kitchen) -> SavedShoppingList:
    """An item of your own ("dish soap", "2 lemons")."""
    return _found(saved_lists.add_item(kitchen.db, list_id, req.text), list_id)


@router.put(
    "/{list_id:int}/items/{item_id:int}",
    response_model=SavedShoppingList,
    responses={**LIST, **shopping_errors(400, 404, 413, 422, 500, *STORAGE)},
)
def tick_item(req: Tick, list_id: RowId, item_id: ItemId, kitchen: Kitchen) -> SavedShoppingList:
    """Tick or untick an item: the state is set, so the same request twice is one tick (two phones, a retry)."""
    by = req.by.strip() if req.by else None
    return _found(saved_lists.set_checked(kitchen.db, list_id, item_id, req.checked, by), list_id)


@router.delete(
    "/{list_id:int}/items/{item_id:int}",
    response_model=SavedShoppingList,
    responses={**LIST, **shopping_errors(404, 422, 500, *STORAGE)},
)
def remove_item(list_id: RowId, item_id: ItemId, kitchen: Kitchen) -> SavedShoppingList:
    return _found(saved_lists.remove_item(kitchen.db, list_id, item_id), list_id)
