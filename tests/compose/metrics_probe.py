"""Run inside the dashboard container (`python -`): each service's /metrics on the compose network,
as Prometheus would scrape it; prints one JSON line {service: sample lines seen}."""

import json
import os
import urllib.request

port = os.environ.get("METRICS_PORT") or "9100"
out: dict[str, object] = {}
for service in ("scraper", "ml-processor", "spark-streaming", "monitor"):
    try:
        with urllib.request.urlopen(f"http://{service}:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        samples = [line for line in text.splitlines() if line and not line.startswith("#")]
        out[service] = sorted({line.split("{")[0].split(" ")[0] for line in samples})
    except OSError as exc:
        out[service] = f"unreachable: {exc}"
print(json.dumps(out))
