import streamlit as st
from common import live_fragment

from cryptoviz.dashboard_data import status_table
from cryptoviz.readers import Snapshot

st.title("CryptoViz: system status")


@live_fragment
def live(snap: Snapshot) -> None:
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
