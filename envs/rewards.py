"""DeepMimic's imitation reward (Peng et al. 2018, released code), on the benchmark's body states.

``r = sum_i w_i * exp(-scale_i * err_i)`` over pose, velocity, end-effector, root and centre-of-mass terms, with
the weights normalised to sum to one. Pose and velocity errors are DeepMimic's DiffWeight-weighted sums over
joints of the squared local rotation angle / angular-velocity difference; the root rotation counts as joint 0.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from brax import math

from envs.model import BodyStates, CharacterModel


@dataclasses.dataclass(frozen=True)
class RewardWeights:
    pose: float = 0.5
    velocity: float = 0.05
    end_effector: float = 0.15
    root: float = 0.2
    com: float = 0.1


def _quat_angle(a: jax.Array, b: jax.Array) -> jax.Array:
    """Rotation angle between quaternions ``[..., 4]``, in [0, pi]."""
    dot = jnp.abs(jnp.sum(a * b, axis=-1))
    return 2.0 * jnp.arccos(jnp.clip(dot, 0.0, 1.0 - 1e-7))  # the clip keeps arccos's gradient finite


def _local_rotations(model: CharacterModel, bodies: BodyStates) -> jax.Array:
    """Each body's rotation relative to its parent; the root keeps its world rotation."""
    parent = jnp.asarray(model.body_parent)
    parent_rot = jnp.where((parent >= 0)[:, None], bodies.rot[jnp.maximum(parent, 0)], jnp.array([1.0, 0, 0, 0]))
    return jax.vmap(lambda p, c: math.quat_mul(math.quat_inv(p), c))(parent_rot, bodies.rot)


def _local_angular_velocity(model: CharacterModel, bodies: BodyStates) -> jax.Array:
    parent = jnp.asarray(model.body_parent)
    parent_ang = jnp.where((parent >= 0)[:, None], bodies.ang[jnp.maximum(parent, 0)], 0.0)
    return bodies.ang - parent_ang


def centre_of_mass_velocity(model: CharacterModel, link_rot: jax.Array, link_vel: jax.Array, link_ang: jax.Array):
    """Mass-weighted velocity of the links' centres of mass (world frame)."""
    offset = jax.vmap(math.rotate)(jnp.asarray(model.link_com_offset), link_rot)
    com_vel = link_vel + jnp.cross(link_ang, offset)
    mass = jnp.asarray(model.link_mass)
    return jnp.sum(mass[:, None] * com_vel, axis=0) / jnp.sum(mass)


def deepmimic_reward(
    model: CharacterModel,
    sim: BodyStates,
    ref: BodyStates,
    sim_com_vel: jax.Array,
    ref_com_vel: jax.Array,
    weights: RewardWeights = RewardWeights(),
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Returns the reward and its five terms (each in [0, 1])."""
    num_joints = model.num_bodies
    joint_weight = jnp.asarray(model.diff_weights)
    joint_weight = joint_weight / jnp.sum(joint_weight)
    pose_err = jnp.sum(joint_weight * jnp.square(_quat_angle(_local_rotations(model, sim), _local_rotations(model, ref))))
    vel_diff = _local_angular_velocity(model, sim) - _local_angular_velocity(model, ref)
    vel_err = jnp.sum(joint_weight * jnp.sum(jnp.square(vel_diff), axis=-1))
    effectors = jnp.asarray(model.end_effectors)
    sim_eff = sim.pos[effectors] - sim.pos[0]
    ref_eff = ref.pos[effectors] - ref.pos[0]
    end_err = jnp.mean(jnp.sum(jnp.square(sim_eff - ref_eff), axis=-1))
    root_err = (
        jnp.sum(jnp.square(sim.pos[0] - ref.pos[0]))
        + 0.1 * jnp.square(_quat_angle(sim.rot[0], ref.rot[0]))
        + 0.01 * jnp.sum(jnp.square(sim.vel[0] - ref.vel[0]))
        + 0.001 * jnp.sum(jnp.square(sim.ang[0] - ref.ang[0]))
    )
    com_err = 0.1 * jnp.sum(jnp.square(sim_com_vel - ref_com_vel))
    # Scales as in DeepMimic's released code, with pose/velocity scales normalised to its 15-joint humanoid.
    terms = {
        "pose": jnp.exp(-(2.0 / 15.0 * num_joints) * pose_err),
        "velocity": jnp.exp(-(0.1 / 15.0 * num_joints) * vel_err),
        "end_effector": jnp.exp(-10.0 * end_err),
        "root": jnp.exp(-5.0 * root_err),
        "com": jnp.exp(-10.0 * com_err),
    }
    total_weight = weights.pose + weights.velocity + weights.end_effector + weights.root + weights.com
    reward = (
        weights.pose * terms["pose"]
        + weights.velocity * terms["velocity"]
        + weights.end_effector * terms["end_effector"]
        + weights.root * terms["root"]
        + weights.com * terms["com"]
    ) / total_weight
    return reward, terms
