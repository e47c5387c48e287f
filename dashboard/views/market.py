import streamlit as st
from common import coins, lake_history, live_fragment

from cryptoviz.dashboard_data import market_table, price_figure, volume_figure
from cryptoviz.readers import Snapshot

st.title("Live market")
RANGES = {"1 h": 1 / 24, "24 h": 1.0, "7 d": 7.0, "30 d": 30.0, "all": None}


@live_fragment
def live(snap: Snapshot) -> None:
    table = market_table(snap)
    if table.empty:
        st.info("No quotes yet. Start the scraper (`make up`); it replays real history when offline.")
        return
    st.dataframe(table, hide_index=True, use_container_width=True)
    symbol = st.session_state.get("market_symbol") or table["symbol"].iloc[0]
    history = lake_history(symbol, RANGES[st.session_state.get("market_range", "7 d")])
    if history.empty:
        st.warning("The lake has no history for this coin yet (the Spark job writes every 30 s).")
    st.plotly_chart(price_figure(history, snap.quotes.get(symbol), symbol), use_container_width=True)
    st.plotly_chart(volume_figure(history, symbol), use_container_width=True)


st.selectbox("Coin", coins(), key="market_symbol")
st.radio("Range", list(RANGES), index=2, horizontal=True, key="market_range")
live()
