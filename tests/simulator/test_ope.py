"""Off-policy evaluation: the estimators, and the logged data the simulator produces."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.crn import replication_seeds
from simulator.model import RunOptions
from simulator.ope import ESTIMATORS, LoggedData, doubly_robust, evaluate, ips, snips
from simulator.policies import resolve_policy
from simulator.runner import prepare, run_policy


def _bandit(n: int, seed: int) -> tuple[LoggedData, float]:
    """Logged data of a uniform logging policy over 4 actions with known reward
    probabilities, and the true value of the target policy 'always action 2'."""
    rng = np.random.default_rng(seed)
    p_reward = np.array([0.1, 0.2, 0.5, 0.3])
    action = rng.integers(0, 4, n)
    reward = (rng.random(n) < p_reward[action]).astype(float)
    target = np.full(n, 2)
    q = np.full(n, 0.25)  # a poor reward model: DR must still be unbiased
    return LoggedData(reward, action, np.full(n, 0.25), target, q, q), 0.5


@pytest.mark.parametrize("estimator", [ips, snips, doubly_robust])
def test_estimators_recover_a_known_value(estimator):
    """On a uniform-logging bandit, each estimator lands within 3 standard errors of the
    target policy's true value."""
    data, truth = _bandit(20000, seed=3)
    se = np.sqrt(truth * (1 - truth) * 4 / len(data.reward))
    assert estimator(data) == pytest.approx(truth, abs=3 * se)


def test_doubly_robust_with_a_perfect_model_has_no_weight_noise():
    """With the true expected rewards as the model, DR is their mean plus mean-zero noise."""
    data, truth = _bandit(20000, seed=4)
    p_reward = np.array([0.1, 0.2, 0.5, 0.3])
    perfect = replace(data, q_logged=p_reward[data.action], q_target=np.full(len(data.reward),
                                                                             truth))
    assert abs(doubly_robust(perfect) - truth) < abs(ips(data) - truth) + 0.01


@pytest.fixture(scope="module")
def logged(small_scenario, small_world):
    seed = replication_seeds(2, 1)[0]
    inputs = prepare(replace(small_scenario, days=6), small_world, seed)
    run = run_policy(small_scenario, inputs, resolve_policy("round_robin"), seed,
                     RunOptions(record_events=False, exploration=0.8,
                                shadow=resolve_policy("rules").policy))
    return inputs, run


def test_logged_propensities_are_the_probabilities_of_the_logged_choices(logged):
    """Every round has a propensity in (0, 1]; the importance weights of the candidate's
    choices average about 1, as they must when the propensities are right."""
    _, run = logged
    r = run.rounds
    assert r is not None and len(r["lead"]) >= len(np.unique(r["lead"]))
    assert np.all((r["propensity"] > 0) & (r["propensity"] <= 1))
    weights = (r["officer"] == r["target"]) / r["propensity"]
    assert weights.mean() == pytest.approx(1.0, abs=0.1)


def test_ips_of_the_true_round_values_matches_the_candidate_on_the_same_rounds(logged):
    """Weighting the logged rounds' true probabilities (noise-free rewards) reproduces the
    candidate's true value on the same rounds: the logged data carry no selection bias
    (only the final, successful decisions would)."""
    _, run = logged
    r = run.rounds
    assert r is not None
    last = {int(i): k for k, i in enumerate(r["lead"])}
    won = np.array([last[int(i)] == k and run.officer[i] >= 0 for k, i in enumerate(r["lead"])])
    true_p = np.where(won, run.p_funded[r["lead"]], 0.0)
    weights = (r["officer"] == r["target"]) / r["propensity"]
    assert np.mean(weights * true_p) == pytest.approx(np.mean(r["target_p"]), rel=0.15)


def test_evaluate_reports_every_estimator_beside_the_truths(small_scenario):
    """One row per estimator, with the truths on the same rounds and from the candidate's own
    run, all conversion rates (per lead) between 0 and 1."""
    frame = evaluate(replace(small_scenario, days=2), resolve_policy("rules"),
                     resolve_policy("round_robin"), exploration=0.5, seed=1)
    assert list(frame["estimator"]) == list(ESTIMATORS)
    for column in ("estimate", "truth_same_contexts", "truth_simulated_expected",
                   "truth_simulated_realized"):
        assert frame[column].between(0, 1).all()


def test_a_scoring_candidate_is_evaluated_from_a_rotation_log(small_scenario):
    """The candidate gets its own conversion estimates, not the logging run's (a rotation
    has none): greedy can be evaluated from a round-robin log."""
    frame = evaluate(replace(small_scenario, days=3), resolve_policy("greedy"),
                     resolve_policy("round_robin"), exploration=0.5, seed=3)
    assert set(frame["estimator"]) == set(ESTIMATORS)
    assert (frame["truth_same_contexts"] > 0).all()


def test_a_dual_price_candidate_decides_with_its_own_prices(small_scenario, small_world):
    """A dual-price candidate shadowing a greedy log refreshes its own capacity prices (the
    log's stay zero), so it holds leads greedy would place: its targets differ from
    greedy's on the same rounds."""
    from simulator.runner import forecaster, scorer_for

    seed = replication_seeds(5, 1)[0]
    inputs = prepare(small_scenario, small_world, seed)
    greedy, dual = resolve_policy("greedy"), resolve_policy("dual_price")
    targets = {}
    for cand in (greedy, dual):
        forecast = forecaster(small_scenario, inputs, seed) if cand is dual else None
        run = run_policy(small_scenario, inputs, greedy, seed,
                         RunOptions(record_events=False, exploration=0.5, shadow=cand.policy,
                                    shadow_scorer=scorer_for(cand, inputs),
                                    shadow_forecast=forecast))
        assert run.rounds is not None
        targets[cand.label] = run.rounds["target"]
    assert (targets["dual_price"] < 0).sum() > (targets["greedy"] < 0).sum()
