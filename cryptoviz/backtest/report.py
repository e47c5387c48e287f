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
from cryptoviz.cli_args import iso_datetime, symbol
from cryptoviz.models import HORIZONS
from cryptoviz.models.engine import ModelConfig
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.settings import DEFAULT_REPLAY_FILES, MLSettings, lake_url, load


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
        for row in read_history(args.data or list(DEFAULT_REPLAY_FILES), args.symbols):
            if (start is None or row.ts >= start) and (end is None or row.ts < end):
                series[row.symbol].append((row.ts.timestamp(), row.price))
    return dict(series)


def _lake_symbols() -> list[str]:
    from cryptoviz.settings import CoinSettings

    return load(CoinSettings).coins


def table(results: list[SymbolResult]) -> Table:
    t = Table(title="Walk-forward backtest (MAE in USD, MAPE in %, hit rate = direction right)")
    for col in ("symbol", "horizon", "model", "n", "MAE", "MAPE %", "hit rate"):
        t.add_column(col, justify="right" if col in ("n", "MAE", "MAPE %", "hit rate") else "left")
    for r in results:
        for h in HORIZONS:
            for model in ("persistence", "drift", "moving_average", "linear_trend", "momentum", "consensus"):
                m = r.summary[h].get(model)
                if not m:
                    continue
                hit = "-" if m["hit_rate"] is None else f"{m['hit_rate']:.3f}"
                t.add_row(r.symbol, h, model, str(m["n"]), f"{m['mae']:.4g}", f"{m['mape']:.3f}", hit)
        t.rows[-1].end_section = True
    return t


def signals_table(results: list[SymbolResult]) -> Table:
    t = Table(title="1 h signals: hit rate (count) by confidence; following them before fees vs holding")
    for col in (
        "symbol",
        "conf 0-0.2",
        "0.2-0.4",
        "0.4-0.6",
        "0.6-0.8",
        "0.8-1",
        "trades",
        "signals",
        "hold",
    ):
        t.add_column(col, justify="left" if col == "symbol" else "right")
    for r in results:
        cells = [
            "-" if b["hit_rate"] is None else f"{b['hit_rate']:.3f} ({b['n']})"
            for b in r.summary["1h"]["signals"].values()
        ]
        returns = [f"{r.strategy_return * 100:+.1f}%", f"{r.hold_return * 100:+.1f}%"]
        t.add_row(r.symbol, *cells, str(r.trades), *returns)
    return t


def plot(result: SymbolResult, path: str) -> None:
    import plotly.graph_objects as go

    ts = [datetime.fromtimestamp(t, UTC) for t, _, _ in result.trace]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ts, y=[p for _, p, _ in result.trace], name="actual", mode="lines"))
    due = [datetime.fromtimestamp(t + HORIZONS["1h"], UTC) for t, _, _ in result.trace]
    fig.add_trace(
        go.Scatter(x=due, y=[c for _, _, c in result.trace], name="consensus 1 h ahead", mode="lines")
    )
    fig.update_layout(title=f"{result.symbol}: predicted (1 h consensus) vs actual")
    if path.endswith(".html"):
        fig.write_html(path)
    else:
        fig.write_image(path)  # PNG: kaleido (the `report` extra) renders with the system Chromium


def save(summary: dict) -> str:
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
    err = Console(stderr=True)
    t0 = time.perf_counter()
    series = load_series(args)
    if not series:
        err.print("no history for those symbols and dates")
        return 1
    config = ModelConfig.from_settings(load(MLSettings))
    total = sum(len(v) for v in series.values())
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
                    keep_trace=sym == args.plot_symbol,
                    on_row=lambda: progress.advance(task),
                )
            )
    elapsed = time.perf_counter() - t0
    summary = to_json(results)
    summary["summary"] = verdict(results)
    summary["rows"] = total
    summary["seconds"] = round(elapsed, 2)
    summary["generated_ts"] = time.time()
    out = Console()
    out.print(table(results))
    out.print(signals_table(results))
    out.print(f"{summary['summary']}; {total} rows in {elapsed:.1f}s; saved to {save(summary)}")
    if args.plot:
        chosen = next((r for r in results if r.symbol == args.plot_symbol), None)
        if chosen is None:
            err.print(f"--plot-symbol {args.plot_symbol} has no rows")
            return 1
        plot(chosen, args.plot)
        out.print(f"plot written to {Path(args.plot).resolve()}")
    if args.json:
        print(orjson.dumps(summary).decode())
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="walk-forward evaluation of every model on real history")
    p.add_argument("--symbols", nargs="*", type=symbol, help="default: every symbol in the data")
    p.add_argument("--from", dest="start", type=iso_datetime, help="ISO date, inclusive")
    p.add_argument("--to", dest="end", type=iso_datetime, help="ISO date, exclusive")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", nargs="*", help="CSV(.gz) files (default: the shared hourly history)")
    src.add_argument("--lake", action="store_true", help="read the Parquet lake instead")
    p.add_argument("--plot", help="write predicted vs actual for --plot-symbol to this .html (or .png) file")
    p.add_argument("--plot-symbol", default="BTC")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line last")
