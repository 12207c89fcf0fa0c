"""What the pages share through Streamlit's session state: the scenario chosen on the Data
page, the draft policy of the Policy editor, uploaded officers and leads. One place names the
keys and their defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from lab.workbench import DEFAULT_POLICY, SCENARIOS

SCENARIO = "scenario_path"  # str: the scenario YAML the what-if runs
DRAFT = "draft_policy"  # str: the policy YAML being edited
ACTIVE = "active_policy"  # str: the policy production routes with (or the shipped default)
OFFICERS = "own_officers"  # list[Officer] from an uploaded roster
LEADS = "own_leads"  # list[Lead] from an uploaded leads file
REPLAY = "own_scenario"  # Scenario replaying the uploaded leads on the uploaded roster


def scenario_path() -> Path:
    return Path(st.session_state.get(SCENARIO, str(SCENARIOS / "reference.yaml")))


def active_policy() -> str:
    if ACTIVE not in st.session_state:
        st.session_state[ACTIVE] = DEFAULT_POLICY.read_text(encoding="utf-8")
    return str(st.session_state[ACTIVE])


def draft_policy() -> str:
    if DRAFT not in st.session_state:
        st.session_state[DRAFT] = active_policy()
    return str(st.session_state[DRAFT])


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)
