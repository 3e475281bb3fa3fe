"""Every shipped clip runs in the env on every backend (slow: one compile per clip and backend)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs.data import MOTION_NAMES


@pytest.mark.slow
@pytest.mark.parametrize("backend", envs.BACKENDS)
@pytest.mark.parametrize("clip", MOTION_NAMES)
def test_clip_runs_on_backend(data_dir, clip, backend):
    env = envs.make_env(clip, envs.MimicConfig(backend=backend, episode_length=4), data_dir=data_dir)

    @jax.jit
    def rollout(key):
        state = env.reset(key)
        def step(state, _):
            state = env.step(state, jnp.zeros(env.action_size))
            return state, state.metrics

        return jax.lax.scan(step, state, None, 4)[1]

    metrics = rollout(jax.random.PRNGKey(0))
    for name in ("loss", "pose_error", "fall", "replay"):
        assert np.all(np.isfinite(np.asarray(metrics[name]))), name
    assert float(metrics["pose_error"][0]) < 0.2  # one step from a reference state stays close to it
