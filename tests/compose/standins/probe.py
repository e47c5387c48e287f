"""Healthcheck of the broker stand-in: exit 0 when something accepts TCP on the given port."""

import socket
import sys

try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
except OSError as exc:
    sys.exit(f"port {sys.argv[1]}: {exc}")
