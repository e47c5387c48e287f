"""What every polling source returns, and how it says "not now"."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from cryptoviz.schema import InvalidQuote, Quote, make_quote, parse_ts


@dataclass
class FetchResult:
    quotes: list[Quote] = field(default_factory=list)
    rejects: Counter[str] = field(default_factory=Counter)  # reason -> how many items were dropped


def add_item(
    result: FetchResult,
    symbol: str,
    price: object,
    last_updated: object,
    *,
    source: str,
    market_cap: object,
    volume: object,
    change: object,
    ingest_ts: datetime,
) -> None:
    """Validate one upstream item into `result.quotes`, or count the reason it was dropped."""
    try:
        if price is None:
            raise InvalidQuote("missing_price")
        result.quotes.append(
            make_quote(
                symbol,
                price,
                parse_ts(last_updated, "last_updated"),
                source=source,
                market_cap_usd=market_cap,
                volume_24h_usd=volume,
                change_24h_pct=change,
                ingest_ts=ingest_ts,
            )
        )
    except InvalidQuote as exc:
        result.rejects[exc.reason] += 1


class SourceError(Exception):
    """A fetch failed as a whole. `kind` feeds the error counters; `retry_after` (s) is the server's word."""

    def __init__(self, kind: str, detail: str = "", retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


class Source(Protocol):
    name: str

    def fetch(self, symbols: list[str]) -> FetchResult: ...
