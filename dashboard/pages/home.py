import streamlit as st
from common import settings, snapshot

from cryptoviz.dashboard_data import status_table

st.title("CryptoViz: system status")


@st.fragment(run_every=settings().dashboard_refresh_s)
def live() -> None:
    snap = snapshot()
    if snap is None:
        return
    table = status_table(snap)
    if table.empty:
        st.info("No service has reported yet. Start the platform with `make up`.")
        return
    c = st.columns(4)
    c[0].metric("Services up", f"{(table['state'] == 'up').sum()} / {len(table)}")
    c[1].metric("Quotes tracked", len(snap.quotes))
    c[2].metric("Symbols with predictions", len(snap.ml))
    c[3].metric("Errors counted", int(table["errors"].sum()))
    st.dataframe(table, hide_index=True, use_container_width=True)
    st.caption(f"Redis read for all symbols: {snap.read_ms:.1f} ms")


live()
