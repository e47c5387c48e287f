"""Settings from environment variables: one frozen class per concern, validated at start.

Every variable is documented in `.env.example`. `load(cls)` turns a validation failure into one
readable line naming the variable, which every entry point prints before exiting with status 2.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from cryptoviz.coins import COINS, DEFAULT_COINS

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
# the repository's real history (data/README.md): which coins each file holds, over which years
HISTORY_2017_2021 = str(DATA_DIR / "binance_1h_2017_2021.csv.gz")  # BTC ETH BNB DOGE
HISTORY_2021_2023 = str(DATA_DIR / "binance_1h_2021_2023.csv.gz")  # all seven
HISTORY_2024_2026 = str(DATA_DIR / "binance_1h_2024_2026.csv.gz")  # BTC ETH SOL XRP
HISTORY_2024_2026_BNB_DOGE = str(DATA_DIR / "binance_1h_2024_2026_bnb_doge.csv.gz")
HISTORY_2025H1 = str(DATA_DIR / "binance_1h_2025h1.csv.gz")  # all seven, 2025-01-01..06-18
# one minute, BTC ETH SOL XRP BNB, 2026-03-23..04-22: the cadence live sources give
MINUTES_2026 = str(DATA_DIR / "binance_1m_20260323_20260422.csv.gz")
# every file (the backtest's default; overlaps are deduplicated by reading)
HISTORY_FILES = (
    HISTORY_2017_2021,
    HISTORY_2021_2023,
    HISTORY_2024_2026,
    HISTORY_2024_2026_BNB_DOGE,
    HISTORY_2025H1,
)
DEFAULT_REPLAY_FILES = (HISTORY_2025H1,)  # the one file with all seven default coins over one period


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable."""


class _Base(BaseSettings):
    # env_ignore_empty: `VAR=` (as compose passes a variable that .env leaves empty) means the default;
    # no setting is a number that `nan` or `inf` could mean (an interval of inf waits for ever)
    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", case_sensitive=False, env_ignore_empty=True, allow_inf_nan=False
    )
    # the variables that, set but empty, mean this value instead of their default (`_EmptyMeans`)
    empty_means: ClassVar[dict[str, Any]] = {}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        empty = (_EmptyMeans(settings_cls, cls.empty_means),) if cls.empty_means else ()
        return init_settings, *empty, env_settings, dotenv_settings, file_secret_settings


def _empty_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class KafkaSettings(_Base):
    kafka_bootstrap_servers: str = "localhost:9092"
    kafka_topic_partitions: int = Field(4, ge=1, le=256)
    kafka_client_id: str = "cryptoviz"
    # a consumer-group member that stops heartbeating is expired after this; its partitions move on
    kafka_session_timeout_ms: int = Field(6000, ge=1000, le=300000)
    # the longest the ML consumer's fetch waits at the broker: the stack's durable broker answers a
    # waiting fetch late (bench/stack_latency.py); lower costs idle CPU, and 10 starves the processor
    kafka_fetch_max_wait_ms: int = Field(100, ge=1, le=30000)
    # the most one fetch brings of a partition to the ML consumer: a backlog is read in fewer round
    # trips (bench/ml_pipeline.py), for that much memory a partition while a fetch is read
    kafka_max_partition_fetch_bytes: int = Field(4 << 20, ge=64 << 10, le=64 << 20)


class ContractSettings(_Base):
    # consumers refuse a quote dated more than this past their own clock (the producer's may be off)
    max_future_s: float = Field(300.0, ge=0, le=86400)


class RedisSettings(_Base):
    redis_host: str = "localhost"
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_db: int = Field(0, ge=0)
    redis_password: SecretStr | None = None

    _no_empty = field_validator("redis_password", mode="before")(_empty_is_none)

    @property
    def url(self) -> str:
        auth = f":{self.redis_password.get_secret_value()}@" if self.redis_password else ""
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"


class S3Settings(_Base):
    s3_endpoint_url: str | None = None
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"

    _no_empty = field_validator("s3_endpoint_url", "s3_access_key", "s3_secret_key", mode="before")(
        _empty_is_none
    )


