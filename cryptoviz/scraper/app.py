"""The scraper service: settings -> sources -> publisher, live or replay (the entry point calls `main`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from redis import Redis

from cryptoviz import bus, clients, logs, metrics, names
from cryptoviz.scraper import quota
from cryptoviz.scraper.loop import AUTO_REPLAYING, AUTO_SWITCHED, LiveProbe, LiveScraper, ReplayScraper
from cryptoviz.scraper.publisher import Publisher
from cryptoviz.scraper.sources.base import Source
from cryptoviz.scraper.sources.coingecko import CoinGecko
from cryptoviz.scraper.sources.coinmarketcap import CoinMarketCap
from cryptoviz.scraper.sources.replay import ReplayFileError, default_start, history_to_quotes, read_history
from cryptoviz.scraper.streaming import PublishGuard, Streams, start_streams
from cryptoviz.scraper.warmstart import warm_start
from cryptoviz.service import Stop
from cryptoviz.settings import (
    CoinSettings,
    KafkaSettings,
    RedisSettings,
    ScraperSettings,
    SettingsError,
    StackSettings,
    load,
)
from cryptoviz.telemetry import Telemetry

log = logs.get(names.SCRAPER)
STREAM_FIRST_WAIT_S = 5.0  # auto mode, no API answering: how long a stream has to go live at start


def live_sources(
    settings: ScraperSettings, coins: list[str], client: Redis | None, telemetry: Telemetry | None
) -> tuple[list[Source], list[quota.Meter]]:
    """The live sources, the primary first, each metered against its plan."""
    gecko = quota.Meter(quota.coingecko_plan(settings), len(coins), client, telemetry)
    sources: list[Source] = [CoinGecko(settings, meter=gecko)]
    meters = [gecko]
    if settings.coinmarketcap_api_key is not None:
        cmc_meter = quota.Meter(quota.coinmarketcap_plan(settings), len(coins), client, telemetry)
        cmc = CoinMarketCap(settings, meter=cmc_meter)
        first = settings.scraper_primary == "coinmarketcap"
        sources = [cmc, *sources] if first else [*sources, cmc]
        meters = [cmc_meter, *meters] if first else [*meters, cmc_meter]
    return sources, meters


def poll_interval(settings: ScraperSettings, coins: list[str], primary: quota.Meter) -> float:
    """SCRAPE_INTERVAL_S, or the plan's when it is auto; one loud line when an explicit one exceeds it."""
    fitting = quota.auto_interval_s(primary.plan, len(coins))
    if settings.scrape_interval_s == "auto":
        log.info("poll_interval", source=primary.plan.source, plan=primary.plan.name, interval_s=fitting)
        return fitting
    interval = float(settings.scrape_interval_s)
    loud = quota.over_budget_line(primary.plan, len(coins), interval)
    if loud:
        log.warning(loud)
    return interval


def choose_mode(
    settings: ScraperSettings, coins: list[str], sources: list[Source], streams: Streams | None, stop: Stop
) -> str:
    """SCRAPER_SOURCE, or for auto: live when an API answers, or a stream goes live within
    STREAM_FIRST_WAIT_S; else replay (and auto's probe asks again while it replays)."""
    if settings.scraper_source != "auto":
        return settings.scraper_source
    if LiveProbe(sources, coins[:1], every_s=0.0)():
        return "live"
    deadline = time.monotonic() + STREAM_FIRST_WAIT_S
    while streams is not None and not stop and time.monotonic() < deadline:
        if streams.live() is not None:
            return "live"
        stop.wait(0.2)
    return "replay"


def main(stop: Stop) -> int:
    scraper = load(ScraperSettings)
    coins = load(CoinSettings).coins
    kafka = load(KafkaSettings)
    stack = load(StackSettings)
    rds = clients.redis_client(load(RedisSettings))
    telemetry = Telemetry(names.SCRAPER, rds, stack.heartbeat_interval_s)
    metrics.start(telemetry)
    telemetry.publish("starting")
    bus.ensure_topics(kafka.kafka_bootstrap_servers, partitions=kafka.kafka_topic_partitions)
    producer = bus.producer(kafka.kafka_bootstrap_servers, client_id=f"{kafka.kafka_client_id}-scraper")
    publisher = Publisher(producer, rds, telemetry, stop=stop)
    guard = PublishGuard(publisher, telemetry)  # live mode's writers: each coin's times only go forward
    sources, meters = live_sources(scraper, coins, rds, telemetry)
    interval = 0.0
    streams = None
    if scraper.scraper_source != "replay":  # a replay-only scraper asks no API: no plan to keep
        interval = poll_interval(scraper, coins, meters[0])
        for meter in meters:
            meter.interval_s = interval
            meter.report()
        telemetry.gauge("scrape_interval_s", interval)
        streams = start_streams(scraper, coins, guard, telemetry, stop)
    try:
        mode = choose_mode(scraper, coins, sources, streams, stop)
        telemetry.gauge("mode", mode)
        if mode == "replay":
            mode = replay_until_live(scraper, coins, publisher, telemetry, stop, sources, streams, interval)
        if mode == "live" and not stop:
            run_live(scraper, coins, sources, guard, telemetry, stop, streams, interval, rds)
    finally:
        if streams is not None:
            streams.stop()
        publisher.close()
        telemetry.publish("stopped")
        log.info("stopped", signal=stop.signal, published=telemetry.counters["quotes_published"])
    return 0


