"""Reading a server's log for the port it could not bind."""

from __future__ import annotations

import socket

from cryptoviz import servers

# the two ways `weed mini` says it, as logged in this repo's runs
BEFORE_IT_LOOKED = (
    "E1127 08:01:02.586821 mini.go:1244 Port allocation failed: port 36907 for Iceberg (specified by "
    "flag s3.port.iceberg) is not available on 127.0.0.1 and cannot be used\n"
)
AT_ITS_BIND = (
    "F1127 07:47:05.438529 s3.go:588 Iceberg REST Catalog listener on 127.0.0.1:59021 error: listen "
    "tcp 127.0.0.1:59021: bind: address already in use\n"
)


def test_the_port_a_server_could_not_bind_is_read_from_what_it_logged_since_its_start(tmp_path):
    log = tmp_path / "s3.log"
    log.write_text(BEFORE_IT_LOOKED)
    assert servers._port_taken(log, 0) == 36907
    start = log.stat().st_size  # a second start, appended to the same log
    with log.open("a") as f:
        f.write("I1127 S3 starting\n")
    assert servers._port_taken(log, start) is None
    with log.open("a") as f:
        f.write(AT_ITS_BIND)
    assert servers._port_taken(log, start) == 59021


def test_a_servers_port_is_drawn_below_the_ephemeral_range_and_free(monkeypatch, tmp_path):
    """Outgoing connections take their local ports from the ephemeral range: a port drawn there,
    free when drawn, can be taken by one before the server binds it (the dashboard of a test stack
    once found its port so). Below it, only another server could."""
    ephemeral = tmp_path / "ip_local_port_range"
    ephemeral.write_text("32768\t60999\n")
    monkeypatch.setattr(servers, "_EPHEMERAL_RANGE", ephemeral)
    ports = servers.free_ports(20)
    assert len(set(ports)) == 20 and all(10_000 <= p < 32768 for p in ports)
    with socket.socket() as held:  # a taken port is never drawn
        held.bind(("127.0.0.1", ports[0]))
        monkeypatch.setattr(servers._random, "choice", lambda span: ports[0] if span else 0)
        with_fallback = servers.free_ports(1, attempts=3)
        assert with_fallback[0] != ports[0]
    monkeypatch.undo()
    monkeypatch.setattr(servers, "_EPHEMERAL_RANGE", ephemeral)
    ephemeral.write_text("1024\t65535\n")  # no room below: the kernel chooses
    assert servers._listen_range() is None
    assert 1024 <= servers.free_port() <= 65535
    ephemeral.unlink()
    assert servers._listen_range() is None
    base = servers.free_port_run(10)
    for port in range(base, base + 10):
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
