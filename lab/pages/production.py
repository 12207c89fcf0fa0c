"""Production: what the API reports (speed to lead, conversion by source and officer) and a
validated policy pushed to it: uploaded, dry-run on recent leads, then activated."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.rules import PolicyError
from lab import state
from lab.production import Api, ApiError, history_figures, settings_from_env
from lab.workbench import check_policy, plain

st.title("Production")
env_url, env_key = settings_from_env()
c1, c2 = st.columns([2, 1])
url = c1.text_input("API address", env_url, key="prod_url")
key = c2.text_input("API key (admin to push policies)", env_key, type="password",
                    key="prod_key", help="LEADROUTE_LAB_API_KEY sets it; `leadroute keys "
                                         "create --scope admin` makes one")
api = Api.connect(url, key)
try:
    health = api.health()
except ApiError as exc:
    st.error(f"The API does not answer: {plain(exc)}. Start it with `make run` (or `leadroute "
             "serve`) and set LEADROUTE_LAB_API_URL.")
    st.stop()
st.success(plain(f"API at {url}: {health.get('status')}, database "
                 f"{health.get('database')}."))
if not key:
    st.warning("No API key: give one to read production figures and push policies.")
    st.stop()

try:
    server_active = api.active_policy_yaml()
except ApiError as exc:
    st.error(f"The policies cannot be read: {plain(exc)}")
    st.stop()
if server_active:
    st.session_state[state.ACTIVE] = server_active

st.header("What production reports")
try:
    paths = api.analytics_paths()
except ApiError:
    paths = []
if paths:
    for path in paths:
        try:
            body = api.get_json(path)
        except ApiError as exc:
            st.warning(plain(f"{path}: {exc}"))
            continue
        st.subheader(path.removeprefix("/v1/analytics/").replace("-", " ").replace("_", " "))
        items = body.get("items", body) if isinstance(body, dict) else body
        if isinstance(items, list):
            st.dataframe(pd.DataFrame(items), hide_index=True, width="stretch")
        else:
            st.json(body)
else:
    st.caption("This server has no analytics endpoints; the figures below come from its "
               "history export (leads an officer accepted; contact details masked).")
    try:
        figures = history_figures(api.history())
    except ApiError as exc:
        st.error(f"The history export cannot be read: {plain(exc)}")
        figures = {}
    if not figures:
        st.info("No lead has been accepted yet.")
    else:
        speed = figures["speed"]["minutes_to_first_contact"]
        cards = st.columns(3)
        cards[0].metric("Leads worked", f"{len(figures['speed']):,}")
        cards[1].metric("Median minutes to first contact",
                        f"{speed.median():.1f}" if len(speed) else "n/a")
        cards[2].metric("90% contacted within (minutes)",
                        f"{speed.quantile(0.9):.1f}" if len(speed) else "n/a")
        left, right = st.columns(2)
        left.subheader("By source")
        left.dataframe(figures["source"], hide_index=True, width="stretch")
        right.subheader("By officer")
        right.dataframe(figures["officer_id"], hide_index=True, width="stretch")

st.header("Push the draft policy")
st.write("The draft from the Policy editor is checked here, uploaded, replayed on the most "
         "recent leads under the routing policy and under the draft (a dry run), and only "
         "then can it be activated.")
draft = state.draft_policy()
try:
    policy = check_policy(draft, "draft")
except PolicyError as exc:
    st.error(f"The draft is not valid at {plain(exc.path)}: {plain(exc.message)}. Fix it in "
             "the Policy editor.")
    st.stop()
st.write(f"Draft: policy **{plain(policy.name)}** version **{plain(policy.version)}**.")
last = st.number_input("Recent leads to replay", min_value=1, max_value=5000, value=200,
                       key="prod_last")
if st.button("Upload and dry run", key="prod_dry_run"):
    try:
        uploaded = api.upload_policy(draft)
        result = api.dry_run(int(uploaded["id"]), int(last))
    except ApiError as exc:
        st.error(f"Not accepted: {plain(exc)}")
    else:
        st.session_state["prod_dry"] = (uploaded, result)

dry = st.session_state.get("prod_dry")
if dry is not None:
    uploaded, result = dry
    st.subheader(f"Dry run of policy {uploaded['id']} ({plain(uploaded['name'])} version "
                 f"{plain(uploaded['version'])}) against {plain(result.get('compared_with'))}")
    st.json(result.get("counts", {}))
    changed = [lead for lead in result.get("leads", []) if lead.get("changed")]
    st.write(f"{len(changed)} of {len(result.get('leads', []))} leads would go differently.")
    if changed:
        st.dataframe(pd.DataFrame([{"lead": c["id"],
                                    "now": c["current"].get("officer_id") or
                                    c["current"].get("status"),
                                    "draft": c["candidate"].get("officer_id") or
                                    c["candidate"].get("status")} for c in changed[:500]]),
                     hide_index=True, width="stretch")
    if st.button(f"Activate policy {uploaded['id']}", type="primary", key="prod_activate"):
        try:
            api.activate(int(uploaded["id"]))
        except ApiError as exc:
            st.error(f"Not activated: {plain(exc)}")
        else:
            st.session_state[state.ACTIVE] = draft
            st.session_state.pop("prod_dry")
            st.success(f"Policy {uploaded['id']} now routes new leads.")
