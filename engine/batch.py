"""The micro-batch: several leads routed at once by an optimal assignment (``batch_optimal``).

Each lead walks its rule's chain as in ``engine.decide.decide`` (``plan``); the eligible pairs,
their values and the officers' remaining capacity go to ``engine.solver.solve_assignment``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from engine.decide import (
    Decision,
    Plan,
    Status,
    StepTrace,
    _explanation,
    conclude,
    plan,
    policy_scorer,
)
from engine.domain import Lead, Officer
from engine.eligibility import officer_capacity
from engine.policies import Scorer
from engine.roster import Roster
from engine.rules import Policy
from engine.state import EMPTY_DELTA, RoutingState


def decide_batch(
    leads: Sequence[Lead],
    officers: Roster | Sequence[Officer],
    policy: Policy,
    state: RoutingState,
    now: datetime,
    *,
    scorer: Scorer | None = None,
) -> list[Decision]:
    """Route several leads at once by solving their assignment (the ``batch_optimal`` method).

    Each lead walks its rule's chain as in ``decide``; the eligible pairs, their values
    (``routing.params``: objective, margin rate) and the officers' remaining capacity under
    every cap go to ``engine.solver.solve_assignment``, which maximizes the batch's total
    value. A lead the optimum leaves out (its officers' capacity went to leads worth more) is
    held. Decisions come back in input order; apply their state deltas in that order (each was
    computed on the state as left by the ones before it).
    """
    from engine.policies.scoring import ValueParams
    from engine.solver import AssignmentProblem, solve_assignment

    roster = officers if isinstance(officers, Roster) else Roster(officers)
    if state.officer_ids != roster.ids_tuple:
        state = state.for_officers(roster.ids_tuple)
    plans: list[Plan | Decision] = [plan(lead, roster, policy, state, now) for lead in leads]
    open_plans = [(i, p) for i, p in enumerate(plans) if isinstance(p, Plan)]
    if not open_plans:
        return [p for p in plans if isinstance(p, Decision)]
    params = ValueParams.parse(policy.routing.params, ("window_s",))
    scorer = scorer or policy_scorer(policy)
    if scorer is None:
        raise ValueError("batch_optimal needs conversion estimates: pass scorer=... or name a "
                         "model file in routing.params.model")
    batch = [p.lead for _, p in open_plans]
    p_conv = np.asarray(scorer.score(batch, roster, state, now), dtype=float)
    if params.objective == "revenue":
        amounts = np.array([lead.loan_amount_usd for lead in batch])
        value = p_conv * (amounts * params.margin_rate)[:, None]
    else:
        value = p_conv.copy()
    row_of: dict[int, int] = {}
    for row, (i, found) in enumerate(open_plans):
        value[row, ~found.eligible] = np.nan
        row_of[i] = row
    capacity = officer_capacity(roster, state, open_plans[0][1].hc, len(batch))
    result = solve_assignment(AssignmentProblem.from_arrays(value, capacity))
    working = state.copy()
    out: list[Decision] = []
    for i, item in enumerate(plans):
        if isinstance(item, Decision):
            out.append(item)
            continue
        found = item
        row = row_of[i]
        chosen = int(result.assignment[row])
        cand = np.flatnonzero(found.eligible)
        vals = value[row, cand]
        order = cand[np.argsort(-vals, kind="stable")]
        if chosen < 0:
            found.traces.append(StepTrace(found.step, found.in_pool, found.codes, order,
                                          value[row, order]))
            out.append(Decision(
                lead_id=found.lead.lead_id, status=Status.HELD,
                reason="held: the batch's optimal assignment gave this lead's eligible "
                       "officers' remaining capacity to leads worth more (solver "
                       f"{result.status.value})",
                officer_id=None, offer=None, state_delta=EMPTY_DELTA,
                explanation=_explanation(policy, roster, found.rule_path, found.traces,
                                         found.notes),
                propensity=1.0, policy=policy.name, policy_version=policy.version,
                priority=found.action.priority.value))
            continue
        order = np.concatenate(([chosen], order[order != chosen]))
        decision = conclude(found, roster, policy, working, now, order, value[row, order], 1.0)
        working.apply(decision.state_delta)
        out.append(decision)
    return out


__all__ = ["decide_batch"]