class StackSettings(_Base):
    cryptoviz_data_dir: Path = Path(".cryptoviz")
    stack_broker_port: int = Field(19092, ge=1, le=65535)
    stack_redis_port: int = Field(16379, ge=1, le=65535)
    stack_s3_port: int = Field(18333, ge=1, le=65535)
    # /metrics of the local stack's services: this port, the next ones (see stack/services.py)
    stack_metrics_port: int = Field(19100, ge=1, le=65530)
    heartbeat_interval_s: float = Field(5.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MetricsSettings(_Base):
    """Where a service serves Prometheus text on /metrics: a port (0: any free one; empty: none)
    and the address it listens on (empty: every interface)."""

    metrics_port: int | None = Field(9100, ge=0, le=65535)
    metrics_host: str = ""

    empty_means: ClassVar[dict[str, Any]] = {"metrics_port": None}
    _no_empty = field_validator("metrics_port", mode="before")(_empty_is_none)


class LakeSettings(_Base):
    lake_url: str = ""  # s3://bucket/prefix or a local path; empty: <data dir>/lake
    # empty: <lake>/_checkpoint in a local lake, <data dir>/checkpoints/lake for S3
    lake_checkpoint_dir: str = ""
    lake_trigger_s: float = Field(30.0, gt=0)
    lake_max_offsets_per_trigger: int = Field(100_000, ge=1)
    # a day is compacted by the lake job once the newest event time it wrote is this far past the day
    lake_compact_after_s: float = Field(3600.0, ge=0, le=30 * 86400)
    # files the job merges between two batches at most (one partition at least); 0: no compaction
    lake_compact_max_files: int = Field(3000, ge=0)
    # a day still open is compacted once it holds this many files; 0: only closed days
    lake_compact_open_files: int = Field(60, ge=0)
    spark_master: str = "local[2]"
    # a standalone master used when its host exists at start (compose's cluster profile), else spark_master
    spark_cluster_master: str = ""
    spark_cluster_wait_s: float = Field(60.0, ge=0)

    @field_validator("spark_cluster_master")
    @classmethod
    def _spark_url(cls, value: str) -> str:
        if value and not re.fullmatch(r"spark://[A-Za-z0-9.-]+(:\d+)?", value):
            raise ValueError("expected spark://host:port, or empty")
        return value

    spark_ui_port: int = Field(8082, ge=1, le=65535)
    spark_driver_memory: str = "512m"

    @field_validator("spark_driver_memory")
    @classmethod
    def _enough_for_spark(cls, value: str) -> str:
        match = re.fullmatch(r"(\d+)([kmg])", value.strip().lower())
        if not match:
            raise ValueError("expected a size such as 512m or 1g")
        mb = int(match.group(1)) * {"k": 1 / 1024, "m": 1, "g": 1024}[match.group(2)]
        if mb < 450:
            raise ValueError("Spark needs at least 450m (its own reserve is 300 MB)")
        return value


class CoinSettings(_Base):
    """The coin list (COINS): what the scraper polls, the ML processor models, the dashboard shows."""

    coins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_COINS))

    _split_coins = field_validator("coins", mode="before")(_split_csv)

    @field_validator("coins")
    @classmethod
    def _known_symbols(cls, value: list[str]) -> list[str]:
        symbols = [s.upper() for s in value]
        unknown = [s for s in symbols if s not in COINS]
        if unknown:
            raise ValueError(f"unknown symbol(s) {', '.join(unknown)}; known: {', '.join(COINS)}")
        if not symbols:
            raise ValueError("the coin list is empty")
        return symbols


STREAM_EXCHANGES = ("binance", "coinbase", "kraken")


