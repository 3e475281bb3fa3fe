"""DeepMimic-style PPO (Peng et al., SIGGRAPH 2018) on the shared mimic environment: ``ppo`` and ``ppo_deepmimic``.

One update reads like the algorithm:

1. collect ``unroll_length`` steps from each of ``num_envs`` environments with the Gaussian policy; the
   environments carry over between updates, and an environment whose episode ended (a fall, or its time limit)
   restarts at a fresh random start frame (RSI) drawn from a pool of fresh resets (see *Resets* below);
2. values of every observation, GAE (``rlax.truncated_generalized_advantage_estimation``, vmapped over envs);
3. ``num_epochs`` passes over the batch in shuffled minibatches of ``minibatch_size`` (``lax.scan``): clipped
   surrogate (``rlax.clipped_surrogate_pg_loss``) on normalised advantages, squared-error value loss, optional
   entropy bonus, action-bound loss and actor weight decay; actor and critic each have their own optimizer (Adam, or
   SGD with momentum) and optional global-norm clip; a non-finite minibatch loss or gradient is skipped;
4. update the running observation statistics with the batch's observations (after the epochs, so the log-probs
   stored at collection time stay valid for the ratio).

Episode ends. A fall (``state.done``, with ``early_termination=True``) is a *termination*: the value after it is 0,
which with DeepMimic's reward in [0, 1] is the penalty for falling (DeepMimic's ``val_fail = r_min / (1 - discount)``
= 0). Reaching the time limit is a *truncation*: the advantage bootstraps from the value of the last observation
before the reset (the reward is augmented with ``discount * V(final_obs)`` and the trace is cut), as DeepMimic's
``Terminate.Null`` path end does. Brax's ``AutoResetWrapper`` is not used: it restores each environment's *first*
state and leaves ``info["frame"]`` running, which would desynchronise the reference and would also pin every
environment to one start frame; we reset to a new random start frame instead.

Resets. Resetting every environment at every step and keeping only the ended ones wastes a batched ``env.reset``
per step (on the spring backend about 6% of a batched physics step: 0.5 ms against 8.8 ms for 32 environments,
measured on a loaded 2-core machine). Instead each rollout keeps a pool of ``num_envs`` fresh resets, drawn (one
``vmap(env.reset)`` with fresh keys, under ``lax.cond``) only when the episodes ending at a step need more entries than
the pool has left; the k-th environment to end takes the next unused entry. Every entry is an independent draw of
``env.reset`` used at most once, and which entry an environment gets depends only on which episodes ended, never on
the entries' contents: each restart is a fresh random start frame, as before.

``ppo`` is the usual JAX PPO (Adam, learned log std, 4 epochs, purejaxrl/Brax-style). ``ppo_deepmimic`` is a
:meth:`~methods.base.Method.variant` with DeepMimic's released agent (``data/agents/ct_agent_humanoid_ppo.txt``,
``learning/ppo_agent.py``, ``pg_agent.py``, ``rl_agent.py``) and training args (``data/args/train_humanoid3d_*``):

- SGD with momentum 0.9: actor step 2e-6 with weight decay 5e-4 (``5e-4 * l2_loss`` of the actor's kernels, biases
  excluded), critic step 5e-4 without decay; no gradient clipping.
- Fixed action std 0.05 (``ExpParams`` Noise 0.05 at both ends; its log std is not trained). What DeepMimic anneals
  is the exploration *rate*: each action is sampled with probability ``Rate`` and is the mean action otherwise,
  ``Rate`` going linearly 1 -> 0.2 over 64 M samples (``ExpAnnealSamples``); only sampled steps train the actor
  (``EXP_ACTION_FLAG``), every step trains the critic.
- Batch 4096 (64 envs x 64 steps), minibatch 256, one epoch; advantages normalised over the batch's sampled steps
  (``ADV_EPS`` 1e-5) and clipped to +-4 (``NormAdvClip``); value targets (TD(lambda) returns) clipped to
  ``[r_min, r_max] / (1 - discount)`` = [0, 20]; no value normalisation (``_calc_val_offset_scale`` exists in
  ``rl_agent.py`` but nothing calls it); action-bound loss ``10 * 0.5 * mean(sum(excess^2))`` on the mean action
  beyond the action bounds.
- Episode time limit annealed from 0.5 s (15 steps) to 20 s (600 steps) as ``(samples / 32 M)^4``
  (``--time_lim_min/max 0.5``, ``--time_end_lim_min/max 20``, ``--anneal_samples 32000000``, and
  ``RLSceneSimChar::SetupTimerAnnealer``: a power-4 annealer); min = max in every args file, so the limit is not
  random, and each episode keeps the limit in force when it started.
- Observation statistics frozen after 1 M samples (``NormalizerSamples``).
- Discount 0.95, TD(lambda) 0.95, ratio clip 0.2, networks ``fc_2layers_1024units`` (ReLU layers of 1024 and 512,
  despite the name) with TensorFlow's initialisers as DeepMimic builds them: Xavier-uniform hidden layers and critic
  output (``tf_util.fc_net``, ``pg_agent._build_net_critic``), the actor's output uniform in +-0.01
  (``ActorInitOutputScale``, ``pg_agent._build_net_actor``).
- Evaluation (DeepMimic's test mode) acts with the unclipped mean action, as both variants do here.

What stays different (FIDELITY.md): observations are the shared environment's (DiffMimic's), not DeepMimic's
local-frame features; DeepMimic's normaliser starts from the environment's offsets and scales, ours from the
identity; batches are fixed ``num_envs x unroll_length`` windows (the window's last step bootstraps from the critic),
not whole episodes; the action bounds are the environment's [-1, 1] on every component (DeepMimic: +-1 in its
normalised units for revolute joints, +-2 for spherical ones); when fewer than a minibatch of sampled steps remain,
the actor's minibatches cycle through them without DeepMimic's reshuffle.

Known behaviour: with the earlier fall criterion (root, chest or neck near the floor, by distance), an episode in
which the character crawled on knees and hands with its torso ~0.2 m up did not end; in ``methods.learning_check``
after 60 updates, 6 of 32 training environments sat in that pose (pose error ~0.67) until the time limit.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax
import rlax
from flax import struct

from methods.base import Method
from methods.networks import MLP, Activation, ObservationNormaliser
from methods.optimisation import all_finite, guarded_step, select
from methods.parallel import shard_batch


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO on the imitation reward; defaults are the usual JAX PPO (Adam), ``ppo_deepmimic`` sets DeepMimic's."""

    num_envs: int = 64
    """Parallel environments; samples per update = num_envs x unroll_length (DeepMimic's batch: 4096)."""
    unroll_length: int = 64
    """Control steps collected per environment per update."""
    minibatch_size: int = 256
    """Samples per gradient step (DeepMimic: 256); must divide num_envs x unroll_length."""
    num_epochs: int = 4
    """Passes over each batch (DeepMimic: 1 with SGD; 4 is the usual choice with Adam)."""
    discount: float = 0.95
    """Discount factor gamma."""
    gae_lambda: float = 0.95
    """GAE / TD(lambda) parameter."""
    clip_epsilon: float = 0.2
    """PPO ratio clip."""
    optimizer: Literal["adam", "sgd"] = "adam"
    """Optimizer of both networks: `adam`, or `sgd` with ``momentum`` (DeepMimic's MomentumOptimizer)."""
    momentum: float = 0.9
    """Momentum of the `sgd` optimizer (DeepMimic: 0.9)."""
    actor_learning_rate: float = 3e-4
    """Learning rate of the actor (and its log std); DeepMimic: SGD step 2e-6."""
    critic_learning_rate: float = 3e-4
    """Learning rate of the critic; DeepMimic: SGD step 5e-4."""
    actor_weight_decay: float = 0.0
    """Adds this x 0.5 x (sum of squared actor kernel weights, biases excluded) to the loss (DeepMimic: 5e-4)."""
    max_grad_norm: float = 1.0
    """Global-norm clip, applied to the actor's and the critic's gradients separately; 0: none (DeepMimic)."""
    entropy_coef: float = 0.0
    """Entropy bonus weight (DeepMimic: none)."""
    initial_action_std: float = 0.2
    """Initial exploration standard deviation, in the environment's [-1, 1] action units (DeepMimic: 0.05)."""
    learn_action_std: bool = True
    """Train the state-independent log std; False keeps it at initial_action_std (DeepMimic's fixed noise)."""
    exploration_rate_start: float = 1.0
    """Probability that a step's action is sampled rather than the mean action, at the start (DeepMimic: 1)."""
    exploration_rate_end: float = 1.0
    """The same probability after exploration_anneal_samples samples, reached linearly (DeepMimic: 0.2)."""
    exploration_anneal_samples: int = 0
    """Samples over which the exploration rate anneals (DeepMimic: 64 M); 0: exploration_rate_start throughout."""
    advantage_normalisation: Literal["minibatch", "batch"] = "minibatch"
    """Normalise advantages over each minibatch, or once over the batch's sampled steps (DeepMimic)."""
    advantage_clip: float = 0.0
    """Clip normalised advantages to +-this; 0: no clip (DeepMimic: 4)."""
    clip_value_targets: bool = False
    """Clip value targets to [0, 1 / (1 - discount)], the values of rewards in [0, 1] (DeepMimic's val_min/max)."""
    action_bound_loss_weight: float = 0.0
    """Weight of 0.5 x mean squared excess of the mean action beyond [-1, 1] (DeepMimic: 10)."""
    actor_hidden_sizes: tuple[int, ...] = (1024, 512)
    """Actor MLP hidden layers (DeepMimic: fc_2layers_1024units = 1024, 512)."""
    critic_hidden_sizes: tuple[int, ...] = (1024, 512)
    """Critic MLP hidden layers."""
    activation: Activation = "relu"
    """Hidden activation of both networks (DeepMimic: ReLU)."""
    network_init: Literal["flax", "deepmimic"] = "flax"
    """Initial weights of both networks (methods.networks.MLP): `flax`, LeCun normal, the actor's output at 0.01 x
    LeCun normal (purejaxrl's scale); `deepmimic`, DeepMimic's (Xavier uniform, the actor's output uniform in +-0.01)."""
    normalize_observations: bool = True
    """Running mean/std observation normalisation."""
    normalizer_samples: int = 0
    """Stop updating the observation statistics after this many samples (DeepMimic: 1 M); 0: never stop."""
    action_mapping: Literal["diffmimic", "deepmimic", "range"] = "deepmimic"
    """How an action becomes PD targets (envs.actions): DeepMimic's own (revolute mid-range +- 2 x range, spherical
    exponential map of pi x action), for both PPO variants; `diffmimic` is DiffMimic's 1.2 pi x action."""
    episode_length: int = 600
    """Time limit in control steps (20 s at 30 Hz), or its final value when annealed; reaching it truncates."""
    initial_episode_length: int = 0
    """Time limit at the start, annealed to episode_length as (samples / time_limit_anneal_samples)^4 (DeepMimic:
    15 steps = 0.5 s); 0: episode_length throughout."""
    time_limit_anneal_samples: int = 0
    """Samples over which the time limit anneals (DeepMimic: 32 M)."""
    max_devices: int = 1
    """Devices to split the batch over at most (0: all; the CLI's --devices overrides it). 1 for `ppo`: at the quick
    tier on 2 CPU cores its 4 epochs of small-minibatch Adam steps run slower split over 2 host devices (0.62 s per
    update against 0.50 s on one, which already keeps about 1.5 cores busy); `ppo_deepmimic` gains (0.95 s vs 1.07)."""


