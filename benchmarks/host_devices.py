"""One XLA host device per CPU core: the flag must be set before JAX is imported, so this module imports no JAX.

XLA's CPU backend runs one program on about one core; with ``--xla_force_host_platform_device_count=N`` JAX sees N
host devices, and a batch split over them (:mod:`methods.parallel`) uses N cores.
"""

from __future__ import annotations

import os
import re
import sys

HOST_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def cpu_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def request_host_devices(count: int | None = None) -> int | None:
    """Ask XLA's CPU backend for ``count`` host devices (default: one per core) before JAX is imported.

    An existing ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS`` is kept when ``count`` is None and
    replaced otherwise. Returns the count requested, or None when JAX is already imported (too late: XLA read its
    flags then; the process keeps the devices it has).
    """
    if "jax" in sys.modules:
        return None
    flags, count = with_host_devices(os.environ.get("XLA_FLAGS", ""), count)
    os.environ["XLA_FLAGS"] = flags
    return count


def with_host_devices(flags: str, count: int | None) -> tuple[str, int]:
    """``XLA_FLAGS`` text asking for ``count`` host devices (None: keep the flags' own count, else one per core)."""
    existing = re.search(rf"{HOST_DEVICE_FLAG}=(\d+)", flags)
    if count is None:
        if existing:
            return flags, int(existing.group(1))
        count = cpu_cores()
    if count < 1:
        raise ValueError(f"host device count must be at least 1, got {count}")
    flags = re.sub(rf"\s*{HOST_DEVICE_FLAG}=\d+", "", flags).strip()
    return f"{flags} {HOST_DEVICE_FLAG}={count}".strip(), count


