"""The engine behind the test fixtures and the benchmarks: real servers on free ports, sample data.

No mock stands in for Kafka, Redis or S3: `RealServers` starts the real binaries (see
../shared/infra.md) in a temporary folder and stops them by PID.
"""

from __future__ import annotations

import contextlib
import gzip
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis import Redis

from cryptoviz import servers
from cryptoviz.schema import Quote, make_quote
from cryptoviz.settings import DEFAULT_REPLAY_FILES

# Debian's chromium, headless, with nothing that reaches for the network (see infra.md)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Debian's chromium is missing: `make install` installs it")
    return found


def wait_for(cond, timeout: float, what: str, every: float = 0.5):
    """Poll `cond` until it returns something truthy, and return that; after `timeout` seconds an
    AssertionError naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


# (url path, heading, texts the page must show, whether it draws a Plotly chart)
PageCheck = tuple[str, str, list[str], bool]


def render_pages(url: str, pages: list[PageCheck], shots: Path, password: str | None = None) -> None:
    """Open every page in headless Chromium, log in when asked, and check what a visitor sees: the
    heading, the texts, the chart, no exception box, no traceback. Screenshots go to `shots`
    (page-<path>.png, or page-<path>.failed.png when the page never showed)."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        for path, title, texts, chart in pages:
            page.goto(f"{url}/{path}")
            shot = shots / f"page-{path or 'home'}.png"
            field = page.get_by_label("Password", exact=True)
            heading = page.get_by_text(title, exact=True).first
            try:
                if password is not None:  # a visit without a session logs in first
                    field.or_(heading).first.wait_for(timeout=30000)
                    if field.is_visible():
                        field.fill(password)
                        field.press("Enter")
                heading.wait_for(timeout=30000)
                if chart:
                    page.locator(".js-plotly-plot").first.wait_for(timeout=30000)
            except Exception:
                page.screenshot(path=str(shot.with_suffix(".failed.png")), full_page=True)
                raise
            page.wait_for_timeout(1500)  # let the data frames paint before the screenshot
            body = page.inner_text("body")
            for text in texts:
                assert text in body, f"{path or 'home'}: {text!r} not shown"
            assert page.locator('[data-testid="stException"]').count() == 0, f"{path}: an exception box"
            assert "Traceback" not in body
            page.screenshot(path=str(shot), full_page=True)
        browser.close()


class RealServers:
    """Start each server on first use; stop all of them (by PID) on close."""

    def __init__(self, root: Path | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="cryptoviz-test-")
            root = Path(self._tmp.name)
        self.root = Path(root)
        self.started: list[servers.Server] = []
        self._redis: servers.Server | None = None
        self._broker: servers.Server | None = None
        self._s3: servers.Server | None = None
        self.s3_access_key = "test" + secrets.token_hex(6)
        self.s3_secret_key = secrets.token_hex(16)
        self.s3_buckets = ["lake", "tansu"]

    def redis(self) -> servers.Server:
        if self._redis is None:
            self._redis = servers.start_redis(self.root / "redis", servers.free_port())
            self.started.append(self._redis)
        return self._redis

    def redis_client(self, **kw: Any) -> Redis:
        server = self.redis()
        return Redis(host=server.host, port=server.port, **kw)

    def broker(self) -> servers.Server:
        if self._broker is None:
            self._broker = servers.start_broker(self.root / "broker", servers.free_port())
            self.started.append(self._broker)
        return self._broker

    def start_durable_broker(self, port: int | None = None) -> servers.Server:
        """A broker whose messages live in the S3 server, so they survive a broker restart."""
        s3 = self.s3()
        server = servers.start_broker(
            self.root / "broker-durable",
            port or servers.free_port(),
            storage="s3://tansu/",
            s3={
                "endpoint": s3.extra["endpoint"],
                "access_key": self.s3_access_key,
                "secret_key": self.s3_secret_key,
            },
        )
        self.started.append(server)
        return server

    @property
    def bootstrap(self) -> str:
        return self.broker().address

    def s3(self) -> servers.Server:
        if self._s3 is None:
            self._s3 = servers.start_s3(
                self.root / "s3", servers.free_port(), self.s3_access_key, self.s3_secret_key, self.s3_buckets
            )
            self.started.append(self._s3)
        return self._s3

    def s3_env(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.s3().extra["endpoint"],
            "S3_ACCESS_KEY": self.s3_access_key,
            "S3_SECRET_KEY": self.s3_secret_key,
        }

    def env(self) -> dict[str, str]:
        """Environment variables that point a service at these servers."""
        r = self.redis()
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "REDIS_HOST": r.host,
            "REDIS_PORT": str(r.port),
            "CRYPTOVIZ_DATA_DIR": str(self.root / "data"),
        }

    def close(self) -> None:
        for server in reversed(self.started):
            servers.stop_pid(server.pid, grace_s=2)
        self.started.clear()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> RealServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def real_servers() -> Iterator[RealServers]:
    with RealServers() as s:
        yield s


