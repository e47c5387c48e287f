"""Which build of the model core runs: the ahead-of-time one, or numba's JIT as a fallback.

`cryptoviz.models.core` (the ticks, with the `core_*` modules it inlines) and `core_summary` (a
scoreboard's summary numbers) are the one source (`core_source.SOURCES`).
`python -m cryptoviz.models.build_core` (make install, the ml-processor image) compiles
their `run` and `summarize` ahead of time into an extension module of this package named for a
fingerprint of that source and the layout, `_core_<fingerprint>`: importing it needs neither numba
nor LLVM (the JIT's LLVM alone takes about 100 MB per process) and starts at once. When no module
of this fingerprint exists (no C compiler at install, or the source edited since), both are numba's
JIT of the same source, compiled on first use or loaded from numba's cache.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from cryptoviz.models import core_source

MODULE = f"_core_{core_source.fingerprint()}"


def _load() -> tuple[Callable[..., Any], Callable[..., Any], str]:
    try:
        module = importlib.import_module(f"cryptoviz.models.{MODULE}")
    except ImportError:
        from cryptoviz.models import core, core_summary  # numba and LLVM, imported only here

        return core.run, core_summary.summarize, "jit"
    return module.run, module.summarize, "aot"


run, summarize, build = _load()  # build: "aot" or "jit"
