"""Run inside a service container (`docker-compose exec -T scraper python - < this`): every message of
the platform's topics, read from the log start to the high watermark, summed up as one JSON line:
{topic: {"messages": N, "keys": {symbol: n}, "distinct": n of distinct (symbol, source_ts)}}."""

import json
import os
from collections import Counter

from kafka import KafkaConsumer, TopicPartition

from cryptoviz import bus, names

bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
out = {}
for topic in (names.TOPIC_RAW, names.TOPIC_STREAMING):
    bounds = bus.offset_bounds(bootstrap, topic)
    cons = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    tps = [TopicPartition(topic, p) for p in bounds]
    cons.assign(tps)
    for tp in tps:
        cons.seek(tp, bounds[tp.partition][0])
    keys: Counter[str] = Counter()
    distinct = set()
    left = {p: end - begin for p, (begin, end) in bounds.items()}
    idle = 0
    while any(n > 0 for n in left.values()) and idle < 50:
        batch = cons.poll(timeout_ms=200, max_records=5000)
        idle = 0 if batch else idle + 1
        for tp, records in batch.items():
            for rec in records:
                if rec.offset >= bounds[tp.partition][1]:
                    continue
                left[tp.partition] -= 1
                keys[(rec.key or b"").decode()] += 1
                try:
                    doc = json.loads(rec.value)
                    distinct.add((doc["symbol"], doc["source_ts"]))
                except (ValueError, KeyError, TypeError):
                    pass
    cons.close()
    out[topic] = {"messages": sum(keys.values()), "keys": dict(keys), "distinct": len(distinct)}
print(json.dumps(out))
