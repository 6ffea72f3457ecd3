"""Stopping a plan's CP-SAT solves from another thread.

A server plans in a worker thread; when the request times out (504) or its client leaves,
the solve must stop at once, not run out its time limit (and then the explanation's
relaxations, each with a time limit of its own).  ``PlanStop`` is that switch:

* ``stop.run(fn, *args)`` runs ``fn`` (e.g. ``plan_meal_dict``) with the stop active in this
  thread; every solver made meanwhile (``PlanModel.solver``, the one place solvers are made)
  is registered with it by ``watch``;
* ``stop.set()`` (from any thread) calls CP-SAT's ``stop_search`` on the running solvers, and
  again every few milliseconds while ``run`` has not returned: ``stop_search`` only reaches a
  solve that has already started, so a solver made or started just after ``set`` is caught by
  the next call; a solver made after ``set`` gets no time at all.

A stopped solve ends with the status it reached (usually UNKNOWN): ``solve`` then raises
``PlanError`` without a second stage or an explanation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_current = threading.local()
REPEAT_S = 0.02  # how often set() repeats stop_search while the plan still runs


class PlanStop:
    def __init__(self) -> None:
        self._event = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._solvers: list[Any] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def watch(self, solver: Any) -> None:
        """Register a solver of this plan (called where solvers are made); after ``set`` it gets no time."""
        with self._lock:
            self._solvers.append(solver)
        if self._event.is_set():
            solver.parameters.max_time_in_seconds = 0.0

    def set(self) -> None:
        """Stop every solve of this plan, now and until ``run`` returns (thread-safe, idempotent)."""
        if self._event.is_set():
            return
        self._event.set()
        self._stop_all()
        if not self._done.is_set():
            threading.Thread(target=self._repeat, daemon=True, name="chefbot-plan-stop").start()

    def _stop_all(self) -> None:
        with self._lock:
            solvers = list(self._solvers)
        for s in solvers:
            s.stop_search()

    def _repeat(self) -> None:
        while not self._done.wait(REPEAT_S):
            self._stop_all()

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call ``fn`` with this stop active in the calling thread."""
        previous = getattr(_current, "stop", None)
        _current.stop = self
        try:
            return fn(*args, **kwargs)
        finally:
            _current.stop = previous
            self._done.set()


def current() -> PlanStop | None:
    """The stop of the plan this thread is solving, if any."""
    return getattr(_current, "stop", None)


def watch(solver: Any) -> Any:
    """Register ``solver`` with this thread's stop (if any) and return it."""
    stop = current()
    if stop is not None:
        stop.watch(solver)
    return solver


def stopped() -> bool:
    stop = current()
    return stop is not None and stop.is_set()
