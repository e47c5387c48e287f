"""ml:cards read by the thousand: the cards `contracts.encode_card` writes (CARD_LAYOUT, one size
for all) taken as one buffer and checked as columns, no Python object made per field. `Cards` is
what a reader gets: the mapping symbol -> MLCard (a card built when one is asked for), with a column
per field for what goes over every symbol (sums, tables)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
import numpy as np

from cryptoviz.contracts import (
    CARD_ACTION,
    CARD_ACTIONS,
    CARD_LAYOUT,
    CARD_MAGIC,
    CARD_NULLABLE,
    CARD_SIZE,
    CARD_SYMBOL_BYTES,
    CARD_VERSION,
    ContractError,
    MLCard,
    encode_card,
    rows,
)

_DTYPE = rows.dtype(CARD_LAYOUT, CARD_SIZE)
_CALIBRATED = MLCard.__struct_fields__.index("calibrated")
_MSGPACK = msgspec.msgpack.Decoder(MLCard)  # the cards written before CARD_LAYOUT: a msgpack array


class Cards(rows.Records[MLCard]):
    """Cards by symbol over their columns (a symbol twice: its last card, as a dict keeps)."""

    __slots__ = ()

    @staticmethod
    def _value(values: tuple[Any, ...]) -> MLCard:
        return _card(values)

    @classmethod
    def build(cls, cards: Iterable[MLCard]) -> Cards:
        return decode_cards([encode_card(c) for c in cards])

    @classmethod
    def of(cls, cards: Mapping[str, MLCard]) -> Cards:
        """`cards` themselves when they are Cards (what a reader gives), else their columns."""
        return cards if isinstance(cards, Cards) else cls.build(cards.values())

    def column(self, field: str) -> np.ndarray:
        """A numeric field of every card, in the mapping's order (NaN where a card has None)."""
        if field in ("symbol", "action"):
            raise KeyError(f"{field} is not a number: iterate the mapping or use actions()")
        return self._rows[field]

    def actions(self) -> list[str]:
        return [CARD_ACTIONS[a] for a in self._rows["action"].tolist()]

    def live(self, now: float) -> Cards:
        """The cards not past their expiry at `now`."""
        return self.where(self._rows["expires_ts"] > now)


def decode_cards(raws: list[bytes]) -> Cards:
    """Every card in one buffer. ContractError when any one is not a card in CARD_LAYOUT (a reader
    then takes them one by one, `decode_card`, to leave out only that one)."""
    if raws and set(map(len, raws)) != {CARD_SIZE}:
        raise ContractError(f"MLCard: a value is not the {CARD_SIZE} bytes of a card")
    return decode_card_table(b"".join(raws))


def decode_card_table(table: bytes) -> Cards:
    """The cards of ml:cards' table (`row_tables`: every card, one after another), as `decode_cards`."""
    if len(table) % CARD_SIZE:
        raise ContractError(f"MLCard: a table of {len(table)} bytes is not rows of {CARD_SIZE}")
    records = np.frombuffer(table, _DTYPE)
    ok = (records["magic"] == CARD_MAGIC) & (records["version"] == CARD_VERSION)
    ok &= (records["action"] < len(CARD_ACTIONS)) & (records["calibrated"] <= 1)
    if not ok.all():
        raise ContractError(f"MLCard: a value is not a card of layout version {CARD_VERSION}")
    return Cards(rows.symbols(records, CARD_SYMBOL_BYTES, "MLCard"), records)


def decode_card(raw: bytes) -> MLCard:
    """One card, in CARD_LAYOUT or the msgpack array written before it; ContractError otherwise."""
    if raw[:1] == bytes([CARD_MAGIC]):
        (card,) = decode_cards([raw]).values()
        return card
    try:
        return _MSGPACK.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContractError(f"MLCard: {exc}") from None


def _card(values: tuple[Any, ...]) -> MLCard:
    """The card of one row's values (magic, version, then the fields)."""
    fields = list(values[2:])
    fields[0] = fields[0].decode()
    fields[CARD_ACTION] = CARD_ACTIONS[fields[CARD_ACTION]]
    fields[_CALIBRATED] = bool(fields[_CALIBRATED])
    for i in CARD_NULLABLE:
        if fields[i] != fields[i]:  # NaN
            fields[i] = None
    return MLCard(*fields)
