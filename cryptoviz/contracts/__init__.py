"""Every value that crosses a process through Redis, typed in one place, with its encode/decode.

The quote itself is `cryptoviz.schema` (the Kafka message); here its form in `quotes:latest`,
`LatestQuote`, the ML view and summary of a symbol, its model snapshot, a service's heartbeat, and the
backtest summary, the alerts and the topics report. Writers build these and `encode` them; readers
`decode_*` them with a msgspec decoder of the value's own type, which checks every field the type
names (keys it does not name are kept out) and raises ContractError with msgspec's message, the
field's path in it, otherwise (a reader skips and counts such a value rather than failing a page).
Key names live in `cryptoviz.names`.
The two values the dashboard reads for every symbol are in fixed binary layouts, the quotes
(`encode_latest`) and the ML cards (`encode_card`), decoded all in one call into columns
(`contracts.quotes`, `contracts.cards`).
The view's stats and accuracy are typed where they are made (`models.engine.ModelStats`,
`scoring.summary.ScoreSummary`), the backtest summary's parts in `contracts.backtest`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict, TypeVar, get_args

import msgspec
import orjson

from cryptoviz.contracts.backtest import BacktestSummary
from cryptoviz.models import HORIZONS
from cryptoviz.models.engine import ModelStats
from cryptoviz.schema import FIELDS, InvalidQuote, Quote, format_ts, parse_ts, to_dict
from cryptoviz.scoring.summary import ModelScore, ScoreSummary

Horizon = Literal["1h", "6h"]
HORIZON_NAMES: tuple[Horizon, ...] = get_args(Horizon)  # in order: the shortest first
SIGNAL_HORIZON: Horizon = HORIZON_NAMES[0]  # the horizon signals and headline figures use
assert tuple(HORIZONS) == HORIZON_NAMES
T = TypeVar("T")


class ContractError(ValueError):
    """A value in Redis does not have the shape its contract says."""


class MLSignal(TypedDict):
    action: Literal["BUY", "SELL", "HOLD"]
    p_up: float  # calibrated probability that the price is higher at the horizon
    confidence: float  # the probability of the side taken (P(up) for BUY, 1 - P(up) for SELL)
    move_pct: float  # the headline forecast's move
    agreement: float  # share of the seed's models agreeing with that move's direction
    horizon: str


class MLForecast(TypedDict):
    """The headline forecast at one horizon (cryptoviz.models.forecaster)."""

    point: float
    intervals: dict[str, list[float]]  # "80" / "90" -> [low, high]
    p_up: float
    regime: str  # the volatility regime: low, mid or high (walk-forward terciles)
    volatility_pct: float  # the hourly volatility used, % of price
    # the intervals and P(up) come from the regime's own learnt residuals (False: the normal
    # placeholder a model starts with, P(up) 0.5)
    learnt: NotRequired[bool]


class MLView(TypedDict):
    """ml:view:<symbol> (TTL): everything the predictions page shows of one symbol."""

    symbol: str
    event_ts: float
    price: float
    predictions: dict[str, dict[str, float]]  # horizon -> model -> predicted price
    due_ts: dict[str, float]  # horizon -> when that prediction is scored
    signal: MLSignal
    forecast: dict[str, MLForecast]  # horizon -> headline forecast ({} before there is a volatility)
    expected_move_pct: dict[str, float]  # 1h / 6h / 24h -> expected absolute move
    stats: ModelStats
    accuracy: ScoreSummary  # horizon -> model/baseline -> n, mae, mape, hit rate; skill, intervals...
    updated_ts: float


class MLSummary(TypedDict):
    """ml:summary:<symbol> (TTL): what an all-symbols list needs, small."""

    symbol: str
    event_ts: float
    price: float
    action: str
    confidence: float
    p_up: float
    move_pct: float
    consensus: dict[str, float]  # horizon -> consensus prediction
    forecast: dict[str, float]  # horizon -> the headline forecast's point
    updated_ts: float
    # the headline forecast's direction at the signal horizon, as scored so far (may be absent)
    hits_1h: NotRequired[int]
    scored_1h: NotRequired[int]
    # every horizon's forecast learnt (MLForecast.learnt), and how many of each were scored so far
    calibrated: NotRequired[bool]
    settled: NotRequired[dict[str, int]]


class MLState(TypedDict):
    """ml:state:<symbol>: the model snapshot and the (partition, offset) of the last message in it."""

    model: dict[str, Any]
    partition: int
    offset: int


class Heartbeat(TypedDict):
    """status:<service>:<instance> (TTL): a service's state, counters and gauges."""

    service: str
    instance: str
    state: str
    heartbeat_ts: float
    started_ts: float
    interval_s: float
    counters: dict[str, int]
    gauges: dict[str, Any]


