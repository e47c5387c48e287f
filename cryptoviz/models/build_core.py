"""Compile the model core ahead of time: `python -m cryptoviz.models.build_core`.

Writes `cryptoviz/models/_core_<fingerprint>.*.so` (see `kernel`) with numba's pycc, which needs a
C compiler and Python's headers, and removes the modules of other fingerprints. When that cannot be
done it says why and exits 0 with the JIT's cache warmed instead: the platform runs either way.

While pycc compiles, a second process fills numba's cache for the JIT of the same source, side by
side on two cores (both in about 15 s on a 2-core machine): a process that cannot load the module
then starts at once instead of compiling, and the test comparing the two builds finds both ready.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).parent


def signature(queues: int) -> str:
    """`core.run`'s types, as `ModelBook.apply` passes them."""
    return (
        f"Tuple((int64, int64))(float64[:, ::1], UniTuple(float64[:, :, ::1], {queues}), int64[:, :, ::1], "
        "float64[::1], int64[::1], float64[::1], float64[::1], float64[:, ::1], float64[::1])"
    )


# `core_summary.summarize`'s types, as `ModelBook.summary` passes them
SUMMARIZE = "void(float64[:, ::1], int64, float64[::1])"


def build() -> Path:
    from numba.core.errors import NumbaPendingDeprecationWarning
    from numba.pycc import CC

    from cryptoviz.models import core, core_summary, kernel, layout

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumbaPendingDeprecationWarning)  # pycc: no successor yet
        cc = CC(kernel.MODULE)
    cc.output_dir = str(HERE)
    cc.verbose = False
    cc.use_nrt = False  # as core.njit: the core allocates nothing, so no reference counting
    cc.export("run", signature(layout.NQ))(core.run.py_func)
    cc.export("summarize", SUMMARIZE)(core_summary.summarize.py_func)
    cc.compile()
    built = next(HERE.glob(f"{kernel.MODULE}.*"))
    for old in HERE.glob("_core_*"):
        if old.name.split(".")[0] != kernel.MODULE:
            old.unlink()
    return built


_WARM_JIT = (
    "from cryptoviz.models import core, core_summary, kernel; "
    "kernel.run, kernel.summarize = core.run, core_summary.summarize; "
    "from cryptoviz.models.book import warm; warm()"
)


def main() -> int:
    from cryptoviz.models import kernel

    if kernel.build == "aot":
        print(f"model core: {kernel.MODULE} is built")
        return 0
    start = time.perf_counter()
    jit = subprocess.Popen([sys.executable, "-c", _WARM_JIT])
    try:
        built: Path | None = build()
    except Exception as exc:  # no compiler, no headers: the JIT runs the same source
        built, failure = None, f"{type(exc).__name__}: {str(exc)[:200]}"
    if jit.wait() != 0:
        print(f"model core: warming the JIT's cache failed (exit {jit.returncode})", file=sys.stderr)
    if built is None:
        print(
            f"model core: not compiled ahead of time ({failure}); numba's JIT will run it (warmed in "
            f"{time.perf_counter() - start:.1f} s, about 100 MB more per process)",
            file=sys.stderr,
        )
        return 0
    print(f"model core compiled ahead of time in {time.perf_counter() - start:.1f} s: {built.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
