"""ml:cards read by the thousand: the cards `contracts.encode_card` writes (CARD_LAYOUT, one size
for all) taken as one buffer and checked as columns, no Python object made per field. `Cards` is
what a reader gets: the mapping symbol -> MLCard (a card built when one is asked for), with a column
per field for what goes over every symbol (sums, tables)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
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
)

_NUMPY = {"d": "<f8", "q": "<i8", "B": "u1"}
_DTYPE = np.dtype(
    [("magic", "u1"), ("version", "u1")]
    + [(name, _NUMPY.get(code, f"S{code[:-1]}")) for name, code in CARD_LAYOUT]
)
assert _DTYPE.itemsize == CARD_SIZE
_CALIBRATED = MLCard.__struct_fields__.index("calibrated")
_SEPARATOR = 1  # a control character: never in a symbol (the schema's are printable)
_MSGPACK = msgspec.msgpack.Decoder(MLCard)  # the cards written before CARD_LAYOUT: a msgpack array


class Cards(Mapping[str, MLCard]):
    """Cards by symbol over their columns (a symbol twice: its last card, as a dict keeps)."""

    __slots__ = ("_index", "_rows")

    def __init__(self, symbols: list[str], rows: np.ndarray) -> None:
        index = dict(zip(symbols, range(len(symbols)), strict=True))
        if len(index) < len(symbols):
            rows = rows[list(index.values())]
            index = dict(zip(index, range(len(index)), strict=True))
        self._index, self._rows = index, rows

    @classmethod
    def build(cls, cards: Iterable[MLCard]) -> Cards:
        return decode_cards([encode_card(c) for c in cards])

    @classmethod
    def of(cls, cards: Mapping[str, MLCard]) -> Cards:
        """`cards` themselves when they are Cards (what a reader gives), else their columns."""
        return cards if isinstance(cards, Cards) else cls.build(cards.values())

    def __getitem__(self, symbol: str) -> MLCard:
        return _card(self._rows[self._index[symbol]].item())

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def column(self, field: str) -> np.ndarray:
        """A numeric field of every card, in the mapping's order (NaN where a card has None)."""
        if field in ("symbol", "action"):
            raise KeyError(f"{field} is not a number: iterate the mapping or use actions()")
        return self._rows[field]

    def actions(self) -> list[str]:
        return [CARD_ACTIONS[a] for a in self._rows["action"].tolist()]

    def live(self, now: float) -> Cards:
        """The cards not past their expiry at `now`."""
        keep = self._rows["expires_ts"] > now
        if keep.all():
            return self
        return Cards([s for s, k in zip(self._index, keep.tolist(), strict=True) if k], self._rows[keep])


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
    rows = np.frombuffer(table, _DTYPE)
    ok = (rows["magic"] == CARD_MAGIC) & (rows["version"] == CARD_VERSION)
    ok &= (rows["action"] < len(CARD_ACTIONS)) & (rows["calibrated"] <= 1)
    if not ok.all():
        raise ContractError(f"MLCard: a value is not a card of layout version {CARD_VERSION}")
    return Cards(_symbols(rows), rows)


def decode_card(raw: bytes) -> MLCard:
    """One card, in CARD_LAYOUT or the msgpack array written before it; ContractError otherwise."""
    if raw[:1] == bytes([CARD_MAGIC]):
        (card,) = decode_cards([raw]).values()
        return card
    try:
        return _MSGPACK.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContractError(f"MLCard: {exc}") from None


def _symbols(rows: np.ndarray) -> list[str]:
    """The symbols, in one decode: each one's bytes without its NUL padding, then a separator."""
    padded = np.full((len(rows), CARD_SYMBOL_BYTES + 1), _SEPARATOR, "u1")
    padded[:, :-1] = np.frombuffer(rows["symbol"].tobytes(), "u1").reshape(len(rows), CARD_SYMBOL_BYTES)
    used = padded != 0
    lengths = np.strings.str_len(rows["symbol"])  # up to the last byte that is not NUL
    if len(rows) and (lengths.min() == 0 or np.count_nonzero(used) != lengths.sum() + len(rows)):
        raise ContractError("MLCard: an empty symbol, or one with a NUL")
    try:
        symbols = padded[used].tobytes().decode().split(chr(_SEPARATOR))[:-1]
    except UnicodeDecodeError as exc:
        raise ContractError(f"MLCard: symbol: {exc}") from None
    if len(symbols) != len(rows):
        raise ContractError("MLCard: a symbol with a control character")
    return symbols


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
