"""Data parallelism inside a run (methods.parallel): the batch split over host devices, same results as one device.

Fast: the device-count rules, where shard_batch puts an array, and a DiffMimic smoke run on 1 and on 2 devices
(the curves agree to float rounding). Slow: the same for PPO.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import harness
from benchmarks import results_store as store
from benchmarks.host_devices import HOST_DEVICE_FLAG, with_host_devices
from benchmarks.suites import ClipSpec
from benchmarks.tiers import get_tier
from methods import parallel

SMOKE = get_tier("smoke")
EVALUATION_COLUMNS = ["pose_error_cycle", "pose_error_20s", "fall_rate_cycle", "fall_rate_20s"]


def test_the_tests_have_two_host_devices():
    # conftest.py asks for them before JAX is imported; without them the comparisons below would prove nothing.
    assert jax.local_device_count() >= 2


@pytest.mark.parametrize(
    "flags, count, expected",
    [
        ("", 2, (f"{HOST_DEVICE_FLAG}=2", 2)),
        ("--xla_cpu_enable_fast_math=false", 4, (f"--xla_cpu_enable_fast_math=false {HOST_DEVICE_FLAG}=4", 4)),
        (f"{HOST_DEVICE_FLAG}=8 --other", 2, (f"--other {HOST_DEVICE_FLAG}=2", 2)),
        (f"{HOST_DEVICE_FLAG}=3", None, (f"{HOST_DEVICE_FLAG}=3", 3)),  # the user's own count is kept
    ],
)
def test_host_device_flag(flags, count, expected):
    assert with_host_devices(flags, count) == expected


def test_usable_devices_divide_the_batch():
    assert parallel.usable_devices(2, (4,)) == 2
    assert parallel.usable_devices(2, (3,)) == 1  # 3 environments cannot split evenly over 2 devices
    assert parallel.usable_devices(None, ()) == jax.local_device_count()
    with pytest.raises(ValueError, match="--devices 99: this process has"):
        parallel.usable_devices(99, (4,))


def test_shard_batch_splits_the_leading_axis_only_inside_data_parallel():
    batch = {"x": jnp.arange(8.0).reshape(4, 2), "odd": jnp.arange(3.0), "scalar": jnp.float32(1.0)}
    assert parallel.shard_batch(batch) is batch  # no mesh: nothing to do
    with parallel.data_parallel(2):
        sharded = parallel.shard_batch(batch)
        assert len(sharded["x"].sharding.device_set) == 2
        assert sharded["x"].sharding.shard_shape(sharded["x"].shape) == (2, 2)
        assert sharded["odd"] is batch["odd"]  # 3 rows do not split over 2 devices
        placed, shardings = parallel.place(sharded)
        assert shardings["scalar"].is_fully_replicated and not shardings["x"].is_fully_replicated
        np.testing.assert_array_equal(placed["x"], batch["x"])
    with parallel.data_parallel(1):
        assert parallel.shard_batch(batch) is batch


def smoke_spec(method: str, devices: int | None = None, seed: int = 0) -> harness.RunSpec:
    """A smoke-tier run of ``method`` on the synthetic clip. tests/test_methods.py runs DiffMimic's update from the
    one-device spec too, so that whichever file compiles it first, the other reads it from the persistent cache."""
    return harness.RunSpec("smoke", ClipSpec("synthetic", 0.2), method, seed, SMOKE, devices=devices)


def one_and_two_devices(method: str, tmp_path, monkeypatch):
    # The final episode the harness records for the viewer is not compared here: not recording it saves compiling
    # it for each device count.
    monkeypatch.setattr(harness, "make_recorder", lambda env, policy_of, frames: (lambda state, key: None))
    monkeypatch.setattr(harness, "save_rollout", lambda path, rollout: None)
    runs = {}
    for devices in (1, 2):
        spec = smoke_spec(method, devices)
        harness.run(spec, tmp_path / f"d{devices}")
        runs[devices] = store.load_run(spec.key.dir(tmp_path / f"d{devices}"))
    return runs


def assert_same_results(runs):
    one, two = runs[1], runs[2]
    assert (one.manifest["device_count"], two.manifest["device_count"]) == (1, 2)
    assert list(one.curve["samples"]) == list(two.curve["samples"]) == [0, 64, 128, 192]
    # float32 sums in another order, amplified by a 32-step contact rollout: measured up to 1.3e-4 relative (20 s pose
    # error, unclipped torques); a wrong reduction over devices (a sum for a mean) moves the update by a factor of 2.
    np.testing.assert_allclose(one.curve[EVALUATION_COLUMNS], two.curve[EVALUATION_COLUMNS], rtol=5e-4, atol=1e-6)
    np.testing.assert_allclose(one.curve["loss"].iloc[1:], two.curve["loss"].iloc[1:], rtol=1e-4)


def test_diffmimic_curve_does_not_depend_on_the_device_count(tmp_path, monkeypatch):
    assert_same_results(one_and_two_devices("diffmimic", tmp_path, monkeypatch))


@pytest.mark.slow
def test_ppo_curve_does_not_depend_on_the_device_count(tmp_path, monkeypatch):
    assert_same_results(one_and_two_devices("ppo", tmp_path, monkeypatch))


def test_ppo_keeps_to_one_device_unless_asked():
    spec = smoke_spec("ppo")
    _, config, _ = harness.method_config(spec)
    assert harness.run_devices(spec, config) == 1
    _, config, _ = harness.method_config(smoke_spec("ppo_deepmimic"))
    assert harness.run_devices(spec, config) == 2
    assert harness.run_devices(smoke_spec("ppo", devices=2), config) == 2
