"""Data parallelism inside a run: the training batch split over every local device.

The harness opens :func:`data_parallel` around a run; a method marks its batched arrays (the environments' states,
a minibatch) with :func:`shard_batch`, and XLA's SPMD partitioner splits every computation on them over the
devices, keeping what is not marked (parameters, optimiser state) replicated and identical on every device (the
gradient of a mean over a sharded batch is all-reduced). Outside :func:`data_parallel`, or with one device,
:func:`shard_batch` does nothing, so a method's numbers do not depend on the device count beyond float rounding.

On CPU, JAX exposes one host device per core only if ``--xla_force_host_platform_device_count`` is in ``XLA_FLAGS``
before JAX is imported: :func:`benchmarks.host_devices.request_host_devices` sets it (``run_benchmark.py`` calls
it first thing).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

BATCH_AXIS = "batch"

_mesh = None  # the active jax.sharding.Mesh, or None


def usable_devices(requested: int | None, batch_sizes: tuple[int, ...] = ()) -> int:
    """The devices a run uses: ``requested`` (default: all local ones), reduced to the largest count that divides
    every batch size (a batch must split evenly)."""
    import jax

    available = jax.local_device_count()
    count = available if requested is None else requested
    if count < 1 or count > available:
        raise ValueError(f"--devices {count}: this process has {available} device(s) ({jax.devices()[0].platform})")
    while count > 1 and any(size % count for size in batch_sizes):
        count -= 1
    return count


@contextlib.contextmanager
def data_parallel(count: int) -> Iterator[None]:
    """Within this block, :func:`shard_batch` splits batches over the first ``count`` local devices."""
    import jax

    global _mesh
    previous = _mesh
    _mesh = jax.sharding.Mesh(np.array(jax.local_devices()[:count]), (BATCH_AXIS,)) if count > 1 else None
    try:
        yield
    finally:
        _mesh = previous


def device_count() -> int:
    """Devices the batch is split over now (1 outside :func:`data_parallel`)."""
    return 1 if _mesh is None else _mesh.size


def shard_batch(tree):
    """``tree`` with every array's leading (batch) axis split over the devices; unchanged with one device.

    Works inside ``jit`` (a sharding constraint for XLA's partitioner) and outside (a transfer). Arrays whose
    leading axis does not divide evenly are left as they are."""
    if _mesh is None:
        return tree
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    sharded = NamedSharding(_mesh, PartitionSpec(BATCH_AXIS))

    def constrain(x):
        if getattr(x, "ndim", 0) == 0 or x.shape[0] % _mesh.size:
            return x
        return jax.lax.with_sharding_constraint(x, sharded)

    return jax.tree.map(constrain, tree)


def replicated():
    """The sharding of an array kept whole on every device of the active mesh (None without one)."""
    if _mesh is None:
        return None
    from jax.sharding import NamedSharding, PartitionSpec

    return NamedSharding(_mesh, PartitionSpec())


def place(tree):
    """``tree`` on the active mesh: arrays already split by :func:`shard_batch` stay split, the rest replicated;
    returns (placed tree, the shardings), or (tree, None) with one device."""
    if _mesh is None:
        return tree, None
    import jax

    def sharding(x):
        current = getattr(x, "sharding", None)
        if current is not None and getattr(current, "mesh", None) == _mesh:
            return current
        return replicated()

    shardings = jax.tree.map(sharding, tree)
    return jax.device_put(tree, shardings), shardings
