"""`stack.json` round-trips through its contract, a file written before the contract still reads
(fields it lacks get their defaults), and a malformed one is refused with the field named."""

from __future__ import annotations

import json

import pytest

from cryptoviz.contracts import ContractError
from cryptoviz.contracts.stack_state import (
    ServerEntry,
    ServerExtra,
    ServiceEntry,
    StackState,
    SupervisorEntry,
    decode_state,
    encode_state,
    server_entry,
)
from cryptoviz.servers import Server

# what `cryptoviz up` wrote before the contract (json.dumps of a dict), after a supervisor restart
OLD_FILE = {
    "servers": {
        "s3": {
            "name": "s3",
            "pid": 101,
            "host": "127.0.0.1",
            "port": 8333,
            "log_path": "/data/logs/s3.log",
            "extra": {
                "endpoint": "http://127.0.0.1:8333",
                "ports": [40001, 40002, 40003, 40004, 40005],
                "console": "http://127.0.0.1:40005",
            },
            "address": "127.0.0.1:8333",
        },
        "broker": {
            "name": "broker",
            "pid": 102,
            "host": "127.0.0.1",
            "port": 9092,
            "log_path": "/data/logs/broker.log",
            "extra": {},
            "address": "127.0.0.1:9092",
        },
        "redis": {
            "name": "redis",
            "pid": 103,
            "host": "127.0.0.1",
            "port": 6379,
            "log_path": "/data/logs/redis.log",
            "extra": {},
            "address": "127.0.0.1:6379",
        },
    },
    "services": {
        "scraper": {
            "pid": 201,
            "log_path": "/data/logs/scraper.log",
            "started_ts": 1767000000.5,
            "metrics_port": 9400,
        },
        "dashboard": {
            "pid": 202,
            "log_path": "/data/logs/dashboard.log",
            "started_ts": 1767000001.0,
            "metrics_port": None,
            "port": 8501,
        },
        "ml-processor": {
            "pid": 203,
            "log_path": "/data/logs/ml-processor.log",
            "started_ts": 1767000100.0,
            "metrics_port": 9401,
            "last_error": "ValueError: invalid setting ML_WEIGHTS",
            "last_exit_ts": 1767000090.0,
            "restarts": 2,
            "restart_times": [1767000050.0, 1767000100.0],
        },
    },
    "started": 1766999990.0,
    "supervisor": {"pid": 300, "log_path": "/data/logs/supervisor.log", "metrics_port": 9409},
    "healthy_after_s": 41.2,
}


def test_a_file_written_before_the_contract_reads_and_is_written_back_in_the_same_shape():
    state = decode_state(json.dumps(OLD_FILE, indent=2))
    assert state.servers["s3"].extra.endpoint == "http://127.0.0.1:8333"
    assert state.servers["broker"].address == "127.0.0.1:9092"
    assert state.services["dashboard"].port == 8501 and state.services["dashboard"].metrics_port is None
    ml = state.services["ml-processor"]
    assert (ml.restarts, ml.restart_times, ml.last_error) == (
        2,
        [1767000050.0, 1767000100.0],
        "ValueError: invalid setting ML_WEIGHTS",
    )
    assert state.supervisor == SupervisorEntry(300, "/data/logs/supervisor.log", 9409)
    assert state.healthy_after_s == 41.2
    # the same keys on disk (a null is left out: it reads back as the default it is)
    assert json.loads(encode_state(state)) == _without_nulls(OLD_FILE)
    assert decode_state(encode_state(state)) == state


def test_a_state_round_trips_and_a_default_stays_out_of_the_file():
    state = StackState(started=1.0)
    state.servers["redis"] = ServerEntry("redis", 7, "127.0.0.1", 6379, "/l/redis.log", "127.0.0.1:6379")
    state.services["monitor"] = ServiceEntry(8, "/l/monitor.log", metrics_port=9403)
    back = decode_state(encode_state(state))
    assert back == state
    doc = json.loads(encode_state(state))
    assert doc["services"]["monitor"] == {"pid": 8, "log_path": "/l/monitor.log", "metrics_port": 9403}
    assert "supervisor" not in doc and "healthy_after_s" not in doc  # as `up` writes it until the end
    assert doc["servers"]["redis"]["extra"] == {}
    assert b"\n  " in encode_state(state), "indented, for people too"
    assert back.pids() == {"redis": 7, "monitor": 8}
    back.supervisor = SupervisorEntry(9, "/l/supervisor.log")
    assert back.pids() == {"redis": 7, "monitor": 8, "supervisor": 9}


def test_fields_a_file_lacks_get_their_defaults():
    state = decode_state(
        b'{"servers": {"broker": {"name": "broker", "pid": 1, "host": "h", "port": 2, "log_path": "b.log",'
        b' "address": "h:2"}}, "services": {"scraper": {"pid": 3, "log_path": "s.log"}}}'
    )
    assert state.supervisor is None and state.healthy_after_s is None and state.started is None
    assert state.servers["broker"].extra == ServerExtra() and not state.servers["broker"].held
    scraper = state.services["scraper"]
    assert (scraper.restarts, scraper.restart_times, scraper.held) == (0, [], False)
    assert scraper.last_error is None and scraper.metrics_port is None and scraper.port is None
    assert decode_state(b"{}") == StackState()


def test_each_entry_has_its_own_restart_times():
    a, b = ServiceEntry(1, "a.log"), ServiceEntry(2, "b.log")
    a.restart_times.append(5.0)
    assert b.restart_times == []


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"{not json", "malformed"),
        (b"[]", "Expected `object`, got `array`"),
        (b'{"services": {"scraper": {"pid": "12", "log_path": "s.log"}}}', "$.services[...].pid"),
        (b'{"services": {"scraper": {"pid": 12}}}', "missing required field `log_path`"),
        (b'{"supervisor": {"pid": 1, "log_path": "l", "metrics_port": "9409"}}', "$.supervisor.metrics_port"),
        (b'{"servers": {"s3": {"name": "s3", "pid": 1}}}', "missing required field"),
    ],
)
def test_a_malformed_file_is_refused_with_what_is_wrong(raw, why):
    with pytest.raises(ContractError, match=r"^stack state: ") as err:
        decode_state(raw)
    assert why in str(err.value)


def test_a_server_entry_is_the_servers_json_form_and_its_address():
    server = Server(
        "s3", 5, "127.0.0.1", 8333, "s3.log", {"endpoint": "http://x", "ports": [1], "console": "c"}
    )
    entry = server_entry(server.to_json() | {"address": server.address})
    assert entry.extra == ServerExtra("http://x", "c", [1]) and entry.address == "127.0.0.1:8333"
    with pytest.raises(ContractError, match="address"):
        server_entry(server.to_json())


def _without_nulls(doc):
    if isinstance(doc, dict):
        return {k: _without_nulls(v) for k, v in doc.items() if v is not None}
    return doc
