"""In-memory stand-ins for the collaborators of the loops' logic (never for Kafka, Redis or S3):
a clock moved by hand, a publisher that keeps what it is given, an HTTP API that plays a script."""

from __future__ import annotations

import http.server
import threading

from cryptoviz.schema import Quote


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