# PPOConfig.network_init -> (hidden layers, actor output, critic output) initialisers of methods.networks.MLP.
NETWORK_INITS = {
    "flax": ("lecun_normal", "scaled_lecun_normal", "scaled_lecun_normal"),
    # tf_util.fc_net's Xavier layers; pg_agent's actor output uniform in +-ActorInitOutputScale, critic output Xavier.
    "deepmimic": ("xavier_uniform", "uniform", "xavier_uniform"),
}
# The actor's output scale (DeepMimic's ActorInitOutputScale).
ACTOR_OUTPUT_SCALE = 0.01
# DeepMimic's RLSceneSimChar::SetupTimerAnnealer: the time limit follows a power-4 annealer of samples / anneal.
TIME_LIMIT_ANNEAL_POWER = 4.0
# DeepMimic's PPOAgent.ADV_EPS, added to the advantages' standard deviation.
ADVANTAGE_EPS = 1e-5


class Networks(NamedTuple):
    actor: MLP
    critic: MLP


@struct.dataclass
class EnvCarry:
    """The environments between updates, with the bookkeeping of their current episodes."""

    state: object  # brax.envs.State, batched over num_envs
    steps: jax.Array
    episode_return: jax.Array
    time_limit: jax.Array  # control steps; each episode keeps the limit in force when it started


