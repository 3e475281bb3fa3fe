"""DiffMimic (Ren et al., ICLR 2023): a policy trained by analytic gradients through the differentiable simulator.

One update, as in the released trainer (``diffmimic/brax_lib/agent_diffmimic.py``):

1. reset ``num_envs`` environments at random start frames of the clip (RSI);
2. roll the policy (sampling its actions) out for ``rollout_length`` steps with ``lax.scan``; the environment
   applies Demonstration Replay inside ``env.step`` (a ``jnp.where``: gradients flow through every non-replayed step);
3. loss = mean over steps and environments of the per-step state-matching loss ``state.metrics["loss"]``;
4. ``jax.value_and_grad`` through the whole rollout (optionally cut every ``truncation_length`` steps);
5. clip the gradient to global norm 0.4, Adam with a linear learning-rate decay 3e-4 -> 1e-5; a non-finite loss
   or gradient is not applied (``grad_finite = 0``);
6. update the running observation statistics with the rollout's observations (after the step, as released).

What the release does (its code at d0db48a; ``mimic.py`` builds Brax APG's networks with hidden sizes (512, 256)):

- The policy is Brax APG's: an MLP whose output is the location and raw scale of a tanh-Gaussian
  (``NormalTanhDistribution``), *sampled* with the reparameterisation trick in training and in evaluation
  (``deterministic_eval`` is left False), std = ``softplus(raw) + 0.001``. With the release's pin, brax 0.0.15
  (the paper's), the MLP uses swish activations and LeCun-uniform initialisation, and the std has no extra factor;
  the unpinned d0db48a code on brax >= 0.10.4 gets ELU, layer norm, orthogonal(0.01) initialisation and a
  ``var_scale`` of 0.1 on the std.
- Rollouts are ``ep_len - 1`` steps: 59 in every ``configs/AMP/*_20s.yaml`` (``ep_len`` 60), 29 in
  ``backflip.yaml`` and ``roll.yaml`` (``ep_len`` 30).

Ours, and why:

- ``policy_noise="tanh_gaussian"`` (default) is the released form: the network's output doubles into location and
  raw scale, actions ``tanh(loc + std * eps)`` are sampled (reparameterised: gradients flow through ``loc`` and
  ``std``) in training, std = ``(softplus(raw) + 0.001) * noise_var_scale`` (0.1, default: brax >= 0.10.4; 1.0:
  brax 0.0.15). ``policy_noise="deterministic"`` is ``tanh(MLP(obs))``, no sampling. Measured with
  ``methods.learning_check`` (the earlier standing synthetic clip, 16 envs x 32 steps, 100 updates, seeds 0 and 1): evaluation pose error
  0.038 / 0.048 with the tanh-Gaussian at 0.1, 0.046 / 0.059 deterministic, 0.099 (seed 0) at scale 1.0.
  ``policy(state)`` is ``tanh(loc)`` in every form: the harness's evaluation is deterministic, the release's sampled.
- ELU activations by default (``activation="swish"`` is the paper-era brax 0.0.15 network), no layer norm.
- The policy's last layer is initialised at scale 0.01 (``output_init_scale``), as DeepMimic's actor is (Brax's
  APG networks since 0.10.4 initialise *every* layer at orthogonal(0.01), with layer norm; neither is reproduced
  here); brax 0.0.15 used LeCun initialisation (scale 1), whose random first actions are far from any pose. Measured with ``methods.learning_check`` (the earlier standing synthetic clip, 16 envs x 32 steps, 200 updates): evaluation
  pose error 0.38 -> 0.32 with scale 1 (still falling) and 0.38 -> 0.020 with 0.01.
- The first update normalises nothing (identity until statistics exist), exactly as the release's fresh
  ``running_statistics`` state; our normaliser also floors the standard deviation at 0.01 (brax: 1e-6) and clips at
  10 (brax: no clip), which zeroes the gradient through a clipped component (FIDELITY.md section 7).

The ablations ``diffmimic_noreplay`` and ``diffmimic_random`` are :meth:`~methods.base.Method.variant` s of this
method: the same functions with other ``replay`` defaults.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
import optax
from flax import struct

from methods.base import Method
from methods.networks import MLP, Activation, ObservationNormaliser
from methods.optimisation import guarded_step, select
from methods.parallel import shard_batch


@dataclasses.dataclass(frozen=True)
class DiffMimicConfig:
    """DiffMimic's hyperparameters; defaults are the released settings (configs/AMP/*.yaml)."""

    num_envs: int = 300
    """Environments per update, each from its own random start frame."""
    rollout_length: int = 30
    """Control steps per rollout (released: ep_len - 1 = 59 in every configs/AMP/*_20s.yaml, 29 in backflip.yaml)."""
    num_iterations: int = 1000
    """Updates over which the learning rate decays linearly (released: 1000)."""
    learning_rate: float = 3e-4
    """Adam's initial learning rate."""
    final_learning_rate: float = 1e-5
    """Learning rate reached after ``num_iterations`` updates."""
    max_grad_norm: float = 0.4
    """Global-norm gradient clip."""
    hidden_sizes: tuple[int, ...] = (512, 256)
    """Policy MLP hidden layers."""
    activation: Activation = "elu"
    """Policy hidden activation (Brax APG's: swish in brax 0.0.15, the paper's pin; ELU from brax 0.10.4)."""
    output_init_scale: float = 0.01
    """Scale of the policy's last-layer initial weights: first actions near the middle of the joint ranges."""
    normalize_observations: bool = True
    """Running mean/std observation normalisation."""
    policy_noise: Literal["deterministic", "tanh_gaussian"] = "tanh_gaussian"
    """`tanh_gaussian`: the release's reparameterised tanh-Gaussian samples in training; `deterministic`: no noise."""
    noise_var_scale: float = 0.1
    """tanh_gaussian std = (softplus(raw) + 0.001) x this (1.0: brax 0.0.15, the paper's pin; 0.1: brax >= 0.10.4)."""
    replay: Literal["none", "threshold", "random"] = "threshold"
    """Demonstration Replay: `threshold` (on error), `random` (with probability ``replay_rate``) or `none`."""
    replay_threshold: float = 0.2
    """Metres of mean world body-position error that trigger a replay (0.2 locomotion, 0.4 acrobatics)."""
    replay_rate: float = 0.05
    """Replay probability per step in `random` mode."""
    truncation_length: int = 0
    """Stop the gradient through the carried simulator state every k steps (0: backpropagate the whole rollout)."""
    remat_steps: bool = False
    """Recompute each control step's forward pass in the backward pass (``jax.checkpoint``) instead of storing its
    intermediates: the same gradient, less memory, a different speed (``benchmarks.perf`` measures it). The env
    already recomputes each physics substep (``envs.MimicEnv.remat_substeps``); on top of that, recomputing whole
    steps made the quick tier's gradient slower on the 2-core CPU (1.54 s against 1.29 s), so it is off."""


