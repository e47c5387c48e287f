"""Dashboard pages in Streamlit's AppTest against a real Redis filled by the real writers."""

from __future__ import annotations

import base64
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
from streamlit.testing.v1 import AppTest

from cryptoviz import contracts, names
from cryptoviz.models.engine import ModelConfig
from cryptoviz.scraper import latest
from cryptoviz.testing.seed import fill_dashboard_data

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def filled(real, redis_client, monkeypatch, tmp_path):
    for k, v in real.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LAKE_URL", str(tmp_path / "lake"))
    return fill_dashboard_data(redis_client, str(tmp_path / "lake"))


def run_page(path: str) -> AppTest:
    import streamlit as st

    st.cache_resource.clear()  # settings and clients are per process: the tests change them
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if path != "home":
        at.switch_page(f"views/{path}.py")
        at.run()
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [t.value for t in at.title] + [str(m.value) for m in at.metric]
    parts += [str(m.label) for m in at.metric] + [i.value for i in at.info] + [e.value for e in at.error]
    return " ".join(parts)


def test_home_shows_services_and_totals(filled):
    at = run_page("home")
    assert not at.exception
    assert "Services up" in texts(at) and "1 / 1" in texts(at)
    tables = [d.value for d in at.dataframe]
    status = next(t for t in tables if "service" in t.columns)
    assert status["service"].tolist() == ["scraper"] and status["restarts"].tolist() == ["-"]
    kpis = next(t for t in tables if "kpi" in t.columns)
    assert kpis["kpi"].tolist() == [
        "ML latency",
        "Redis hit rate",
        "Kafka lag",
        "Dashboard load time",
        "Prediction accuracy",
    ]
    cards = [m.label for m in at.metric if " · " in m.label]  # a card per coin, in the coin list's order
    assert [c.split(" · ")[0] for c in cards] == ["BTC", "ETH", "XRP", "USDT", "BNB", "SOL", "DOGE"]
    assert all("P(up)" in c for c in cards[:2]) and cards[2] == "XRP · no prediction yet"


def test_market_lists_the_latest_quotes(filled):
    at = run_page("market")
    assert not at.exception
    table = at.dataframe[0].value
    assert sorted(table["symbol"]) == ["BTC", "ETH"]
    assert at.radio(key="market_range").value == "7 d"  # no stream live: a week of the lake


def test_while_a_stream_is_live_the_market_opens_on_minute_candles_the_live_price_moving_the_last(
    filled, redis_client, tmp_path
):
    from cryptoviz.lake.storage import filesystem
    from cryptoviz.lake.writer import quotes_table, write_batch
    from cryptoviz.schema import make_quote
    from cryptoviz.telemetry import Telemetry

    streaming = Telemetry("scraper", redis_client, instance="test-2")
    streaming.gauges |= {"mode": "live", "stream.binance.state": "live", "stream.binance.coins": "BTC,ETH"}
    streaming.publish("running")
    now = datetime.now(UTC).replace(microsecond=0)
    seconds = [
        make_quote("BTC", 100.0 + i % 7, now - timedelta(seconds=7200 - i), source="binance")
        for i in range(7200)
    ]
    write_batch(*filesystem(str(tmp_path / "lake")), quotes_table(seconds), names.LAKE_QUOTES, 1)
    live = make_quote("BTC", 50.0, now + timedelta(seconds=1), source="binance")
    latest.write(redis_client, [live])
    at = run_page("market")
    assert not at.exception
    assert at.radio(key="market_range").value == "3 h"
    figure = orjson.loads(at.get("plotly_chart")[0].proto.spec)
    candles = next(t for t in figure["data"] if t["type"] == "candlestick")
    assert figure["layout"]["title"]["text"] == "BTC: 1 min candles (UTC)"
    assert len(candles["x"]) == 121  # two hours of minutes, and the live price's
    assert values(candles["close"])[-1] == values(candles["low"])[-1] == 50.0


def values(array: list | dict) -> list:
    """A Plotly figure's array: a list, or typed binary data (`{"dtype", "bdata"}`)."""
    if isinstance(array, list):
        return array
    return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()


