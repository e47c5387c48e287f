"""Placeholder for Redpanda Console in tests: answers /admin/health and says what it is on /."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"<h1>Redpanda Console stand-in</h1><p>The real Console runs here when its image can be pulled.</p>"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok" if self.path.startswith("/admin/health") else PAGE
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if body == b"ok" else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
