"""An alert posted to a webhook: one JSON body that Slack (`text`), Discord (`content`) and generic
receivers (`alert`, the whole record) accept, and what the answer means for a retry."""

from __future__ import annotations

from dataclasses import dataclass

import requests

from cryptoviz.contracts import FiredAlert
from cryptoviz.retry import retry_after_seconds


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    retry: bool  # worth trying again later (connection error, timeout, 429, 5xx)
    error: str | None = None
    retry_after_s: float | None = None


def body(alert: FiredAlert) -> dict:
    text = f"CryptoViz alert: {alert['message']}"
    return {"text": text, "content": text, "alert": alert}


def post(session: requests.Session, url: str, alert: FiredAlert, timeout_s: float) -> Outcome:
    """POST the alert; the receiver may see the same alert id again after a lost answer (it is in
    the body for its own de-duplication), never a second alert for the same event."""
    try:
        resp = session.post(
            url, json=body(alert), timeout=timeout_s, headers={"Idempotency-Key": alert["id"]}
        )
    except requests.RequestException as exc:
        return Outcome(False, True, f"{type(exc).__name__}")
    if 200 <= resp.status_code < 300:
        return Outcome(True, False)
    error = f"HTTP {resp.status_code}"
    if resp.status_code == 429 or resp.status_code >= 500:
        return Outcome(False, True, error, retry_after_seconds(resp.headers.get("Retry-After")))
    return Outcome(False, False, error)  # the receiver refuses this body: trying again will not help