AlertKind = Literal["price_above", "price_below", "move_1h", "signal"]


class AlertRule(TypedDict):
    """alerts:rules -> id: price_above / price_below: the price crosses `level` (USD) upwards /
    downwards; move_1h: the price moved `level` % or more over the last hour of event time;
    signal: a BUY or SELL signal whose confidence is `level` or more (a probability)."""

    id: str
    symbol: str
    kind: AlertKind
    level: float
    created_ts: float


class FiredAlert(TypedDict):
    """alerts:fired -> id: an alert that fired and where its webhook delivery stands."""

    id: str  # rule id and the event time that fired it: the de-duplication key
    rule_id: str
    symbol: str
    kind: str
    message: str
    value: float  # the price, move % or confidence that fired it
    event_ts: float
    fired_ts: float
    status: Literal["pending", "delivered", "failed", "not_sent"]
    attempts: int
    next_try_ts: float
    last_error: str | None
    delivered_ts: float | None


class TopicsReport(TypedDict):
    """monitor:topics (TTL): what the topics page shows, read by the monitor from the broker."""

    ts: float
    topics: list[dict[str, Any]]  # name, partitions [{partition, start, end}], messages
    groups: list[dict[str, Any]]  # group, partitions [{topic, partition, committed, end, lag}], lag
    latest: dict[str, list[dict[str, Any]]]  # topic -> newest messages, decoded


