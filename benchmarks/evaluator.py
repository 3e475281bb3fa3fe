"""The one evaluator every method is judged by (DESIGN.md's pose error), at two horizons.

An evaluation is ONE compiled, deterministic episode: it starts at frame 0 of the clip and runs the method's
policy (``policy(state)(obs, key)``, the mean action for the built-in methods, one fixed key) with no Demonstration
Replay and no early termination, for ``Horizons.episode_frames`` control steps. Two horizons are read from that
same episode:

- ``cycle``: the first ``cycle_frames`` steps (one clip cycle; "learned" in the DiffMimic paper's headline);
- ``20s``: the first ``long_frames`` steps, the cyclic clip extended cycle after cycle (600 steps = 20 s at 30 Hz
  in the quick and paper tiers, DiffMimic's ``*_20s`` configs; "cycled" in the headline). A clip that does not
  loop (``"Loop": "none"``) has nothing to extend: its reference holds the last pose, so its 20 s horizon is
  not measured (NaN), and the episode is one cycle long.

Per horizon: the mean pose error, the env's contact-based fall (1 if the character fell at any step of the horizon,
so a fraction of the one episode) and DiffMimic's height-based fall (the fraction of steps with the pelvis height
outside [0.2, 1.7] m, as DiffMimic's ``eval/episode_fall``); over the whole episode, the time of the first
contact fall in seconds (NaN when none). Evaluation steps are not training samples.

A simulation can diverge: with DiffMimic's unclipped PD torques, a fallen character's joints can be torn apart and
its state run off to 1e9 m or NaN (seen on backflip in the long tier). A mean over such a step is not a pose error,
so from the first step whose pose error is non-finite or above ``DIVERGENCE_FACTOR`` times the largest error an
intact character can have (``intact_error_bound``: every body as far from its reference as two root-to-body chains
of the character are long), the episode is scored as a failure: each remaining step gets that intact bound as its
error (worse than any fallen but intact character can do) and counts as a contact and a height fall;
``diverged_seconds`` records when it happened (NaN when it did not).

DiffMimic's release (``agent_diffmimic.train``, ``deterministic_eval=False``) evaluates its *stochastic* policy on
32 environments and averages. Ours is one deterministic episode: a noise-free measuring rod (the same policy
always gets the same number, so a curve moves only when the policy does) at 1/32 of the cost. The release's way is
:func:`make_sampled_evaluate` (``episodes`` episodes from frame 0, actions drawn from the method's
``sample_policy``, metrics averaged over the episodes), run on a finished run's final policy by
``python -m benchmarks.policy_eval``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

import envs
from benchmarks.results_store import EVALUATION_COLUMNS

DIFFMIMIC_FALL_HEIGHT = (0.2, 1.7)  # metres: DiffMimic's eval fall flag, pelvis height outside this range
# A step is diverged above this multiple of the intact bound: a spring-backend joint stretches a little, a diverged
# simulation by orders of magnitude, so the factor only needs to keep clear of the first.
DIVERGENCE_FACTOR = 2.0
# What one evaluation returns: the results store's evaluation columns, by name.
EVALUATION_METRICS = EVALUATION_COLUMNS


class EvaluationError(ValueError):
    """An evaluation set up in a way that would flatter or distort the headline number."""


@dataclasses.dataclass(frozen=True)
class Horizons:
    """Control steps of the two evaluation horizons, both counted from frame 0 of the same episode."""

    cycle_frames: int
    long_frames: int | None
    """None: not measured (a clip that does not loop)."""

    def __post_init__(self) -> None:
        if self.cycle_frames < 1 or (self.long_frames is not None and self.long_frames < 1):
            raise EvaluationError(f"evaluation horizons must be positive, got {self}")

    @property
    def episode_frames(self) -> int:
        return max(self.cycle_frames, self.long_frames or 0)


def evaluation_horizons(reference, cycle_frames: int | None, long_frames: int) -> Horizons:
    """The horizons for a clip: ``cycle_frames`` (None: one cycle of the clip) and ``long_frames`` if it loops."""
    return Horizons(
        cycle_frames=cycle_frames or reference.cycle_frames,
        long_frames=long_frames if reference.loop else None,
    )


def evaluation_env(clip: str, train_env: envs.MimicEnv, horizons: Horizons, data_dir=None) -> envs.MimicEnv:
    """The training env's character, physics and reference, set up for evaluation: frame 0, no replay, no early
    termination, long enough for both horizons."""
    config = dataclasses.replace(
        train_env.config,
        random_start=False,
        replay="none",
        early_termination=False,
        episode_length=horizons.episode_frames,
    )
    return envs.make_env(clip, config, character=train_env.model.mjcf_path.stem, data_dir=data_dir)


def check_evaluation_config(config: envs.MimicConfig, horizons: Horizons) -> None:
    """Refuses an env that would not measure the headline: replay would snap the character back to the
    reference, a random start or early termination would change what the episode covers."""
    problems = []
    if config.replay != "none":
        problems.append(f"replay={config.replay!r} (must be 'none': replay would reset the character onto the reference)")
    if config.random_start:
        problems.append("random_start=True (evaluation starts at frame 0)")
    if config.early_termination:
        problems.append("early_termination=True (evaluation runs the whole horizon)")
    if config.episode_length < horizons.episode_frames:
        problems.append(f"episode_length={config.episode_length} < {horizons.episode_frames} evaluation steps")
    if problems:
        raise EvaluationError("not an evaluation env: " + "; ".join(problems))


def pelvis_out_of_range(height: jax.Array) -> jax.Array:
    """DiffMimic's fall flag per step: the root (pelvis) below 0.2 m or above 1.7 m."""
    low, high = DIFFMIMIC_FALL_HEIGHT
    return ((height < low) | (height > high)).astype(jnp.float32)


