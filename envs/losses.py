"""Per-step comparisons of simulated and reference body states: DiffMimic's loss and the benchmark's metrics.

All functions take :class:`~envs.model.BodyStates` with arrays ``[B, k]`` (one environment, one step) and are
jit- and grad-friendly. ``bodies`` (a boolean ``[B]`` mask, default every body) selects the bodies compared:
the environment passes :func:`diffmimic_bodies`, the 13 bodies DiffMimic's character has, leaving out the
points DeepMimic's fixed joints (wrists) put on the forearms.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from brax import math

from envs.model import BodyStates, CharacterModel


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """DiffMimic's state-matching loss (``configs/AMP/*.yaml``: ``reward_scaling`` 0.02, ``rot_weight`` 0.5,
    ``vel_weight`` 0.01, ``ang_weight`` 0.01): ``scale * (pos * e_pos + rot * e_rot6d + vel * e_vel + ang * e_ang)``,
    each ``e`` a squared error summed over a body's coordinates and averaged over the bodies."""

    pos: float = 1.0
    rot: float = 0.5
    vel: float = 0.01
    ang: float = 0.01
    scale: float = 0.02


def diffmimic_bodies(model: CharacterModel) -> np.ndarray:
    """Mask ``[B]`` of the bodies DiffMimic tracks: all but the points of DeepMimic's fixed joints, which its
    Brax character does not have (``HUMANOID.py``: 13 bodies, the wrists folded into the forearms)."""
    fixed = {name for name, joint_type in model.motion_joints if joint_type == "fixed"}
    return np.array([name not in fixed for name in model.body_names])


def rotation_6d(quat: jax.Array) -> jax.Array:
    """The first two *rows* of the rotation matrix, row after row (DiffMimic's ``rotation6d.py``; Zhou et al. 2019
    use columns): ``[R00, R01, R02, R10, R11, R12]``."""
    matrix = jax.vmap(math.quat_to_3x3)(quat.reshape(-1, 4)).reshape(quat.shape[:-1] + (3, 3))
    return matrix[..., :2, :].reshape(quat.shape[:-1] + (6,))


def state_matching_loss(
    sim: BodyStates, ref: BodyStates, weights: LossWeights, bodies: np.ndarray | None = None
) -> jax.Array:
    """DiffMimic's per-step loss (``losses.py`` ``mse_*``): squared errors summed over each body's coordinates,
    averaged over ``bodies`` (world frame; the floor is not a body here)."""
    squared = lambda a, b: jnp.sum(jnp.square(a - b), axis=-1)  # noqa: E731  [B]
    per_body = (
        weights.pos * squared(sim.pos, ref.pos)
        + weights.rot * squared(rotation_6d(sim.rot), rotation_6d(ref.rot))
        + weights.vel * squared(sim.vel, ref.vel)
        + weights.ang * squared(sim.ang, ref.ang)
    )
    return weights.scale * _mean_over(per_body, bodies)


def pose_error(sim: BodyStates, ref: BodyStates, bodies: np.ndarray | None = None) -> jax.Array:
    """DiffMimic's pose error (metres, ``loss_l2_relpos``): mean over the non-root ``bodies`` of the distance
    between root-relative positions."""
    sim_rel = sim.pos[1:] - sim.pos[:1]
    ref_rel = ref.pos[1:] - ref.pos[:1]
    return _mean_over(_norm(sim_rel - ref_rel), None if bodies is None else np.asarray(bodies)[1:])


def global_position_error(sim: BodyStates, ref: BodyStates, bodies: np.ndarray | None = None) -> jax.Array:
    """Mean world-frame body position distance (``loss_l2_pos``): what Demonstration Replay compares with its
    threshold."""
    return _mean_over(_norm(sim.pos - ref.pos), bodies)


def _mean_over(per_body: jax.Array, bodies: np.ndarray | None) -> jax.Array:
    if bodies is None:
        return jnp.mean(per_body)
    mask = np.asarray(bodies, dtype=bool)
    if mask.shape != per_body.shape[-1:]:
        raise ValueError(f"body mask has shape {mask.shape}, expected ({per_body.shape[-1]},)")
    return jnp.sum(jnp.where(mask, per_body, 0.0), axis=-1) / mask.sum()


def _norm(vectors: jax.Array) -> jax.Array:
    # sqrt has an infinite gradient at 0 (a perfectly tracked body); the epsilon keeps it finite.
    return jnp.sqrt(jnp.sum(jnp.square(vectors), axis=-1) + 1e-12)
