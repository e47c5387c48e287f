"""The `cryptoviz` command: the local stack, backfill, backtest and lake maintenance."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from kafka.errors import KafkaError
from redis import RedisError

from cryptoviz import logs, names
from cryptoviz.cli_args import Parser, iso_date, positive_int, symbol
from cryptoviz.servers import ServerError
from cryptoviz.settings import SettingsError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


@command("up")
def _up(args: argparse.Namespace) -> int:
    from cryptoviz.stack import Stack

    stack = Stack()
    t0 = time.monotonic()
    print(f"starting the CryptoViz stack in {stack.dir} ...", flush=True)
    state = stack.up(services=tuple(args.only) if args.only else None, wait_s=args.wait)
    print(f"healthy after {time.monotonic() - t0:.1f}s")
    _print_status(stack.status())
    dash = stack.urls(state).get(names.DASHBOARD)
    if dash:
        print(f"\n  Dashboard: {dash}\n")
    return 0


@command("down")
def _down(args: argparse.Namespace) -> int:
    from cryptoviz.stack import Stack

    stopped = Stack().down()
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


@command("status")
def _status(args: argparse.Namespace) -> int:
    from cryptoviz.stack import Stack

    status = Stack().status()
    if args.json:
        import json

        print(json.dumps(status, indent=2))
    else:
        _print_status(status)
    everything = list(status["servers"].values()) + list(status["services"].values())
    return 0 if everything and all(p["state"] == "up" for p in everything) else 1


def _print_status(status: dict) -> None:
    if not status["servers"]:
        print(f"no stack running in {status['data_dir']}")
        return
    print(f"{'name':<16} {'state':<9} {'where':<24} detail")
    for name, info in status["servers"].items():
        print(f"{name:<16} {info['state']:<9} {info['address']:<24} pid {info['pid']}")
    for name, info in status["services"].items():
        detail = info["detail"] + (f"; restarts {info['restarts']}" if info.get("restarts") else "")
        if info.get("crash_loop"):
            detail += f"; CRASH LOOP, last error: {info.get('last_error')}"
        print(f"{name:<16} {info['state']:<9} {'pid ' + str(info['pid']):<24} {detail}")
    if "supervisor" in status:
        sup = status["supervisor"]
        print(
            f"{'supervisor':<16} {sup['state']:<9} {'pid ' + str(sup['pid']):<24} restarts services that exit"
        )
    if status["topics"]:
        print("topics: " + ", ".join(f"{t}={n}" for t, n in status["topics"].items()))
    if names.SCRAPER in status:
        from cryptoviz.scraper.report import mode_line, source_lines

        report = status[names.SCRAPER]
        print(f"scraper: {mode_line(report)}")
        for line in source_lines(report):
            print(f"  {line}")
    if status.get("forecasts"):
        words = [
            f"{sym} {f['state'].replace('_', ' ')} ("
            + ", ".join(f"{h} {n:,}" for h, n in f["settled"].items())
            + " settled)"
            for sym, f in status["forecasts"].items()
        ]
        print("forecasts: " + "; ".join(words))
    for what, url in status["urls"].items():
        print(f"  {what:<18} {url}")


@command("restart")
def _restart(args: argparse.Namespace) -> int:
    from cryptoviz.stack import Stack

    info = Stack().restart(args.name, kill=args.kill, down_for_s=args.down_for)
    print(f"{args.name} restarted as pid {info.pid}")
    return 0


@command("logs")
def _logs(args: argparse.Namespace) -> int:
    from cryptoviz.stack import Stack

    return Stack().tail(args.name, args.lines, args.follow)


@command("backtest")
def _backtest(args: argparse.Namespace) -> int:
    from cryptoviz.backtest import report as backtest_report
    from cryptoviz.stack import apply_local_stack_env

    apply_local_stack_env()  # a running local stack gets the summary in its Redis
    return backtest_report.main(args)


@command("backfill")
def _backfill(args: argparse.Namespace) -> int:
    from cryptoviz import bus
    from cryptoviz.clients import redis_client
    from cryptoviz.scraper import quota
    from cryptoviz.scraper.backfill import backfill
    from cryptoviz.scraper.publisher import Publisher
    from cryptoviz.scraper.sources.coingecko import CoinGecko
    from cryptoviz.settings import CoinSettings, KafkaSettings, ScraperSettings, lake_url, load
    from cryptoviz.stack import apply_local_stack_env
    from cryptoviz.telemetry import Telemetry

    apply_local_stack_env()
    scraper = load(ScraperSettings)
    kafka = load(KafkaSettings)
    symbols = args.symbols or load(CoinSettings).coins
    try:  # the scraper's image reads no Parquet: there the lake job alone keeps each hour once
        from cryptoviz.lake.reader import LakeReader

        lake: LakeReader | None = LakeReader(lake_url())
    except ImportError:
        print("the lake is not read here (no pyarrow): hours it holds are published again, kept once")
        lake = None
    client = redis_client()
    telemetry = Telemetry("backfill", client)
    bus.ensure_topics(kafka.kafka_bootstrap_servers, partitions=kafka.kafka_topic_partitions)
    publisher = Publisher(bus.producer(kafka.kafka_bootstrap_servers), client, telemetry)
    meter = quota.Meter(quota.coingecko_plan(scraper), len(symbols), client, telemetry)
    try:
        report = backfill(CoinGecko(scraper, meter=meter), publisher, symbols, args.days, lake)
    finally:
        publisher.close()
        telemetry.publish("stopped")
    for sym in symbols:
        if sym in report.failed:
            print(f"{sym}: FAILED ({report.failed[sym]})")
        else:
            print(
                f"{sym}: {report.published[sym]} published, {report.skipped[sym]} already in the lake, "
                f"{report.rejected[sym]} rejected"
            )
    print(f"CoinGecko calls this month: {meter.calls_month:,} of {meter.plan.monthly_calls or 'no cap'}")
    return 1 if report.failed else 0


@command("lake")
def _lake(args: argparse.Namespace) -> int:
    from cryptoviz.lake.compact import compact
    from cryptoviz.lake.storage import filesystem
    from cryptoviz.settings import lake_url
    from cryptoviz.stack import apply_local_stack_env

    apply_local_stack_env()
    url = lake_url()
    if not args.force and (why := _compacting_job(url)):
        print(f"{url}: not compacted: {why}; --force compacts it anyway", file=sys.stderr)
        return 2
    report = compact(*filesystem(url), args.before)
    print(f"{url}: {report.partitions} partitions compacted from {report.files_in} files")
    return 0


def _compacting_job(url: str) -> str | None:
    """Why a second compactor must not run on the lake at `url` now, or None. Two compactors on one
    partition write the same staged file at once and delete each other's files: refused while a lake
    job that compacts this lake reports (up or stale: a slow job still writes), and while Redis,
    where it would report, cannot be read."""
    from cryptoviz import health
    from cryptoviz.clients import redis_client
    from cryptoviz.lake.storage import canonical_url
    from cryptoviz.settings import RedisSettings, load

    try:
        docs = health.instances(redis_client(load(RedisSettings), socket_timeout=2), names.LAKE)
    except RedisError as exc:
        return f"whether a lake job compacts it is not known (Redis: {exc})"
    jobs = [
        d["instance"]
        for d in docs
        if health.service_state(d) != "down"
        and d["gauges"].get("lake_url") == canonical_url(url)
        and d["gauges"].get("compacts", True)
    ]
    return f"the lake job compacts it itself (running: {', '.join(sorted(jobs))})" if jobs else None


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cryptoviz", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="start the servers and every service locally, print the URLs")
    p.add_argument("--only", nargs="*", help="start only these services (default: all)")
    p.add_argument("--wait", type=float, default=180, help="seconds to wait for health")
    sub.add_parser("down", help="stop everything `up` started (by PID)")
    p = sub.add_parser("status", help="health of every server and service, topic message counts")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("restart", help="stop one server or service and start it again")
    p.add_argument("name")
    p.add_argument("--kill", action="store_true", help="SIGKILL instead of a clean stop (fault drills)")
    p.add_argument("--down-for", type=float, default=0.0, help="seconds to leave it stopped")
    p = sub.add_parser("logs", help="show a process's log")
    p.add_argument("name", nargs="?")
    p.add_argument("-n", "--lines", type=positive_int, default=50)
    p.add_argument("-f", "--follow", action="store_true")
    p = sub.add_parser("backfill", help="publish each coin's hourly CoinGecko history (resumable)")
    p.add_argument(
        "--days", type=positive_int, default=90, help="days of hourly points (CoinGecko: 90 without a key)"
    )
    p.add_argument("--symbols", nargs="*", type=symbol, help="default: COINS")
    lake = sub.add_parser("lake", help="lake maintenance").add_subparsers(dest="lake_cmd", required=True)
    p = lake.add_parser("compact", help="rewrite each closed day's partition as one file per symbol")
    p.add_argument("--before", type=iso_date, help="compact days before this ISO date (default: today, UTC)")
    p.add_argument(
        "--force", action="store_true", help="compact even beside a lake job that compacts, or none is known"
    )
    from cryptoviz.backtest.args import add_parser as add_backtest

    add_backtest(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logs.setup()
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.cmd](args)
    except (SettingsError, ServerError) as exc:
        print(f"cryptoviz {args.cmd}: {exc}", file=sys.stderr)
        return 2
    except (KafkaError, RedisError) as exc:
        print(
            f"cryptoviz {args.cmd}: a server is not reachable ({exc}); is the stack up (`make up`)?",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
