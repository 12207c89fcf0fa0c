"""What-if: several policies on one scenario, side by side, with common random numbers; the
verdict first, then the figures; a panel to change officers, caps, hours and volume."""

from __future__ import annotations

from typing import Any

import plotly.io as pio
import streamlit as st

from engine.errors import InputError
from engine.rules import PolicyError
from lab import state
from lab.workbench import (
    KPI_COLUMNS,
    Changes,
    WhatIf,
    plain,
    problems_frame,
    roster_csv_text,
    run_whatif,
    shipped_policies,
    with_changes,
)
from simulator.errors import ParamError, ScenarioError, UsageError
from simulator.scenario import load_scenario

ERRORS = (ScenarioError, PolicyError, InputError, ParamError, UsageError, ValueError)

st.title("What-if")
st.write("Run policies on the same simulated leads (common random numbers: every policy sees "
         "the same leads and the same officer response draws), then read which is best and "
         "whether the difference can be trusted.")

own = st.session_state.get(state.REPLAY)
try:
    scenario = own if own is not None else load_scenario(state.scenario_path())
except ERRORS as exc:
    st.error(f"The scenario does not load: {plain(exc)}")
    st.stop()
st.caption(f"Scenario **{plain(scenario.name)}** (change it on the Data page): "
           f"{plain(scenario.description)}")

builtins = shipped_policies()
options = [*builtins, "draft (Policy editor)"]
chosen = st.multiselect("Policies to compare (the first is the baseline)", options,
                        default=["rules", "weighted_round_robin"], key="whatif_policies")
c1, c2, c3 = st.columns(3)
synthetic = hasattr(scenario.stream, "leads_per_day")
days = c1.number_input("Days of leads", min_value=min(0.25, float(scenario.days)),
                       max_value=float(scenario.days),
                       value=min(2.0, float(scenario.days)), step=0.25, key="whatif_days",
                       disabled=not synthetic,
                       help="Fewer days run faster; the whole scenario is "
                            f"{scenario.days:g} days.")
replications = c2.number_input("Replications", min_value=1, max_value=50, value=5,
                               key="whatif_replications",
                               help="More replications narrow the intervals; fewer than 5 "
                                    "are not to be trusted.")
seed = c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, key="whatif_seed")

with st.expander("Officers, caps, hours and volume"):
    surge = st.slider("Lead volume (x the scenario's)", 0.25, 3.0, 1.0, 0.05,
                      key="whatif_surge", disabled=not synthetic)
    st.write("Edit the roster: add a row for a new officer, delete a row to remove one, change "
             "`daily_cap`, `max_open`, `hourly_cap` or `work_hours` (e.g. "
             "`Mon-Fri 08:00-18:00`).")
    import io

    import pandas as pd

    base_roster = roster_csv_text(scenario)
    table = pd.read_csv(io.StringIO(base_roster), dtype=str, keep_default_na=False)
    edited = st.data_editor(table, num_rows="dynamic", key="whatif_roster",
                            width="stretch", height=260)
    edited_text = edited.to_csv(index=False)
    roster_changed = not edited.equals(table)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_run(scenario_key: str, days: float | None, surge: float, roster: str | None,
               policies: tuple[tuple[str, str], ...], replications: int, seed: int,
               _scenario: Any, _bar: Any) -> WhatIf:
    changed = with_changes(_scenario, Changes(days=days, volume_multiplier=surge,
                                              roster_csv=roster))

    def progress(fraction: float, step: str) -> None:
        _bar.progress(fraction, text=f"simulating: {step}")

    return run_whatif(changed, policies, replications=replications, seed=seed,
                      progress=progress)


if st.button("Run the what-if", type="primary", key="whatif_run"):
    texts = []
    for name in chosen:
        texts.append(("draft", state.draft_policy()) if name.startswith("draft")
                     else (name, builtins[name]))
    bar = st.progress(0.0, text="simulating")
    try:
        st.session_state["whatif_result"] = cached_run(
            f"{scenario.source}|{scenario.name}|{scenario.start.isoformat()}|"
            f"{scenario.roster_path}|{scenario.stream}",
            float(days) if synthetic else None, float(surge),
            edited_text if roster_changed else None, tuple(texts), int(replications),
            int(seed), scenario, bar)
    except ERRORS as exc:
        st.error(f"The what-if did not run: {plain(exc)}")
        if isinstance(exc, InputError | PolicyError):
            st.dataframe(problems_frame(exc), hide_index=True)
    finally:
        bar.empty()

result: WhatIf | None = st.session_state.get("whatif_result")
if result is None:
    st.info("Choose policies and press **Run the what-if**.")
    st.stop()

st.header("Verdict")
with st.container(key="verdict"):
    st.markdown(f"**{plain(result.verdict)}**")
    (st.success if result.verdict_trusted else st.warning)(plain(result.verdict_detail))
    st.caption(plain(result.verdict_note))
st.caption(f"{plain(result.scenario)}: {result.replications} replication(s), seed {result.seed}, "
           f"{result.leads_per_replication:,.0f} leads per replication.")

st.dataframe(result.kpis.T.style.format("{:,.2f}"), width="stretch")
for policy, row in result.kpis.iterrows():
    st.subheader(str(policy))
    cards = st.columns(len(KPI_COLUMNS))
    for card, (_, title, meaning) in zip(cards, KPI_COLUMNS, strict=True):
        value = row[title]
        shown = "n/a" if value != value else (f"{value:.2f}" if title.startswith("Of the")
                                              else f"{value:,.1f}")
        card.metric(title, shown, help=meaning)

figures = {title: pio.from_json(text) for title, text in result.figures.items()}
st.header("Speed to lead")
st.plotly_chart(figures["speed to lead"], width="stretch")
st.header("Conversions")
st.plotly_chart(figures["conversions"], width="stretch")
left, right = st.columns(2)
left.plotly_chart(figures["by source"], width="stretch")
right.plotly_chart(figures["by program"], width="stretch")
st.header("Workload per officer")
st.plotly_chart(figures["workload per officer"], width="stretch")
st.header("Funnel")
st.write("Leads per replication at each stage: arrived, worked by an officer (accepted and "
         "called), reached and qualified, applied, funded.")
funnel = result.funnel.pivot(index="stage", columns="policy", values="leads")
funnel = funnel.reindex(list(dict.fromkeys(result.funnel["stage"])))
st.dataframe(funnel.style.format("{:,.1f}"), width="stretch")
with st.expander("Every figure per replication"):
    st.dataframe(result.summary, hide_index=True, width="stretch")
    st.dataframe(result.comparison, hide_index=True, width="stretch")
