"""The harness starts real servers: produce/consume with a group, Redis round trip, S3 put/list."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest
from kafka import TopicPartition

from cryptoviz import bus, servers


def test_consumer_group_of_two_shares_partitions(bootstrap, topic_factory):
    """Two members, each polling in its own thread as two processes would, split four partitions."""
    topic = topic_factory("group", partitions=4)
    stop = threading.Event()
    seen: list[set[str]] = [set(), set()]
    held: list[set[int]] = [set(), set()]

    def member(idx: int) -> None:
        consumer = bus.consumer(bootstrap, topic, group_id=f"g-{topic}")
        try:
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=200).values():
                    seen[idx].update(r.value.decode() for r in records)
                held[idx] = {tp.partition for tp in consumer.assignment()}
        finally:
            consumer.close()

    threads = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(2)]
    for t in threads:
        t.start()

    def settled() -> bool:
        return all(held) and held[0] | held[1] == {0, 1, 2, 3}

    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not settled():
        time.sleep(0.1)
    try:
        assert settled(), f"the group did not settle: {held}"
        prod = bus.producer(bootstrap)
        for i in range(200):  # every partition gets a share, whatever the keys hash to
            prod.send(topic, key=f"k{i % 8}", value=f"v{i}".encode(), partition=i % 4)
        prod.flush()
        prod.close()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(seen[0] | seen[1]) < 200:
            time.sleep(0.1)
        final = [set(h) for h in held]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert len(seen[0] | seen[1]) == 200
    assert seen[0] and seen[1], "both members consumed a share"
    assert not (seen[0] & seen[1]), "no message is consumed twice"
    assert all(final) and not (final[0] & final[1]), "each holds partitions, none held twice"
    assert final[0] | final[1] == {0, 1, 2, 3}


def test_high_watermarks_count_every_message(bootstrap, topic_factory):
    topic = topic_factory("hw", partitions=2)
    prod = bus.producer(bootstrap)
    for i in range(57):
        prod.send(topic, key=f"k{i % 5}", value=b"x")
    prod.flush()
    ends = bus.high_watermarks(bootstrap, topic)
    assert sum(ends.values()) == 57
    assert bus.topic_message_counts(bootstrap, (topic,)) == {topic: 57}
    assert set(ends) == {0, 1} and isinstance(TopicPartition(topic, 0), TopicPartition)


def test_redis_round_trip(redis_client):
    redis_client.hset("h", mapping={"a": "1"})
    assert redis_client.hget("h", "a") == b"1"


def test_s3_put_and_list(real):
    env = real.s3_env()
    s3 = boto3.client(
        "s3",
        endpoint_url=env["S3_ENDPOINT_URL"],
        aws_access_key_id=env["S3_ACCESS_KEY"],
        aws_secret_access_key=env["S3_SECRET_KEY"],
        region_name="us-east-1",
    )
    s3.put_object(Bucket="lake", Key="probe/one.txt", Body=b"hello")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="probe/")["Contents"]]
    assert keys == ["probe/one.txt"]
    assert s3.get_object(Bucket="lake", Key="probe/one.txt")["Body"].read() == b"hello"


def test_stop_pids_stops_side_by_side_and_kills_what_ignores_the_signal(tmp_path):
    """Every process gets SIGTERM at once; one that ignores it is SIGKILLed after the grace."""
    import subprocess
    import sys

    from cryptoviz import servers

    polite = (
        "import pathlib, signal, sys, time; p = pathlib.Path(sys.argv[1]); "
        "signal.signal(signal.SIGTERM, lambda *a: (p.with_suffix('.term').touch(), sys.exit(0))); "
        "p.touch(); time.sleep(60)"
    )
    stubborn = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    ready = [tmp_path / f"p{i}.ready" for i in range(3)]
    codes = (polite, polite, stubborn)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)])
        for code, path in zip(codes, ready, strict=True)
    ]
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in ready) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(p.exists() for p in ready)
    assert servers.stop_pids([p.pid for p in procs], grace_s=1) == {p.pid for p in procs}
    terms = [p.with_suffix(".term").exists() for p in ready]
    assert terms == [True, True, False]  # two stopped on SIGTERM, the third was killed


@pytest.mark.parametrize("interrupt", [None, KeyboardInterrupt])
def test_a_server_that_is_not_ready_in_time_or_whose_wait_is_interrupted_is_stopped(tmp_path, interrupt):
    """`up` records a server's pid once it is ready: one given up on before (its wait timed out, a
    Ctrl-C meanwhile) must not be left running with the port the next `up` needs."""
    proc = servers.spawn([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "slow.log")

    def check() -> bool:
        if interrupt is not None:
            raise interrupt
        return False

    with pytest.raises(servers.ServerError if interrupt is None else interrupt):
        servers.wait_until(check, 0.5, "a slow server", proc)
    assert proc.poll() is not None, "stopped"


def test_s3_takes_new_side_ports_when_one_is_taken_after_it_was_chosen(tmp_path):
    """A side port free when chosen can be taken before the server binds it (seen in a clean-clone
    run: the Iceberg listener's port, taken meanwhile); the server then starts on new ones."""
    ports = servers.free_ports(len(servers.WEED_PORT_FLAGS))
    iceberg = servers.WEED_PORT_FLAGS.index("s3.port.iceberg")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports[iceberg]))
        taken.listen()
        s3 = servers.start_s3(tmp_path / "s3", servers.free_port(), "key", "secret-key", ["lake"], ports)
    try:
        assert ports[iceberg] not in s3.extra["ports"]
        assert f"port {ports[iceberg]} for Iceberg" in Path(s3.log_path).read_text()
        assert servers.port_open("127.0.0.1", s3.port)
    finally:
        servers.stop_pid(s3.pid)


HOLDER = """
import sys
from cryptoviz.testing.harness import RealServers

with RealServers() as real:
    print(real.redis().pid, flush=True)
    sys.stdin.read()  # until the test's SIGTERM
"""


def test_a_process_stopped_by_sigterm_stops_the_servers_it_started():
    """A bench or a test run ended by `timeout` or a cancelled job leaves no server running."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    redis_pid = int(holder.stdout.readline())
    assert servers.pid_alive(redis_pid)
    holder.send_signal(signal.SIGTERM)
    assert holder.wait(timeout=30) == 128 + signal.SIGTERM
    assert not servers.pid_alive(redis_pid)
