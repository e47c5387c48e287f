from __future__ import annotations

import subprocess
import sys

import pytest

from cryptoviz.settings import (
    CoinSettings,
    DashboardSettings,
    KafkaSettings,
    LakeSettings,
    MLSettings,
    RedisSettings,
    SettingsError,
    load,
)


def test_defaults_are_valid():
    assert load(CoinSettings).coins == ["BTC", "ETH", "XRP", "USDT", "BNB", "SOL", "DOGE"]
    assert load(MLSettings).ml_weights == [0.4, 0.4, 0.2]
    assert load(KafkaSettings).kafka_topic_partitions == 4


def test_non_numeric_port_names_the_variable(monkeypatch):
    monkeypatch.setenv("REDIS_PORT", "six-three-seven-nine")
    with pytest.raises(SettingsError, match=r"^invalid setting REDIS_PORT='six-three-seven-nine': .*integer"):
        load(RedisSettings)


def test_unknown_symbol_names_the_variable_and_symbol(monkeypatch):
    monkeypatch.setenv("COINS", "btc, eth,NOPE")
    with pytest.raises(SettingsError, match=r"COINS=.*unknown symbol\(s\) NOPE"):
        load(CoinSettings)


def test_coin_list_is_upper_cased(monkeypatch):
    monkeypatch.setenv("COINS", "btc,sol")
    assert load(CoinSettings).coins == ["BTC", "SOL"]


def test_weights_must_be_three(monkeypatch):
    monkeypatch.setenv("ML_WEIGHTS", "1,2")
    with pytest.raises(SettingsError, match="ML_WEIGHTS"):
        load(MLSettings)


def test_secrets_are_masked_and_never_echoed(monkeypatch):
    monkeypatch.setenv("DASHBOARD_PASSWORD", "hunter2")
    settings = load(DashboardSettings)
    assert "hunter2" not in repr(settings)
    assert settings.dashboard_password.get_secret_value() == "hunter2"
    monkeypatch.setenv("REDIS_PASSWORD", "")
    assert load(RedisSettings).redis_password is None


def test_redis_url_carries_the_password(monkeypatch):
    monkeypatch.setenv("REDIS_PASSWORD", "pw")
    monkeypatch.setenv("REDIS_PORT", "1234")
    assert load(RedisSettings).url == "redis://:pw@localhost:1234/0"


def test_a_service_stops_at_start_with_one_clear_line():
    env = {"REDIS_PORT": "abc", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "cryptoviz.health", "scraper"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], "one line"
    assert "invalid setting REDIS_PORT=" in proc.stderr


def test_spark_cluster_master_must_be_a_spark_url(monkeypatch):
    monkeypatch.setenv("SPARK_CLUSTER_MASTER", "spark-master:7077")
    with pytest.raises(SettingsError, match="SPARK_CLUSTER_MASTER"):
        load(LakeSettings)
    monkeypatch.setenv("SPARK_CLUSTER_MASTER", "spark://spark-master:7077")
    assert load(LakeSettings).spark_cluster_master == "spark://spark-master:7077"


def test_an_empty_variable_means_the_default(monkeypatch):
    # compose passes a variable that .env leaves empty as an empty string
    monkeypatch.setenv("COINS", "")
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "")
    assert load(CoinSettings).coins == ["BTC", "ETH", "XRP", "USDT", "BNB", "SOL", "DOGE"]
    assert load(KafkaSettings).kafka_topic_partitions == 4


@pytest.mark.parametrize(
    ("value", "error"),
    [("384m", "at least 450m"), ("lots", "a size such as"), ("460800k", None), ("1g", None)],
)
def test_the_spark_heap_is_refused_at_start_when_spark_would_refuse_it(monkeypatch, value, error):
    monkeypatch.setenv("SPARK_DRIVER_MEMORY", value)
    if error is None:
        assert load(LakeSettings).spark_driver_memory == value
    else:
        with pytest.raises(SettingsError, match=rf"SPARK_DRIVER_MEMORY='{value}'.*{error}"):
            load(LakeSettings)


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        ("KPI_KAFKA_LAG", "5", "two numbers"),
        ("ALERT_WEBHOOK_URL", "ftp://x", "http:// or https://"),
        ("METRICS_PORT", "70000", "less than or equal"),
    ],
)
def test_monitor_dashboard_and_metrics_settings_name_a_bad_value(monkeypatch, variable, value, error):
    from cryptoviz.settings import MetricsSettings, MonitorSettings

    monkeypatch.setenv(variable, value)
    owners = {"KPI_KAFKA_LAG": DashboardSettings, "ALERT_WEBHOOK_URL": MonitorSettings}
    cls = owners.get(variable, MetricsSettings)
    with pytest.raises(SettingsError, match=rf"{variable}='{value}'.*{error}"):
        load(cls)


