"""How the compiled core is compiled: numba's options and where its cache lives.

numba caches the compiled core next to this package (or under NUMBA_CACHE_DIR), in a folder named
for the fingerprint of the core's sources and the layout (`core_source`): numba itself checks only
the file of the function it caches, not the helpers and constants that file imports.

The core allocates nothing (its scratch memory, `work`, is the caller's), so it runs without
numba's reference counting (`_nrt=False`; build_core sets the same for the ahead-of-time build):
every array handed to a step or taken out of `rings` cost an atomic increment and decrement, a
third of the core's time under `perf`. The steps are inlined into `run` by numba itself
(inline="always"), which drops the calls' cost too. Without reference counting, no array may be
made in the core.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import numba

from cryptoviz.models import core_source

_base = os.environ.get("NUMBA_CACHE_DIR") or str(Path(__file__).parent / "__pycache__")
cast(Any, numba.config).CACHE_DIR = str(Path(_base) / f"core-{core_source.fingerprint()}")  # no stubs
_OPTIONS: dict[str, Any] = {"cache": True, "_nrt": False}  # `_nrt` is not in numba's stubs
njit = numba.njit(**_OPTIONS)
helper = numba.njit(inline="always", **_OPTIONS)

HOUR = 3600.0
