"""Each topic's name and codec, as its senders and readers use them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cryptoviz import names, schema
from cryptoviz.contracts import ContractError
from cryptoviz.contracts import dead_letter as dead_letters
from cryptoviz.contracts.topics import DEAD_LETTER, RAW, STREAMING

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_each_topic_has_its_name():
    assert (RAW.name, STREAMING.name, DEAD_LETTER.name) == names.ALL_TOPICS


@pytest.mark.parametrize("topic", [RAW, STREAMING], ids=lambda t: t.name)
def test_a_quote_round_trips_in_the_bytes_the_schema_writes(topic):
    quote = schema.make_quote("BTC", 97_000.5, T0, market_cap_usd=1.9e12, ingest_ts=T0)
    data = topic.encode(quote)
    assert data == schema.encode(quote)  # the wire is unchanged
    assert topic.decode(data) == quote
    assert topic.decode(data, {"ETH", "BTC"}, T0, 0.0) == quote  # the consumer's checks, after the bytes


@pytest.mark.parametrize("topic", [RAW, STREAMING], ids=lambda t: t.name)
@pytest.mark.parametrize(
    ("raw", "reason"),
    [(b"\xff{", "bad_json"), (b"[1]", "not_an_object"), (b"", "empty_message"), (None, "empty_message")],
)
def test_a_quote_topic_refuses_garbage_with_the_reason(topic, raw, reason):
    with pytest.raises(schema.InvalidQuote) as refused:
        topic.decode(raw)
    assert refused.value.reason == reason


def test_a_dead_letter_round_trips_and_garbage_is_a_contract_error():
    letter = dead_letters.refused(
        b"x", "bad_json", names.ML_PROCESSOR, topic=STREAMING.name, partition=2, offset=9
    )
    data = DEAD_LETTER.encode(letter)
    assert data == dead_letters.encode(letter)
    assert DEAD_LETTER.decode(data) == letter
    for garbage in (b"\xff{", b'{"symbol": "BTC"}', b"", None):
        with pytest.raises(ContractError, match="DeadLetter"):
            DEAD_LETTER.decode(garbage)