def test_predictions_show_signal_and_accuracy(filled, redis_client):
    from cryptoviz.backtest.runner import run_symbol, to_json

    model = filled["BTC"][1]
    trace = [(t, p) for t, p in model.trend.window.points]
    summary = to_json([run_symbol("BTC", trace, ModelConfig())]) | {"summary": "backtest verdict line"}
    redis_client.set(names.BACKTEST_SUMMARY, orjson.dumps(summary))
    at = run_page("predictions")
    assert not at.exception
    view = filled["BTC"][0]
    assert view.signal.action in texts(at)
    table = at.dataframe[0].value
    assert set(table["model"]) >= {"moving_average", "linear_trend", "momentum", "consensus", "persistence"}
    assert set(table["model"]) >= {"forecast", "reversal"}
    assert (table["n_scored"] > 0).all()
    assert table["skill_pct"].notna().any()
    coverage = at.dataframe[1].value
    assert set(coverage["interval"]) == {"80 %", "90 %"} and (coverage["n"] > 0).all()
    sentence = f"{view.signal.p_up:.0%} chance the price is higher in 1h"
    assert sentence in " ".join(m.value for m in at.markdown)
    assert "backtest verdict line" in " ".join(c.value for c in at.caption)
    backtest = at.dataframe[2].value
    assert (
        backtest[backtest["model"] == "persistence"]["n_scored"].iloc[0]
        == summary["symbols"]["BTC"]["1h"]["persistence"]["n"]
    )


def test_empty_and_unreachable_states(real, redis_client, monkeypatch, tmp_path):
    for k, v in real.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LAKE_URL", str(tmp_path / "lake"))
    at = run_page("predictions")
    assert not at.exception and "No predictions yet" in texts(at)
    at = run_page("home")  # no service has reported yet: no heartbeat, no counter
    assert not at.exception and "No service has reported yet" in texts(at)
    monkeypatch.setenv("REDIS_PORT", "1")
    at = run_page("home")
    assert not at.exception and "Redis is unreachable" in texts(at)


def test_the_topics_page_marks_itself_watched_and_says_it_waits_for_the_first_reading(filled, redis_client):
    at = run_page("topics")
    assert not at.exception
    assert "Waiting for the monitor's first reading" in texts(at), texts(at)
    assert 0 < redis_client.ttl(names.TOPICS_WATCHED) <= 30, "the mark lasts a few of the page's refreshes"
    redis_client.delete(names.TOPICS_WATCHED)
    report: contracts.TopicsReport = {
        "ts": time.time(),
        "topics": [
            {"name": names.TOPIC_RAW, "partitions": [{"partition": 0, "start": 0, "end": 3}], "messages": 3}
        ],
        "groups": [],
        "latest": {names.TOPIC_RAW: []},
    }
    redis_client.set(names.TOPICS_REPORT, contracts.encode(report))
    at.run()
    assert not at.exception and "Waiting" not in texts(at)
    assert "No consumer group has committed an offset yet." in texts(at)
    assert at.dataframe[0].value["topic"].tolist() == [names.TOPIC_RAW]
    assert redis_client.exists(names.TOPICS_WATCHED), "every render marks the page watched"


def test_password_gate(filled, monkeypatch):
    monkeypatch.setenv("DASHBOARD_PASSWORD", "s3cret-pass")
    at = run_page("home")
    assert "Services up" not in texts(at)
    for attempt in ("wrong", "ünïcødé ✓", "x" * 10_000):  # any input: a refusal, never an exception
        at.text_input(key="password").input(attempt)
        at.button[0].click().run()
        assert not at.exception
        assert "Wrong password" in texts(at) and "Services up" not in texts(at)
    assert at.session_state["failures"] == 3
    at.text_input(key="password").input("s3cret-pass")
    at.button[0].click().run()
    assert "Services up" in texts(at)
    assert "failures" not in at.session_state
    at.sidebar.button[0].click().run()  # log out
    assert "Services up" not in texts(at)


def test_failed_logins_slow_down_per_session():
    sys.path.insert(0, str(Path(APP).parent))
    from common import login_delay_s

    assert [login_delay_s(n) for n in range(7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
