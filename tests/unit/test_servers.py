"""Reading a server's log for the port it could not bind."""

from __future__ import annotations

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
