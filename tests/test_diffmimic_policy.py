"""DiffMimic's policy forms: the deterministic default and the release's reparameterised tanh-Gaussian.

A one-layer network whose weights are zero and whose bias is set by hand gives known location and raw scale, so
the sampled action and its standard deviation have hand-computed values; no environment is compiled.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from methods.diffmimic import DIFFMIMIC, _act, _distribution, init, policy

ACTIONS = 3


def state_with_bias(policy_noise: str, bias, noise_var_scale: float = 1.0):
    env = SimpleNamespace(action_size=ACTIONS, observation_size=4)
    config = DIFFMIMIC.config_cls(
        hidden_sizes=(), policy_noise=policy_noise, noise_var_scale=noise_var_scale, normalize_observations=False
    )
    state = init(jax.random.PRNGKey(0), env, config)
    dense = state.params["params"]["Dense_0"]
    params = {"params": {"Dense_0": {"kernel": jnp.zeros_like(dense["kernel"]), "bias": jnp.asarray(bias)}}}
    return state.replace(params=params)


def test_tanh_gaussian_samples_with_the_release_scale_and_evaluates_at_the_mean():
    loc, raw = np.array([0.5, -0.2, 0.0]), np.array([0.0, 1.0, -2.0])
    state = state_with_bias("tanh_gaussian", np.concatenate([loc, raw]), noise_var_scale=0.1)
    obs = jnp.ones((2, 4))
    # Brax's NormalTanhDistribution: std = (softplus(raw) + 0.001) x var_scale; softplus(0) = ln 2.
    std = (np.log1p(np.exp(raw)) + 0.001) * 0.1
    assert std[0] == pytest.approx((math.log(2.0) + 0.001) * 0.1)
    got_loc, got_std = _distribution(state, state.params, obs)
    np.testing.assert_allclose(got_loc, np.broadcast_to(loc, (2, ACTIONS)), atol=1e-7)
    np.testing.assert_allclose(got_std, np.broadcast_to(std, (2, ACTIONS)), rtol=1e-6)
    key = jax.random.PRNGKey(3)
    eps = np.asarray(jax.random.normal(key, (2, ACTIONS)))
    np.testing.assert_allclose(_act(state, state.params, obs, key), np.tanh(loc + std * eps), rtol=1e-5, atol=1e-7)
    # Evaluation: the mean action tanh(loc), whatever the key.
    act = policy(state)
    np.testing.assert_allclose(act(obs, jax.random.PRNGKey(9)), np.tanh(np.broadcast_to(loc, (2, ACTIONS))), atol=1e-7)


def test_tanh_gaussian_is_reparameterised_gradients_reach_location_and_scale():
    state = state_with_bias("tanh_gaussian", np.zeros(2 * ACTIONS))
    key = jax.random.PRNGKey(1)

    def objective(params):
        return jnp.sum(jnp.square(_act(state, params, jnp.ones((4,)), key) - 0.3))

    bias_grad = np.asarray(jax.grad(objective)(state.params)["params"]["Dense_0"]["bias"])
    assert np.all(bias_grad[:ACTIONS] != 0) and np.all(bias_grad[ACTIONS:] != 0)


def test_deterministic_policy_has_one_output_per_action_and_ignores_the_key():
    state = state_with_bias("deterministic", np.array([0.5, -0.2, 0.0]))
    obs = jnp.ones((4,))
    assert state.network.output_size == ACTIONS
    np.testing.assert_allclose(_act(state, state.params, obs, None), np.tanh([0.5, -0.2, 0.0]), atol=1e-7)
    np.testing.assert_allclose(policy(state)(obs, None), np.tanh([0.5, -0.2, 0.0]), atol=1e-7)
    with pytest.raises(ValueError, match="policy_noise"):
        init(jax.random.PRNGKey(0), SimpleNamespace(action_size=3, observation_size=4),
             DIFFMIMIC.config_cls(policy_noise="gaussian"))
