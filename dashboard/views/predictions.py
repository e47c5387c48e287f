import streamlit as st
from common import coins, how_to_start, lake_history, live_fragment

from cryptoviz.contracts import SIGNAL_HORIZON, forecasts_settled
from cryptoviz.dashboard.data import (
    backtest_table,
    coverage_table,
    predictions_table,
    price_figure,
    reliability_figure,
    signals_table,
)
from cryptoviz.dashboard.readers import Snapshot

st.title("ML predictions")


def live(snap: Snapshot) -> None:
    if not snap.ml:
        st.info(f"No predictions yet. The ML processor writes them as quotes arrive ({how_to_start()}).")
        return
    symbol = str(st.session_state.get("ml_symbol") or coins()[0])  # the selectbox below sets it
    view = snap.detail
    if view is None:
        st.info(f"No prediction for {symbol} yet; these coins have one: {', '.join(sorted(snap.ml))}.")
        st.dataframe(signals_table(snap), hide_index=True, width="stretch")
        return
    sig = view["signal"]
    h = SIGNAL_HORIZON
    c = st.columns(4)
    c[0].metric(
        "Signal", sig["action"], help="BUY or SELL only when the probability and the move beat the fee"
    )
    c[1].metric(f"P(up) {h}", f"{sig['p_up']:.0%}")
    c[2].metric("Price", f"{view['price']:,.4f}")
    forecast = view["predictions"][h]["forecast"]
    c[3].metric(f"Forecast {h}", f"{forecast:,.4f}", f"{sig['move_pct']:+.3f}%")
    fc = view["forecast"].get(h)
    if fc and not fc.get("learnt", True):
        settled = forecasts_settled(view["accuracy"], h)
        st.info(
            f"**Warming up**: {settled:,} {h} forecasts of {symbol} have settled so far. Until enough have "
            f"in this volatility regime ({fc['regime']}), P(up) is a placeholder 50 % and the intervals "
            "are a normal distribution's, not what this coin taught; they are not calibrated yet."
        )
    elif fc:
        low, high = fc["intervals"]["80"]
        st.markdown(
            f"**{sig['p_up']:.0%} chance the price is higher in {h}** (calibrated on this coin's past "
            f"forecasts: of the times it said about this, about that share went up). "
            f"80 % of the time the price in {h} has landed between **{low:,.4f}** and **{high:,.4f}**; "
            f"volatility is **{fc['regime']}** for this coin ({fc['volatility_pct']:.2f} % an hour). "
            f"Expected size of the move: {view['expected_move_pct'].get(h, 0):.2f} % in {h}, "
            f"{view['expected_move_pct'].get('24h', 0):.2f} % in 24h."
        )
    else:
        st.caption("The forecast starts once a few hours of prices give a volatility.")
    history = lake_history(symbol, 3.0)
    st.plotly_chart(price_figure(history, snap.quotes.get(symbol), symbol, view), width="stretch")
    st.subheader("Predictions and measured accuracy (skill: 1 - MAPE / persistence's MAPE, with its t)")
    st.dataframe(predictions_table(view), hide_index=True, width="stretch")
    left, right = st.columns(2)
    with left:
        st.subheader("Intervals: how often they held")
        st.dataframe(coverage_table(view["accuracy"]), hide_index=True, width="stretch")
    with right:
        st.plotly_chart(reliability_figure(view["accuracy"], h), width="stretch")
    if snap.backtest:
        st.subheader("Latest backtest on history (`cryptoviz backtest`)")
        st.caption(snap.backtest.get("summary", ""))
        st.dataframe(backtest_table(snap.backtest, symbol), hide_index=True, width="stretch")
    else:
        st.caption("No backtest summary yet: run `cryptoviz backtest` to see these models on history.")
    st.subheader("Signals for every coin")
    st.dataframe(signals_table(snap), hide_index=True, width="stretch")


st.selectbox("Coin", coins(), key="ml_symbol")
live_fragment(live, detail_key="ml_symbol")()
