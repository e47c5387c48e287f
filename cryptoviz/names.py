"""Service and topic names, Redis key builders and the lake layout: the only home of these literals."""

from __future__ import annotations

# Services: the name each one logs and reports its heartbeat under, and runs as locally and in compose
SCRAPER = "scraper"
ML_PROCESSOR = "ml-processor"
LAKE = "spark-streaming"
MONITOR = "monitor"
DASHBOARD = "dashboard"

# Kafka topics: the bare names; each is bound to its codec once, in cryptoviz.contracts.topics
TOPIC_RAW = "crypto-raw-data"  # every quote, for the lake
TOPIC_STREAMING = "crypto-streaming"  # every quote, for the ML processor
TOPIC_DEAD_LETTER = "crypto-dead-letter"  # messages a consumer could not use, with the reason
ALL_TOPICS = (TOPIC_RAW, TOPIC_STREAMING, TOPIC_DEAD_LETTER)


# Redis keys
QUOTES_LATEST = "quotes:latest"  # hash: symbol -> latest quote (contracts.LatestQuote)
QUOTES_TABLE = "quotes:latest:table"  # string: every quote of quotes:latest in QUOTE_LAYOUT (row_tables)
QUOTES_SLOTS = "quotes:latest:slots"  # hash: symbol -> its quote's place in quotes:latest:table
STATUS_INDEX = "status:index"  # set of status keys
ML_INDEX = "ml:symbols"  # zset: symbol -> event time (epoch s) of its latest prediction
ML_CARDS = "ml:cards"  # hash: symbol -> its card (contracts.MLCard in CARD_LAYOUT), every processor's symbols
ML_CARDS_EXPIRY = "ml:cards:expiry"  # zset: symbol -> when its card expires (epoch s, the writer's clock)
ML_CARDS_TABLE = "ml:cards:table"  # string: every card of ml:cards, one after another (row_tables)
ML_CARDS_SLOTS = "ml:cards:slots"  # hash: symbol -> its card's place in ml:cards:table
BACKTEST_SUMMARY = "backtest:summary"  # JSON written by `cryptoviz backtest`
TOPICS_REPORT = "monitor:topics"  # JSON (TTL): topics, groups and latest messages, by the monitor
TOPICS_WATCHED = "monitor:topics:watched"  # epoch s (TTL), set by the topics page: read the broker
ALERT_RULES = "alerts:rules"  # hash: rule id -> rule JSON (written by the alerts page)
ALERT_STATE = "alerts:state"  # hash: rule id -> what held at the last evaluation ("" = nothing)
ALERT_FIRED = "alerts:fired"  # hash: alert id -> fired alert JSON with its delivery status
ALERT_FIRED_ORDER = "alerts:fired:order"  # zset: alert id -> fired time (the newest kept)


def status_key(service: str, instance: str) -> str:
    """Heartbeat, state and counters of one service instance (JSON)."""
    return f"status:{service}:{instance}"


def api_calls_key(source: str, month: str) -> str:
    """Calls the scraper made to one upstream API in one UTC month ('YYYY-MM'), an integer (TTL)."""
    return f"scraper:calls:{source}:{month}"


def ml_view_key(symbol: str) -> str:
    """What the dashboard shows for one symbol: predictions, signal, stats, accuracy (JSON, TTL)."""
    return f"ml:view:{symbol}"


ML_VIEW_PREFIX = ml_view_key("")


def ml_summary_key(symbol: str) -> str:
    """The few fields every symbol shows at once: signal, confidence, price, consensus (JSON, TTL)."""
    return f"ml:summary:{symbol}"


ML_SUMMARY_PREFIX = ml_summary_key("")


def ml_state_key(symbol: str) -> str:
    """The processor's snapshot of one symbol's state, with the last offset it includes."""
    return f"ml:state:{symbol}"


# Lake layout: <lake>/quotes/symbol=<SYM>/date=<YYYY-MM-DD>/batch-<id>-<token>.parquet (the job's)
# or compacted-<date>.parquet (cryptoviz lake compact's)
LAKE_QUOTES = "quotes"
LAKE_QUARANTINE = "_quarantine"
LAKE_PARTITIONS = ("symbol", "date")
