"""Latency from a quote published to its prediction visible to the dashboard's reader, at 1,000 ticks/s.

The same run as bench/ml_latency.py (real broker, Redis and ml-processor process), but each read is
the dashboard's own refresh read, LiveReader.snapshot(): quotes, ML cards and statuses in one
round trip, decoded. Like it, it ends with one JSON line of its figures (ml_latency.main prints it
with json.dumps).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ml_latency

if __name__ == "__main__":
    ml_latency.main(read="dashboard", bench="e2e_latency", what="prediction visible to the dashboard reader")