def intact_error_bound(body_pos: np.ndarray, body_parent: np.ndarray) -> float:
    """The largest pose error (metres) a character with intact joints can have: twice its longest root-to-body
    chain, measured on one pose of its bodies (``body_pos`` [B, 3], world; ``body_parent`` [B], -1 at the root).

    Each body's root-relative position is at most its chain length from the root, for the simulated character and
    the reference alike, so no body's error can exceed twice the longest chain.
    """
    body_pos = np.asarray(body_pos, np.float64)
    body_parent = np.asarray(body_parent)
    chain = np.zeros(len(body_parent))
    for body in range(len(body_parent)):  # walk up to the root; characters have a few dozen bodies
        node = body
        while body_parent[node] >= 0:
            chain[body] += np.linalg.norm(body_pos[node] - body_pos[body_parent[node]])
            node = body_parent[node]
    return float(2.0 * chain.max())


def summarise_episode(pose_error, contact_fall, pelvis_height, horizons: Horizons, dt: float,
                      error_bound: float = math.inf) -> dict[str, jax.Array]:
    """Per-step traces of one evaluation episode (step k at index k-1, time k * dt) -> EVALUATION_METRICS.

    ``error_bound`` is the character's ``intact_error_bound``: from the first step with a non-finite pose error or one
    above ``DIVERGENCE_FACTOR`` times it, the simulation has diverged and every step scores ``error_bound`` and a fall
    (module docstring). Pure (jnp on arrays of length ``horizons.episode_frames``), so it is tested on hand-made traces.
    """
    pose_error = jnp.asarray(pose_error, jnp.float32)
    if pose_error.shape[0] < horizons.episode_frames:
        raise EvaluationError(f"{pose_error.shape[0]} steps recorded for horizons of {horizons.episode_frames}")
    exploded = ~jnp.isfinite(pose_error) | (pose_error > DIVERGENCE_FACTOR * error_bound)
    diverged = jnp.cumsum(exploded) > 0  # once diverged, never back
    pose_error = jnp.where(diverged, jnp.float32(error_bound), pose_error)
    contact_fall = jnp.where(diverged, 1.0, jnp.asarray(contact_fall, jnp.float32))
    height_fall = jnp.where(diverged, 1.0, pelvis_out_of_range(jnp.asarray(pelvis_height, jnp.float32)))
    result = {}
    for name, frames in (("cycle", horizons.cycle_frames), ("20s", horizons.long_frames)):
        if frames is None:
            nan = jnp.full((), jnp.nan, jnp.float32)
            result.update({f"pose_error_{name}": nan, f"fall_rate_{name}": nan, f"height_fall_{name}": nan})
            continue
        result[f"pose_error_{name}"] = pose_error[:frames].mean()
        result[f"fall_rate_{name}"] = contact_fall[:frames].max()
        result[f"height_fall_{name}"] = height_fall[:frames].mean()
    result["first_fall_seconds"] = _first_time(contact_fall[: horizons.episode_frames] > 0.5, dt)
    result["diverged_seconds"] = _first_time(diverged[: horizons.episode_frames], dt)
    return result


