"""What a micro-batch's progress (Spark's StreamingQueryProgress, a dict) says about the Kafka source."""

from __future__ import annotations

import json


def offsets_not_read(progress: dict) -> int:
    """Offsets a micro-batch covered but read no record at: retention deleted them before they were
    read, or the log has gaps. From the batch's progress (Spark's StreamingQueryProgress as a dict)."""
    source = (progress.get("sources") or [{}])[0]
    start, end = _offsets(source.get("startOffset")), _offsets(source.get("endOffset"))
    if start is None or end is None:
        return 0
    span = sum(max(0, int(stop) - int(start.get(p, 0))) for p, stop in end.items())
    return max(0, span - int(source.get("numInputRows") or progress.get("numInputRows") or 0))


def _offsets(raw: object) -> dict | None:
    if isinstance(raw, str):
        raw = json.loads(raw)
    return raw if isinstance(raw, dict) else None
