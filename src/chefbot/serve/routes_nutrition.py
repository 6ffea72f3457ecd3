"""``GET /api/recipes/{id}/nutrition``: a library recipe's nutrition per serving, from USDA SR28 only.

The figures come from ``chefbot.cooking.nutrition`` (the table, its matcher and its sources); this is the
HTTP side.  Every answer names the table and its release, lists each matched line with the SR food, grams
and portion used, and every unmatched line with the reason, so a cook sees what the figures leave out.
Without the table installed the route answers 503 ``nutrition_table_missing`` (``api_errors.ERROR_STATUS``).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from chefbot.cooking.nutrition import recipe_nutrition
from chefbot.kitchen import library
from chefbot.kitchen.db import NotFound
from chefbot.serve.routes_kitchen import Kitchen, RowId
from chefbot.serve.schemas import ErrorResponse
from chefbot.serve.schemas_kitchen import KITCHEN_ERRORS, kitchen_errors

router = APIRouter(prefix="/api", tags=["kitchen"])


class Figures(BaseModel):
    energy_kcal: float = Field(description="energy, kcal (SR28 nutrient 208)")
    protein_g: float = Field(description="protein, g (203)")
    fat_g: float = Field(description="total lipid (fat), g (204)")
    carbohydrate_g: float = Field(description="carbohydrate by difference, g (205)")
    fibre_g: float = Field(description="total dietary fibre, g (291)")
    salt_g: float = Field(description="salt equivalent, g: sodium (307) x 2.5 (EU Regulation 1169/2011, Annex I)")


class MatchedLine(BaseModel):
    line: str
    ndb_no: str = Field(description="the SR28 food's NDB number")
    food: str = Field(description="the SR28 food's description")
    grams: float
    portion: str | None = Field(description="the SR28 portion weight used (none for a mass unit)")
    refuse_pct: float = Field(description="SR28's refuse percent of the food, shown, not applied")


class UnmatchedLine(BaseModel):
    line: str
    reason: str
    hint: str | None = Field(None, description="the reason in a few words, or what to write so the line counts")


class TableInfo(BaseModel):
    name: str
    release: str
    package: str
    license: str


class RecipeNutritionOut(BaseModel):
    """Figures of the matched lines only: an unmatched line adds nothing and is listed in ``unmatched``."""

    recipe_id: int
    object: str = "recipe.nutrition"
    servings: int
    per_serving: Figures
    total: Figures
    complete: bool = Field(description="every line matched and every matched food has every figure")
    matched: list[MatchedLine]
    unmatched: list[UnmatchedLine]
    missing: dict[str, list[str]] = Field(description="figure -> matched lines whose food has no value for it")
    table: TableInfo


@router.get(
    "/recipes/{recipe_id:int}/nutrition",
    response_model=RecipeNutritionOut,
    responses={
        200: {"description": "per-serving figures from USDA SR28, the lines matched and those not"},
        **kitchen_errors(404, 422, 500, 507),
        503: {
            "model": ErrorResponse,
            "description": KITCHEN_ERRORS[503] + "; or the nutrition table is not installed (nutrition_table_missing)",
        },
    },
)
def recipe_nutrition_route(recipe_id: RowId, kitchen: Kitchen) -> RecipeNutritionOut:
    """Energy, protein, fat, carbohydrate, fibre and salt per serving of a saved recipe (its own servings)."""
    recipe = library.get_recipe(kitchen.db, recipe_id)  # a sync route: FastAPI runs it off the event loop
    if recipe is None:
        raise NotFound("recipe", recipe_id, "recipe_id")
    n = recipe_nutrition(recipe["ingredients"], recipe["servings"])  # the first call reads the table
    return RecipeNutritionOut(
        recipe_id=recipe_id,
        servings=n.servings,
        per_serving=Figures(**n.per_serving),
        total=Figures(**n.total),
        complete=not n.unmatched and not n.missing,
        matched=[
            MatchedLine(
                line=r.line, ndb_no=r.ndb_no, food=r.food, grams=r.grams, portion=r.portion, refuse_pct=r.refuse_pct
            )
            for r in n.matched
        ],
        unmatched=[UnmatchedLine(line=r.line, reason=r.reason, hint=r.hint) for r in n.unmatched],
        missing=n.missing,
        table=TableInfo(**n.table),
    )
