"""PPO internals with hand-computed answers: advantages at episode ends, fresh resets, the Gaussian log-probability,
and ``ppo_deepmimic``'s advantage normalisation, exploration and time-limit schedules.

Most tests use a counter environment (no physics, compiles in seconds); one runs ``ppo_deepmimic`` on the synthetic
clip with tiny networks to check the contract on the real environment.
"""

from __future__ import annotations

import json
import math
import re
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.base import State
from scipy import stats

import envs
import methods
from methods import ppo
from methods.networks import MLP
from methods.ppo import PPO, PPO_DEEPMIMIC, Transition

# -- a counter environment: obs = (start value, steps since reset), episodes of 1-4 steps set by the start value ----


class CounterEnv:
    """Each reset draws a fresh start value u ~ U(0, 1); a step counts; the episode terminates after 1 + floor(4u)
    steps when ``terminate`` (else it runs until PPO's time limit)."""

    observation_size = 2
    action_size = 1

    def __init__(self, terminate: bool):
        self.terminate = terminate

    def reset(self, rng):
        start = jax.random.uniform(rng)
        zero = jnp.zeros(())
        return State(None, jnp.stack([start, zero]), zero, zero, {"pose_error": zero}, {})

    def step(self, state, action):
        start, count = state.obs[0], state.obs[1] + 1.0
        done = (count >= 1.0 + jnp.floor(4.0 * start)) & self.terminate
        reward = jnp.ones(()) + 0.0 * jnp.sum(action)
        return state.replace(obs=jnp.stack([start, count]), reward=reward, done=done.astype(jnp.float32))


TINY = dict(num_envs=4, unroll_length=8, minibatch_size=8, actor_hidden_sizes=(16, 16), critic_hidden_sizes=(16, 16))


@pytest.fixture(scope="module")
def counter_rollouts():
    """Two collections (terminating and time-limited counter envs) of 4 envs x 8 steps, time limit 3 steps."""
    results = {}
    for terminate in (True, False):
        env = CounterEnv(terminate)
        config = PPO.config_cls(**TINY, episode_length=3)
        state = ppo.init(jax.random.PRNGKey(0), env, config)
        collect = jax.jit(lambda state, key, env=env, config=config: ppo._collect(state, key, env, config))
        carry, batch = collect(state, jax.random.PRNGKey(1))
        results[terminate] = (state, jax.device_get(carry), jax.device_get(batch))
    return results


def test_episode_ends_restart_from_fresh_unused_random_starts(counter_rollouts):
    for terminate, (state, carry, batch) in counter_rollouts.items():
        obs = np.concatenate([batch.obs, carry.state.obs[None]], axis=0)  # [T + 1, N, 2]
        ended = (batch.termination + batch.truncation) > 0
        assert ended.sum() >= 8, "the test needs several episode ends"
        starts = [obs[0, :, 0]]
        for t in range(ended.shape[0]):
            for n in range(ended.shape[1]):
                if ended[t, n]:
                    # A fresh start: the counter is back at 0 with a start value never handed out before.
                    assert obs[t + 1, n, 1] == 0.0
                    starts.append(obs[t + 1, n, :1])
                else:  # the episode goes on
                    np.testing.assert_array_equal(obs[t + 1, n], obs[t, n] + np.array([0.0, 1.0]))
        starts = np.concatenate(starts)
        assert len(np.unique(starts)) == len(starts) == 4 + ended.sum()
        assert np.all((starts >= 0) & (starts < 1))
        # Which episodes ended: by termination after 1 + floor(4u) steps, or by the 3-step time limit.
        steps_before = batch.obs[..., 1]
        length = 1 + np.floor(4 * batch.obs[..., 0])
        expected_termination = (steps_before + 1 >= length) if terminate else np.zeros_like(length, bool)
        np.testing.assert_array_equal(batch.termination > 0, expected_termination)
        np.testing.assert_array_equal(batch.truncation > 0, ~expected_termination & (steps_before + 1 >= 3))
        np.testing.assert_array_equal(carry.steps, carry.state.obs[:, 1])


