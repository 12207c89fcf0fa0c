"""The lab: ``streamlit run lab/app.py``. Pages are in lab/pages/ and stay thin: the work is
in engine/ and simulator/ (through lab/workbench.py) and, for production, in the API."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run lab/app.py` puts lab/ first on the path, not the project root
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="leadroute lab", layout="wide")
navigation = st.navigation([
    st.Page(PAGES / "data.py", title="Data", default=True),
    st.Page(PAGES / "policy.py", title="Policy editor", url_path="policy-editor"),
    st.Page(PAGES / "whatif.py", title="What-if", url_path="what-if"),
    st.Page(PAGES / "explorer.py", title="Decision explorer",
            url_path="decision-explorer"),
    st.Page(PAGES / "model.py", title="Model"),
    st.Page(PAGES / "production.py", title="Production"),
])
navigation.run()
