"""DiffMimic's observation: the character's state relative to its root, plus the clip's phase.

Positions are taken relative to the root's ground projection (so the root height stays visible), rotations as
6D, linear and angular velocities in the world frame; ``target`` observations append the next reference frame
encoded the same way, relative to the *simulated* root, so the policy sees where each body should go.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from envs.losses import rotation_6d
from envs.model import BodyStates

OBSERVATION_TYPES = ("state", "target")


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
