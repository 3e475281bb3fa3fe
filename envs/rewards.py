"""DeepMimic's imitation reward (Peng et al. 2018), as its released code computes it, on the benchmark's bodies.

``r = sum_i w_i * exp(-scale_i * err_i)`` over five terms, weights normalised to sum to one
(``SceneImitate.cpp`` ``CalcRewardImitate``):

- pose: DiffWeight-weighted (normalised) sum over joints of the squared angle between simulated and reference
  *local* joint rotations; the root's world rotation counts as joint 0. Scale ``2 / 15 * num_joints``.
- velocity: the same weighted sum of squared differences of joint angular velocities, each relative to the parent
  and expressed in the joint's own frame (DeepMimic's joint velocity); the root's world angular velocity counts
  as joint 0. Scale ``0.1 / 15 * num_joints``.
- end effector: squared distances *summed* over the end effectors of their positions in each character's heading
  frame (horizontal offset from the root and height above the ground, rotated by minus the root's heading).
  Scale 10.
- root: world position, ``0.1`` x squared rotation angle, ``0.01`` x linear and ``0.001`` x angular velocity
  errors. Scale 5.
- centre of mass: ``0.1`` x squared difference of the world-frame centre-of-mass velocities. Scale 10.

DeepMimic also moves the reference horizontally onto the simulated root at the start of every cycle
(``sync_char_root_pos true`` in every ``train_humanoid3d_*_args.txt``): :func:`cycle_root_offset` and
:func:`shift_reference` give the environment that step. The floor is the plane z = 0.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from brax import math

from envs.model import BodyStates, CharacterModel

# DeepMimic's per-term scales and root sub-weights (SceneImitate.cpp), its humanoid having 15 joints.
_DEEPMIMIC_JOINTS = 15.0
END_EFFECTOR_SCALE = 10.0
ROOT_SCALE = 5.0
COM_SCALE = 10.0
RESET_GROUND_PAD = 0.001  # m: DeepMimic's SceneSimChar::ResolveCharGroundIntersect pad
ROOT_ROTATION_WEIGHT = 0.1
ROOT_VELOCITY_WEIGHT = 0.01
ROOT_ANGULAR_VELOCITY_WEIGHT = 0.001
COM_VELOCITY_WEIGHT = 0.1


@dataclasses.dataclass(frozen=True)
class RewardWeights:
    """The five terms' weights (normalised to sum to one when the reward is computed)."""

    pose: float = 0.5
    velocity: float = 0.05
    end_effector: float = 0.15
    root: float = 0.2
    com: float = 0.1


def _quat_angle(a: jax.Array, b: jax.Array) -> jax.Array:
    """Rotation angle between quaternions ``[..., 4]``, in [0, pi]."""
    dot = jnp.abs(jnp.sum(a * b, axis=-1))
    return 2.0 * jnp.arccos(jnp.clip(dot, 0.0, 1.0 - 1e-7))  # the clip keeps arccos's gradient finite


def _parent_values(model: CharacterModel, values: jax.Array, root_value: jax.Array) -> jax.Array:
    parent = jnp.asarray(model.body_parent)
    return jnp.where((parent >= 0)[:, None], values[jnp.maximum(parent, 0)], root_value)


def local_rotations(model: CharacterModel, bodies: BodyStates) -> jax.Array:
    """Each body's rotation relative to its parent; the root keeps its world rotation."""
    parent_rot = _parent_values(model, bodies.rot, jnp.array([1.0, 0.0, 0.0, 0.0]))
    return jax.vmap(lambda p, c: math.quat_mul(math.quat_inv(p), c))(parent_rot, bodies.rot)


def joint_angular_velocities(model: CharacterModel, bodies: BodyStates) -> jax.Array:
    """Each body's angular velocity relative to its parent, in its own frame (DeepMimic's spherical joint
    velocity; a revolute joint's rate times its axis); the root keeps its world angular velocity."""
    relative = bodies.ang - _parent_values(model, bodies.ang, jnp.zeros(3))
    in_child_frame = jax.vmap(lambda v, q: math.rotate(v, math.quat_inv(q)))(relative, bodies.rot)
    is_root = (jnp.asarray(model.body_parent) < 0)[:, None]
    return jnp.where(is_root, bodies.ang, in_child_frame)


def heading(rot: jax.Array) -> jax.Array:
    """The root's heading: the angle about the vertical of its x axis (DeepMimic's ``CalcHeading``, z-up)."""
    forward = math.rotate(jnp.array([1.0, 0.0, 0.0]), rot)
    return jnp.arctan2(forward[1], forward[0])


