"""Demonstration Replay's gradient contract, and DiffMimic's truncation of the gradient every k steps.

Replay (in the environment): the loss of step t depends on the action of step s <= t through the simulated state,
unless a replay after one of the steps s .. t-1 replaced that state with the reference: then the derivative is
exactly zero. Truncation (in DiffMimic's update): the carried state is cut after every k-th step.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import State

import envs
from methods.diffmimic import DIFFMIMIC

STEPS, NUM_ENVS = 4, 2
REPLAY_SEED = 3  # chosen so that the replay pattern below mixes replayed and free steps (asserted)


@pytest.fixture(scope="module")
def replay_jacobian():
    """d loss[t, n] / d action[s, n] on the synthetic clip with random replay (rate 0.5), and the replay flags."""
    env = envs.make_env(
        "synthetic", envs.MimicConfig(episode_length=STEPS, random_start=False, replay="random", replay_rate=0.5)
    )
    direction = jnp.linspace(-1.0, 1.0, env.action_size)  # every hinge's PD target moves

    def rollout(offsets):  # offsets [STEPS, NUM_ENVS]: how far each step's action goes along `direction`
        start = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(REPLAY_SEED), NUM_ENVS))

        def step(state, offset):
            state = jax.vmap(env.step)(state, 0.2 * offset[:, None] * direction)
            return state, (state.metrics["loss"], state.metrics["replay"])

        losses, replays = jax.lax.scan(step, start, offsets)[1]
        return losses, replays

    # Forward mode: STEPS x NUM_ENVS tangents through a few physics steps compile faster than a reverse pass.
    jacobian, replays = jax.jit(jax.jacfwd(rollout, has_aux=True))(jnp.zeros((STEPS, NUM_ENVS)))
    return np.asarray(jacobian), np.asarray(replays)


def test_gradients_stop_at_replays_and_flow_through_free_steps(replay_jacobian):
    jacobian, replays = replay_jacobian  # jacobian[t, n, s, m], replays[t, n]: replayed after step t
    free_spans = blocked = 0
    for n in range(NUM_ENVS):
        assert not jacobian[:, n, :, 1 - n].any()  # environments do not interact
        for t in range(STEPS):
            for s in range(STEPS):
                derivative = jacobian[t, n, s, n]
                if s > t:
                    assert derivative == 0.0, (t, s)  # the future does not change the past
                elif replays[s:t, n].any():
                    assert derivative == 0.0, (t, s, replays[:, n])
                    blocked += 1
                else:
                    assert abs(derivative) > 1e-8, (t, s, replays[:, n])
                    free_spans += s < t
    # The seed gives both cases, so neither branch above is vacuous.
    assert replays[:-1].any() and not replays[:-1].all(), replays
    assert blocked > 0 and free_spans > 0


# -- truncation, on a stand-in environment whose answer is computed by hand ---------------------------------------


class Integrator:
    """x[t+1] = x[t] + action; the step's loss is x[t+1]; the observation is always 1, so every step's action is
    the same number ``a`` and d loss[t] / d a counts the actions that reach x[t+1] since the last cut."""

    observation_size = 1
    action_size = 1

    def reset(self, key):
        zero = jnp.zeros(())
        metrics = {"loss": zero, "replay": zero, "pose_error": zero, "fall": zero}
        return State(pipeline_state=zero, obs=jnp.ones(1), reward=zero, done=zero, metrics=metrics)

    def step(self, state, action):
        x = state.pipeline_state + action[0]
        return state.replace(pipeline_state=x, metrics={**state.metrics, "loss": x})


# counts[t]: how many actions the loss of step t depends on. As in Brax's APG and DiffMimic's release, the cut after
# every k-th step stops the whole next state, its metrics included, so the loss of a cut step carries no gradient.
@pytest.mark.parametrize("truncation, counts", [(0, range(1, 9)), (3, [1, 2, 0, 1, 2, 0, 1, 2]), (8, [1, 2, 3, 4, 5, 6, 7, 0])])
def test_truncation_cuts_the_gradient_every_k_steps(truncation, counts):
    env = Integrator()
    config = DIFFMIMIC.config_cls(
        num_envs=2, rollout_length=8, hidden_sizes=(), normalize_observations=False, truncation_length=truncation,
        policy_noise="deterministic",  # the hand-computed gradient has no sampled noise in it
    )
    state = DIFFMIMIC.init(jax.random.PRNGKey(0), env, config)
    _, metrics = jax.jit(lambda s, k: DIFFMIMIC.update(s, k, env=env, config=config))(state, jax.random.PRNGKey(1))
    # action a = tanh(w * 1 + b); loss = mean over steps and envs of x[t+1]; so dL/dw = dL/db = (1 - a^2) mean(counts).
    layer = state.params["params"]["Dense_0"]
    action = np.tanh(float(layer["kernel"][0, 0]) + float(layer["bias"][0]))
    expected = np.sqrt(2.0) * (1 - action**2) * np.mean(counts)
    assert float(metrics["grad_norm"]) == pytest.approx(expected, rel=1e-5)
