"""Selection policies: how the eligible officers of a pool are ordered.

``METHODS`` maps the ``routing.method`` of a policy file to a factory. Every caller knows only
the ``SelectionPolicy`` protocol.
"""

from engine.policies.base import (
    MethodFactory,
    Scorer,
    Selection,
    SelectionContext,
    SelectionPolicy,
)
from engine.policies.rotation import Rotation, RotationFactory
from engine.policies.scoring import (
    BatchOptimalFactory,
    DualPriceFactory,
    GreedyFactory,
)

METHODS: dict[str, MethodFactory] = {
    "round_robin": RotationFactory(weighted=False),
    "weighted_round_robin": RotationFactory(weighted=True),
    "greedy": GreedyFactory(),
    "dual_price": DualPriceFactory(),
    "batch_optimal": BatchOptimalFactory(),
}

__all__ = [
    "METHODS",
    "Rotation",
    "Scorer",
    "Selection",
    "SelectionContext",
    "SelectionPolicy",
]
