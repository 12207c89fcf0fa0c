"""Data: a shipped scenario, or the lender's own roster, leads and history, checked row by row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.errors import InputError
from engine.rules import PolicyError
from lab import state
from lab.workbench import (
    check_history,
    check_leads,
    check_roster,
    fit_scenario_from,
    plain,
    problems_frame,
    scenario_fit_available,
    shipped_scenarios,
)

st.title("Data")
st.write("Choose the world the what-if runs on: a shipped scenario, or your own officers and "
         "leads. Every file is checked row by row; a problem names its row, column and value.")

scenarios = shipped_scenarios()
names = list(scenarios)
current = state.scenario_path().stem
choice = st.selectbox("Shipped scenario", names,
                      index=names.index(current) if current in names else 0,
                      key="data_scenario",
                      on_change=lambda: st.session_state.pop(state.REPLAY, None))
path = scenarios[choice]
st.session_state[state.SCENARIO] = str(path)

from simulator.errors import ParamError, ScenarioError  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

try:
    scenario = load_scenario(path)
except (ScenarioError, ParamError, PolicyError, InputError) as exc:
    st.error(f"The scenario {plain(path.name)} does not load: {plain(exc)}")
    st.stop()
stream = scenario.stream
rate = getattr(stream, "leads_per_day", None)
surge = getattr(stream, "volume_multiplier", 1.0)
cols = st.columns(4)
cols[0].metric("Days of leads", f"{scenario.days:g}")
cols[1].metric("Leads a day (before surges)", f"{rate * surge:,.0f}" if rate else "replayed")
cols[2].metric("Officers", len(scenario.officers))
cols[3].metric("Timezone", scenario.timezone)
st.caption(scenario.description or "")

st.header("Your own files")
st.write("A roster in the `leadroute route` format, a leads file with the same columns, and a "
         "history (the `leadroute simulate` history or the API's `/v1/history.csv`).")
roster_file = st.file_uploader("Officers (roster CSV)", type=["csv"], key="upload_roster")
leads_file = st.file_uploader("Leads CSV", type=["csv"], key="upload_leads")
history_file = st.file_uploader("History CSV", type=["csv"], key="upload_history")


def show_problems(what: str, exc: Exception) -> None:
    st.error(plain(f"{what} was not accepted: {exc}".splitlines()[0][:400]))
    st.dataframe(problems_frame(exc), hide_index=True, width="stretch")


if roster_file is not None:
    try:
        officers = check_roster(roster_file.getvalue(), roster_file.name)
    except InputError as exc:
        show_problems(f"The roster {roster_file.name}", exc)
        st.session_state.pop(state.OFFICERS, None)
    else:
        st.session_state[state.OFFICERS] = officers
        st.success(f"{plain(roster_file.name)}: {len(officers)} officers.")

if leads_file is not None:
    try:
        checked = check_leads(leads_file.getvalue(), leads_file.name)
    except InputError as exc:
        show_problems(f"The leads file {leads_file.name}", exc)
        st.session_state.pop(state.LEADS, None)
    else:
        st.session_state[state.LEADS] = checked.leads
        if checked.problems:
            st.warning(f"{plain(leads_file.name)}: {len(checked.leads)} of {checked.rows} rows are "
                       f"leads; {checked.rows - len(checked.leads)} rows have problems:")
            st.dataframe(problems_frame(InputError(checked.problems)), hide_index=True,
                         width="stretch")
        else:
            st.success(f"{plain(leads_file.name)}: {len(checked.leads)} leads, every row good.")

if history_file is not None:
    officers = st.session_state.get(state.OFFICERS) or list(scenario.officers)
    try:
        history = check_history(history_file.getvalue(), history_file.name, officers)
    except (InputError, ValueError) as exc:
        show_problems(f"The history {history_file.name}", exc)
    else:
        st.success(f"{plain(history_file.name)}: {len(history)} worked leads, outcome rate "
                   f"{float(history.y.mean()):.3f}.")

if st.button("Check the production history (the API's /v1/history.csv)", key="api_history"):
    from lab.production import Api, ApiError, settings_from_env

    url, key = settings_from_env()
    officers = st.session_state.get(state.OFFICERS) or list(scenario.officers)
    try:
        text = Api.connect(url, key).history_text()
        history = check_history(text.encode("utf-8"), "history.csv", officers)
    except ApiError as exc:
        st.error(f"The API's history cannot be read: {plain(exc)}")
    except (InputError, ValueError) as exc:
        show_problems("The API's history", exc)
    else:
        st.success(f"The API's history: {len(history)} worked leads.")

own_officers = st.session_state.get(state.OFFICERS)
own_leads = st.session_state.get(state.LEADS)
if own_officers and own_leads and leads_file is not None and roster_file is not None:
    st.subheader("A what-if on your own leads")
    if st.button("Replay my leads on my roster in the what-if", key="use_own"):
        from dataclasses import replace

        from simulator.params import ReplayStreamParams

        folder = Path(tempfile.mkdtemp(prefix="leadroute-lab-"))
        (folder / "officers.csv").write_bytes(roster_file.getvalue())
        (folder / "leads.csv").write_bytes(leads_file.getvalue())
        first = min(lead.received_at for lead in own_leads)
        last = max(lead.received_at for lead in own_leads)
        days = max((last - first).total_seconds() / 86400.0, 1.0 / 24) + 1e-6
        own = replace(scenario, name="own leads", description=f"{leads_file.name} replayed on "
                      f"{roster_file.name}, in the world of {scenario.name}",
                      start=first, days=days, roster_path=folder / "officers.csv",
                      officers=tuple(own_officers),
                      stream=ReplayStreamParams(folder / "leads.csv"), departures=())
        st.session_state[state.REPLAY] = own
        st.success("The What-if page now replays your leads; choose a shipped scenario to go "
                   "back.")

st.subheader("A scenario fitted from a history")
if not scenario_fit_available():
    st.write("Fitting a scenario to a history (`leadroute scenario fit`) is not in this "
             "installation.")
elif history_file is None or roster_file is None:
    st.write("Upload a history and its roster above to fit a scenario to them (arrivals, "
             "response times, contact, application and funding), then run what-ifs on it.")
else:
    every_lead = leads_file is not None and st.checkbox(
        "The leads file above holds every lead received over the history's days, worked or "
        "not: replay it (a history holds only the worked leads; a lead left unworked in a "
        "backlog is still load every policy faces)", key="fit_every_lead")
    if not every_lead:
        st.caption("The fitted scenario replays the history's worked leads; upload every lead "
                   "received as the leads file above to replay those instead.")
    if st.button("Fit a scenario to my history", key="fit_scenario"):
        from simulator.errors import ParamError as FitParamError

        try:
            fitted = fit_scenario_from(history_file.getvalue(), roster_file.getvalue(),
                                       Path(tempfile.mkdtemp(prefix="leadroute-fit-")),
                                       leads_file.getvalue() if every_lead and leads_file
                                       else None)
        except (InputError, FitParamError, ScenarioError, ValueError) as exc:
            what = f"The history {history_file.name}"
            if every_lead and leads_file:
                what += f" or the leads file {leads_file.name}"
            show_problems(what, exc)
        else:
            st.session_state[state.REPLAY] = fitted
            st.success(f"Fitted: {fitted.days:g} days, {len(fitted.officers)} officers. The "
                       "What-if page now runs on it; choose a shipped scenario to go back.")
st.dataframe(pd.DataFrame([{"officer": o.officer_id, "team": o.team, "weight": o.weight,
                            "states": " ".join(sorted(lic.state for lic in o.licenses))}
                           for o in scenario.officers[:200]]),
             hide_index=True, width="stretch")
