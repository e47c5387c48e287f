"""Cached access to Redis and the lake for the pages (data logic lives in cryptoviz.dashboard.data)."""

from __future__ import annotations

import gc
import hmac
import time
from collections.abc import Callable

import redis
import streamlit as st

from cryptoviz import clients
from cryptoviz.dashboard.readers import LiveReader, Snapshot
from cryptoviz.lake.reader import LakeReader
from cryptoviz.settings import CoinSettings, DashboardSettings, LakeSettings, lake_url, load


@st.cache_resource
def freeze_startup_heap() -> None:
    """Once, after the first run imported every page: the objects alive then (Streamlit, pandas,
    Plotly, the modules) live as long as the server, so the collector stops scanning them. A full
    collection otherwise walks them all, and lands in a refresh now and then (tens of ms at 1,000
    symbols: bench/dashboard_read.py)."""
    gc.collect()
    gc.freeze()


@st.cache_resource
def settings() -> DashboardSettings:
    return load(DashboardSettings)


@st.cache_resource
def coins() -> list[str]:
    return load(CoinSettings).coins


@st.cache_resource
def live_reader() -> LiveReader:
    return LiveReader(clients.redis_client(socket_timeout=2))


@st.cache_resource
def lake_reader() -> LakeReader:
    return LakeReader(lake_url(load(LakeSettings)))


def how_to_start() -> str:
    """The command that starts the platform the way this dashboard was started."""
    return (
        "`docker compose up -d` (`docker compose ps` shows each service)"
        if settings().deployment == "compose"
        else "`make up` (`cryptoviz status` shows each service)"
    )


def redis_down(exc: redis.RedisError) -> None:
    """What every page says when Redis does not answer."""
    st.error(f"Redis is unreachable ({type(exc).__name__}). Start the platform with {how_to_start()}.")


def snapshot(detail: str | None = None) -> Snapshot | None:
    """The live data for this rerun, or None after showing why there is none."""
    try:
        return live_reader().snapshot(detail)
    except redis.RedisError as exc:
        redis_down(exc)
        return None


def source_refresh_s() -> float:
    """The live panels' refresh at the price source's pace now (`cryptoviz.dashboard.data.refresh_s`:
    1 s while an exchange stream is live); DASHBOARD_REFRESH_S when Redis does not answer."""
    from cryptoviz.dashboard.data import refresh_s

    default = settings().dashboard_refresh_s
    try:
        return refresh_s(live_reader().snapshot(), default)
    except redis.RedisError:
        return default


def live_fragment(
    render: Callable[[Snapshot], None], detail_key: str | None = None, follow_source: bool = False
) -> Callable[[], None]:
    """A page's live part: re-run every DASHBOARD_REFRESH_S with one snapshot, or the Redis error.
    `detail_key`: the session key naming the symbol whose full ML view the snapshot brings along.
    `follow_source`: re-run at the price source's pace instead (`source_refresh_s`); when a snapshot
    says the pace changed, the page re-runs whole, which sets the new one."""
    from cryptoviz.dashboard.data import refresh_s

    default = settings().dashboard_refresh_s
    every = source_refresh_s() if follow_source else default

    @st.fragment(run_every=every)
    def fragment() -> None:
        snap = snapshot(st.session_state.get(detail_key) if detail_key else None)
        if snap is None:
            return
        if follow_source and refresh_s(snap, default) != every:
            st.rerun(scope="app")
        render(snap)

    return fragment


@st.cache_data(ttl=60, show_spinner=False)
def lake_history(symbol: str, days: float | None):
    import pandas as pd

    reader = lake_reader()
    last = reader.latest_ts([symbol])
    if last is None:
        return pd.DataFrame()
    start = None if days is None else last - pd.Timedelta(days=days)
    return reader.history([symbol], start, None)


@st.cache_data(ttl=60, show_spinner=False)
def lake_candles(symbol: str, days: float | None, chosen: str):
    """The coin's candles over the range from the lake, their interval (`chosen`, or picked for the
    data when "auto"), how many quotes they hold and the newest one's time; read at most once a
    minute, so a panel re-running every second does not re-read and re-bucket the range."""
    from cryptoviz.dashboard.candles import pick_interval, to_candles

    history = lake_history(symbol, days)
    if history.empty:
        interval = "1 h" if chosen == "auto" else chosen
        return to_candles(history, interval), interval, 0, None
    interval = pick_interval(history["source_ts"]) if chosen == "auto" else chosen
    return to_candles(history, interval), interval, len(history), history["source_ts"].max()


@st.cache_data(ttl=60, show_spinner=False)
def lake_sparks(symbols: tuple[str, ...], days: float = 1.0) -> dict[str, list[float]]:
    """Each coin's prices over the last `days` before the lake's newest quote, in one read."""
    import pandas as pd

    reader = lake_reader()
    last = reader.latest_ts(list(symbols))
    if last is None:
        return {}
    history = reader.history(list(symbols), last - pd.Timedelta(days=days), None)
    return {str(sym): rows["price_usd"].tolist() for sym, rows in history.groupby("symbol", observed=True)}


def rds() -> redis.Redis:
    return live_reader().client


def redis_hit_rate() -> float | None:
    """Keyspace hits / lookups since Redis started; None before any lookup or when unreachable."""
    try:
        stats = rds().info("stats")
    except redis.RedisError:
        return None
    hits, misses = int(stats.get("keyspace_hits", 0)), int(stats.get("keyspace_misses", 0))
    return hits / (hits + misses) if hits + misses else None


def logged_in() -> bool:
    return settings().dashboard_password is None or bool(st.session_state.get("authenticated"))


def login_delay_s(failures: int) -> float:
    """How long a session waits after its n-th failed login in a row: 0.5 s, doubling, at most 8 s."""
    return min(0.5 * 2 ** (failures - 1), 8.0) if failures > 0 else 0.0


def require_login() -> bool:
    """True when the page may render; otherwise shows the login form. Logged in: a logout button."""
    password = settings().dashboard_password
    if password is None:
        return True
    if st.session_state.get("authenticated"):
        if st.sidebar.button("Log out"):
            st.session_state.clear()
            st.rerun()
        return True
    st.title("CryptoViz")
    with st.form("login", clear_on_submit=True):
        given = st.text_input("Password", type="password", key="password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        # bytes: compare_digest refuses a str with non-ASCII characters, and any input must do
        if hmac.compare_digest(given.encode(), password.get_secret_value().encode()):
            st.session_state["authenticated"] = True
            st.session_state.pop("failures", None)
            st.rerun()
        failures = st.session_state.get("failures", 0) + 1
        st.session_state["failures"] = failures
        time.sleep(login_delay_s(failures))  # this session only: guessing gets slower
        st.error("Wrong password.")
    return False
