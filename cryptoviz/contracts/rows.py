"""Fixed-size binary records read by the thousand (the ML cards, the latest quotes): the numpy type
of a layout, the symbols of a buffer of records in one decode, and `Records`, the mapping symbol ->
value over their columns (a value built when one is asked for)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Self, TypeVar

import numpy as np

from cryptoviz.contracts import ContractError

V = TypeVar("V")
_NUMPY = {"d": "<f8", "q": "<i8", "B": "u1"}
_SEPARATOR = 1  # a control character: never in a symbol (the schema's are printable)


def dtype(layout: tuple[tuple[str, str], ...], size: int) -> np.dtype:
    """The records' numpy type: the magic byte, the layout's version, then the layout's fields."""
    fields = [(name, _NUMPY.get(code, f"S{code[:-1]}")) for name, code in layout]
    out = np.dtype([("magic", "u1"), ("version", "u1"), *fields])
    assert out.itemsize == size, (out.itemsize, size)
    return out


def symbols(rows: np.ndarray, width: int, contract: str) -> list[str]:
    """The symbols, in one decode: each one's bytes without its NUL padding, then a separator."""
    padded = np.full((len(rows), width + 1), _SEPARATOR, "u1")
    padded[:, :-1] = np.frombuffer(rows["symbol"].tobytes(), "u1").reshape(len(rows), width)
    used = padded != 0
    lengths = np.strings.str_len(rows["symbol"])  # up to the last byte that is not NUL
    if len(rows) and (lengths.min() == 0 or np.count_nonzero(used) != lengths.sum() + len(rows)):
        raise ContractError(f"{contract}: an empty symbol, or one with a NUL")
    try:
        out = padded[used].tobytes().decode().split(chr(_SEPARATOR))[:-1]
    except UnicodeDecodeError as exc:
        raise ContractError(f"{contract}: symbol: {exc}") from None
    if len(out) != len(rows):
        raise ContractError(f"{contract}: a symbol with a control character")
    return out


class Records(Mapping[str, V]):
    """Values by symbol over their records' columns (a symbol twice: its last, as a dict keeps);
    a subclass says how one record's values make a value (`_value`)."""

    __slots__ = ("_index", "_rows")

    def __init__(self, symbols: list[str], rows: np.ndarray) -> None:
        index = dict(zip(symbols, range(len(symbols)), strict=True))
        if len(index) < len(symbols):
            rows = rows[list(index.values())]
            index = dict(zip(index, range(len(index)), strict=True))
        self._index, self._rows = index, rows

    @staticmethod
    def _value(values: tuple[Any, ...]) -> V:
        raise NotImplementedError

    def __getitem__(self, symbol: str) -> V:
        return self._value(self._rows[self._index[symbol]].item())

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def where(self, keep: np.ndarray) -> Self:
        """The records `keep` marks (a boolean per record, in the mapping's order)."""
        if keep.all():
            return self
        return type(self)([s for s, k in zip(self._index, keep.tolist(), strict=True) if k], self._rows[keep])