@struct.dataclass
class PPOState:
    params: dict  # {"actor": ..., "log_std": ..., "critic": ...}
    opt_state: optax.OptState
    normaliser: ObservationNormaliser
    env: EnvCarry
    samples: jax.Array  # samples trained on before this update: the clock of the annealing schedules
    networks: Networks = struct.field(pytree_node=False)
    normalize_observations: bool = struct.field(pytree_node=False)


class Transition(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    exploratory: jax.Array  # 1 where the action was sampled, 0 where it was the mean action (trains the critic only)
    reward: jax.Array
    termination: jax.Array
    truncation: jax.Array
    final_obs: jax.Array  # the observation the step reached, before any reset: bootstraps a truncation
    episode_return: jax.Array  # return of the episode that ended at this step (0 where none ended)
    pose_error: jax.Array


def env_config(config: PPOConfig, base):
    return dataclasses.replace(
        base,
        random_start=True,
        early_termination=True,
        replay="none",
        episode_length=config.episode_length,
        action_mapping=config.action_mapping,
    )


def exploration_rate(config: PPOConfig, samples: jax.Array) -> jax.Array:
    """DeepMimic's ``ExpParams.lerp``: linear from start to end over ``exploration_anneal_samples``."""
    if config.exploration_anneal_samples <= 0:
        return jnp.asarray(config.exploration_rate_start, jnp.float32)
    progress = jnp.clip(jnp.asarray(samples, jnp.float32) / float(config.exploration_anneal_samples), 0.0, 1.0)
    return config.exploration_rate_start + (config.exploration_rate_end - config.exploration_rate_start) * progress


def time_limit(config: PPOConfig, samples: jax.Array) -> jax.Array:
    """Control steps of an episode that starts after ``samples``: DeepMimic's power-4 annealed timer, rounded up
    (its episode ends at the first step whose time reaches the limit)."""
    if config.initial_episode_length <= 0 or config.time_limit_anneal_samples <= 0:
        return jnp.asarray(config.episode_length, jnp.int32)
    progress = jnp.clip(jnp.asarray(samples, jnp.float32) / float(config.time_limit_anneal_samples), 0.0, 1.0)
    progress = progress**TIME_LIMIT_ANNEAL_POWER
    steps = config.initial_episode_length + (config.episode_length - config.initial_episode_length) * progress
    return jnp.ceil(steps).astype(jnp.int32)


def _optimizer(config: PPOConfig) -> optax.GradientTransformation:
    def group(learning_rate):
        step = optax.adam(learning_rate) if config.optimizer == "adam" else optax.sgd(learning_rate, config.momentum)
        return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), step) if config.max_grad_norm > 0 else step

    return optax.multi_transform(
        {"actor": group(config.actor_learning_rate), "critic": group(config.critic_learning_rate)},
        lambda params: {"actor": "actor", "log_std": "actor", "critic": "critic"},
    )