class MLCard(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """ml:cards -> <symbol>: what the all-symbols pages show of a symbol, the MLSummary's fields with
    a field per Horizon for each per-horizon mapping (None where the summary has no value: no
    tuple or dict to build, a third off the decode), and when the card expires (the processor's
    clock + ML_PREDICTION_TTL_S). Stored in CARD_LAYOUT (`encode_card`); read by the thousand with
    `contracts.cards`, which also reads the msgpack arrays written before that layout (fields added
    since then have a default)."""

    symbol: str
    event_ts: float
    price: float
    action: str
    confidence: float
    p_up: float
    move_pct: float
    consensus_1h: float | None
    consensus_6h: float | None
    forecast_1h: float | None
    forecast_6h: float | None
    updated_ts: float
    expires_ts: float
    hits_1h: int = 0  # the headline forecast's direction at the signal horizon, right / scored so far
    scored_1h: int = 0
    calibrated: bool = False  # MLSummary.calibrated
    settled_1h: int = 0  # forecasts scored so far
    settled_6h: int = 0

    def consensus_at(self, horizon: str) -> float | None:
        return getattr(self, f"consensus_{horizon}")

    def forecast_at(self, horizon: str) -> float | None:
        return getattr(self, f"forecast_{horizon}")

    def settled_at(self, horizon: str) -> int:
        return getattr(self, f"settled_{horizon}")


class LatestQuote(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """quotes:latest -> <symbol>, as the scraper writes it (`encode_latest`) and the dashboard and the
    monitor read it: cryptoviz.schema's FIELDS in wire order, timestamps as the ISO strings of the
    quote's JSON. Stored in QUOTE_LAYOUT, every symbol's read in one decode (`contracts.quotes`);
    the msgpack array (a quote the layout cannot hold, or written before it) and the JSON document
    written before that are still read, one by one (`decode_latest`)."""

    schema_version: int
    symbol: str
    name: str
    price_usd: float
    market_cap_usd: float | None
    volume_24h_usd: float | None
    change_24h_pct: float | None
    source: str
    source_ts: str
    ingest_ts: str

    @property
    def event_time(self) -> float:
        """Event time in epoch seconds (the upstream timestamp); ValueError when it is not ISO 8601."""
        return datetime.fromisoformat(self.source_ts).timestamp()


assert LatestQuote.__struct_fields__ == tuple(FIELDS)
# quotes:latest as the scraper wrote it before `encode_latest`: the quote's JSON document
_LatestDocument: Any = msgspec.defstruct(
    "LatestDocument", [(f.name, f.type) for f in msgspec.structs.fields(LatestQuote)], frozen=True
)


def summary_of(view: MLView) -> MLSummary:
    """The summary of a view (what the processor writes beside it, `make_summary`)."""
    return make_summary(
        view,
        view["signal"],
        {h: forecast_score(view["accuracy"], h) for h in HORIZON_NAMES},
        [fc.get("learnt", False) for fc in view["forecast"].values()],
    )


class SummaryTick(TypedDict):
    """What a summary takes of the tick it is of (an MLView has these)."""

    symbol: str
    event_ts: float
    price: float
    predictions: dict[str, dict[str, float]]
    updated_ts: float


def make_summary(
    tick: SummaryTick, signal: MLSignal, scores: Mapping[str, ModelScore | None], learnt: list[bool]
) -> MLSummary:
    """A symbol's summary from its tick, its signal, its headline forecast's scores so far by horizon
    (`scores`, None before one was scored) and whether each horizon's forecast is learnt."""
    predictions = tick["predictions"]
    summary: MLSummary = {
        "symbol": tick["symbol"],
        "event_ts": tick["event_ts"],
        "price": tick["price"],
        "action": signal["action"],
        "confidence": signal["confidence"],
        "p_up": signal["p_up"],
        "move_pct": signal["move_pct"],
        "consensus": {h: p["consensus"] for h, p in predictions.items()},
        "forecast": {h: p["forecast"] for h, p in predictions.items()},
        "updated_ts": tick["updated_ts"],
    }
    # how many 1 h forecasts had a direction and how many of those were right, when scored yet
    scored = scores.get(SIGNAL_HORIZON)
    if scored is not None and scored["hit_rate"] is not None:
        n = scored["n_direction"]
        summary["hits_1h"], summary["scored_1h"] = round(scored["hit_rate"] * n), n
    summary["calibrated"] = bool(learnt) and all(learnt)
    summary["settled"] = {h: settled_count(scores.get(h)) for h in HORIZON_NAMES if h in predictions}
    return summary


def forecast_score(accuracy: ScoreSummary, horizon: Horizon) -> ModelScore | None:
    """The headline forecast's scores at `horizon` so far (None before one was scored)."""
    scores = accuracy.get(horizon)
    return scores.get("forecast") if scores else None


def forecasts_settled(accuracy: ScoreSummary, horizon: Horizon) -> int:
    """How many of the headline forecasts at `horizon` were scored so far."""
    return settled_count(forecast_score(accuracy, horizon))


def settled_count(score: ModelScore | None) -> int:
    """How many predictions a score counts (0 before one was scored)."""
    return score["n"] if score else 0


def forecast_state(summary: MLSummary) -> dict[str, Any]:
    """`cryptoviz status --json`'s word on one symbol's forecasts: calibrated once every horizon's
    intervals and P(up) come from what was learnt (`MLForecast.learnt`), warming_up before; with
    the forecasts scored per horizon."""
    state = "calibrated" if summary.get("calibrated") else "warming_up"
    return {"state": state, "settled": dict(summary.get("settled") or {})}


def encode(
    value: MLView | MLSummary | MLState | Heartbeat | BacktestSummary | AlertRule | FiredAlert | TopicsReport,
) -> bytes:
    return orjson.dumps(value)


_LATEST = msgspec.msgpack.Encoder()
_QUOTE = msgspec.msgpack.Decoder(LatestQuote)
_QUOTE_DOCUMENT = msgspec.json.Decoder(_LatestDocument)
# each JSON value's decoder is its TypedDict's: the type is the one definition of what is checked
_VIEW = msgspec.json.Decoder(MLView)
_SUMMARY = msgspec.json.Decoder(MLSummary)
_STATE = msgspec.json.Decoder(MLState)
_HEARTBEAT = msgspec.json.Decoder(Heartbeat)
_BACKTEST = msgspec.json.Decoder(BacktestSummary)
_RULE = msgspec.json.Decoder(AlertRule)
_FIRED = msgspec.json.Decoder(FiredAlert)
_TOPICS = msgspec.json.Decoder(TopicsReport)


def decode_view(raw: bytes | str) -> MLView:
    return _typed(_VIEW, raw, "MLView")


def decode_summary(raw: bytes | str) -> MLSummary:
    return _typed(_SUMMARY, raw, "MLSummary")


# ml:cards' binary layout: a magic byte, the layout's version, then every MLCard field in order at a
# fixed place, little-endian: the symbol in UTF-8 padded with NULs to 16 bytes (the quote schema's
# limit), the action as its place in CARD_ACTIONS, floats as doubles (NaN where the card has None),
# counts as int64, the flag as a byte. One size for every card: a reader takes them all as one
# buffer, a column per field, with no Python object per field (`contracts.cards`).
CARD_MAGIC = 0xC1  # the one byte msgpack never uses: a reader of the msgpack cards counts these invalid
CARD_VERSION = 1
CARD_ACTIONS = ("HOLD", "BUY", "SELL")
CARD_SYMBOL_BYTES = 16
_CARD_CODES: dict[Any, str] = {str: "B", float: "d", float | None: "d", int: "q", bool: "B"}
CARD_FIELDS = msgspec.structs.fields(MLCard)
CARD_LAYOUT: tuple[tuple[str, str], ...] = tuple(
    (f.name, f"{CARD_SYMBOL_BYTES}s" if f.name == "symbol" else _CARD_CODES[f.type]) for f in CARD_FIELDS
)
CARD_NULLABLE = tuple(i for i, f in enumerate(CARD_FIELDS) if f.type == float | None)
_CARD_RECORD = struct.Struct("<BB" + "".join(code for _, code in CARD_LAYOUT))
CARD_SIZE = _CARD_RECORD.size
CARD_ACTION = MLCard.__struct_fields__.index("action")  # the action's place among the fields
assert MLCard.__struct_fields__[0] == "symbol"


def encode_card(card: MLCard) -> bytes:
    """The card in CARD_LAYOUT; ContractError for a symbol that does not fit or an unknown action
    (a writer never stores what the reader would refuse)."""
    values: list[Any] = list(msgspec.structs.astuple(card))
    symbol = card.symbol.encode()
    if not 0 < len(symbol) <= CARD_SYMBOL_BYTES or b"\0" in symbol:
        raise ContractError(
            f"MLCard: symbol {card.symbol!r} is not 1 to {CARD_SYMBOL_BYTES} bytes without NUL"
        )
    if card.action not in CARD_ACTIONS:
        raise ContractError(f"MLCard: action {card.action!r} is not one of {CARD_ACTIONS}")
    values[0], values[CARD_ACTION] = symbol, CARD_ACTIONS.index(card.action)
    for i in CARD_NULLABLE:
        if values[i] is None:
            values[i] = math.nan
    return _CARD_RECORD.pack(CARD_MAGIC, CARD_VERSION, *values)


# quotes:latest's binary layout, as the cards': the magic byte, the layout's version, then every
# LatestQuote field in order at a fixed place, little-endian: the strings in UTF-8 padded with NULs
# (QUOTE_STRING_BYTES), the prices as doubles (NaN where the quote has None), the schema version as
# int64, the two times as int64 milliseconds since the epoch (the quote's JSON gives them to the
# millisecond, `schema.format_ts`). The scraper keeps every symbol's in a table too (`row_tables`),
# which the dashboard reads by the thousand into columns (`contracts.quotes`). A quote whose strings
# do not fit is stored as LatestQuote's msgpack array (the form before the layout), read on its own.
QUOTE_MAGIC = CARD_MAGIC
QUOTE_VERSION = 1
QUOTE_STRING_BYTES = {"symbol": CARD_SYMBOL_BYTES, "name": 64, "source": 16}
QUOTE_TIMES = ("source_ts", "ingest_ts")
QUOTE_LAYOUT: tuple[tuple[str, str], ...] = tuple(
    (
        name,
        f"{QUOTE_STRING_BYTES[name]}s" if name in QUOTE_STRING_BYTES else "q" if kind is not float else "d",
    )
    for name, (kind, _) in FIELDS.items()
)
QUOTE_NULLABLE = tuple(i for i, (_, nullable) in enumerate(FIELDS.values()) if nullable)
_QUOTE_RECORD = struct.Struct("<BB" + "".join(code for _, code in QUOTE_LAYOUT))
QUOTE_SIZE = _QUOTE_RECORD.size
_QUOTE_TEXT = tuple(i for i, name in enumerate(FIELDS) if name in QUOTE_STRING_BYTES)
_QUOTE_TIME = tuple(i for i, name in enumerate(FIELDS) if name in QUOTE_TIMES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
QUOTE_TIME_LIMIT_MS = (datetime(9999, 12, 31, tzinfo=UTC) - _EPOCH) // _MS  # from 1970 to 9999


def encode_latest(quote: Quote) -> bytes:
    """The quote as quotes:latest holds it: in QUOTE_LAYOUT, or LatestQuote's msgpack array of the
    quote's wire form when a string does not fit the layout."""
    values: list[Any] = []
    for name in FIELDS:
        value = getattr(quote, name)
        if name in QUOTE_STRING_BYTES:
            value = value.encode()
            if len(value) > QUOTE_STRING_BYTES[name] or b"\0" in value:
                return _LATEST.encode(LatestQuote(*to_dict(quote).values()))
        elif name in QUOTE_TIMES:
            value = (value - _EPOCH) // _MS
        elif value is None:
            value = math.nan
        values.append(value)
    return _QUOTE_RECORD.pack(QUOTE_MAGIC, QUOTE_VERSION, *values)


def latest_of_record(values: tuple[Any, ...]) -> LatestQuote:
    """The quote of one record's values (magic, version, then the fields); ContractError when they
    are not a quote of QUOTE_LAYOUT."""
    if values[:2] != (QUOTE_MAGIC, QUOTE_VERSION):
        raise ContractError(f"LatestQuote: not a quote of layout version {QUOTE_VERSION}")
    fields = list(values[2:])
    try:
        for i in _QUOTE_TEXT:
            fields[i] = fields[i].rstrip(b"\0").decode()
            if not fields[i] or "\0" in fields[i]:
                raise ContractError("LatestQuote: an empty string, or one with a NUL")
        for i in _QUOTE_TIME:
            if not 0 <= fields[i] <= QUOTE_TIME_LIMIT_MS:
                raise ContractError("LatestQuote: a time not from 1970 to 9999")
            fields[i] = format_ts(_EPOCH + fields[i] * _MS)
    except UnicodeDecodeError as exc:
        raise ContractError(f"LatestQuote: {exc}") from None
    for i in QUOTE_NULLABLE:
        if fields[i] != fields[i]:  # NaN
            fields[i] = None
    return LatestQuote(*fields)


def decode_latest(raw: bytes) -> LatestQuote:
    """One quote of quotes:latest: in QUOTE_LAYOUT, LatestQuote's msgpack array, or the JSON document
    written before either."""
    if raw[:1] == bytes([QUOTE_MAGIC]):
        if len(raw) != QUOTE_SIZE:
            raise ContractError(f"LatestQuote: a value is not the {QUOTE_SIZE} bytes of a quote")
        return latest_of_record(_QUOTE_RECORD.unpack(raw))
    if raw[:1] == b"{":
        return _zoned(LatestQuote(*msgspec.structs.astuple(_typed(_QUOTE_DOCUMENT, raw, "LatestQuote"))))
    return _zoned(_typed(_QUOTE, raw, "LatestQuote"))


def _zoned(quote: LatestQuote) -> LatestQuote:
    """The quote with its times in the contract's form, as the binary layout gives them; ContractError
    for a time that is not ISO 8601 with a zone (typed as text, any text passes msgspec's check)."""
    try:
        times = {f: format_ts(parse_ts(getattr(quote, f), f)) for f in ("source_ts", "ingest_ts")}
    except InvalidQuote as exc:
        raise ContractError(f"LatestQuote: {exc}") from None
    return msgspec.structs.replace(quote, **times)


def _typed(decoder: msgspec.json.Decoder[T] | msgspec.msgpack.Decoder[T], raw: Any, contract: str) -> T:
    """msgspec checks every field's type in C while it parses: no document is built untyped."""
    try:
        return decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContractError(f"{contract}: {exc}") from None


def decode_state(raw: bytes | str) -> MLState:
    return _typed(_STATE, raw, "MLState")


def decode_heartbeat(raw: bytes | str) -> Heartbeat:
    return _typed(_HEARTBEAT, raw, "Heartbeat")


def decode_backtest(raw: bytes | str) -> BacktestSummary:
    return _typed(_BACKTEST, raw, "BacktestSummary")


def decode_rule(raw: bytes | str) -> AlertRule:
    return _typed(_RULE, raw, "AlertRule")


def decode_fired(raw: bytes | str) -> FiredAlert:
    return _typed(_FIRED, raw, "FiredAlert")


def decode_topics(raw: bytes | str) -> TopicsReport:
    return _typed(_TOPICS, raw, "TopicsReport")
