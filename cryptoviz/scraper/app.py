"""The scraper service: settings -> sources -> publisher, live or replay (the entry point calls `main`)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from cryptoviz import bus, clients, logs, metrics
from cryptoviz.scraper.loop import LiveScraper, ReplayScraper
from cryptoviz.scraper.publisher import Publisher
from cryptoviz.scraper.sources.base import Source, SourceError
from cryptoviz.scraper.sources.coingecko import CoinGecko
from cryptoviz.scraper.sources.coinmarketcap import CoinMarketCap
from cryptoviz.scraper.sources.replay import ReplayFileError, default_start, history_to_quotes, read_history
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

log = logs.get("scraper")


def live_sources(settings: ScraperSettings) -> list[Source]:
    sources: list[Source] = [CoinGecko(settings)]
    if settings.coinmarketcap_api_key is not None:
        cmc = CoinMarketCap(settings)
        sources = [cmc, *sources] if settings.scraper_primary == "coinmarketcap" else [*sources, cmc]
    return sources


def choose_mode(settings: ScraperSettings, coins: list[str], sources: list[Source]) -> str:
    if settings.scraper_source != "auto":
        return settings.scraper_source
    for src in sources:
        try:
            if src.fetch(coins[:1]).quotes:
                return "live"
        except SourceError as exc:
            log.warning("live_source_unreachable", source=src.name, error=exc)
    return "replay"


def main(stop: Stop) -> int:
    scraper = load(ScraperSettings)
    coins = load(CoinSettings).coins
    kafka = load(KafkaSettings)
    stack = load(StackSettings)
    rds = clients.redis_client(load(RedisSettings))
    telemetry = Telemetry("scraper", rds, stack.heartbeat_interval_s)
    metrics.start(telemetry)
    telemetry.publish("starting")
    bus.ensure_topics(kafka.kafka_bootstrap_servers, partitions=kafka.kafka_topic_partitions)
    producer = bus.producer(kafka.kafka_bootstrap_servers, client_id=f"{kafka.kafka_client_id}-scraper")
    publisher = Publisher(producer, rds, telemetry, stop=stop)
    sources = live_sources(scraper)
    mode = choose_mode(scraper, coins, sources)
    telemetry.gauge("mode", mode)
    try:
        if mode == "live":
            LiveScraper(
                sources,
                coins,
                publisher,
                telemetry,
                scraper.scrape_interval_s,
                scraper.source_down_after,
            ).run(stop)
        else:
            if scraper.scraper_source == "auto":
                log.warning(
                    "NO LIVE SOURCE ANSWERED: REPLAYING REAL HISTORY INSTEAD", files=len(scraper.replay_files)
                )
                telemetry.gauge("mode", "replay (no live source answered)")
            run_replay(scraper, coins, publisher, telemetry, stop)
    finally:
        publisher.close()
        telemetry.publish("stopped")
        log.info("stopped", signal=stop.signal, published=telemetry.counters["quotes_published"])
    return 0


def run_replay(
    settings: ScraperSettings, coins: list[str], publisher: Publisher, telemetry: Telemetry, stop: Stop
) -> int:
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
    ).run(stop)
    log.info("replay_finished", quotes=sent)
    while not stop:  # stay up (heartbeat) so the stack shows the replay as done, not crashed
        telemetry.publish("idle")
        stop.wait(telemetry.interval_s)
    return sent