# Brax's NormalTanhDistribution: the smallest standard deviation of the pre-tanh Gaussian.
TANH_GAUSSIAN_MIN_STD = 0.001


@struct.dataclass
class DiffMimicState:
    params: dict
    opt_state: optax.OptState
    normaliser: ObservationNormaliser
    network: MLP = struct.field(pytree_node=False)
    normalize_observations: bool = struct.field(pytree_node=False)
    policy_noise: str = struct.field(pytree_node=False, default="tanh_gaussian")
    noise_var_scale: float = struct.field(pytree_node=False, default=0.1)


def env_config(config: DiffMimicConfig, base):
    # DiffMimic trains on fixed-length rollouts from RSI without early termination; the reference must cover them.
    return dataclasses.replace(
        base,
        random_start=True,
        early_termination=False,
        replay=config.replay,
        replay_threshold=config.replay_threshold,
        replay_rate=config.replay_rate,
        episode_length=max(base.episode_length, config.rollout_length),
    )


def make_optimizer(config: DiffMimicConfig) -> optax.GradientTransformation:
    schedule = optax.linear_schedule(config.learning_rate, config.final_learning_rate, config.num_iterations)
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(schedule))


def init(key: jax.Array, env, config: DiffMimicConfig) -> DiffMimicState:
    if config.num_envs < 1 or config.rollout_length < 1 or config.truncation_length < 0:
        raise ValueError("num_envs and rollout_length must be positive and truncation_length >= 0")
    if config.policy_noise not in ("deterministic", "tanh_gaussian"):
        raise ValueError(f"policy_noise must be 'deterministic' or 'tanh_gaussian', not {config.policy_noise!r}")
    # The tanh-Gaussian's network outputs the location and the raw scale of every action component.
    outputs = env.action_size * (2 if config.policy_noise == "tanh_gaussian" else 1)
    network = MLP(tuple(config.hidden_sizes), outputs, config.activation, config.output_init_scale)
    params = network.init(key, jnp.zeros((env.observation_size,)))
    return DiffMimicState(
        params=params,
        opt_state=make_optimizer(config).init(params),
        normaliser=ObservationNormaliser.create(env.observation_size),
        network=network,
        normalize_observations=config.normalize_observations,
        policy_noise=config.policy_noise,
        noise_var_scale=config.noise_var_scale,
    )


