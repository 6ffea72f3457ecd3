"""The planner's equipment vocabulary: every kind of kitchen equipment, defined once.

``KINDS`` is the one table; the rest of the planner uses the views below it.  The names
are what tasks, ``durations.yaml`` and a model's answer write; ``kitchen_field`` is the
``Kitchen`` count of that kind (``kitchen.burners: 4``).  A heat source makes a dish hot;
a stove vessel (pot, pan) stands on a burner and is kept there across consecutive
stovetop steps; every kind is a cumulative resource of the solver except the oven, which
also holds one temperature at a time and is modelled on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Kind:
    name: str
    kitchen_field: str
    heat: bool = False
    vessel: bool = False
    cumulative: bool = True


KINDS = (
    Kind("oven", "ovens", heat=True, cumulative=False),
    Kind("burner", "burners", heat=True),
    Kind("pan", "pans", vessel=True),
    Kind("pot", "pots", vessel=True),
    Kind("mixer", "mixers"),
    Kind("bowl", "bowls"),
    Kind("blender", "blenders"),
    Kind("microwave", "microwaves", heat=True),
    Kind("slow_cooker", "slow_cookers", heat=True),
    Kind("grill", "grills", heat=True),
    Kind("fridge", "fridge"),
    Kind("freezer", "freezer"),
)

NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
Equipment = Literal[NAMES]  # type: ignore[valid-type]  # the names as a type, for pydantic
KITCHEN_FIELD: dict[str, str] = {k.name: k.kitchen_field for k in KINDS}
HEAT: frozenset[str] = frozenset(k.name for k in KINDS if k.heat)
VESSELS: frozenset[str] = frozenset(k.name for k in KINDS if k.vessel)
STOVE: frozenset[str] = VESSELS | {"burner"}  # what a stovetop step holds: a burner and a pot or pan
CUMULATIVE: tuple[str, ...] = tuple(k.name for k in KINDS if k.cumulative)  # in table order
