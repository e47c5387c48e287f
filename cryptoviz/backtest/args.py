"""`cryptoviz backtest`'s arguments, apart from the command (whose report needs rich and pyarrow), so
that the CLI builds its parser where only the base dependencies are installed (the scraper image)."""

from __future__ import annotations

import argparse

from cryptoviz.cli_args import iso_datetime, symbol


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backtest", help="walk-forward evaluation of every model on real history")
    p.add_argument("--symbols", nargs="*", type=symbol, help="default: every symbol in the data")
    p.add_argument("--from", dest="start", type=iso_datetime, help="ISO date, inclusive")
    p.add_argument("--to", dest="end", type=iso_datetime, help="ISO date, exclusive")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--data", nargs="*", help="CSV(.gz) files (default: the five hourly files in data/)")
    src.add_argument("--lake", action="store_true", help="read the Parquet lake instead")
    p.add_argument("--plot", help="write predicted vs actual for --plot-symbol to this .html (or .png) file")
    p.add_argument("--plot-symbol", default="BTC")
    p.add_argument("--markdown", help="write the tables of these figures (docs/models/) to this file")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line last")
