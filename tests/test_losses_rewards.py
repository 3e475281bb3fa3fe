"""DiffMimic's loss and DeepMimic's reward on hand-built body states whose answers are computed by hand.

The character is the real humanoid3d body list (15 bodies in DeepMimic's order, the two wrists being points of
fixed joints); every state is built here, so nothing is simulated or compiled.
"""

from __future__ import annotations

import dataclasses
import math
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from envs.losses import (
    LossWeights,
    diffmimic_bodies,
    global_position_error,
    pose_error,
    rotation_6d,
    state_matching_loss,
)
from envs.model import BodyStates
from envs.rewards import (
    RewardWeights,
    centre_of_mass_velocity,
    cycle_root_offset,
    deepmimic_reward,
    heading_frame_positions,
    reset_lift,
    shift_reference,
)

TOL = 1e-5
ROOT, CHEST, RIGHT_ANKLE, RIGHT_WRIST, LEFT_ANKLE, LEFT_WRIST = 0, 1, 5, 8, 11, 14
DIFF_WEIGHT_SUM = 4.8  # humanoid3d.txt DiffWeight: 1 + 2 x (0.5 + 0.3 + 0.2 + 0.3 + 0.2) + 0.5 + 0.3


def quat_about(axis, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return np.concatenate([[math.cos(angle / 2)], math.sin(angle / 2) * axis])


def rotate_z(vectors: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return vectors @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, v1, w2, v2 = a[0], a[1:], b[0], b[1:]
    return np.concatenate([[w1 * w2 - v1 @ v2], w1 * v2 + w2 * v1 + np.cross(v1, v2)])


@dataclasses.dataclass
class Pose:
    """Mutable numpy body states, turned into :class:`BodyStates` by :meth:`states`."""

    pos: np.ndarray
    rot: np.ndarray
    vel: np.ndarray
    ang: np.ndarray

    def copy(self) -> Pose:
        return Pose(self.pos.copy(), self.rot.copy(), self.vel.copy(), self.ang.copy())

    def states(self) -> BodyStates:
        return BodyStates(*(jnp.asarray(a, jnp.float32) for a in (self.pos, self.rot, self.vel, self.ang)))


@pytest.fixture
def reference(character_model) -> Pose:
    """Bodies scattered around a root 0.9 m up, all unrotated and at rest."""
    count = character_model.num_bodies
    pos = np.random.default_rng(0).uniform(-0.5, 0.5, size=(count, 3)) + np.array([0.3, -0.2, 0.9])
    pos[ROOT] = [0.3, -0.2, 0.9]
    rot = np.tile([1.0, 0.0, 0.0, 0.0], (count, 1))
    return Pose(pos, rot, np.zeros((count, 3)), np.zeros((count, 3)))


# -- DiffMimic's state-matching loss ------------------------------------------------------------------------------


def test_diffmimic_tracks_13_bodies_without_the_wrists(character_model):
    mask = diffmimic_bodies(character_model)
    assert mask.sum() == 13
    assert [n for n, tracked in zip(character_model.body_names, mask) if not tracked] == ["right_wrist", "left_wrist"]


def test_rotation_6d_is_the_first_two_rows():
    # 90 degrees about z: R = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]; columns would give [0, -1, 1, 0, 0, 0].
    assert np.allclose(rotation_6d(jnp.asarray(quat_about([0, 0, 1], math.pi / 2))), [0, -1, 0, 1, 0, 0], atol=TOL)
    # 90 degrees about x: R = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]; columns would give [1, 0, 0, 0, 0, 1].
    assert np.allclose(rotation_6d(jnp.asarray(quat_about([1, 0, 0], math.pi / 2))), [1, 0, 0, 0, 0, -1], atol=TOL)
    batch = jnp.tile(jnp.asarray(quat_about([0, 0, 1], math.pi / 2)), (2, 3, 1))
    assert rotation_6d(batch).shape == (2, 3, 6)


@pytest.fixture
def loss_terms(character_model, reference):
    """``loss(sim)`` with DiffMimic's weights and bodies."""
    mask = diffmimic_bodies(character_model)
    return lambda sim: float(state_matching_loss(sim.states(), reference.states(), LossWeights(), mask))


def test_loss_position_error_is_summed_over_coordinates_and_averaged_over_13_bodies(reference, loss_terms):
    sim = reference.copy()
    sim.pos[CHEST] += [0.1, -0.2, 0.3]
    # 0.02 * (0.01 + 0.04 + 0.09) / 13; a mean over all 39 coordinates would give a third of it.
    assert loss_terms(sim) == pytest.approx(0.02 * 0.14 / 13, rel=TOL)


def test_loss_ignores_the_wrist_points(reference, loss_terms):
    sim = reference.copy()
    sim.pos[[RIGHT_WRIST, LEFT_WRIST]] += [1.0, 2.0, 3.0]
    sim.vel[RIGHT_WRIST] = [5.0, 0.0, 0.0]
    assert loss_terms(sim) == pytest.approx(0.0, abs=1e-9)
    # Without the mask every body counts: 0.02 * (14 + 14 + 0.01 * 25) / 15.
    unmasked = float(state_matching_loss(sim.states(), reference.states(), LossWeights()))
    assert unmasked == pytest.approx(0.02 * (28 + 0.25) / 15, rel=TOL)


def test_loss_rotation_velocity_and_angular_velocity_weights(reference, loss_terms):
    sim = reference.copy()
    sim.rot[CHEST] = quat_about([0, 0, 1], math.pi / 2)  # 6D rows [0,-1,0,1,0,0] against [1,0,0,0,1,0]: 4
    assert loss_terms(sim) == pytest.approx(0.02 * 0.5 * 4 / 13, rel=TOL)
    sim = reference.copy()
    sim.vel[CHEST] = [3.0, 4.0, 0.0]  # 25
    sim.ang[ROOT] = [0.0, 0.0, 2.0]  # 4
    assert loss_terms(sim) == pytest.approx(0.02 * (0.01 * 25 + 0.01 * 4) / 13, rel=TOL)


def test_loss_gradient_is_finite_and_zero_at_the_wrists(character_model, reference):
    mask = diffmimic_bodies(character_model)
    ref = reference.states()

    def loss(pos):
        return state_matching_loss(BodyStates(pos, ref.rot, ref.vel, ref.ang), ref, LossWeights(), mask)

    offset = np.zeros_like(reference.pos)
    offset[[CHEST, RIGHT_WRIST]] = [0.1, 0.0, 0.0]
    grad = np.asarray(jax.grad(loss)(ref.pos + jnp.asarray(offset, jnp.float32)))
    assert np.all(np.isfinite(grad)) and np.allclose(grad[RIGHT_WRIST], 0.0)
    assert grad[CHEST] == pytest.approx([0.02 * 2 * 0.1 / 13, 0.0, 0.0], rel=1e-4)  # d/dx of 0.02 * x^2 / 13


def test_pose_and_replay_errors_with_diffmimic_bodies(character_model, reference):
    mask = diffmimic_bodies(character_model)
    sim = reference.copy()
    sim.pos[LEFT_WRIST] += [0.0, 0.1, 0.0]
    assert float(pose_error(sim.states(), reference.states(), mask)) == pytest.approx(0.0, abs=TOL)
    sim.pos[CHEST] += [0.3, 0.4, 0.0]  # 0.5 m
    assert float(pose_error(sim.states(), reference.states(), mask)) == pytest.approx(0.5 / 12, abs=TOL)
    assert float(global_position_error(sim.states(), reference.states(), mask)) == pytest.approx(0.5 / 13, abs=TOL)
    with pytest.raises(ValueError, match="body mask"):
        pose_error(sim.states(), reference.states(), mask[:-1])


# -- DeepMimic's reward -------------------------------------------------------------------------------------------

NO_COM = jnp.zeros(3)


def reward_of(model, sim: Pose, ref: Pose, sim_com=NO_COM, ref_com=NO_COM, weights=RewardWeights()):
    com = jnp.asarray(sim_com, jnp.float32), jnp.asarray(ref_com, jnp.float32)
    reward, terms = deepmimic_reward(model, sim.states(), ref.states(), *com, weights)
    return float(reward), {name: float(value) for name, value in terms.items()}


def expected_reward(pose=1.0, velocity=1.0, end_effector=1.0, root=1.0, com=1.0) -> float:
    return 0.5 * pose + 0.05 * velocity + 0.15 * end_effector + 0.2 * root + 0.1 * com


def test_perfect_tracking_earns_one(character_model, reference):
    reward, terms = reward_of(character_model, reference, reference)
    assert reward == pytest.approx(1.0, abs=TOL)
    assert all(value == pytest.approx(1.0, abs=TOL) for value in terms.values())


def test_end_effector_error_is_summed_over_the_effectors(character_model, reference):
    d = 0.2
    sim = reference.copy()
    sim.pos[RIGHT_WRIST] += [d, 0.0, 0.0]
    reward, terms = reward_of(character_model, sim, reference)
    assert terms["end_effector"] == pytest.approx(math.exp(-10 * d**2), rel=TOL)
    assert reward == pytest.approx(expected_reward(end_effector=math.exp(-10 * d**2)), rel=TOL)
    sim.pos[LEFT_ANKLE] += [0.0, 0.0, -d]
    _, terms = reward_of(character_model, sim, reference)
    assert terms["end_effector"] == pytest.approx(math.exp(-10 * 2 * d**2), rel=TOL)  # a mean would give d**2


def test_end_effectors_are_compared_in_each_characters_heading_frame(character_model, reference):
    """Turn the whole character by 40 degrees about the vertical through its root and move it 0.3 m: the end
    effectors agree in the heading frame; only the root and pose terms see the turn (root rotation is joint 0)."""
    angle, shift = math.radians(40), np.array([0.3, 0.0, 0.0])
    sim = reference.copy()
    root = reference.pos[ROOT]
    sim.pos = root + shift + rotate_z(reference.pos - root, angle)
    sim.rot = np.array([quat_mul(quat_about([0, 0, 1], angle), q) for q in reference.rot])
    reward, terms = reward_of(character_model, sim, reference)
    pose = math.exp(-2.0 * (1.0 / DIFF_WEIGHT_SUM) * angle**2)  # only the root's rotation differs
    root_term = math.exp(-5.0 * (0.09 + 0.1 * angle**2))
    assert terms["end_effector"] == pytest.approx(1.0, abs=TOL)
    assert terms["pose"] == pytest.approx(pose, rel=TOL)
    assert terms["root"] == pytest.approx(root_term, rel=TOL)
    assert reward == pytest.approx(expected_reward(pose=pose, root=root_term), rel=TOL)


def test_end_effector_heights_are_above_the_floor_not_the_root(character_model, reference):
    """A root 0.1 m lower with the feet and hands in place: DeepMimic measures effector height from the ground,
    so only the root term changes."""
    sim = reference.copy()
    sim.pos[ROOT] += [0.0, 0.0, -0.1]
    _, terms = reward_of(character_model, sim, reference)
    assert terms["end_effector"] == pytest.approx(1.0, abs=TOL)
    assert terms["root"] == pytest.approx(math.exp(-5.0 * 0.01), rel=TOL)


def test_heading_frame_positions_by_hand(reference):
    """Root at (0.3, -0.2, 0.9) facing +y (heading 90 degrees); a body at (0.3, 0.8, 0.5) is 1 m straight ahead
    at 0.5 m height: (1, 0, 0.5) in the heading frame."""
    pose = reference.copy()
    pose.rot[ROOT] = quat_about([0, 0, 1], math.pi / 2)
    pose.pos[RIGHT_ANKLE] = [0.3, 0.8, 0.5]
    assert np.allclose(heading_frame_positions(pose.states(), jnp.array([RIGHT_ANKLE])), [[1.0, 0.0, 0.5]], atol=TOL)


def descendants(model, body: int) -> list[int]:
    """``body`` and every body below it."""
    found = [body]
    for child, parent in enumerate(model.body_parent):
        if parent in found:
            found.append(child)
    return found


def test_pose_term_weights_local_joint_rotations(character_model, reference):
    """Bend the right ankle (DiffWeight 0.2, no children) by 0.5 rad: pose error 0.2 / 4.8 * 0.25, scale 2."""
    sim = reference.copy()
    sim.rot[RIGHT_ANKLE] = quat_about([0, 1, 0], 0.5)
    reward, terms = reward_of(character_model, sim, reference)
    pose = math.exp(-2.0 * 0.2 / DIFF_WEIGHT_SUM * 0.25)
    assert terms["pose"] == pytest.approx(pose, rel=TOL)
    assert reward == pytest.approx(expected_reward(pose=pose), rel=TOL)
    # Turning the chest with everything above it leaves every local rotation but the chest's (weight 0.5) alone.
    sim = reference.copy()
    for body in descendants(character_model, CHEST):
        sim.rot[body] = quat_about([1, 0, 0], 0.5)
    _, terms = reward_of(character_model, sim, reference)
    assert terms["pose"] == pytest.approx(math.exp(-2.0 * 0.5 / DIFF_WEIGHT_SUM * 0.25), rel=TOL)


def test_velocity_term_uses_joint_frame_relative_angular_velocities(character_model, reference):
    sim, ref = reference.copy(), reference.copy()
    sim.ang[RIGHT_ANKLE] = [0.0, 0.0, 3.0]  # relative to a still knee: 9 (rad/s)^2, weight 0.2
    _, terms = reward_of(character_model, sim, ref)
    assert terms["velocity"] == pytest.approx(math.exp(-0.1 * 0.2 / DIFF_WEIGHT_SUM * 9), rel=TOL)
    # The same world angular velocity on an ankle turned 90 degrees about z is a different joint velocity:
    # (1, 0, 0) in the reference's ankle frame, (0, -1, 0) in the simulated one: squared difference 2.
    sim, ref = reference.copy(), reference.copy()
    sim.ang[RIGHT_ANKLE] = ref.ang[RIGHT_ANKLE] = [1.0, 0.0, 0.0]
    sim.rot[RIGHT_ANKLE] = quat_about([0, 0, 1], math.pi / 2)
    _, terms = reward_of(character_model, sim, ref)
    assert terms["velocity"] == pytest.approx(math.exp(-0.1 * 0.2 / DIFF_WEIGHT_SUM * 2), rel=TOL)
    # A knee moving with its ankle leaves the ankle's joint velocity unchanged; the knee's (weight 0.3) counts.
    sim, ref = reference.copy(), reference.copy()
    sim.ang[[4, RIGHT_ANKLE]] = [0.0, 2.0, 0.0]
    _, terms = reward_of(character_model, sim, ref)
    assert terms["velocity"] == pytest.approx(math.exp(-0.1 * 0.3 / DIFF_WEIGHT_SUM * 4), rel=TOL)


def test_root_and_centre_of_mass_terms(character_model, reference):
    """Root velocity (1, 2, 2) m/s, root angular velocity (0, 0, 2) rad/s and a centre-of-mass velocity off by
    (0, 3, 0) m/s, each with DeepMimic's weight, and the weighted total by hand."""
    sim = reference.copy()
    sim.vel[ROOT] = [1.0, 2.0, 2.0]  # 9
    sim.ang[ROOT] = [0.0, 0.0, 2.0]  # 4; the root is joint 0 of the velocity term too (DiffWeight 1)
    reward, terms = reward_of(character_model, sim, reference, sim_com=[0.0, 3.0, 0.0])
    root = math.exp(-5.0 * (0.01 * 9 + 0.001 * 4))
    com = math.exp(-10.0 * 0.1 * 9)
    # The still chest and hips turn at -2 rad/s relative to the root: (1 + 0.5 + 0.5 + 0.5) x 4.
    velocity = math.exp(-0.1 * 2.5 / DIFF_WEIGHT_SUM * 4)
    assert terms["root"] == pytest.approx(root, rel=TOL)
    assert terms["com"] == pytest.approx(com, rel=TOL)
    assert terms["velocity"] == pytest.approx(velocity, rel=TOL)
    assert reward == pytest.approx(expected_reward(velocity=velocity, root=root, com=com), rel=TOL)


def test_weights_are_normalised(character_model, reference):
    sim = reference.copy()
    sim.pos[RIGHT_WRIST] += [0.2, 0.0, 0.0]
    sim.vel[ROOT] = [1.0, 0.0, 0.0]
    default, _ = reward_of(character_model, sim, reference)
    doubled, _ = reward_of(character_model, sim, reference, weights=RewardWeights(1.0, 0.1, 0.3, 0.4, 0.2))
    assert doubled == pytest.approx(default, rel=TOL)
    only_end, _ = reward_of(character_model, sim, reference, weights=RewardWeights(0.0, 0.0, 3.0, 0.0, 0.0))
    assert only_end == pytest.approx(math.exp(-10 * 0.04), rel=TOL)


def test_reference_root_is_resynced_each_cycle(reference):
    """At a new cycle the reference moves horizontally onto the simulated root; in between the offset is kept."""
    sim = reference.copy()
    sim.pos += [1.0, -2.0, 0.5]
    previous = jnp.array([0.1, 0.1])
    kept = cycle_root_offset(sim.states(), reference.states(), jnp.asarray(False), previous)
    assert np.allclose(kept, previous)
    offset = cycle_root_offset(sim.states(), reference.states(), jnp.asarray(True), previous)
    assert np.allclose(offset, [1.0, -2.0], atol=TOL)
    shifted = shift_reference(reference.states(), offset)
    assert np.allclose(shifted.pos, reference.pos + [1.0, -2.0, 0.0], atol=TOL)  # every body, height untouched


def test_reset_lift_puts_the_lowest_point_a_millimetre_above_the_floor():
    """DeepMimic's ResolveCharGroundIntersect: raise by pad - (lowest signed distance) where that is positive."""
    assert float(reset_lift(jnp.array([0.3, -0.02, 0.05]))) == pytest.approx(0.021)  # 2 cm deep -> 1 mm above
    assert float(reset_lift(jnp.array([0.0005, 0.4]))) == pytest.approx(0.0005)  # 0.5 mm above -> 1 mm above
    assert float(reset_lift(jnp.array([0.01, 0.2]))) == 0.0  # already clear: not moved (never lowered)
    assert float(reset_lift(jnp.array([-0.1]), pad=0.0)) == pytest.approx(0.1)


# -- centre of mass --------------------------------------------------------------------------------------------------


def test_centre_of_mass_velocity_of_two_links():
    """A 2 kg link moving at 1 m/s along x and a 6 kg link spinning at 2 rad/s about z with its centre of mass
    0.5 m along its own x: that centre moves at 2 x 0.5 = 1 m/s, along y, or along -x once the link is turned
    90 degrees about z."""
    links = types.SimpleNamespace(link_mass=np.array([2.0, 6.0]), link_com_offset=np.array([[0, 0, 0], [0.5, 0, 0]]))
    vel = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    ang = jnp.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    unrotated = jnp.tile(jnp.array([1.0, 0.0, 0.0, 0.0]), (2, 1))
    assert np.allclose(centre_of_mass_velocity(links, unrotated, vel, ang), [0.25, 0.75, 0.0], atol=TOL)
    turned = jnp.asarray(np.stack([[1.0, 0, 0, 0], quat_about([0, 0, 1], math.pi / 2)]))
    assert np.allclose(centre_of_mass_velocity(links, turned, vel, ang), [-0.5, 0.0, 0.0], atol=TOL)