def _reset(env, key: jax.Array, num_envs: int, limit: jax.Array) -> EnvCarry:
    return shard_batch(EnvCarry(
        state=jax.vmap(env.reset)(jax.random.split(key, num_envs)),
        steps=jnp.zeros(num_envs, jnp.int32),
        episode_return=jnp.zeros(num_envs),
        time_limit=jnp.full(num_envs, limit, jnp.int32),
    ))


def _validate(config: PPOConfig) -> None:
    batch = config.num_envs * config.unroll_length
    if config.minibatch_size < 1 or batch % config.minibatch_size:
        raise ValueError(f"minibatch_size {config.minibatch_size} must divide num_envs x unroll_length = {batch}")
    if config.optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', not {config.optimizer!r}")
    if config.advantage_normalisation not in ("minibatch", "batch"):
        raise ValueError(
            f"advantage_normalisation must be 'minibatch' or 'batch', not {config.advantage_normalisation!r}"
        )
    if config.network_init not in NETWORK_INITS:
        raise ValueError(f"network_init must be one of {tuple(NETWORK_INITS)}, not {config.network_init!r}")
    for name in ("exploration_rate_start", "exploration_rate_end"):
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], not {getattr(config, name)}")
    if not 0 <= config.initial_episode_length <= config.episode_length:
        raise ValueError(
            f"initial_episode_length {config.initial_episode_length} must lie in [0, episode_length "
            f"{config.episode_length}]"
        )


