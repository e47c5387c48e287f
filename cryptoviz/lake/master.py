"""Which Spark master the lake job runs on: a standalone cluster when one is there, else local.

Compose's `cluster` profile adds a master named `spark-master`; without the profile that name does
not resolve. So the job asks DNS: a name that resolves is a cluster that is (being) started, and the
job waits for its port; a name that does not is no cluster, and the job runs on SPARK_MASTER.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from cryptoviz import logs, names
from cryptoviz.servers import port_open

log = logs.get(names.LAKE)


def _resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    return True


def _accepts(host: str, port: int) -> bool:
    return port_open(host, port, timeout=2)


def choose_master(
    local: str,
    cluster: str,
    wait_s: float,
    wait: Callable[[float], bool],
    resolves: Callable[[str], bool] = _resolves,
    accepts: Callable[[str, int], bool] = _accepts,
) -> str:
    """`cluster` (spark://host:port) if its host resolves and its port answers within `wait_s`, else `local`.

    `wait(seconds)` sleeps and returns True when the service is asked to stop meanwhile. The URL's
    form was checked with the settings (LakeSettings.spark_cluster_master).
    """
    if not cluster:
        return local
    parts = urlsplit(cluster)
    host, port = parts.hostname or "", parts.port or 7077
    if not resolves(host):
        log.info("spark_master", master=local, reason=f"no cluster: {host} does not resolve")
        return local
    deadline = time.monotonic() + wait_s
    while not accepts(host, port):
        if time.monotonic() >= deadline or wait(1.0):
            log.warning("spark_master", master=local, reason=f"{cluster} did not answer in {wait_s:.0f}s")
            return local
    log.info("spark_master", master=cluster, reason="cluster answers")
    return cluster
