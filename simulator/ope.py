"""Off-policy evaluation: estimate a candidate policy's conversion rate from a logged history.

The logging run is a simulated run of a randomized policy that records, for every lead it
placed, the probability it gave the officer it chose (the propensity). Two ways to randomize:

- an engine method with exploration (``greedy`` with ``routing.params.epsilon``): the engine's
  own propensities are logged;
- the *simulator's logging policy*: a rotation policy run by ``engine.decide`` whose choice is
  replaced, with probability ``exploration``, by a uniform draw among the engine's ranked
  eligible candidates (``RunOptions.exploration``; documented in docs/simulator.md). The
  state change for the drawn officer is ``engine.decide.claim_delta``'s.

At every placing decision the candidate policy is asked, on the same state, what it would
have done (``RunOptions.shadow``), with its own conversion estimates and, for a dual-price
candidate, its own capacity prices (``shadow_scorer``, ``shadow_forecast``). The
estimators share one signature (as in Open Bandit Pipeline): rewards, logged actions,
propensities, the candidate's actions, and a reward model's estimates for the logged and the
candidate's actions.

- IPS: mean of 1[a = pi(x)] r / p;
- self-normalized IPS: the same weights, normalized by their sum;
- doubly robust: mean of q(x, pi(x)) + 1[a = pi(x)] (r - q(x, a)) / p.

Each placing decision is one round of a contextual bandit: the context is the lead and the
routing state at that moment, the action the officer chosen, the reward 1 if the lead funds
with that officer in that round (an officer who does not answer within the SLA earns 0 and
the lead comes back as a new round). Logging only the decision that finally stuck would keep
the officers who happened to answer in time and bias every estimate upwards.

Two truths are reported beside the estimates: the candidate's value on the logged rounds (the
true probability that its choice funds in each round, 0 when its officer would not answer in
time: what the estimators aim at) and the candidate's own simulated run on the same stream
(common random numbers), which also carries the feedback of its decisions on the state (caps,
load, holds). All are per lead (funded loans per lead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from engine.invariant import present
from simulator.crn import replication_seeds
from simulator.model import Inputs, RunOptions, RunResult
from simulator.params import PROGRAMS, PURPOSES, Scenario
from simulator.policies import NamedPolicy
from simulator.runner import build_world, forecaster, prepare, run_policy, scorer_for


@dataclass(frozen=True)
class LoggedData:
    """One logged decision per lead ((n,) arrays); action -1 where no officer worked it.

    reward: funded (0/1). pscore: probability the logging policy gave ``action``.
    target: the candidate policy's officer at the same decision (-1: it would place none).
    q_logged, q_target: a reward model's p(funded) for the logged and the candidate's action.
    """

    reward: np.ndarray
    action: np.ndarray
    pscore: np.ndarray
    target: np.ndarray
    q_logged: np.ndarray
    q_target: np.ndarray


def ips(d: LoggedData) -> float:
    """Inverse propensity scoring."""
    w = (d.action == d.target) / d.pscore
    return float(np.mean(w * d.reward))


def snips(d: LoggedData) -> float:
    """Self-normalized inverse propensity scoring."""
    w = (d.action == d.target) / d.pscore
    return float(np.sum(w * d.reward) / np.sum(w)) if np.sum(w) > 0 else float("nan")


def doubly_robust(d: LoggedData) -> float:
    """Doubly robust: the reward model's value, corrected by weighted residuals."""
    w = (d.action == d.target) / d.pscore
    return float(np.mean(d.q_target + w * (d.reward - d.q_logged)))


ESTIMATORS: dict[str, Callable[[LoggedData], float]] = {
    "ips": ips, "snips": snips, "doubly_robust": doubly_robust}


