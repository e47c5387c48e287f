"""Which files are the compiled model core, and a fingerprint of their text and of every constant of
the layout they read: the name of the core's ahead-of-time module (`kernel`) and the folder of
numba's cache of its JIT (`core_jit`), so an edited core is never served by code built before."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptoviz.models import layout

SOURCES = tuple(sorted(Path(__file__).parent.glob("core*.py")))  # this file among them


def fingerprint() -> str:
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.read_bytes())
    digest.update(layout.fingerprint().encode())
    return digest.hexdigest()[:16]
