"""The peer job in Quix Streams, run by bench/peer_quixstreams.py in a venv of its own: each symbol's
mean price over a sliding 1 h event-time window, written to Redis. Prints one JSON line.

Usage: python quix_job.py BROKER TOPIC GROUP STATE_DIR REDIS_PORT REDIS_PASSWORD EXPECTED
"""

import json
import sys
import time
from datetime import datetime, timedelta

import quixstreams.dataframe.windows.aggregations as agg
from quixstreams import Application
from quixstreams.sinks.community.redis import RedisSink

broker, topic_name, group, state_dir, redis_port, redis_password, expected = sys.argv[1:8]
expected_n = int(expected)
seen = {"n": 0, "first": 0.0, "last": 0.0}


def event_ms(value, headers, timestamp, timestamp_type) -> int:
    return int(datetime.fromisoformat(value["source_ts"].replace("Z", "+00:00")).timestamp() * 1000)


def count(value):
    if seen["n"] == 0:
        seen["first"] = time.perf_counter()
    seen["n"] += 1
    if seen["n"] == expected_n:
        seen["last"] = time.perf_counter()
        app.stop()
    return value


app = Application(
    broker_address=broker,
    consumer_group=group,
    auto_offset_reset="earliest",
    state_dir=state_dir,
    use_changelog_topics=False,
    loglevel="WARNING",
)
topic = app.topic(topic_name, value_deserializer="json", timestamp_extractor=event_ms)
sdf = app.dataframe(topic)
sdf = sdf.sliding_window(duration_ms=timedelta(hours=1)).agg(mean=agg.Mean("price_usd")).current()
sdf = sdf.apply(count)
sdf.sink(
    RedisSink(
        host="127.0.0.1",
        port=int(redis_port),
        db=0,
        password=redis_password or None,
        key_serializer=lambda key, value: f"peer:quix:{key.decode() if isinstance(key, bytes) else key}",
        value_serializer=lambda value: json.dumps({"mean": value["mean"], "end": value["end"]}),
    )
)
app.run()
ended = time.perf_counter()
print(json.dumps({"processed": seen["n"], "first": seen["first"], "last": seen["last"], "ended": ended}))
