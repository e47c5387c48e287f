import streamlit as st
from common import coins, lake_sparks, live_fragment

from cryptoviz.dashboard_data import status_table
from cryptoviz.health import current_instances
from cryptoviz.market_view import coin_cards
from cryptoviz.readers import Snapshot

st.title("CryptoViz: system status")

STATUS_COLUMNS = {
    "service": st.column_config.TextColumn("Service"),
    "instance": st.column_config.TextColumn("Instance"),
    "state": st.column_config.TextColumn("State"),
    "reported": st.column_config.TextColumn("Reported"),
    "heartbeat_age_s": st.column_config.NumberColumn("Last heartbeat", format="%.1f s ago"),
    "in": st.column_config.NumberColumn("Messages in", format="localized"),
    "out": st.column_config.NumberColumn("Messages out", format="localized"),
    "errors": st.column_config.NumberColumn("Errors", format="localized"),
    "lag": st.column_config.NumberColumn("Lag", format="localized"),
}


def cards(snap: Snapshot) -> None:
    """A card per coin: price, 24 h change, a sparkline of the last day (lake), signal and P(up)."""
    per_row = 4
    all_cards = coin_cards(snap, coins())
    sparks = lake_sparks(tuple(coins()))
    for start in range(0, len(all_cards), per_row):
        cols = st.columns(per_row)
        for col, card in zip(cols, all_cards[start : start + per_row], strict=False):
            spark = sparks.get(card["symbol"])
            col.metric(card["label"], card["price"], card["change"], chart_data=spark, border=True)


@live_fragment
def live(snap: Snapshot) -> None:
    cards(snap)
    st.subheader("System status")
    table = status_table(snap)
    if table.empty:
        st.info("No service has reported yet. Start the platform with `make up`.")
        return
    c = st.columns(4)
    c[0].metric("Services up", f"{(table['state'] == 'up').sum()} / {len(table)}")
    c[1].metric("Quotes tracked", len(snap.quotes))
    c[2].metric("Symbols with predictions", len(snap.ml))
    c[3].metric("Errors counted", int(table["errors"].sum()))
    st.dataframe(table, hide_index=True, use_container_width=True, column_config=STATUS_COLUMNS)
    _, replaced = current_instances(snap.status)
    note = f"; {replaced} replaced instance(s) not shown" if replaced else ""
    st.caption(f"Redis read for all symbols: {snap.read_ms:.1f} ms{note}")


live()
