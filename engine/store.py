"""Where the routing state lives: a small interface, and the in-memory store.

A decision reads a ``RoutingState``; a lifecycle transition returns effects. A store loads the
state of the officers a decision needs and carries out the effects that change it. The
simulator and ``leadroute route`` keep the state in memory (``MemoryStore``); the API keeps it
in database rows, loaded with row locks and written back in the transaction that records the
lead's transition (``api.store.SqlStateStore``), so two workers can never both give away the
last slot under a cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from engine.lifecycle import Effect, apply_effects
from engine.state import RoutingState


class StateStore(Protocol):
    """Load the state of these officers; apply these effects to it."""

    def load(self, officer_ids: Sequence[str]) -> RoutingState: ...

    def apply(self, effects: Sequence[Effect]) -> None: ...


class MemoryStore:
    """The state in memory: what the simulator and the batch command use."""

    def __init__(self, state: RoutingState) -> None:
        self.state = state

    @classmethod
    def empty(cls, officer_ids: Sequence[str]) -> MemoryStore:
        return cls(RoutingState.empty(tuple(officer_ids)))

    def load(self, officer_ids: Sequence[str]) -> RoutingState:
        """The state laid out for ``officer_ids`` (the held state itself when the layout
        matches: changes applied through ``apply`` are seen at once)."""
        ids = tuple(officer_ids)
        if ids != self.state.officer_ids:
            self.state = self.state.for_officers(ids)
        return self.state

    def apply(self, effects: Sequence[Effect]) -> None:
        apply_effects(self.state, effects)


__all__ = ["MemoryStore", "StateStore"]
