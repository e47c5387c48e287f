"""`crypto-dead-letter`: a message a consumer could not use, with why and where it came from. One
typed definition with its codec, for whoever sends one (`bus.DeadLetterProducer`) and whoever
reads them (`monitor.topics`, the topics page), both through `contracts.topics.DEAD_LETTER`."""

from __future__ import annotations

import time

import msgspec

from cryptoviz.contracts import ContractError

RAW_LIMIT = 10_000  # characters of the refused message kept


class DeadLetter(msgspec.Struct, frozen=True):
    reason: str  # why it was refused: a schema reason (`schema.REASONS`) or `internal_error:...`
    origin: str  # the service that refused it
    raw: str  # the message as received (UTF-8, undecodable bytes replaced), at most RAW_LIMIT characters
    ts: float  # when it was refused, epoch seconds
    topic: str | None = None  # where it was read: topic, partition, offset
    partition: int | None = None
    offset: int | None = None
    detail: str = ""


def refused(
    raw: bytes | None,
    reason: str,
    origin: str,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    detail: str = "",
) -> DeadLetter:
    text = (raw or b"").decode("utf-8", "replace")[:RAW_LIMIT]
    return DeadLetter(reason, origin, text, time.time(), topic, partition, offset, detail)


_DECODER = msgspec.json.Decoder(DeadLetter)


def encode(letter: DeadLetter) -> bytes:
    return msgspec.json.encode(letter)


def decode(raw: bytes | str | None) -> DeadLetter:
    """The dead letter in `raw`; ContractError when it is not one (empty, older or foreign)."""
    if not raw:
        raise ContractError("DeadLetter: empty message")
    try:
        return _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ContractError(f"DeadLetter: {exc}") from None
