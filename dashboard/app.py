"""CryptoViz dashboard: one registry of pages, `st.navigation`; reads Redis and the lake, never Kafka."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).parent))
from common import require_login

st.set_page_config(page_title="CryptoViz", layout="wide")
PAGES = [
    st.Page("pages/home.py", title="Home and system status", default=True, url_path="home"),
    st.Page("pages/market.py", title="Live market", url_path="market"),
    st.Page("pages/predictions.py", title="ML predictions", url_path="predictions"),
]
if require_login():
    st.navigation(PAGES).run()
