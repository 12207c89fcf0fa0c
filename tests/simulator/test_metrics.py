"""Summary statistics: Gini, t-intervals, paired comparisons, common random numbers."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulator.crn import Draws, replication_seeds
from simulator.metrics import compare, gini, t_interval, verdict
from tests.simulator.conftest import ROOT


def test_gini_is_zero_for_equal_shares_and_near_one_for_one_taker():
    """Everyone equal: 0; one officer with everything among many: (n - 1) / n."""
    assert gini(np.full(10, 3.0)) == 0.0
    assert gini(np.array([0.0] * 9 + [5.0])) == pytest.approx(0.9)
    assert gini(np.zeros(4)) == 0.0


def test_t_interval_matches_scipy_and_needs_two_replications():
    """The paired-difference interval is scipy's t-interval; one value has no interval."""
    d = np.array([1.0, 3.0, 2.0, 5.0])
    mean, low, high = t_interval(d)
    ref = stats.t.interval(0.95, 3, loc=d.mean(), scale=stats.sem(d))
    assert (low, high) == pytest.approx(ref) and mean == 2.75
    assert np.isnan(t_interval(np.array([1.0]))[1])


def test_compare_pairs_replications_and_lists_every_ordered_pair():
    """Differences are taken replication by replication (paired), for every ordered pair."""
    summary = pd.DataFrame({
        "policy": ["a", "b", "a", "b", "a", "b"], "replication": [0, 0, 1, 1, 2, 2],
        "conversions": [10, 12, 20, 22, 30, 33]})
    out = compare(summary, ["conversions"])
    row = out[(out["policy"] == "b") & (out["baseline"] == "a")].iloc[0]
    assert row["mean_difference"] == pytest.approx(7 / 3) and row["replications"] == 3
    assert row["ci_low"] > 0  # a paired test sees what the spread between replications hides
    assert len(out) == 2


def _summary(expected: dict[str, list[float]], conversions: float = 400.0) -> pd.DataFrame:
    """A summary with ``expected`` conversions per policy and replication."""
    rows = [{"policy": p, "replication": r, "expected_conversions": v,
             "conversions": conversions}
            for p, values in expected.items() for r, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_verdict_names_the_best_by_expected_conversions_with_a_paired_interval():
    """The best policy by mean expected conversions, against the runner-up, with the paired
    interval of compare(); five replications and an interval above zero: trusted."""
    s = _summary({"rr": [100, 110, 120, 130, 140], "best": [105, 114, 126, 133, 147],
                  "worst": [90, 95, 99, 100, 101]})
    v = verdict(s)
    ref = compare(s, ["expected_conversions"])
    row = ref[(ref["policy"] == "best") & (ref["baseline"] == "rr")].iloc[0]
    assert (v.best, v.versus, v.replications) == ("best", "rr", 5)
    assert (v.difference, v.ci_low, v.ci_high) == pytest.approx(
        (row["mean_difference"], row["ci_low"], row["ci_high"]))
    assert v.trusted and v.separated
    assert "best expects the most conversions" in v.text and "+5.0" in v.text
    assert "(+4.2%)" in v.text and "95% interval +3.0 to +7.0" in v.text
    assert "can be trusted" in v.text
    assert "Read expected conversions" in v.read_me and "+/-20" in v.read_me


def test_verdict_says_when_intervals_are_not_to_be_trusted():
    """Fewer than five replications: the text says the intervals are not to be trusted."""
    v = verdict(_summary({"a": [10, 12, 11], "b": [12, 15, 13]}))
    assert v.best == "b" and not v.trusted
    assert "not to be trusted" in v.text and "--replications 5" in v.text


def test_verdict_overlapping_interval_is_a_tie():
    """An interval that includes zero: the two cannot be told apart."""
    v = verdict(_summary({"a": [10, 20, 12, 18, 15, 11], "b": [12, 17, 14, 16, 15, 12]}))
    assert not v.separated and "cannot be told apart" in v.text and "includes zero" in v.text


@pytest.mark.parametrize("expected, words", [
    ({"a": [10, 11, 12], "b": [10, 11, 12]}, "no difference to report"),
    ({"a": [10, 11, 12], "b": [12, 13, 14]}, "not certainty"),
    ({"a": [10], "b": [12]}, "no interval can be computed"),
    ({"a": [10, 11]}, "Only one policy"),
])
def test_verdict_never_shows_a_zero_width_interval_as_certain(expected, words):
    """Identical differences in every replication (zero width), a single replication or a
    single policy: no interval printed as if certain, and never trusted."""
    v = verdict(_summary(expected))
    assert words in v.text and not v.trusted
    assert "interval -" not in v.text and "to +2.0" not in v.text


def test_verdict_refuses_an_empty_summary():
    """No rows: a clear error, not a crash deep in pandas."""
    with pytest.raises(ValueError, match="no rows"):
        verdict(_summary({}))


def test_replication_streams_are_reproducible_and_independent():
    """The same seed gives the same draws whenever asked; streams and replications differ."""
    a, b = replication_seeds(5, 2)
    assert np.array_equal(a.rng("outcomes").random(5), a.rng("outcomes").random(5))
    assert not np.array_equal(a.rng("outcomes").random(5), b.rng("outcomes").random(5))
    assert not np.array_equal(a.rng("outcomes").random(5), a.rng("closing").random(5))
    d1 = Draws.make(a, 50, 7, 0.6, 0.1, 100.0)
    d2 = Draws.make(replication_seeds(5, 2)[0], 50, 7, 0.6, 0.1, 100.0)
    for name in ("response_factor", "busy_s", "outcome_u", "close_u", "explore_u"):
        np.testing.assert_array_equal(getattr(d1, name), getattr(d2, name))
    with pytest.raises(ValueError, match="unknown random stream"):
        a.rng("weather")


def test_simulator_imports_nothing_above_it():
    """simulator/ never imports api/, lab/ or cli/ (the dependency arrows of the project)."""
    for path in (ROOT / "simulator").rglob("*.py"):
        tree = ast.parse(Path(path).read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"api", "lab", "cli", "fastapi", "streamlit"}, \
                    f"{path.name} imports {name}"
