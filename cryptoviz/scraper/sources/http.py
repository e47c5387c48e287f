"""One GET that turns every way an upstream API can fail into a SourceError with a kind."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from cryptoviz.scraper.sources.base import SourceError


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def get_json(session: requests.Session, url: str, params: dict, headers: dict, timeout: float) -> Any:
    try:
        resp = session.get(url, params=params, headers=headers, timeout=timeout)
    except requests.Timeout as exc:
        raise SourceError("timeout", str(exc)) from None
    except requests.RequestException as exc:
        raise SourceError("connection", type(exc).__name__) from None
    if resp.status_code == 429:
        raise SourceError("rate_limited", "HTTP 429", retry_after_seconds(resp.headers.get("Retry-After")))
    if resp.status_code >= 500:
        raise SourceError("server_error", f"HTTP {resp.status_code}")
    if resp.status_code >= 400:
        raise SourceError("client_error", f"HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        return resp.json()
    except ValueError:
        raise SourceError("malformed_body", "not JSON") from None
