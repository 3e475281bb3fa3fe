"""The recorder: one deterministic evaluation episode, simulated and reference bodies per frame, for viewing.

The episode is the evaluator's (``benchmarks.evaluator.make_evaluate``): reset, then ``frames`` steps of
``act(obs, key)`` with the same key, so the recorded pose errors average to the numbers in the run's curve when
the harness passes its evaluation env (frame 0 start, no replay, no early termination) and the episode length:
frames 1..cycle to ``pose_error_cycle``, frames 1..long to ``pose_error_20s`` (unless the simulation diverged:
the evaluator then scores the steps from there as failures, see :mod:`benchmarks.evaluator`). Up to floating point:
the two are separate programs, which XLA may fuse differently. As in the evaluator, the policy's parameters are
arguments of the compiled episode, not constants: every recording of a run (``--record-every``) and every run of
the same shapes share one program (with the parameters as constants, each recording compiled its own, and contacts
grew the rounding difference to the evaluator's number to a few tenths of a percent: 0.2357 m vs 0.2362 m for a
smoke-tier DiffMimic run). The file format lives in the JAX-free :mod:`benchmarks.rollout_file`, re-exported here.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

import envs
from benchmarks.rollout_file import ROLLOUT_FILE, RolloutError, load_rollout, save_rollout
from envs.model import body_states


def make_recorder(env: envs.MimicEnv, policy_of: Callable, frames: int) -> Callable[[Any, jax.Array], dict[str, np.ndarray]]:
    """``record(method_state, key)``: runs ``frames`` control steps of ``policy_of(method_state)`` from
    ``env.reset(key)`` and returns the rollout arrays (``frames + 1`` frames: the reset state first; fewer if the
    simulation blew up, see :func:`finite_frames`; :mod:`benchmarks.rollout_file` has the fields). The episode is
    compiled on the first call and reused by the later ones."""
    if frames < 1:
        raise ValueError(f"frames must be positive, got {frames}")

    def snapshot(state):
        sim = body_states(env.model, state.pipeline_state.x, state.pipeline_state.xd)
        ref = env.reference_bodies(state.info["frame"])
        return {
            "sim_pos": sim.pos,
            "sim_rot": sim.rot,
            "ref_pos": ref.pos,
            "ref_rot": ref.rot,
            "pose_error": state.metrics["pose_error"],
            "fall": state.metrics["fall"],
        }

    def episode(method_state, key):
        act = policy_of(method_state)
        state = env.reset(key)

        def step(state, _):
            state = env.step(state, act(state.obs, key))
            return state, snapshot(state)

        _, steps = jax.lax.scan(step, state, None, frames)
        return jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]), snapshot(state), steps)

    compiled = jax.jit(episode)

    def record(method_state, key: jax.Array) -> dict[str, np.ndarray]:
        recorded = jax.device_get(compiled(method_state, key))
        kept = finite_frames(recorded)
        return {
            "sim_pos": np.asarray(recorded["sim_pos"][:kept], np.float32),
            "sim_rot": np.asarray(recorded["sim_rot"][:kept], np.float16),
            "ref_pos": np.asarray(recorded["ref_pos"][:kept], np.float32),
            "ref_rot": np.asarray(recorded["ref_rot"][:kept], np.float16),
            "pose_error": np.asarray(recorded["pose_error"][:kept], np.float32),
            "fall": np.asarray(recorded["fall"][:kept]) > 0.5,
            "body_names": np.asarray(env.model.body_names),
            "body_parent": np.asarray(env.model.body_parent, np.int16),
            "dt": np.float64(env.reference.dt),
        }

    return record


def record_rollout(env: envs.MimicEnv, act: Callable, frames: int, key: jax.Array) -> dict[str, np.ndarray]:
    """One episode of the policy ``act(obs, key)``: :func:`make_recorder` for a single recording."""
    return make_recorder(env, lambda _: act, frames)(None, key)


def finite_frames(recorded: dict) -> int:
    """How many leading frames to keep: those before the first with a non-finite (or exploded, > 10 km) simulated
    value. A simulation that blew up has nothing left to draw, and a diverged run should still save what it did."""
    finite = None
    for name in ("sim_pos", "sim_rot", "pose_error"):
        values = np.asarray(recorded[name], np.float64)
        values = values.reshape(len(values), -1)
        ok = (np.isfinite(values) & (np.abs(values) < 1e4)).all(axis=1)
        finite = ok if finite is None else finite & ok
    return len(finite) if finite.all() else max(1, int(np.argmin(finite)))


__all__ = [
    "ROLLOUT_FILE", "RolloutError", "finite_frames", "load_rollout", "make_recorder", "record_rollout", "save_rollout",
]