def init(key: jax.Array, env, config: PPOConfig) -> PPOState:
    _validate(config)
    actor_key, critic_key, env_key = jax.random.split(key, 3)
    hidden_init, actor_output_init, critic_output_init = NETWORK_INITS[config.network_init]
    networks = Networks(
        actor=MLP(tuple(config.actor_hidden_sizes), env.action_size, config.activation, ACTOR_OUTPUT_SCALE,
                  hidden_init, actor_output_init),
        critic=MLP(tuple(config.critic_hidden_sizes), 1, config.activation, 1.0, hidden_init, critic_output_init),
    )
    obs = jnp.zeros((env.observation_size,))
    params = {
        "actor": networks.actor.init(actor_key, obs),
        "log_std": jnp.full((env.action_size,), math.log(config.initial_action_std), jnp.float32),
        "critic": networks.critic.init(critic_key, obs),
    }
    samples = jnp.zeros((), jnp.int32)
    return PPOState(
        params=params,
        opt_state=_optimizer(config).init(params),
        normaliser=ObservationNormaliser.create(env.observation_size),
        # eager vmap is slow
        env=jax.jit(_reset, static_argnums=(0, 2))(env, env_key, config.num_envs, time_limit(config, samples)),
        samples=samples,
        networks=networks,
        normalize_observations=config.normalize_observations,
    )


def _normalise(state: PPOState, obs: jax.Array) -> jax.Array:
    return state.normaliser(obs) if state.normalize_observations else obs


def _log_prob(mean: jax.Array, log_std: jax.Array, action: jax.Array) -> jax.Array:
    return jnp.sum(-0.5 * jnp.square((action - mean) / jnp.exp(log_std)) - log_std - 0.5 * jnp.log(2 * jnp.pi), -1)


def policy(state: PPOState):
    """The mean action, unclipped as in training and in DeepMimic's test mode (the env's `diffmimic` and `range`
    mappings clip it themselves; under DeepMimic's mapping the action-bound loss keeps it near [-1, 1])."""
    def act(obs: jax.Array, key: jax.Array | None = None) -> jax.Array:
        del key  # the mean action
        return state.networks.actor.apply(state.params["actor"], _normalise(state, obs))

    return act


def sample_policy(state: PPOState):
    """An action of the policy's Gaussian: mean + exp(log std) x noise, unclipped as in training (where
    ``ppo_deepmimic`` adds the noise only with its annealed exploration rate; DeepMimic's test mode uses the mean)."""
    def act(obs: jax.Array, key: jax.Array) -> jax.Array:
        mean = state.networks.actor.apply(state.params["actor"], _normalise(state, obs))
        return mean + jnp.exp(state.params["log_std"]) * jax.random.normal(key, mean.shape)

    return act