def _design(inputs: Inputs, leads: np.ndarray, officers: np.ndarray) -> sp.csr_matrix:
    """Features of (lead, officer) pairs for the reward model: officer, source, program,
    purpose, credit band, language match, specialty match (one-hot, sparse)."""
    world = inputs.world
    f = inputs.features
    m = len(world.roster)
    n_sources = len(world.traits.sources) + 1
    credit_edges = np.array([620, 680, 740])
    scores = np.array([lead.credit_score if lead.credit_score is not None else -1
                       for lead in inputs.stream.leads])[leads]
    band = np.where(scores < 0, 4, np.searchsorted(credit_edges, scores, side="right"))
    lang = f.language[leads]
    speaks = np.array([world.speaks(str(x))[o] for x, o in zip(lang, officers, strict=True)])
    non_en = lang != "en"
    spec = world.traits.program_mult[officers, f.program[leads]] > 1.0
    spec |= f.jumbo[leads] & (world.traits.jumbo_mult[officers] > 1.0)
    spec |= f.first_time[leads] & (world.traits.first_time_mult[officers] > 1.0)
    purpose = np.array([PURPOSES.index(lead.loan_purpose.value)
                        for lead in inputs.stream.leads])[leads]
    blocks = [(officers, m), (f.source[leads] + 1, n_sources), (f.program[leads], len(PROGRAMS)),
              (purpose, len(PURPOSES)), (band, 5),
              ((non_en & speaks).astype(int), 2), ((non_en & ~speaks).astype(int), 2),
              (spec.astype(int), 2)]
    cols, offset = [], 0
    for values, width in blocks:
        cols.append(values + offset)
        offset += width
    rows = np.repeat(np.arange(len(leads)), len(blocks))
    data = np.ones(len(rows))
    return sp.csr_matrix((data, (rows, np.column_stack(cols).ravel())),
                         shape=(len(leads), offset))


def logged_data(inputs: Inputs, logged: RunResult) -> LoggedData:
    """The logging run's rounds as bandit data, with a logistic reward model fitted on them.

    A round is one placing decision: its action is the officer chosen (the first offered, for
    an offer), its reward 1 if the lead funded with that officer in that round (a round whose
    officer timed out earns 0, and the lead's next round is another context)."""
    if logged.rounds is None:
        raise ValueError("the logging run needs RunOptions(shadow=candidate policy)")
    r = logged.rounds
    leads, action, target = r["lead"], r["officer"], r["target"]
    reward = r["reward"]
    q_logged = np.zeros(len(leads))
    q_target = np.zeros(len(leads))
    x = _design(inputs, leads, action)
    if 0 < reward.sum() < len(reward):
        model = LogisticRegression(C=1.0, max_iter=2000)
        model.fit(x, reward)
        q_logged = model.predict_proba(x)[:, 1]
        has = target >= 0
        q_target[has] = model.predict_proba(_design(inputs, leads[has], target[has]))[:, 1]
    else:  # nothing (or everything) funded: the mean is the model
        q_logged[:] = reward.mean() if len(reward) else 0.0
        q_target[target >= 0] = q_logged.mean() if len(reward) else 0.0
    return LoggedData(reward, action, r["propensity"], target, q_logged, q_target)


def evaluate(scenario: Scenario, candidate: NamedPolicy, logging: NamedPolicy, *,
             exploration: float = 0.5, replications: int = 1, seed: int = 0) -> pd.DataFrame:
    """Estimate ``candidate``'s conversion rate (funded per lead) from runs of ``logging``
    (randomized by the engine, or by the simulator with ``exploration`` > 0) and compare each
    estimator with the simulated truths. One row per (replication, estimator)."""
    world = build_world(scenario)
    rows: list[dict[str, Any]] = []
    for rep in replication_seeds(seed, replications):
        inputs = prepare(scenario, world, rep)
        shadow_forecast = forecaster(scenario, inputs, rep) \
            if candidate.policy.selector.reprice_every_s is not None else None
        logged = run_policy(scenario, inputs, logging, rep,
                            RunOptions(record_events=False, exploration=exploration,
                                       shadow=candidate.policy,
                                       shadow_scorer=scorer_for(candidate, inputs),
                                       shadow_forecast=shadow_forecast))
        truth = run_policy(scenario, inputs, candidate, rep, RunOptions(record_events=False))
        data = logged_data(inputs, logged)  # raises unless the logging run kept its rounds
        logged_rounds = present(logged.rounds, "the logging run keeps its rounds")
        n = len(inputs.stream)
        rounds = len(data.reward)
        # estimators average over rounds; scaled by rounds per lead they are per-lead rates
        per_lead = rounds / n
        for name, estimator in ESTIMATORS.items():
            rows.append({
                "replication": rep.replication, "estimator": name,
                "estimate": estimator(data) * per_lead,
                "truth_same_contexts": float(logged_rounds["target_p"].sum() / n),
                "truth_simulated_expected": float(truth.p_funded.sum() / n),
                "truth_simulated_realized": float(truth.funded.mean()),
                "logging_value": float(logged.funded.mean()),
                "rounds": rounds,
                "matched_share": float(np.mean(data.action == data.target)),
                "min_propensity": float(data.pscore.min()),
            })
    return pd.DataFrame(rows)
