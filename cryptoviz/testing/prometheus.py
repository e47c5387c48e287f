"""A real Prometheus server (Debian's `prometheus`) scraping given /metrics URLs, for tests."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

from cryptoviz import servers
from cryptoviz.testing.harness import wait_for


class Prometheus:
    """Started on a free loopback port with a 1 s scrape interval; stopped by PID."""

    def __init__(self, root: Path, targets: dict[str, str]) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            raise servers.ServerError("Debian's prometheus is missing: `make install` installs it")
        root.mkdir(parents=True, exist_ok=True)
        jobs = []
        for job, url in sorted(targets.items()):
            parts = urllib.parse.urlsplit(url)
            jobs.append(
                {
                    "job_name": job,
                    "metrics_path": parts.path,
                    "static_configs": [{"targets": [parts.netloc]}],
                }
            )
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": jobs}
        (root / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self.port = servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            binary,
            f"--config.file={root / 'prometheus.yml'}",
            f"--storage.tsdb.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        self.proc = servers.spawn(cmd, root / "prometheus.log")
        wait_for(self._ready, 60, "Prometheus to be ready")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def query(self, expr: str) -> list[dict]:
        """The instant vector of a PromQL expression, through the HTTP API."""
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def close(self) -> None:
        servers.stop_pid(self.proc.pid, grace_s=10)

    def __enter__(self) -> Prometheus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