def _take_fresh_starts(env, key, pool, used, ended):
    """Fresh reset states for the environments that ``ended``, from ``pool`` (entries ``used`` onwards are unused).

    A pool that cannot serve every ended environment is replaced by a new draw of ``len(ended)`` resets first, so
    every entry handed out is an unused independent ``env.reset``; returns (fresh states, pool, used).
    """
    num_envs = ended.shape[0]
    needed = jnp.sum(ended, dtype=jnp.int32)

    def redraw(_):
        fresh = jax.vmap(env.reset)(jax.random.split(key, num_envs))
        return jax.tree.map(lambda new, old: new.astype(old.dtype), fresh, pool), jnp.zeros((), jnp.int32)

    pool, used = jax.lax.cond(used + needed > num_envs, redraw, lambda _: (pool, used), None)
    slot = jnp.clip(used + jnp.cumsum(ended) - 1, 0, num_envs - 1)  # the k-th ended environment takes entry used + k
    return jax.tree.map(lambda x: x[slot], pool), pool, used + needed


def _collect(state: PPOState, key: jax.Array, env, config: PPOConfig) -> tuple[EnvCarry, Transition]:
    actor, params = state.networks.actor, state.params
    rate = exploration_rate(config, state.samples)
    limit = time_limit(config, state.samples)

    def step(carry, key):
        env_carry, pool, used = carry
        noise_key, explore_key, reset_key = jax.random.split(key, 3)
        obs = env_carry.state.obs
        mean = actor.apply(params["actor"], _normalise(state, obs))
        exploratory = jax.random.bernoulli(explore_key, rate, (config.num_envs,))
        noise = jnp.exp(params["log_std"]) * jax.random.normal(noise_key, mean.shape)
        action = mean + jnp.where(exploratory[:, None], noise, 0.0)
        stepped = jax.vmap(env.step)(env_carry.state, action)
        steps = env_carry.steps + 1
        episode_return = env_carry.episode_return + stepped.reward
        termination = stepped.done > 0
        truncation = (steps >= env_carry.time_limit) & ~termination
        ended = termination | truncation
        fresh, pool, used = _take_fresh_starts(env, reset_key, pool, used, ended)

        def restart(new, old):
            return jnp.where(ended.reshape(ended.shape + (1,) * (old.ndim - 1)), new, old)

        next_carry = shard_batch(EnvCarry(
            state=jax.tree.map(restart, fresh, stepped),
            steps=jnp.where(ended, 0, steps),
            episode_return=jnp.where(ended, 0.0, episode_return),
            time_limit=jnp.where(ended, limit, env_carry.time_limit),
        ))
        transition = Transition(
            obs=obs,
            action=action,
            log_prob=_log_prob(mean, params["log_std"], action),
            exploratory=exploratory.astype(jnp.float32),
            reward=stepped.reward,
            termination=termination.astype(jnp.float32),
            truncation=truncation.astype(jnp.float32),
            final_obs=stepped.obs,
            episode_return=jnp.where(ended, episode_return, 0.0),
            pose_error=stepped.metrics["pose_error"],
        )
        return (next_carry, pool, used), shard_batch(transition)

    # The pool starts empty (all of it "used"): a rollout in which no episode ends draws no resets at all.
    empty_pool = (state.env.state, jnp.asarray(config.num_envs, jnp.int32))
    (carry, _, _), batch = jax.lax.scan(
        step, (state.env, *empty_pool), jax.random.split(key, config.unroll_length)
    )
    return carry, batch


def _advantages(state: PPOState, carry: EnvCarry, batch: Transition, config: PPOConfig):
    def value(obs):
        return state.networks.critic.apply(state.params["critic"], _normalise(state, obs))[..., 0]

    values = value(jnp.concatenate([batch.obs, carry.state.obs[None]], axis=0))  # [T + 1, N]
    # Truncation: the episode would have gone on, so its reward carries the discounted value of where it stopped.
    rewards = batch.reward + config.discount * batch.truncation * value(batch.final_obs)
    discounts = config.discount * (1.0 - batch.termination) * (1.0 - batch.truncation)
    gae = jax.vmap(rlax.truncated_generalized_advantage_estimation, in_axes=(1, 1, None, 1), out_axes=1)
    advantages = gae(rewards, discounts, config.gae_lambda, values)
    return advantages, advantages + values[:-1]


