"""What a local stack runs: the servers in start order, each service's entry point and command
line, and the environment that points a service (or a command-line tool) at the servers."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from cryptoviz import names
from cryptoviz.contracts.stack_state import StackState

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    entry: str  # path of the entry point, relative to the repo
    metrics_offset: int | None = None  # serves /metrics on STACK_METRICS_PORT + this (None: no /metrics)

    @property
    def cwd(self) -> Path:
        """Where it runs: the dashboard in its folder (Streamlit reads `.streamlit/config.toml`
        from the working directory, as in its image), the others at the repository's root."""
        return REPO / Path(self.entry).parent if self.name == names.DASHBOARD else REPO

    def metrics_port(self, base: int) -> int | None:
        return None if self.metrics_offset is None else base + self.metrics_offset

    def command(self, dashboard_port: int) -> list[str]:
        if self.name == names.DASHBOARD:
            return [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(REPO / self.entry),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(dashboard_port),
                "--browser.gatherUsageStats",
                "false",
            ]
        return [sys.executable, str(REPO / self.entry)]


SERVER_ORDER = ("s3", "broker", "redis")  # the broker keeps its log in S3
SERVICES = (
    ServiceSpec(names.SCRAPER, "scraper/main.py", 0),
    ServiceSpec(names.ML_PROCESSOR, "ml-processor/main.py", 1),
    ServiceSpec(names.LAKE, "spark-streaming/main.py", 2),
    ServiceSpec(names.MONITOR, "monitor/main.py", 3),
    ServiceSpec(names.DASHBOARD, "dashboard/app.py"),  # Streamlit: no /metrics of its own
)
SUPERVISOR_METRICS_OFFSET = 9


def service_env(state: StackState, creds: dict[str, str], data_dir: Path) -> dict[str, str]:
    s3 = state.servers["s3"]
    return {
        "KAFKA_BOOTSTRAP_SERVERS": state.servers["broker"].address,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(state.servers["redis"].port),
        "REDIS_PASSWORD": creds["REDIS_PASSWORD"],
        "S3_ENDPOINT_URL": s3.extra.endpoint,
        "S3_ACCESS_KEY": creds["S3_ACCESS_KEY"],
        "S3_SECRET_KEY": creds["S3_SECRET_KEY"],
        "CRYPTOVIZ_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "METRICS_HOST": "127.0.0.1",
        "METRICS_PORT": "",  # set per service by the stack; a command-line tool serves none
    }
