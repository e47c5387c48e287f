"""One GET that turns every way an upstream API can fail into a SourceError with a kind."""

from __future__ import annotations

from typing import Any

import requests

from cryptoviz.retry import retry_after_seconds
from cryptoviz.scraper.sources.base import SourceError


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
