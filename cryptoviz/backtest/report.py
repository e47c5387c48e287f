"""`cryptoviz backtest`: load history, run the walk-forward, print the table, save the summary."""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cryptoviz import names
from cryptoviz.backtest.runner import SymbolResult, run_symbol, to_json, verdict
from cryptoviz.contracts import HORIZON_NAMES
from cryptoviz.contracts.backtest import BacktestSummary
from cryptoviz.models import HORIZONS
from cryptoviz.models.engine import ModelConfig
from cryptoviz.scoring import BASELINES, MODELS
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.settings import HISTORY_FILES, MLSettings, lake_url, load


def load_series(args: argparse.Namespace) -> dict[str, list[tuple[float, float]]]:
    """symbol -> [(event time, price)] in time order, deduplicated, within --from/--to."""
    start, end = args.start, args.end
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    if args.lake:
        from cryptoviz.lake.reader import LakeReader

        frame = LakeReader(lake_url()).history(args.symbols or _lake_symbols(), start, end)
        for sym, ts, price in zip(frame["symbol"], frame["source_ts"], frame["price_usd"], strict=True):
            series[sym].append((ts.timestamp(), float(price)))
    else:
        for row in read_history(args.data or list(HISTORY_FILES), args.symbols):
            if (start is None or row.ts >= start) and (end is None or row.ts < end):
                series[row.symbol].append((row.ts.timestamp(), row.price))
    return dict(series)


def _lake_symbols() -> list[str]:
    from cryptoviz.settings import CoinSettings

    return load(CoinSettings).coins


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def table(results: list[SymbolResult]) -> Table:
    t = Table(title="Walk-forward backtest: MAPE %, hit rate (direction right), skill vs persistence (HAC t)")
    for col in ("symbol", "horizon", "model", "n", "MAPE %", "hit rate", "skill %", "t"):
        t.add_column(col, justify="left" if col in ("symbol", "horizon", "model") else "right")
    for r in results:
        for h in HORIZON_NAMES:
            s = r.summary[h]
            for model in (*BASELINES, *MODELS):
                m = s.get(model)
                if not m:
                    continue
                sk = s["skill"].get(model)
                skill = None if sk is None or sk["skill"] is None else sk["skill"] * 100
                t.add_row(
                    r.symbol,
                    h,
                    model,
                    str(m["n"]),
                    f"{m['mape']:.4f}",
                    _num(m["hit_rate"], ".3f"),
                    _num(skill, "+.2f"),
                    _num(sk["t_stat"] if sk else None, "+.1f"),
                )
            t.rows[-1].end_section = True
    return t


def forecast_table(results: list[SymbolResult]) -> Table:
    t = Table(title="The headline forecast: interval coverage (low / mid / high volatility), P(up), moves")
    cols = ("symbol", "horizon", "80 %", "by regime", "90 %", "by regime", "width 80 %", "Brier", "base")
    for col in cols:
        t.add_column(col, justify="left" if col in ("symbol", "horizon") else "right")
    for r in results:
        for h in HORIZON_NAMES:
            s = r.summary[h]
            cells = []
            for level in ("80", "90"):
                iv = s["intervals"][level]
                regimes = " / ".join(_num(v["coverage"], ".3f") for v in iv["by_regime"].values())
                cells += [_num(iv["coverage"], ".3f"), regimes]
            p = s["p_up"]
            t.add_row(
                r.symbol,
                h,
                *cells,
                _num(s["intervals"]["80"]["mean_width_pct"], ".2f"),
                _num(p["brier"], ".5f"),
                _num(p["brier_base_rate"], ".5f"),
            )
    return t


def signals_table(results: list[SymbolResult]) -> Table:
    t = Table(title="1 h signals as positions, each scored once net of the round-trip fee; baselines' hits")
    cols = ("symbol", "positions", "hit rate", "95 % CI", "net %/pos.", "reversal hit", "always up", "hold")
    for col in cols:
        t.add_column(col, justify="left" if col == "symbol" else "right")
    for r in results:
        s = r.summary["1h"]
        sig = s["signals"]
        ci = sig["hit_rate_ci"]
        t.add_row(
            r.symbol,
            str(sig["n"]),
            _num(sig["hit_rate"], ".3f"),
            "-" if ci is None else f"{ci[0]:.3f}-{ci[1]:.3f}",
            _num(sig["mean_net_return_pct"], "+.3f"),
            _num(s["reversal"]["hit_rate"], ".3f"),
            _num(s["always_up"]["hit_rate"], ".3f"),
            f"{r.hold_return * 100:+.1f}%",
        )
    return t


