"""What the command line prints: the project's own progress and summaries, not the chatter of its libraries.

Two sources of noise, both outside this project's code (measured with jax/jaxlib 0.9.2, mujoco 4.0.0):

- XLA:CPU logs two error lines of several kilobytes for every program loaded from JAX's persistent compilation
  cache ("Loading XLA:CPU AOT result. Target machine feature +prefer-no-gather is not supported on the host
  machine ... SIGILL"), even on the machine that wrote the cache. The cause is XLA's loader: it compares the
  features recorded at compile time with the host's ISA features, and the recorded list includes LLVM *tuning*
  flags (``+prefer-no-gather``, ``+prefer-no-scatter``, set for recent Intel cores) that are never ISA features
  (jax-ml/jax#38445, openxla/xla#44565, open). The cached program still loads and runs (a program that took 3.6 s
  to compile loaded in 0.5 s here). The only way to keep those flags out of the recorded list is
  ``--xla_cpu_max_isa=AVX2``, which gives up AVX-512, so this module hides XLA's C++ log below FATAL instead
  (``TF_CPP_MIN_LOG_LEVEL=3``, which XLA reads once, when jaxlib loads).
- ``mujoco.mjx`` prints "Failed to import warp" / "Failed to import mujoco_warp" to stdout at import when NVIDIA
  Warp is not installed (it is optional; the mjx backend used here does not need it).

``--verbose`` keeps both. A value of ``TF_CPP_MIN_LOG_LEVEL`` set by the user always wins.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings

XLA_LOG_LEVEL = "3"  # absl/TF convention: 0 info, 1 warning, 2 error, 3 fatal only


def quiet_libraries(verbose: bool = False) -> None:
    """Call before JAX is imported. With ``verbose``, leaves every library's output as it is."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", XLA_LOG_LEVEL)
    # Deprecation notices from third-party packages are for their maintainers, not for a benchmark's user.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    # Importing mujoco.mjx here, with stdout captured, uses up its one-time warp import message.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            import mujoco.mjx  # noqa: F401
        except ImportError:  # mujoco missing is reported where it is needed, not here
            pass
    # JAX's own Python loggers: keep errors, drop notices such as cache misses or platform fallbacks.
    logging.getLogger("jax").setLevel(logging.ERROR)
