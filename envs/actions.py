"""Action -> PD target angle per hinge: the three mappings the originals and this project use.

- ``diffmimic`` (DiffMimic ``mimic_envs/pd_controller.py``): target = action x 1.2 pi on every hinge, around the zero
  pose, not limited to a joint range (actions are clipped to [-1, 1], DiffMimic's tanh policy range).
- ``deepmimic`` (DeepMimic ``CtCtrlUtil.cpp`` ``BuildOffsetScalePD*``, ``CtPDController.cpp``): the policy's action is
  normalised by an offset and scale per joint. Revolute: target = mid-range + 2 x range x action (scale 0.5 / range),
  so action +-1 reaches twice the range past either side. Spherical: the three actions are an exponential map
  (axis x angle, DeepMimic's joint axes x, y, z) of pi x action (scale 2 / gMaxPDExpVal, gMaxPDExpVal = 2 pi), whose
  length is clipped to 2 pi; our three hinges get that rotation's intrinsic z-y-x angles. Actions are not clipped.
- ``range`` (this project before the fidelity review): target = mid-range + half-range x action over DeepMimic's
  per-axis limits, actions clipped to [-1, 1]; targets never leave the character file's limits.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from brax import math as brax_math

from envs.model import CharacterModel

ACTION_MAPPINGS = ("diffmimic", "deepmimic", "range")
DIFFMIMIC_SCALE = 1.2 * math.pi  # pd_controller.py: target_angles = act * jp.pi * 1.2
DEEPMIMIC_MAX_EXP = 2.0 * math.pi  # CtCtrlUtil.cpp gMaxPDExpVal


def euler_zyx(quat: jax.Array) -> jax.Array:
    """Intrinsic z-y-x angles ``[..., 3]`` of unit quaternions ``[..., 4]`` (w, x, y, z): R = Rz(a) Ry(b) Rx(c)."""
    w, x, y, z = quat[..., 0], quat[..., 1], quat[..., 2], quat[..., 3]
    a = jnp.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    b = jnp.arcsin(jnp.clip(2 * (w * y - x * z), -1.0, 1.0))
    c = jnp.arctan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    return jnp.stack([a, b, c], axis=-1)


def _exp_map_to_quat(exp_map: jax.Array) -> jax.Array:
    angle = jnp.linalg.norm(exp_map, axis=-1)
    clipped = jnp.minimum(angle, DEEPMIMIC_MAX_EXP)
    # Divide by a safe angle so that a zero action gives the identity (and a finite gradient).
    safe = jnp.where(angle > 1e-8, angle, 1.0)
    axis = jnp.where(angle[..., None] > 1e-8, exp_map / safe[..., None], jnp.array([1.0, 0.0, 0.0]))
    return jax.vmap(brax_math.quat_rot_axis)(axis.reshape(-1, 3), clipped.reshape(-1)).reshape(exp_map.shape[:-1] + (4,))


def pd_targets(model: CharacterModel, action: jax.Array, mapping: str) -> jax.Array:
    """PD target angle per hinge (actuator order) for ``action`` ``[A]``."""
    limits = jnp.asarray(model.hinge_limits)
    centre, spread = limits.mean(axis=1), limits[:, 1] - limits[:, 0]
    if mapping == "diffmimic":
        return DIFFMIMIC_SCALE * jnp.clip(action, -1.0, 1.0)
    if mapping == "range":
        return centre + 0.5 * spread * jnp.clip(action, -1.0, 1.0)
    if mapping == "deepmimic":
        targets = centre + 2.0 * spread * action  # revolute; spherical entries are overwritten below
        spherical = jnp.asarray(model.spherical_hinges)  # [S, 3] hinge indices in z, y, x order
        exp_map = math.pi * action[spherical][:, ::-1]  # DeepMimic's exp map is (x, y, z)
        return targets.at[spherical].set(euler_zyx(_exp_map_to_quat(exp_map)))
    raise ValueError(f"unknown action mapping '{mapping}': expected one of {ACTION_MAPPINGS}")


def actions_for_targets(model: CharacterModel, targets: np.ndarray, mapping: str) -> np.ndarray:
    """The action whose PD targets are ``targets`` ``[..., A]`` (the inverse of :func:`pd_targets`, in numpy)."""
    from scipy.spatial.transform import Rotation

    targets = np.asarray(targets, np.float64)
    limits = np.asarray(model.hinge_limits, np.float64)
    centre, spread = limits.mean(axis=1), limits[:, 1] - limits[:, 0]
    if mapping == "diffmimic":
        return targets / DIFFMIMIC_SCALE
    if mapping == "range":
        return (targets - centre) / (0.5 * spread)
    if mapping == "deepmimic":
        action = (targets - centre) / (2.0 * spread)
        spherical = np.asarray(model.spherical_hinges)
        angles = targets[..., spherical]  # [..., S, 3] z, y, x
        rotvec = Rotation.from_euler("ZYX", angles.reshape(-1, 3)).as_rotvec().reshape(angles.shape)
        action[..., spherical] = rotvec[..., ::-1] / math.pi
        return action
    raise ValueError(f"unknown action mapping '{mapping}': expected one of {ACTION_MAPPINGS}")
