"""Model: the conversion model trained on a simulated history and checked against the world's
truth: reliability, AUC and Brier, effects by lead attribute, fitted officer skill against the
hidden skill, and off-policy estimates against the simulated truths."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import streamlit as st

from engine.errors import InputError
from engine.rules import PolicyError
from lab import state
from lab.workbench import (
    Changes,
    ModelCheck,
    check_model,
    plain,
    shipped_policies,
    with_changes,
)
from simulator.errors import ParamError, ScenarioError
from simulator.scenario import load_scenario

ERRORS = (ScenarioError, PolicyError, InputError, ParamError, ValueError)

st.title("Model")
st.write("In simulation the truth is known, so the conversion model can be checked against it. "
         "A history is simulated under the logging policy, the model (engine.scoring) is "
         "trained on it with the latest 20% of rows held out, and its estimates are compared "
         "with what the world really does.")

model_file = os.environ.get("LEADROUTE_LAB_MODEL", "")
if model_file:
    from engine.scoring import load_card

    card = load_card(model_file) or {}
    held = (card.get("metrics") or {}).get("holdout") or {}
    training = card.get("training") or {}
    st.subheader("The running system's model")
    st.write(f"{plain(model_file)}: {plain(card.get('estimator', '?'))} with "
             f"{plain(card.get('calibration', '?'))} calibration, trained on "
             f"{training.get('rows', '?')} rows of simulated history.")
    if isinstance(held, dict) and "auc" in held:
        st.caption(f"Held out: AUC {held['auc']:.3f}, Brier {held['brier']:.4f}, base rate "
                   f"{held.get('base_rate', float('nan')):.4f}.")

builtins = shipped_policies()
c1, c2, c3 = st.columns(3)
logging = c1.selectbox("Logging policy (makes the history)", list(builtins),
                       index=list(builtins).index("rules"), key="model_logging")
candidate = c2.selectbox("Policy to estimate off-policy", ["(none)", *builtins],
                         index=1 + list(builtins).index("greedy"), key="model_candidate")
days = c3.number_input("Days of history", min_value=0.5, max_value=30.0, value=3.0, step=0.5,
                       key="model_days")
exploration = st.slider("Exploration of the logging run (share of leads given to a random "
                        "eligible officer, for the off-policy estimates)", 0.05, 1.0, 0.5,
                        0.05, key="model_exploration")


@st.cache_data(show_spinner=False, max_entries=8)
def cached_check(path: str, days: float, logging: str, candidate: str | None,
                 exploration: float, _bar: Any) -> ModelCheck:
    scenario = with_changes(load_scenario(path), Changes(days=days))
    return check_model(scenario, logging, ope_candidate=candidate, exploration=exploration,
                       progress=lambda f, s: _bar.progress(f, text=s))


if st.button("Simulate, train and check", type="primary", key="model_run"):
    bar = st.progress(0.0, text="starting")
    try:
        st.session_state["model_result"] = cached_check(
            str(state.scenario_path()), float(days), builtins[logging],
            None if candidate == "(none)" else builtins[candidate], float(exploration), bar)
    except ERRORS as exc:
        st.error(f"The check did not run: {plain(exc)}")
    finally:
        bar.empty()

result: ModelCheck | None = st.session_state.get("model_result")
if result is None:
    st.info("Press **Simulate, train and check**.")
    st.stop()

st.header("Held-out figures")
st.caption(f"{result.rows} worked leads in the history; {result.estimator} with "
           f"{result.calibration} calibration, chosen on the holdout.")
cards = st.columns(4)
h = result.holdout
cards[0].metric("AUC", f"{h.get('auc', float('nan')):.3f}",
                help="chance a funded lead is scored above one that did not fund")
cards[1].metric("Brier", f"{h.get('brier', float('nan')):.4f}",
                help="mean squared error of the probabilities (lower is better)")
cards[2].metric("Brier skill", f"{h.get('brier_skill', float('nan')):.3f}",
                help="improvement over always predicting the base rate")
cards[3].metric("Calibration error", f"{h.get('ece', float('nan')):.4f}",
                help="mean gap between predicted and observed rates over bins")

st.header("Reliability")
st.write("Each point is a bin of held-out leads: the mean predicted chance against the share "
         "that funded. A calibrated model lies on the diagonal.")
import plotly.graph_objects as go  # noqa: E402

fig = go.Figure()
fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dash"})
fig.add_scatter(x=result.reliability["mean_predicted"], y=result.reliability["observed"],
                mode="markers+lines", name="model",
                marker={"size": 6 + 20 * result.reliability["rows"]
                        / max(float(result.reliability["rows"].max()), 1.0)})
fig.update_layout(xaxis_title="predicted", yaxis_title="observed", height=420)
st.plotly_chart(fig, width="stretch")

st.header("Effects by lead attribute")
st.write("Mean predicted against observed funding on the held-out leads, by attribute.")
st.dataframe(result.effects, hide_index=True, width="stretch")

st.header("Officer skill: fitted against the truth")
st.write(f"Rank correlation between each officer's fitted mean chance over the same leads and "
         f"their hidden skill: **{result.skill_rank_correlation:.2f}** (1 is a perfect "
         "ordering).")
st.scatter_chart(result.skill, x="hidden_skill", y="fitted_mean_p_funded")

st.header("Off-policy estimates against the simulated truth")
if result.ope.empty:
    st.write("No policy chosen to estimate.")
else:
    st.write("Funded loans per lead the candidate would bring, estimated from the logging run "
             "alone (IPS, self-normalised IPS, doubly robust), beside the truths: its value on "
             "the same decisions, and its own simulated run on the same leads.")
    shown = result.ope[["estimator", "estimate", "truth_same_contexts",
                        "truth_simulated_expected", "logging_value", "matched_share",
                        "min_propensity"]]
    st.dataframe(pd.DataFrame(shown), hide_index=True, width="stretch")
