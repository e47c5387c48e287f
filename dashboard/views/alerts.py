import redis
import streamlit as st
from common import coins, rds, redis_down, settings

from cryptoviz.dashboard.monitor_view import KIND_NAMES, fired_table, rule_text
from cryptoviz.monitor.alerts import LEVELS, delete_rule, fired_alerts, load_rules, new_rule, save_rule

st.title("Alerts")
st.caption(
    "Rules are checked by the monitor service every few seconds on the latest quotes and signals. An "
    "alert fires when its condition starts to hold (a rule made while it already holds waits for the "
    "next time), is listed below and is posted to ALERT_WEBHOOK_URL with retries."
)
DEFAULT_LEVELS = {"price_above": 100_000.0, "price_below": 50_000.0, "move_1h": 2.0, "signal": 0.6}

try:
    rules, unreadable = load_rules(rds())
except redis.RedisError as exc:
    redis_down(exc)
    st.stop()

with st.container(border=True):  # not a form: the level's unit follows the kind as it is chosen
    st.markdown("**New rule**")
    c = st.columns([1, 3, 2])
    symbol = c[0].selectbox("Coin", coins(), key="alert_symbol")
    kind = c[1].selectbox("When", list(KIND_NAMES), format_func=lambda k: KIND_NAMES[k], key="alert_kind")
    unit = LEVELS[kind][0]
    level = c[2].number_input(
        f"Level ({unit})", value=DEFAULT_LEVELS[kind], min_value=0.0, format="%g", key=f"alert_level_{kind}"
    )
    if st.button("Add rule"):
        try:
            save_rule(rds(), new_rule(symbol, kind, float(level)))
            st.rerun()
        except ValueError as exc:
            st.error(str(exc))

st.subheader("Rules")
if not rules:
    st.info("No rule yet: add one above.")
for rule in rules:
    left, right = st.columns([6, 1])
    left.write(rule_text(rule))
    if right.button("Delete", key=f"delete-{rule['id']}"):
        delete_rule(rds(), rule["id"])
        st.rerun()
if unreadable:
    st.warning(f"{unreadable} stored rule(s) could not be read and are skipped.")


@st.fragment(run_every=settings().dashboard_refresh_s)
def fired() -> None:
    st.subheader("Fired alerts")
    try:
        table = fired_table(fired_alerts(rds()))
    except redis.RedisError as exc:
        redis_down(exc)
        return
    if table.empty:
        st.info("Nothing has fired yet.")
        return
    status = table["delivery"].str.split(" ").str[0]
    c = st.columns(4)
    c[0].metric("Fired", len(table))
    c[1].metric("Delivered", int((status == "delivered").sum()))
    c[2].metric("Retrying", int(status.isin(["retrying", "sending"]).sum()))
    c[3].metric("Failed", int((status == "failed").sum()))
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "fired": st.column_config.DatetimeColumn("Fired (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "symbol": "Coin",
            "alert": "Alert",
            "delivery": "Delivery",
            "tries": "Tries",
        },
    )


fired()
