import time

import redis
import streamlit as st
from common import how_to_start, rds, redis_down, settings

from cryptoviz import contracts, names
from cryptoviz.dashboard.monitor_view import groups_table, messages_table, topics_table
from cryptoviz.monitor.watch import mark_watched, watch_ttl_s

# while no report is there, the page looks again this often: the monitor's first reading comes at
# its next pass (MONITOR_INTERVAL_S, 2 s by default) plus the time it takes
WAITING_REFRESH_S = 2.0

st.title("Topics")
st.caption(
    "What the broker holds, read by the monitor service every few seconds while this page is open "
    "(the dashboard reads Redis, never Kafka): topics with their log start and end offsets, consumer "
    "groups with their lag, and the newest messages."
)
if settings().console_url:
    st.link_button("Open Redpanda Console", settings().console_url or "")


def read_report() -> contracts.TopicsReport | None:
    """Mark the page watched, then the monitor's latest report, or None after showing why there is none."""
    try:
        mark_watched(rds(), watch_ttl_s(settings().dashboard_refresh_s))
        raw = rds().get(names.TOPICS_REPORT)
    except redis.RedisError as exc:
        redis_down(exc)
        return None
    if raw is None:
        st.info(
            "Waiting for the monitor's first reading of the broker: it reads the broker only while "
            "this page is open, and starts within a few seconds of a visit. This page looks again "
            f"every {REFRESH_S:g} s until the reading is there; if it never comes, check "
            f"that the monitor service runs ({how_to_start()})."
        )
        return None
    try:
        return contracts.decode_topics(raw)
    except contracts.ContractError as exc:
        st.error(f"The monitor's report is unreadable: {exc}")
        return None


def topic_offsets(report: contracts.TopicsReport) -> None:
    """Each topic's partitions, messages held and log start and end offsets, and the report's age."""
    age = max(0.0, time.time() - report["ts"])
    st.subheader("Topics")
    st.dataframe(
        topics_table(report),
        hide_index=True,
        width="stretch",
        column_config={
            "topic": "Topic",
            "partitions": "Partitions",
            "messages": st.column_config.NumberColumn("Messages held", format="localized"),
            "log_start": "Log start (per partition)",
            "log_end": "Log end (per partition)",
        },
    )
    st.caption(f"Read {age:.0f} s ago.")


def consumer_groups(report: contracts.TopicsReport) -> None:
    """Each consumer group's total lag, then its committed offset and lag per partition."""
    st.subheader("Consumer groups")
    groups = groups_table(report)
    if groups.empty:
        st.info("No consumer group has committed an offset yet.")
        return
    lag = {g["group"]: g["lag"] for g in report["groups"]}
    st.write(", ".join(f"**{g}**: lag {n:,}" for g, n in lag.items()))
    st.dataframe(
        groups,
        hide_index=True,
        width="stretch",
        column_config={
            "group": "Group",
            "topic": "Topic",
            "partition": "Partition",
            "committed": st.column_config.NumberColumn("Committed offset", format="localized"),
            "end": st.column_config.NumberColumn("Log end", format="localized"),
            "lag": st.column_config.NumberColumn("Lag", format="localized"),
        },
    )


def newest_messages(report: contracts.TopicsReport) -> None:
    """The newest messages of the topic picked (the streaming topic first)."""
    st.subheader("Newest messages")
    topic = st.radio("Topic", list(names.ALL_TOPICS), index=1, horizontal=True, key="topics_topic")
    messages = messages_table(report, topic)
    if messages.empty:
        st.info(f"{topic} holds no message yet.")
        return
    st.dataframe(
        messages,
        hide_index=True,
        width="stretch",
        column_config={
            "time": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "key": "Key",
            "partition": "Partition",
            "offset": "Offset",
            "reason": "Reason",
            "origin": "From",
            "value": st.column_config.TextColumn("Value", width="large"),
        },
    )


def no_report_yet() -> bool:
    try:
        return not rds().exists(names.TOPICS_REPORT)
    except redis.RedisError:
        return False  # the fragment says so


# while there is no report, the fragment looks again soon; once there is one, the whole page runs
# again, and so refreshes at the usual pace from then on
WAITING = no_report_yet()
REFRESH_S = (
    min(WAITING_REFRESH_S, settings().dashboard_refresh_s) if WAITING else settings().dashboard_refresh_s
)


@st.fragment(run_every=REFRESH_S)
def live() -> None:
    report = read_report()
    if report is None:
        return
    if WAITING:
        st.rerun()
    topic_offsets(report)
    consumer_groups(report)
    newest_messages(report)


live()
