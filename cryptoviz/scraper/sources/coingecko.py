"""CoinGecko: /coins/markets (one request for every coin) and /coins/{id}/market_chart (backfill)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from cryptoviz.coins import BY_COINGECKO_ID, COINS
from cryptoviz.schema import InvalidQuote, make_quote, utcnow
from cryptoviz.scraper.quota import Meter
from cryptoviz.scraper.sources.base import FetchResult, SourceError, add_item
from cryptoviz.scraper.sources.http import get_json
from cryptoviz.settings import ScraperSettings

PRO_URL = "https://pro-api.coingecko.com/api/v3"


def parse_markets(payload: Any, symbols: list[str], ingest_ts: datetime | None = None) -> FetchResult:
    """Turn a /coins/markets body into quotes; every item that does not make one is counted by reason."""
    result = FetchResult()
    if not isinstance(payload, list):
        raise SourceError("malformed_body", f"expected a list, got {type(payload).__name__}")
    if not payload:
        raise SourceError("empty_body", "no coins in the answer")
    wanted = set(symbols)
    now = ingest_ts or utcnow()
    for item in payload:
        if not isinstance(item, dict):
            result.rejects["malformed_item"] += 1
            continue
        ident = item.get("id")
        coin = BY_COINGECKO_ID.get(ident) if isinstance(ident, str) else None
        if coin is None or coin.symbol not in wanted:
            result.rejects["unexpected_coin"] += 1
            continue
        add_item(
            result,
            coin.symbol,
            item.get("current_price"),
            item.get("last_updated"),
            source="coingecko",
            market_cap=item.get("market_cap"),
            volume=item.get("total_volume"),
            change=item.get("price_change_percentage_24h"),
            ingest_ts=now,
        )
    return result


def parse_market_chart(payload: Any, symbol: str, ingest_ts: datetime | None = None) -> FetchResult:
    """A /market_chart body (prices, market_caps, total_volumes as [ms, value]) as hourly quotes."""
    result = FetchResult()
    if not isinstance(payload, dict) or not isinstance(payload.get("prices"), list):
        raise SourceError("malformed_body", "no prices list")
    caps, vols = _series(payload.get("market_caps")), _series(payload.get("total_volumes"))
    now = ingest_ts or utcnow()
    for point in payload["prices"]:
        try:
            ms = _point_ms(point)
            if ms is None:
                raise InvalidQuote("malformed_item")
            ts = datetime.fromtimestamp(ms / 1000, UTC)
            result.quotes.append(
                make_quote(
                    symbol,
                    point[1],
                    ts,
                    source="backfill",
                    market_cap_usd=caps.get(ms),
                    volume_24h_usd=vols.get(ms),
                    ingest_ts=now,
                )
            )
        except InvalidQuote as exc:
            result.rejects[exc.reason] += 1
    return result


MAX_MS = 10**13  # the year 2286: a point past it is no timestamp in milliseconds


def _point_ms(point: object) -> int | None:
    """The time of a [ms, value] point, or None when it is not one."""
    if not isinstance(point, list) or len(point) != 2:
        return None
    ms = point[0]
    if isinstance(ms, bool) or not isinstance(ms, int | float) or not 0 <= ms <= MAX_MS:
        return None  # NaN fails the comparison too
    return int(ms)


def _series(points: object) -> dict[int, object]:
    """A market_caps / total_volumes list as {ms: value}; what is not a [ms, value] point is left out."""
    out: dict[int, object] = {}
    for p in points if isinstance(points, list) else []:
        ms = _point_ms(p)
        if ms is not None and isinstance(p, list):
            out[ms] = p[1]
    return out


class CoinGecko:
    name = "coingecko"

    def __init__(
        self, settings: ScraperSettings, session: requests.Session | None = None, meter: Meter | None = None
    ) -> None:
        self.settings = settings
        self.session = session or requests.Session()
        self.meter = meter  # counts every call against the plan, and refuses one ahead of its pace
        key = settings.coingecko_api_key
        self.headers = {"accept": "application/json"}
        self.base_url = settings.coingecko_base_url.rstrip("/")
        if key is not None:
            header = "x-cg-pro-api-key" if settings.coingecko_api_plan == "pro" else "x-cg-demo-api-key"
            self.headers[header] = key.get_secret_value()
            if settings.coingecko_api_plan == "pro" and "api.coingecko.com" in self.base_url:
                self.base_url = PRO_URL

    def fetch(self, symbols: list[str]) -> FetchResult:
        ids = ",".join(COINS[s].coingecko_id for s in symbols)
        params = {
            "vs_currency": "usd",
            "ids": ids,
            "per_page": 250,
            "page": 1,
            "price_change_percentage": "24h",
        }
        return parse_markets(self._get("/coins/markets", params), symbols)

    def market_chart(self, symbol: str, days: int) -> FetchResult:
        params = {"vs_currency": "usd", "days": days}
        return parse_market_chart(
            self._get(f"/coins/{COINS[symbol].coingecko_id}/market_chart", params), symbol
        )

    def _get(self, path: str, params: dict, timeout: float | None = None) -> Any:
        if self.meter is not None:
            self.meter.spend()
        return get_json(
            self.session, self.base_url + path, params, self.headers, timeout or self.settings.http_timeout_s
        )

    def ping(self) -> bool:
        try:
            self._get("/ping", {}, min(5.0, self.settings.http_timeout_s))
            return True
        except SourceError:
            return False
