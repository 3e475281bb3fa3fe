"""What a policy observes: the character's state relative to its root, plus the clip's phase.

``state`` (the default): every body's position relative to the root's ground projection (so the root height stays
visible), rotations as 6D, linear and angular velocities in the world frame, and the phase as (sin, cos); ``target``
appends the next reference frame encoded the same way, relative to the *simulated* root, so the policy sees where
each body should go. ``timestamp`` is DiffMimic's released observation (``humanoid_mimic._get_obs``,
``obs_type: timestamp``, every AMP config): only the bodies DiffMimic's character has, positions relative to the
root's full position with the root's own left out (the root height is not observed), and the phase as one number
in [0, 1) that jumps back to 0 at each cycle (FIDELITY.md, *Observations*). ``deepmimic`` is DeepMimic's state
for its humanoid (``CtController::BuildStatePose`` / ``BuildStateVel``), heading-invariant but for the root's
rotation and velocities.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from brax import math

from envs.losses import rotation_6d
from envs.model import BodyStates
from envs.rewards import heading

OBSERVATION_TYPES = ("state", "target", "timestamp", "deepmimic")


def encode_bodies(bodies: BodyStates, origin: jax.Array) -> jax.Array:
    """Flattens ``[B, ...]`` body states relative to ``origin`` (3,) into one vector of ``B * 15`` values."""
    return jnp.concatenate(
        [
            (bodies.pos - origin).ravel(),
            rotation_6d(bodies.rot).ravel(),
            bodies.vel.ravel(),
            bodies.ang.ravel(),
        ]
    )


def observe(sim: BodyStates, phase: jax.Array, target: BodyStates | None) -> jax.Array:
    origin = sim.pos[0] * jnp.array([1.0, 1.0, 0.0])
    parts = [encode_bodies(sim, origin), jnp.array([jnp.sin(2 * jnp.pi * phase), jnp.cos(2 * jnp.pi * phase)])]
    if target is not None:
        parts.append(encode_bodies(target, origin))
    return jnp.concatenate(parts)


def observe_timestamp(sim: BodyStates, phase: jax.Array, bodies: jax.Array) -> jax.Array:
    """DiffMimic's ``timestamp`` observation of the bodies ``bodies`` (indices, the root first): the other bodies'
    positions minus the root's, every body's 6D rotation, velocity and angular velocity, then the phase."""
    pos, rot, vel, ang = (values[bodies] for values in (sim.pos, sim.rot, sim.vel, sim.ang))
    return jnp.concatenate(
        [(pos[1:] - pos[0]).ravel(), rotation_6d(rot).ravel(), vel.ravel(), ang.ravel(), jnp.reshape(phase, (1,))]
    )


def observe_deepmimic(sim: BodyStates, phase: jax.Array) -> jax.Array:
    """DeepMimic's state as its humanoid3d controller builds it (``humanoid3d_phase_rot_ctrl``: phase input, the
    root's rotation recorded in the world frame, ``CtController::BuildStatePose`` and ``BuildStateVel``): the phase;
    the root's height; per body its position relative to the root and its rotation as normal and tangent (the body's
    up and x axes: DeepMimic's y-up normal is this z-up frame's z), then per body its linear and angular velocity.
    Positions, and every rotation and velocity but the root's, are in the heading frame (DeepMimic's origin frame:
    x along the root's heading, about the vertical); the root's rotation and velocities are world-frame.
    ``1 + 1 + 9 B + 6 B`` values (227 on humanoid3d's 15 bodies)."""
    to_heading = math.quat_rot_axis(jnp.array([0.0, 0.0, 1.0]), -heading(sim.rot[0]))
    in_heading_frame = jax.vmap(math.rotate, in_axes=(0, None))
    is_root = (jnp.arange(sim.pos.shape[0]) == 0)[:, None]
    rot = jnp.where(is_root, sim.rot, jax.vmap(math.quat_mul, in_axes=(None, 0))(to_heading, sim.rot))
    normal = jax.vmap(math.rotate, in_axes=(None, 0))(jnp.array([0.0, 0.0, 1.0]), rot)
    tangent = jax.vmap(math.rotate, in_axes=(None, 0))(jnp.array([1.0, 0.0, 0.0]), rot)
    pose = jnp.concatenate([in_heading_frame(sim.pos - sim.pos[0], to_heading), normal, tangent], axis=-1)
    vel = jnp.where(is_root, sim.vel, in_heading_frame(sim.vel, to_heading))
    ang = jnp.where(is_root, sim.ang, in_heading_frame(sim.ang, to_heading))
    return jnp.concatenate([jnp.reshape(phase, (1,)), sim.pos[0, 2:3], pose.ravel(),
                            jnp.concatenate([vel, ang], axis=-1).ravel()])
