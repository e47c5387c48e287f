"""The `cryptoviz` command's arguments: a bad one is one line on stderr and exit 2."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime

import pytest

from cryptoviz.cli import build_parser


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["backfill", "--days", "0"], "0 is not positive"),
        (["backfill", "--days", "-3"], "-3 is not positive"),
        (["backfill", "--days", "ten"], "'ten' is not a whole number"),
        (["backfill", "--symbols", "BTC", "NOPE"], "unknown symbol 'NOPE'"),
        (["backtest", "--symbols", "ZZZ"], "unknown symbol 'ZZZ'"),
        (["backtest", "--from", "last tuesday"], "'last tuesday' is not an ISO date"),
        (["lake", "compact", "--before", "2025-13-01"], "'2025-13-01' is not an ISO date"),
        (["logs", "scraper", "-n", "0"], "0 is not positive"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(argv, says):
    proc = subprocess.run(
        [sys.executable, "-m", "cryptoviz.cli", *argv], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert says in lines[0]


def test_good_arguments_are_parsed_to_their_types():
    args = build_parser().parse_args(["backfill", "--days", "30", "--symbols", "btc", "eth"])
    assert args.days == 30 and args.symbols == ["BTC", "ETH"]
    args = build_parser().parse_args(
        ["backtest", "--from", "2025-01-01", "--to", "2025-02-01T12:00:00+02:00"]
    )
    assert args.start == datetime(2025, 1, 1, tzinfo=UTC)
    assert args.end == datetime(2025, 2, 1, 10, tzinfo=UTC)
    assert build_parser().parse_args(["lake", "compact", "--before", "2025-03-04"]).before == date(2025, 3, 4)


def test_the_cli_parses_and_backfills_with_the_base_dependencies_only():
    """The scraper's image installs the base dependencies (no rich, pyarrow or pandas) and runs
    `cryptoviz backfill` there: the parser and the backfill's imports must not need them."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "for m in ('rich', 'pyarrow', 'pandas', 'pyspark', 'streamlit', 'plotly', 'boto3'):\n"
        "    sys.modules[m] = None\n"
        "from cryptoviz import cli\n"
        "args = cli.build_parser().parse_args(['backfill', '--days', '2', '--symbols', 'BTC'])\n"
        "assert args.cmd == 'backfill' and args.days == 2\n"
        "import cryptoviz.clients, cryptoviz.scraper.backfill, cryptoviz.scraper.publisher\n"
        "import cryptoviz.scraper.quota, cryptoviz.scraper.sources.coingecko, cryptoviz.stack\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
