"""Decision explorer: one lead, every officer the engine considered, scored or left out and why
(engine.decide's Explanation), under the active policy and under the draft."""

from __future__ import annotations

import streamlit as st

from engine.errors import InputError
from engine.rules import PolicyError
from lab import state
from lab.workbench import DATA, check_leads, check_policy, decide_lead, lay_out_decision, plain

st.title("Decision explorer")
st.write("Pick a lead and see how the engine decided: the rule that matched, each pool tried, "
         "every officer in it as a candidate (in rank order, with a score for scoring methods) "
         "or left out with the reason. Then replay the same lead under the draft policy. Each "
         "lead is decided at its arrival time, with no lead before it (empty caps and "
         "rotation).")


@st.cache_data(show_spinner=False)
def demo_leads() -> list:
    return check_leads((DATA / "demo" / "leads.csv").read_bytes(), "leads.csv").leads


@st.cache_data(show_spinner=False)
def demo_officers() -> list:
    from engine.io import load_roster

    return load_roster(DATA / "demo" / "officers.csv")


leads = st.session_state.get(state.LEADS) or demo_leads()
officers = st.session_state.get(state.OFFICERS) or demo_officers()
source = "your uploaded" if st.session_state.get(state.LEADS) else "the demo"
st.caption(f"Leads from {source} file ({len(leads)}), {len(officers)} officers.")
by_id = {lead.lead_id: lead for lead in leads}
lead_id = st.selectbox("Lead", list(by_id)[:2000], key="explorer_lead")
lead = by_id[lead_id]
st.json({"lead_id": lead.lead_id, "received_at": lead.received_at.isoformat(),
         "source": lead.source, "state": lead.state, "county_fips": lead.county_fips,
         "loan_purpose": str(lead.loan_purpose.value), "loan_program":
         str(lead.loan_program.value), "loan_amount_usd": lead.loan_amount_usd,
         "is_jumbo": lead.is_jumbo, "language": lead.language}, expanded=False)

versions = {"active": state.active_policy(), "draft": state.draft_policy()}
columns = st.columns(2)
for column, (label, text) in zip(columns, versions.items(), strict=True):
    with column:
        st.subheader(f"Under the {label} policy")
        try:
            policy = check_policy(text, label)
        except PolicyError as exc:
            st.error(f"The {label} policy is not valid at {plain(exc.path)}: {plain(exc.message)}")
            continue
        try:
            decision = decide_lead(lead, officers, policy)
        except (InputError, ValueError) as exc:
            st.error(f"No decision: {plain(exc)}")
            continue
        reason = decision.reason.removeprefix(f"{decision.status.value}: ")
        st.markdown(f"**{decision.status.value}**"
                    + (f" to **{plain(decision.officer_id)}**" if decision.officer_id else "")
                    + f": {plain(reason)}")
        st.caption(f"policy {plain(decision.policy)} version {plain(decision.policy_version)}, "
                   "priority "
                   f"{decision.priority}, propensity {decision.propensity:.3f}")
        rules = decision.explanation.rule_path
        st.write("Rules tried: " + ", ".join(
            f"{r.get('rule', r.get('name', '?'))} ({'matched' if r.get('matched') else 'no'})"
            for r in rules) if rules else "Rules tried: none (the else action)")
        table = lay_out_decision(decision)
        st.dataframe(table, hide_index=True, width="stretch", height=420)
        for note in decision.explanation.notes:
            st.caption(note)