def replay_until_live(
    settings: ScraperSettings,
    coins: list[str],
    publisher: Publisher,
    telemetry: Telemetry,
    stop: Stop,
    sources: list[Source],
    streams: Streams | None,
    interval: float,
) -> str:
    """Replay history; in auto mode until a live source answers. The mode to go on with."""
    probe = None
    if settings.scraper_source == "auto":
        log.warning(
            "NO LIVE SOURCE ANSWERED: REPLAYING REAL HISTORY UNTIL ONE DOES",
            files=len(settings.replay_files),
            probe_every_s=interval,
        )
        telemetry.gauge("mode", AUTO_REPLAYING)
        probe = LiveProbe(sources, coins[:1], every_s=interval, streams=streams)
    run_replay(settings, coins, publisher, telemetry, stop, until=probe)
    if probe is not None and probe.answered and not stop:
        log.warning("LIVE SOURCE ANSWERED: SWITCHING FROM REPLAY TO LIVE", source=probe.answered)
        telemetry.incr("switched_to_live")
        telemetry.gauge("mode", AUTO_SWITCHED)
        return "live"
    return "replay"


def run_live(
    settings: ScraperSettings,
    coins: list[str],
    sources: list[Source],
    sink: PublishGuard,
    telemetry: Telemetry,
    stop: Stop,
    streams: Streams | None,
    interval: float,
    client: Redis | None,
) -> None:
    """The warm start (each coin's stream quotes let through once its history is out), then the
    polls until stopped; the streams run meanwhile on their own thread."""
    gecko = next(s for s in sources if isinstance(s, CoinGecko))  # the history comes from CoinGecko
    release = streams.release if streams is not None else None
    if settings.backfill_days:
        warm_start(gecko, sink, coins, settings.backfill_days, client, telemetry, stop, on_symbol=release)
    if streams is not None:
        streams.release_all()
    LiveScraper(sources, coins, sink, telemetry, interval, settings.source_down_after, streams=streams).run(
        stop
    )


def run_replay(
    settings: ScraperSettings,
    coins: list[str],
    publisher: Publisher,
    telemetry: Telemetry,
    stop: Stop,
    until: Callable[[], bool] | None = None,
) -> int:
    """Replay the history files, then stay up (heartbeat) so the stack shows the replay as done, not
    crashed; `until` returning True ends either (auto mode: a live source answered)."""
    rejects: Counter[str] = Counter()
    try:
        rows = read_history(settings.replay_files, coins, rejects)
    except ReplayFileError as exc:
        raise SettingsError(f"REPLAY_FILES: {exc}") from None
    for reason, n in rejects.items():
        telemetry.incr(f"replay_rejects.{reason}", n)
        log.warning("replay_rows_skipped", reason=reason, rows=n)
    if not rows:
        log.error("replay_has_no_rows", files=",".join(settings.replay_files), coins=",".join(coins))
        while not stop and not (until is not None and until()):
            telemetry.publish("idle")
            stop.wait(telemetry.interval_s)
        return 0
    start = datetime.fromisoformat(settings.replay_start) if settings.replay_start else default_start(rows)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    playing = [r for r in rows if r.ts >= start]
    log.info(
        "replay_started",
        rows=len(playing),
        start=start.isoformat(),
        speed=settings.replay_speed,
        symbols=",".join(sorted({r.symbol for r in playing})),
    )
    warmup = start + timedelta(hours=settings.replay_warmup_hours)
    sent = ReplayScraper(
        history_to_quotes(rows, start=start),
        publisher,
        telemetry,
        settings.replay_speed,
        warmup,
        settings.replay_max_rate,
        until=until,
    ).run(stop)
    log.info("replay_finished", quotes=sent)
    while not stop and not (until is not None and until()):
        telemetry.publish("idle")
        stop.wait(telemetry.interval_s)
    return sent
