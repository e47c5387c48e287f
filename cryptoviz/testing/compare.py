"""Comparing what two engines produced: nested JSON-like values, floats to a relative tolerance."""

from __future__ import annotations

import math

REL = 1e-9


def same(a: object, b: object, path: str = "") -> None:
    """a == b, floats to REL relative (or 1e-12 absolute near zero), through dicts (in any key
    order, as JSON objects), lists and tuples."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {list(a)} vs {b!r}"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{path}: {a!r} vs {b!r}"
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{k}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), f"{path}: {a!r} vs {b!r}"
        if math.isinf(a) or math.isnan(a):
            assert a == b or (math.isnan(a) and math.isnan(b)), f"{path}: {a!r} vs {b!r}"
        else:
            assert math.isclose(a, b, rel_tol=REL, abs_tol=1e-12), f"{path}: {a!r} vs {b!r}"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"
