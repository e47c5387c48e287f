import time

import streamlit as st
from common import coins, how_to_start, lake_sparks, live_fragment, redis_hit_rate, settings

from cryptoviz.dashboard.data import as_text, scraper_sources, status_table
from cryptoviz.dashboard.kpis import age_text, freshness, kpi_table, kpis
from cryptoviz.dashboard.market_view import coin_cards, format_compact
from cryptoviz.dashboard.readers import Snapshot
from cryptoviz.health import current_instances
from cryptoviz.scraper.report import mode_line, source_lines

st.title("CryptoViz: system status")

STATUS_COLUMNS = {
    "service": st.column_config.TextColumn("Service"),
    "instance": st.column_config.TextColumn("Instance"),
    "state": st.column_config.TextColumn("State"),
    "reported": st.column_config.TextColumn("Reported"),
    "heartbeat_age_s": st.column_config.NumberColumn("Last heartbeat", format="%.1f s ago"),
    "in": st.column_config.TextColumn("Messages in"),
    "out": st.column_config.TextColumn("Messages out"),
    "errors": st.column_config.NumberColumn("Errors", format="localized"),
    "lag": st.column_config.TextColumn("Lag"),
    "restarts": st.column_config.TextColumn("Restarts"),
}
KPI_COLUMNS = {
    "kpi": st.column_config.TextColumn("KPI"),
    "value": st.column_config.TextColumn("Now"),
    "target": st.column_config.TextColumn("Target"),
    "alert": st.column_config.TextColumn("Alert at"),
    "state": st.column_config.TextColumn("State"),
    "how": st.column_config.TextColumn("Measured as", width="large"),
}
PAGES = [
    ("views/market.py", "Live market", "Candles, indicators and every coin's table"),
    ("views/predictions.py", "ML predictions", "Forecasts with calibrated intervals, P(up), skill"),
    ("views/topics.py", "Topics", "Offsets, consumer lag and the newest messages"),
    ("views/alerts.py", "Alerts", "Rules on price, moves and signals, sent to a webhook"),
]


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


def pipeline(snap: Snapshot) -> None:
    """How fresh the data is, and what went through the pipeline."""
    ages = freshness(snap)
    counted = (
        ("quotes_published", "Quotes published"),
        ("ticks_in", "Quotes modelled"),
        ("rows_written", "Rows in the lake"),
    )
    totals = dict.fromkeys((label for _, label in counted), 0)  # 0 until a service reports
    for doc in current_instances(snap.status)[0]:
        for counter, label in counted:
            totals[label] += int(doc.get("counters", {}).get(counter, 0))
    c = st.columns(6)
    for col, (what, age) in zip(c[:3], ages.items(), strict=True):
        col.metric(f"Newest {what}", age_text(age))
    for col, (label, n) in zip(c[3:], totals.items(), strict=True):
        col.metric(label, format_compact(n), help="since each service's current instance started")


@live_fragment
def live(snap: Snapshot) -> None:
    started = time.perf_counter()
    cards(snap)
    st.subheader("Pipeline")
    pipeline(snap)
    st.subheader("Key figures")
    items = kpis(snap, settings().kpi_levels, redis_hit_rate(), st.session_state.get("home_render_ms"))
    st.dataframe(kpi_table(items), hide_index=True, width="stretch", column_config=KPI_COLUMNS)
    st.subheader("Pages")
    cols = st.columns(len(PAGES))
    for col, (page, title, text) in zip(cols, PAGES, strict=True):
        with col.container(border=True):
            st.page_link(page, label=title)
            st.caption(text)
    st.subheader("System status")
    table = status_table(snap)
    if table.empty:
        st.info(f"No service has reported yet. Start the platform with {how_to_start()}.")
        return
    c = st.columns(4)
    c[0].metric("Services up", f"{(table['state'] == 'up').sum()} / {len(table)}")
    c[1].metric("Quotes tracked", len(snap.quotes))
    c[2].metric("Symbols with predictions", len(snap.ml))
    c[3].metric("Errors counted", int(table["errors"].sum()))
    shown = as_text(table, ("in", "out", "lag", "restarts"))
    st.dataframe(shown, hide_index=True, width="stretch", column_config=STATUS_COLUMNS)
    sources = scraper_sources(snap)
    if sources is not None:
        lines = source_lines(sources)
        st.caption(f"Scraper: **{mode_line(sources)}**" + "".join(f"  \n{line}" for line in lines))
        limited = [name for name, src in sources["sources"].items() if src.get("state") == "rate_limited"]
        if limited:
            st.warning(f"Rate limited (HTTP 429) by {', '.join(limited)}: the scraper waits as asked.")
        lagging = [
            f"{name} ({s.get('state')})" for name, s in sources["streams"].items() if s.get("state") != "live"
        ]
        if lagging:
            st.warning(
                f"Exchange streams not live: {', '.join(lagging)}; their coins come from the next source."
            )
    _, replaced = current_instances(snap.status)
    note = f"; {replaced} replaced instance(s) not shown" if replaced else ""
    st.caption(f"Redis read for all symbols: {snap.read_ms:.1f} ms{note}")
    st.session_state["home_render_ms"] = (time.perf_counter() - started) * 1000 + snap.read_ms


live()