def test_fresh_starts_come_from_the_pool_in_order_and_redraw_only_when_short():
    env = CounterEnv(terminate=False)
    pool = jax.vmap(env.reset)(jax.random.split(jax.random.PRNGKey(3), 4))
    values = np.asarray(pool.obs[:, 0])
    take = jax.jit(lambda key, pool, used, ended: ppo._take_fresh_starts(env, key, pool, used, ended))
    fresh, pool2, used = take(jax.random.PRNGKey(4), pool, jnp.int32(1), jnp.array([True, False, True, False]))
    assert int(used) == 3
    np.testing.assert_array_equal(np.asarray(fresh.obs[[0, 2], 0]), values[[1, 2]])  # entries 1 and 2, in order
    np.testing.assert_array_equal(np.asarray(pool2.obs[:, 0]), values)  # no redraw
    # Two more ends with one entry left: a new pool is drawn and its first two entries are handed out.
    fresh, pool3, used = take(jax.random.PRNGKey(5), pool2, used, jnp.array([False, True, True, False]))
    assert int(used) == 2
    new_values = np.asarray(pool3.obs[:, 0])
    assert not np.intersect1d(new_values, values).size
    np.testing.assert_array_equal(np.asarray(fresh.obs[[1, 2], 0]), new_values[:2])


# -- advantages: bootstrap at a truncation, zero value after a termination ------------------------------------------