def normalise_advantages(advantages: jax.Array, weights: jax.Array, clip: float) -> jax.Array:
    """(A - mean) / (std + 1e-5) over the entries with weight 1, then clipped to +-``clip`` (0: no clip)."""
    count = jnp.maximum(jnp.sum(weights), 1.0)
    mean = jnp.sum(weights * advantages) / count
    std = jnp.sqrt(jnp.sum(weights * jnp.square(advantages - mean)) / count)
    normalised = (advantages - mean) / (std + ADVANTAGE_EPS)
    return jnp.clip(normalised, -clip, clip) if clip > 0 else normalised


def action_bound_loss(mean: jax.Array, low: float = -1.0, high: float = 1.0) -> jax.Array:
    """DeepMimic's ``bound_loss``: 0.5 x mean over samples of the summed squared excess beyond [low, high]."""
    excess = jnp.minimum(mean - low, 0.0) ** 2 + jnp.maximum(mean - high, 0.0) ** 2
    return 0.5 * jnp.mean(jnp.sum(excess, axis=-1))


def _kernel_l2(params) -> jax.Array:
    """TensorFlow's ``l2_loss`` (half the sum of squares) over the kernels, biases excluded as DeepMimic does."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return sum(0.5 * jnp.sum(jnp.square(x)) for path, x in leaves if getattr(path[-1], "key", None) == "kernel")


def _loss(params, state: PPOState, minibatch, config: PPOConfig):
    (actor_batch, advantages), (critic_batch, targets) = minibatch
    log_std = params["log_std"] if config.learn_action_std else jax.lax.stop_gradient(params["log_std"])
    mean = state.networks.actor.apply(params["actor"], _normalise(state, actor_batch.obs))
    ratio = jnp.exp(_log_prob(mean, log_std, actor_batch.action) - actor_batch.log_prob)
    if config.advantage_normalisation == "minibatch":
        advantages = normalise_advantages(advantages, jnp.ones_like(advantages), config.advantage_clip)
    # Only sampled actions train the actor (DeepMimic's EXP_ACTION_FLAG); a mean action has nothing to reinforce.
    policy_loss = rlax.clipped_surrogate_pg_loss(ratio, advantages * actor_batch.exploratory, config.clip_epsilon)
    values = state.networks.critic.apply(params["critic"], _normalise(state, critic_batch.obs))[..., 0]
    value_loss = 0.5 * jnp.mean(jnp.square(values - targets))
    entropy = jnp.sum(log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e))
    bound_loss = action_bound_loss(mean)
    loss = policy_loss + value_loss - config.entropy_coef * entropy + config.action_bound_loss_weight * bound_loss
    if config.actor_weight_decay:
        loss = loss + config.actor_weight_decay * _kernel_l2(params["actor"])
    return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy, "bound_loss": bound_loss}


def update(state: PPOState, key: jax.Array, *, env, config: PPOConfig):
    collect_key, shuffle_key = jax.random.split(key)
    carry, batch = _collect(state, collect_key, env, config)
    advantages, targets = _advantages(state, carry, batch, config)
    if config.clip_value_targets:
        # After the advantages, as DeepMimic: its advantages use the unclipped TD(lambda) returns.
        targets = jnp.clip(targets, 0.0, 1.0 / (1.0 - config.discount))

    samples = config.num_envs * config.unroll_length
    num_minibatches = samples // config.minibatch_size
    flat_batch, advantages, targets = jax.tree.map(
        lambda x: x.reshape((samples,) + x.shape[2:]), (batch, advantages, targets)
    )
    exploratory = flat_batch.exploratory > 0
    if config.advantage_normalisation == "batch":
        advantages = normalise_advantages(advantages, flat_batch.exploratory, config.advantage_clip)
    optimizer = _optimizer(config)

    def gradient_step(carry, minibatch):
        params, opt_state = carry
        (loss, parts), grads = jax.value_and_grad(_loss, has_aux=True)(params, state, minibatch, config)
        params, opt_state, step_metrics = guarded_step(optimizer, params, opt_state, grads, loss)
        return (params, opt_state), {"loss": loss, **parts, **step_metrics}

    def epoch(carry, key):
        critic_order = jax.random.permutation(key, samples)
        # The actor cycles through the sampled steps only, in the same shuffled order (all of them when every
        # action is sampled, as in ``ppo``).
        actor_order = critic_order[jnp.argsort(~exploratory[critic_order], stable=True)]
        actor_order = actor_order[jnp.arange(samples) % jnp.maximum(jnp.sum(exploratory), 1)]

        def minibatches(order, tree):
            return jax.tree.map(lambda x: x[order].reshape((num_minibatches, -1) + x.shape[1:]), tree)

        data = (minibatches(actor_order, (flat_batch, advantages)), minibatches(critic_order, (flat_batch, targets)))
        return jax.lax.scan(gradient_step, carry, data)

    (params, opt_state), steps = jax.lax.scan(
        epoch, (state.params, state.opt_state), jax.random.split(shuffle_key, config.num_epochs)
    )
    update_statistics = all_finite(batch.obs)
    if config.normalizer_samples > 0:
        update_statistics &= state.samples < config.normalizer_samples
    normaliser = select(update_statistics, state.normaliser.update(batch.obs), state.normaliser)
    episodes = jnp.sum(batch.termination + batch.truncation)
    metrics = {
        "samples": jnp.asarray(samples, jnp.int32),
        **{name: jnp.mean(value) for name, value in steps.items() if name != "grad_finite"},
        "grad_finite": jnp.min(steps["grad_finite"]),
        "mean_reward": jnp.mean(batch.reward),
        "pose_error": jnp.mean(batch.pose_error),
        "episodes": episodes,
        "episode_return": jnp.sum(batch.episode_return) / jnp.maximum(episodes, 1.0),
        "fall_rate": jnp.sum(batch.termination) / jnp.maximum(episodes, 1.0),
        "action_std": jnp.mean(jnp.exp(params["log_std"])),
        "exploration_rate": exploration_rate(config, state.samples),
        "time_limit": time_limit(config, state.samples).astype(jnp.float32),
    }
    new_state = state.replace(
        params=params, opt_state=opt_state, normaliser=normaliser, env=carry, samples=state.samples + samples
    )
    return new_state, metrics


PPO = Method(
    name="ppo",
    config_cls=PPOConfig,
    env_config=env_config,
    init=init,
    update=update,
    policy=policy,
    sample_policy=sample_policy,
    needs_differentiable_env=False,
    description="DeepMimic-style PPO with Adam: imitation reward, RSI, early termination on a fall (Peng et al. 2018).",
)
PPO_DEEPMIMIC = PPO.variant(
    "ppo_deepmimic",
    "PPO as DeepMimic released it (ct_agent_humanoid_ppo.txt and its training args): SGD with momentum, fixed "
    "action std 0.05 with an annealed exploration rate, batch 4096, one epoch, annealed time limit.",
    num_envs=64,
    unroll_length=64,
    minibatch_size=256,
    num_epochs=1,
    optimizer="sgd",
    momentum=0.9,
    actor_learning_rate=2e-6,
    critic_learning_rate=5e-4,
    actor_weight_decay=5e-4,
    max_grad_norm=0.0,
    initial_action_std=0.05,
    learn_action_std=False,
    exploration_rate_start=1.0,
    exploration_rate_end=0.2,
    exploration_anneal_samples=64_000_000,
    advantage_normalisation="batch",
    advantage_clip=4.0,
    clip_value_targets=True,
    action_bound_loss_weight=10.0,
    normalizer_samples=1_000_000,
    network_init="deepmimic",
    episode_length=600,
    initial_episode_length=15,
    time_limit_anneal_samples=32_000_000,
    max_devices=0,
)
METHODS = (PPO, PPO_DEEPMIMIC)
