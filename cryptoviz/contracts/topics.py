"""The Kafka topics, each bound to the codec of what it carries: whoever sends to a topic encodes
with its `encode`, whoever reads one decodes with its `decode`, so no caller pairs a name with a
codec by hand. The names themselves live in `cryptoviz.names` (settings, compose and the tests use
them bare); the codecs in `cryptoviz.schema` (the quote) and `contracts.dead_letter`.

`decode` returns the value or raises the codec's own error: `schema.InvalidQuote` with its reason
for a quote, `ContractError` for a dead letter. A quote's `decode` takes the consumer's checks
after the bytes (accepted symbols, its clock, how far ahead of it a quote may be dated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, Generic, ParamSpec, TypeVar

from cryptoviz import names, schema
from cryptoviz.contracts import dead_letter

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True)
class Topic(Generic[T, P]):
    """A topic's name and the codec of its messages. `decode` takes a message's value as read (None:
    a message without one), then P: what else the codec takes."""

    name: str
    encode: Callable[[T], bytes]
    decode: Callable[Concatenate[bytes | None, P], T]


RAW = Topic(names.TOPIC_RAW, schema.encode, schema.decode)  # every quote, for the lake
STREAMING = Topic(names.TOPIC_STREAMING, schema.encode, schema.decode)  # every quote, for the ML processor
DEAD_LETTER = Topic(names.TOPIC_DEAD_LETTER, dead_letter.encode, dead_letter.decode)