def _first_time(flags: jax.Array, dt: float) -> jax.Array:
    """Seconds at the end of the first flagged step (step k at index k-1), NaN when none is flagged."""
    return jnp.where(flags.any(), (jnp.argmax(flags) + 1) * dt, jnp.nan).astype(jnp.float32)


def make_evaluate(env: envs.MimicEnv, policy_of: Callable, horizons: Horizons):
    """``evaluate(method_state, key) -> EVALUATION_METRICS``, pure and jit-able; refuses a non-evaluation env."""
    dt, error_bound = _scoring(env, horizons)

    def evaluate(method_state, key):
        traces = _episode_traces(env, policy_of(method_state), key, horizons.episode_frames)
        return summarise_episode(*traces, horizons, dt, error_bound)

    return evaluate


def _scoring(env: envs.MimicEnv, horizons: Horizons) -> tuple[float, float]:
    """The control step (s) and the intact error bound of an evaluation env, after checking it is one."""
    check_evaluation_config(env.config, horizons)
    return float(env.reference.dt), intact_error_bound(np.asarray(env.reference.bodies.pos[0]), env.model.body_parent)


def _episode_traces(env: envs.MimicEnv, act: Callable, key, steps: int, step_keys=None):
    """Per-step pose error, contact fall and pelvis height of one episode reset with ``key``; step k's action is
    ``act(obs, step_keys[k])``, or ``act(obs, key)`` at every step when ``step_keys`` is None."""
    root_link = int(env.model.body_link[0])

    def step(state, step_key):
        state = env.step(state, act(state.obs, key if step_keys is None else step_key))
        pelvis_height = state.pipeline_state.x.pos[root_link, 2]  # the root body is the pelvis
        return state, (state.metrics["pose_error"], state.metrics["fall"], pelvis_height)

    _, traces = jax.lax.scan(step, env.reset(key), step_keys, steps)
    return traces


def sampled_episode_keys(key: jax.Array, episodes: int, steps: int) -> tuple[jax.Array, jax.Array]:
    """Reset keys ``[episodes]`` and action keys ``[episodes, steps]`` of a sampled evaluation: every episode and every
    step of it draws with its own key."""
    reset_keys, action_keys = jax.vmap(jax.random.split, out_axes=1)(jax.random.split(key, episodes))
    return reset_keys, jax.vmap(lambda k: jax.vmap(lambda i: jax.random.fold_in(k, i))(jnp.arange(steps)))(action_keys)


def mean_over_episodes(results: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """EVALUATION_METRICS of several episodes (each value ``[episodes]``) -> one value each, as DiffMimic averages
    its evaluation envs: the mean pose error and height-fall fraction (all episodes have the same length, so this
    is the mean over steps and episodes), the fraction of episodes with a contact fall, and the mean first-fall and
    divergence times of the episodes that had one (NaN when none had: a time is NaN where there was none)."""
    return {name: jnp.nanmean(value) if name in ("first_fall_seconds", "diverged_seconds") else value.mean()
            for name, value in results.items()}


def make_sampled_evaluate(env: envs.MimicEnv, sample_policy_of: Callable, horizons: Horizons, episodes: int):
    """``evaluate(method_state, key) -> (EVALUATION_METRICS averaged by mean_over_episodes, per-episode metrics)``:
    ``episodes`` episodes from frame 0, each step's action drawn from ``sample_policy_of(state)`` with its own key
    (DiffMimic's evaluation: ``num_eval_envs`` 32, ``deterministic_eval`` False). Pure and jit-able."""
    if episodes < 1:
        raise EvaluationError(f"a sampled evaluation needs at least one episode, got {episodes}")
    dt, error_bound = _scoring(env, horizons)

    def episode(method_state, reset_key, step_keys):
        traces = _episode_traces(env, sample_policy_of(method_state), reset_key, horizons.episode_frames, step_keys)
        return summarise_episode(*traces, horizons, dt, error_bound)

    def evaluate(method_state, key):
        reset_keys, step_keys = sampled_episode_keys(key, episodes, horizons.episode_frames)
        per_episode = jax.vmap(episode, in_axes=(None, 0, 0))(method_state, reset_keys, step_keys)
        return mean_over_episodes(per_episode), per_episode

    return evaluate
