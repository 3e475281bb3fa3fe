"""Per-step comparisons of simulated and reference body states: DiffMimic's loss and the benchmark's metrics.

All functions take :class:`~envs.model.BodyStates` with arrays ``[B, k]`` (one environment, one step) and are
jit- and grad-friendly.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from brax import math

from envs.model import BodyStates


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """DiffMimic's state-matching loss: ``scale * (pos * mse_pos + rot * mse_rot6d + vel * mse_vel + ang * mse_ang)``."""

    pos: float = 1.0
    rot: float = 0.5
    vel: float = 0.01
    ang: float = 0.01
    scale: float = 0.02


def rotation_6d(quat: jax.Array) -> jax.Array:
    """The first two columns of the rotation matrix (Zhou et al. 2019), the continuous 6D rotation DiffMimic uses."""
    matrix = jax.vmap(math.quat_to_3x3)(quat.reshape(-1, 4)).reshape(quat.shape[:-1] + (3, 3))
    return matrix[..., :, :2].reshape(quat.shape[:-1] + (6,))


def state_matching_loss(sim: BodyStates, ref: BodyStates, weights: LossWeights) -> jax.Array:
    """DiffMimic's per-step loss over all tracked bodies (world frame, the floor is not a body here)."""
    mse = lambda a, b: jnp.mean(jnp.square(a - b))  # noqa: E731
    return weights.scale * (
        weights.pos * mse(sim.pos, ref.pos)
        + weights.rot * mse(rotation_6d(sim.rot), rotation_6d(ref.rot))
        + weights.vel * mse(sim.vel, ref.vel)
        + weights.ang * mse(sim.ang, ref.ang)
    )


def pose_error(sim: BodyStates, ref: BodyStates) -> jax.Array:
    """DiffMimic's pose error (metres): mean over non-root bodies of the distance between root-relative positions."""
    sim_rel = sim.pos[1:] - sim.pos[:1]
    ref_rel = ref.pos[1:] - ref.pos[:1]
    return jnp.mean(_norm(sim_rel - ref_rel))


def global_position_error(sim: BodyStates, ref: BodyStates) -> jax.Array:
    """Mean world-frame body position distance: what Demonstration Replay compares with its threshold."""
    return jnp.mean(_norm(sim.pos - ref.pos))


def _norm(vectors: jax.Array) -> jax.Array:
    # sqrt has an infinite gradient at 0 (a perfectly tracked body); the epsilon keeps it finite.
    return jnp.sqrt(jnp.sum(jnp.square(vectors), axis=-1) + 1e-12)