def test_an_empty_metrics_port_means_no_metrics(monkeypatch):
    from cryptoviz.settings import MetricsSettings

    assert load(MetricsSettings).metrics_port == 9100
    for off in ("", " "):
        monkeypatch.setenv("METRICS_PORT", off)
        assert load(MetricsSettings).metrics_port is None
    monkeypatch.setenv("METRICS_PORT", "0")
    assert load(MetricsSettings).metrics_port == 0


def test_stream_sources_in_priority_order_empty_or_none_for_no_streams(monkeypatch):
    from cryptoviz.settings import ScraperSettings

    assert load(ScraperSettings).stream_sources == ["binance", "coinbase", "kraken"]
    monkeypatch.setenv("STREAM_SOURCES", "Kraken, binance")
    assert load(ScraperSettings).stream_sources == ["kraken", "binance"]
    for off in ("", " ", "none"):
        monkeypatch.setenv("STREAM_SOURCES", off)
        assert load(ScraperSettings).stream_sources == []


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        ("STREAM_SOURCES", "binance,ftx", r"STREAM_SOURCES=.*unknown stream source\(s\) ftx"),
        ("STREAM_SOURCES", "kraken,kraken", r"STREAM_SOURCES=.*named twice"),
        ("BINANCE_WS_URL", "https://stream.binance.com", r"BINANCE_WS_URL=.*ws:// or wss://"),
        ("KRAKEN_WS_URL", "wss://ws.kraken.com?x=1", r"KRAKEN_WS_URL=.*without query"),
        ("STREAM_QUOTE_INTERVAL_MS", "10", r"STREAM_QUOTE_INTERVAL_MS='10': .*greater than or equal to 50"),
        ("STREAM_STALL_S", "0", r"STREAM_STALL_S='0': .*greater than or equal to 1"),
        # an interval of nan or inf (the loop's wait fails, or never ends)
        ("SCRAPE_INTERVAL_S", "nan", r"SCRAPE_INTERVAL_S='nan': Input should be a finite number"),
        ("SCRAPE_INTERVAL_S", "inf", r"SCRAPE_INTERVAL_S='inf': Input should be a finite number"),
        ("REPLAY_SPEED", "inf", r"REPLAY_SPEED='inf': Input should be a finite number"),
        # read only when the replay begins, after every server is up
        ("REPLAY_START", "last tuesday", r"REPLAY_START='last tuesday': .*isoformat"),
    ],
)
def test_scraper_settings_name_a_bad_value_at_start(monkeypatch, variable, value, error):
    from cryptoviz.settings import ScraperSettings

    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=error):
        load(ScraperSettings)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LAKE_COMPACT_AFTER_S", "-1"), ("LAKE_COMPACT_MAX_FILES", "-5"), ("LAKE_COMPACT_OPEN_FILES", "-1")],
)
def test_the_lake_compaction_settings_are_refused_when_negative(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load(LakeSettings)


def test_lake_compaction_is_on_by_default_and_turns_off_with_zero_files(monkeypatch):
    lake = load(LakeSettings)
    assert lake.lake_compact_after_s == 3600 and lake.lake_compact_max_files == 3000
    assert lake.lake_compact_open_files == 60
    monkeypatch.setenv("LAKE_COMPACT_MAX_FILES", "0")
    monkeypatch.setenv("LAKE_COMPACT_OPEN_FILES", "0")
    lake = load(LakeSettings)
    assert lake.lake_compact_max_files == 0 and lake.lake_compact_open_files == 0