def test_advantages_bootstrap_truncations_and_stop_at_terminations():
    """One env, 3 steps: step 0 goes on, step 1 hits the time limit, step 2 falls.

    Values are the first observation component; gamma 0.9, lambda 0.8, V(obs) = 1, 2, 3, V(last carry obs) = 4,
    V(final obs of the truncated step) = 5, rewards 0.5, 0.25, 1.0:
      A2 = r2 - V2 = -2                              (termination: nothing after the fall)
      A1 = r1 + gamma V(final obs) - V1 = 2.75       (truncation: bootstrap from where it stopped, trace cut)
      A0 = r0 + gamma V1 - V0 + gamma lambda A1 = 1.3 + 1.98 = 3.28
    """

    class ValueIsObs:
        @staticmethod
        def apply(params, obs):
            return obs

    state = SimpleNamespace(
        networks=SimpleNamespace(critic=ValueIsObs()), params={"critic": None}, normalize_observations=False
    )
    column = lambda *values: jnp.array(values, jnp.float32).reshape(-1, 1, 1)  # noqa: E731  [T, N=1, 1]
    batch = Transition(
        obs=column(1.0, 2.0, 3.0),
        action=None,
        log_prob=None,
        exploratory=None,
        reward=column(0.5, 0.25, 1.0)[..., 0],
        termination=column(0.0, 0.0, 1.0)[..., 0],
        truncation=column(0.0, 1.0, 0.0)[..., 0],
        final_obs=column(10.0, 5.0, 20.0),  # only the truncated step's final observation may matter
        episode_return=None,
        pose_error=None,
    )
    carry = SimpleNamespace(state=SimpleNamespace(obs=jnp.array([[4.0]])))
    config = PPO.config_cls(discount=0.9, gae_lambda=0.8)
    advantages, targets = ppo._advantages(state, carry, batch, config)
    np.testing.assert_allclose(np.asarray(advantages)[:, 0], [3.28, 2.75, -2.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(targets)[:, 0], [4.28, 4.75, 1.0], rtol=1e-6)


def test_gaussian_log_probability_matches_scipy():
    rng = np.random.default_rng(0)
    mean, action = rng.normal(size=(2, 5, 3))
    log_std = rng.normal(scale=0.5, size=3)
    expected = stats.norm.logpdf(action, loc=mean, scale=np.exp(log_std)).sum(-1)
    np.testing.assert_allclose(ppo._log_prob(jnp.asarray(mean), jnp.asarray(log_std), jnp.asarray(action)), expected,
                               rtol=1e-5)


# -- ppo_deepmimic's pieces -------------------------------------------------------------------------------------------


def test_advantages_normalised_over_sampled_steps_and_clipped_at_4():
    """25 zeros and one 26 (weight 1): mean 1, std 5, so 0 -> -0.2 and 26 -> 5, clipped to 4. Two steps with weight
    0 (mean actions) and advantage 1000 do not move the statistics."""
    advantages = jnp.array([0.0] * 25 + [26.0, 1000.0, 1000.0])
    weights = jnp.array([1.0] * 26 + [0.0, 0.0])
    normalised = np.asarray(ppo.normalise_advantages(advantages, weights, 4.0))
    np.testing.assert_allclose(normalised[:25], -1.0 / (5.0 + 1e-5), rtol=1e-6)
    assert normalised[25] == 4.0 and np.all(normalised[26:] == 4.0)
    unclipped = np.asarray(ppo.normalise_advantages(advantages, weights, 0.0))
    np.testing.assert_allclose(unclipped[25], 25.0 / (5.0 + 1e-5), rtol=1e-6)


def test_action_bound_loss_penalises_only_the_excess():
    mean = jnp.array([[1.5, -2.0, 0.3], [0.0, 0.9, -1.0]])
    # First row: 0.5^2 + 1^2 = 1.25; second row: inside. 0.5 x mean over rows = 0.5 x 0.625.
    assert float(ppo.action_bound_loss(mean)) == pytest.approx(0.3125)


def test_exploration_rate_anneals_linearly_over_64m_samples():
    config = PPO_DEEPMIMIC.config_cls()
    for samples, rate in ((0, 1.0), (16e6, 0.8), (32e6, 0.6), (64e6, 0.2), (128e6, 0.2)):
        assert float(ppo.exploration_rate(config, jnp.float32(samples))) == pytest.approx(rate, abs=1e-6)
    assert float(ppo.exploration_rate(PPO.config_cls(), jnp.float32(1e9))) == 1.0  # ppo: always sampled


def test_time_limit_anneals_from_half_a_second_to_20_s_as_the_fourth_power():
    """15 + 585 (samples / 32 M)^4 control steps, rounded up: 8 M -> 15 + 585/256 = 17.29 -> 18; 16 M -> 15 + 36.56 ->
    52; 32 M and later -> 600."""
    config = PPO_DEEPMIMIC.config_cls()
    for samples, steps in ((0, 15), (8e6, 18), (16e6, 52), (24e6, 201), (32e6, 600), (1e9, 600)):
        assert int(ppo.time_limit(config, jnp.float32(samples))) == steps, samples
    assert int(ppo.time_limit(PPO.config_cls(), jnp.float32(0))) == 600  # ppo: a fixed limit


def test_ppo_deepmimic_defaults_are_the_released_agent_and_args(data_dir):
    agent = json.loads((data_dir / "agents" / "ct_agent_humanoid_ppo.txt").read_text())
    config = PPO_DEEPMIMIC.config_cls()
    assert config.optimizer == "sgd" and config.momentum == agent["ActorMomentum"] == agent["CriticMomentum"]
    assert config.actor_learning_rate == agent["ActorStepsize"]
    assert config.critic_learning_rate == agent["CriticStepsize"]
    assert config.actor_weight_decay == agent["ActorWeightDecay"] and agent["CriticWeightDecay"] == 0
    assert config.num_envs * config.unroll_length == agent["BatchSize"]
    assert config.minibatch_size == agent["MiniBatchSize"] and config.num_epochs == agent["Epochs"]
    assert (config.discount, config.gae_lambda, config.clip_epsilon) == (
        agent["Discount"], agent["TDLambda"], agent["RatioClip"]
    )
    assert config.advantage_clip == agent["NormAdvClip"] and config.normalizer_samples == agent["NormalizerSamples"]
    assert config.exploration_anneal_samples == agent["ExpAnnealSamples"]
    assert (config.exploration_rate_start, config.exploration_rate_end) == (
        agent["ExpParamsBeg"]["Rate"], agent["ExpParamsEnd"]["Rate"]
    )
    assert config.initial_action_std == agent["ExpParamsBeg"]["Noise"] == agent["ExpParamsEnd"]["Noise"]
    assert not config.learn_action_std and config.max_grad_norm == 0.0
    assert config.actor_hidden_sizes == config.critic_hidden_sizes == (1024, 512)  # fc_2layers_1024units
    assert config.network_init == "deepmimic" and agent["ActorInitOutputScale"] == 0.01  # the actor's output scale
    # Every clip's training args: time limit 0.5 s -> 20 s over 32 M samples, at 30 control steps per second.
    for args_file in sorted((data_dir / "args").glob("train_humanoid3d_*_args.txt")):
        args = dict(re.findall(r"^--(\w+) (\S+)", args_file.read_text(), re.MULTILINE))
        assert float(args["time_lim_min"]) == float(args["time_lim_max"]), args_file.name
        assert float(args["time_end_lim_min"]) == float(args["time_end_lim_max"]), args_file.name
        assert config.initial_episode_length == round(float(args["time_lim_min"]) * 30), args_file.name
        assert config.episode_length == round(float(args["time_end_lim_max"]) * 30), args_file.name
        assert config.time_limit_anneal_samples == int(args["anneal_samples"]), args_file.name


def test_ppo_deepmimic_is_a_variant_of_ppo():
    assert (PPO_DEEPMIMIC.init, PPO_DEEPMIMIC.update, PPO_DEEPMIMIC.policy, PPO_DEEPMIMIC.env_config) == (
        PPO.init, PPO.update, PPO.policy, PPO.env_config
    )
    assert issubclass(PPO_DEEPMIMIC.config_cls, PPO.config_cls)
    assert methods.get_method("ppo_deepmimic") is PPO_DEEPMIMIC
    # Today's Adam PPO keeps its own defaults beside it.
    config = PPO.config_cls()
    assert config.optimizer == "adam" and config.num_epochs == 4 and config.learn_action_std


def test_mean_actions_do_not_train_the_actor():
    """With exploration rate 0 (every action the mean), the surrogate has nothing to reinforce: the actor's
    gradient is that of the bound loss and weight decay only, here 0."""
    env = CounterEnv(terminate=True)
    config = PPO.config_cls(**TINY, episode_length=3, exploration_rate_start=0.0, num_epochs=1)
    state = ppo.init(jax.random.PRNGKey(0), env, config)
    new_state, metrics = jax.jit(lambda s, k: ppo.update(s, k, env=env, config=config))(state, jax.random.PRNGKey(2))
    assert float(metrics["exploration_rate"]) == 0.0 and float(metrics["policy_loss"]) == 0.0
    for old, new in zip(jax.tree.leaves(state.params["actor"]), jax.tree.leaves(new_state.params["actor"])):
        np.testing.assert_array_equal(old, new)
    assert not np.array_equal(state.params["critic"]["params"]["Dense_0"]["kernel"],
                              new_state.params["critic"]["params"]["Dense_0"]["kernel"])


# -- ppo_deepmimic's update end to end: on the counter env (fast) and on the real environment (slow) ------------------


def synthetic_env(config):
    base = envs.make_env("synthetic", envs.MimicConfig(episode_length=8))
    env = envs.MimicEnv(base.model, base.reference, PPO_DEEPMIMIC.env_config(config, base.config))
    methods.check_compatible(PPO_DEEPMIMIC, env, config)
    return env


@pytest.mark.parametrize("env_name", ["counter", pytest.param("synthetic", marks=pytest.mark.slow)])
def test_ppo_deepmimic_update_follows_its_schedules(env_name):
    # Time limit 2 steps (annealing over 1e12 samples never moves it), so every env restarts inside the update.
    config = PPO_DEEPMIMIC.config_cls(
        **TINY, num_epochs=1, episode_length=8, initial_episode_length=2, time_limit_anneal_samples=10**12,
        exploration_anneal_samples=64, normalizer_samples=32,
    )
    env = CounterEnv(terminate=False) if env_name == "counter" else synthetic_env(config)
    state = PPO_DEEPMIMIC.init(jax.random.PRNGKey(0), env, config)
    update = PPO_DEEPMIMIC.jit_update(env, config)
    history = []
    for i in range(3):
        previous = state
        state, metrics = update(state, jax.random.PRNGKey(10 + i))
        history.append(jax.device_get(metrics))
        assert float(metrics["grad_finite"]) == 1.0 and math.isfinite(float(metrics["loss"]))
        assert int(metrics["samples"]) == 32 and int(state.samples) == 32 * (i + 1)
        assert float(metrics["time_limit"]) == 2.0
        np.testing.assert_array_equal(state.params["log_std"], previous.params["log_std"])  # the std is fixed
        assert np.all(np.asarray(state.env.steps) < 2)
        assert not np.array_equal(state.params["critic"]["params"]["Dense_0"]["kernel"],
                                  previous.params["critic"]["params"]["Dense_0"]["kernel"])
    # Exploration rate 1 -> 0.2 over 64 samples: 1.0, 0.6, 0.2 at 0, 32, 64 samples.
    np.testing.assert_allclose([m["exploration_rate"] for m in history], [1.0, 0.6, 0.2], rtol=1e-6)
    assert all(m["episodes"] >= 4 * 4 for m in history)  # 8 steps / at most 2 per episode in each of 4 envs
    # Observation statistics stop after 32 samples: updated by the first update only.
    assert float(state.normaliser.count) == 32.0
    np.testing.assert_allclose(np.exp(np.asarray(state.params["log_std"])), 0.05, rtol=1e-6)


def _kernels(params) -> list[np.ndarray]:
    params = params["params"]
    return [np.asarray(params[f"Dense_{i}"]["kernel"]) for i in range(len(params))]


class HumanoidSizedCounterEnv(CounterEnv):
    """The counter environment declaring the humanoid's sizes (227 observations, 28 actions) for the networks."""

    observation_size = 227
    action_size = 28


def test_ppo_deepmimic_initialises_as_tensorflow_did():
    """DeepMimic's networks (227 observations here, hidden 1024 and 512, 28 actions): Xavier-uniform hidden layers,
    bound sqrt(6 / (fan_in + fan_out)) (0.0816 for 227 -> 1024) and std bound / sqrt(3); the actor output uniform in
    +-0.01 (std 0.01 / sqrt(3) = 0.00577); the critic output Xavier uniform, bound sqrt(6 / 513) = 0.108."""
    state = ppo.init(jax.random.PRNGKey(3), HumanoidSizedCounterEnv(False), PPO_DEEPMIMIC.config_cls(num_envs=4))
    first, _, actor_out = _kernels(state.params["actor"])
    bound = math.sqrt(6 / (227 + 1024))
    assert np.abs(first).max() <= bound and np.abs(first).max() > 0.99 * bound
    assert first.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert np.abs(actor_out).max() <= ppo.ACTOR_OUTPUT_SCALE and actor_out.std() == pytest.approx(0.01 / math.sqrt(3), rel=0.02)
    critic_out = _kernels(state.params["critic"])[-1]
    assert np.abs(critic_out).max() <= math.sqrt(6 / 513) and critic_out.std() == pytest.approx(
        math.sqrt(6 / 513) / math.sqrt(3), rel=0.15)  # 512 draws


def test_ppo_initialisation_scales_the_actor_output_by_fan_in():
    """`flax` (ppo's): the actor output's std is 0.01 / sqrt(512) = 4.4e-4, 13x below DeepMimic's 0.00577; the hidden
    layers LeCun normal, std 1 / sqrt(fan_in)."""
    state = ppo.init(jax.random.PRNGKey(3), HumanoidSizedCounterEnv(False), PPO.config_cls(num_envs=4))
    first, _, actor_out = _kernels(state.params["actor"])
    assert first.std() == pytest.approx(1 / math.sqrt(227), rel=0.02)
    assert actor_out.std() == pytest.approx(0.01 / math.sqrt(512), rel=0.05)
    with pytest.raises(ValueError, match="unknown output_init 'xavier'"):
        MLP((4,), 1, output_init="xavier").init(jax.random.PRNGKey(0), jnp.zeros(3))
    with pytest.raises(ValueError, match="network_init must be one of"):
        ppo.init(jax.random.PRNGKey(0), CounterEnv(False), PPO.config_cls(network_init="tf"))


def test_policy_acts_with_the_unclipped_mean():
    """DeepMimic's test mode applies the network's mean as it is; a mean of 1.5 stays 1.5 (it was clipped to 1)."""
    class Constant:
        def apply(self, params, obs):
            return jnp.full(obs.shape[:-1] + (2,), params)

    state = SimpleNamespace(networks=SimpleNamespace(actor=Constant()), params={"actor": 1.5},
                            normalize_observations=False)
    np.testing.assert_allclose(ppo.policy(state)(jnp.zeros(3)), [1.5, 1.5])