def _distribution(state: DiffMimicState, params, obs: jax.Array) -> tuple[jax.Array, jax.Array | None]:
    """Pre-tanh location and standard deviation (None for the deterministic policy) of the action."""
    output = state.network.apply(params, state.normaliser(obs) if state.normalize_observations else obs)
    if state.policy_noise == "deterministic":
        return output, None
    loc, raw_scale = jnp.split(output, 2, axis=-1)
    return loc, (jax.nn.softplus(raw_scale) + TANH_GAUSSIAN_MIN_STD) * state.noise_var_scale


def _act(state: DiffMimicState, params, obs: jax.Array, key: jax.Array | None) -> jax.Array:
    """The training action: tanh of the location, plus reparameterised noise for the tanh-Gaussian."""
    loc, std = _distribution(state, params, obs)
    if std is None:
        return jnp.tanh(loc)
    return jnp.tanh(loc + std * jax.random.normal(key, loc.shape))


def policy(state: DiffMimicState):
    def act(obs: jax.Array, key: jax.Array | None = None) -> jax.Array:
        del key  # the mean action: tanh of the location, for either form of the policy
        return jnp.tanh(_distribution(state, state.params, obs)[0])

    return act


def sample_policy(state: DiffMimicState):
    """The training action: a sample of the tanh-Gaussian (the release's evaluation policy); the mean action for
    ``policy_noise="deterministic"``."""
    def act(obs: jax.Array, key: jax.Array) -> jax.Array:
        return _act(state, state.params, obs, key)

    return act


def update(state: DiffMimicState, key: jax.Array, *, env, config: DiffMimicConfig):
    start_states = shard_batch(jax.vmap(env.reset)(jax.random.split(key, config.num_envs)))
    noise_key = jax.random.fold_in(key, 1)  # its own stream: the start frames do not depend on the policy form

    def rollout_loss(params):
        def step(env_state, index):
            action = _act(state, params, env_state.obs, jax.random.fold_in(noise_key, index))
            next_state = shard_batch(jax.vmap(env.step)(env_state, action))
            if config.truncation_length > 0:
                cut = (index + 1) % config.truncation_length == 0
                next_state = jax.tree.map(lambda x: jnp.where(cut, jax.lax.stop_gradient(x), x), next_state)
            return next_state, (env_state.obs, next_state.metrics)

        step_fn = jax.checkpoint(step) if config.remat_steps else step
        _, (observations, metrics) = jax.lax.scan(step_fn, start_states, jnp.arange(config.rollout_length))
        return jnp.mean(metrics["loss"]), (observations, metrics)

    (loss, (observations, metrics)), grads = jax.value_and_grad(rollout_loss, has_aux=True)(state.params)
    params, opt_state, step_metrics = guarded_step(make_optimizer(config), state.params, state.opt_state, grads, loss)
    normaliser = select(step_metrics["grad_finite"] > 0, state.normaliser.update(observations), state.normaliser)
    return state.replace(params=params, opt_state=opt_state, normaliser=normaliser), {
        "samples": jnp.asarray(config.num_envs * config.rollout_length, jnp.int32),
        "loss": loss,
        **step_metrics,
        "replay_rate": jnp.mean(metrics["replay"]),
        "pose_error": jnp.mean(metrics["pose_error"]),
        "fall_rate": jnp.mean(metrics["fall"]),
    }


DIFFMIMIC = Method(
    name="diffmimic",
    config_cls=DiffMimicConfig,
    env_config=env_config,
    init=init,
    update=update,
    policy=policy,
    sample_policy=sample_policy,
    needs_differentiable_env=True,
    description="Analytic policy gradients through the simulator with Demonstration Replay (Ren et al., ICLR 2023).",
)
DIFFMIMIC_NOREPLAY = DIFFMIMIC.variant(
    "diffmimic_noreplay", "DiffMimic without Demonstration Replay (ablation).", replay="none"
)
DIFFMIMIC_RANDOM = DIFFMIMIC.variant(
    "diffmimic_random", "DiffMimic with random Demonstration Replay at rate 0.05 (ablation).", replay="random"
)
METHODS = (DIFFMIMIC, DIFFMIMIC_NOREPLAY, DIFFMIMIC_RANDOM)
