"""Walk-forward backtest on real history with the live models and the live scoring code.

Each symbol's rows are fed in event-time order to `SymbolModel`, the class the ML processor runs,
so every prediction sees only the past and is scored by `Scoreboard` exactly as live. Nothing here
predicts or scores on its own; this module only feeds history and summarises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptoviz.models import HORIZONS
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.scoring import SCORED


@dataclass
class Strategy:
    """Following the 1 h signal before fees: long after BUY, flat after SELL, unchanged on HOLD."""

    position: int = 0
    value: float = 1.0
    trades: int = 0
    last_price: float | None = None

    def step(self, price: float, action: str) -> None:
        if self.last_price is not None and self.position:
            self.value *= price / self.last_price
        self.last_price = price
        wanted = {"BUY": 1, "SELL": 0}.get(action, self.position)
        if wanted != self.position:
            self.trades += 1
            self.position = wanted


@dataclass
class SymbolResult:
    symbol: str
    rows: int
    first_ts: datetime
    last_ts: datetime
    summary: dict  # Scoreboard.summary()
    strategy_return: float
    hold_return: float
    trades: int
    trace: list[tuple[float, float, float]] = field(default_factory=list)  # (t, price, consensus 1h)


def run_symbol(
    symbol: str,
    series: Iterable[tuple[float, float]],
    config: ModelConfig,
    keep_trace: bool = False,
    on_row: Callable[[], None] | None = None,
) -> SymbolResult:
    model = SymbolModel(config)
    strategy = Strategy()
    first = last = None
    rows = 0
    trace = []
    for t, price in series:
        out = model.update(t, price)
        if on_row is not None:
            on_row()
        if out is None:
            continue
        rows += 1
        first = first or (t, price)
        last = (t, price)
        strategy.step(price, out.signal.action)
        if keep_trace:
            trace.append((t, price, out.predictions["1h"]["consensus"]))
    if first is None or last is None:
        raise ValueError(f"no rows for {symbol}")
    return SymbolResult(
        symbol,
        rows,
        datetime.fromtimestamp(first[0], UTC),
        datetime.fromtimestamp(last[0], UTC),
        model.board.summary(),
        strategy.value - 1,
        last[1] / first[1] - 1,
        strategy.trades,
        trace,
    )


def to_json(results: list[SymbolResult]) -> dict:
    """The --json object: symbols -> horizon -> model/baseline -> {n, mae, mape, hit_rate}, signals."""
    out: dict = {"symbols": {}}
    for r in results:
        per: dict[str, object] = {}
        for h in HORIZONS:
            s = r.summary[h]
            horizon: dict[str, object] = {m: _metric(s.get(m)) for m in ("persistence", "drift", *SCORED[:4])}
            horizon["signals"] = {"by_confidence": s["signals"], "expired": s["expired"]}
            per[h] = horizon
        per["strategy"] = {"return": r.strategy_return, "hold_return": r.hold_return, "trades": r.trades}
        per["rows"] = r.rows
        per["from"] = r.first_ts.isoformat()
        per["to"] = r.last_ts.isoformat()
        out["symbols"][r.symbol] = per
    return out


def _metric(m: dict | None) -> dict:
    if m is None:
        return {"n": 0, "mae": None, "mape": None, "hit_rate": None}
    return {"n": m["n"], "mae": m["mae"], "mape": m["mape"], "hit_rate": m["hit_rate"]}


def verdict(results: list[SymbolResult], horizon: str = "1h") -> str:
    """One line: how the consensus did against persistence, by MAPE, over all symbols."""
    wins = sum(
        1
        for r in results
        if r.summary[horizon].get("consensus")
        and r.summary[horizon]["consensus"]["mape"] < r.summary[horizon]["persistence"]["mape"]
    )
    return f"consensus beats persistence ({horizon}, MAPE) on {wins} of {len(results)} symbols"