def plot(result: SymbolResult, path: str) -> None:
    import plotly.graph_objects as go

    from cryptoviz.charts import add_band

    trace = result.trace
    ts = [datetime.fromtimestamp(r.t, UTC) for r in trace]
    due = [datetime.fromtimestamp(r.t + HORIZONS["1h"], UTC) for r in trace]
    fig = go.Figure()
    for level in ("90", "80"):
        bands = [(d, getattr(r, f"interval_{level}")) for d, r in zip(due, trace, strict=True)]
        bands = [(d, b) for d, b in bands if b is not None]
        add_band(fig, [d for d, _ in bands], [b[0] for _, b in bands], [b[1] for _, b in bands], level)
    fig.add_trace(go.Scatter(x=ts, y=[r.price for r in trace], name="actual", mode="lines"))
    fig.add_trace(go.Scatter(x=due, y=[r.forecast for r in trace], name="forecast 1 h ahead", mode="lines"))
    fig.add_trace(
        go.Scatter(
            x=due,
            y=[r.consensus for r in trace],
            name="consensus 1 h ahead",
            mode="lines",
            line={"dash": "dot"},
        )
    )
    fig.update_layout(title=f"{result.symbol}: the 1 h forecast with its intervals, and the seed's consensus")
    if path.endswith(".html"):
        fig.write_html(path)
    else:
        fig.write_image(path)  # PNG: kaleido (the `report` extra) renders with the system Chromium


def save(summary: BacktestSummary) -> str:
    """The dashboard reads the latest summary from Redis when the stack runs, else from the file."""
    from cryptoviz.settings import data_dir

    path = data_dir() / "backtest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(summary))
    try:
        from cryptoviz.clients import redis_client

        redis_client(socket_timeout=1, socket_connect_timeout=1).set(
            names.BACKTEST_SUMMARY, orjson.dumps(summary)
        )
        return f"{path} and Redis {names.BACKTEST_SUMMARY}"
    except Exception:  # no stack running: the file is enough
        return str(path)


def main(args: argparse.Namespace) -> int:
    """Backtest the history asked for, print and save the summary; 1 when there is nothing to show."""
    err = Console(stderr=True)
    t0 = time.perf_counter()
    series = load_series(args)
    if not series:
        err.print("no history for those symbols and dates")
        return 1
    config = ModelConfig.from_settings(load(MLSettings))
    total = sum(len(v) for v in series.values())
    results = run_all(series, config, args.plot_symbol, err, total)
    elapsed = time.perf_counter() - t0
    summary = summarize(results, total, elapsed)
    out = Console() if sys.stdout.isatty() else Console(width=160)  # piped: tables not squeezed
    out.print(table(results))
    out.print(forecast_table(results))
    out.print(signals_table(results))
    out.print(f"{summary['summary']}; {total} rows in {elapsed:.1f}s; saved to {save(summary)}")
    if args.plot:
        chosen = next((r for r in results if r.symbol == args.plot_symbol), None)
        if chosen is None:
            err.print(f"--plot-symbol {args.plot_symbol} has no rows")
            return 1
        plot(chosen, args.plot)
        out.print(f"plot written to {Path(args.plot).resolve()}")
    if args.markdown:
        write_markdown(summary, args.markdown, args.data)
        out.print(f"markdown tables written to {Path(args.markdown).resolve()}")
    if args.json:
        print(orjson.dumps(summary).decode())
    return 0


def run_all(
    series: dict[str, list[tuple[float, float]]],
    config: ModelConfig,
    plot_symbol: str,
    err: Console,
    total: int,
) -> list[SymbolResult]:
    """Each symbol's walk-forward in symbol order, with a progress bar on a terminal's stderr."""
    results = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("backtest", total=total)
        for sym in sorted(series):
            progress.update(task, description=f"backtest {sym}")
            results.append(
                run_symbol(
                    sym,
                    series[sym],
                    config,
                    keep_trace=sym == plot_symbol,
                    on_rows=lambda n: progress.advance(task, n),
                )
            )
    return results


def summarize(results: list[SymbolResult], total: int, elapsed: float) -> BacktestSummary:
    """The saved summary: every symbol's figures, the verdict, the rows read and the time taken."""
    summary = to_json(results)
    summary["summary"] = verdict(results)
    summary["rows"] = total
    summary["seconds"] = round(elapsed, 2)
    summary["generated_ts"] = time.time()
    return summary


def write_markdown(summary: BacktestSummary, path: str, data: list[str] | None) -> None:
    """The summary's tables in Markdown (docs/models/), under a header naming commit, machine, files."""
    from cryptoviz.backtest.markdown import render
    from cryptoviz.provenance import commit, machine_name

    files = ", ".join(f"`{Path(f).name}`" for f in (data or HISTORY_FILES))
    made = datetime.now(UTC).strftime("%Y-%m-%d")
    header = (
        f"Generated by `cryptoviz backtest --markdown` on {made} at commit {commit()}, on "
        f"{machine_name()}, from {files}; do not edit by hand.\n\n"
    )
    Path(path).write_text(header + render(summary))
