"""CoinMarketCap: /v1/cryptocurrency/quotes/latest for every coin in one request (needs a key)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from cryptoviz.schema import utcnow
from cryptoviz.scraper.quota import Meter
from cryptoviz.scraper.sources.base import FetchResult, SourceError, add_item
from cryptoviz.scraper.sources.http import get_json
from cryptoviz.settings import ScraperSettings


def parse_quotes_latest(payload: Any, symbols: list[str], ingest_ts: datetime | None = None) -> FetchResult:
    if not isinstance(payload, dict) or not isinstance(payload.get("status"), dict):
        raise SourceError("malformed_body", "no status object")
    code = payload["status"].get("error_code", 0)
    if code not in (0, "0", None):
        raise SourceError("api_error", f"{code}: {payload['status'].get('error_message')}")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise SourceError("malformed_body", "no data object")
    if not data:
        raise SourceError("empty_body", "no coins in the answer")
    result = FetchResult()
    now = ingest_ts or utcnow()
    for symbol in symbols:
        item = data.get(symbol)
        if isinstance(item, list):  # v2-style answers list every coin sharing the symbol; take the top one
            item = item[0] if item else None
        if item is None:
            result.rejects["missing_coin"] += 1
            continue
        quote = item.get("quote") if isinstance(item, dict) else None
        usd = quote.get("USD") if isinstance(quote, dict) else None
        if not isinstance(usd, dict):
            result.rejects["missing_price"] += 1
            continue
        add_item(
            result,
            symbol,
            usd.get("price"),
            usd.get("last_updated"),
            source="coinmarketcap",
            market_cap=usd.get("market_cap"),
            volume=usd.get("volume_24h"),
            change=usd.get("percent_change_24h"),
            ingest_ts=now,
        )
    return result


class CoinMarketCap:
    name = "coinmarketcap"

    def __init__(
        self, settings: ScraperSettings, session: requests.Session | None = None, meter: Meter | None = None
    ) -> None:
        if settings.coinmarketcap_api_key is None:
            raise ValueError("CoinMarketCap needs COINMARKETCAP_API_KEY")
        self.settings = settings
        self.session = session or requests.Session()
        self.meter = meter  # counts every call (a credit per 100 coins) against the plan
        self.base_url = settings.coinmarketcap_base_url.rstrip("/")
        self.headers = {
            "accept": "application/json",
            "X-CMC_PRO_API_KEY": settings.coinmarketcap_api_key.get_secret_value(),
        }

    def fetch(self, symbols: list[str]) -> FetchResult:
        params = {"symbol": ",".join(symbols), "convert": "USD"}
        url = f"{self.base_url}/v1/cryptocurrency/quotes/latest"
        if self.meter is not None:
            self.meter.spend()
        body = get_json(self.session, url, params, self.headers, self.settings.http_timeout_s)
        return parse_quotes_latest(body, symbols)
