"""CryptoViz dashboard: one registry of pages, `st.navigation`; reads Redis and the lake, never Kafka.

The pages live in views/, not pages/: Streamlit auto-discovers a pages/ folder, and a run that did
not reach st.navigation (a login form) then served those instead of the registry. Navigation is
resolved on every run, the login run included, so a deep link lands on its page after the login.
"""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).parent))
from common import freeze_startup_heap, logged_in, require_login

st.set_page_config(page_title="CryptoViz", layout="wide")
# a visitor never sees a traceback: errors are logged by the server, the page shows a short message
st.set_option("client.showErrorDetails", "none")
# the default page is served at the root: Streamlit ignores a url_path given to it
PAGES = [
    st.Page("views/home.py", title="Home and system status", default=True),
    st.Page("views/market.py", title="Live market", url_path="market"),
    st.Page("views/predictions.py", title="ML predictions", url_path="predictions"),
    st.Page("views/topics.py", title="Topics", url_path="topics"),
    st.Page("views/alerts.py", title="Alerts", url_path="alerts"),
]
page = st.navigation(PAGES, position="sidebar" if logged_in() else "hidden")
if require_login():
    page.run()
    freeze_startup_heap()
