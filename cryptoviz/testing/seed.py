"""The dashboard's data, written by the real writers from real history."""

from __future__ import annotations

from redis import Redis

from cryptoviz import names
from cryptoviz.settings import HISTORY_2024_2026


def fill_dashboard_data(client: Redis, lake: str, symbols: tuple[str, ...] = ("BTC", "ETH"), rows: int = 400):
    """What the dashboard reads, written by the real writers from real history: ML views and state
    (the processor's engine and store), the latest quotes, a scraper heartbeat, and a small lake.
    Returns {symbol: (last output, model, position)} as the processor's store received it."""
    from cryptoviz.lake.storage import filesystem
    from cryptoviz.lake.writer import quotes_table, write_batch
    from cryptoviz.ml import store
    from cryptoviz.models.engine import ModelConfig, SymbolModel
    from cryptoviz.scraper import latest
    from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
    from cryptoviz.telemetry import Telemetry

    history = read_history([HISTORY_2024_2026], symbols)[: rows * len(symbols) // 2]
    quotes = [q for batch in history_to_quotes(history) for q in batch]
    models = {s: SymbolModel(ModelConfig()) for s in symbols}
    changed: store.Changes = {}
    for i, q in enumerate(quotes):
        out = models[q.symbol].update(q.event_time, q.price_usd)
        if out is not None:
            changed[q.symbol] = (out, models[q.symbol], (0, i))
    store.write_batch(client, store.every_snapshot(changed), 300)
    latest.write(client, quotes[-len(symbols) :])
    telemetry = Telemetry(names.SCRAPER, client, instance="test-1")
    telemetry.incr("quotes_published", len(quotes))
    telemetry.publish("running")
    write_batch(*filesystem(lake), quotes_table(quotes), names.LAKE_QUOTES, 0)
    return changed