def heading_frame_positions(bodies: BodyStates, index) -> jax.Array:
    """Positions ``[E, 3]`` of bodies ``index`` as DeepMimic's end-effector term sees them: horizontal offset from
    the root and height above the floor, rotated by minus the root's heading."""
    offset = bodies.pos[index] - bodies.pos[0] * jnp.array([1.0, 1.0, 0.0])
    to_heading_frame = math.quat_rot_axis(jnp.array([0.0, 0.0, 1.0]), -heading(bodies.rot[0]))
    return jax.vmap(math.rotate, in_axes=(0, None))(offset, to_heading_frame)


def centre_of_mass_velocity(model: CharacterModel, link_rot: jax.Array, link_vel: jax.Array, link_ang: jax.Array):
    """Mass-weighted velocity of the links' centres of mass (world frame); Brax's link velocity is that of the
    link frame's origin, so each centre of mass adds ``ang x offset``."""
    offset = jax.vmap(math.rotate)(jnp.asarray(model.link_com_offset), link_rot)
    com_vel = link_vel + jnp.cross(link_ang, offset)
    mass = jnp.asarray(model.link_mass)
    return jnp.sum(mass[:, None] * com_vel, axis=0) / jnp.sum(mass)


def cycle_root_offset(sim: BodyStates, ref: BodyStates, new_cycle: jax.Array, offset: jax.Array) -> jax.Array:
    """DeepMimic's ``SyncKinCharNewCycle``: when the reference starts a new cycle it is moved horizontally onto the
    simulated root; returns that horizontal offset ``[2]`` (else the previous ``offset``), kept until the next."""
    return jnp.where(new_cycle, sim.pos[0, :2] - ref.pos[0, :2], offset)


def shift_reference(ref: BodyStates, offset: jax.Array) -> BodyStates:
    """``ref`` moved horizontally by ``offset`` ``[2]``."""
    return dataclasses.replace(ref, pos=ref.pos + jnp.concatenate([offset, jnp.zeros(1)]))


def reset_lift(floor_distances: jax.Array, pad: float = RESET_GROUND_PAD) -> jax.Array:
    """DeepMimic's ``ResolveCharGroundIntersect``: how far to raise a reset character so that its lowest point
    (``floor_distances``: signed geom-floor distances, m) is ``pad`` above the floor; 0 where it already is.

    Only the simulated character moves. DeepMimic's ``SyncKinCharRoot`` raises the kinematic character's origin with
    it, but ``CalcRewardImitate`` measures the reference's heights from that origin, so the reward still sees the
    reference at its own height: the lifted character is scored against the reference as it is."""
    return jnp.maximum(pad - jnp.min(floor_distances), 0.0)


def deepmimic_reward(
    model: CharacterModel,
    sim: BodyStates,
    ref: BodyStates,
    sim_com_vel: jax.Array,
    ref_com_vel: jax.Array,
    weights: RewardWeights = RewardWeights(),
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Returns the reward and its five terms (each in [0, 1]); ``ref`` already synced (:func:`shift_reference`)."""
    num_joints = model.num_bodies  # DeepMimic counts fixed joints (wrists) too: 15 for its humanoid
    joint_weight = jnp.asarray(model.diff_weights)
    joint_weight = joint_weight / jnp.sum(joint_weight)
    pose_err = jnp.sum(joint_weight * jnp.square(_quat_angle(local_rotations(model, sim), local_rotations(model, ref))))
    vel_diff = joint_angular_velocities(model, sim) - joint_angular_velocities(model, ref)
    vel_err = jnp.sum(joint_weight * jnp.sum(jnp.square(vel_diff), axis=-1))
    effectors = jnp.asarray(model.end_effectors)
    end_diff = heading_frame_positions(sim, effectors) - heading_frame_positions(ref, effectors)
    end_err = jnp.sum(jnp.square(end_diff))
    root_err = (
        jnp.sum(jnp.square(sim.pos[0] - ref.pos[0]))
        + ROOT_ROTATION_WEIGHT * jnp.square(_quat_angle(sim.rot[0], ref.rot[0]))
        + ROOT_VELOCITY_WEIGHT * jnp.sum(jnp.square(sim.vel[0] - ref.vel[0]))
        + ROOT_ANGULAR_VELOCITY_WEIGHT * jnp.sum(jnp.square(sim.ang[0] - ref.ang[0]))
    )
    com_err = COM_VELOCITY_WEIGHT * jnp.sum(jnp.square(sim_com_vel - ref_com_vel))
    terms = {
        "pose": jnp.exp(-(2.0 / _DEEPMIMIC_JOINTS * num_joints) * pose_err),
        "velocity": jnp.exp(-(0.1 / _DEEPMIMIC_JOINTS * num_joints) * vel_err),
        "end_effector": jnp.exp(-END_EFFECTOR_SCALE * end_err),
        "root": jnp.exp(-ROOT_SCALE * root_err),
        "com": jnp.exp(-COM_SCALE * com_err),
    }
    weight = dataclasses.asdict(weights)
    reward = sum(weight[name] * terms[name] for name in terms) / sum(weight.values())
    return reward, terms
