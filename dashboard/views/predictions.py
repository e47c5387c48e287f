import streamlit as st
from common import coins, lake_history, live_fragment

from cryptoviz.contracts import SIGNAL_HORIZON
from cryptoviz.dashboard_data import backtest_table, predictions_table, price_figure, signals_table
from cryptoviz.readers import Snapshot

st.title("ML predictions")


def live(snap: Snapshot) -> None:
    if not snap.ml:
        st.info("No predictions yet. The ML processor writes them as quotes arrive (`make up`).")
        return
    symbol = str(st.session_state.get("ml_symbol") or coins()[0])  # the selectbox below sets it
    view = snap.detail
    if view is None:
        st.info(f"No prediction for {symbol} yet; these coins have one: {', '.join(sorted(snap.ml))}.")
        st.dataframe(signals_table(snap), hide_index=True, use_container_width=True)
        return
    sig = view["signal"]
    c = st.columns(4)
    c[0].metric("Signal", sig["action"])
    c[1].metric("Confidence", f"{sig['confidence']:.2f}")
    c[2].metric("Price", f"{view['price']:,.4f}")
    consensus = view["predictions"][SIGNAL_HORIZON]["consensus"]
    c[3].metric(f"Consensus {SIGNAL_HORIZON}", f"{consensus:,.4f}", f"{sig['move_pct']:+.3f}%")
    history = lake_history(symbol, 3.0)
    st.plotly_chart(price_figure(history, snap.quotes.get(symbol), symbol, view), use_container_width=True)
    st.subheader("Predictions and measured accuracy (against persistence)")
    st.dataframe(predictions_table(view), hide_index=True, use_container_width=True)
    if snap.backtest:
        st.subheader("Latest backtest on history (`cryptoviz backtest`)")
        st.caption(snap.backtest.get("summary", ""))
        st.dataframe(backtest_table(snap.backtest, symbol), hide_index=True, use_container_width=True)
    else:
        st.caption("No backtest summary yet: run `cryptoviz backtest` to see these models on history.")
    st.subheader("Signals for every coin")
    st.dataframe(signals_table(snap), hide_index=True, use_container_width=True)


st.selectbox("Coin", coins(), key="ml_symbol")
live_fragment(live, detail_key="ml_symbol")()