class _EmptyMeans(PydanticBaseSettingsSource):
    """The variables that, set but empty, mean a value of their own (`meaning`: field -> value)
    instead of their default, as every other empty variable does: STREAM_SOURCES (no streams),
    METRICS_PORT (no metrics)."""

    def __init__(self, settings_cls: type[BaseSettings], meaning: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self.meaning = meaning

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        empty = {key.lower() for key, value in os.environ.items() if not value.strip()}
        return {name: value for name, value in self.meaning.items() if name in empty}


class ScraperSettings(_Base):
    # seconds between polls, or auto: the shortest whose calls fit the API plan (scraper/quota.py)
    scrape_interval_s: float | Literal["auto"] = "auto"
    scraper_source: Literal["auto", "live", "replay"] = "auto"
    scraper_primary: Literal["coingecko", "coinmarketcap"] = "coingecko"
    coingecko_base_url: str = "https://api.coingecko.com/api/v3"
    coingecko_api_key: SecretStr | None = None
    coingecko_api_plan: Literal["demo", "pro"] = "demo"
    coingecko_monthly_calls: int = Field(100_000, ge=1)  # a paid plan's; the demo key has 10,000
    coinmarketcap_base_url: str = "https://pro-api.coinmarketcap.com"
    coinmarketcap_api_key: SecretStr | None = None
    coinmarketcap_monthly_credits: int = Field(10_000, ge=1)  # the basic plan's
    http_timeout_s: float = Field(10.0, gt=0)
    source_down_after: int = Field(3, ge=1)  # consecutive failed cycles before a source is "down"
    # days of hourly CoinGecko history a coin without recent model state gets before its first live
    # quote (0: no warm start)
    backfill_days: int = Field(30, ge=0, le=90)
    replay_files: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(DEFAULT_REPLAY_FILES))
    replay_speed: float = Field(60.0, gt=0)  # 60: one historical hour per minute; see also replay_max_rate
    replay_max_rate: float = Field(0.0, ge=0)  # quotes/s cap; 0: no cap beyond replay_speed
    replay_start: str = ""  # ISO date; empty: 30 days before the end of the history
    replay_warmup_hours: float = Field(72.0, ge=0)  # published at once, so models and charts start warm
    # exchange WebSocket streams for the live price, in priority order; empty or none: no streams
    stream_sources: Annotated[list[str], NoDecode] = Field(default_factory=lambda: list(STREAM_EXCHANGES))
    binance_ws_url: str = "wss://stream.binance.com:9443"  # the adapter adds /stream?streams=...
    coinbase_ws_url: str = "wss://ws-feed.exchange.coinbase.com"
    kraken_ws_url: str = "wss://ws.kraken.com"
    stream_quote_interval_ms: int = Field(1000, ge=50, le=60_000)  # at most a quote per coin per interval
    stream_stall_s: float = Field(15.0, ge=1, le=600)  # no usable frame for this long: stalled

    _no_empty = field_validator("coingecko_api_key", "coinmarketcap_api_key", mode="before")(_empty_is_none)
    _split_streams = field_validator("stream_sources", mode="before")(_split_csv)
    empty_means: ClassVar[dict[str, Any]] = {"stream_sources": []}

    @field_validator("stream_sources")
    @classmethod
    def _known_exchanges(cls, value: list[str]) -> list[str]:
        names = [v.lower() for v in value]
        if names == ["none"]:
            return []
        unknown = [n for n in names if n not in STREAM_EXCHANGES]
        if unknown:
            known = ", ".join(STREAM_EXCHANGES)
            raise ValueError(f"unknown stream source(s) {', '.join(unknown)}; known: {known}, or none")
        if len(set(names)) != len(names):
            raise ValueError("a stream source is named twice")
        return names

    @field_validator("binance_ws_url", "coinbase_ws_url", "kraken_ws_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        if not re.fullmatch(r"wss?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("expected a ws:// or wss:// URL without query")
        return value

    def stream_url(self, exchange: str) -> str:
        """The endpoint of an exchange in STREAM_SOURCES."""
        return str(getattr(self, f"{exchange}_ws_url"))

    @field_validator("scrape_interval_s")
    @classmethod
    def _positive_interval(cls, value: float | str) -> float | str:
        if isinstance(value, float | int) and value <= 0:
            raise ValueError("expected auto or a number of seconds above 0")
        return value

    @field_validator("replay_start")
    @classmethod
    def _iso_start(cls, value: str) -> str:
        if value:
            datetime.fromisoformat(value)  # ValueError: pydantic names the setting
        return value

    _split_files = field_validator("replay_files", mode="before")(_split_csv)

    @field_validator("replay_files")
    @classmethod
    def _default_files(cls, value: list[str]) -> list[str]:
        return value or list(DEFAULT_REPLAY_FILES)


class MLSettings(_Base):
    ml_confidence_threshold: float = Field(0.55, ge=0.5, le=1)  # a probability: P(up) or 1 - P(up)
    ml_fee_bps: float = Field(10.0, ge=0)
    ml_prediction_ttl_s: int = Field(300, ge=1)
    ml_weights: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [0.4, 0.4, 0.2])
    ml_ma_window_s: float = Field(6 * 3600, gt=0)
    ml_trend_window_s: float = Field(12 * 3600, gt=0)
    ml_momentum_window_s: float = Field(3 * 3600, gt=0)
    ml_volatility_window_s: float = Field(24 * 3600, gt=0)
    ml_max_poll_records: int = Field(2000, ge=1)
    # a symbol's snapshot is written at most this often (and at stop); 0: with every batch
    ml_snapshot_interval_s: float = Field(5.0, ge=0, le=3600)
    ml_idle_wait_ms: int = Field(400, ge=0, le=10000)  # between polls of a quiet stream; 0: none
    # the fetch wait while polls bring quotes (KAFKA_FETCH_MAX_WAIT_MS: after one that brought none)
    ml_busy_fetch_wait_ms: int = Field(20, ge=1, le=30000)
    # a symbol's full view at most this often (its summary and card: every batch); 0: every batch
    ml_view_interval_ms: int = Field(1000, ge=0, le=60000)
    ml_consumer_group: str = "cryptoviz-ml"  # processors sharing the symbols share this group

    _split_weights = field_validator("ml_weights", mode="before")(_split_csv)

    @field_validator("ml_weights")
    @classmethod
    def _check_weights(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or any(w < 0 for w in value) or sum(value) <= 0:
            raise ValueError("three non-negative weights (MA, trend, momentum) with a positive sum")
        return value


class MonitorSettings(_Base):
    """The monitor: alert rules evaluated every pass, the broker inspected for the topics page."""

    monitor_interval_s: float = Field(2.0, gt=0)
    topics_interval_s: float = Field(10.0, gt=0)
    topics_latest_n: int = Field(20, ge=0, le=500)
    alert_webhook_url: str | None = None  # empty: alerts are listed on the page, not sent
    alert_max_attempts: int = Field(8, ge=1)
    alert_timeout_s: float = Field(5.0, gt=0)

    _no_empty = field_validator("alert_webhook_url", mode="before")(_empty_is_none)

    @field_validator("alert_webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("expected an http:// or https:// URL, or empty")
        return value


KPI_FIELDS = (
    "kpi_ml_latency_ms",
    "kpi_redis_hit_rate",
    "kpi_kafka_lag",
    "kpi_dashboard_load_ms",
    "kpi_accuracy",
)


class DashboardSettings(_Base):
    dashboard_port: int = Field(5008, ge=1, le=65535)
    dashboard_password: SecretStr | None = None
    dashboard_refresh_s: float = Field(10.0, gt=0)
    console_url: str | None = None  # Redpanda Console, linked from the topics page when set
    deployment: Literal["local", "compose"] = "local"  # how the platform was started: the pages' hints
    # the home page's KPIs: "target,alert level" each
    kpi_ml_latency_ms: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [1000.0, 5000.0])
    kpi_redis_hit_rate: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [0.9, 0.5])
    kpi_kafka_lag: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [1000.0, 10000.0])
    kpi_dashboard_load_ms: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [1000.0, 3000.0])
    kpi_accuracy: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [0.52, 0.5])

    _no_empty = field_validator("dashboard_password", "console_url", mode="before")(_empty_is_none)
    _split_kpis = field_validator(*KPI_FIELDS, mode="before")(_split_csv)

    @field_validator(*KPI_FIELDS)
    @classmethod
    def _target_and_alert(cls, value: list[float]) -> list[float]:
        if len(value) != 2:
            raise ValueError("two numbers: target,alert level")
        return value

    @property
    def kpi_levels(self) -> dict[str, tuple[float, float]]:
        """KPI name (the variable without its kpi_ prefix) -> (target, alert level)."""
        levels = {name: getattr(self, name) for name in KPI_FIELDS}
        return {name.removeprefix("kpi_"): (pair[0], pair[1]) for name, pair in levels.items()}


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment; raise SettingsError naming the variable on failure."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            var = str(err["loc"][0]).upper() if err["loc"] else cls.__name__
            bad = err.get("input")
            shown = (
                ""
                if isinstance(bad, dict) or "secret" in var.lower() or "password" in var.lower()
                else f"={bad!r}"
            )
            parts.append(f"{var}{shown}: {err['msg']}")
        raise SettingsError("invalid setting " + "; ".join(parts)) from None


def data_dir() -> Path:
    return load(StackSettings).cryptoviz_data_dir.resolve()


def lake_url(settings: LakeSettings | None = None) -> str:
    lake = (settings or load(LakeSettings)).lake_url
    return lake or str(data_dir() / "lake")
