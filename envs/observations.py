"""What a policy observes: the character's state relative to its root, plus the clip's phase.

``state`` (the default): every body's position relative to the root's ground projection (so the root height stays
visible), rotations as 6D, linear and angular velocities in the world frame, and the phase as (sin, cos); ``target``
appends the next reference frame encoded the same way, relative to the *simulated* root, so the policy sees where
each body should go. ``timestamp`` is DiffMimic's released observation (``humanoid_mimic._get_obs``,
``obs_type: timestamp``, every AMP config): only the bodies DiffMimic's character has, positions relative to the
root's full position with the root's own left out (the root height is not observed), and the phase as one number
in [0, 1) that jumps back to 0 at each cycle (FIDELITY.md, *Observations*).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.losses import rotation_6d
from envs.model import BodyStates

OBSERVATION_TYPES = ("state", "target", "timestamp")


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