def sample_quotes(
    symbols: tuple[str, ...] = ("BTC", "ETH"),
    n: int = 10,
    start: datetime | None = None,
    step: timedelta = timedelta(hours=1),
    base: float = 100.0,
) -> list[Quote]:
    """Deterministic quotes: per symbol a gently rising price, event times `step` apart."""
    t0 = start or datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        for j, sym in enumerate(symbols):
            price = base * (j + 1) * (1 + 0.001 * i)
            out.append(make_quote(sym, price, t0 + i * step, source="test", ingest_ts=t0 + i * step))
    return out


def shared_history_rows(limit: int | None = None, path: str = DEFAULT_REPLAY_FILES[1]) -> list[str]:
    """The first lines (after the header) of a shared history file, for small real-data tests."""
    out: list[str] = []
    with gzip.open(path, "rt") as f:
        next(f)
        for line in f:
            out.append(line.rstrip("\n"))
            if limit is not None and len(out) >= limit:
                break
    return out


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ListPublisher:
    """A publisher that keeps what it is given (a list sink), for testing the loops' logic."""

    def __init__(self, fail_times: int = 0) -> None:
        self.sent: list[Quote] = []
        self.fail_times = fail_times

    def publish(self, quotes: list[Quote]) -> int:
        from cryptoviz.scraper.publisher import PublishError

        if self.fail_times:
            self.fail_times -= 1
            raise PublishError("broker said no")
        self.sent.extend(quotes)
        return len(quotes)

    def close(self) -> None:
        pass


class ScriptedHTTP:
    """A local HTTP server answering each path from a script of (status, headers, body); the last repeats."""

    def __init__(self, routes: dict[str, list[tuple[int, dict, bytes]]]) -> None:
        import http.server
        import threading

        self.routes = {path: list(script) for path, script in routes.items()}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                outer.requests.append(self.path)
                script = outer.routes.get(path)
                if not script:
                    status, headers, body = 404, dict[str, str](), b'{"error":"not found"}'
                else:
                    status, headers, body = script.pop(0) if len(script) > 1 else script[0]
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def fill_dashboard_data(client: Redis, lake: str, symbols: tuple[str, ...] = ("BTC", "ETH"), rows: int = 400):
    """What the dashboard reads, written by the real writers from real history: ML views and state
    (the processor's engine and store), the latest quotes, a scraper heartbeat, and a small lake.
    Returns {symbol: (last output, model, position)} as the processor's store received it."""
    from cryptoviz import names
    from cryptoviz.lake.storage import filesystem
    from cryptoviz.lake.writer import quotes_table, write_batch
    from cryptoviz.ml import store
    from cryptoviz.models.engine import ModelConfig, Output, SymbolModel
    from cryptoviz.schema import encode
    from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
    from cryptoviz.telemetry import Telemetry

    history = read_history([DEFAULT_REPLAY_FILES[1]], symbols)[: rows * len(symbols) // 2]
    quotes = [q for batch in history_to_quotes(history) for q in batch]
    models = {s: SymbolModel(ModelConfig()) for s in symbols}
    changed: dict[str, tuple[Output, SymbolModel, tuple[int, int]]] = {}
    for i, q in enumerate(quotes):
        out = models[q.symbol].update(q.event_time, q.price_usd)
        if out is not None:
            changed[q.symbol] = (out, models[q.symbol], (0, i))
    store.write_batch(client, changed, 300)
    client.hset(names.QUOTES_LATEST, mapping={q.symbol: encode(q) for q in quotes[-len(symbols) :]})
    telemetry = Telemetry("scraper", client, instance="test-1")
    telemetry.incr("quotes_published", len(quotes))
    telemetry.publish("running")
    write_batch(*filesystem(lake), quotes_table(quotes), names.LAKE_QUOTES, 0)
    return changed
