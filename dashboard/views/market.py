import pandas as pd
import streamlit as st
from common import coins, how_to_start, lake_candles, lake_sparks, live_fragment, settings, source_refresh_s

from cryptoviz.dashboard.candles import INTERVALS, remember_live, with_live_quotes
from cryptoviz.dashboard.market_chart import INDICATORS, candle_figure
from cryptoviz.dashboard.market_view import known_columns, market_table, styled_market
from cryptoviz.dashboard.readers import Snapshot

st.title("Live market")
RANGES = {"3 h": 0.125, "24 h": 1.0, "7 d": 7.0, "30 d": 30.0, "90 d": 90.0, "all": None}
COLUMNS = {
    "symbol": st.column_config.TextColumn("Coin"),
    "name": st.column_config.TextColumn("Name"),
    "price_usd": st.column_config.NumberColumn("Price (USD)"),
    "change_24h_pct": st.column_config.NumberColumn("24 h change"),
    "last_day": st.column_config.LineChartColumn("Last 24 h", width="medium"),
    "volume_24h_usd": st.column_config.NumberColumn("24 h volume"),
    "market_cap_usd": st.column_config.NumberColumn("Market cap"),
    "source": st.column_config.TextColumn("Source"),
    "event_time": st.column_config.DatetimeColumn("Quote time (UTC)", format="YYYY-MM-DD HH:mm"),
    "ingest_age_s": st.column_config.NumberColumn("Received"),
}


def live(snap: Snapshot) -> None:
    table = market_table(snap, lake_sparks(tuple(coins())))
    if table.empty:
        st.info(
            f"No quotes yet. Start the platform with {how_to_start()}; it replays real history when offline."
        )
        return
    shown, unknown = known_columns(table)
    st.dataframe(styled_market(shown), hide_index=True, width="stretch", column_config=COLUMNS)
    if unknown:
        st.caption(
            "Not in these quotes: " + ", ".join(str(COLUMNS[c]["label"]).lower() for c in unknown) + "."
        )
    symbol = st.session_state.get("market_symbol") or table["symbol"].iloc[0]
    days = RANGES[st.session_state.get("market_range", "7 d")]
    candles, interval, quotes, newest = lake_candles(
        symbol, days, st.session_state.get("market_interval", "auto")
    )
    if not quotes:
        st.warning("The lake has no history for this coin yet (the Spark job writes every 30 s).")
    quote = snap.quotes.get(symbol)
    if quote is not None:  # the latest candles move with the live price between two reads of the lake
        key = f"market_live:{symbol}"
        seen = (pd.Timestamp(quote.source_ts), quote.price_usd, quote.volume_24h_usd)
        st.session_state[key] = remember_live(st.session_state.get(key, []), seen, newest)
        candles = with_live_quotes(candles, interval, st.session_state[key], newest)
    show = st.session_state.get("market_indicators", [])
    st.plotly_chart(candle_figure(candles, symbol, interval, show, quote), width="stretch")
    st.caption(
        f"{len(candles)} candles of {interval} from {quotes} quotes in the lake and the live price; the "
        "bars are the 24 h volume last quoted in each candle."
    )


# while an exchange stream is live the panel re-runs every second, and the chart opens on 3 h of
# 1-minute candles; otherwise at the configured interval, on 7 days
streaming = source_refresh_s() < settings().dashboard_refresh_s
st.segmented_control("Coin", coins(), default=coins()[0], key="market_symbol")
left, right = st.columns([3, 2])
left.radio("Range", list(RANGES), index=0 if streaming else 2, horizontal=True, key="market_range")
right.selectbox("Candle", ["auto", *INTERVALS], key="market_interval")
st.pills("Indicators", INDICATORS, selection_mode="multi", key="market_indicators")
live_fragment(live, follow_source=True)()
