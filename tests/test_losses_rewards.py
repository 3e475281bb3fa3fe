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
