"""Selection by estimated value: greedy (with optional exploration) and dual prices.

A lead's value with an officer is p(convert | lead, officer) from the scorer (objective
``conversions``) or that times loan amount times margin (``revenue``, in USD). ``greedy`` ranks by
value; ``dual_price`` by value minus the officer's capacity price, so that a scarce officer is
kept for the leads only they can serve well (prices from engine/solver, refreshed by
``engine.maintenance``). Exploration is epsilon-greedy or softmax, always with the exact
probability of the choice recorded as the propensity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from engine.policies.base import Selection, SelectionContext
from engine.policies.rotation import rotation_order
from engine.roster import NEVER_OPENS, Roster

OBJECTIVES = ("conversions", "revenue")


@dataclass(frozen=True, slots=True)
class ValueParams:
    """``routing.params`` of the scoring methods.

    objective: ``conversions`` (expected funded loans) or ``revenue`` (expected USD:
        p x loan amount x ``margin_rate``).
    margin_rate: revenue per dollar funded (0.0125 = 125 basis points).
    epsilon: probability of exploring (a uniformly random eligible officer instead of the best).
    temperature: if set, softmax exploration over values / temperature instead of epsilon.
    model: a .skops model file to score with when the caller passes no scorer.
    """

    objective: Literal["conversions", "revenue"] = "conversions"
    margin_rate: float = 0.0125
    epsilon: float = 0.0
    temperature: float | None = None
    model: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, "
                             f"got {self.objective!r}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon!r}")
        if self.temperature is not None and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature!r}")
        if not self.margin_rate > 0:
            raise ValueError(f"margin_rate must be > 0, got {self.margin_rate!r}")

    @classmethod
    def parse(cls, params: Mapping[str, Any], extra_keys: tuple[str, ...] = ()) -> ValueParams:
        known = {"objective", "margin_rate", "epsilon", "temperature", "model"}
        unknown = sorted(set(params) - known - set(extra_keys))
        if unknown:
            raise ValueError(f"unknown params {unknown}; known: "
                             f"{', '.join(sorted(known | set(extra_keys)))}")
        extra = tuple(sorted((k, params[k]) for k in extra_keys if k in params))
        return cls(**{k: v for k, v in params.items() if k in known}, extra=extra)


def lead_values(ctx: SelectionContext, params: ValueParams) -> np.ndarray:
    """(K,) value of the lead with each candidate (same order as ``ctx.candidates``)."""
    if ctx.scorer is None:
        raise ValueError("this routing method needs conversion estimates: pass scorer=... to "
                         "decide, or name a model file in routing.params.model")
    p = ctx.scorer.score([ctx.lead], ctx.roster, ctx.state, ctx.now)[0, ctx.candidates]
    if params.objective == "revenue":
        return p * ctx.lead.loan_amount_usd * params.margin_rate
    return np.asarray(p, dtype=float)


def lead_rng(seed: int, lead_id: str, now_s: float) -> np.random.Generator:
    """A generator fixed by the policy seed, the lead and the moment of the decision: the
    same decision replayed draws the same, and a lead decided again later (after an SLA
    time-out) draws afresh, so each decision's propensity is its own."""
    digest = hashlib.blake2b(f"{seed}:{lead_id}:{now_s!r}".encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


def rank_with_exploration(ctx: SelectionContext, keys: np.ndarray, values: np.ndarray,
                          params: ValueParams, weighted: bool = True) -> Selection:
    """Order candidates by ``keys`` (higher first; ties in rotation order), then explore.

    Returns the order, the propensity of the first officer, and ``values`` in that order.
    """
    idx = np.argsort(-keys, kind="stable")
    ranked = keys[idx]
    if len(idx) > 1 and (ranked[1:] == ranked[:-1]).any():
        rot = rotation_order(ctx, weighted)  # ties go in the rotation's own order
        # candidates are sorted roster indices, so each one's slot is found by binary search
        rot_rank = np.empty(len(rot), dtype=np.int64)
        rot_rank[np.searchsorted(ctx.candidates, rot)] = np.arange(len(rot))
        idx = np.lexsort((rot_rank, -keys))
    k = len(idx)
    propensity = 1.0
    if k > 1 and (params.epsilon > 0 or params.temperature is not None):
        rng = lead_rng(ctx.seed, ctx.lead.lead_id, ctx.now.timestamp())
        if params.temperature is not None:
            z = (keys - keys.max()) / params.temperature
            prob = np.exp(z) / np.exp(z).sum()
            pick = int(rng.choice(k, p=prob))
            propensity = float(prob[pick])
        else:
            explore = rng.random() < params.epsilon
            pick_pos = int(rng.integers(k)) if explore else 0
            pick = int(idx[pick_pos])
            propensity = params.epsilon / k + ((1 - params.epsilon) if pick == idx[0] else 0.0)
        first = np.flatnonzero(idx == pick)[0]
        idx = np.concatenate(([idx[first]], np.delete(idx, first)))
    return Selection(ctx.candidates[idx], propensity, values[idx])


@dataclass(frozen=True, slots=True)
class Greedy:
    """The eligible officer with the highest value (exploration optional). With
    ``batch_window_s`` set it is ``batch_optimal``: callers collect a window's leads and
    solve their assignment together (``engine.batch.decide_batch``); a lead routed alone is
    a batch of one, for which the optimum is the greedy choice."""

    params: ValueParams
    batch_window_s: float | None = None
    needs_scorer = True
    weighted = True
    reprice_every_s = None
    horizon_s = None

    @property
    def name(self) -> str:
        return "greedy" if self.batch_window_s is None else "batch_optimal"

    def select(self, ctx: SelectionContext) -> Selection:
        values = lead_values(ctx, self.params)
        return rank_with_exploration(ctx, values, values, self.params)


DEFAULT_REPRICE_EVERY_S = 3600.0
DEFAULT_HORIZON_S = 86400.0


def next_refresh_s(roster: Roster, prices_set_s: float, every_s: float, now_s: float
                   ) -> float:
    """POSIX seconds of the next price refresh: ``every_s`` after the last one (now if that
    has passed), or, when no officer is on shift then, the first shift opening after it
    (``engine.maintenance.next_reprice_at``)."""
    at_s = max(now_s, prices_set_s + every_s)
    at = datetime.fromtimestamp(at_s, tz=UTC)
    if roster.off_shift(at).all():
        wait = int(roster.next_open[roster.positions, roster.local_clock(at)[0]].min())
        if wait != NEVER_OPENS:
            at_s = (int(at_s) // 60 + wait) * 60
    return float(at_s)


@dataclass(frozen=True, slots=True)
class DualPrice:
    """The eligible officer with the highest value minus capacity price.

    Prices live in the routing state (``state.prices``, one per officer, in value units) and
    are refreshed on a schedule by ``engine.maintenance.reprice``; before the first refresh
    they are zero and the method behaves as greedy.

    ``defer_below_price`` (``routing.params``): when the lead is worth less to every eligible
    officer than the capacity it would use (value < price for all), hold it until the next
    price refresh (``next_refresh_s``) instead of spending a slot that fresher leads are
    expected to need. This is the online primal-dual rule (accept only at a reduced value
    of at least zero); a lead that waited overnight is worth a small fraction of a new one
    (speed to lead), so it waits for capacity the forecast does not claim, such as the end
    of an officer's day.
    """

    params: ValueParams
    defer: bool = False
    every_s: float = DEFAULT_REPRICE_EVERY_S
    horizon_s: float = DEFAULT_HORIZON_S
    needs_scorer = True
    weighted = True
    batch_window_s = None

    @property
    def name(self) -> str:
        return "dual_price"

    @property
    def reprice_every_s(self) -> float:
        return self.every_s

    def select(self, ctx: SelectionContext) -> Selection:
        values = lead_values(ctx, self.params)
        prices = ctx.state.prices[ctx.candidates]
        keys = values - prices
        if self.defer and ctx.state.prices_set_s > -np.inf and keys.max() < 0.0:
            # nobody is offered the lead: ranked by reduced value for the explanation only
            order = np.argsort(-keys, kind="stable")
            best = int(order[0])
            now_s = ctx.now.timestamp()
            if ctx.state.prices_set_s + self.every_s <= now_s:  # a refresh is overdue
                now_s += self.every_s
            until = next_refresh_s(ctx.roster, ctx.state.prices_set_s, self.every_s, now_s)
            return Selection(ctx.candidates[order], 1.0, values[order],
                             defer=f"worth less than the capacity it would use (best value "
                                   f"{values[best]:.4g}, price {prices[best]:.4g})",
                             defer_until=until)
        ranked = rank_with_exploration(ctx, keys, values, self.params)
        if keys.min() >= 0.0:
            return ranked
        # an offer to several officers goes only to those the lead is worth their slot to
        # (value >= price), the first always: offering it to the others would spend capacity
        # the prices keep for leads worth more
        return replace(ranked,
                       offerable=keys[np.searchsorted(ctx.candidates, ranked.order)] >= 0.0)


@dataclass(frozen=True, slots=True)
class GreedyFactory:
    def validate_params(self, params: Mapping[str, Any]) -> None:
        ValueParams.parse(params)

    def build(self, params: Mapping[str, Any]) -> Greedy:
        return Greedy(ValueParams.parse(params))


DUAL_KEYS = ("reprice_every_s", "horizon_s", "forecast_leads", "defer_below_price")


@dataclass(frozen=True, slots=True)
class DualPriceFactory:
    def validate_params(self, params: Mapping[str, Any]) -> None:
        ValueParams.parse(params, DUAL_KEYS)
        for key in ("reprice_every_s", "horizon_s"):
            if key in params and not (isinstance(params[key], int | float) and params[key] > 0):
                raise ValueError(f"{key} must be a positive number of seconds, "
                                 f"got {params[key]!r}")
        defer = params.get("defer_below_price", False)
        if not isinstance(defer, bool):
            raise ValueError(f"defer_below_price must be true or false, got {defer!r}")

    def build(self, params: Mapping[str, Any]) -> DualPrice:
        return DualPrice(ValueParams.parse(params, DUAL_KEYS),
                         bool(params.get("defer_below_price", False)),
                         float(params.get("reprice_every_s", DEFAULT_REPRICE_EVERY_S)),
                         float(params.get("horizon_s", DEFAULT_HORIZON_S)))


@dataclass(frozen=True, slots=True)
class BatchOptimalFactory:
    """``batch_optimal``: callers collect leads for ``window_s`` seconds and route them together
    with ``engine.decide.decide_batch`` (an optimal assignment of the batch). A lead routed
    alone is a batch of one, for which the optimum is the greedy choice."""

    def validate_params(self, params: Mapping[str, Any]) -> None:
        ValueParams.parse(params, ("window_s",))
        window = params.get("window_s", 60)
        if not (isinstance(window, int | float) and window > 0):
            raise ValueError(f"window_s must be a positive number of seconds, got {window!r}")

    def build(self, params: Mapping[str, Any]) -> Greedy:
        return Greedy(ValueParams.parse(params, ("window_s",)),
                      float(params.get("window_s", 60)))


@dataclass(frozen=True, slots=True)
class ModelScorer:
    """A saved conversion model (engine/scoring) as a ``Scorer``."""

    model: Any  # engine.scoring.ConversionModel; typed loosely to keep imports one-way

    def score(self, leads: Any, roster: Any, state: Any, now: Any) -> np.ndarray:
        return np.asarray(self.model.predict_for_state(leads, roster, state, now))


_MODEL_SCORERS: dict[str, ModelScorer] = {}


def model_scorer(path: str) -> ModelScorer:
    """The scorer for a .skops model file, loaded once per process (skops, trusted types only)."""
    found = _MODEL_SCORERS.get(path)
    if found is None:
        from engine.scoring import load_model

        found = _MODEL_SCORERS[path] = ModelScorer(load_model(path))
    return found
