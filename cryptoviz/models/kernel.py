"""Which build of the model core runs: the ahead-of-time one, or numba's JIT as a fallback.

`cryptoviz.models.core` is the one source. `python -m cryptoviz.models.build_core` (make install,
the ml-processor image) compiles its `run` ahead of time into an extension module of this package
named for a fingerprint of that source and the layout, `_core_<fingerprint>`: importing it needs
neither numba nor LLVM (the JIT's LLVM alone takes about 100 MB per process) and starts at once.
When no module of this fingerprint exists (no C compiler at install, or core.py edited since),
`run` is numba's JIT of the same source, compiled on first use or loaded from numba's cache.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptoviz.models import layout

SOURCE = Path(__file__).with_name("core.py")


def fingerprint() -> str:
    """Of core.py's text and every constant of the layout it reads."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(layout.fingerprint().encode())
    return digest.hexdigest()[:16]


MODULE = f"_core_{fingerprint()}"


def _load() -> tuple[Callable[..., Any], str]:
    try:
        module = importlib.import_module(f"cryptoviz.models.{MODULE}")
    except ImportError:
        from cryptoviz.models import core  # numba and LLVM, imported only here

        return core.run, "jit"
    return module.run, "aot"


run, build = _load()  # build: "aot" or "jit"
